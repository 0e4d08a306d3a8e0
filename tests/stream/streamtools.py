"""Helpers shared by the stream tests (not fixtures: plain functions the tests call).

* :func:`small_scenario` simulates one small scenario from the real CelesTrak snapshot, once
  per test process, and returns its folder (frames.jsonl, sensors.json, catalog/, truth.json).
* :func:`read_topic` / :func:`wait_for_records` read a live topic from the beginning.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from orbitlink.stream.consume import ConsumedMessage, consume_topic
from orbitlink.stream.settings import StreamSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_SEED = 3
SCENARIO_DURATION_S = 90.0


@lru_cache(maxsize=1)
def small_scenario(catalog_dir: Path) -> Path:
    """A 90 s scenario (~150 frames, ~650 detections, several sensors) simulated from the
    real catalogue at ``catalog_dir`` (the ``catalog_dir`` fixture), once per process."""
    from orbitlink.tracking.simulate import ScenarioSettings, simulate_scenario

    out = Path(tempfile.mkdtemp(prefix="orbitlink-scenario-"))
    atexit.register(shutil.rmtree, out, True)
    simulate_scenario(
        catalog_dir,
        out,
        seed=SCENARIO_SEED,
        settings=ScenarioSettings(duration_s=SCENARIO_DURATION_S),
    )
    return out


def test_settings(broker_url: str, topic_prefix: str, **overrides: Any) -> StreamSettings:
    """Settings for a test: its own prefix, small partition counts, memory store."""
    values: dict[str, Any] = dict(
        broker=broker_url,
        topic_prefix=topic_prefix,
        frames_partitions=4,
        output_partitions=2,
        store="memory://",
        session_timeout_s=8.0,
        heartbeat_interval_s=1.0,
        commit_interval_s=0.5,
        metrics_interval_s=2.0,
    )
    values.update(overrides)
    return StreamSettings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def worker_args(settings: StreamSettings, *extra: str) -> list[str]:
    """CLI flags reproducing ``settings`` for ``spawn_worker`` (broker comes from the fixture)."""
    return [
        "--topic-prefix",
        settings.topic_prefix,
        "--frames-partitions",
        str(settings.frames_partitions),
        "--output-partitions",
        str(settings.output_partitions),
        "--store",
        settings.store,
        "--session-timeout-s",
        str(settings.session_timeout_s),
        "--commit-interval-s",
        str(settings.commit_interval_s),
        *extra,
    ]


def worker_env(settings: StreamSettings, data_dir: Path) -> dict[str, str]:
    return {
        "ORBITLINK_HEARTBEAT_INTERVAL_S": str(settings.heartbeat_interval_s),
        "ORBITLINK_METRICS_INTERVAL_S": str(settings.metrics_interval_s),
        "ORBITLINK_DATA_DIR": str(data_dir),
    }


def read_topic(bootstrap: str, topic: str, *, until_idle_s: float = 1.5) -> list[ConsumedMessage]:
    """Every message of ``topic`` from the beginning, stopping after ``until_idle_s`` idle."""
    messages: list[ConsumedMessage] = []
    asyncio.run(
        consume_topic(bootstrap, topic, until_idle_s=until_idle_s, on_message=messages.append)
    )
    return messages


def records(messages: list[ConsumedMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in messages if m.value is not None]


def wait_for_records(
    bootstrap: str,
    topic: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout_s: float = 90.0,
    describe: Callable[[], str] = lambda: "",
) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until ``done(records so far)``; AssertionError after
    ``timeout_s``. (Reads continuously: a topic still being written never goes idle.)"""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> list[dict[str, Any]] | None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + timeout_s
            while not consumer.partitions_for_topic(topic):
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                got += [json.loads(m.value) for ms in batches.values() for m in ms]
                if done(got):
                    return got
            return None if not done(got) else got
        finally:
            await consumer.stop()
            wait_for_records.last = got  # type: ignore[attr-defined]

    result = asyncio.run(run())
    if result is None:
        got = wait_for_records.last  # type: ignore[attr-defined]
        raise AssertionError(
            f"{topic}: condition not met after {timeout_s} s with {len(got)} records. {describe()}"
        )
    return result


def publish_raw(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes | None, bytes | None]],
    *,
    max_request_size: int = 16 * 1024 * 1024,
) -> None:
    """Publish ``(key, value)`` messages in order and wait for their acknowledgements
    (records up to ``max_request_size``, the service's default topic limit)."""
    from aiokafka import AIOKafkaProducer

    from orbitlink.stream.tansu import TANSU_SAFE_PRODUCER_CONFIG

    async def run() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            max_request_size=max_request_size,
            **TANSU_SAFE_PRODUCER_CONFIG,
        )
        await producer.start()
        try:
            futures = [await producer.send(topic, value, key=key) for key, value in messages]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(run())


def offline_records(
    scenario: Path, frames: list, out_dir: Path, *, catalog: Path | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``run_offline`` over ``frames``: ``{"tracks": [...], "associations": [...]}``, deduped
    and sorted like :func:`orbitlink.stream.consume.dedupe_records`."""
    from orbitlink.stream.consume import dedupe_records
    from orbitlink.tracking.catalogue import Catalogue
    from orbitlink.tracking.formats import read_sensors
    from orbitlink.tracking.offline import run_offline

    catalogue = Catalogue.from_path(catalog) if catalog is not None else None
    run_offline(frames, read_sensors(scenario / "sensors.json"), catalogue, out_dir, progress=False)
    return {
        name: dedupe_records(
            json.loads(line) for line in (out_dir / f"{name}.jsonl").read_text().splitlines()
        )
        for name in ("tracks", "associations")
    }


def same_record(a: dict, b: dict) -> bool:
    """Two uct-objects records (parsed) equal but for rounding: another process sums its floats
    in another order, as numpy may with other memory alignment, and an iterated orbit fit
    carries that to the ninth digit; a TLE field can then round the other way."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if key == "tle" and x is not None and y is not None:
            if not same_tle(x, y):
                return False
        elif key == "omm" and x is not None and y is not None:
            if x.keys() != y.keys() or not all(
                np.isclose(x[k], y[k], rtol=1e-6, atol=1e-9)
                if isinstance(x[k], float)
                else x[k] == y[k]
                for k in x
            ):
                return False
        elif isinstance(x, float) or (isinstance(x, list) and x and not isinstance(x[0], str)):
            if not np.allclose(np.array(x, dtype=float), np.array(y, dtype=float), rtol=1e-5):
                return False
        elif x != y:
            return False
    return True


def same_tle(a: list[str], b: list[str]) -> bool:
    from orbitlink.tracking.catalogue import element_set_from_tle

    one, two = element_set_from_tle("a", *a).satrec, element_set_from_tle("b", *b).satrec
    return a[0] == b[0] and all(
        np.isclose(getattr(one, f), getattr(two, f), rtol=1e-6, atol=2e-6)
        for f in ("no_kozai", "ecco", "inclo", "nodeo", "argpo", "mo")
    )
