"""Correlation time per frame against the whole shipped catalogue, split into its parts.

Run: ``python -m bench correlate`` or ``python bench/correlate.py [--quick]``. Prints one table.

Each frame is one sensor at one time with N confirmed tracks: for a ground site every real
object above 20 degrees elevation, for a camera flying on the ISS's orbit every real object
whose line of sight clears the Earth, each made early or late along its orbit by a timing error
drawn from the correlator's own error model (the fitted table) for the element set's class
and age, plus track noise; and,
when there are not enough real objects for N, uncorrelated "debris" tracks within a few degrees
of real objects, with the speeds and random directions of real objects. Two ages: a day after
the catalogue's epochs (fresh elements, short along-track windows) and a week after (windows
up to +-60 s).

Columns: ``predict`` is the whole-catalogue prediction at the frame time
(:meth:`orbitlink.tracking.predict.SkyPredictor.at`, sgp4 at that exact time); ``search`` is the
rest of :func:`orbitlink.tracking.correlation.correlate_tracks` (coarse selection, path grid and
refinement, assignment, records); ``named`` is the fraction of real
tracks given the right NORAD id, ``ambig.`` the number of associations flagged ambiguous,
``wrong, sure`` the real tracks given a wrong id *without* an ambiguity flag or a confidence under
0.5, and ``debris named`` the fraction of debris tracks wrongly given an id.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orbitlink.tracking.catalogue import Catalogue, tle_checksum
from orbitlink.tracking.constants import SECONDS_PER_DAY
from orbitlink.tracking.correlation import CorrelationSettings, correlate_tracks
from orbitlink.tracking.correlation.error_model import element_priors
from orbitlink.tracking.models import Sensor, TrackUpdate
from orbitlink.tracking.predict import SkyPrediction, SkyPredictor, predict_sky
from orbitlink.tracking.times import datetime_from_unix

REPO = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = REPO.parent / "shared" / "data" / "catalog" / "celestrak-2026-05-30"
SITE = Sensor(
    sensor_id="kitt-peak", lat_deg=31.9583, lon_deg=-111.5967, alt_m=2096.0, sigma_arcsec=1.5
)
FRAMES = {
    "1 day": datetime(2026, 5, 31, 3, 0, tzinfo=UTC).timestamp(),
    "7 days": datetime(2026, 6, 6, 3, 0, tzinfo=UTC).timestamp(),
}
POSITION_SIGMA_DEG = 2.0 / 3600.0
RATE_SIGMA_DEG_S = 0.5 / 3600.0
COVARIANCE = np.diag([POSITION_SIGMA_DEG**2] * 2 + [RATE_SIGMA_DEG_S**2] * 2).tolist()


class _TimedPredictor(SkyPredictor):
    """A predictor that counts the time spent in its whole-catalogue predictions, so that the
    correlator's search can be timed apart from the frame prediction it asks for."""

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__(catalogue, grid_step_s=None)  # single frames: sgp4 at their times
        self.spent_s = 0.0

    def at(self, sensor: Sensor, time_unix_s: float) -> SkyPrediction:
        started = time.perf_counter()
        try:
            return super().at(sensor, time_unix_s)
        finally:
            self.spent_s += time.perf_counter() - started


def _late(catalogue: Catalogue, index: np.ndarray, late_s: np.ndarray) -> Catalogue:
    """The element sets at ``index``, each ``late_s`` seconds late along its orbit."""
    records = []
    for i, late in zip(index.tolist(), late_s.tolist()):
        record = catalogue.element_set(i)
        line2 = record["line2"]
        anomaly = (float(line2[43:51]) - float(line2[52:63]) * 360.0 / 86400.0 * late) % 360.0
        line2 = f"{line2[:43]}{anomaly:8.4f}{line2[51:68]}"
        records.append(dict(record, line2=line2 + str(tle_checksum(line2))))
    return Catalogue.from_records(records)


def _frame(
    catalogue: Catalogue,
    time_unix_s: float,
    n_tracks: int,
    rng: np.random.Generator,
    sensor: Sensor = SITE,
) -> tuple[list[TrackUpdate], np.ndarray]:
    """N tracks at the frame time and the NORAD id behind each (-1 for debris)."""
    p = predict_sky(catalogue, sensor, time_unix_s)
    if sensor.is_space_based:
        up = np.flatnonzero(p.valid & p.above_horizon)
    else:
        up = np.flatnonzero(p.valid & (p.elevation_deg > 20.0))
    real = rng.choice(up, min(n_tracks, len(up)), replace=False)
    settings = CorrelationSettings()
    age = np.abs(time_unix_s - catalogue.epoch_unix_s[real]) / SECONDS_PER_DAY
    # Timing errors for low orbits only (a GEO set's error is an angle, see the docs).
    fast = np.hypot(p.ra_rate_deg_s[real], p.dec_rate_deg_s[real]) > settings.slow_rate_deg_s
    codes = SkyPredictor(catalogue, grid_step_s=None).orbit_classes()[real]
    timing_sigma_s = element_priors(settings, codes, age).timing_s
    late = np.where(fast, rng.normal(0.0, timing_sigma_s), 0.0)
    truth = predict_sky(_late(catalogue, real, late), sensor, time_unix_s)
    ra, dec = truth.ra_deg, truth.dec_deg  # in NORAD id order, as the truth catalogue
    rates = np.c_[truth.ra_rate_deg_s, truth.dec_rate_deg_s]
    ids = truth.norad_ids
    n_debris = n_tracks - len(real)
    if n_debris:
        # Debris: within a few degrees of real objects (the part of the sky that is up), with
        # real objects' speeds in random directions.
        sky = np.c_[p.ra_deg[up], p.dec_deg[up]]
        centre = sky[rng.integers(len(up), size=n_debris)]
        jitter = rng.normal(0.0, 5.0, size=(n_debris, 2))
        d_ra = (centre[:, 0] + jitter[:, 0] / np.cos(np.radians(centre[:, 1]))) % 360.0
        d_dec = np.clip(centre[:, 1] + jitter[:, 1], -89.0, 89.0)
        speed = np.hypot(p.ra_rate_deg_s[up], p.dec_rate_deg_s[up])[
            rng.integers(len(up), size=n_debris)
        ]
        angle = rng.uniform(0.0, 2.0 * np.pi, n_debris)
        ra = np.r_[ra, d_ra]
        dec = np.r_[dec, d_dec]
        rates = np.r_[rates, np.c_[speed * np.cos(angle), speed * np.sin(angle)]]
        ids = np.r_[ids, np.full(n_debris, -1)]
    noise = rng.multivariate_normal(np.zeros(4), np.array(COVARIANCE), size=len(ra))
    time = datetime_from_unix(time_unix_s)
    tracks = [
        TrackUpdate(
            time=time,
            track_id=f"T{i}",
            sensor_id=sensor.sensor_id,
            status="confirmed",
            ra_deg=float((ra[i] + n[0] / np.cos(np.radians(dec[i]))) % 360.0),
            dec_deg=float(np.clip(dec[i] + n[1], -90.0, 90.0)),
            ra_rate_deg_s=float(rates[i, 0] + n[2]),
            dec_rate_deg_s=float(rates[i, 1] + n[3]),
            covariance=COVARIANCE,
            n_updates=8,
        )
        for i, n in enumerate(noise)
    ]
    return tracks, ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.correlate", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    quick = parser.parse_args([] if argv is None else argv).quick
    catalogue = Catalogue.from_path(CATALOGUE_DIR)
    # A camera flying on the ISS's element set: no horizon cut, and it sees most of the sky.
    camera = Sensor(
        sensor_id="iss-camera",
        sigma_arcsec=2.0,
        tle=list(catalogue.lines[catalogue.index_of([25544])[0]]),
    )
    print(
        f"catalogue: {len(catalogue)} element sets; sensors: {SITE.sensor_id} (tracks: real "
        f"objects above 20 deg) and {camera.sensor_id} (real objects clear of the Earth); "
        f"the rest of the tracks debris (uncorrelated)"
    )
    repeats = 2 if quick else 5
    rng = np.random.default_rng(0)
    predict_sky(catalogue, SITE, FRAMES["1 day"])  # warm caches
    header = (
        f"{'sensor':>10} {'age':>7} {'tracks':>7} {'real':>5} {'predict ms':>11} "
        f"{'search ms':>10} {'total ms':>9} {'named':>7} {'ambig.':>7} "
        f"{'wrong, sure':>12} {'debris named':>13}"
    )
    print(header)
    for sensor in (SITE, camera):
        for label, t0 in FRAMES.items():
            for n_tracks in (10, 100, 1000):
                _measure(catalogue, sensor, label, t0, n_tracks, repeats, rng)
    print("(medians of", repeats, "runs; wall clock on a shared machine)")


def _measure(
    catalogue: Catalogue,
    sensor: Sensor,
    label: str,
    t0: float,
    n_tracks: int,
    repeats: int,
    rng: np.random.Generator,
) -> None:
    tracks, truth = _frame(catalogue, t0, n_tracks, rng, sensor)
    predictor = _TimedPredictor(catalogue)
    predict_ms, search_ms = [], []
    for _ in range(repeats):
        predictor.spent_s = 0.0
        started = time.perf_counter()
        result = correlate_tracks(tracks, sensor, predictor)
        elapsed_s = time.perf_counter() - started
        predict_ms.append(predictor.spent_s * 1e3)
        search_ms.append((elapsed_s - predictor.spent_s) * 1e3)
    named = np.array([a.norad_id if a.norad_id is not None else -2 for a in result])
    real = truth >= 0
    right = float(np.mean(named[real] == truth[real])) if real.any() else float("nan")
    wrong_debris = float(np.mean(named[~real] >= 0)) if (~real).any() else 0.0
    ambiguous = sum(a.ambiguous for a in result)
    # Real tracks given a wrong name without the correlator flagging any doubt.
    sure_wrong = sum(
        1
        for a, t in zip(result, truth)
        if t >= 0 and not a.uct and a.norad_id != t and not a.ambiguous and a.confidence >= 0.5
    )
    p, s = statistics.median(predict_ms), statistics.median(search_ms)
    print(
        f"{sensor.sensor_id:>10} {label:>7} {n_tracks:>7} {int(real.sum()):>5} {p:>11.1f} "
        f"{s:>10.1f} {p + s:>9.1f} {right:>7.1%} {ambiguous:>7} {sure_wrong:>12} "
        f"{wrong_debris:>13.1%}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
