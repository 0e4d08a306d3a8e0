"""The whole offline pipeline: throughput on a simulated scenario, and peak memory.

1. Simulates the default scenario from the shipped catalogue (as ``orbitlink simulate``), runs
   it through :func:`orbitlink.tracking.offline.run_offline` with correlation on, and prints
   frames, detections, wall and CPU time and detections per second, split into tracker,
   prediction and correlation-search time (wall), and the headline quality figures of
   ``orbitlink evaluate``.
2. In a fresh process, loads the whole ~12k-object catalogue and drives one sensor with 1,000
   targets (the tracker benchmark's scene) through the full pipeline, correlating every
   confirmed track, and prints CPU time per frame, detections per second and the peak
   resident memory (goal: under 500 MB).

Run: ``python -m bench pipeline`` (or ``python -m bench.pipeline [--quick]``; ``--quick``: two
minutes of the scenario, 12 dense frames).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.goals import against

REPO_ROOT = Path(__file__).resolve().parent.parent
CATALOG = REPO_ROOT.parent / "shared" / "data" / "catalog" / "celestrak-2026-05-30"


def _scenario_throughput(quick: bool) -> None:
    from orbitlink.tracking import pipeline as pipeline_module
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.evaluate import evaluate
    from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
    from orbitlink.tracking.offline import run_offline
    from orbitlink.tracking.simulate import ScenarioSettings, simulate_scenario

    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "scenario"
        settings = ScenarioSettings(duration_s=120.0) if quick else ScenarioSettings()
        simulate_scenario(CATALOG, scenario, seed=1, settings=settings)
        frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
        sensors = read_sensors(scenario / "sensors.json")
        catalogue = Catalogue.from_path(scenario / "catalog")

        # The stages as the pipeline calls them, timed in place. Prediction is its own stage:
        # the correlator asks the pipeline's predictor for the whole catalogue once a frame,
        # and that time is taken out of the correlator's, which is then the search alone.
        stages = {
            "tracker": (pipeline_module.SensorTracker, "process"),
            "prediction": (pipeline_module.SkyPredictor, "at"),
            "correlation": (pipeline_module, "identify"),
        }
        spent = dict.fromkeys(stages, 0.0)
        originals = {name: getattr(owner, attr) for name, (owner, attr) in stages.items()}
        in_stages = [0.0]  # time spent in any timed stage, to take nested stages out of outer ones

        def timed(name, function):
            def run(*args, **kwargs):
                started, nested_before = time.perf_counter(), in_stages[0]
                try:
                    return function(*args, **kwargs)
                finally:
                    elapsed = time.perf_counter() - started
                    spent[name] += elapsed - (in_stages[0] - nested_before)
                    in_stages[0] = nested_before + elapsed

            return run

        for name, (owner, attr) in stages.items():
            setattr(owner, attr, timed(name, originals[name]))
        try:
            cpu_started = time.process_time()
            summary = run_offline(frames, sensors, catalogue, Path(tmp) / "res", progress=False)
            cpu_s = time.process_time() - cpu_started
        finally:
            for name, (owner, attr) in stages.items():
                setattr(owner, attr, originals[name])
        report = evaluate(scenario / "truth.json", Path(tmp) / "res").to_dict()

    print("offline pipeline, default simulated scenario (seed 1), correlation on")
    print(
        f"  frames {summary.frames}, detections {summary.detections}, "
        f"catalogue {len(catalogue)} objects"
    )
    print(
        f"  wall {summary.elapsed_s:.2f} s -> {summary.detections_per_s:,.0f} detections/s, "
        f"{1e3 * summary.elapsed_s / summary.frames:.1f} ms/frame"
    )
    print(
        f"  CPU {cpu_s:.2f} s -> {summary.detections / cpu_s:,.0f} detections/s, "
        f"{1e3 * cpu_s / summary.frames:.2f} ms/frame (one core; the figure on a shared machine)"
    )
    print(
        "  "
        + ", ".join(
            f"{name} {1e3 * seconds / summary.frames:.2f} ms/frame"
            for name, seconds in spent.items()
        )
    )
    keys = [k for k in report if any(w in k for w in ("precision", "recall", "purity", "gospa"))]
    for key in keys:
        value = report[key]
        if isinstance(value, float):
            print(f"  {key:<40} {value:.3f}")


def _peak_resident_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that
    over from the parent through fork and exec, so a child of a big benchmark run would
    report its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _peak_memory_child(quick: bool = False) -> None:
    """Runs in its own process so the peak belongs to this workload alone."""
    from bench.tracker import SETTINGS, frames_of, make_scene
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.models import Sensor
    from orbitlink.tracking.pipeline import Pipeline, PipelineSettings

    catalogue = Catalogue.from_path(CATALOG)
    sensor = Sensor(
        sensor_id="bench",
        lat_deg=31.96,
        lon_deg=-111.6,
        alt_m=2100,
        fov_radius_deg=10.0,
        sigma_arcsec=3.0,
    )
    frames = [
        frame.model_copy(update={"sensor_id": sensor.sensor_id})
        for frame in frames_of(make_scene(1000, 12 if quick else 20))
    ]
    pipeline = Pipeline([sensor], catalogue, PipelineSettings(tracker=SETTINGS))
    state = None
    warm_up = 8  # frames before the tracks are confirmed and correlated
    cpu_s = 0.0
    detections = associations = 0
    tracks: set[str] = set()
    for k, frame in enumerate(frames):
        started = time.process_time()
        result = pipeline.process(frame, state)
        if k >= warm_up:
            cpu_s += time.process_time() - started
            detections += len(frame.detections)
            associations += len(result.associations)
        state = result.state
        tracks = {u.track_id for u in result.tracks}
    peak_mb = _peak_resident_mb()
    measured = len(frames) - warm_up
    print(
        f"  one sensor, {len(tracks)} confirmed tracks, whole catalogue ({len(catalogue)}): "
        f"{detections / measured:.0f} detections and {associations / measured:.0f} "
        f"associations per frame"
    )
    print(
        f"  {1e3 * cpu_s / measured:.0f} ms CPU per frame -> "
        f"{detections / cpu_s:,.0f} detections/s through the whole pipeline"
    )
    memory = against("pipeline peak resident memory", peak_mb, 500.0, "MB", at_most=True)
    print(f"  peak resident memory {peak_mb:.0f} MB ({memory})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a shorter scenario, fewer frames")
    quick = parser.parse_args([] if argv is None else argv).quick
    _scenario_throughput(quick)
    print(
        "dense frames: 1,000 targets on one sensor, every confirmed track correlated "
        "(separate process, for its peak memory)"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from bench.pipeline import _peak_memory_child; _peak_memory_child({quick})",
        ],
        cwd=REPO_ROOT,
        check=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
