"""The linker agent's work: UCT tracklets in, provisional objects out, the catalogue's state kept.

The provisional catalogue is global (a tracklet of one sensor links to an object another
sensor found), so it cannot live in the frames agent, whose state is per sensor and per
partition. The frames processor publishes each finished UCT track's tracklet to the internal
topic ``orbitlink.uct-tracklets`` (one partition, key: track id), and the worker of the group
that holds that partition runs :class:`LinkerProcessor` on it:

* a tracklet goes through the :class:`~orbitlink.tracking.linking.Linker`, in a child process
  of the worker (:mod:`.linkstep`; the frames agent goes on meanwhile); every provisional
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
import multiprocessing
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from pydantic import ValidationError

from orbitlink.tracking.errors import FormatError, describe_validation_error
from orbitlink.tracking.linking import LinkerSettings
from orbitlink.tracking.pipeline import Pipeline
from orbitlink.tracking.tracklets import Tracklet

from . import children, linkstep
from .deadletters import DeadLetters
from .linkstep import LinkStep
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
#: The child process's niceness: its start-up and its orbit determinations take the CPU only
#: when the worker (its frames) and, on the same machine, the broker leave it.
LINKER_NICENESS = 10


def decode_tracklet(raw: bytes | None) -> Tracklet:
    """A :class:`Tracklet` from a message value, or :class:`FormatError`."""
    if raw is None:
        raise FormatError("empty message: a tracklet message needs a JSON object value")
    try:
        return Tracklet.model_validate_json(raw)
    except ValidationError as error:
        field, detail = describe_validation_error(error)
        raise FormatError(f"schema violation in tracklet: {detail}", field=field) from None


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
        self._pool: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        """Start the child process that links tracklets (``settings.link_in_child_process``)
        and have it import the linker, without waiting for it: until it is started, and
        without this call (a test's processor), links run in a thread."""
        if self.settings.link_in_child_process and self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=children.start_child,
                initargs=(LINKER_NICENESS,),
            )
            self._pool.submit(linkstep.ready)

    def close(self) -> None:
        """Stop the child process (a link under way is abandoned: its tracklet is fetched
        again by whoever takes the partition over, its state not having been saved)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _link(self, tracklet: Tracklet) -> LinkStep:
        """:func:`~.linkstep.link_step` in the child process (started again once if it died),
        or in a thread. Either way the event loop, and the frames agent, go on meanwhile;
        in the child the link does not share this interpreter's lock either."""
        step = (self.states.get(LINKER_STATE_KEY), tracklet, self.linker_settings)
        if self._pool is None:
            return await asyncio.to_thread(linkstep.link_step, *step)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, linkstep.link_step, *step)
        except BrokenProcessPool:
            log.warning("linker: its child process died; starting another")
            self.close()
            self.start()
            return await loop.run_in_executor(self._pool, linkstep.link_step, *step)

    async def _publish(self, step: LinkStep) -> None:
        """The step's records, then its state (see sinks.py)."""
        records = [OutboundRecord(self.objects_topic, key, value) for key, value in step.records]
        await self.sink.publish(records)
        if step.state is not None:
            self.states[LINKER_STATE_KEY] = step.state
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
        step = await self._link(tracklet)
        if step.disposition == "duplicate":
            return LinkOutcome("duplicate", step.uct_ids)
        await self._publish(step)
        log.info(
            "linker: %s %s %s",
            tracklet.track_id,
            "opened" if step.disposition == "opened" else "joined",
            step.owner,
        )
        return LinkOutcome(step.disposition, step.uct_ids)

    async def _identify(self) -> LinkOutcome:
        if self.pipeline.catalogue is None:
            return LinkOutcome("identified")
        # The catalogue as it is now: the inputs update the worker's in place meanwhile, and a
        # set that arrives during the step must stay unseen, for the next request to compare.
        catalogue = self.pipeline.catalogue.snapshot()
        # In a thread, not the child: element sets do not cross a process boundary (their
        # sgp4 records do not pickle), and a catalogue changes far less often than tracklets.
        step = await asyncio.to_thread(
            linkstep.identify_step,
            self.states.get(LINKER_STATE_KEY),
            self.states.get(CATALOGUE_SEEN_KEY),
            catalogue,
            self.linker_settings,
        )
        await self._publish(step)
        self.states[CATALOGUE_SEEN_KEY] = step.seen
        for uct_id, value in step.records:
            log.info(
                "linker: %s identified as NORAD %s", uct_id.decode(), json.loads(value)["norad_id"]
            )
        return LinkOutcome("identified", step.uct_ids)

    async def _reject(self, key, value, topic, partition, offset, reason: str) -> LinkOutcome:
        log.warning("linker: %s[%d]@%d to dead letters: %s", topic, partition, offset, reason)
        await self.dead_letters.publish(
            topic=topic, partition=partition, offset=offset, key=key, value=value, reason=reason
        )
        return LinkOutcome("dead_letter", reason=reason)


def identify_request() -> tuple[bytes, bytes]:
    """``(key, value)`` of the control message that asks for identification."""
    return IDENTIFY_KEY, json.dumps({"identify": True}).encode()
