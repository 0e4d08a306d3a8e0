"""The sensors and catalogue topics, read in full by every worker.

Each worker tracks only the frames of its partitions but may be handed any sensor's frames
after a rebalance, and every frame is correlated against the whole catalogue. So these two
compacted topics are not split across the consumer group: every worker reads all their
partitions from the beginning with its own group-less consumer and keeps tailing them.

:meth:`SideInputs.catch_up` waits until everything published to them *before the call* has
been applied; the worker calls it at start (before the first frame) and when a frame names a
sensor it does not know, so "publish the sensors, then the frames" works without races.
Catch-up relies on the broker's end offsets, which is why our producers write these topics one
record per batch (see docs/topics.md on the embedded broker).

The app sees its side inputs through the small :class:`Inputs` protocol: :class:`SideInputs`
reads them from Kafka (the worker), :class:`MemoryInputs` has nothing to read (a pipeline built
with its sensors and catalogue in the process: Faust's test context, say).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from orbitlink.tracking.catalogue import Catalogue, ElementSet
from orbitlink.tracking.errors import FormatError
from orbitlink.tracking.pipeline import Pipeline

from .codecs import decode_element_set, decode_sensor
from .deadletters import DeadLetters
from .processor import printable
from .settings import StreamSettings

__all__ = ["InputCounts", "Inputs", "MemoryInputs", "SideInputs"]

log = logging.getLogger(__name__)

#: See :meth:`SideInputs._run`: a fetch wait (0.1 s) and clock differences between hosts.
_CAUGHT_UP_MARGIN_S = 1.0


class Inputs(Protocol):
    """Where the worker's sensors and element sets come from, as the app sees it."""

    async def start(self, pipeline: Pipeline, dead_letters: DeadLetters) -> None:
        """Begin applying sensors and element sets to ``pipeline``; records that cannot be
        read go to ``dead_letters``."""

    async def catch_up(self, timeout_s: float) -> bool:
        """Wait until everything published before this call is applied; False on timeout."""

    def caught_up_after(self, published_s: float) -> bool:
        """Whether everything published up to ``published_s`` (Unix seconds) is applied
        already, so a sensor still unknown need not be waited for."""

    async def stop(self) -> None:
        """Stop reading (safe to call when never started)."""


class MemoryInputs:
    """No side inputs to read: the pipeline was given its sensors and catalogue in-process, so
    it is always caught up."""

    async def start(self, pipeline: Pipeline, dead_letters: DeadLetters) -> None:
        pass

    async def catch_up(self, timeout_s: float) -> bool:
        return True

    def caught_up_after(self, published_s: float) -> bool:
        return True

    async def stop(self) -> None:
        pass


@dataclass
class InputCounts:
    sensors: int = 0
    element_sets: int = 0
    element_sets_applied: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)


class SideInputs:
    """Tails the sensors and catalogue topics of ``settings`` into a pipeline (:class:`Inputs`).

    Each sensor record is added to the pipeline as it comes; the element sets of a fetched
    batch are applied together (a set replaces the pipeline's only if its epoch is newer).
    Records that cannot be read are logged and dead-lettered.
    """

    def __init__(self, settings: StreamSettings) -> None:
        self.settings = settings
        self.sensors_topic = settings.topic("sensors")
        self.catalogue_topic = settings.topic("catalogue")
        self.pipeline: Pipeline | None = None
        self.dead_letters: DeadLetters | None = None
        self.counts = InputCounts()
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._task: asyncio.Task | None = None
        self._progress = asyncio.Condition()
        self._applied: dict[TopicPartition, int] = {}
        #: Wall-clock time up to which everything published is known to be applied.
        self._caught_up_at = float("-inf")

    async def start(self, pipeline: Pipeline, dead_letters: DeadLetters) -> None:
        self.pipeline = pipeline
        self.dead_letters = dead_letters
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self.settings.faust_app_id}-inputs",
            fetch_max_wait_ms=100,
            **self.settings.client_security(),
        )
        await self._consumer.start()
        self._partitions = []
        for topic in (self.sensors_topic, self.catalogue_topic):
            parts = await self._partitions_of(topic)
            self._partitions += [TopicPartition(topic, p) for p in sorted(parts)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        self._task = asyncio.create_task(self._run(), name="orbitlink-side-inputs")

    async def _partitions_of(self, topic: str) -> set[int]:
        assert self._consumer is not None
        for _ in range(100):
            parts = self._consumer.partitions_for_topic(topic)
            if parts:
                return parts
            await self._consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        raise RuntimeError(
            f"topic {topic!r} does not exist on {self.settings.broker}; "
            f"create the topics first (orbitlink worker does at start)"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self, timeout_s: float) -> bool:
        """Wait until every record published before this call is applied; False on timeout."""
        assert self._consumer is not None
        try:
            ends = await asyncio.wait_for(self._consumer.end_offsets(self._partitions), timeout_s)
        except (TimeoutError, KafkaError) as error:
            log.warning("inputs: cannot read end offsets (%s)", error)
            return False

        def reached() -> bool:
            return all(self._applied.get(tp, 0) >= end for tp, end in ends.items())

        async with self._progress:
            try:
                await asyncio.wait_for(self._progress.wait_for(reached), timeout_s)
            except TimeoutError:
                return False
        return True

    def caught_up_after(self, published_s: float) -> bool:
        return self._caught_up_at > published_s

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            # A fetch answered during this round was asked for at most a fetch wait before
            # it began; the margin covers that and the clocks of producer and worker.
            round_started_s = time.time() - _CAUGHT_UP_MARGIN_S
            try:
                batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            except KafkaError as error:  # broker away: keep trying, never exit
                log.warning("inputs: fetch failed (%s); retrying", error)
                await asyncio.sleep(1.0)
                continue
            element_sets: list[ElementSet] = []
            for messages in batches.values():
                for message in messages:
                    reason = self._apply(message, element_sets)
                    if reason is not None and self.dead_letters is not None:
                        await self.dead_letters.publish(
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                            key=message.key,
                            value=message.value,
                            reason=reason,
                        )
            if element_sets:
                self._apply_element_sets(element_sets)
            at_end = True
            for tp in self._partitions:
                position = await self._consumer.position(tp)
                self._applied[tp] = position
                highwater = self._consumer.highwater(tp)
                at_end = at_end and highwater is not None and position >= highwater
            if at_end:
                self._caught_up_at = round_started_s
            async with self._progress:
                self._progress.notify_all()

    def _apply(self, message, element_sets: list[ElementSet]) -> str | None:
        """Apply a sensor or collect an element set; the rejection reason if unusable."""
        assert self.pipeline is not None
        if message.value is None:
            return None  # a tombstone: compaction marker, nothing to apply
        try:
            if message.topic == self.sensors_topic:
                sensor = decode_sensor(message.value)
                self.pipeline.add_sensor(sensor)
                self.counts.sensors += 1
            else:
                element_sets.append(
                    decode_element_set(
                        message.value,
                        where=f"{message.topic}[{message.partition}]@{message.offset}",
                    )
                )
        except FormatError as error:
            self.counts.rejected += 1
            log.warning(
                "inputs: %s[%d]@%d rejected: %s",
                message.topic,
                message.partition,
                message.offset,
                printable(error.reason),
            )
            return error.reason
        return None

    def _apply_element_sets(self, element_sets: list[ElementSet]) -> None:
        assert self.pipeline is not None
        applied = self.pipeline.update_catalogue(Catalogue(element_sets))
        self.counts.element_sets += len(element_sets)
        self.counts.element_sets_applied += applied
        log.info(
            "catalogue: %d element sets received, %d applied (since start: %d received, "
            "%d applied)",
            len(element_sets),
            applied,
            self.counts.element_sets,
            self.counts.element_sets_applied,
        )
