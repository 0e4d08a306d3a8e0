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
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from stream.consume import ConsumedMessage, consume_topic
from stream.settings import StreamSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_SEED = 3
SCENARIO_DURATION_S = 90.0


@lru_cache(maxsize=1)
def small_scenario(catalog_dir: Path) -> Path:
    """A 90 s scenario (~150 frames, ~650 detections, several sensors) simulated from the
    real catalogue at ``catalog_dir`` (the ``catalog_dir`` fixture), once per process."""
    from tracking.simulate import ScenarioSettings, simulate_scenario

    out = Path(tempfile.mkdtemp(prefix="orbitlink-scenario-"))
    atexit.register(shutil.rmtree, out, True)
    simulate_scenario(catalog_dir, out, seed=SCENARIO_SEED,
                      settings=ScenarioSettings(duration_s=SCENARIO_DURATION_S))
    return out


def test_settings(broker_url: str, topic_prefix: str, **overrides: Any) -> StreamSettings:
    """Settings for a test: its own prefix, small partition counts, memory store."""
    values: dict[str, Any] = dict(broker=broker_url, topic_prefix=topic_prefix,
                                  frames_partitions=4, output_partitions=2, store="memory://",
                                  session_timeout_s=8.0, heartbeat_interval_s=1.0,
                                  commit_interval_s=0.5, metrics_interval_s=2.0)
    values.update(overrides)
    return StreamSettings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def worker_args(settings: StreamSettings, *extra: str) -> list[str]:
    """CLI flags reproducing ``settings`` for ``spawn_worker`` (broker comes from the fixture)."""
    return ["--topic-prefix", settings.topic_prefix,
            "--frames-partitions", str(settings.frames_partitions),
            "--output-partitions", str(settings.output_partitions),
            "--store", settings.store,
            "--session-timeout-s", str(settings.session_timeout_s),
            "--commit-interval-s", str(settings.commit_interval_s), *extra]


def worker_env(settings: StreamSettings, data_dir: Path) -> dict[str, str]:
    return {"ORBITLINK_HEARTBEAT_INTERVAL_S": str(settings.heartbeat_interval_s),
            "ORBITLINK_METRICS_INTERVAL_S": str(settings.metrics_interval_s),
            "ORBITLINK_DATA_DIR": str(data_dir)}


def read_topic(bootstrap: str, topic: str, *, until_idle_s: float = 1.5
               ) -> list[ConsumedMessage]:
    """Every message of ``topic`` from the beginning, stopping after ``until_idle_s`` idle."""
    messages: list[ConsumedMessage] = []
    asyncio.run(consume_topic(bootstrap, topic, until_idle_s=until_idle_s,
                              on_message=messages.append))
    return messages


def records(messages: list[ConsumedMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in messages if m.value is not None]


def wait_for_records(bootstrap: str, topic: str,
                     done: Callable[[list[dict[str, Any]]], bool], *, timeout_s: float = 90.0,
                     describe: Callable[[], str] = lambda: "") -> list[dict[str, Any]]:
    """Re-read ``topic`` until ``done(records)``; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = records(read_topic(bootstrap, topic, until_idle_s=1.0))
        if done(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic}: condition not met after {timeout_s} s with "
                                 f"{len(got)} records. {describe()}")
        time.sleep(1.0)
