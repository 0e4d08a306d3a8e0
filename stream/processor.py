"""One frame message in, its records out: validation, pipeline call, state, dead letters.

:class:`FrameProcessor` is what the Faust frames agent calls for every message. It owns no
algorithm (that is :class:`~orbitlink.tracking.pipeline.Pipeline`) and no Kafka client (records
go to a :class:`~orbitlink.stream.sinks.Sink`, state to any mutable mapping: the Faust table in
the worker); offset continuity is :class:`~orbitlink.stream.offsets.OffsetGuard`'s, dead letters
:class:`~orbitlink.stream.deadletters.DeadLetters`'.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass

from orbitlink.tracking.errors import FormatError, UnknownSensorError
from orbitlink.tracking.linking import hook as _hook  # noqa: F401  (TEMPORARY: FrameResult.tracklets)
from orbitlink.tracking.models import Frame
from orbitlink.tracking.pipeline import Pipeline

from .codecs import decode_frame, encode_record
from .deadletters import DeadLetters
from .offsets import OffsetGuard
from .settings import StreamSettings
from .sinks import OutboundRecord, Sink

__all__ = ["FrameOutcome", "FrameProcessor", "Metrics"]

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
            "tracklets_out",
            "uct_objects_out",
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

    ``states`` maps the sensor id (bytes) to the sensor's tracker state (bytes); the
    :class:`~orbitlink.stream.offsets.OffsetGuard` keeps each partition's next offset there too,
    and ``rewind(topic, partition, offset)``, when given, is how it seeks the consumer back.
    ``wait_for_sensor(sensor_id)``, when given, is awaited once for a frame whose sensor is
    unknown; it returns once the sensors topic has been read up to now (the sensor may have
    been published just before its frames), after which an unknown sensor is a dead letter.
    Dead letters go to ``dead_letters``, by default published through ``sink``.
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
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sink = sink
        self.states = states
        self.wait_for_sensor = wait_for_sensor
        self.metrics = metrics if metrics is not None else Metrics()
        self.tracks_topic = settings.topic("tracks")
        self.associations_topic = settings.topic("associations")
        self.tracklets_topic = settings.topic("tracklets")
        self.offsets = OffsetGuard(states, rewind, self.metrics)
        self.dead_letters = (
            dead_letters
            if dead_letters is not None
            else DeadLetters(settings.topic("deadletter"), sink, self.metrics)
        )

    async def handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> FrameOutcome:
        """Process one message of the frames topic. Never raises for bad input."""
        if not await self.offsets.admit(topic, partition, offset):
            return FrameOutcome("rewound")
        self.metrics["frames"] += 1
        outcome = await self._handle(key, value, topic=topic, partition=partition, offset=offset)
        self.offsets.done(partition, offset)
        return outcome

    async def _handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> FrameOutcome:
        where = (key, value, topic, partition, offset)
        try:
            frame = decode_frame(value)
            self._check_key(key, frame)
        except FormatError as error:
            return await self._reject(*where, error.reason)
        except Exception as error:
            return await self._fail(*where, error)
        try:
            result = await self._process(frame)
        except UnknownSensorError as error:
            return await self._reject(*where, str(error))
        except Exception as error:
            return await self._fail(*where, error)

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
        # The UCT tracks that ended here, for the linker agent (stream/linker.py).
        records += [
            OutboundRecord(self.tracklets_topic, t.track_id.encode(), encode_record(t))
            for t in result.tracklets
        ]
        # Records first, state second: see stream/sinks.py for why this order.
        await self.sink.publish(records)
        self.states[frame.sensor_id.encode()] = result.state
        self.metrics["tracks_out"] += len(result.tracks)
        self.metrics["associations_out"] += len(result.associations)
        self.metrics["tracklets_out"] += len(result.tracklets)
        return FrameOutcome(
            "processed",
            frame.sensor_id,
            frame.frame_id,
            len(result.tracks),
            len(result.associations),
        )

    @staticmethod
    def _check_key(key: bytes | None, frame: Frame) -> None:
        # The key decides the partition, and a sensor's state lives in its partition's
        # changelog: a frame keyed otherwise would be tracked from the wrong (empty) state.
        expected = frame.sensor_id.encode()
        if key != expected:
            shown = None if key is None else key.decode("utf-8", "backslashreplace")
            raise FormatError(
                f"message key {shown!r} differs from sensor_id "
                f"{frame.sensor_id!r}: frames must be keyed by sensor_id",
                field="sensor_id",
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

    async def _fail(
        self,
        key: bytes | None,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        error: Exception,
    ) -> FrameOutcome:
        log.exception("frames: %s[%d]@%d failed in the pipeline", topic, partition, offset)
        reason = f"processing error: {type(error).__name__}: {error}"
        return await self._reject(key, value, topic, partition, offset, reason)

    async def _reject(
        self,
        key: bytes | None,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
    ) -> FrameOutcome:
        log.warning("frames: %s[%d]@%d to dead letters: %s", topic, partition, offset, reason)
        await self.dead_letters.publish(
            topic=topic, partition=partition, offset=offset, key=key, value=value, reason=reason
        )
        return FrameOutcome("dead_letter", reason=reason)
