"""Many sensors on one worker: 100 sensors, one sparse frame a second each.

``python -m bench.sensors`` (embedded Tansu) or ``--broker kafka://host:port``: the simulated
scenario's 4 sensors, each copied 25 times (same site and pointing, its own sensor id, frame ids
and detection ids), so 100 sensors with a few detections a frame. Through one worker:

* **sustained**: every frame published at once; frames/s and detections/s from the first
  frame's publish to the last output record's;
* **at 1 frame/s per sensor** (100 frames/s): the frames paced so, for ``--seconds`` of wall
  time; frame publish -> association publish p50 / p99, and where a frame's time goes.

A worker that sustains fewer than 100 frames/s falls behind at that pace, and its latency then
grows with the run: the sustained rate says which case it is. Measures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

COPIES = 25  # of each of the scenario's 4 sensors: 100 sensors


def _many_sensors(frames: list, sensors: dict, copies: int) -> tuple[list, dict]:
    """Every sensor and frame copied ``copies`` times under new ids, frames in time order."""
    many_sensors = {}
    many_frames = []
    for k in range(copies):
        for sensor in sensors.values():
            sensor_id = f"{sensor.sensor_id}-{k:02d}"
            many_sensors[sensor_id] = sensor.model_copy(update={"sensor_id": sensor_id})
        for frame in frames:
            frame_id = f"{frame.frame_id}-{k:02d}"
            detections = [
                d.model_copy(update={"det_id": f"{frame_id}:{i}"})
                for i, d in enumerate(frame.detections)
            ]
            many_frames.append(
                frame.model_copy(
                    update={
                        "sensor_id": f"{frame.sensor_id}-{k:02d}",
                        "frame_id": frame_id,
                        "detections": detections,
                    }
                )
            )
    many_frames.sort(key=lambda f: (f.time, f.sensor_id))
    return many_frames, many_sensors


def run(broker_url: str | None, seconds: float, seed: int) -> None:
    import numpy as np

    from bench.stream import _print_stages, _run
    from orbitlink.stream.demo import default_catalog
    from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors, write_sensors
    from orbitlink.tracking.simulate import simulate_scenario

    print(f"broker: {broker_url or 'embedded Tansu'}; one worker, store memory://")
    with tempfile.TemporaryDirectory(prefix="orbitlink-bench-") as tmp:
        work = Path(tmp)
        simulate_scenario(default_catalog(), work / "scenario", seed=seed)
        frames = list(iter_frames_jsonl(work / "scenario" / "frames.jsonl"))
        sensors = read_sensors(work / "scenario" / "sensors.json")
        per_sensor_s = (frames[-1].time - frames[0].time).total_seconds() / (
            len(frames) / len(sensors)
        )
        # The sky time that `seconds` of wall time covers at one frame a second per sensor.
        speed = per_sensor_s
        span_s = seconds * speed
        first = frames[0].time
        frames = [f for f in frames if (f.time - first).total_seconds() <= span_s]
        frames, sensors = _many_sensors(frames, sensors, COPIES)
        n_detections = sum(len(f.detections) for f in frames)
        print(
            f"{len(sensors)} sensors, {len(frames)} frames, "
            f"{n_detections / len(frames):.1f} detections a frame, one frame every "
            f"{per_sensor_s:.1f} s of sky per sensor"
        )
        sensors_path = work / "sensors.json"
        write_sensors(list(sensors.values()), sensors_path)
        stack = dict(
            catalog=work / "scenario" / "catalog",
            sensors=sensors_path,
            pipeline_settings=None,
            broker_url=broker_url,
            work_dir=work / "stack-1",
        )
        flat, _ = _run(stack, frames, sensors, speed=None)
        wall_s = max(flat.last_output_s - flat.first_frame_s, 1e-9)
        print(
            f"  sustained (all frames at once): {len(frames) / wall_s:,.0f} frames/s, "
            f"{flat.throughput_detections_s:,.0f} detections/s"
        )
        stack["work_dir"] = work / "stack-2"
        paced, stages = _run(stack, frames, sensors, speed=speed)
        p50, p99 = (np.percentile(paced.latencies_s, [50, 99]) * 1e3).tolist()
        print(
            f"  at 1 frame/s per sensor ({len(sensors)} frames/s) for {seconds:g} s: frame "
            f"publish -> association publish over {len(paced.latencies_s)} records: "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        )
        print(f"  where a frame's time goes, over {len(stages)} frames:")
        _print_stages(stages)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sensors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--broker", help="use this broker instead of an embedded Tansu")
    parser.add_argument("--seconds", type=float, default=30.0, help="wall time of the paced run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 s instead of 30")
    args = parser.parse_args(argv if argv is not None else [])
    run(args.broker, 10.0 if args.quick else args.seconds, args.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
