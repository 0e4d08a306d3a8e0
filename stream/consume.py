"""Reading a topic to JSON Lines: ``orbitlink consume TOPIC --out FILE``.

Reads every partition from the beginning without a consumer group (so it never disturbs the
workers' offsets and can be run any number of times), writing each message value as one line.
With ``until_idle_s`` it stops after that many seconds without a new message; otherwise it runs
until cancelled. Records are written in arrival order; outputs are at-least-once, so use
:func:`dedupe_records` (or the rule in docs/topics.md) before comparing runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["ConsumedMessage", "consume_to_file", "consume_topic", "dedupe_records", "message_line"]


@dataclass(frozen=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def message_line(message: ConsumedMessage, *, with_meta: bool = False) -> str:
    """The JSONL line of a message: its value as is (a JSON record), or with ``with_meta``
    an envelope ``{"topic", "partition", "offset", "key", "timestamp_ms", "value"}``."""
    value: Any
    try:
        text = None if message.value is None else message.value.decode("utf-8")
        value = None if text is None else json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = {"value_base64": base64.b64encode(message.value or b"").decode("ascii")}
    if not with_meta:
        return json.dumps(value, separators=(",", ":"))
    return json.dumps(
        {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": None if message.key is None else message.key.decode("utf-8", "backslashreplace"),
            "timestamp_ms": message.timestamp_ms,
            "value": value,
        },
        separators=(",", ":"),
    )


async def _partitions(consumer: AIOKafkaConsumer, topic: str, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic!r} not found")
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)


async def consume_topic(
    bootstrap: str,
    topic: str,
    *,
    until_idle_s: float | None = None,
    on_message: Callable[[ConsumedMessage], None],
    stop: asyncio.Event | None = None,
    security: Mapping[str, Any] | None = None,
) -> int:
    """Call ``on_message`` for every message of ``topic`` from the beginning; returns the count.

    Stops after ``until_idle_s`` seconds with no message (also when the topic stays empty), or
    when ``stop`` is set. ``security``: TLS/SASL options
    (:meth:`~orbitlink.stream.settings.StreamSettings.client_security`).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="orbitlink-consume",
        fetch_max_wait_ms=200,
        **(security or {}),
    )
    await consumer.start()
    count = 0
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(consumer, topic, 30.0)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        last_message = time.monotonic()
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    on_message(
                        ConsumedMessage(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                    )
                    count += 1
            if batches:
                last_message = time.monotonic()
            elif until_idle_s is not None and time.monotonic() - last_message >= until_idle_s:
                break
    finally:
        await consumer.stop()
    return count


async def consume_to_file(
    bootstrap: str,
    topic: str,
    out: TextIO,
    *,
    until_idle_s: float | None = None,
    with_meta: bool = False,
    security: Mapping[str, Any] | None = None,
) -> int:
    """:func:`consume_topic` writing :func:`message_line` lines to ``out``."""

    def write(message: ConsumedMessage) -> None:
        out.write(message_line(message, with_meta=with_meta) + "\n")

    count = await consume_topic(
        bootstrap, topic, until_idle_s=until_idle_s, on_message=write, security=security
    )
    out.flush()
    return count


def dedupe_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeated output records (at-least-once delivery), sorted for comparison.

    Two records are the same when ``track_id``, ``time`` and ``frame_id`` agree; the worker is
    deterministic, so the copies are equal and the first is kept. The result is sorted by
    ``(time, track_id)``.
    """
    seen: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for record in records:
        key = (record.get("track_id"), record.get("time"), record.get("frame_id"))
        seen.setdefault(key, record)
    return sorted(seen.values(), key=lambda r: (r.get("time") or "", r.get("track_id") or ""))
