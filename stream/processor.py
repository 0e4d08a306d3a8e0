"""One frame message in, its records out: validation, pipeline call, state, dead letters.

:class:`FrameProcessor` is what the Faust frames agent calls for every message. It owns no
algorithm (that is :class:`tracking.pipeline.Pipeline`) and no Kafka client (records go to a
:class:`~stream.sinks.Sink`, state to any mutable mapping — the Faust table in the worker).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass

from tracking.models import Frame
from tracking.pipeline import Pipeline, UnknownSensorError

from .codecs import Rejected, dead_letter, decode_frame, encode_record
from .settings import StreamSettings
from .sinks import OutboundRecord, Sink

__all__ = ["FrameOutcome", "FrameProcessor", "Metrics"]

log = logging.getLogger(__name__)


class Metrics(Counter):
    """Counters of the worker: frames by disposition, detections, records, dead letters."""

    def summary(self) -> str:
        keys = ("frames", "processed", "duplicate", "out_of_order", "dead_letters",
                "detections", "tracks_out", "associations_out")
        return " ".join(f"{k}={self.get(k, 0)}" for k in keys)


@dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame message (what the agent yields)."""

    disposition: str  # processed | duplicate | out_of_order | dead_letter
    sensor_id: str | None = None
    frame_id: str | None = None
    tracks: int = 0
    associations: int = 0
    reason: str | None = None


class FrameProcessor:
    """Validates a frame message, runs it through the pipeline and publishes the result.

    ``states`` maps the sensor id (bytes) to the sensor's tracker state (bytes).
    ``wait_for_sensor(sensor_id)``, when given, is awaited once for a frame whose sensor is
    unknown; it returns once the sensors topic has been read up to now (the sensor may have
    been published just before its frames), after which an unknown sensor is a dead letter.
    """

    def __init__(self, settings: StreamSettings, pipeline: Pipeline, sink: Sink,
                 states: MutableMapping[bytes, bytes], *,
                 wait_for_sensor: Callable[[str], Awaitable[object]] | None = None,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sink = sink
        self.states = states
        self.wait_for_sensor = wait_for_sensor
        self.metrics = metrics if metrics is not None else Metrics()
        self.tracks_topic = settings.topic("tracks")
        self.associations_topic = settings.topic("associations")
        self.deadletter_topic = settings.topic("deadletter")
        self._last_offset: dict[tuple[str, int], int] = {}

    async def handle(self, key: bytes | None, value: bytes | None, *, topic: str,
                     partition: int, offset: int) -> FrameOutcome:
        """Process one message of the frames topic. Never raises for bad input."""
        self.metrics["frames"] += 1
        self._note_offset(topic, partition, offset)
        try:
            frame = decode_frame(value)
            self._check_key(key, frame)
            result = await self._process(frame)
        except Rejected as rejected:
            return await self._reject(key, value, topic, partition, offset, rejected.reason)
        except UnknownSensorError as error:
            return await self._reject(key, value, topic, partition, offset, str(error))
        except Exception as error:  # noqa: BLE001 - a pipeline failure must not kill the agent
            log.exception("frames: %s[%d]@%d failed in the pipeline", topic, partition, offset)
            return await self._reject(key, value, topic, partition, offset,
                                      f"processing error: {type(error).__name__}: {error}")

        self.metrics[result.disposition] += 1
        if result.disposition != "processed":
            log.debug("frames: %s of sensor %s is %s", frame.frame_id, frame.sensor_id,
                      result.disposition)
            return FrameOutcome(result.disposition, frame.sensor_id, frame.frame_id)
        self.metrics["detections"] += len(frame.detections)
        records = [OutboundRecord(self.tracks_topic, u.track_id.encode(), encode_record(u))
                   for u in result.tracks]
        records += [OutboundRecord(self.associations_topic, a.track_id.encode(),
                                   encode_record(a)) for a in result.associations]
        # Records first, state second: see stream/sinks.py for why this order.
        await self.sink.publish(records)
        self.states[frame.sensor_id.encode()] = result.state
        self.metrics["tracks_out"] += len(result.tracks)
        self.metrics["associations_out"] += len(result.associations)
        return FrameOutcome("processed", frame.sensor_id, frame.frame_id,
                            len(result.tracks), len(result.associations))

    def _note_offset(self, topic: str, partition: int, offset: int) -> None:
        # Offsets of a partition normally arrive consecutively; a jump means frames were
        # skipped (or compacted away), which would silently cost tracks, so it is logged.
        last = self._last_offset.get((topic, partition))
        if last is None:
            log.info("frames: %s[%d] starts at offset %d", topic, partition, offset)
        elif offset != last + 1:
            log.warning("frames: %s[%d] jumped from offset %d to %d", topic, partition, last,
                        offset)
        self._last_offset[(topic, partition)] = offset

    @staticmethod
    def _check_key(key: bytes | None, frame: Frame) -> None:
        # The key decides the partition, and a sensor's state lives in its partition's
        # changelog: a frame keyed otherwise would be tracked from the wrong (empty) state.
        expected = frame.sensor_id.encode()
        if key != expected:
            shown = None if key is None else key.decode("utf-8", "backslashreplace")
            raise Rejected(f"message key {shown!r} differs from sensor_id "
                           f"{frame.sensor_id!r}: frames must be keyed by sensor_id")

    async def _process(self, frame: Frame):
        state = self.states.get(frame.sensor_id.encode())
        try:
            return self.pipeline.process(frame, state)
        except UnknownSensorError:
            if self.wait_for_sensor is None:
                raise
        started = time.monotonic()
        await self.wait_for_sensor(frame.sensor_id)
        log.info("frames: waited %.2f s for sensor %s", time.monotonic() - started,
                 frame.sensor_id)
        return self.pipeline.process(frame, state)

    async def _reject(self, key: bytes | None, value: bytes | None, topic: str,
                      partition: int, offset: int, reason: str) -> FrameOutcome:
        self.metrics["dead_letters"] += 1
        log.warning("frames: %s[%d]@%d to dead letters: %s", topic, partition, offset, reason)
        await self.sink.publish([OutboundRecord(
            self.deadletter_topic, key,
            dead_letter(raw=value, key=key, topic=topic, partition=partition, offset=offset,
                        reason=reason))])
        return FrameOutcome("dead_letter", reason=reason)
