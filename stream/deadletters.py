"""Dead letters: the one record every unusable input message becomes.

A frame the worker cannot process, and a sensor or element set it cannot read, is published to
the dead-letter topic by :class:`DeadLetters` (the frames processor and the side inputs share
one), keyed by the message's own key, and the worker carries on with the next message. The
value (docs/topics.md) names where the message was and why it was refused, and keeps its bytes:
as text when they are UTF-8, base64 otherwise.

A dead letter always fits on its topic, whatever it is about: it keeps at most the first
:data:`KEPT_VALUE_BYTES` of the message (with the whole message's length and SHA-256, so the
original can still be identified), at most :data:`KEPT_REASON_CHARS` of the reason and
:data:`KEPT_KEY_BYTES` of the key. A 3 MiB message of NUL bytes, whose escaped JSON text would
be six times its size, becomes a dead letter of about 400 kB, under even Apache Kafka's default
1 MB record limit. And should the broker still refuse one, it is logged and dropped: no single
message may stop a partition.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections import Counter
from typing import Any

from .sinks import DeliveryRefused, OutboundRecord, Sink

__all__ = [
    "KEPT_KEY_BYTES",
    "KEPT_REASON_CHARS",
    "KEPT_VALUE_BYTES",
    "DeadLetters",
    "dead_letter_key",
    "dead_letter_value",
    "text_or_base64",
]

log = logging.getLogger(__name__)

#: How much of a rejected message's value a dead letter keeps (64 KiB, before escaping).
KEPT_VALUE_BYTES = 64 * 1024
#: How much of a reason a dead letter keeps (a validation error can quote a huge value).
KEPT_REASON_CHARS = 2000
#: Keys up to this long are kept as they are; longer ones are replaced by their SHA-256.
KEPT_KEY_BYTES = 1024


def text_or_base64(raw: bytes | None, limit: int = KEPT_VALUE_BYTES) -> dict[str, Any]:
    """``{"value_text": ...}`` when the bytes are UTF-8, else ``{"value_base64": ...}``; of at
    most the first ``limit`` bytes, with ``"value_truncated": true`` when that is not all."""
    if raw is None:
        return {"value_text": None}
    kept = raw[:limit]
    try:
        raw.decode("utf-8")
        # The whole is UTF-8, so only a character cut at the prefix's end can fail: dropped.
        shown: dict[str, Any] = {"value_text": kept.decode("utf-8", errors="ignore")}
    except UnicodeDecodeError:
        shown = {"value_base64": base64.b64encode(kept).decode("ascii")}
    if len(raw) > limit:
        shown["value_truncated"] = True
    return shown


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The dead letter's record key: the message's own, or ``b"sha256:<hex>"`` of a key over
    :data:`KEPT_KEY_BYTES`."""
    if key is None or len(key) <= KEPT_KEY_BYTES:
        return key
    return b"sha256:" + hashlib.sha256(key).hexdigest().encode()


def dead_letter_value(
    *, raw: bytes | None, key: bytes | None, topic: str, partition: int, offset: int, reason: str
) -> bytes:
    """The JSON value of a dead-letter record (see docs/topics.md), bounded in size."""
    shown_key = None
    if key is not None:
        shown_key = dead_letter_key(key).decode("utf-8", errors="backslashreplace")  # type: ignore[union-attr]
    if len(reason) > KEPT_REASON_CHARS:
        reason = reason[:KEPT_REASON_CHARS] + f"... ({len(reason):,} characters)"
    record: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": shown_key,
        "reason": reason,
        **text_or_base64(raw),
        "value_bytes": None if raw is None else len(raw),
        "value_sha256": None if raw is None else hashlib.sha256(raw).hexdigest(),
        "rejected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return json.dumps(record).encode()


class DeadLetters:
    """Publishes dead-letter records to ``topic`` through ``sink``, counting them in
    ``metrics["dead_letters"]`` (and any the broker refuses in
    ``metrics["dead_letters_refused"]``)."""

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
        """Dead-letter the message at ``topic[partition]@offset``; returns once it is out, or
        once the broker has refused it for good (logged: the worker goes on either way)."""
        self.metrics["dead_letters"] += 1
        record = dead_letter_value(
            raw=value, key=key, topic=topic, partition=partition, offset=offset, reason=reason
        )
        try:
            await self.sink.publish([OutboundRecord(self.topic, dead_letter_key(key), record)])
        except DeliveryRefused as refused:
            self.metrics["dead_letters_refused"] += 1
            log.error(
                "dead letters: the broker refused the dead letter of %s[%d]@%d (%s); dropped",
                topic,
                partition,
                offset,
                refused.error,
            )
