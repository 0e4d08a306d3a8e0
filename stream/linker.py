"""The linker agent's work: UCT tracklets in, provisional objects out, the catalogue's state kept.

The provisional catalogue is global (a tracklet of one sensor links to an object another
sensor found), so it cannot live in the frames agent, whose state is per sensor and per
partition. The frames processor publishes each finished UCT track's tracklet to the internal
topic ``orbitlink.uct-tracklets`` (one partition, key: track id), and the worker of the group
that holds that partition runs :class:`LinkerProcessor` on it:

* a tracklet goes through the :class:`~orbitlink.tracking.linking.Linker`; every provisional
  object it changed is published to the compacted ``orbitlink.uct-objects`` (key: ``uct_id``,
  value: :class:`~orbitlink.tracking.linking.UctObjectRecord`, the offline
  ``uct_objects.jsonl`` records);
* then the linker's state is saved in its own changelog-backed table (records first, state
  second, as for the tracker state: see :mod:`.sinks`). A tracklet delivered again after a
  crash is either linked again from the old state, giving the same records, or, if the state
  was saved, recognised and ignored;
* a message keyed :data:`IDENTIFY_KEY` (published by every worker's timer when the catalogue
  it reads changed) makes the owner compare the element sets that are new since it last
  looked (that list of epochs is kept in the table too) with its objects, and publish those
  identified.

Offsets go through the same :class:`~orbitlink.stream.offsets.OffsetGuard` as the frames, so a
tracklet Faust drops at a takeover is fetched again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.errors import FormatError, describe_validation_error
from orbitlink.tracking.linking import Linker, LinkerSettings, ProvisionalObject
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.tracklets import Tracklet

from .codecs import encode_record
from .deadletters import DeadLetters
from .offsets import OffsetGuard
from .settings import StreamSettings
from .sinks import OutboundRecord, Sink

__all__ = [
    "CATALOGUE_SEEN_KEY",
    "IDENTIFY_KEY",
    "LINKER_STATE_KEY",
    "LinkOutcome",
    "LinkerProcessor",
    "decode_tracklet",
    "identify_request",
]

log = logging.getLogger(__name__)

#: Table keys (NUL-prefixed, like the offset guard's, so they never collide with each other).
LINKER_STATE_KEY = b"\x00linker"
CATALOGUE_SEEN_KEY = b"\x00catalogue-seen"
#: Key of the control message asking the linker's owner to identify objects.
IDENTIFY_KEY = b"\x00identify"


def decode_tracklet(raw: bytes | None) -> Tracklet:
    """A :class:`Tracklet` from a message value, or :class:`FormatError`."""
    if raw is None:
        raise FormatError("empty message: a tracklet message needs a JSON object value")
    try:
        return Tracklet.model_validate_json(raw)
    except ValidationError as error:
        field, detail = describe_validation_error(error)
        raise FormatError(f"schema violation in tracklet: {detail}", field=field) from None


def _seen_bytes(catalogue: Catalogue) -> bytes:
    pairs = np.stack([catalogue.norad_ids.astype(np.float64), catalogue.epoch_unix_s], axis=1)
    return zlib.compress(pairs.astype("<f8").tobytes(), 6)


def _new_sets(catalogue: Catalogue, seen: bytes | None) -> Catalogue:
    """The element sets of ``catalogue`` that are new, or newer than in ``seen`` (the
    ``(norad_id, epoch)`` pairs of :func:`_seen_bytes`, sorted by id as a catalogue is)."""
    if seen is None or len(catalogue) == 0:
        return catalogue
    pairs = np.frombuffer(zlib.decompress(seen), dtype="<f8").reshape(-1, 2)
    ids, epochs = pairs[:, 0].astype(np.int64), pairs[:, 1]
    if len(ids) == 0:
        return catalogue
    index = np.clip(np.searchsorted(ids, catalogue.norad_ids), 0, len(ids) - 1)
    known = ids[index] == catalogue.norad_ids
    return catalogue.subset(~known | (catalogue.epoch_unix_s > epochs[index]))


@dataclass(frozen=True)
class LinkOutcome:
    """What happened to one message of the tracklets topic."""

    disposition: str  # linked | opened | duplicate | identified | dead_letter | rewound
    uct_ids: tuple[str, ...] = ()
    reason: str | None = None


class LinkerProcessor:
    """Runs the linker on the tracklets topic (see the module docstring).

    ``states`` is the linker's table (bytes to bytes); ``pipeline`` the worker's, whose
    catalogue (kept current by the side inputs) is what objects are identified against.
    """

    def __init__(
        self,
        settings: StreamSettings,
        pipeline: Pipeline,
        sink: Sink,
        states: MutableMapping[bytes, bytes],
        *,
        linker_settings: LinkerSettings = LinkerSettings(),
        metrics: MutableMapping[str, int] | None = None,
        rewind: Callable[[str, int, int], Awaitable[object]] | None = None,
        dead_letters: DeadLetters,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.sink = sink
        self.states = states
        self.linker_settings = linker_settings
        self.metrics = metrics if metrics is not None else {}
        self.objects_topic = settings.topic("uct_objects")
        self.offsets = OffsetGuard(states, rewind, self.metrics)  # type: ignore[arg-type]
        self.dead_letters = dead_letters
        self._live: tuple[bytes, Linker] | None = None
        self._lock = asyncio.Lock()

    def _linker(self) -> Linker:
        state = self.states.get(LINKER_STATE_KEY)
        if state is None:
            return Linker(self.linker_settings)
        if self._live is not None and self._live[0] == state:
            return self._live[1]
        return Linker.from_bytes(state, self.linker_settings)

    async def _off_the_loop(
        self, step: Callable[[Any], list[ProvisionalObject]], argument: Any
    ) -> list[ProvisionalObject]:
        """``step(argument)`` (a linker's ``link`` or ``identify``) in a thread: an orbit
        determination takes up to a few hundred milliseconds, for which the frames agent of
        the same worker would otherwise stand still. One message at a time still (the lock).
        The linker it changes is no longer the one its saved state describes: until
        :meth:`_publish` saves it, the next message rebuilds it from that state, so a step
        that fails or is cancelled half-way leaves nothing behind."""
        self._live = None
        return await asyncio.to_thread(step, argument)

    async def _publish(self, linker: Linker, changed: list[ProvisionalObject]) -> None:
        records = [
            OutboundRecord(
                self.objects_topic,
                obj.uct_id.encode(),
                encode_record(obj.record(self.linker_settings)),
            )
            for obj in changed
        ]
        # Records first, state second (see sinks.py).
        await self.sink.publish(records)
        state = linker.to_bytes()
        self.states[LINKER_STATE_KEY] = state
        self._live = (state, linker)
        self.metrics["uct_objects_out"] = self.metrics.get("uct_objects_out", 0) + len(records)

    async def handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> LinkOutcome:
        """Process one message of the tracklets topic. Never raises for bad input."""
        if not await self.offsets.admit(topic, partition, offset):
            return LinkOutcome("rewound")
        async with self._lock:
            try:
                outcome = await self._handle(key, value, topic, partition, offset)
            except Exception as error:  # a bug must not stop the agent: dead-letter it
                log.exception("linker: %s[%d]@%d failed", topic, partition, offset)
                outcome = await self._reject(
                    key, value, topic, partition, offset, f"linker error: {error!r}"
                )
        self.offsets.done(partition, offset)
        return outcome

    async def _handle(self, key, value, topic, partition, offset) -> LinkOutcome:
        if key == IDENTIFY_KEY:
            return await self._identify()
        try:
            tracklet = decode_tracklet(value)
        except FormatError as error:
            return await self._reject(key, value, topic, partition, offset, error.reason)
        self.metrics["tracklets"] = self.metrics.get("tracklets", 0) + 1
        linker = self._linker()
        if linker.owner_of(tracklet.track_id) is not None:
            return LinkOutcome("duplicate", (linker.owner_of(tracklet.track_id),))
        opened = linker.objects_opened
        changed = await self._off_the_loop(linker.link, tracklet)
        await self._publish(linker, changed)
        disposition = "opened" if linker.objects_opened > opened else "linked"
        log.info(
            "linker: %s %s %s",
            tracklet.track_id,
            "opened" if disposition == "opened" else "joined",
            linker.owner_of(tracklet.track_id),
        )
        return LinkOutcome(disposition, tuple(o.uct_id for o in changed))

    async def _identify(self) -> LinkOutcome:
        catalogue = self.pipeline.catalogue
        if catalogue is None:
            return LinkOutcome("identified")
        fresh = _new_sets(catalogue, self.states.get(CATALOGUE_SEEN_KEY))
        linker = self._linker()
        changed = (
            await self._off_the_loop(linker.identify, fresh) if len(fresh) and len(linker) else []
        )
        await self._publish(linker, changed)
        self.states[CATALOGUE_SEEN_KEY] = _seen_bytes(catalogue)
        for obj in changed:
            log.info("linker: %s identified as NORAD %d", obj.uct_id, obj.norad_id)
        return LinkOutcome("identified", tuple(o.uct_id for o in changed))

    async def _reject(self, key, value, topic, partition, offset, reason: str) -> LinkOutcome:
        log.warning("linker: %s[%d]@%d to dead letters: %s", topic, partition, offset, reason)
        await self.dead_letters.publish(
            topic=topic, partition=partition, offset=offset, key=key, value=value, reason=reason
        )
        return LinkOutcome("dead_letter", reason=reason)


def identify_request() -> tuple[bytes, bytes]:
    """``(key, value)`` of the control message that asks for identification."""
    return IDENTIFY_KEY, json.dumps({"identify": True}).encode()
