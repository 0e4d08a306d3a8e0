"""Offset continuity: no frame of a partition is skipped, even when Faust drops one.

The state table also keeps, per frames partition, the offset of the next frame to process.
Faust 0.15 can lose a message when it takes over a partition (its fetcher runs while it seeks
to the committed offset, and a message fetched before the seek can be dropped); frames are not
independent, so a lost frame would quietly change every later record of its sensor. When a
message arrives beyond the expected offset, :class:`OffsetGuard` seeks the partition back to it
and has the processor ignore what is already buffered until the expected message comes again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass

__all__ = ["NEXT_OFFSET_KEY", "REWIND_ATTEMPTS", "OffsetGuard", "next_offset_key"]

log = logging.getLogger(__name__)

#: Table key prefix of the per-partition "next offset to process" (sensor ids cannot start
#: with a NUL byte, so these never collide with a sensor's state).
NEXT_OFFSET_KEY = b"\x00next-offset:"

#: How many times a partition is sought back to a missing offset before it is given up.
REWIND_ATTEMPTS = 5


def next_offset_key(partition: int) -> bytes:
    """The state-table key of ``partition``'s next offset: ``b"\\x00next-offset:<n>"``."""
    return NEXT_OFFSET_KEY + str(partition).encode()


@dataclass
class _Rewind:
    """A partition sought back to ``expected``; ``skipped`` offsets arrived meanwhile."""

    expected: int
    skipped: set[int]
    attempts: int = 1


class OffsetGuard:
    """Admits the messages of each partition in offset order, seeking back over a gap.

    ``states`` is the state table (``next_offset_key(partition)`` -> next offset as ASCII
    digits); ``rewind(topic, partition, offset)``, when given, seeks the consumer back. Without
    it a gap is only logged. ``metrics["rewinds"]`` counts the seeks.
    """

    def __init__(
        self,
        states: MutableMapping[bytes, bytes],
        rewind: Callable[[str, int, int], Awaitable[object]] | None,
        metrics: Counter[str],
    ) -> None:
        self.states = states
        self.rewind = rewind
        self.metrics = metrics
        self._last_offset: dict[tuple[str, int], int] = {}
        self._rewinding: dict[tuple[str, int], _Rewind] = {}
        self._gave_up: dict[tuple[str, int], int] = {}

    async def admit(self, topic: str, partition: int, offset: int) -> bool:
        """Whether to process the message at ``offset`` now; False while the partition is
        being sought back (the message comes again later)."""
        if await self._skip_for_rewind(topic, partition, offset):
            return False
        if await self._rewind_if_skipped(topic, partition, offset):
            return False
        self._note_offset(topic, partition, offset)
        return True

    def has_delivered(self, topic: str, partition: int) -> bool:
        """Whether a message of the partition has come since this worker started: from then
        on :meth:`admit` sees every position Faust reads from, and puts it right."""
        return (topic, partition) in self._last_offset

    def next_offset(self, partition: int) -> int | None:
        """The stored offset of ``partition``'s next frame (None before its first): a frame
        below it was processed already, before a restart or a takeover."""
        stored = self.states.get(next_offset_key(partition))
        return None if stored is None else int(stored)

    def done(self, partition: int, offset: int) -> None:
        """Record that the message at ``offset`` of ``partition`` was handled."""
        self.states[next_offset_key(partition)] = str(offset + 1).encode()

    async def _rewind_if_skipped(self, topic: str, partition: int, offset: int) -> bool:
        stored = self.states.get(next_offset_key(partition))
        if stored is None or self.rewind is None:
            return False
        expected = int(stored)
        if offset <= expected or self._gave_up.get((topic, partition)) == expected:
            return False
        log.warning(
            "frames: %s[%d] delivered offset %d but %d is next; seeking back",
            topic,
            partition,
            offset,
            expected,
        )
        self.metrics["rewinds"] += 1
        self._rewinding[(topic, partition)] = _Rewind(expected, {offset})
        await self.rewind(topic, partition, expected)
        return True

    async def _skip_for_rewind(self, topic: str, partition: int, offset: int) -> bool:
        pending = self._rewinding.get((topic, partition))
        if pending is None:
            return False
        if offset == pending.expected:
            del self._rewinding[(topic, partition)]
            return False
        if offset not in pending.skipped:
            pending.skipped.add(offset)
            return True
        # An offset seen twice: the re-fetch went past the expected one without it. Messages
        # fetched before the seek can still be arriving and push Faust's read position ahead,
        # so seek again after a pause; after a few tries the offsets are taken as gone
        # (deleted by retention, say) and the worker carries on from here, saying so.
        if pending.attempts < REWIND_ATTEMPTS:
            pending.attempts += 1
            pending.skipped = {offset}
            await asyncio.sleep(0.2 * pending.attempts)
            await self.rewind(topic, partition, pending.expected)
            return True
        log.error(
            "frames: %s[%d] offsets %d..%d are gone; continuing at %d",
            topic,
            partition,
            pending.expected,
            offset - 1,
            offset,
        )
        del self._rewinding[(topic, partition)]
        self._gave_up[(topic, partition)] = pending.expected
        return False

    def _note_offset(self, topic: str, partition: int, offset: int) -> None:
        # Offsets of a partition normally arrive consecutively; a jump means frames were
        # skipped (or compacted away), which would silently cost tracks, so it is logged. A
        # partition handed back after a takeover resumes where the table says the group got
        # to: that is no jump, however far it is from what this worker last saw.
        last = self._last_offset.get((topic, partition))
        if last is None or offset == self.next_offset(partition):
            if last is None:
                log.info("frames: %s[%d] starts at offset %d", topic, partition, offset)
        elif offset != last + 1:
            log.warning(
                "frames: %s[%d] jumped from offset %d to %d", topic, partition, last, offset
            )
        self._last_offset[(topic, partition)] = offset
