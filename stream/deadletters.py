"""Dead letters: the one record every unusable input message becomes.

A frame the worker cannot process, and a sensor or element set it cannot read, is published to
the dead-letter topic by :class:`DeadLetters` (the frames processor and the side inputs share
one), keyed by the message's own key, and the worker carries on with the next message. The
value (docs/topics.md) names where the message was, why it was refused, and keeps its bytes:
as text when they are UTF-8, base64 otherwise.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from typing import Any

from .sinks import OutboundRecord, Sink

__all__ = ["DeadLetters", "dead_letter_value", "text_or_base64"]


def text_or_base64(raw: bytes | None) -> dict[str, str | None]:
    """``{"value_text": ...}`` when the bytes are UTF-8, else ``{"value_base64": ...}``."""
    if raw is None:
        return {"value_text": None}
    try:
        return {"value_text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value_base64": base64.b64encode(raw).decode("ascii")}


def dead_letter_value(
    *, raw: bytes | None, key: bytes | None, topic: str, partition: int, offset: int, reason: str
) -> bytes:
    """The JSON value of a dead-letter record (see docs/topics.md)."""
    record: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None if key is None else key.decode("utf-8", errors="backslashreplace"),
        "reason": reason,
        **text_or_base64(raw),
        "rejected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return json.dumps(record).encode()


class DeadLetters:
    """Publishes dead-letter records to ``topic`` through ``sink``, counting them in
    ``metrics["dead_letters"]``."""

    def __init__(self, topic: str, sink: Sink, metrics: Counter[str]) -> None:
        self.topic = topic
        self.sink = sink
        self.metrics = metrics

    async def publish(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: str,
    ) -> None:
        """Dead-letter the message at ``topic[partition]@offset``; returns once it is out."""
        self.metrics["dead_letters"] += 1
        record = dead_letter_value(
            raw=value, key=key, topic=topic, partition=partition, offset=offset, reason=reason
        )
        await self.sink.publish([OutboundRecord(self.topic, key, record)])
