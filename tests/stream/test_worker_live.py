"""Worker processes on a live broker: dead letters, crash recovery, two workers sharing work.

Each test starts ``orbitlink worker`` subprocesses (``spawn_worker``, killed at
teardown) on the session broker with its own topic prefix, publishes a simulated scenario
from the real catalogue, reads the output topics back, and compares them with the same
frames run offline in this process: the pipeline is deterministic, so after deduplication the
live records must equal the offline records exactly. That equality is what shows no frame was
lost and every track continued with the same id and counts.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from streamtools import (
    offline_records,
    publish_raw,
    read_topic,
    records,
    small_scenario,
    test_settings,
    wait_for_records,
    worker_args,
    worker_env,
)

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.codecs import encode_record
from orbitlink.stream.consume import dedupe_records
from orbitlink.stream.replay import publish_frames
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path) -> Path:
    return small_scenario(catalog_dir)


def _key(record: dict) -> tuple:
    return record["track_id"], record["time"], record["frame_id"]


def _wait_for_outputs(
    bootstrap: str, settings, expected: dict, worker, *, timeout_s: float
) -> tuple[list[dict], list[dict]]:
    """Read the track and association topics until they hold (after dedupe) as many records
    as the offline run made; the worker's log tail explains a time-out."""
    outputs = []
    for role, wait_s in (("tracks", timeout_s), ("associations", 60.0)):
        outputs.append(
            wait_for_records(
                bootstrap,
                settings.topic(role),
                lambda got, role=role: len(dedupe_records(got)) >= len(expected[role]),
                timeout_s=wait_s,
                describe=worker.log_tail,
            )
        )
    return outputs[0], outputs[1]


def _assert_duplicates_identical(raw: list[dict]) -> int:
    """Every repeated record (same track, time, frame) is identical; returns how many repeats."""
    copies: dict[tuple, list[dict]] = defaultdict(list)
    for record in raw:
        copies[_key(record)].append(record)
    for key, group in copies.items():
        assert all(r == group[0] for r in group), f"copies of {key} differ"
    return len(raw) - len(copies)


def test_dead_letters_then_good_frames(
    bootstrap, broker_url, topic_prefix, spawn_worker, scenario, tmp_path
):
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    worker = spawn_worker(
        *worker_args(settings, "--sensors", str(scenario / "sensors.json")),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)

    frames = [f for f in iter_frames_jsonl(scenario / "frames.jsonl") if f.sensor_id == "ctio-geo"]
    sensor_key = b"ctio-geo"
    first = json.loads(encode_record(frames[0]))
    no_frame_id = {k: v for k, v in first.items() if k != "frame_id"}
    impossible = dict(
        first, frame_id="impossible", detections=[dict(first["detections"][0], dec_deg=123.0)]
    )
    unknown = dict(first, frame_id="unknown", sensor_id="no-such-sensor")
    bad = [
        (sensor_key, b"\x89PNG\r\n\x1a\n not a frame"),
        (sensor_key, json.dumps(no_frame_id).encode()),
        (sensor_key, json.dumps(impossible).encode()),
        (b"no-such-sensor", json.dumps(unknown).encode()),
    ]
    good = [(f.sensor_id.encode(), encode_record(f)) for f in frames]
    publish_raw(bootstrap, settings.topic("frames"), bad + good)

    expected = offline_records(scenario, frames, tmp_path / "offline")
    tracks = wait_for_records(
        bootstrap,
        settings.topic("tracks"),
        lambda got: len(dedupe_records(got)) >= len(expected["tracks"]),
        timeout_s=120,
        describe=worker.log_tail,
    )
    assert dedupe_records(tracks) == expected["tracks"]

    letters = records(read_topic(bootstrap, settings.topic("deadletter")))
    assert len(letters) == 4, letters
    by_reason = sorted(letters, key=lambda d: d["offset"] if d["key"] == "ctio-geo" else 99)
    png, missing, dec, sensor = by_reason
    assert png["reason"].startswith("not JSON: not valid UTF-8")
    assert "value_base64" in png and png["topic"] == settings.topic("frames")
    assert missing["reason"].startswith("schema violation") and "frame_id" in missing["reason"]
    assert json.loads(missing["value_text"]) == no_frame_id
    assert dec["reason"].startswith("impossible value") and "dec_deg" in dec["reason"]
    assert "unknown sensor 'no-such-sensor'" in sensor["reason"]
    assert {d["partition"] for d in letters} <= set(range(settings.frames_partitions))
    assert worker.alive()


def test_crash_and_restart_loses_nothing(
    bootstrap, broker_url, topic_prefix, spawn_worker, scenario, tmp_path
):
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    args = worker_args(
        settings,
        "--sensors",
        str(scenario / "sensors.json"),
        "--catalog",
        str(scenario / "catalog"),
    )
    env = worker_env(settings, tmp_path / "data")
    first = spawn_worker(*args, name="worker-1", env=env)
    first.wait_for_log("worker ready", timeout_s=120)

    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    expected = offline_records(scenario, frames, tmp_path / "offline", catalog=scenario / "catalog")
    # Frames at three times their event-time pace (90 s of sky in ~30 s), in the background,
    # so the worker is killed mid-stream and frames keep arriving while it is down.
    publisher = threading.Thread(
        target=asyncio.run,
        args=(
            publish_frames(
                settings,
                frames,
                read_sensors(scenario / "sensors.json"),
                speed=3.0,
                progress=False,
                create_topics=False,
            ),
        ),
    )
    publisher.start()
    wait_for_records(
        bootstrap,
        settings.topic("tracks"),
        lambda got: len(got) >= len(expected["tracks"]) // 4,
        timeout_s=120,
        describe=first.log_tail,
    )
    first.kill()
    before = len(read_topic(bootstrap, settings.topic("tracks")))
    assert before < len(expected["tracks"]), "worker finished before it could be killed"

    second = spawn_worker(*args, name="worker-2", env=env)
    publisher.join()
    second.wait_for_log("worker ready", timeout_s=120)
    tracks, associations = _wait_for_outputs(bootstrap, settings, expected, second, timeout_s=240)

    # Nothing lost, every track continued with the same id and counts ...
    assert dedupe_records(tracks) == expected["tracks"]
    assert dedupe_records(associations) == expected["associations"]
    # ... and a frame processed twice gave identical records.
    _assert_duplicates_identical(tracks)
    _assert_duplicates_identical(associations)
    assert second.alive()


def _wait_for_count(worker, pattern: str, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(re.findall(pattern, worker.log_text())) < count:
        assert time.monotonic() < deadline, (
            f"{worker.name}: {pattern!r} not seen {count} times:\n{worker.log_tail()}"
        )
        time.sleep(0.2)


def _partition_of(key: bytes, partitions: int) -> int:
    from aiokafka.partitioner import DefaultPartitioner

    return DefaultPartitioner()(key, list(range(partitions)), list(range(partitions)))


def test_two_workers_then_one_takes_over(
    bootstrap, broker_url, topic_prefix, spawn_worker, scenario, tmp_path
):
    settings = test_settings(broker_url, topic_prefix)
    sensors = read_sensors(scenario / "sensors.json")
    used = {_partition_of(s.encode(), settings.frames_partitions) for s in sensors}
    assert len(used) >= 2, "the scenario's sensors all hash to one partition"
    ensure_topics(settings)
    args = worker_args(
        settings,
        "--sensors",
        str(scenario / "sensors.json"),
        "--catalog",
        str(scenario / "catalog"),
    )
    one = spawn_worker(*args, name="worker-1", env=worker_env(settings, tmp_path / "d1"))
    one.wait_for_log("worker ready", timeout_s=120)
    two = spawn_worker(*args, name="worker-2", env=worker_env(settings, tmp_path / "d2"))
    two.wait_for_log("worker ready", timeout_s=120)
    # Both in the group: each holds some of the frames partitions.
    two.wait_for_log(r"partitions assigned: \[\d", timeout_s=60)
    _wait_for_count(one, r"partitions assigned: \[\d", 2)  # and rebalanced once more

    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    half = len(frames) // 2
    first_half = offline_records(
        scenario, frames[:half], tmp_path / "offline-1", catalog=scenario / "catalog"
    )
    asyncio.run(
        publish_frames(settings, frames[:half], sensors, progress=False, create_topics=False)
    )
    wait_for_records(
        bootstrap,
        settings.topic("tracks"),
        lambda got: len(dedupe_records(got)) >= len(first_half["tracks"]),
        timeout_s=180,
        describe=lambda: one.log_tail() + two.log_tail(),
    )
    one.wait_for_log(r"processed=[1-9]", timeout_s=30)
    two.wait_for_log(r"processed=[1-9]", timeout_s=30)

    one.terminate()  # a clean stop: its partitions go to the other worker
    two.wait_for_log(r"partitions assigned: \[0, 1, 2, 3\]", timeout_s=60)
    asyncio.run(publish_frames(settings, frames[half:], {}, progress=False, create_topics=False))

    expected = offline_records(scenario, frames, tmp_path / "offline", catalog=scenario / "catalog")
    tracks, associations = _wait_for_outputs(bootstrap, settings, expected, two, timeout_s=180)
    # The surviving worker continued the other's tracks from the state table: same ids,
    # same update counts, same verdicts as one process running everything.
    assert dedupe_records(tracks) == expected["tracks"]
    assert dedupe_records(associations) == expected["associations"]
    _assert_duplicates_identical(tracks)


def test_worker_comes_back_by_itself_after_the_broker_restarts_empty(
    embedded_broker, spawn, topic_prefix, scenario, tmp_path
):
    """The embedded broker goes away for 20 s and comes back empty (memory storage). The
    worker (rocksdb store, as by default) waits the outage out, finds that the broker lost the
    states it wrote, says so, starts afresh by itself (same pid) from what the broker has, and
    tracks the frames published afterwards exactly like a fresh offline run of them. Then it
    stops on one SIGTERM, within seconds."""
    import signal
    import sys

    settings = test_settings(embedded_broker.url, topic_prefix, store="rocksdb://")
    ensure_topics(settings)
    worker = spawn(
        [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "worker",
            "--broker",
            embedded_broker.url,
            *worker_args(settings, "--sensors", str(scenario / "sensors.json")),
        ],
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    half = len(frames) // 2
    asyncio.run(publish_frames(settings, frames[:half], {}, progress=False, create_topics=False))
    worker.wait_for_log(rf"frames={half} processed={half}", timeout_s=120)

    embedded_broker.stop()
    time.sleep(20)
    assert worker.alive(), worker.log_tail()
    assert worker.log_text().count("Unable connect to node") <= 3, "connection errors flood"
    embedded_broker.start()
    worker.wait_for_log("the broker has lost its data", timeout_s=60)
    worker.wait_for_log(r"worker ready(.|\n)*worker ready", timeout_s=120)
    # Published as a user would after restarting the broker: replay creates the topics.
    sensors = read_sensors(scenario / "sensors.json")
    asyncio.run(publish_frames(settings, frames[half:], sensors, progress=False))
    expected = offline_records(scenario, frames[half:], tmp_path / "offline")
    tracks = wait_for_records(
        embedded_broker.bootstrap,
        settings.topic("tracks"),
        lambda got: len(dedupe_records(got)) >= len(expected["tracks"]),
        timeout_s=180,
        describe=worker.log_tail,
    )
    assert dedupe_records(tracks) == expected["tracks"]
    assert worker.alive()

    embedded_broker.stop()  # and SIGTERM with the broker gone: out within seconds
    time.sleep(3)
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    worker.wait(timeout_s=20)
    assert time.monotonic() - started < 15


def test_a_store_ahead_of_the_changelog_is_rebuilt_at_start(
    embedded_broker, spawn, topic_prefix, scenario, tmp_path
):
    """A worker restarted with its data folder after the broker lost its data found its local
    store ahead of the changelog and died of ConsistencyError on every start. Now it says so
    in one line, rebuilds the store from the changelog and takes frames."""
    import sys

    settings = test_settings(embedded_broker.url, topic_prefix, store="rocksdb://")
    command = [sys.executable, "-m", "orbitlink.stream.cli", "worker", "--broker"]
    command += [
        embedded_broker.url,
        *worker_args(settings, "--sensors", str(scenario / "sensors.json")),
    ]
    env = worker_env(settings, tmp_path / "data")
    ensure_topics(settings)
    first = spawn(command, name="worker-1", env=env)
    first.wait_for_log("worker ready", timeout_s=120)
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    asyncio.run(publish_frames(settings, frames[:40], {}, progress=False, create_topics=False))
    first.wait_for_log("frames=40 processed=40", timeout_s=120)
    first.terminate()

    embedded_broker.stop()
    embedded_broker.start()  # empty: the store in tmp_path/data is now ahead of everything
    second = spawn(command, name="worker-2", env=env)
    second.wait_for_log("worker ready", timeout_s=120)
    assert second.log_text().count("local store ahead of the changelog") == 1
    assert "ConsistencyError" not in second.log_text()
    asyncio.run(
        publish_frames(
            settings, frames[40:60], read_sensors(scenario / "sensors.json"), progress=False
        )
    )
    second.wait_for_log("frames=20 processed=20", timeout_s=120)
