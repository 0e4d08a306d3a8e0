"""TLS and SASL for real: a private Apache Kafka with SSL and SASL_SSL listeners, a throw-away
CA made with openssl, the worker and the clients over them.

The broker (``ownkafka.OwnKafka``) has four listeners: PLAINTEXT (between the broker and
itself only), CONTROLLER, SSL, and SASL_SSL with PLAIN and SCRAM-SHA-256 users. The worker
runs over SSL; replay, consume and the topic administration run over SSL, SASL PLAIN and SASL
SCRAM; a client that does not trust the CA, and one with a wrong password, are refused.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from aiokafka.errors import KafkaConnectionError
from ownkafka import OwnKafka, make_test_ca, require_kafka_jars
from streamtools import offline_records, small_scenario

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.consume import consume_topic, dedupe_records
from orbitlink.stream.probe import BrokerError, wait_for_broker
from orbitlink.stream.replay import publish_frames
from orbitlink.stream.settings import StreamSettings
from orbitlink.stream.tansu import find_free_port
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors

pytestmark = [pytest.mark.kafka, pytest.mark.own_kafka]

PLAIN_USER, PLAIN_PASSWORD = "orbitlink-plain", "plain-secret"
SCRAM_USER, SCRAM_PASSWORD = "orbitlink-scram", "scram-secret"


@pytest.fixture(scope="module")
def tls_kafka(tmp_path_factory: pytest.TempPathFactory):
    require_kafka_jars()
    folder = tmp_path_factory.mktemp("tls-kafka")
    certs = make_test_ca(folder / "certs")
    port, controller, ssl_port, sasl_port = (find_free_port() for _ in range(4))
    while len({port, controller, ssl_port, sasl_port}) < 4:
        sasl_port = find_free_port()
    jaas_plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{PLAIN_USER}" password="{PLAIN_PASSWORD}" '
        f'user_{PLAIN_USER}="{PLAIN_PASSWORD}";'
    )
    extra = f"""
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},SSL://127.0.0.1:{ssl_port},SASL_SSL://127.0.0.1:{sasl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port},SASL_SSL://127.0.0.1:{sasl_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PEM
ssl.keystore.location={certs["keystore"]}
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_ssl.plain.sasl.jaas.config={jaas_plain}
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
"""  # noqa: E501
    broker = OwnKafka(
        folder / "kafka",
        {
            "KAFKA_PORT": str(port),
            "KAFKA_CONTROLLER_PORT": str(controller),
            "KAFKA_EXTRA_CONFIG": extra,
            "KAFKA_FORMAT_ARGS": f"--add-scram SCRAM-SHA-256=[name={SCRAM_USER},"
            f"password={SCRAM_PASSWORD}]",
        },
    )
    broker.start()
    try:
        yield {"ssl": ssl_port, "sasl": sasl_port, "ca": certs["ca"], "broker": broker}
    finally:
        print(broker.logs())
        broker.stop()


def _ssl_settings(tls_kafka, topic_prefix: str, **more) -> StreamSettings:
    return StreamSettings(
        broker=f"kafka+ssl://127.0.0.1:{tls_kafka['ssl']}",
        ssl_cafile=tls_kafka["ca"],
        topic_prefix=topic_prefix,
        frames_partitions=2,
        output_partitions=2,
        store="memory://",
        changelog_batch_bytes=16384,
        **more,
    )


def _read(settings: StreamSettings, role: str) -> list[dict]:
    got: list = []
    asyncio.run(
        consume_topic(
            settings.bootstrap,
            settings.topic(role),
            until_idle_s=3.0,
            on_message=got.append,
            security=settings.client_security(),
        )
    )
    return [json.loads(m.value) for m in got]


def test_worker_and_clients_over_tls(tls_kafka, topic_prefix, spawn, catalog_dir, tmp_path):
    scenario = small_scenario(catalog_dir)
    settings = _ssl_settings(tls_kafka, topic_prefix)
    wait_for_broker(settings.bootstrap, timeout_s=30, ssl_context=settings.ssl_context())
    ensure_topics(settings)
    env = {k: v for k, v in settings.to_env().items() if k != "ORBITLINK_CATALOG"}
    env.update(ORBITLINK_METRICS_INTERVAL_S="1", ORBITLINK_SESSION_TIMEOUT_S="8")
    command = [sys.executable, "-m", "orbitlink.stream.cli", "worker"]
    worker = spawn(
        [*command, "--catalog", str(scenario / "catalog")],
        env=dict(env, ORBITLINK_DATA_DIR=str(tmp_path / "data")),
        name="tls-worker",
    )
    worker.wait_for_log("worker ready", timeout_s=180)

    frames = [f for f in iter_frames_jsonl(scenario / "frames.jsonl")][:60]
    sensors = read_sensors(scenario / "sensors.json")
    asyncio.run(publish_frames(settings, frames, sensors, progress=False))
    expected = offline_records(scenario, frames, tmp_path / "offline", catalog=scenario / "catalog")
    worker.wait_for_log(rf"frames={len(frames)} processed={len(frames)}", timeout_s=120)
    assert dedupe_records(_read(settings, "tracks")) == expected["tracks"]
    assert dedupe_records(_read(settings, "associations")) == expected["associations"]
    assert expected["associations"], "the scenario's first frames should correlate something"

    # A client that does not trust the test CA is refused by its own TLS check.
    untrusting = StreamSettings(broker=settings.broker)
    with pytest.raises(BrokerError, match="CERTIFICATE_VERIFY_FAILED"):
        wait_for_broker(untrusting.bootstrap, timeout_s=2, ssl_context=untrusting.ssl_context())


@pytest.mark.parametrize(
    ("mechanism", "user", "password"),
    [("PLAIN", PLAIN_USER, PLAIN_PASSWORD), ("SCRAM-SHA-256", SCRAM_USER, SCRAM_PASSWORD)],
)
def test_clients_over_sasl_ssl(
    tls_kafka, topic_prefix, catalog_dir, mechanism, user, password, caplog
):
    scenario = small_scenario(catalog_dir)
    settings = StreamSettings(
        broker=f"kafka+ssl://127.0.0.1:{tls_kafka['sasl']}",
        ssl_cafile=tls_kafka["ca"],
        sasl_mechanism=mechanism,
        sasl_username=user,
        sasl_password=password,
        topic_prefix=topic_prefix,
        frames_partitions=2,
    )
    assert settings.security_protocol == "SASL_SSL"
    frames = [f for f in iter_frames_jsonl(scenario / "frames.jsonl")][:10]
    summary = asyncio.run(
        publish_frames(settings, frames, read_sensors(scenario / "sensors.json"), progress=False)
    )
    assert summary.frames == 10
    got = _read(settings, "frames")
    assert sorted(f["frame_id"] for f in got) == sorted(f.frame_id for f in frames)

    # aiokafka reports a refused login as "Unable to bootstrap", logging the broker's reason.
    wrong = settings.replace(sasl_password="wrong")
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        ensure_topics(wrong, timeout_s=10)
    assert "SaslAuthenticationFailed" in caplog.text
