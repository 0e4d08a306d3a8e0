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

Goals (brief D1): >= 20,000 detections/s sustained, p99 <= 250 ms at half that load. The
benchmark only measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

GOAL_DETECTIONS_S = 20_000.0
GOAL_P99_S = 0.250


def _run(stack_kwargs: dict, frames: list, sensors: dict, *, speed: float | None):
    from stream.demo import LocalStack, collect_outputs
    from stream.replay import publish_frames

    with LocalStack(**stack_kwargs, topic_prefix=f"bench{uuid.uuid4().hex[:8]}.") as stack:
        assert stack.settings is not None
        asyncio.run(publish_frames(stack.settings, frames, sensors, speed=speed,
                                   progress=False, create_topics=False))
        stack.wait_for_frames(len(frames), timeout_s=1800)
        return collect_outputs(stack.settings, until_idle_s=2.0)


def main(argv: list[str] | None = None) -> None:
    from stream.demo import default_catalog
    from tracking.catalog import Catalogue
    from tracking.formats import iter_frames_jsonl, read_sensors
    from tracking.pipeline import run_offline
    from tracking.simulate import simulate_scenario

    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", help="use this broker instead of an embedded Tansu")
    parser.add_argument("--catalog", type=Path, default=None,
                        help="TLE catalogue to simulate from (default: the shipped snapshot)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv if argv is not None else [])

    with tempfile.TemporaryDirectory(prefix="orbitlink-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        summary = simulate_scenario(args.catalog or default_catalog(), work / "scenario",
                                    seed=args.seed)
        scenario = work / "scenario"
        frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
        sensors = read_sensors(scenario / "sensors.json")
        n_detections = sum(len(f.detections) for f in frames)
        event_span_s = (frames[-1].time - frames[0].time).total_seconds() or 1.0
        print(f"scenario: {len(frames)} frames, {n_detections} detections over "
              f"{event_span_s:.0f} s of sky, {len(sensors)} sensors, catalogue "
              f"{summary.catalogue_size} objects (simulated in "
              f"{time.perf_counter() - started:.1f} s)")
        broker = args.broker or "embedded Tansu"
        print(f"broker: {broker}; one worker, store memory://")

        offline = run_offline(frames, sensors, Catalogue.from_path(scenario / "catalog"),
                              work / "offline", progress=False)
        print(f"pipeline alone (run_offline, in process): "
              f"{offline.detections_per_s:,.0f} detections/s")

        stack = dict(catalog=scenario / "catalog", sensors=scenario / "sensors.json",
                     broker_url=args.broker, work_dir=work / "stack-1")
        flat_out = _run(stack, frames, sensors, speed=None)
        throughput = flat_out.throughput_detections_s
        print(f"sustained (all frames at once): {throughput:,.0f} detections/s "
              f"(goal {GOAL_DETECTIONS_S:,.0f}); {flat_out.duplicates} duplicates")

        load = 0.5 * throughput
        speed = load / (n_detections / event_span_s)
        stack["work_dir"] = work / "stack-2"
        paced = _run(stack, frames, sensors, speed=speed)
        print(f"latency at 50 % load ({load:,.0f} detections/s, replay speed {speed:.1f}x), "
              f"frame publish -> association publish over {len(paced.latencies_s)} records: "
              f"p50 {paced.latency_percentile_s(50) * 1e3:.0f} ms, "
              f"p99 {paced.latency_percentile_s(99) * 1e3:.0f} ms "
              f"(goal {GOAL_P99_S * 1e3:.0f} ms), "
              f"max {paced.latency_percentile_s(100) * 1e3:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
