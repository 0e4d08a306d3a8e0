"""The frames agent under Faust's test context (no broker): records out, dead letters out.

The agent is the real one from :func:`orbitlink.stream.app.create_app`, with the real pipeline
on a simulated scenario; only the output producer and the side inputs are in-memory ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamtools import small_scenario

from orbitlink.stream.app import create_app
from orbitlink.stream.codecs import encode_record
from orbitlink.stream.inputs import MemoryInputs
from orbitlink.stream.settings import StreamSettings
from orbitlink.stream.sinks import MemorySink
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.pipeline import Pipeline


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path) -> Path:
    return small_scenario(catalog_dir)


@pytest.fixture(scope="module")
def catalogue(scenario: Path) -> Catalogue:
    return Catalogue.from_path(scenario / "catalog")


async def _app(scenario: Path, catalogue: Catalogue):
    settings = StreamSettings(topic_prefix="ctx.", store="memory://")
    sink = MemorySink()
    pipeline = Pipeline(read_sensors(scenario / "sensors.json"), catalogue)
    holder = create_app(settings, pipeline, sink=sink, inputs=MemoryInputs())
    # What the app's start task does in a worker (test_context runs no app task).
    await holder.start_services()
    return settings, sink, holder


async def test_agent_emits_the_pipelines_records(scenario: Path, catalogue: Catalogue) -> None:
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))[:60]
    settings, sink, holder = await _app(scenario, catalogue)

    # What the pipeline alone gives for the same frames, in the same order.
    reference = Pipeline(read_sensors(scenario / "sensors.json"), catalogue)
    states: dict[str, bytes] = {}
    expected_tracks, expected_associations = [], []
    for frame in frames:
        result = reference.process(frame, states.get(frame.sensor_id))
        states[frame.sensor_id] = result.state
        expected_tracks += [json.loads(encode_record(u)) for u in result.tracks]
        expected_associations += [json.loads(encode_record(a)) for a in result.associations]
    assert expected_associations, "scenario too small: no association in the first frames"

    async with holder.frames_agent.test_context() as agent:
        for frame in frames:
            await agent.put(value=encode_record(frame), key=frame.sensor_id.encode())
        outcomes = [agent.results[i] for i in range(len(frames))]

    assert [o.disposition for o in outcomes] == ["processed"] * len(frames)
    tracks = sink.records[settings.topic("tracks")]
    associations = sink.records[settings.topic("associations")]
    assert [json.loads(r.value) for r in tracks] == expected_tracks
    assert [json.loads(r.value) for r in associations] == expected_associations
    # Keyed by track id, so a consumer can dedupe and the track's records stay in order.
    assert all(r.key == json.loads(r.value)["track_id"].encode() for r in tracks + associations)
    # The state table holds each sensor's latest state.
    for sensor_id, state in states.items():
        assert holder.table[sensor_id.encode()] == state
    assert sink.records[settings.topic("deadletter")] == []


async def test_agent_dead_letters_a_malformed_frame(scenario: Path, catalogue: Catalogue) -> None:
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))[:2]
    settings, sink, holder = await _app(scenario, catalogue)
    async with holder.frames_agent.test_context() as agent:
        await agent.put(value=b"{not json", key=b"ctio-geo")
        await agent.put(value=encode_record(frames[0]), key=frames[0].sensor_id.encode())
        await agent.put(value=encode_record(frames[1]), key=b"some-other-key")
        outcomes = [agent.results[i] for i in range(3)]

    assert [o.disposition for o in outcomes] == ["dead_letter", "processed", "dead_letter"]
    letters = [json.loads(r.value) for r in sink.records[settings.topic("deadletter")]]
    assert len(letters) == 2
    assert letters[0]["reason"].startswith("not JSON")
    assert letters[0]["value_text"] == "{not json"
    assert letters[0]["offset"] == 0 and letters[0]["key"] == "ctio-geo"
    assert "frames must be keyed by sensor_id" in letters[1]["reason"]
    assert json.loads(letters[1]["value_text"])["frame_id"] == frames[1].frame_id
    assert holder.metrics["dead_letters"] == 2


async def test_processor_seeks_back_over_skipped_frames(
    scenario: Path, catalogue: Catalogue
) -> None:
    """A frame delivered past the stored next offset (Faust lost some at a takeover) makes
    the processor seek back and ignore buffered messages until the missing one comes."""
    from orbitlink.stream.offsets import NEXT_OFFSET_KEY
    from orbitlink.stream.processor import FrameProcessor

    frames = [f for f in iter_frames_jsonl(scenario / "frames.jsonl") if f.sensor_id == "ctio-geo"][
        :8
    ]
    settings = StreamSettings(topic_prefix="rw.")
    sink, states, seeks = MemorySink(), {}, []

    async def rewind(topic: str, partition: int, offset: int) -> None:
        seeks.append((topic, partition, offset))

    processor = FrameProcessor(
        settings,
        Pipeline(read_sensors(scenario / "sensors.json"), catalogue),
        sink,
        states,
        rewind=rewind,
    )

    async def deliver(offset: int) -> str:
        frame = frames[offset]
        outcome = await processor.handle(
            frame.sensor_id.encode(),
            encode_record(frame),
            topic="frames",
            partition=2,
            offset=offset,
        )
        return outcome.disposition

    assert [await deliver(o) for o in (0, 1, 2)] == ["processed"] * 3
    assert states[NEXT_OFFSET_KEY + b"2"] == b"3"
    # 3 and 4 lost; 5 and 6 were already buffered when the seek took effect.
    assert [await deliver(o) for o in (5, 6)] == ["rewound", "rewound"]
    assert seeks == [("frames", 2, 3)]
    assert [await deliver(o) for o in (3, 4, 5, 6, 7)] == ["processed"] * 5

    reference = Pipeline(read_sensors(scenario / "sensors.json"), catalogue)
    state, expected = None, []
    for frame in frames:
        result = reference.process(frame, state)
        state = result.state
        expected += [json.loads(encode_record(u)) for u in result.tracks]
    assert [json.loads(r.value) for r in sink.records[settings.topic("tracks")]] == expected


async def test_a_partition_handed_back_resumes_without_a_false_jump_warning(caplog) -> None:
    """After a takeover a partition comes back at the offset the state table says the group
    reached, far from what this worker last saw: that is no jump."""
    import logging
    from collections import Counter

    from orbitlink.stream.offsets import OffsetGuard, next_offset_key

    states: dict[bytes, bytes] = {}
    guard = OffsetGuard(states, None, Counter())
    caplog.set_level(logging.INFO, logger="orbitlink.stream.offsets")
    for offset in (10, 11):
        assert await guard.admit("frames", 1, offset)
        guard.done(1, offset)
    states[next_offset_key(1)] = b"57"  # another worker processed 12..56 meanwhile
    assert await guard.admit("frames", 1, 57)
    assert not [r for r in caplog.records if "jumped" in r.getMessage()]
    guard.done(1, 57)
    assert await guard.admit("frames", 1, 60)  # a real gap (no rewind here) is still told
    assert [r for r in caplog.records if "jumped from offset 57 to 60" in r.getMessage()]
