"""The frame processor against faults (issue 9), on the real pipeline and a real scenario,
with an in-memory sink and state table: what is refused reaches the dead letters with its
reason, and nothing refused changes a sensor's state or stops its partition."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from streamtools import small_scenario

from orbitlink.stream.codecs import encode_record
from orbitlink.stream.deadletters import KEPT_VALUE_BYTES, dead_letter_value
from orbitlink.stream.processor import FrameProcessor
from orbitlink.stream.settings import StreamSettings
from orbitlink.stream.sinks import DeliveryRefused, MemorySink
from orbitlink.stream.states import MANIFEST_MAGIC, SensorStates, StateTooLarge
from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.formats import iter_frames_jsonl, read_sensors
from orbitlink.tracking.pipeline import Pipeline


@pytest.fixture(scope="module")
def scenario(catalog_dir: Path) -> Path:
    return small_scenario(catalog_dir)


@pytest.fixture(scope="module")
def catalogue(scenario: Path) -> Catalogue:
    return Catalogue.from_path(scenario / "catalog")


@pytest.fixture(scope="module")
def frames(scenario: Path) -> list:
    return [f for f in iter_frames_jsonl(scenario / "frames.jsonl") if f.sensor_id == "ctio-geo"]


class Harness:
    def __init__(self, scenario: Path, catalogue: Catalogue, sink: MemorySink | None = None):
        self.settings = StreamSettings(topic_prefix="p.")
        self.sink = sink or MemorySink()
        self.states: dict[bytes, bytes] = {}
        self.processor = FrameProcessor(
            self.settings,
            Pipeline(read_sensors(scenario / "sensors.json"), catalogue),
            self.sink,
            self.states,
        )
        self.offset = 0

    async def put(self, value: bytes, key: bytes = b"ctio-geo") -> str:
        outcome = await self.processor.handle(
            key, value, topic="p.frames", partition=0, offset=self.offset
        )
        self.offset += 1
        return outcome.disposition

    def letters(self) -> list[dict]:
        return [json.loads(r.value) for r in self.sink.records["p.orbitlink.deadletter"]]

    def records(self, role: str) -> list[dict]:
        return [json.loads(r.value) for r in self.sink.records[f"p.orbitlink.{role}"]]


def _reference(scenario: Path, catalogue: Catalogue, frames: list) -> list[dict]:
    pipeline = Pipeline(read_sensors(scenario / "sensors.json"), catalogue)
    state, out = None, []
    for frame in frames:
        result = pipeline.process(frame, state)
        state = result.state
        out += [json.loads(encode_record(a)) for a in result.associations]
    return out


def _dated(frame, when: str) -> bytes:
    record = json.loads(encode_record(frame))
    return json.dumps(dict(record, time=when, frame_id=f"{frame.frame_id}-{when[:4]}")).encode()


async def test_implausible_times_are_dead_letters_and_do_not_move_the_clock(
    scenario, catalogue, frames
):
    harness = Harness(scenario, catalogue)
    head, tail = frames[:5], frames[5:40]
    for frame in head:
        assert await harness.put(encode_record(frame)) == "processed"
    hostile = [
        _dated(frames[5], "2200-01-01T00:00:00Z"),
        _dated(frames[5], "9999-12-31T00:00:00Z"),
        _dated(frames[5], "0001-01-01T00:00:00Z"),
    ]
    assert [await harness.put(v) for v in hostile] == ["dead_letter"] * 3
    for frame in tail:
        assert await harness.put(encode_record(frame)) == "processed"

    reasons = [d["reason"] for d in harness.letters()]
    assert reasons[0].startswith("implausible time: 2200-01-01") and "in the future" in reasons[0]
    assert reasons[1].startswith("implausible time: 9999-12-31")
    assert reasons[2].startswith("implausible time: 0001-01-01") and "1957" in reasons[2]
    # Every later genuine frame was tracked as if the hostile ones never came.
    assert harness.records("associations") == _reference(scenario, catalogue, head + tail)


async def test_duplicates_and_out_of_order_frames_are_reported(scenario, catalogue, frames):
    harness = Harness(scenario, catalogue)
    for frame in frames[:4]:
        await harness.put(encode_record(frame))
    again = encode_record(frames[3])
    reused_id = json.loads(encode_record(frames[4]))
    reused_id["frame_id"] = frames[2].frame_id  # a reused frame id with other content
    older = json.loads(encode_record(frames[1]))
    older["frame_id"] = "late"
    older = json.dumps(older).encode()
    outcomes = [await harness.put(v) for v in (again, json.dumps(reused_id).encode(), older)]
    assert outcomes == ["dead_letter"] * 3
    duplicate, reused, late = (d["reason"] for d in harness.letters())
    assert duplicate.startswith("duplicate: frame 'ctio-geo-") and "already processed" in duplicate
    assert reused.startswith(f"duplicate: frame {frames[2].frame_id!r}")
    assert late.startswith("out of order: frame 'late' at ")
    assert harness.processor.metrics["duplicate"] == 2
    assert harness.processor.metrics["out_of_order"] == 1


async def test_a_redelivered_frame_is_not_a_dead_letter(scenario, catalogue, frames):
    harness = Harness(scenario, catalogue)
    for frame in frames[:3]:
        await harness.put(encode_record(frame))
    # A restart re-reads from the last committed offset: offset 1 again, below the next (3).
    outcome = await harness.processor.handle(
        b"ctio-geo", encode_record(frames[1]), topic="p.frames", partition=0, offset=1
    )
    assert outcome.disposition == "redelivered" and harness.letters() == []


async def test_a_huge_rejected_message_gives_a_bounded_dead_letter(scenario, catalogue, frames):
    # What hung the worker: 3 MiB of NUL bytes, 18 MB once escaped into the dead letter's JSON.
    sink = MemorySink(max_record_bytes=1024 * 1024)  # Apache Kafka's default record limit
    harness = Harness(scenario, catalogue, sink)
    nul = b"\x00" * (3 * 1024 * 1024)
    assert await harness.put(nul) == "dead_letter"
    assert await harness.put(encode_record(frames[0])) == "processed"
    (letter,) = harness.letters()
    assert letter["reason"].startswith("not JSON")
    assert letter["value_bytes"] == len(nul) and letter["value_truncated"] is True
    assert letter["value_sha256"] == hashlib.sha256(nul).hexdigest()
    assert letter["value_text"] == "\x00" * KEPT_VALUE_BYTES
    record = sink.records["p.orbitlink.deadletter"][0]
    assert len(record.value) < 1024 * 1024
    assert harness.processor.metrics["dead_letters_refused"] == 0


def test_dead_letter_bounds_reason_and_key() -> None:
    value = dead_letter_value(
        raw=b"\xff" * 100_000, key=b"k" * 5000, topic="t", partition=0, offset=1, reason="x" * 9999
    )
    letter = json.loads(value)
    assert len(value) < 200_000 and letter["value_truncated"] is True
    assert letter["key"].startswith("sha256:") and "9,999 characters" in letter["reason"]
    assert len(letter["value_base64"]) == 4 * (KEPT_VALUE_BYTES + 2) // 3


async def test_refused_output_is_a_dead_letter_and_the_partition_goes_on(
    scenario, catalogue, frames
):
    class RefusingTracks(MemorySink):
        """Refuses every track update for good, as a broker refuses an oversized record."""

        async def publish(self, records):
            tracks = [r for r in records if r.topic.endswith(".tracks")]
            await super().publish([r for r in records if r not in tracks])
            if tracks:
                raise DeliveryRefused(tracks, MessageSizeTooLargeError("refused"))

    harness = Harness(scenario, catalogue, RefusingTracks())
    outcomes = [await harness.put(encode_record(f)) for f in frames[:12]]
    letters = harness.letters()
    assert "dead_letter" in outcomes and outcomes.count("dead_letter") == len(letters)
    assert all(d["reason"].startswith("output refused: the broker refused") for d in letters)
    assert harness.offset == 12 and harness.processor.offsets.next_offset(0) == 12
    # A dead letter the broker refuses too is dropped, logged, and the partition goes on.
    # (Track updates are 670-730 bytes: the larger ones are refused, and with them their
    # frames, whose dead letters are larger still.)
    both = Harness(scenario, catalogue, MemorySink(max_record_bytes=700))
    outcomes = [await both.put(encode_record(f)) for f in frames[:12]]
    assert "processed" in outcomes and "dead_letter" in outcomes
    assert both.processor.metrics["dead_letters_refused"] > 0
    assert both.processor.offsets.next_offset(0) == 12


def test_states_over_a_record_go_in_pieces_and_come_back() -> None:
    table: dict[bytes, bytes] = {}
    states = SensorStates(table, piece_bytes=1000, max_state_bytes=10_000)
    big, bigger, small = b"a" * 3500, b"b" * 9000, b"c" * 10
    states.put("s", big)
    assert table[b"s"].startswith(MANIFEST_MAGIC) and states.get("s") == big
    assert max(len(v) for v in table.values()) <= 1000
    states.put("s", bigger)
    assert states.get("s") == bigger
    states.put("s", big)  # back to the first generation: its extra pieces are removed
    assert states.get("s") == big and len(table) == 1 + 4 + 9
    states.put("s", small)
    assert table == {b"s": small}
    with pytest.raises(StateTooLarge, match="too large: the tracker state of sensor 's'"):
        states.put("s", b"d" * 10_001)
    assert states.get("s") == small


def test_a_piece_missing_is_an_error_not_a_wrong_state() -> None:
    table: dict[bytes, bytes] = {}
    states = SensorStates(table, piece_bytes=1000, max_state_bytes=10_000)
    states.put("s", b"a" * 2500)
    del table[next(k for k in table if k.startswith(b"\x00piece:"))]
    with pytest.raises(ValueError, match="missing"):
        states.get("s")


async def test_ids_cannot_split_a_log_line(scenario, catalogue, frames, caplog):
    harness = Harness(scenario, catalogue)
    record = json.loads(encode_record(frames[0]))
    evil = "evil\n2026-12-01 10:00:00 INFO forged line"
    value = json.dumps(dict(record, sensor_id=evil)).encode()
    assert await harness.put(value, key=evil.encode()) == "dead_letter"
    (letter,) = harness.letters()
    assert repr(evil) in letter["reason"]
    assert all("\n" not in r.getMessage() for r in caplog.records)
    assert any("evil\\n2026" in r.getMessage() for r in caplog.records)


def test_printable_escapes_what_would_split_or_colour_a_line() -> None:
    from orbitlink.stream.processor import printable

    assert printable("a\nb\x1b[31m\tc") == "a\\nb\\x1b[31m\\tc"
    assert printable("ÉCOLE ✓") == "ÉCOLE ✓"
