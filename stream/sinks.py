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
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

__all__ = ["KafkaSink", "MemorySink", "OutboundRecord", "Sink"]

log = logging.getLogger(__name__)


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
        """Deliver every record, returning once the broker acknowledged all of them."""


class MemorySink:
    """Keeps published records in lists per topic (for ``test_context`` and in-process use)."""

    def __init__(self) -> None:
        self.records: dict[str, list[OutboundRecord]] = defaultdict(list)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, records: list[OutboundRecord]) -> None:
        for record in records:
            self.records[record.topic].append(record)


class KafkaSink:
    """An aiokafka producer dedicated to the output topics.

    It batches (``max_batch_size``/``linger_ms``) independently of Faust's own producer, which
    the worker configures for one record per batch because the embedded broker needs that for
    the changelog; output throughput should not pay that price.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        max_batch_size: int = 65536,
        linger_ms: int = 2,
        client_id: str = "orbitlink-worker",
        max_request_size: int = 1048576,
    ) -> None:
        self._config = dict(
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
        # offset is not committed until this returns.
        if self._producer is None:
            raise RuntimeError("KafkaSink.publish before start()")
        pending = records
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
            failed = [
                record
                for record, outcome in zip(pending, outcomes)
                if isinstance(outcome, BaseException) or outcome.exception() is not None
            ]
            if failed:
                error = next(
                    o if isinstance(o, BaseException) else o.exception()
                    for o in outcomes
                    if isinstance(o, BaseException) or o.exception() is not None
                )
                log.warning(
                    "output: %d of %d records not delivered (%s); retrying",
                    len(failed),
                    len(pending),
                    error,
                )
                await asyncio.sleep(1.0)
            pending = failed
