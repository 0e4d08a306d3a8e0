"""Throughput against the number of workers, and records that survive rebalances.

``python -m bench.workers --broker kafka://host:port`` (Apache Kafka; without ``--broker`` an
embedded Tansu): 100 sensors of sparse frames (``bench.sensors``' copies of the simulated
scenario's 4) on the default 4 frames partitions, then

* with **1, 2 and 4 workers** (started, and their group settled, before any frame): every frame
  published at once; frames/s and detections/s from the first frame's publish to the last
  output record's;
* **rebalances under load**: frames paced over ``--seconds``, one worker at the start, a second
  and a third joining a third and two thirds of the way through (each join moves partitions
  and their sensors' states);

and for each run whether the deduplicated track updates and associations equal the offline
replay's, record for record (per-sensor order and state held). On this 2-core machine, more
workers than cores only share the same CPU. Measures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def _frames_seen(log: Path) -> int:
    found = re.findall(r"metrics(?: \(final\))?: frames=(\d+)", log.read_text("utf-8", "replace"))
    return int(found[-1]) if found else 0


def _assigned(log: Path) -> list[int]:
    found = re.findall(r"partitions assigned: \[([\d, ]*)\]", log.read_text("utf-8", "replace"))
    return [int(p) for p in found[-1].split(",") if p.strip()] if found else []


class Workers:
    """Extra workers of a :class:`LocalStack` (``stack.with_worker`` False), each with its own
    data dir and log."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def add(self) -> None:
        n = len(self.processes)
        log_path = self.stack.work_dir / f"worker-{n}.log"
        with open(log_path, "wb") as log:
            self.processes.append(
                subprocess.Popen(
                    self.stack.worker_command(self.stack.work_dir / f"data-{n}"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.stack.worker_environment(),
                    start_new_session=True,
                )
            )
        self.logs.append(log_path)

    def wait_settled(self, partitions: int, timeout_s: float = 180.0) -> None:
        """Until every worker is ready and their latest assignments cover every partition
        once."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready = all("worker ready" in log.read_text("utf-8", "replace") for log in self.logs)
            held = sorted(p for log in self.logs for p in _assigned(log))
            if ready and held == list(range(partitions)):
                return
            time.sleep(0.2)
        raise TimeoutError("the workers did not settle")

    def wait_frames(self, n_frames: int, timeout_s: float = 900.0) -> None:
        deadline = time.monotonic() + timeout_s
        # Frames a worker processed before it lost their partition are counted twice: wait
        # for the count, then for the output to go idle (collect_outputs).
        while sum(_frames_seen(log) for log in self.logs) < n_frames:
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not take every frame")
            time.sleep(0.5)

    def stop(self) -> None:
        import os
        import signal

        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _offline(frames: list, sensors: dict, catalog: Path, out: Path) -> dict[str, list]:
    from orbitlink.stream.consume import dedupe_records
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.offline import run_offline

    run_offline(frames, sensors, Catalogue.from_path(catalog), out, progress=False)
    return {
        name: dedupe_records(
            json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()
        )
        for name in ("tracks", "associations")
    }


def _one_run(
    label: str,
    work: Path,
    broker_url: str | None,
    scenario: Path,
    sensors_path: Path,
    frames: list,
    sensors: dict,
    expected: dict[str, list],
    *,
    n_workers: int,
    speed: float | None,
    joins_s: tuple[float, ...] = (),
) -> None:
    from orbitlink.stream.demo import LocalStack, collect_outputs
    from orbitlink.stream.replay import publish_frames

    stack = LocalStack(
        catalog=scenario / "catalog",
        sensors=sensors_path,
        broker_url=broker_url,
        work_dir=work,
        topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
        session_timeout_s=None,
        with_worker=False,
    )
    with stack:
        assert stack.settings is not None
        workers = Workers(stack)
        try:
            for _ in range(n_workers):
                workers.add()
            workers.wait_settled(stack.settings.frames_partitions)

            async def publish_and_join() -> None:
                started = time.monotonic()
                publishing = asyncio.create_task(
                    publish_frames(
                        stack.settings,
                        frames,
                        sensors,
                        speed=speed,
                        progress=False,
                        create_topics=False,
                    )
                )
                for at_s in joins_s:
                    await asyncio.sleep(max(started + at_s - time.monotonic(), 0.0))
                    workers.add()
                await publishing

            asyncio.run(publish_and_join())
            workers.wait_frames(len(frames))
            report = collect_outputs(stack.settings, until_idle_s=3.0)
        finally:
            workers.stop()
    equal = report.tracks == expected["tracks"] and report.associations == expected["associations"]
    wall_s = max(report.last_output_s - report.first_frame_s, 1e-9)
    rate = (
        f"{len(frames) / wall_s:,.0f} frames/s, {report.throughput_detections_s:,.0f} "
        f"detections/s; "
        if speed is None
        else ""
    )
    print(
        f"  {label}: {rate}{len(report.tracks)} track updates, {len(report.associations)} "
        f"associations ({report.duplicates} duplicates dropped); "
        f"{'equal to' if equal else 'DIFFERENT from'} the offline replay"
    )


def run(broker_url: str | None, seconds: float, seed: int, counts: tuple[int, ...]) -> None:
    from bench.sensors import COPIES, _many_sensors
    from orbitlink.stream.demo import default_catalog
    from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors, write_sensors
    from orbitlink.tracking.simulate import simulate_scenario

    print(f"broker: {broker_url or 'embedded Tansu'}; workers at default settings")
    with tempfile.TemporaryDirectory(prefix="orbitlink-bench-") as tmp:
        work = Path(tmp)
        scenario = work / "scenario"
        simulate_scenario(default_catalog(), scenario, seed=seed)
        frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
        sensors = read_sensors(scenario / "sensors.json")
        per_sensor_s = (frames[-1].time - frames[0].time).total_seconds() / (
            len(frames) / len(sensors)
        )
        span_s = seconds * per_sensor_s
        frames = [f for f in frames if (f.time - frames[0].time).total_seconds() <= span_s]
        frames, sensors = _many_sensors(frames, sensors, COPIES)
        sensors_path = work / "sensors.json"
        write_sensors(list(sensors.values()), sensors_path)
        print(
            f"{len(sensors)} sensors, {len(frames)} frames "
            f"({sum(len(f.detections) for f in frames) / len(frames):.1f} detections each), "
            f"4 frames partitions"
        )
        expected = _offline(frames, sensors, scenario / "catalog", work / "offline")
        common = (broker_url, scenario, sensors_path, frames, sensors, expected)
        for n in counts:
            _one_run(
                f"{n} worker(s), all frames at once",
                work / f"run-{n}",
                *common,
                n_workers=n,
                speed=None,
            )
        _one_run(
            f"rebalances: 1 worker, a 2nd at {seconds / 3:.0f} s, a 3rd at "
            f"{2 * seconds / 3:.0f} s of {seconds:g} s of paced frames",
            work / "run-rebalance",
            *common,
            n_workers=1,
            speed=per_sensor_s,
            joins_s=(seconds / 3, 2 * seconds / 3),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.workers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--broker", help="use this broker instead of an embedded Tansu")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="frames a sensor (paced: one a second)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 and 2 workers, 10 s")
    args = parser.parse_args(argv if argv is not None else [])
    counts = (1, 2) if args.quick else (1, 2, 4)
    run(args.broker, 10.0 if args.quick else args.seconds, args.seed, counts)


if __name__ == "__main__":
    main(sys.argv[1:])
