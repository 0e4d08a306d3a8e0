"""Throughput and quality of the frame-to-frame tracker, against Stone Soup on the same scene.

The scene is the classic 2-D constant-velocity benchmark, laid on the sky: targets move on
straight lines in the gnomonic plane tangent at (RA 30, Dec 10) -- great circles on the sky --
at 0.002-0.02 deg/s in random directions, one frame every 2 s, detection probability 0.9,
astrometric sigma 3 arcsec and Poisson clutter of 0.2 per target per frame, uniform over the
area. The density is fixed (4 targets per square degree), so the area grows with the number of
targets and the cost per detection should stay flat.

orbitlink's :class:`~tracking.tracker.SensorTracker` gets RA/Dec detections; Stone Soup 1.9.1
gets the same detections as plane coordinates (degrees) with the same F, Q (continuous white
noise acceleration), R, Mahalanobis gate and GNN assignment, a MultiMeasurementInitiator and
a deleter after 4 missed steps, once with its plain DistanceHypothesiser and once with its
KD-tree associator. Quality is GOSPA per frame (p = 1, alpha = 2, cut-off 36 arcsec),
averaged over the frames after a burn-in, with its parts: mean position error of matched
tracks, missed targets and false tracks per frame.

A second table checks the process-noise model on real satellites: ISS and Starlink passes
(TLEs from the shared CelesTrak snapshot, Skyfield) over a site at 39 N 105 W, 1 s frames,
sigma 5 arcsec, Pd 0.9. For three values of ``accel_per_rate_sq_per_deg`` it prints how many
confirmed tracks each pass gave, the normalised rate error (NEES, 2 dof: 2 is consistent,
below is conservative) and the largest rate error relative to the true rate.

Run: ``python -m bench tracker`` (or ``python -m bench.tracker [--quick]``; ``--quick``: two
small scenes and one Stone Soup run, one repetition each, no real passes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from orbitlink.tracking.association import chi2_gate
from orbitlink.tracking.models import Detection, Frame
from orbitlink.tracking.sky import (
    gnomonic_from_radec,
    radec_from_gnomonic,
    tangent_basis,
    unit_from_radec,
)
from orbitlink.tracking.tracker import SensorTracker, TrackerSettings

CENTRE_RA_DEG, CENTRE_DEC_DEG = 30.0, 10.0
DT_S = 2.0
SIGMA_ARCSEC = 3.0
PD = 0.9
CLUTTER_PER_TARGET = 0.2
DENSITY_PER_DEG2 = 4.0
SPEED_RANGE_DEG_S = (0.002, 0.02)
GOSPA_CUTOFF_ARCSEC = 36.0
BURN_IN_FRAMES = 8
T0 = datetime(2026, 5, 30, 2, 0, 0, tzinfo=UTC)
SETTINGS = TrackerSettings(max_init_rate_deg_s=0.05)


@dataclass
class Scene:
    """Truth positions ``(n_frames, n_targets, 2)`` in the plane (deg) and the detections of
    each frame as plane coordinates, with target index (-1 for clutter)."""

    truth: np.ndarray
    plane: list[np.ndarray]
    source: list[np.ndarray]


def make_scene(n_targets: int, n_frames: int, seed: int = 1) -> Scene:
    rng = np.random.default_rng(seed)
    half = 0.5 * np.sqrt(n_targets / DENSITY_PER_DEG2)
    start = rng.uniform(-half, half, (n_targets, 2))
    speed = rng.uniform(*SPEED_RANGE_DEG_S, n_targets)
    heading = rng.uniform(0.0, 2 * np.pi, n_targets)
    velocity = speed[:, None] * np.column_stack([np.cos(heading), np.sin(heading)])
    times = np.arange(n_frames) * DT_S
    truth = start[None] + times[:, None, None] * velocity[None]
    sigma = SIGMA_ARCSEC / 3600.0
    plane, source = [], []
    for k in range(n_frames):
        seen = np.flatnonzero(rng.random(n_targets) < PD)
        points = truth[k, seen] + rng.normal(0.0, sigma, (len(seen), 2))
        n_clutter = rng.poisson(CLUTTER_PER_TARGET * n_targets)
        clutter = rng.uniform(-half, half, (n_clutter, 2))
        order = rng.permutation(len(seen) + n_clutter)
        plane.append(np.concatenate([points, clutter])[order])
        source.append(np.concatenate([seen, np.full(n_clutter, -1)])[order])
    return Scene(truth=truth, plane=plane, source=source)


def frames_of(scene: Scene) -> list[Frame]:
    frames = []
    for k, points in enumerate(scene.plane):
        ra, dec = radec_from_gnomonic(points[:, 0], points[:, 1], CENTRE_RA_DEG, CENTRE_DEC_DEG)
        detections = [
            Detection(det_id=f"{k}:{j}", ra_deg=float(r), dec_deg=float(d))
            for j, (r, d) in enumerate(zip(ra.tolist(), dec.tolist()))
        ]
        frames.append(
            Frame(
                frame_id=f"frame-{k}",
                sensor_id="BENCH",
                time=T0 + timedelta(seconds=k * DT_S),
                detections=detections,
            )
        )
    return frames


def gospa(truth: np.ndarray, estimate: np.ndarray, cutoff: float) -> tuple[float, float, int, int]:
    """GOSPA (p = 1, alpha = 2) of one frame: ``(gospa, summed matched error, missed, false)``."""
    if len(truth) == 0 or len(estimate) == 0:
        return cutoff / 2 * (len(truth) + len(estimate)), 0.0, len(truth), len(estimate)
    distance = np.linalg.norm(truth[:, None] - estimate[None], axis=-1)
    rows, cols = linear_sum_assignment(np.minimum(distance, cutoff))
    matched = distance[rows, cols] < cutoff
    error = float(distance[rows, cols][matched].sum())
    missed = len(truth) - int(matched.sum())
    false = len(estimate) - int(matched.sum())
    return error + cutoff / 2 * (missed + false), error, missed, false


def quality(scene: Scene, estimates: list[np.ndarray]) -> dict[str, float]:
    """Mean GOSPA per frame and its parts after the burn-in (positions in arcsec)."""
    totals = np.zeros(4)
    n_matched = 0
    frames = range(BURN_IN_FRAMES, len(estimates))
    for k in frames:
        g, error, missed, false = gospa(
            scene.truth[k] * 3600, estimates[k] * 3600, GOSPA_CUTOFF_ARCSEC
        )
        totals += (g, error, missed, false)
        n_matched += len(scene.truth[k]) - missed
    n = len(frames)
    return {
        "gospa": totals[0] / n,
        "error_arcsec": totals[1] / max(n_matched, 1),
        "missed": totals[2] / n,
        "false": totals[3] / n,
    }


def run_orbitlink(
    scene: Scene, serialise: bool = False, repeats: int = 3
) -> tuple[float, int, list[np.ndarray]]:
    """CPU seconds in ``process`` (and ``to_bytes`` when asked), detections, track positions.

    CPU time of this process, not wall time, and the best of ``repeats`` runs (the tracker
    is deterministic, so every run does the same work): the figures then mean "one core"
    even on a machine shared with other work.
    """
    frames = frames_of(scene)
    best = np.inf
    for _ in range(repeats):
        tracker = SensorTracker("BENCH", SETTINGS)
        elapsed = 0.0
        estimates = []
        for frame in frames:
            started = time.process_time()
            step = tracker.process(frame, SIGMA_ARCSEC)
            if serialise:
                tracker.to_bytes()
            elapsed += time.process_time() - started
            live = [(u.ra_deg, u.dec_deg) for u in step.updates if u.status != "deleted"]
            ra, dec = np.array(live).reshape(-1, 2).T
            xi, eta = gnomonic_from_radec(ra, dec, CENTRE_RA_DEG, CENTRE_DEC_DEG)
            estimates.append(np.column_stack([xi, eta]))
        best = min(best, elapsed)
    return best, sum(len(f.detections) for f in frames), estimates


def stonesoup_parameters(kd_tree: bool) -> dict:
    """The Stone Soup components equivalent to orbitlink's tracker on the scene
    (:func:`bench.stonesoup_gnn.build_tracker`'s keyword arguments)."""
    # The process noise orbitlink gives a track at the scene's mid speed.
    mid_speed = float(np.mean(SPEED_RANGE_DEG_S))
    accel = SETTINGS.accel_floor_deg_s2 + SETTINGS.accel_per_rate_sq_per_deg * mid_speed**2
    return {
        "sigma_deg": SIGMA_ARCSEC / 3600.0,
        "q": accel**2 * SETTINGS.accel_time_s,
        "gate": float(np.sqrt(chi2_gate(SETTINGS.gate_probability))),  # Stone Soup's: unsquared
        "max_speed_deg_s": SPEED_RANGE_DEG_S[1],
        "confirm_m": SETTINGS.confirm_m,
        "delete_after_misses": SETTINGS.delete_after_misses,
        "kd_tree": kd_tree,
    }


def run_stonesoup(scene: Scene, kd_tree: bool) -> tuple[float, int, list[np.ndarray]]:
    """The same scene through Stone Soup's MultiTargetTracker with equivalent components."""
    from bench.stonesoup_gnn import build_tracker, positions

    frames = [(k * DT_S, points) for k, points in enumerate(scene.plane)]
    tracker = build_tracker(frames, **stonesoup_parameters(kd_tree))
    estimates = []
    started = time.process_time()
    for _, tracks in tracker:
        estimates.append(positions(tracks))
    elapsed = time.process_time() - started
    return elapsed, sum(len(p) for p in scene.plane), estimates


CATALOGUE_DIR = (
    Path(
        os.environ.get(
            "ORBITLINK_SHARED_DATA",
            Path(__file__).resolve().parent.parent.parent / "shared" / "data",
        )
    )
    / "catalog"
    / "celestrak-2026-05-30"
)


def _real_passes(n_per_object: int = 6) -> list[tuple[str, list[Frame], np.ndarray]]:
    """Frames of real LEO passes and the true on-sky rates at each frame ``(n, 2)``."""
    from skyfield.api import EarthSatellite, wgs84

    from orbitlink.tracking.times import timescale

    ts = timescale()
    site = wgs84.latlon(39.0, -105.0, elevation_m=1800.0)
    t0 = ts.from_datetime(datetime(2026, 5, 30, tzinfo=UTC))
    rng = np.random.default_rng(1)
    sigma = 5.0 / 3600.0
    passes = []
    for file, name in [("stations.tle", "ISS (ZARYA)"), ("starlink.tle", "STARLINK-1008")]:
        lines = [line.rstrip() for line in (CATALOGUE_DIR / file).read_text().splitlines()]
        i = next(k for k, line in enumerate(lines) if line.strip() == name)
        satellite = EarthSatellite(lines[i + 1], lines[i + 2], name, ts)
        times, events = satellite.find_events(site, t0, t0 + 3.0, altitude_degrees=15.0)
        for culmination in [t for t, e in zip(times, events) if e == 1][:n_per_object]:
            start = culmination.utc_datetime() - timedelta(seconds=150)
            offsets = np.arange(301.0)
            stamps = [start + timedelta(seconds=float(s)) for s in offsets]
            topocentric = (satellite - site).at(ts.from_datetimes(stamps))
            up = topocentric.altaz()[0].degrees > 10.0
            ra, dec, _ = topocentric.radec()
            ra, dec = ra._degrees % 360.0, dec.degrees
            # True rates by central differences over +-0.05 s.
            both = [start + timedelta(seconds=float(s) + h) for s in offsets for h in (-0.05, 0.05)]
            ra2, dec2, _ = (satellite - site).at(ts.from_datetimes(both)).radec()
            u = unit_from_radec(ra2._degrees, dec2.degrees).reshape(-1, 2, 3)
            east, north, _ = tangent_basis(ra, dec)
            motion = np.degrees(u[:, 1] - u[:, 0]) / 0.1
            rates = np.column_stack([np.sum(motion * east, axis=1), np.sum(motion * north, axis=1)])
            frames = []
            for k in np.flatnonzero(up):
                detections = []
                if rng.random() < PD:
                    r, d = radec_from_gnomonic(*rng.normal(0.0, sigma, 2), ra[k], dec[k])
                    detections.append(Detection(det_id=f"{k}", ra_deg=float(r), dec_deg=float(d)))
                frames.append(
                    Frame(frame_id=f"{k}", sensor_id="SITE", time=stamps[k], detections=detections)
                )
            max_alt = float(topocentric.altaz()[0].degrees.max())
            passes.append((f"{name} {max_alt:4.1f} deg", frames, rates))
    return passes


def real_pass_consistency() -> None:
    passes = _real_passes()
    print(
        f"\nReal LEO passes ({len(passes)}: ISS and STARLINK-1008, max elevation "
        f"{min(p[0].split()[-2] for p in passes)}-{max(p[0].split()[-2] for p in passes)} "
        "deg), 1 s frames, sigma 5 arcsec, Pd 0.9"
    )
    print(
        f"{'accel_per_rate_sq_per_deg':>26} {'tracks/pass':>12} {'mean NEES':>12} "
        f"{'max NEES':>9} {'max rate err':>13}"
    )
    for coefficient in (0.02, 0.01, 0.005):
        settings = TrackerSettings().replace(accel_per_rate_sq_per_deg=coefficient)
        n_tracks, mean_nees, max_nees, max_error = [], [], 0.0, 0.0
        for _, frames, rates in passes:
            tracker = SensorTracker("SITE", settings)
            ids, nees = set(), []
            for frame in frames:
                for u in tracker.process(frame, 5.0).updates:
                    if u.status != "confirmed":
                        continue
                    ids.add(u.track_id)
                    true = rates[int(u.frame_id)]
                    error = np.array([u.ra_rate_deg_s, u.dec_rate_deg_s]) - true
                    cov = np.array(u.covariance)[2:, 2:]
                    nees.append(float(error @ np.linalg.solve(cov, error)))
                    max_error = max(max_error, float(np.hypot(*error) / np.hypot(*true)))
            n_tracks.append(len(ids))
            mean_nees.append(float(np.mean(nees)))
            max_nees = max(max_nees, max(nees))
        print(
            f"{coefficient:>26g} {min(n_tracks):>5}-{max(n_tracks):<6} "
            f"{min(mean_nees):>5.2f}-{max(mean_nees):<6.2f} {max_nees:>9.1f} "
            f"{100 * max_error:>12.1f}%",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tracker", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small scenes, one run each")
    quick = parser.parse_args([] if argv is None else argv).quick
    repeats = 1 if quick else 3
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    run_orbitlink(make_scene(20, 5), repeats=1)  # warm-up: scipy's lazy imports, caches
    print(
        f"\norbitlink SensorTracker, CPU time of one core (best of {repeats}); {DT_S:g} s frames, "
        f"Pd {PD}, clutter {CLUTTER_PER_TARGET}/target, sigma {SIGMA_ARCSEC:g} arcsec"
    )
    print(
        f"{'targets':>8} {'frames':>6} {'detections':>10} {'det/s':>10} "
        f"{'det/s +to_bytes':>15} {'us/track/frame':>14} {'GOSPA':>7} {'err':>6} "
        f"{'miss/f':>7} {'false/f':>7}"
    )
    sizes = [(50, 12), (1000, 10)] if quick else [(50, 30), (200, 30), (1000, 20), (5000, 16)]
    for n_targets, n_frames in sizes:
        scene = make_scene(n_targets, n_frames)
        elapsed, n_det, estimates = run_orbitlink(scene, repeats=repeats)
        elapsed_ser, _, _ = run_orbitlink(scene, serialise=True, repeats=repeats)
        q = quality(scene, estimates)
        print(
            f"{n_targets:>8} {n_frames:>6} {n_det:>10} {n_det / elapsed:>10,.0f} "
            f"{n_det / elapsed_ser:>15,.0f} "
            f"{1e6 * elapsed / (n_targets * n_frames):>14.1f} {q['gospa']:>7.1f} "
            f"{q['error_arcsec']:>6.2f} {q['missed']:>7.2f} {q['false']:>7.2f}",
            flush=True,
        )

    print(
        "\nStone Soup 1.9.1 on the same scenes (KF + Mahalanobis DistanceHypothesiser + "
        "GNNWith2DAssignment,\nMultiMeasurementInitiator, UpdateTimeStepsDeleter), "
        "against orbitlink on each:"
    )
    print(
        f"{'variant':>10} {'targets':>8} {'frames':>6} {'SS det/s':>9} {'ol det/s':>9} "
        f"{'ratio':>7} {'SS GOSPA':>8} {'ol GOSPA':>8} {'SS err':>7} {'ol err':>7} "
        f"{'SS miss/f':>9} {'ol miss/f':>9} {'SS false/f':>10} {'ol false/f':>10}"
    )
    versus = [(True, 50, 10)] if quick else [(False, 50, 20), (True, 50, 20), (True, 200, 20)]
    for kd_tree, n_targets, n_frames in versus:
        scene = make_scene(n_targets, n_frames, seed=2)
        ss_elapsed, n_det, ss_estimates = run_stonesoup(scene, kd_tree)
        ol_elapsed, _, ol_estimates = run_orbitlink(scene, repeats=repeats)
        ss, ol = quality(scene, ss_estimates), quality(scene, ol_estimates)
        print(
            f"{'kd-tree' if kd_tree else 'plain':>10} {n_targets:>8} {n_frames:>6} "
            f"{n_det / ss_elapsed:>9,.0f} {n_det / ol_elapsed:>9,.0f} "
            f"{ss_elapsed / ol_elapsed:>6.0f}x {ss['gospa']:>8.1f} {ol['gospa']:>8.1f} "
            f"{ss['error_arcsec']:>7.2f} {ol['error_arcsec']:>7.2f} {ss['missed']:>9.2f} "
            f"{ol['missed']:>9.2f} {ss['false']:>10.2f} {ol['false']:>10.2f}",
            flush=True,
        )

    if not quick:
        real_pass_consistency()


if __name__ == "__main__":
    main(sys.argv[1:])
