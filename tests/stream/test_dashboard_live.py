"""The dashboard in a real browser: Debian's chromium driven by Playwright (no browser
download), against a live worker while a replay runs through the broker.

The page must show tracks as they appear and counters rising, each current track's id (and a
named track's NORAD id) as text, a named track's NORAD id on hover, and strings from the stream
as text, never markup. A screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from streamtools import (
    REPO_ROOT,
    publish_raw,
    small_scenario,
    test_settings,
    worker_args,
    worker_env,
)

pytestmark = pytest.mark.kafka

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<img src=x onerror="document.title=1">'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_state(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def stack(broker_url, bootstrap, topic_prefix, spawn, spawn_worker, catalog_dir, tmp_path):
    """A worker and a dashboard on a fresh topic prefix; returns (dashboard port, settings,
    scenario folder)."""
    scenario = small_scenario(catalog_dir)
    settings = test_settings(broker_url, topic_prefix)
    worker = spawn_worker(
        *worker_args(settings, "--catalog", str(scenario / "catalog")),
        name="worker",
        env=worker_env(settings, tmp_path / "data"),
    )
    worker.wait_for_log("worker ready", timeout_s=120)
    port = free_port()
    dashboard = spawn(
        [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "dashboard",
            "--broker",
            broker_url,
            "--topic-prefix",
            topic_prefix,
            "--port",
            str(port),
        ],
        name="dashboard",
    )
    dashboard.wait_for_log(rf"dashboard at http://127\.0\.0\.1:{port}/", timeout_s=60)
    dashboard.wait_for_log("reading", timeout_s=30)
    return port, settings, scenario


def start_replay(scenario: Path, settings, speed: float | None) -> subprocess.Popen:
    """``orbitlink replay`` of the scenario at ``speed`` (None: as fast as possible)."""
    pace = [] if speed is None else ["--speed", str(speed)]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orbitlink.stream.cli",
            "replay",
            str(scenario / "frames.jsonl"),
            "--sensors",
            str(scenario / "sensors.json"),
            "--broker",
            settings.broker,
            "--topic-prefix",
            settings.topic_prefix,
            "--frames-partitions",
            str(settings.frames_partitions),
            "--output-partitions",
            str(settings.output_partitions),
            *pace,
            "--no-progress",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_page_follows_a_replay_in_chromium(stack, bootstrap, tmp_path):
    from playwright.sync_api import sync_playwright

    port, settings, scenario = stack
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#status.live", timeout=30_000)
        # The page is open and live before the replay starts: the replay's 15 s are the
        # stream's, not the browser's start-up (a busy machine once spent them launching it).
        replay = start_replay(scenario, settings, speed=6.0)

        # Tracks appear and the counters rise while the replay runs.
        page.wait_for_selector("#tracks tbody tr", timeout=90_000)
        first = page.text_content("#totals")
        assert replay.poll() is None, "the replay ended before the page showed a track"
        page.wait_for_function(
            "text => document.querySelector('#totals').textContent !== text",
            arg=first,
            timeout=30_000,
        )

        # A named track: its id and NORAD id are text in the DOM, and hovering shows them.
        page.wait_for_function(
            "() => (window.orbitlinkDashboard.view()?.tracks ?? []).some(t => t.verdict === 'named'"
            " && window.orbitlinkDashboard.trackPosition(t.id))",
            timeout=90_000,
        )
        named = page.evaluate(
            "() => window.orbitlinkDashboard.view().tracks.find(t => t.verdict === 'named'"
            " && window.orbitlinkDashboard.trackPosition(t.id))"
        )
        where = page.evaluate("id => window.orbitlinkDashboard.trackPosition(id)", named["id"])
        page.mouse.move(where["x"], where["y"])
        tooltip = page.locator("#tooltip")
        tooltip.wait_for(state="visible", timeout=5_000)
        assert f"NORAD {named['norad']}" in tooltip.text_content()
        assert named["id"] in tooltip.text_content()
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        assert replay.wait(timeout=120) == 0, replay.stderr.read().decode()
        # Once the stream is quiet, the table lists exactly the server's current tracks.
        time.sleep(2.0)
        state = api_state(port)
        page.wait_for_timeout(1500)
        rows = page.eval_on_selector_all(
            "#tracks tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        assert {r[0] for r in rows} == {t["id"] for t in state["tracks"]}
        for track in state["tracks"]:
            if track["verdict"] == "named":
                assert [track["id"], str(track["norad"])] in [[r[0], r[4]] for r in rows]

        # Strings from the stream are text: a frame whose sensor id is markup is
        # dead-lettered by the worker and shown literally, creating no element.
        hostile = json.dumps(
            {"time": "2026-05-31T04:40:00Z", "frame_id": "x", "sensor_id": HOSTILE}
        )
        # (In a thread: Playwright's sync API owns this thread's event loop.)
        sender = threading.Thread(
            target=publish_raw,
            args=(bootstrap, settings.topic("frames"), [(HOSTILE.encode(), hostile.encode())]),
        )
        sender.start()
        sender.join(60)
        page.wait_for_function(
            "() => document.querySelector('#deadletters').textContent.includes('<img')",
            timeout=60_000,
        )
        assert page.locator("#deadletters img").count() == 0
        assert page.title() == "orbitlink dashboard"
        assert errors == []
        page.screenshot(path=str(tmp_path / "dashboard-end.png"), full_page=True)
        browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_the_dashboard_is_read_only_and_local(stack):
    port, _, _ = stack
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/state", method="POST", data=b"{}"
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)
    assert error.value.code == 405
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        page = r.read().decode()
    # Every script and style is served by the dashboard itself.
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert src.startswith("/static/"), src
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{src}", timeout=5) as r:
            assert r.status == 200
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/static/../server.py", timeout=5)


def test_a_page_that_stops_reading_never_holds_the_reader_back(stack, tmp_path):
    port, settings, scenario = stack
    # An event-stream client that connects and then reads nothing at all.
    stalled = socket.create_connection(("127.0.0.1", port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        replay = start_replay(scenario, settings, speed=None)
        assert replay.wait(timeout=120) == 0
        n_frames = sum(1 for _ in open(scenario / "frames.jsonl"))
        deadline = time.monotonic() + 120
        while api_state(port)["counts"]["frames"] < n_frames:
            assert time.monotonic() < deadline, "the dashboard stopped reading"
            time.sleep(1.0)
    finally:
        stalled.close()
