"""Where the worker's output records go.

The frames agent hands each frame's records to a sink and waits until the sink confirms them
before it saves the sensor's new tracker state. That order is what makes a crash harmless:
if the worker dies after the records were acknowledged but before the state was saved, the
frame is processed again from the old state and yields the same records (duplicates a consumer
can drop by key); the reverse order could save a state whose records were never delivered, and
the pipeline would then treat the re-delivered frame as a duplicate and emit nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)
from aiokafka.partitioner import DefaultPartitioner

__all__ = ["DeliveryRefused", "KafkaSink", "MemorySink", "OutboundRecord", "Sink"]

log = logging.getLogger(__name__)

#: Errors that sending the same record again cannot cure: the record itself (its size, its
#: topic) is refused. Anything else (the broker away, a leader moving) is waited out.
REFUSALS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)

#: The producer's default partitioner (what ``send`` uses for a keyed record).
_PARTITIONER = DefaultPartitioner()
#: How many keys' partitions :class:`KafkaSink` remembers (about 100 bytes each).
PARTITION_CACHE_KEYS = 200_000


class DeliveryRefused(Exception):
    """Records the broker (or the producer's own size limit) refuses for good; every other
    record of the :meth:`Sink.publish` call was delivered."""

    def __init__(self, records: list[OutboundRecord], error: BaseException) -> None:
        super().__init__(f"{len(records)} record(s) refused: {type(error).__name__}: {error}")
        self.records = records
        self.error = error


class OutboundRecord(NamedTuple):
    """One message to publish: topic, key and value bytes (a named tuple: a frame makes
    thousands, and a frozen dataclass costs several times as much to build)."""

    topic: str
    key: bytes | None
    value: bytes


class Sink(Protocol):
    """Where records go: started before the first :meth:`publish`, stopped after the last."""

    async def start(self) -> None:
        """Connect (inside the running event loop)."""

    async def stop(self) -> None:
        """Disconnect (safe to call when never started)."""

    async def publish(self, records: list[OutboundRecord]) -> None:
        """Deliver every record, returning once the broker acknowledged all of them; raises
        :class:`DeliveryRefused` for records that can never be delivered."""


class MemorySink:
    """Keeps published records in lists per topic (for ``test_context`` and in-process use).

    ``max_record_bytes``, when given, refuses larger records as a broker would.
    """

    def __init__(self, max_record_bytes: int | None = None) -> None:
        self.records: dict[str, list[OutboundRecord]] = defaultdict(list)
        self.max_record_bytes = max_record_bytes

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, records: list[OutboundRecord]) -> None:
        limit = self.max_record_bytes
        refused = [r for r in records if limit is not None and _size(r) > limit]
        for record in records:
            if record not in refused:
                self.records[record.topic].append(record)
        if refused:
            raise DeliveryRefused(refused, MessageSizeTooLargeError(f"record over {limit} bytes"))


def _size(record: OutboundRecord) -> int:
    return len(record.value) + len(record.key or b"")


class KafkaSink:
    """An aiokafka producer dedicated to the output topics.

    It batches (``max_batch_size``/``linger_ms``) independently of Faust's own producer, which
    the worker configures for one record per batch because the embedded broker needs that for
    the changelog; output throughput should not pay that price. ``security`` holds the TLS and
    SASL options (:meth:`StreamSettings.client_security`). ``topics`` are the topics it will
    write: :meth:`start` fetches their partitions, so that the first frame's records do not
    wait for the metadata (0.1-0.2 s of the first delivery on Apache Kafka just after the
    topics were created).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        max_batch_size: int = 65536,
        linger_ms: int = 2,
        client_id: str = "orbitlink-worker",
        max_request_size: int = 1048576,
        security: Mapping[str, Any] | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        self.topics = tuple(topics)
        self._config = dict(
            **(security or {}),
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            max_batch_size=max_batch_size,
            linger_ms=linger_ms,
            max_request_size=max_request_size,
            request_timeout_ms=30_000,
            retry_backoff_ms=500,
        )
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[tuple[bytes, int], int] = {}

    async def start(self) -> None:
        """Connect (inside the running event loop, which aiokafka binds to)."""
        self._producer = AIOKafkaProducer(**self._config)
        while True:
            try:
                await self._producer.start()
                break
            except KafkaError as error:  # broker away at start: wait for it, do not exit
                log.warning("output: cannot connect (%s); retrying", error)
                await asyncio.sleep(2.0)
        for topic in self.topics:
            try:
                await self._producer.partitions_for(topic)
            except KafkaError as error:  # the first record's send asks again
                log.warning("output: no partitions of %s yet (%s)", topic, error)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, records: list[OutboundRecord]) -> None:
        # Retry for as long as the broker is away: the agent blocks here, and the frame's
        # offset is not committed until this returns. A record refused for good (too large,
        # say) is not retried: it would stop its partition for ever.
        if self._producer is None:
            raise RuntimeError("KafkaSink.publish before start()")
        pending = records
        alone = False  # one record per batch: which records of a refused batch are refused
        refused: list[OutboundRecord] = []
        refusal: BaseException | None = None
        while pending:
            sent = await self._enqueue(pending, alone)
            await asyncio.gather(
                *[o for _, o in sent if not isinstance(o, BaseException)], return_exceptions=True
            )
            failed: list[OutboundRecord] = []
            split: list[OutboundRecord] = []
            error: BaseException | None = None
            for members, outcome in sent:
                problem = outcome if isinstance(outcome, BaseException) else outcome.exception()
                if problem is None:
                    continue
                if isinstance(problem, REFUSALS) and len(members) > 1:
                    split += members
                elif isinstance(problem, REFUSALS):
                    refused += members
                    refusal = problem
                else:
                    failed += members
                    error = problem
            if failed:
                log.warning(
                    "output: %d of %d records not delivered (%s); retrying",
                    len(failed),
                    len(pending),
                    error,
                )
                await asyncio.sleep(1.0)
            pending, alone = split + failed, alone or bool(split)
        if refused:
            assert refusal is not None
            raise DeliveryRefused(refused, refusal)

    async def _enqueue(
        self, records: list[OutboundRecord], alone: bool
    ) -> list[tuple[list[OutboundRecord], asyncio.Future | BaseException]]:
        """Hand ``records`` to the producer as whole batches, each with the future of its
        delivery (or the error that kept it from being queued).

        Keyed records go to the partition the producer's default partitioner would pick (the
        Java client's murmur2 of the key), in batches built here: one producer call a batch
        rather than one a record, which at a thousand records a frame was most of the
        worker's time. Keyless records go through ``send``, which spreads them."""
        producer = self._producer
        assert producer is not None
        limit = self._config["max_request_size"]
        by_partition: dict[tuple[str, int], list[OutboundRecord]] = defaultdict(list)
        sent: list[tuple[list[OutboundRecord], asyncio.Future | BaseException]] = []
        partitions: dict[str, list[int]] = {}
        for record in records:
            try:
                if _size(record) > limit:
                    raise MessageSizeTooLargeError(
                        f"a record of {_size(record):,} bytes, over max_request_size {limit:,}"
                    )
                if record.key is None:
                    sent.append(([record], await producer.send(record.topic, record.value)))
                    continue
                if record.topic not in partitions:
                    partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
                partition = self._partition_of(record.key, partitions[record.topic])
            except KafkaError as error:
                sent.append(([record], error))
                continue
            by_partition[(record.topic, partition)].append(record)
        for (topic, partition), group in by_partition.items():
            batch, members = producer.create_batch(), []
            for record in group:
                if members and (
                    alone
                    or batch.append(key=record.key, value=record.value, timestamp=None) is None
                ):
                    sent.append((members, await self._send_batch(batch, topic, partition)))
                    batch, members = producer.create_batch(), []
                if not members:  # an empty batch takes any record, however large
                    batch.append(key=record.key, value=record.value, timestamp=None)
                members.append(record)
            sent.append((members, await self._send_batch(batch, topic, partition)))
        return sent

    async def _send_batch(
        self, batch: Any, topic: str, partition: int
    ) -> asyncio.Future | BaseException:
        assert self._producer is not None
        batch.close()
        try:
            return await self._producer.send_batch(batch, topic, partition=partition)
        except KafkaError as error:
            return error

    def _partition_of(self, key: bytes, partitions: list[int]) -> int:
        """The default partitioner's choice for ``key`` (track ids recur frame after frame,
        so their hashes are kept, a bounded number of them)."""
        known = self._partitions.get((key, len(partitions)))
        if known is None:
            if len(self._partitions) > PARTITION_CACHE_KEYS:
                self._partitions.clear()
            known = self._partitions[(key, len(partitions))] = _PARTITIONER(
                key, partitions, partitions
            )
        return known
