"""The linker agent on a live broker: provisional objects published live, recovered after a
crash, identified when their element sets arrive.

UCT tracklets of real objects (simulated passes over a night and a half, from two ground
sites and a camera on NEOSSAT) are published to the tracklets topic as the frames agent would
publish them; a worker links them. The linker is deterministic, so after deduplication (by
``uct_id`` and ``revision``) the ``orbitlink.uct-objects`` records must equal the records of
the same tracklets linked offline in this process, including when the worker is SIGKILLed
halfway (between links, or alone in the middle of one, when its child process must end with
it) and another takes over from the linker's changelog: the same objects, the same
tracks in each, the same revisions, and the same orbits to rounding (another process sums
its floats in another order, as numpy may with other memory alignment, and an iterated fit
carries that to the ninth digit; a TLE field can then round the other way).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from streamtools import (
    publish_raw,
    same_record,
    test_settings,
    wait_for_records,
    worker_args,
    worker_env,
)

from orbitlink.stream.admin import ensure_topics
from orbitlink.stream.codecs import encode_element_set, encode_record
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.linking import Linker
from orbitlink.tracking.linking.passes import PassSettings, simulate_passes
from orbitlink.tracking.models import Sensor

pytestmark = pytest.mark.kafka

START = 1780142400.0  # 2026-05-30T12:00:00Z
OBJECTS = (41866, 41592, 58584)  # GOES-16, EchoStar 18 (GEO), Arktika-M 2 (HEO)
#: The log line of each tracklet the linker agent has linked (and published).
LINK_LOGGED = re.compile(r"linker: \S+ (?:opened|joined) ")


@pytest.fixture(scope="module")
def tracklets_and_catalogue(
    catalog_dir: Path, tmp_path_factory
) -> tuple[list, Path, Catalogue, dict]:
    catalogue = Catalogue.from_path(catalog_dir)
    sensors = [
        Sensor(sensor_id="ctio", lat_deg=-30.169, lon_deg=-70.8063, alt_m=2207.0, sigma_arcsec=2),
        Sensor(sensor_id="teide", lat_deg=28.3008, lon_deg=-16.5117, alt_m=2390.0, sigma_arcsec=3),
        Sensor(
            sensor_id="neossat",
            tle=list(catalogue.lines[catalogue.index_of([39089])[0]]),
            sigma_arcsec=4,
        ),
    ]
    settings = PassSettings(catch_probability=0.8, max_passes_per_night=1)
    simulated = simulate_passes(
        catalogue, OBJECTS, sensors, START, 1.3 * 86400.0, np.random.default_rng(2), settings
    )
    tracklets = sorted((s.tracklet for s in simulated), key=lambda t: (t.times[-1], t.track_id))
    truth = {s.tracklet.track_id: s.norad_id for s in simulated}
    # The worker's catalogue lacks the objects (they are UCTs): a slice of the real one.
    folder = tmp_path_factory.mktemp("catalog")
    catalogue.without(OBJECTS).subset(np.arange(0, 2000)).write(folder / "catalog.tle")
    return tracklets, folder, catalogue, truth


def offline_records(tracklets) -> list[dict]:
    linker = Linker()
    return [json.loads(o.record().to_json()) for t in tracklets for o in linker.link(t)]


def dedupe(records: list[dict]) -> list[dict]:
    """One record per (uct_id, revision), in order; copies must be the same record."""
    seen: dict[tuple[str, int], dict] = {}
    for record in records:
        key = (record["uct_id"], record["revision"])
        if key in seen:
            assert same_record(seen[key], record), f"copies of {key} differ"
        else:
            seen[key] = record
    return sorted(seen.values(), key=lambda r: (int(r["uct_id"][4:]), r["revision"]))


def assert_same_records(got: list[dict], expected: list[dict]) -> None:
    assert [(r["uct_id"], r["revision"]) for r in got] == [
        (r["uct_id"], r["revision"]) for r in expected
    ]
    for a, b in zip(got, expected):
        assert same_record(a, b), (a, b)


def publish_tracklets(bootstrap: str, settings, tracklets) -> None:
    publish_raw(
        bootstrap,
        settings.topic("tracklets"),
        [(t.track_id.encode(), encode_record(t)) for t in tracklets],
    )


def _linking_worker(
    spawn_worker, settings, catalog: Path, data: Path, name: str, identify_interval_s: int = 3600
):
    """A worker on ``catalog``, ready. By default it does not identify objects meanwhile (the
    tests of links and state)."""
    env = worker_env(settings, data) | {"ORBITLINK_IDENTIFY_INTERVAL_S": str(identify_interval_s)}
    worker = spawn_worker(*worker_args(settings, "--catalog", str(catalog)), name=name, env=env)
    worker.wait_for_log("worker ready", timeout_s=120)
    return worker


def _objects_published(bootstrap: str, settings, expected: list[dict], worker) -> list[dict]:
    """The uct-objects records, deduplicated, once there are as many as ``expected``."""
    got = wait_for_records(
        bootstrap,
        settings.topic("uct_objects"),
        lambda got: len(dedupe(got)) >= len(expected),
        timeout_s=240,
        describe=worker.log_tail,
    )
    return dedupe(got)


def test_provisional_objects_are_published_live_and_survive_a_crash(
    bootstrap, broker_url, topic_prefix, spawn_worker, tracklets_and_catalogue, tmp_path
):
    tracklets, catalog, _, _ = tracklets_and_catalogue
    assert len(tracklets) >= 8
    expected = dedupe(offline_records(tracklets))
    assert any(len(r["track_ids"]) >= 3 and r["tle"] for r in expected)
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    worker = partial(_linking_worker, spawn_worker, settings, catalog, tmp_path / "data")
    first = worker("worker-1")
    half = len(tracklets) // 2
    publish_tracklets(bootstrap, settings, tracklets[:half])
    _objects_published(bootstrap, settings, dedupe(offline_records(tracklets[:half])), first)
    first.kill()  # SIGKILL: no clean shutdown, no final commit

    # Tracklets keep coming while no worker runs; another takes over from the changelog.
    publish_tracklets(bootstrap, settings, tracklets[half:])
    second = worker("worker-2")
    # Every change of every object, each once after deduplication, exactly as offline: the
    # second worker carried on from the first one's linker state, not from an empty one.
    assert_same_records(_objects_published(bootstrap, settings, expected, second), expected)
    assert second.alive()


def _links_logged(worker) -> int:
    return len(LINK_LOGGED.findall(worker.log_text()))


def _group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_worker_killed_during_a_link_leaves_no_process_and_is_taken_over(
    bootstrap, broker_url, topic_prefix, spawn_worker, tracklets_and_catalogue, tmp_path
):
    tracklets, catalog, _, _ = tracklets_and_catalogue
    expected = dedupe(offline_records(tracklets))
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    worker = partial(_linking_worker, spawn_worker, settings, catalog, tmp_path / "data")
    first = worker("worker-1")
    publish_tracklets(bootstrap, settings, tracklets)
    # Links follow each other (each takes a few hundred milliseconds here), so right after
    # the fourth is logged the fifth is being linked, in the worker's child process.
    deadline = time.monotonic() + 180
    while _links_logged(first) < 4:
        assert time.monotonic() < deadline, first.log_tail()
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)  # the worker alone, as the kernel's OOM killer would
    first.popen.wait(timeout=30)
    assert _links_logged(first) < len(tracklets)
    # Its child (and multiprocessing's resource tracker) must not outlive it.
    assert _group_gone(first.pid, 15.0), "a process of the killed worker is still running"

    second = worker("worker-2")
    assert_same_records(_objects_published(bootstrap, settings, expected, second), expected)
    assert second.alive()


def test_a_provisional_object_is_identified_when_its_element_set_arrives(
    bootstrap, broker_url, topic_prefix, spawn_worker, tracklets_and_catalogue, tmp_path
):
    tracklets, catalog, catalogue, truth = tracklets_and_catalogue
    settings = test_settings(broker_url, topic_prefix)
    ensure_topics(settings)
    worker = _linking_worker(spawn_worker, settings, catalog, tmp_path / "data", "w", 1)
    publish_tracklets(bootstrap, settings, tracklets)
    expected = dedupe(offline_records(tracklets))
    _objects_published(bootstrap, settings, expected, worker)
    # GOES-16's element set is published on the catalogue topic, as a new TLE would be.
    index = int(catalogue.index_of([41866])[0])
    publish_raw(
        bootstrap, settings.topic("catalogue"), [encode_element_set(catalogue.element_set(index))]
    )
    goes = {r["uct_id"] for r in expected if {truth[t] for t in r["track_ids"]} == {41866}}
    got = wait_for_records(
        bootstrap,
        settings.topic("uct_objects"),
        lambda got: any(r["norad_id"] == 41866 for r in got),
        timeout_s=120,
        describe=worker.log_tail,
    )
    named = [r for r in got if r["norad_id"] is not None]
    assert {r["norad_id"] for r in named} == {41866}
    assert all(r["status"] == "identified" and r["uct_id"] in goes for r in named)
    worker.wait_for_log("identified as NORAD 41866", timeout_s=30)
