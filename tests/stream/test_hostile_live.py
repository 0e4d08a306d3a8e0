"""A hostile but fair test of the running stack (issue 9), on the live broker: bad and odd
messages interleaved with good frames, on every input topic. The worker never stops; what
it refuses reaches the dead-letter topic with its reason, bounded in size; and the good
frames' records equal the offline run of the good frames alone.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
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
from orbitlink.stream.tansu import find_free_port
from orbitlink.tracking.catalogue import Catalogue, tle_checksum
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors

pytestmark = pytest.mark.kafka

UNKNOWN_FRAMES = 400


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path) -> Path:
    return small_scenario(catalog_dir)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (IPv4), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            octets = [str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)]
            found.add(".".join(octets))
    return found


def _future_element_set(catalogue: Catalogue) -> dict:
    record = catalogue.element_set(0)
    line1 = record["line1"][:18] + "56150.50000000" + record["line1"][32:68]
    return dict(record, line1=line1 + str(tle_checksum(line1)), epoch=None)


def test_hostile_inputs_leave_the_good_frames_untouched(
    bootstrap, broker_url, topic_prefix, spawn_worker, scenario, tmp_path
):
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    web_port = find_free_port()
    worker = spawn_worker(
        *worker_args(
            settings,
            "--sensors",
            str(scenario / "sensors.json"),
            "--catalog",
            str(scenario / "catalog"),
            "--web-port",
            str(web_port),
        ),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)

    # The web view: loopback only, and no table contents unless asked (--web-tables).
    assert _listening_addresses(web_port) == {"127.0.0.1"}
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{web_port}/table/tracker-state/", timeout=10)
    assert caught.value.code == 404

    catalogue = Catalogue.from_path(scenario / "catalog")
    bad_sensor = {"sensor_id": "bad-cam", "tle": ["1 hello", "2 world"], "fov_radius_deg": 2.0}
    publish_raw(
        bootstrap,
        settings.topic("catalogue"),
        [(b"x", json.dumps(_future_element_set(catalogue)).encode())],
    )
    publish_raw(
        bootstrap, settings.topic("sensors"), [(b"bad-cam", json.dumps(bad_sensor).encode())]
    )

    frames = [f for f in iter_frames_jsonl(scenario / "frames.jsonl")]
    geo = [f for f in frames if f.sensor_id == "ctio-geo"]
    first = json.loads(encode_record(geo[0]))
    key = b"ctio-geo"
    hostile = [
        (key, b"\x00" * (3 * 1024 * 1024)),  # became an 18 MB dead letter and hung the worker
        (key, json.dumps(dict(first, frame_id="future", time="2200-01-01T00:00:00Z")).encode()),
        (key, b"[" * 10_000 + b"]" * 10_000),
        (key, b""),
        (key, json.dumps({k: v for k, v in first.items() if k != "detections"}).encode()),
    ]
    good = [(f.sensor_id.encode(), encode_record(f)) for f in frames]
    unknown = [
        (b"nobody-%d" % i, json.dumps(dict(first, sensor_id=f"nobody-{i}")).encode())
        for i in range(UNKNOWN_FRAMES)
    ]
    # The good frames of ctio-geo start after the hostile ones, and one is sent again later.
    messages = hostile + unknown + good + [good[len(good) // 2]]
    started = time.monotonic()
    publish_raw(bootstrap, settings.topic("frames"), messages)
    worker.wait_for_log(rf"frames={len(messages)} ", timeout_s=240)
    elapsed_s = time.monotonic() - started
    print(f"{len(messages)} messages ({UNKNOWN_FRAMES} of unknown sensors) in {elapsed_s:.1f} s")

    expected = offline_records(scenario, frames, tmp_path / "offline", catalog=scenario / "catalog")
    tracks = wait_for_records(
        bootstrap,
        settings.topic("tracks"),
        lambda got: len(dedupe_records(got)) >= len(expected["tracks"]),
        timeout_s=120,
        describe=worker.log_tail,
    )
    assert dedupe_records(tracks) == expected["tracks"]
    associations = records(read_topic(bootstrap, settings.topic("associations")))
    assert dedupe_records(associations) == expected["associations"]

    letters = read_topic(bootstrap, settings.topic("deadletter"))
    assert max(len(m.value) for m in letters) < 1024 * 1024
    reasons = [json.loads(m.value)["reason"] for m in letters]
    starts = [
        "impossible value in element set",
        "impossible value in sensor: tle",
        "not JSON",
        "implausible time: 2200-01-01",
        "not JSON the engine accepts",
        "empty message",
        "schema violation in frame: detections: Field required",
        "duplicate: frame",
    ]
    for start in starts:
        assert any(r.startswith(start) for r in reasons), (start, reasons[:20])
    assert sum("unknown sensor 'nobody-" in r for r in reasons) == UNKNOWN_FRAMES
    assert len(reasons) == len(starts) + UNKNOWN_FRAMES, reasons
    nul = next(json.loads(m.value) for m in letters if m.key == key and b"value_sha256" in m.value)
    assert nul["value_bytes"] == 3 * 1024 * 1024 and nul["value_truncated"] is True
    # Unknown sensors no longer cost ~0.1 s each (400 took 41 s): only a burst's first waits.
    assert elapsed_s < 60, elapsed_s
    assert worker.alive()
    assert read_sensors(scenario / "sensors.json")  # the good sensors are untouched


def test_topic_record_limits_hold_on_every_broker(bootstrap, broker_url, topic_prefix):
    """Every topic carries its record limit, and our producers refuse a larger record
    themselves: the embedded broker accepts any size, Apache Kafka refuses it."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.errors import MessageSizeTooLargeError

    from orbitlink.stream.replay import publish_sensors
    from orbitlink.stream.settings import SMALL_RECORD_BYTES
    from orbitlink.tracking.models import Sensor

    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)

    async def limits() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = list(settings.topic_specs())
            answers = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
            )
        finally:
            await admin.close()
        found = {}
        for answer in answers:
            for _code, _message, _type, name, entries in answer.resources:
                for entry in entries:
                    if entry[0] == "max.message.bytes":
                        found[name] = entry[1]
        return found

    found = asyncio.run(limits())
    assert found[settings.topic("sensors")] == str(SMALL_RECORD_BYTES)
    assert found[settings.topic("frames")] == str(settings.max_message_bytes)
    huge = Sensor(sensor_id="huge", lat_deg=1.0, lon_deg=2.0, name="x" * (2 * SMALL_RECORD_BYTES))
    with pytest.raises(MessageSizeTooLargeError):
        asyncio.run(publish_sensors(settings, [huge]))
    assert read_topic(bootstrap, settings.topic("sensors"), until_idle_s=1.0) == []
