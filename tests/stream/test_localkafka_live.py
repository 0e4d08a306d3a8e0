"""``orbitlink broker --engine kafka``: a persistent local Apache Kafka in one command. Stopped
(SIGTERM) and started again on the same folder, it still has its topics and records; without
the jars it says how to get them instead of downloading anything."""

from __future__ import annotations

import signal
import sys

import pytest
from ownkafka import require_kafka_jars
from streamtools import publish_raw, read_topic

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.localkafka import LocalKafka
from orbitlink.stream.settings import StreamSettings
from orbitlink.stream.tansu import find_free_port


@pytest.mark.kafka
@pytest.mark.own_kafka
def test_the_local_kafka_keeps_its_data_across_restarts(spawn, tmp_path, topic_prefix):
    require_kafka_jars()
    port, data = find_free_port(), tmp_path / "kafka-data"
    command = [sys.executable, "-m", "orbitlink.stream.cli", "broker", "--engine", "kafka"]
    command += ["--port", str(port), "--data-dir", str(data)]
    env = {"KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m"}
    first = spawn(command, name="kafka-1", env=env)
    first.wait_for_log(rf"Apache Kafka 4\.\d+\.\d+ on kafka://127\.0\.0\.1:{port}", timeout_s=180)
    settings = StreamSettings(broker=f"kafka://127.0.0.1:{port}", topic_prefix=topic_prefix)
    ensure_topics(settings)
    sent = [(b"k%d" % i, b"v%d" % i) for i in range(20)]
    publish_raw(settings.bootstrap, settings.topic("tracks"), sent)
    first.signal(signal.SIGTERM)
    assert first.wait(timeout_s=60) == 0
    assert "its data stays" in first.log_text()
    assert not LocalKafka(data, port).running()

    second = spawn(command, name="kafka-2", env=env)
    second.wait_for_log("reusing the data|on kafka://", timeout_s=180)
    second.wait_for_log(rf"on kafka://127\.0\.0\.1:{port}", timeout_s=180)
    got = read_topic(settings.bootstrap, settings.topic("tracks"), until_idle_s=3.0)
    assert sorted((m.key, m.value) for m in got) == sorted(sent)
    assert ensure_topics(settings) == dict.fromkeys(settings.topic_specs(), False)
    second.signal(signal.SIGTERM)
    assert second.wait(timeout_s=60) == 0

    other_port = find_free_port()
    refused = LocalKafka(data, other_port)
    with pytest.raises(Exception, match=f"made for port {port}"):
        refused.start()


def test_without_the_jars_it_says_how_to_get_them(tmp_path, monkeypatch):
    from orbitlink.stream import localkafka

    monkeypatch.setattr(localkafka, "KAFKA_VERSION", "0.0.0-not-fetched")
    with pytest.raises(Exception, match="run `make kafka` first") as caught:
        LocalKafka(tmp_path, 9999).start()
    assert "Maven Central" in str(caught.value)
    assert not (tmp_path / "data").exists()
