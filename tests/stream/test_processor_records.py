"""The frame processor's records are the models' wire form byte for byte: it publishes the
pipeline's bulk JSON lines (``FrameResult.tracks_json_lines`` and
``associations_json_lines``), and each record must equal ``encode_record`` of its model, keyed
by its track id, in the pipeline's order."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamtools import small_scenario

from orbitlink.stream.codecs import encode_record
from orbitlink.stream.processor import FrameProcessor
from orbitlink.stream.settings import StreamSettings
from orbitlink.stream.sinks import MemorySink, OutboundRecord
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.pipeline import Pipeline


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path) -> Path:
    return small_scenario(catalog_dir)


async def test_records_are_the_models_bytes(scenario: Path) -> None:
    catalogue = Catalogue.from_path(scenario / "catalog")
    sensors = read_sensors(scenario / "sensors.json")
    frames = list(iter_frames_jsonl(scenario / "frames.jsonl"))
    settings = StreamSettings(topic_prefix="p.")
    sink = MemorySink()
    processor = FrameProcessor(settings, Pipeline(sensors, catalogue), sink, {})

    reference = Pipeline(sensors, catalogue)
    states: dict[str, bytes | None] = {}
    expected_tracks: list[OutboundRecord] = []
    expected_associations: list[OutboundRecord] = []
    for offset, frame in enumerate(frames):
        outcome = await processor.handle(
            frame.sensor_id.encode(),
            encode_record(frame),
            topic="p.frames",
            partition=0,
            offset=offset,
        )
        assert outcome.disposition == "processed"
        result = reference.process(frame, states.get(frame.sensor_id))
        states[frame.sensor_id] = result.state
        expected_tracks += [
            OutboundRecord(settings.topic("tracks"), u.track_id.encode(), encode_record(u))
            for u in result.tracks
        ]
        expected_associations += [
            OutboundRecord(settings.topic("associations"), a.track_id.encode(), encode_record(a))
            for a in result.associations
        ]

    assert len(expected_tracks) > 100 and len(expected_associations) > 10
    assert sink.records[settings.topic("tracks")] == expected_tracks
    assert sink.records[settings.topic("associations")] == expected_associations
    assert processor.metrics["tracks_out"] == len(expected_tracks)
