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
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass

from orbitlink.tracking.errors import FormatError, UnknownSensorError
from orbitlink.tracking.models import Frame, format_time
from orbitlink.tracking.monitoring import Monitor
from orbitlink.tracking.pipeline import FrameResult, Pipeline, state_last_time_s
from orbitlink.tracking.plausibility import FrameClock
from orbitlink.tracking.times import datetime_from_unix

from .alerts import alert_record
from .codecs import decode_frame, encode_record
from .deadletters import DeadLetters
from .metrics import WorkerMetrics
from .offsets import OffsetGuard
from .settings import StreamSettings
from .sinks import DeliveryRefused, OutboundRecord, Sink
from .stagetimes import FrameStages, StageLog
from .states import SensorStates, StateTooLarge

__all__ = ["FrameOutcome", "FrameProcessor", "Metrics", "printable"]

log = logging.getLogger(__name__)


def printable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\n``, ``\\x1b``): what input
    puts in a log line (an id holding a newline, say) must not split it or forge another."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Metrics(Counter):
    """Counters of the worker: frames by disposition, detections, records, dead letters, and
    ``busy_us``, the time spent handling frames (the engine's own rate is detections per busy
    second, whatever the pace frames arrive at)."""

    def summary(self) -> str:
        keys = (
            "frames",
            "processed",
            "duplicate",
            "out_of_order",
            "redelivered",
            "dead_letters",
            "rewinds",
            "detections",
            "tracks_out",
            "associations_out",
            "tracklets_out",
            "uct_objects_out",
        )
        counts = " ".join(f"{k}={self.get(k, 0)}" for k in keys)
        return f"{counts} busy_s={self.get('busy_us', 0) / 1e6:.2f}"


def _bulk_records(topic: str, keys: Sequence[str], lines: bytes) -> list[OutboundRecord]:
    """One record per JSON line of ``lines`` (``\\n``-terminated, as
    :meth:`~orbitlink.tracking.pipeline.FrameResult.tracks_json_lines` writes them), keyed by
    ``keys`` in order. A JSON line holds no raw newline (strings escape theirs)."""
    values = lines.split(b"\n")[:-1]
    if len(values) != len(keys):
        raise ValueError(f"{len(values)} JSON lines for {len(keys)} keys on {topic}")
    return [OutboundRecord(topic, key.encode(), value) for key, value in zip(keys, values)]


@dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame message (what the agent yields)."""

    disposition: str  # processed | redelivered | dead_letter | rewound
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
    ``wait_for_sensor(sensor_id, published_s)``, when given, is awaited once for a frame whose
    sensor is unknown (``published_s``: when the frame was published, if known); it returns
    once the sensors topic has been read up to then (the sensor may have been published just
    before its frames), after which an unknown sensor is a dead letter.
    Dead letters go to ``dead_letters``, by default published through ``sink``.
    ``monitor``, when given, watches every processed frame (its alerts are published with
    the frame's records) and ``worker_metrics`` counts everything for ``/metrics``.

    Besides unreadable frames, these are dead-lettered: a frame over ``max_message_bytes``
    (the embedded broker does not enforce a topic's record limit), one with an implausible
    time (:class:`~orbitlink.tracking.plausibility.FrameClock`: it does not move the sensor's
    clock), one that would grow its sensor's state over ``max_state_bytes``, one whose records
    the broker refuses, and a duplicate or out-of-order frame that is not a redelivery (a
    redelivery is a frame below the partition's next offset, processed before a restart).
    """

    def __init__(
        self,
        settings: StreamSettings,
        pipeline: Pipeline,
        sink: Sink,
        states: MutableMapping[bytes, bytes],
        *,
        wait_for_sensor: Callable[[str, float | None], Awaitable[object]] | None = None,
        metrics: Metrics | None = None,
        rewind: Callable[[str, int, int], Awaitable[object]] | None = None,
        dead_letters: DeadLetters | None = None,
        monitor: Monitor | None = None,
        worker_metrics: WorkerMetrics | None = None,
        stage_log: StageLog | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sink = sink
        self.states = states
        self.wait_for_sensor = wait_for_sensor
        self.metrics = metrics if metrics is not None else Metrics()
        self.tracks_topic = settings.topic("tracks")
        self.associations_topic = settings.topic("associations")
        self.alerts_topic = settings.topic("alerts")
        self.monitor = monitor
        self.worker_metrics = worker_metrics
        self.stage_log = stage_log
        self.tracklets_topic = settings.topic("tracklets")
        self.offsets = OffsetGuard(states, rewind, self.metrics)
        self.sensor_states = SensorStates(
            states,
            # Room for the key and the record's framing within the producer's request limit.
            piece_bytes=settings.max_message_bytes - 64 * 1024,
            max_state_bytes=settings.max_state_bytes,
        )
        self.clock = FrameClock(
            max_ahead_s=settings.max_frame_ahead_s,
            max_jump_s=settings.max_frame_jump_s,
            jump_confirm_frames=settings.frame_jump_confirm,
        )
        self._last_times: dict[str, tuple[bytes, float]] = {}
        self.dead_letters = (
            dead_letters
            if dead_letters is not None
            else DeadLetters(settings.topic("deadletter"), sink, self.metrics)
        )

    async def handle(
        self,
        key: bytes | None,
        value: bytes | None,
        *,
        topic: str,
        partition: int,
        offset: int,
        published_s: float | None = None,
    ) -> FrameOutcome:
        """Process one message of the frames topic (``published_s``: its broker timestamp,
        Unix seconds). Never raises for bad input."""
        if not await self.offsets.admit(topic, partition, offset):
            return FrameOutcome("rewound")
        self.metrics["frames"] += 1
        received_s = time.time()
        started = time.perf_counter()
        next_offset = self.offsets.next_offset(partition)
        redelivery = next_offset is not None and offset < next_offset
        outcome = await self._handle(
            key,
            value,
            topic=topic,
            partition=partition,
            offset=offset,
            redelivery=redelivery,
            published_s=published_s,
            received_s=received_s,
        )
        self.offsets.done(partition, offset)
        self.metrics["busy_us"] += round((time.perf_counter() - started) * 1e6)
        if self.worker_metrics is not None:
            self.worker_metrics.frame_done(outcome.sensor_id, outcome.disposition)
            if outcome.disposition == "processed":
                self.worker_metrics.frame_latency.labels(
                    self.worker_metrics.sensor_label(outcome.sensor_id)
                ).observe(time.perf_counter() - started)
                if published_s is not None:
                    self.worker_metrics.frame_age.labels(
                        self.worker_metrics.sensor_label(outcome.sensor_id)
                    ).observe(max(time.time() - published_s, 0.0))
        return outcome

    async def _handle(
        self,
        key: bytes | None,
        value: bytes | None,
        *,
        topic: str,
        partition: int,
        offset: int,
        redelivery: bool = False,
        published_s: float | None = None,
        received_s: float | None = None,
    ) -> FrameOutcome:
        where = (key, value, topic, partition, offset)
        if value is not None and len(value) > self.settings.max_message_bytes:
            reason = (
                f"too large: {len(value):,} bytes, over the {self.settings.max_message_bytes:,} "
                f"a frame may have (max_message_bytes)"
            )
            return await self._reject(*where, reason)
        try:
            frame = decode_frame(value)
            self._check_key(key, frame)
        except FormatError as error:
            return await self._reject(*where, error.reason)
        except Exception as error:
            return await self._fail(*where, error)
        try:
            state = self.sensor_states.get(frame.sensor_id)
            problem = self.clock.problem(
                frame.sensor_id,
                frame.time.timestamp(),
                last_time_s=self._last_time_s(frame.sensor_id, state),
                now_s=time.time(),
            )
            if problem is not None:
                return await self._reject(*where, problem)
            result = await self._process(frame, state, published_s)
            self.sensor_states.check_size(frame.sensor_id, result.state)
        except UnknownSensorError as error:
            return await self._reject(*where, str(error))
        except StateTooLarge as error:
            reason = f"{error} by frame {frame.frame_id!r} of {len(frame.detections):,} detections"
            return await self._reject(*where, reason)
        except Exception as error:
            return await self._fail(*where, error)

        if result.disposition != "processed":
            if redelivery:  # processed before a restart: its records are out already
                self.metrics["redelivered"] += 1
                return FrameOutcome("redelivered", frame.sensor_id, frame.frame_id)
            self.metrics[result.disposition] += 1
            return await self._reject(*where, self._refusal(frame, result.disposition, state))
        self.metrics["processed"] += 1
        self.metrics["detections"] += len(frame.detections)
        records = _bulk_records(
            self.tracks_topic, result.track_batch.track_id, result.tracks_json_lines()
        )
        records += _bulk_records(
            self.associations_topic,
            [a.track_id for a in result.associations],
            result.associations_json_lines(),
        )
        alerts = self._watch(frame, result)
        records += [
            OutboundRecord(self.alerts_topic, a.key.encode(), alert_record(a)) for a in alerts
        ]
        # The UCT tracks that ended here, for the linker agent (stream/linker.py).
        records += [
            OutboundRecord(self.tracklets_topic, t.track_id.encode(), encode_record(t))
            for t in result.tracklets
        ]
        encoded_s = time.time()
        # Records first, state second: see stream/sinks.py for why this order.
        try:
            await self.sink.publish(records)
        except DeliveryRefused as refused:
            reason = (
                f"output refused: the broker refused {len(refused.records)} of the frame's "
                f"{len(records)} records ({type(refused.error).__name__}); the sensor's state "
                f"is unchanged"
            )
            return await self._reject(*where, reason)
        delivered_s = time.time()
        self.sensor_states.put(frame.sensor_id, result.state)
        if self.stage_log is not None:
            self.stage_log.write(
                FrameStages(
                    frame.frame_id,
                    float("nan") if published_s is None else published_s,
                    encoded_s if received_s is None else received_s,
                    encoded_s,
                    delivered_s,
                    time.time(),
                )
            )
        self._last_times[frame.sensor_id] = (result.state, frame.time.timestamp())
        self.metrics["tracks_out"] += len(result.track_batch)
        self.metrics["associations_out"] += len(result.associations)
        self.metrics["tracklets_out"] += len(result.tracklets)
        if self.worker_metrics is not None:
            self.worker_metrics.processed(
                frame.sensor_id,
                len(frame.detections),
                result.track_batch.statuses,
                result.associations,
                len(result.state),
            )
            for alert in alerts:
                self.worker_metrics.alert(alert)
        return FrameOutcome(
            "processed",
            frame.sensor_id,
            frame.frame_id,
            len(result.track_batch),
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

    def _watch(self, frame: Frame, result: FrameResult) -> list:
        """The monitor's alerts for a processed frame (none without a monitor; a monitor
        failure is logged, never allowed to lose the frame)."""
        if self.monitor is None:
            return []
        try:
            return self.monitor.observe(frame, result.nis.values(), result.associations)
        except Exception:
            log.exception("monitor: frame %s of %s not monitored", frame.frame_id, frame.sensor_id)
            return []

    def _last_time_s(self, sensor_id: str, state: bytes | None) -> float:
        """Time of the sensor's last processed frame (NaN if none), read from its state
        once and then remembered while the state stays the one this processor wrote."""
        if state is None:
            return float("nan")
        known = self._last_times.get(sensor_id)
        if known is not None and known[0] == state:  # equal bytes, often the same object
            return known[1]
        last_time_s = state_last_time_s(state)
        self._last_times[sensor_id] = (state, last_time_s)
        return last_time_s

    def _refusal(self, frame: Frame, disposition: str, state: bytes | None) -> str:
        last = self._last_time_s(frame.sensor_id, state)
        if disposition == "duplicate":
            return (
                f"duplicate: frame {frame.frame_id!r} of sensor {frame.sensor_id!r} repeats an "
                f"already processed frame (its id, or its time); dropped"
            )
        return (
            f"out of order: frame {frame.frame_id!r} at {format_time(frame.time)} is older than "
            f"sensor {frame.sensor_id!r}'s last frame ({format_time(datetime_from_unix(last))});"
            f" dropped"
        )

    async def _process(self, frame: Frame, state: bytes | None, published_s: float | None):
        try:
            return self.pipeline.process(frame, state)
        except UnknownSensorError:
            if self.wait_for_sensor is None:
                raise
        started = time.monotonic()
        await self.wait_for_sensor(frame.sensor_id, published_s)
        log.info("frames: waited %.2f s for sensor %r", time.monotonic() - started, frame.sensor_id)
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
        log.warning(
            "frames: %s[%d]@%d to dead letters: %s", topic, partition, offset, printable(reason)
        )
        if self.worker_metrics is not None:
            self.worker_metrics.dead_letter(topic, reason)
        await self.dead_letters.publish(
            topic=topic, partition=partition, offset=offset, key=key, value=value, reason=reason
        )
        return FrameOutcome("dead_letter", reason=reason)
