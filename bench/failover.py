"""Cold start and restart after a crash, at the worker's default settings.

``python -m bench.failover`` (embedded Tansu) or ``--broker kafka://host:port`` (Apache Kafka):
frames of the simulated scenario are published at a steady pace (``--frames-per-s``, 4 by
default) for the whole run, and one worker (the only one: :class:`LocalStack`, default session
timeout and heartbeat) is

1. **started cold** (a new consumer group): ``cold start`` is the time from launching its
   process to the broker timestamp of its first output record;
2. **killed** (SIGKILL) and started again at once: ``output resumes after`` is the time from the
   kill to the first output record the new process writes (any record, redelivered frames'
   included).

Both also show when the worker logged "worker ready" (inputs read, group joined, table
recovered). Measures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.goals import against

GOAL_RESUME_S = 10.0
GOAL_COLD_START_S = 5.0


def _publish_forever(settings, frames: list, per_s: float, stop: threading.Event) -> None:
    """Publish ``frames`` in order, ``per_s`` a second, until ``stop`` (or the frames end)."""
    from aiokafka import AIOKafkaProducer

    from orbitlink.stream.codecs import encode_record

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=0)
        await producer.start()
        try:
            started = time.monotonic()
            for i, frame in enumerate(frames):
                if stop.is_set():
                    return
                delay = started + i / per_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await producer.send_and_wait(
                    settings.topic("frames"),
                    encode_record(frame),
                    key=frame.sensor_id.encode(),
                )
        finally:
            await producer.stop()

    asyncio.run(run())


def _first_output_after(settings, after_s: float, timeout_s: float = 300.0) -> float:
    """Broker timestamp (Unix s) of the first track record stamped after ``after_s``."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> float:
        consumer = AIOKafkaConsumer(
            settings.topic("tracks"),
            bootstrap_servers=settings.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                stamps = [
                    m.timestamp / 1000.0
                    for messages in batches.values()
                    for m in messages
                    if m.timestamp / 1000.0 > after_s
                ]
                if stamps:
                    return min(stamps)
            raise TimeoutError(f"no output record after {after_s} within {timeout_s} s")
        finally:
            await consumer.stop()

    return asyncio.run(run())


def _ready_after(stack, n_ready: int, since_s: float) -> float:
    """Seconds from ``since_s`` until the worker log holds ``n_ready`` "worker ready" lines."""
    while stack.worker_log.read_text("utf-8", "replace").count("worker ready") < n_ready:
        time.sleep(0.05)
    return time.time() - since_s


def _timing(settings) -> str:
    if settings.session_timeout_s is None:
        kafka, tansu = settings.group_timing("kafka"), settings.group_timing("tansu")
        return (
            f"{kafka[0]:g} s / {kafka[1]:g} s on Apache Kafka, "
            f"{tansu[0]:g} s / {tansu[1]:g} s on Tansu"
        )
    session_s, heartbeat_s = settings.group_timing()
    return f"{session_s:g} s / {heartbeat_s:g} s"


def run(broker_url: str | None, per_s: float, seed: int) -> None:
    from orbitlink.stream.demo import LocalStack, default_catalog
    from orbitlink.stream.settings import StreamSettings
    from orbitlink.tracking.formats import iter_frames_jsonl
    from orbitlink.tracking.simulate import simulate_scenario

    print(
        f"broker: {broker_url or 'embedded Tansu'}; one worker at default settings "
        f"(session timeout and heartbeat: {_timing(StreamSettings())}); frames published "
        f"{per_s:g} a second"
    )
    with tempfile.TemporaryDirectory(prefix="orbitlink-bench-") as tmp:
        work = Path(tmp)
        simulate_scenario(default_catalog(), work / "scenario", seed=seed)
        frames = list(iter_frames_jsonl(work / "scenario" / "frames.jsonl"))
        stack = LocalStack(
            catalog=work / "scenario" / "catalog",
            sensors=work / "scenario" / "sensors.json",
            broker_url=broker_url,
            work_dir=work / "stack",
            topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
            session_timeout_s=None,
            with_worker=False,
        )
        stop = threading.Event()
        with stack:  # the broker and the topics; the consumer group is new
            assert stack.settings is not None
            publisher = threading.Thread(
                target=_publish_forever, args=(stack.settings, frames, per_s, stop), daemon=True
            )
            publisher.start()
            time.sleep(2.0)  # frames are waiting when the worker starts

            launched = time.time()
            stack.start_worker(wait_ready=False)
            ready = _ready_after(stack, 1, launched)
            cold = _first_output_after(stack.settings, launched) - launched
            goal = against("stream cold start", cold, GOAL_COLD_START_S, "s", at_most=True)
            print(
                f"  cold start: first output record {cold:.1f} s after launch ({goal}); "
                f'"worker ready" after {ready:.1f} s'
            )

            time.sleep(3.0)  # running steadily
            killed = time.time()
            stack.kill_worker()
            stack.start_worker(wait_ready=False)
            ready = _ready_after(stack, 2, killed)
            resumed = _first_output_after(stack.settings, killed) - killed
            goal = against(
                "stream output resumes after SIGKILL + restart",
                resumed,
                GOAL_RESUME_S,
                "s",
                at_most=True,
            )
            print(
                f"  SIGKILL + restart of the only worker: output resumes {resumed:.1f} s after "
                f'the kill ({goal}); "worker ready" after {ready:.1f} s'
            )
            stop.set()
            publisher.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.failover",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--broker", help="use this broker instead of an embedded Tansu")
    parser.add_argument("--frames-per-s", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="the same (it is short already)")
    args = parser.parse_args(argv if argv is not None else [])
    run(args.broker, args.frames_per_s, args.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
