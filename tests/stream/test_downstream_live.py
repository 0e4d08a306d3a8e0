"""Downstream clients read orbitlink's output topics: a librdkafka client (confluent-kafka) on
both brokers, and Apache Kafka's own console consumer on Apache Kafka.

The records are the pipeline's (a simulated scenario run offline), published to the output
topics by the worker's own producer (:class:`~orbitlink.stream.sinks.KafkaSink`) with their
keys; every client must read back exactly those keys and values.

Not tested, measured instead (README, docs/topics.md): Debian 12's kcat 1.7.1 (librdkafka
2.0.2) fails its ApiVersions handshake with the embedded broker ("Protocol read buffer underflow
for ApiVersion v3"), with or without ``-X api.version.request=false``; it reads Apache Kafka.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
from ownkafka import KAFKA_VERSION, REPO_ROOT, require_kafka_jars
from streamtools import offline_records, small_scenario, test_settings

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.sinks import KafkaSink, OutboundRecord
from orbitlink.tracking.formats import iter_frames_jsonl

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def published(catalog_dir, tmp_path_factory):
    scenario = small_scenario(catalog_dir)
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))[:80]
    return offline_records(
        scenario, frames, tmp_path_factory.mktemp("offline"), catalog=scenario / "catalog"
    )


def _publish(settings, records: dict[str, list[dict]]) -> dict[str, set[tuple[bytes, bytes]]]:
    """Publish the records through the worker's producer; ``{topic: {(key, value)}}``."""
    outbound = [
        OutboundRecord(settings.topic(role), r["track_id"].encode(), json.dumps(r).encode())
        for role in ("tracks", "associations")
        for r in records[role]
    ]

    async def run() -> None:
        sink = KafkaSink(settings.bootstrap, security=settings.client_security())
        await sink.start()
        try:
            await sink.publish(outbound)
        finally:
            await sink.stop()

    asyncio.run(run())
    expected: dict[str, set[tuple[bytes, bytes]]] = {}
    for record in outbound:
        expected.setdefault(record.topic, set()).add((record.key, record.value))
    return expected


def test_a_librdkafka_client_reads_the_outputs(broker_url, topic_prefix, published):
    from confluent_kafka import Consumer, KafkaError

    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    expected = _publish(settings, published)
    assert published["associations"], "no association to read"
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": f"{topic_prefix}librdkafka",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    got: dict[str, set[tuple[bytes, bytes]]] = {topic: set() for topic in expected}
    try:
        consumer.subscribe(sorted(expected))
        deadline = time.monotonic() + 90
        while got != expected and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            got[message.topic()].add((message.key(), message.value()))
    finally:
        consumer.close()
    assert got == expected


@pytest.mark.apache_kafka
def test_kafkas_console_consumer_reads_the_outputs(
    broker_url, broker_kind, topic_prefix, published, tmp_path
):
    if broker_kind != "kafka":
        pytest.skip("Kafka's console consumer is tested on Apache Kafka (CI's second pass)")
    require_kafka_jars()
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    expected = _publish(settings, published)
    topic = settings.topic("associations")
    libs = REPO_ROOT / ".ci-cache" / "kafka" / KAFKA_VERSION / "libs"
    done = subprocess.run(
        [
            "java",
            "-cp",
            f"{libs}/*",
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            "--bootstrap-server",
            settings.bootstrap,
            "--topic",
            topic,
            "--from-beginning",
            "--timeout-ms",
            "15000",
            "--property",
            "print.key=true",
            "--property",
            "key.separator=\t",
        ],
        capture_output=True,
        timeout=120,
    )
    lines = [line.split(b"\t", 1) for line in done.stdout.splitlines() if b"\t" in line]
    assert {(key, value) for key, value in lines} == expected[topic], done.stderr[-2000:]
