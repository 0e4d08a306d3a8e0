"""One frame message in, its records out: validation, pipeline call, state, dead letters.

:class:`FrameProcessor` is what the Faust frames agent calls for every message. It owns no
algorithm (that is :class:`tracking.pipeline.Pipeline`) and no Kafka client (records go to a
:class:`~stream.sinks.Sink`, state to any mutable mapping — the Faust table in the worker).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass

from orbitlink.tracking.errors import UnknownSensorError
from orbitlink.tracking.models import Frame
from orbitlink.tracking.pipeline import Pipeline

from .codecs import Rejected, dead_letter, decode_frame, encode_record
from .settings import StreamSettings
from .sinks import OutboundRecord, Sink

__all__ = ["FrameOutcome", "FrameProcessor", "Metrics", "NEXT_OFFSET_KEY"]

#: Table key prefix of the per-partition "next offset to process" (sensor ids cannot start
#: with a NUL byte, so these never collide with a sensor's state).
NEXT_OFFSET_KEY = b"\x00next-offset:"


#: How many times a partition is sought back to a missing offset before it is given up.
REWIND_ATTEMPTS = 5


def _next_offset_key(partition: int) -> bytes:
    return NEXT_OFFSET_KEY + str(partition).encode()


@dataclass
class _Rewind:
    """A partition sought back to ``expected``; ``skipped`` offsets arrived meanwhile."""

    expected: int
    skipped: set[int]
    attempts: int = 1


log = logging.getLogger(__name__)


class Metrics(Counter):
    """Counters of the worker: frames by disposition, detections, records, dead letters."""

    def summary(self) -> str:
        keys = (
            "frames",
            "processed",
            "duplicate",
            "out_of_order",
            "dead_letters",
            "rewinds",
            "detections",
            "tracks_out",
            "associations_out",
        )
        return " ".join(f"{k}={self.get(k, 0)}" for k in keys)


@dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame message (what the agent yields)."""

    disposition: str  # processed | duplicate | out_of_order | dead_letter | rewound
    sensor_id: str | None = None
    frame_id: str | None = None
    tracks: int = 0
    associations: int = 0
    reason: str | None = None


class FrameProcessor:
    """Validates a frame message, runs it through the pipeline and publishes the result.

    ``states`` maps the sensor id (bytes) to the sensor's tracker state (bytes), and
    ``NEXT_OFFSET_KEY + partition`` to the next frames offset to process there.
    ``rewind(topic, partition, offset)``, when given, seeks the consumer back (see below).
    ``wait_for_sensor(sensor_id)``, when given, is awaited once for a frame whose sensor is
    unknown; it returns once the sensors topic has been read up to now (the sensor may have
    been published just before its frames), after which an unknown sensor is a dead letter.
    """

    def __init__(
        self,
        settings: StreamSettings,
        pipeline: Pipeline,
        sink: Sink,
        states: MutableMapping[bytes, bytes],
        *,
        wait_for_sensor: Callable[[str], Awaitable[object]] | None = None,
        metrics: Metrics | None = None,
        rewind: Callable[[str, int, int], Awaitable[object]] | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sink = sink
        self.states = states
        self.wait_for_sensor = wait_for_sensor
        self.metrics = metrics if metrics is not None else Metrics()
        self.tracks_topic = settings.topic("tracks")
        self.associations_topic = settings.topic("associations")
        self.deadletter_topic = settings.topic("deadletter")
        self.rewind = rewind
        self._last_offset: dict[tuple[str, int], int] = {}
        self._rewinding: dict[tuple[str, int], _Rewind] = {}
        self._gave_up: dict[tuple[str, int], int] = {}

    async def handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> FrameOutcome:
        """Process one message of the frames topic. Never raises for bad input."""
        if await self._skip_for_rewind(topic, partition, offset):
            return FrameOutcome("rewound")
        if await self._rewind_if_skipped(topic, partition, offset):
            return FrameOutcome("rewound")
        self.metrics["frames"] += 1
        self._note_offset(topic, partition, offset)
        outcome = await self._handle(key, value, topic=topic, partition=partition, offset=offset)
        self.states[_next_offset_key(partition)] = str(offset + 1).encode()
        return outcome

    async def _handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> FrameOutcome:
        try:
            frame = decode_frame(value)
            self._check_key(key, frame)
            result = await self._process(frame)
        except Rejected as rejected:
            return await self._reject(key, value, topic, partition, offset, rejected.reason)
        except UnknownSensorError as error:
            return await self._reject(key, value, topic, partition, offset, str(error))
        except Exception as error:
            log.exception("frames: %s[%d]@%d failed in the pipeline", topic, partition, offset)
            return await self._reject(
                key,
                value,
                topic,
                partition,
                offset,
                f"processing error: {type(error).__name__}: {error}",
            )

        self.metrics[result.disposition] += 1
        if result.disposition != "processed":
            log.debug(
                "frames: %s of sensor %s is %s", frame.frame_id, frame.sensor_id, result.disposition
            )
            return FrameOutcome(result.disposition, frame.sensor_id, frame.frame_id)
        self.metrics["detections"] += len(frame.detections)
        records = [
            OutboundRecord(self.tracks_topic, u.track_id.encode(), encode_record(u))
            for u in result.tracks
        ]
        records += [
            OutboundRecord(self.associations_topic, a.track_id.encode(), encode_record(a))
            for a in result.associations
        ]
        # Records first, state second: see stream/sinks.py for why this order.
        await self.sink.publish(records)
        self.states[frame.sensor_id.encode()] = result.state
        self.metrics["tracks_out"] += len(result.tracks)
        self.metrics["associations_out"] += len(result.associations)
        return FrameOutcome(
            "processed",
            frame.sensor_id,
            frame.frame_id,
            len(result.tracks),
            len(result.associations),
        )

    # -- offset continuity ------------------------------------------------------------------
    #
    # The state table also keeps, per frames partition, the offset of the next frame to
    # process. Faust 0.15 can lose a message when it takes over a partition (its fetcher runs
    # while it seeks to the committed offset, and a message fetched before the seek can be
    # dropped); frames are not independent, so a lost frame would quietly change every later
    # record of its sensor. When a message arrives beyond the expected offset, the worker seeks
    # back to it and ignores what is already buffered until the expected message comes again.

    async def _rewind_if_skipped(self, topic: str, partition: int, offset: int) -> bool:
        stored = self.states.get(_next_offset_key(partition))
        if stored is None or self.rewind is None:
            return False
        expected = int(stored)
        if offset <= expected or self._gave_up.get((topic, partition)) == expected:
            return False
        log.warning(
            "frames: %s[%d] delivered offset %d but %d is next; seeking back",
            topic,
            partition,
            offset,
            expected,
        )
        self.metrics["rewinds"] += 1
        self._rewinding[(topic, partition)] = _Rewind(expected, {offset})
        await self.rewind(topic, partition, expected)
        return True

    async def _skip_for_rewind(self, topic: str, partition: int, offset: int) -> bool:
        pending = self._rewinding.get((topic, partition))
        if pending is None:
            return False
        if offset == pending.expected:
            del self._rewinding[(topic, partition)]
            return False
        if offset not in pending.skipped:
            pending.skipped.add(offset)
            return True
        # An offset seen twice: the re-fetch went past the expected one without it. Messages
        # fetched before the seek can still be arriving and push Faust's read position ahead,
        # so seek again after a pause; after a few tries the offsets are taken as gone
        # (deleted by retention, say) and the worker carries on from here, saying so.
        if pending.attempts < REWIND_ATTEMPTS:
            pending.attempts += 1
            pending.skipped = {offset}
            await asyncio.sleep(0.2 * pending.attempts)
            await self.rewind(topic, partition, pending.expected)
            return True
        log.error(
            "frames: %s[%d] offsets %d..%d are gone; continuing at %d",
            topic,
            partition,
            pending.expected,
            offset - 1,
            offset,
        )
        del self._rewinding[(topic, partition)]
        self._gave_up[(topic, partition)] = pending.expected
        return False

    def _note_offset(self, topic: str, partition: int, offset: int) -> None:
        # Offsets of a partition normally arrive consecutively; a jump means frames were
        # skipped (or compacted away), which would silently cost tracks, so it is logged.
        last = self._last_offset.get((topic, partition))
        if last is None:
            log.info("frames: %s[%d] starts at offset %d", topic, partition, offset)
        elif offset != last + 1:
            log.warning(
                "frames: %s[%d] jumped from offset %d to %d", topic, partition, last, offset
            )
        self._last_offset[(topic, partition)] = offset

    @staticmethod
    def _check_key(key: bytes | None, frame: Frame) -> None:
        # The key decides the partition, and a sensor's state lives in its partition's
        # changelog: a frame keyed otherwise would be tracked from the wrong (empty) state.
        expected = frame.sensor_id.encode()
        if key != expected:
            shown = None if key is None else key.decode("utf-8", "backslashreplace")
            raise Rejected(
                f"message key {shown!r} differs from sensor_id "
                f"{frame.sensor_id!r}: frames must be keyed by sensor_id"
            )

    async def _process(self, frame: Frame):
        state = self.states.get(frame.sensor_id.encode())
        try:
            return self.pipeline.process(frame, state)
        except UnknownSensorError:
            if self.wait_for_sensor is None:
                raise
        started = time.monotonic()
        await self.wait_for_sensor(frame.sensor_id)
        log.info("frames: waited %.2f s for sensor %s", time.monotonic() - started, frame.sensor_id)
        return self.pipeline.process(frame, state)

    async def _reject(
        self,
        key: bytes | None,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
    ) -> FrameOutcome:
        self.metrics["dead_letters"] += 1
        log.warning("frames: %s[%d]@%d to dead letters: %s", topic, partition, offset, reason)
        await self.sink.publish(
            [
                OutboundRecord(
                    self.deadletter_topic,
                    key,
                    dead_letter(
                        raw=value,
                        key=key,
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        reason=reason,
                    ),
                )
            ]
        )
        return FrameOutcome("dead_letter", reason=reason)
