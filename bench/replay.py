"""Whole processes: orbitlink's offline replay against a Stone Soup KD-tree GNN script.

The tracker benchmark's scene (``bench/tracker.py``) with 300 targets is written to files: the
frames as orbitlink reads them (``frames.jsonl``, RA/Dec) and the same detections in the
plane (one JSON line per frame) for Stone Soup. Then, alternately, each side runs as its own
process from start to exit:

* ``orbitlink replay frames.jsonl --offline --sensors sensors.json --out DIR`` with the
  tracker settings of the tracker benchmark and correlation off (there is no catalogue), which
  writes the track updates as JSON Lines;
* ``python bench/stonesoup_gnn.py ...``: Stone Soup 1.9.1's MultiTargetTracker with the
  KD-tree GNN associator and the equivalent components, which writes each frame's tracks.

The figure is the ratio of their CPU times (and of their wall times), the median over the
runs, beside each side's track coverage from its own output: GOSPA per frame (p = 1,
alpha = 2, cut-off 36 arcsec) with its parts, and completeness (the share of true targets a
track is within the cut-off of), over the frames after the burn-in.

Run: ``python -m bench replay`` or ``python -m bench.replay [--quick]`` (``--quick``: 100
targets, 20 frames, one run each).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tracker import (
    BURN_IN_FRAMES,
    CENTRE_DEC_DEG,
    CENTRE_RA_DEG,
    DT_S,
    SETTINGS,
    SIGMA_ARCSEC,
    frames_of,
    make_scene,
    quality,
    stonesoup_parameters,
)
from orbitlink.tracking.formats import read_records
from orbitlink.tracking.models import TrackUpdate
from orbitlink.tracking.sky import gnomonic_from_radec

BENCH = Path(__file__).resolve().parent
ORBITLINK = Path(sys.executable).with_name("orbitlink")


def _write_inputs(folder: Path, scene) -> None:
    with (folder / "frames.jsonl").open("w") as out:
        for frame in frames_of(scene):
            out.write(frame.to_json() + "\n")
    (folder / "sensors.json").write_text(
        json.dumps([{"sensor_id": "BENCH", "lat_deg": 31.96, "lon_deg": -111.6, "alt_m": 2100.0}])
    )
    tracker = {"max_init_rate_deg_s": SETTINGS.max_init_rate_deg_s}
    (folder / "pipeline.json").write_text(json.dumps({"tracker": tracker, "correlate": False}))
    with (folder / "plane.jsonl").open("w") as out:
        for k, points in enumerate(scene.plane):
            out.write(json.dumps({"time_s": k * DT_S, "points": points.tolist()}) + "\n")
    (folder / "stonesoup.json").write_text(json.dumps(stonesoup_parameters(kd_tree=True)))


def _commands(folder: Path) -> dict[str, list[str]]:
    return {
        "orbitlink": [
            str(ORBITLINK),
            "replay",
            str(folder / "frames.jsonl"),
            "--offline",
            "--sensors",
            str(folder / "sensors.json"),
            "--pipeline-settings",
            str(folder / "pipeline.json"),
            "--out",
            str(folder / "orbitlink"),
            "--no-progress",
        ],
        "Stone Soup": [
            sys.executable,
            str(BENCH / "stonesoup_gnn.py"),
            str(folder / "plane.jsonl"),
            str(folder / "stonesoup.json"),
            str(folder / "stonesoup.jsonl"),
        ],
    }


def _child_environment() -> dict[str, str]:
    """The environment both programs run in, as installed programs do: allowed to cache their
    bytecode (a shell with PYTHONDONTWRITEBYTECODE would make every run compile orbitlink's
    editable source again, while Stone Soup's installed modules come compiled)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(command: list[str]) -> tuple[float, float]:
    """CPU (user + system, the child's) and wall seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=_child_environment())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _orbitlink_estimates(folder: Path, n_frames: int) -> list[np.ndarray]:
    per_frame: list[list[tuple[float, float]]] = [[] for _ in range(n_frames)]
    for update in read_records(folder / "orbitlink" / "tracks.jsonl", TrackUpdate):
        if update.status != "deleted":
            per_frame[int(update.frame_id.split("-")[1])].append((update.ra_deg, update.dec_deg))
    estimates = []
    for rows in per_frame:
        ra, dec = np.array(rows).reshape(-1, 2).T
        xi, eta = gnomonic_from_radec(ra, dec, CENTRE_RA_DEG, CENTRE_DEC_DEG)
        estimates.append(np.column_stack([xi, eta]))
    return estimates


def _stonesoup_estimates(folder: Path) -> list[np.ndarray]:
    with (folder / "stonesoup.jsonl").open() as handle:
        return [np.array(json.loads(line)["points"]).reshape(-1, 2) for line in handle]


def _completeness(scene, estimates: list[np.ndarray], cutoff_arcsec: float = 36.0) -> float:
    found = total = 0
    for k in range(BURN_IN_FRAMES, len(estimates)):
        truth, mine = scene.truth[k] * 3600, estimates[k] * 3600
        total += len(truth)
        if len(mine):
            nearest = np.min(np.linalg.norm(truth[:, None] - mine[None], axis=-1), axis=1)
            found += int(np.sum(nearest < cutoff_arcsec))
    return found / max(total, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 targets, 20 frames, one run")
    args = parser.parse_args([] if argv is None else argv)
    n_targets, n_frames, runs = (100, 20, 1) if args.quick else (300, 60, 3)
    scene = make_scene(n_targets, n_frames, seed=3)
    n_detections = sum(len(p) for p in scene.plane)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_inputs(folder, scene)
        commands = _commands(folder)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for command in commands.values():  # untimed: caches the bytecode, warms the disk
            _timed(command)
        for _ in range(runs):  # alternately, so a drift of the machine's speed hits both
            for name, command in commands.items():
                times[name].append(_timed(command))
        estimates = {
            "orbitlink": _orbitlink_estimates(folder, n_frames),
            "Stone Soup": _stonesoup_estimates(folder),
        }
    print(
        f"whole processes, {n_targets} targets, {n_frames} frames of {DT_S:g} s, "
        f"{n_detections} detections (sigma {SIGMA_ARCSEC:g} arcsec); median of {runs} "
        "alternating run(s) each, after an untimed one; coverage after the burn-in"
    )
    print(
        f"{'':>11} {'CPU s':>7} {'wall s':>7} {'det/s (CPU)':>12} {'GOSPA':>7} {'err':>6} "
        f"{'miss/f':>7} {'false/f':>8} {'complete':>9}"
    )
    medians = {}
    for name in commands:
        cpu = statistics.median(t[0] for t in times[name])
        wall = statistics.median(t[1] for t in times[name])
        medians[name] = (cpu, wall)
        q = quality(scene, estimates[name])
        print(
            f"{name:>11} {cpu:>7.2f} {wall:>7.2f} {n_detections / cpu:>12,.0f} "
            f"{q['gospa']:>7.1f} {q['error_arcsec']:>6.2f} {q['missed']:>7.2f} "
            f"{q['false']:>8.2f} {_completeness(scene, estimates[name]):>9.3f}"
        )
    (ss_cpu, ss_wall), (ol_cpu, ol_wall) = medians["Stone Soup"], medians["orbitlink"]
    print(
        f"  Stone Soup / orbitlink: {ss_cpu / ol_cpu:.0f}x CPU time, {ss_wall / ol_wall:.0f}x "
        "wall time (whole processes, start-up included)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
