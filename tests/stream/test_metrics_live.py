"""/metrics on a live worker, scraped by itself and by a real Prometheus (Debian's package).

A worker runs with ``--web-port`` while a small simulated scenario is replayed through the
broker; its /metrics must show the contract's figures, and a Prometheus started with a config
in the test's tmp dir must scrape it and answer a query for a counter through its HTTP API.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from streamtools import REPO_ROOT, small_scenario, test_settings, worker_args, worker_env

pytestmark = pytest.mark.kafka

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout_s: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.read().decode()


def metric_values(text: str, name: str) -> dict[str, float]:
    """``{label text: value}`` of the samples of ``name`` in Prometheus text format."""
    values = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            values[head[len(name) :]] = float(value)
    return values


def replay(scenario: Path, broker_url: str, topic_prefix: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "replay",
            str(scenario / "frames.jsonl"),
            "--sensors",
            str(scenario / "sensors.json"),
            "--broker",
            broker_url,
            "--topic-prefix",
            topic_prefix,
            "--frames-partitions",
            "4",
            "--output-partitions",
            "2",
            "--no-progress",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def live_worker(broker_url, topic_prefix, spawn_worker, catalog_dir, tmp_path):
    """A worker with /metrics on a free port, after the small scenario was replayed."""
    scenario = small_scenario(catalog_dir)
    settings = test_settings(broker_url, topic_prefix)
    port = free_port()
    worker = spawn_worker(
        *worker_args(settings, "--catalog", str(scenario / "catalog"), "--web-port", str(port)),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)
    replay(scenario, broker_url, topic_prefix)
    n_frames = sum(1 for _ in open(scenario / "frames.jsonl"))
    deadline = time.monotonic() + 180
    while True:
        text = get(f"http://127.0.0.1:{port}/metrics")
        if sum(metric_values(text, "orbitlink_frames_total").values()) >= n_frames:
            break
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(1.0)
    return worker, port, scenario, n_frames


def test_metrics_page_has_the_contract_figures(live_worker):
    worker, port, scenario, n_frames = live_worker
    text = get(f"http://127.0.0.1:{port}/metrics")
    assert "# TYPE orbitlink_frames_total counter" in text
    assert "# TYPE orbitlink_detections_total counter" in text
    assert "# TYPE orbitlink_frame_latency_seconds histogram" in text
    frames = metric_values(text, "orbitlink_frames_total")
    assert sum(frames.values()) == n_frames
    assert all('disposition="processed"' in labels for labels in frames)
    n_detections = sum(
        len(json.loads(line)["detections"]) for line in open(scenario / "frames.jsonl")
    )
    assert sum(metric_values(text, "orbitlink_detections_total").values()) == n_detections
    outcomes = metric_values(text, "orbitlink_associations_total")
    assert any('outcome="named"' in labels and v > 0 for labels, v in outcomes.items())
    assert any('outcome="uct"' in labels for labels in outcomes)
    latency = metric_values(text, "orbitlink_frame_latency_seconds_count")
    assert sum(latency.values()) == n_frames
    assert metric_values(text, "orbitlink_catalogue_objects")[""] > 1000
    assert sum(metric_values(text, "orbitlink_consumer_lag").values()) == 0
    # The page is on the loopback interface only.
    other = [a for a in socket.gethostbyname_ex(socket.gethostname())[2] if a != "127.0.0.1"]
    for address in other:
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=1).close()


@pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="Debian's prometheus is not installed")
def test_prometheus_scrapes_the_worker(live_worker, spawn, tmp_path):
    worker, port, scenario, n_frames = live_worker
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: orbitlink\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    spawn(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        name="prometheus",
    )
    query = urllib.parse.urlencode({"query": "sum(orbitlink_frames_total)"})
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = json.loads(get(f"http://127.0.0.1:{prom_port}/api/v1/query?{query}"))
            result = answer["data"]["result"]
            if result and float(result[0]["value"][1]) >= n_frames:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "Prometheus never reported the frames counter"
        time.sleep(1.0)
    assert answer["status"] == "success"
    assert float(result[0]["value"][1]) == n_frames
    targets = json.loads(get(f"http://127.0.0.1:{prom_port}/api/v1/targets"))
    (target,) = targets["data"]["activeTargets"]
    assert target["health"] == "up"
