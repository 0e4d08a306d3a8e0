"""A busy sensor: its tracker state outgrows a broker's default 1 MB record limit.

Thousands of unassociated detections start tens of thousands of tentative tracks (~200 bytes
each), so a crowded frame can leave several megabytes of state for the changelog. The worker
must write it, keep going, and the state must be readable back from the changelog.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from streamtools import read_topic, test_settings, worker_args, worker_env

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.replay import publish_frames
from orbitlink.stream.states import SensorStates
from orbitlink.tracking.models import Detection, Frame, Sensor
from orbitlink.tracking.pipeline import tracker_of_state

pytestmark = pytest.mark.kafka

SENSOR = Sensor(
    sensor_id="crowded",
    lat_deg=31.96,
    lon_deg=-111.6,
    alt_m=2100,
    fov_radius_deg=5.0,
    sigma_arcsec=3.0,
)


def _crowded_frames(n_frames: int, n_detections: int) -> list[Frame]:
    rng = np.random.default_rng(3)
    start = datetime(2026, 5, 31, 4, 20, tzinfo=UTC)
    frames = []
    for k in range(n_frames):
        ra = 30.0 + rng.uniform(-4.0, 4.0, n_detections)
        dec = 10.0 + rng.uniform(-4.0, 4.0, n_detections)
        frames.append(
            Frame(
                frame_id=f"crowded-{k}",
                sensor_id=SENSOR.sensor_id,
                time=start + timedelta(seconds=2 * k),
                detections=[
                    Detection(ra_deg=a, dec_deg=d) for a, d in zip(ra.tolist(), dec.tolist())
                ],
            )
        )
    return frames


def test_state_beyond_a_megabyte_is_written_and_the_worker_goes_on(
    bootstrap, broker_url, topic_prefix, spawn_worker, tmp_path: Path
):
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    sensors_file = tmp_path / "sensors.json"
    sensors_file.write_text(json.dumps([json.loads(SENSOR.to_json())]))
    worker = spawn_worker(
        *worker_args(settings, "--sensors", str(sensors_file)),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)

    frames = _crowded_frames(3, 2500)
    asyncio.run(publish_frames(settings, frames, {SENSOR.sensor_id: SENSOR}, progress=False))
    worker.wait_for_log(r"processed=3 ", timeout_s=180)

    values = [
        m.value
        for m in read_topic(bootstrap, settings.changelog_topic)
        if m.key == SENSOR.sensor_id.encode() and m.value
    ]
    assert len(values) == 3  # one write per frame (a manifest, if the state went in pieces)
    latest: dict[bytes, bytes] = {}
    for message in read_topic(bootstrap, settings.changelog_topic, until_idle_s=3.0):
        if message.value is None:
            latest.pop(message.key, None)
        else:
            latest[message.key] = message.value
    state = SensorStates(
        latest, piece_bytes=settings.max_message_bytes, max_state_bytes=settings.max_state_bytes
    ).get(SENSOR.sensor_id)
    assert state is not None and len(state) > 1024 * 1024
    restored = tracker_of_state(state)
    assert restored.n_tracks > 5000 and restored.last_time_s == pytest.approx(
        frames[-1].time.timestamp()
    )


def test_a_state_over_the_record_limit_goes_in_pieces_and_is_restored(
    bootstrap, broker_url, topic_prefix, spawn_worker, tmp_path: Path
):
    """Four frames of 15,000 detections: a state of about 114 MB, over the 16 MiB a record may
    have (frames like these crashed the worker and left its store ahead of the changelog). It
    is written in pieces; the changelog alone (what another worker would restore) gives the
    same state back, and a second worker restored from it carries on."""
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    sensors_file = tmp_path / "sensors.json"
    sensors_file.write_text(json.dumps([json.loads(SENSOR.to_json())]))
    args = worker_args(settings, "--sensors", str(sensors_file))
    worker = spawn_worker(*args, name="worker", env=worker_env(settings, tmp_path / "data"))
    worker.wait_for_log("worker ready", timeout_s=120)

    frames = _crowded_frames(5, 15_000)
    asyncio.run(publish_frames(settings, frames[:4], {SENSOR.sensor_id: SENSOR}, progress=False))
    worker.wait_for_log(r"processed=4 ", timeout_s=300)

    latest: dict[bytes, bytes] = {}
    for message in read_topic(bootstrap, settings.changelog_topic, until_idle_s=3.0):
        if message.value is None:
            latest.pop(message.key, None)
        else:
            latest[message.key] = message.value
    assert max(len(v) for v in latest.values()) <= settings.max_message_bytes
    state = SensorStates(
        latest, piece_bytes=settings.max_message_bytes, max_state_bytes=settings.max_state_bytes
    ).get(SENSOR.sensor_id)
    assert state is not None and len(state) > settings.max_message_bytes
    restored = tracker_of_state(state)
    assert restored.last_time_s == pytest.approx(frames[3].time.timestamp())
    print(f"state of 4 frames of 15,000 detections: {len(state) / 1e6:.1f} MB")

    worker.kill()  # another worker takes over from the changelog and carries on
    second = spawn_worker(*args, name="worker-2", env=worker_env(settings, tmp_path / "d2"))
    second.wait_for_log("worker ready", timeout_s=180)
    asyncio.run(publish_frames(settings, frames[4:], {}, progress=False, create_topics=False))
    second.wait_for_log(r"processed=1 ", timeout_s=300)
    assert "dead letters" not in second.log_text()
