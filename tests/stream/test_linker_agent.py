"""The linker agent's processor in this process: linking does not hold up the event loop.

An orbit determination takes from tens of milliseconds to seconds; the frames agent of the
same worker shares the event loop with the linker agent, so the link runs in a child process
(a started processor, as the worker's) or in a thread (one that was not started). The
tracklets are real ones (GOES-16 and EchoStar 18 seen from Cerro Tololo, simulated from their
real element sets), and the records are compared with the same tracklets linked directly.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from streamtools import same_record

from orbitlink.stream.codecs import encode_record
from orbitlink.stream.deadletters import DeadLetters
from orbitlink.stream.linker import LINKER_STATE_KEY, LinkerProcessor, identify_request
from orbitlink.stream.settings import StreamSettings
from orbitlink.stream.sinks import MemorySink
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.linking import Linker
from orbitlink.tracking.linking.passes import PassSettings, simulate_passes
from orbitlink.tracking.models import Sensor
from orbitlink.tracking.pipeline import Pipeline

START = 1780142400.0  # 2026-05-30T12:00:00Z
OBJECTS = (41866, 41592)  # GOES-16, EchoStar 18
SECONDS_TO_WAIT = 20.0


@pytest.fixture(scope="module")
def tracklets(catalog_dir: Path) -> list:
    catalogue = Catalogue.from_path(catalog_dir)
    site = Sensor(sensor_id="ctio", lat_deg=-30.169, lon_deg=-70.8063, alt_m=2207.0)
    passes = simulate_passes(
        catalogue,
        OBJECTS,
        [site],
        START,
        86400.0,
        np.random.default_rng(2),
        PassSettings(catch_probability=1.0, max_passes_per_night=1),
    )
    found = sorted((p.tracklet for p in passes), key=lambda t: t.times[-1])
    assert len(found) == 2, "both are seen from Cerro Tololo on the night of 2026-05-30"
    return found


def _processor() -> tuple[LinkerProcessor, MemorySink, dict[bytes, bytes]]:
    settings = StreamSettings()
    sink = MemorySink()
    states: dict[bytes, bytes] = {}
    dead_letters = DeadLetters(settings.topic("deadletter"), sink, Counter())
    processor = LinkerProcessor(
        settings, Pipeline([], None), sink, states, dead_letters=dead_letters
    )
    return processor, sink, states


def _hold(monkeypatch, owner, name: str) -> tuple[threading.Event, threading.Event]:
    """Make ``owner.name`` wait, once called, until the second event is set; the first is set
    when it is called."""
    inside, release = threading.Event(), threading.Event()
    real = getattr(owner, name)

    def held(*args, **kwargs):
        inside.set()
        release.wait(SECONDS_TO_WAIT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return inside, release


def _published(sink: MemorySink, settings: StreamSettings) -> list[bytes]:
    return [record.value for record in sink.records[settings.topic("uct_objects")]]


async def test_the_event_loop_runs_on_while_a_tracklet_is_linked(tracklets, monkeypatch) -> None:
    tracklet = tracklets[0]
    expected = [encode_record(o.record()) for o in Linker().link(tracklet)]
    inside, release = _hold(monkeypatch, Linker, "link")
    processor, sink, _ = _processor()
    task = asyncio.create_task(
        processor.handle(
            b"ctio-1", tracklet.to_json().encode(), topic="tracklets", partition=0, offset=0
        )
    )
    # Had the link run on the event loop, this wait would only return once it had finished.
    assert await asyncio.to_thread(inside.wait, SECONDS_TO_WAIT)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done(), "the link finished while held: it ran on the event loop"
    release.set()
    outcome = await task
    assert outcome.disposition == "opened"
    assert _published(sink, processor.settings) == expected


async def test_a_link_that_fails_half_way_leaves_no_trace(tracklets, monkeypatch) -> None:
    first, second = tracklets
    real_link = Linker.link

    def failing_link(self, tracklet):
        real_link(self, tracklet)  # changes the linker, as a bug late in a link would
        raise RuntimeError("late failure")

    processor, sink, _ = _processor()
    linked = await processor.handle(
        b"a", first.to_json().encode(), topic="tracklets", partition=0, offset=0
    )
    assert linked.disposition == "opened"
    monkeypatch.setattr(Linker, "link", failing_link)
    failed = await processor.handle(
        b"b", second.to_json().encode(), topic="tracklets", partition=0, offset=1
    )
    assert failed.disposition == "dead_letter" and "late failure" in failed.reason

    # The same tracklet again (a dead letter replayed, say) is linked from the saved state,
    # not taken for one that the half-changed linker already holds.
    monkeypatch.setattr(Linker, "link", real_link)
    again = await processor.handle(
        b"b", second.to_json().encode(), topic="tracklets", partition=0, offset=2
    )
    assert again.disposition in ("opened", "linked")
    direct = Linker()
    expected = [encode_record(o.record()) for t in (first, second) for o in direct.link(t)]
    assert _published(sink, processor.settings) == expected


async def test_a_started_processor_links_in_its_child_process(tracklets, monkeypatch) -> None:
    def refuse(self, tracklet):
        raise AssertionError("linked in the worker's own process")

    # Only this process's linker refuses: the records must come from the child.
    monkeypatch.setattr(Linker, "link", refuse)
    processor, sink, states = _processor()
    assert processor.settings.link_in_child_process  # the default
    processor.start()
    try:
        outcomes = [
            await processor.handle(
                t.track_id.encode(), t.to_json().encode(), topic="tracklets", partition=0, offset=k
            )
            for k, t in enumerate(tracklets)
        ]
        again = await processor.handle(
            b"x", tracklets[0].to_json().encode(), topic="tracklets", partition=0, offset=2
        )
    finally:
        processor.close()
    monkeypatch.undo()
    assert [o.disposition for o in outcomes] == ["opened", "opened"]
    assert again.disposition == "duplicate" and again.uct_ids == outcomes[0].uct_ids
    direct = Linker()
    expected = [json.loads(o.record().to_json()) for t in tracklets for o in direct.link(t)]
    got = [json.loads(value) for value in _published(sink, processor.settings)]
    assert len(got) == len(expected)
    assert all(same_record(a, b) for a, b in zip(got, expected)), (got, expected)
    assert (
        Linker.from_bytes(states[LINKER_STATE_KEY]).owner_of(tracklets[1].track_id)
        == (outcomes[1].uct_ids[-1])
    )


@pytest.mark.parametrize("asked_before_the_links", [False, True])
async def test_an_element_set_that_arrives_during_identification_is_compared_next(
    tracklets, catalog_dir: Path, monkeypatch, asked_before_the_links
) -> None:
    catalogue = Catalogue.from_path(catalog_dir)
    goes, echostar = (catalogue.subset(catalogue.index_of([n])) for n in OBJECTS)
    processor, sink, _ = _processor()
    processor.pipeline.update_catalogue(catalogue.without(OBJECTS))
    key, value = identify_request()
    offsets = iter(range(10))
    if asked_before_the_links:  # the catalogue is then seen, with no object to compare yet
        await processor.handle(key, value, topic="tracklets", partition=0, offset=next(offsets))
    for tracklet in tracklets:
        linked = await processor.handle(
            b"t", tracklet.to_json().encode(), topic="tracklets", partition=0, offset=next(offsets)
        )
        assert linked.disposition == "opened"
    assert processor.pipeline.update_catalogue(echostar) == 1
    inside, release = _hold(monkeypatch, Linker, "identify")
    task = asyncio.create_task(
        processor.handle(key, value, topic="tracklets", partition=0, offset=next(offsets))
    )
    assert await asyncio.to_thread(inside.wait, SECONDS_TO_WAIT)
    # GOES-16's element set arrives while the identification runs (the inputs update the
    # worker's catalogue in place, on the event loop).
    assert processor.pipeline.update_catalogue(goes) == 1
    release.set()
    await task
    named = {json.loads(v)["norad_id"] for v in _published(sink, processor.settings)}
    assert named == {None, OBJECTS[1]}, "it compares the sets there when it was asked"
    again = await processor.handle(key, value, topic="tracklets", partition=0, offset=next(offsets))
    assert again.disposition == "identified" and len(again.uct_ids) == 1
    named = {json.loads(v)["norad_id"] for v in _published(sink, processor.settings)}
    assert named == {None, *OBJECTS}, "the next request compares the set that came meanwhile"
