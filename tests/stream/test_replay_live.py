"""The command line end to end on a live broker: replay, consume, live catalogue updates.

The worker, replay, publish-catalog and consume all run as ``orbitlink``
subprocesses, as a user would run them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamtools import (
    REPO_ROOT,
    small_scenario,
    test_settings,
    wait_for_records,
    worker_args,
    worker_env,
)

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.consume import dedupe_records
from orbitlink.stream.replay import publish_frames
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.pipeline import Pipeline

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path) -> Path:
    return small_scenario(catalog_dir)


def cli(*args: str, timeout_s: float = 180.0) -> str:
    """Run ``python -m orbitlink.stream.cli ARGS`` to completion; its stdout (fails on a
    non-zero exit)."""
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-m", "orbitlink.stream.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, f"orbitlink {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_replay_on_the_broker_equals_offline(
    bootstrap, broker_url, topic_prefix, spawn_worker, scenario, tmp_path
):
    settings = test_settings(broker_url, topic_prefix)
    topic_flags = [
        "--broker",
        broker_url,
        "--topic-prefix",
        topic_prefix,
        "--frames-partitions",
        str(settings.frames_partitions),
        "--output-partitions",
        str(settings.output_partitions),
    ]
    # The worker knows no sensor at start: replay publishes them to the sensors topic first.
    worker = spawn_worker(
        *worker_args(settings, "--catalog", str(scenario / "catalog")),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    cli("topics", *topic_flags)
    worker.wait_for_log("worker ready", timeout_s=120)

    out = cli(
        "replay",
        str(scenario / "frames.jsonl"),
        "--sensors",
        str(scenario / "sensors.json"),
        "--no-progress",
        *topic_flags,
    )
    n_sensors = len(read_sensors(scenario / "sensors.json"))
    assert (
        f"published {n_sensors} sensors, {sum(1 for _ in open(scenario / 'frames.jsonl'))} "
        f"frames" in out
    )
    cli(
        "replay",
        str(scenario / "frames.jsonl"),
        "--offline",
        "--sensors",
        str(scenario / "sensors.json"),
        "--catalog",
        str(scenario / "catalog"),
        "--out",
        str(tmp_path / "offline"),
        "--no-progress",
    )
    offline = dedupe_records(_jsonl(tmp_path / "offline" / "associations.jsonl"))
    assert offline, "the scenario gives no association"

    wait_for_records(
        bootstrap,
        settings.topic("associations"),
        lambda got: len(dedupe_records(got)) >= len(offline),
        timeout_s=240,
        describe=worker.log_tail,
    )
    cli(
        "consume",
        "associations",
        "--until-idle",
        "2",
        "--out",
        str(tmp_path / "associations.jsonl"),
        *topic_flags,
    )
    live = dedupe_records(_jsonl(tmp_path / "associations.jsonl"))
    assert live == offline


def test_catalogue_update_changes_later_associations(
    bootstrap, broker_url, topic_prefix, spawn_worker, scenario, catalog_dir, tmp_path
):
    """The worker starts without the scenario's withheld objects (their tracks are UCTs);
    their element sets published mid-stream make later frames correlate with them."""
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    split = len(frames) // 2
    withheld = json.loads((scenario / "scenario.json").read_text())["withheld_norad_ids"]
    full = Catalogue.from_path(catalog_dir)
    update_file = tmp_path / "withheld.tle"
    full.subset(full.index_of(withheld)).write(update_file)

    # Expected: the same frames through one pipeline in this process, the withheld objects'
    # element sets applied between the two halves as the worker applies them (the verdicts
    # after the update are made from evidence that began before it, so they are not those
    # of a run that had the whole catalogue from the start).
    pipeline = Pipeline(
        read_sensors(scenario / "sensors.json"), Catalogue.from_path(scenario / "catalog")
    )
    states: dict[str, bytes] = {}
    produced = []
    for k, frame in enumerate(frames):
        if k == split:
            pipeline.update_catalogue(Catalogue.from_path(update_file))
        result = pipeline.process(frame, states.get(frame.sensor_id))
        states[frame.sensor_id] = result.state
        produced += [json.loads(a.to_json()) for a in result.associations]
    early = {f.frame_id for f in frames[:split]}
    expected = dedupe_records(produced)
    late_withheld = [
        a for a in expected if a["frame_id"] not in early and a["norad_id"] in withheld
    ]
    assert late_withheld, "no withheld object is correlated after the split: pick another split"

    worker = spawn_worker(
        *worker_args(
            settings,
            "--catalog",
            str(scenario / "catalog"),
            "--sensors",
            str(scenario / "sensors.json"),
        ),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)
    sensors = read_sensors(scenario / "sensors.json")
    asyncio.run(
        publish_frames(settings, frames[:split], sensors, progress=False, create_topics=False)
    )
    n_early = sum(1 for a in expected if a["frame_id"] in early)
    wait_for_records(
        bootstrap,
        settings.topic("associations"),
        lambda got: len(dedupe_records(got)) >= n_early,
        timeout_s=180,
        describe=worker.log_tail,
    )

    cli(
        "publish-catalog",
        str(update_file),
        "--broker",
        broker_url,
        "--topic-prefix",
        topic_prefix,
        "--frames-partitions",
        str(settings.frames_partitions),
        "--output-partitions",
        str(settings.output_partitions),
    )
    worker.wait_for_log(
        rf"since start: {len(withheld)} received, {len(withheld)} applied", timeout_s=60
    )
    asyncio.run(publish_frames(settings, frames[split:], {}, progress=False, create_topics=False))
    live = wait_for_records(
        bootstrap,
        settings.topic("associations"),
        lambda got: len(dedupe_records(got)) >= len(expected),
        timeout_s=180,
        describe=worker.log_tail,
    )
    assert dedupe_records(live) == expected
    assert worker.alive()
