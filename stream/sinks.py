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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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


class DeliveryRefused(Exception):
    """Records the broker (or the producer's own size limit) refuses for good; every other
    record of the :meth:`Sink.publish` call was delivered."""

    def __init__(self, records: list[OutboundRecord], error: BaseException) -> None:
        super().__init__(f"{len(records)} record(s) refused: {type(error).__name__}: {error}")
        self.records = records
        self.error = error


@dataclass(frozen=True)
class OutboundRecord:
    """One message to publish: topic, key and value bytes."""

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
    SASL options (:meth:`StreamSettings.client_security`).
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
    ) -> None:
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

    async def start(self) -> None:
        """Connect (inside the running event loop, which aiokafka binds to)."""
        self._producer = AIOKafkaProducer(**self._config)
        while True:
            try:
                await self._producer.start()
                return
            except KafkaError as error:  # broker away at start: wait for it, do not exit
                log.warning("output: cannot connect (%s); retrying", error)
                await asyncio.sleep(2.0)

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
        refused: list[OutboundRecord] = []
        refusal: BaseException | None = None
        while pending:
            # Enqueue everything first, then wait for the acknowledgements together: one
            # future per record rather than one task per record, which at thousands of
            # records a frame cost more than the sending.
            outcomes: list[asyncio.Future | BaseException] = []
            for record in pending:
                try:
                    outcomes.append(
                        await self._producer.send(record.topic, record.value, key=record.key)
                    )
                except KafkaError as error:
                    outcomes.append(error)
            futures = [o for o in outcomes if not isinstance(o, BaseException)]
            await asyncio.gather(*futures, return_exceptions=True)
            failed: list[OutboundRecord] = []
            error: BaseException | None = None
            for record, outcome in zip(pending, outcomes):
                problem = outcome if isinstance(outcome, BaseException) else outcome.exception()
                if problem is None:
                    continue
                if isinstance(problem, REFUSALS):
                    refused.append(record)
                    refusal = problem
                else:
                    failed.append(record)
                    error = problem
            if failed:
                log.warning(
                    "output: %d of %d records not delivered (%s); retrying",
                    len(failed),
                    len(pending),
                    error,
                )
                await asyncio.sleep(1.0)
            pending = failed
        if refused:
            assert refusal is not None
            raise DeliveryRefused(refused, refusal)
