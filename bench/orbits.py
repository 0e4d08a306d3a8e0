"""Orbits from short arcs of real catalogue objects: error against arc length.

Run: ``python -m bench orbits`` or ``python bench/orbits.py [--quick]``. Prints the tables that
``docs/orbits.md`` quotes.

For LEO, GEO and HEO objects of the shipped catalogue (there is no MEO object in it: no GNSS
group) and for a ground site and a camera in orbit, it simulates tracks of several lengths,
each of ``OBSERVATIONS`` equally spaced observations (so only the arc's length changes), with
Gaussian noise of 1, 2 or 5 arcsec; the truth is sgp4 of the real TLE, the observations what
``predict_sky`` says the sensor sees (astrometric, light time included). Each track goes
through ``determine_orbit`` with its default settings. Trials differ in the pass (the k-th
trial uses the first window after ``T0 + k * TRIAL_SPACING_S``) and in the noise.

Columns: ``det`` the fraction of trials with a determined orbit (the others got the
admissible region); then, over the determined ones, the median absolute error of the
osculating semi-major axis, inclination and RAAN at the epoch, and of the along-track
position one orbital period later (the fitted orbit propagated with its J2 dynamics against
sgp4), and the median of the formal 1-sigma of ``a`` the fit reported; ``region`` is the
median range extent of the admissible region of the trials that got one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.models import Sensor
from orbitlink.tracking.orbit.angles import simulate_observations
from orbitlink.tracking.orbit.determine import determine_orbit
from orbitlink.tracking.orbit.elements import elements_from_state, period_s
from orbitlink.tracking.orbit.tle import sgp4_gcrs
from orbitlink.tracking.predict import predict_sky

REPO = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = REPO.parent / "shared" / "data" / "catalog" / "celestrak-2026-05-30"
T0 = datetime(2026, 5, 31, 0, 0, tzinfo=UTC).timestamp()
OBSERVATIONS = 31
TRIAL_SPACING_S = 5 * 3600.0
SEARCH_S = 3 * 86400.0
MIN_ELEVATION_DEG = 20.0
GROUND = (
    Sensor(sensor_id="siding-spring", lat_deg=-31.2733, lon_deg=149.0644, alt_m=1165.0),
    Sensor(sensor_id="la-palma", lat_deg=28.7606, lon_deg=-17.8816, alt_m=2396.0),
)
SPACE_CAMERA_NORAD = 25757  # DLR-TUBSAT, sun-synchronous at 500 km

#: Orbit class -> (real objects, arc lengths in s).
CASES: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "LEO": ((25544, 44057), (10.0, 30.0, 60.0, 120.0, 300.0)),  # ISS, OneWeb-0012
    "GEO": ((36744, 26900), (300.0, 900.0, 1800.0, 3600.0, 7200.0)),  # COMS 1, Intelsat 902
    "HEO": ((47719, 58584), (300.0, 900.0, 1800.0, 3600.0, 7200.0)),  # Arktika-M 1 and 2
}


@dataclass
class Trial:
    determined: bool
    reason: str
    sma_error_km: float = np.nan
    inclination_error_deg: float = np.nan
    raan_error_deg: float = np.nan
    along_track_error_km: float = np.nan
    sma_sigma_km: float = np.nan
    region_span_km: float = np.nan


def windows(catalogue: Catalogue, norad: int, sensor: Sensor, duration_s: float) -> np.ndarray:
    """Start times of every stretch of ``duration_s`` in view (ground: above
    ``MIN_ELEVATION_DEG``; space: line of sight clear of the Earth), on a 10 s grid."""
    step = 10.0
    grid = T0 + np.arange(0.0, SEARCH_S, step)
    sky = predict_sky(catalogue, sensor, grid, index=catalogue.index_of([norad]))
    ok = sky.above_horizon[0]
    if not sensor.is_space_based:
        ok &= sky.elevation_deg[0] > MIN_ELEVATION_DEG
    run = int(np.ceil(duration_s / step)) + 1
    if len(ok) < run:
        return np.zeros(0)
    full = np.convolve(ok.astype(int), np.ones(run, dtype=int), mode="valid") == run
    return grid[: len(full)][full]


def truth_state(catalogue: Catalogue, norad: int, time_s: float) -> np.ndarray:
    satrec = catalogue.satrecs[int(catalogue.index_of([norad])[0])]
    _, r, v = sgp4_gcrs([satrec], [time_s])
    return np.concatenate([r[0, 0], v[0, 0]])


def angle_error_deg(a: float, b: float) -> float:
    return float(abs((a - b + 180.0) % 360.0 - 180.0))


def run_trial(catalogue, norad, sensor, start, arc_s, sigma, seed) -> Trial:
    times = start + np.linspace(0.0, arc_s, OBSERVATIONS)
    obs = simulate_observations(catalogue, norad, sensor, times, sigma, np.random.default_rng(seed))
    result = determine_orbit(obs)
    if not result.determined:
        low, high = result.region.range_interval_km
        return Trial(False, result.reason, region_span_km=high - low)
    orbit = result.orbit
    truth = truth_state(catalogue, norad, orbit.epoch_unix_s)
    fitted, true = orbit.elements(), elements_from_state(truth[:3], truth[3:])
    later = orbit.epoch_unix_s + float(period_s(true.semi_major_axis_km))
    r_later, _, _ = orbit.predict([later])
    truth_later = truth_state(catalogue, norad, later)
    along = truth_later[3:] / np.linalg.norm(truth_later[3:])
    return Trial(
        True,
        result.reason,
        sma_error_km=float(abs(fitted.semi_major_axis_km - true.semi_major_axis_km)),
        inclination_error_deg=float(abs(fitted.inclination_deg - true.inclination_deg)),
        raan_error_deg=angle_error_deg(fitted.raan_deg, true.raan_deg),
        along_track_error_km=float(abs((r_later[0] - truth_later[:3]) @ along)),
        sma_sigma_km=orbit.semi_major_axis_sigma_km,
    )


def _reason_kind(reason: str) -> str:
    """The kind of reason, without its numbers."""
    words = reason.split(";")[0].split(":")[0].split("(")[0].split()
    kept = [
        word
        for previous, word in zip([""] + words, words)
        if not any(c.isdigit() for c in word)
        and not (word in ("km", "arcsec") and any(c.isdigit() for c in previous))
    ]
    return " ".join(kept)


def _median(trials: list[Trial], name: str) -> float:
    values = [getattr(t, name) for t in trials if np.isfinite(getattr(t, name))]
    return float(np.median(values)) if values else np.nan


def _fmt(value: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"


def _arc_label(arc_s: float) -> str:
    return f"{arc_s:.0f} s" if arc_s < 600 else f"{arc_s / 60:.0f} min"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.orbits", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer trials, one sigma, every other arc"
    )
    quick = parser.parse_args([] if argv is None else argv).quick
    started = time.perf_counter()
    catalogue = Catalogue.from_path(CATALOGUE_DIR)
    camera = Sensor(
        sensor_id="tubsat-cam",
        tle=list(catalogue.lines[catalogue.index_of([SPACE_CAMERA_NORAD])[0]]),
    )
    trials_per_row = 2 if quick else 6
    sigmas = (2.0,) if quick else (1.0, 2.0, 5.0)
    print(
        f"load average {os.getloadavg()[0]:.1f}; catalogue {CATALOGUE_DIR.name}; "
        f"{OBSERVATIONS} observations per arc; {trials_per_row} trials per row "
        f"(passes {TRIAL_SPACING_S / 3600:.0f} h apart, fresh noise); truth: sgp4 of the real TLE"
    )
    print("MEO: the snapshot holds no MEO object (no GNSS group), so there is no MEO row.\n")
    header = (
        "| class | sensor | arc | sigma | det | abs da km | sigma a km | abs di deg "
        "| abs dRAAN deg | along-track km, 1 rev | region km |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    reasons: dict[str, int] = {}
    for orbit_class, (norads, arcs) in CASES.items():
        for sensor_kind in ("ground", "space"):
            for arc_s in arcs[::2] if quick else arcs:
                for sigma in sigmas:
                    trials: list[Trial] = []
                    for norad in norads:
                        sensors = GROUND if sensor_kind == "ground" else (camera,)
                        found = [windows(catalogue, norad, s, arc_s) for s in sensors]
                        starts = np.concatenate(found)
                        owners = np.concatenate([np.full(len(w), j) for j, w in enumerate(found)])
                        for k in range(trials_per_row // len(norads)):
                            pick = np.flatnonzero(starts >= T0 + k * TRIAL_SPACING_S)
                            if len(pick) == 0:
                                continue
                            j = pick[np.argmin(starts[pick])]
                            label = f"{norad} {sensor_kind} {arc_s} {sigma} {k}"
                            trial = run_trial(
                                catalogue,
                                norad,
                                sensors[owners[j]],
                                starts[j],
                                arc_s,
                                sigma,
                                zlib.crc32(label.encode()),
                            )
                            trials.append(trial)
                            if not trial.determined:
                                key = _reason_kind(trial.reason)
                                reasons[key] = reasons.get(key, 0) + 1
                    if not trials:
                        print(
                            f"| {orbit_class} | {sensor_kind} | {_arc_label(arc_s)} | {sigma:g} "
                            "| no window | | | | | | |"
                        )
                        continue
                    determined = [t for t in trials if t.determined]
                    print(
                        f"| {orbit_class} | {sensor_kind} | {_arc_label(arc_s)} | {sigma:g} "
                        f"| {len(determined)}/{len(trials)} "
                        f"| {_fmt(_median(determined, 'sma_error_km'))} "
                        f"| {_fmt(_median(determined, 'sma_sigma_km'))} "
                        f"| {_fmt(_median(determined, 'inclination_error_deg'))} "
                        f"| {_fmt(_median(determined, 'raan_error_deg'))} "
                        f"| {_fmt(_median(determined, 'along_track_error_km'))} "
                        f"| {_fmt(_median(trials, 'region_span_km'))} |",
                        flush=True,
                    )
    print("\nwhy the undetermined trials got the admissible region:")
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  {count:4d}  {reason}")
    print(f"\n(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
