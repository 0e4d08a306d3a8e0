"""End-to-end stream benchmark: broker -> one worker -> broker, on a simulated scenario.

``python -m bench stream`` (embedded Tansu broker) or ``python -m bench.stream --broker
kafka://127.0.0.1:19092`` (an Apache Kafka already running). Prints:

* **sustained throughput**: every frame published at once; detections divided by the time from
  the first frame's publish to the last output record's publish (broker timestamps);
* **latency at 50 % load**: the same frames replayed again, on fresh topics and a fresh worker,
  paced at half the measured throughput; per association record, its publish timestamp minus
  its frame's publish timestamp (p50 / p99 / max);
* for reference, the same frames through ``run_offline`` in this process (the pipeline alone),
  so the share of the broker and worker in the end-to-end figure is visible.

Goals (issue 8): >= 25,000 detections/s sustained on dense frames, p99 <= 150 ms at half that
load, on both brokers. Also printed: where a frame's time goes in the worker, per stage
(stream/stagetimes.py), p50 / p99. The benchmark only measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

from bench.goals import against

GOAL_DETECTIONS_S = 25_000.0
GOAL_P99_S = 0.150


def _run(stack_kwargs: dict, frames: list, sensors: dict, *, speed: float | None):
    """The frames through a fresh worker: its output report and its frames' stage times."""
    from orbitlink.stream.demo import LocalStack, collect_outputs
    from orbitlink.stream.replay import publish_frames
    from orbitlink.stream.stagetimes import read_stage_times

    stage_times = Path(stack_kwargs["work_dir"]) / "stage-times.jsonl"
    with LocalStack(
        **stack_kwargs,
        topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
        worker_env={"ORBITLINK_STAGE_TIMES_PATH": str(stage_times)},
    ) as stack:
        assert stack.settings is not None
        asyncio.run(
            publish_frames(
                stack.settings, frames, sensors, speed=speed, progress=False, create_topics=False
            )
        )
        stack.wait_for_frames(len(frames), timeout_s=1800)
        report = collect_outputs(stack.settings, until_idle_s=2.0)
    return report, read_stage_times(stage_times)


def _print_stages(stages: list) -> None:
    """Per stage of the worker (stream/stagetimes.py), p50 / p99 over the frames."""
    import numpy as np

    from orbitlink.stream.stagetimes import stage_breakdown

    if not stages:
        print("    (no stage times: the worker wrote none)")
        return
    for name, seconds in stage_breakdown(stages).items():
        p50, p99 = np.percentile(seconds, [50, 99]) * 1e3
        print(f"    {name:<24} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")


def _measure(
    label: str,
    frames: list,
    sensors: dict,
    catalog: Path,
    work: Path,
    broker_url: str | None,
    pipeline_settings: Path | None = None,
) -> None:
    """Pipeline alone, sustained throughput and latency at half of it, for one scenario."""
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.formats import write_sensors
    from orbitlink.tracking.offline import run_offline
    from orbitlink.tracking.pipeline import load_pipeline_settings

    n_detections = sum(len(f.detections) for f in frames)
    event_span_s = (frames[-1].time - frames[0].time).total_seconds() or 1.0
    print(
        f"\n{label}: {len(frames)} frames, {n_detections} detections "
        f"({n_detections / len(frames):.0f} per frame) over {event_span_s:.0f} s of sky, "
        f"{len(sensors)} sensor(s)"
    )
    settings = load_pipeline_settings(pipeline_settings) if pipeline_settings else None
    offline = run_offline(
        frames,
        sensors,
        Catalogue.from_path(catalog),
        work / "offline",
        settings=settings,
        progress=False,
    )
    print(
        f"  pipeline alone (run_offline, in process): {offline.detections_per_s:,.0f} detections/s"
    )

    sensors_path = work / "sensors.json"
    write_sensors(list(sensors.values()), sensors_path)
    stack = dict(
        catalog=catalog,
        sensors=sensors_path,
        pipeline_settings=pipeline_settings,
        broker_url=broker_url,
        work_dir=work / "stack-1",
    )
    flat_out, flat_stages = _run(stack, frames, sensors, speed=None)
    throughput = flat_out.throughput_detections_s
    goal = against("stream sustained", throughput, GOAL_DETECTIONS_S, "detections/s", at_most=False)
    print(
        f"  sustained (all frames at once): {throughput:,.0f} detections/s ({goal}); "
        f"{flat_out.duplicates} duplicates"
    )
    print(f"  where a frame's time goes, all frames at once, over {len(flat_stages)} frames:")
    _print_stages(flat_stages)

    load = 0.5 * throughput
    speed = load / (n_detections / event_span_s)
    stack["work_dir"] = work / "stack-2"
    paced, stages = _run(stack, frames, sensors, speed=speed)
    p99_ms = paced.latency_percentile_s(99) * 1e3
    p99_goal = against(
        "stream p99 latency at 50 % load", p99_ms, GOAL_P99_S * 1e3, "ms", at_most=True
    )
    print(
        f"  latency at 50 % load ({load:,.0f} detections/s, replay speed {speed:.1f}x), "
        f"frame publish -> association publish over {len(paced.latencies_s)} records: "
        f"p50 {paced.latency_percentile_s(50) * 1e3:.0f} ms, "
        f"p99 {paced.latency_percentile_s(99) * 1e3:.0f} ms "
        f"({p99_goal}), "
        f"max {paced.latency_percentile_s(100) * 1e3:.0f} ms"
    )
    print(f"  where a frame's time goes at 50 % load, over {len(stages)} frames:")
    _print_stages(stages)


def _dense_scene(settings_path: Path) -> tuple[list, dict]:
    """The tracker benchmark's 1,000-target scene seen by one ground telescope: ~1,100
    detections a frame, every 2 s, correlated against the whole catalogue. Writes the
    tracker settings of that benchmark (its slow movers allow a tight initiation rate)
    to ``settings_path`` for the worker."""
    import json

    from bench.tracker import SETTINGS, frames_of, make_scene
    from orbitlink.tracking.models import Sensor

    changed = SETTINGS.model_dump(exclude_defaults=True)
    settings_path.write_text(json.dumps({"tracker": changed}))

    sensor = Sensor(
        sensor_id="dense",
        lat_deg=31.96,
        lon_deg=-111.6,
        alt_m=2100,
        fov_radius_deg=10.0,
        sigma_arcsec=3.0,
    )
    frames = [
        frame.model_copy(update={"sensor_id": sensor.sensor_id})
        for frame in frames_of(make_scene(1000, 30))
    ]
    return frames, {sensor.sensor_id: sensor}


def main(argv: list[str] | None = None) -> None:
    from orbitlink.stream.demo import default_catalog
    from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
    from orbitlink.tracking.simulate import simulate_scenario

    parser = argparse.ArgumentParser(
        prog="python -m bench.stream",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--broker", help="use this broker instead of an embedded Tansu")
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="TLE catalogue to simulate from (default: the shipped snapshot)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", choices=("sparse", "dense", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="the sparse scenario only")
    args = parser.parse_args(argv if argv is not None else [])
    if args.quick:
        args.scenario = "sparse"
    catalog = args.catalog or default_catalog()
    print(f"broker: {args.broker or 'embedded Tansu'}; one worker, store memory://")

    with tempfile.TemporaryDirectory(prefix="orbitlink-bench-") as tmp:
        work = Path(tmp)
        if args.scenario in ("sparse", "both"):
            summary = simulate_scenario(catalog, work / "scenario", seed=args.seed)
            frames = list(iter_frames_jsonl(work / "scenario" / "frames.jsonl"))
            sensors = read_sensors(work / "scenario" / "sensors.json")
            (work / "sparse").mkdir()
            _measure(
                f"sparse: the simulated scenario (seed {args.seed}, catalogue "
                f"{summary.catalogue_size} objects)",
                frames,
                sensors,
                work / "scenario" / "catalog",
                work / "sparse",
                args.broker,
            )
        if args.scenario in ("dense", "both"):
            (work / "dense").mkdir()
            settings_path = work / "dense" / "pipeline-settings.json"
            frames, sensors = _dense_scene(settings_path)
            _measure(
                "dense: 1,000 targets on one sensor, whole catalogue",
                frames,
                sensors,
                Path(catalog),
                work / "dense",
                args.broker,
                settings_path,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
