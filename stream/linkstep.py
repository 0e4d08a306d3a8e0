"""One step of the linker as a function of its saved state: what the linker agent
(:mod:`.linker`) runs away from the event loop, in a child process or in a thread.

A step takes the state the linker's table holds, its input (a tracklet, or a snapshot of the
catalogue and the list of the element sets already compared) and the linker settings, and
returns the records to publish and what to save (the state; the new list of sets compared).
Orbit determination takes from tens of milliseconds to seconds; run on the event loop, it
would hold up the frames agent of the same worker.

The linker that a step leaves is kept, in the process that ran it, with the state it saved:
the next step starts from it when given that same state, and parses the state otherwise
(after a takeover, a restart, or a step that failed half-way, which therefore leaves nothing
behind). This module imports only the tracking library, so a child process starts quickly.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.linking import Linker, LinkerSettings, ProvisionalObject
from orbitlink.tracking.tracklets import Tracklet

from .codecs import encode_record

__all__ = ["LinkStep", "identify_step", "link_step", "ready"]


@dataclass(frozen=True)
class LinkStep:
    """What one step did, and what the agent publishes and saves."""

    disposition: str  # opened | linked | duplicate | identified
    uct_ids: tuple[str, ...]  # the objects changed (a duplicate: the one that has the track)
    records: tuple[tuple[bytes, bytes], ...]  # (key, value) of each uct-objects record
    state: bytes | None  # the linker's state to save; None when nothing changed
    owner: str | None = None  # a link step's: the object that now holds the tracklet's track
    seen: bytes | None = None  # an identification step's: the element sets compared, to save


_last: tuple[bytes, LinkerSettings, Linker] | None = None


def ready() -> bool:
    """Nothing to do: a child process that runs it has imported this module (the warm-up)."""
    return True


def _linker(state: bytes | None, settings: LinkerSettings) -> Linker:
    global _last
    last, _last = _last, None  # until the step is done, no linker is known to match a state
    if last is not None and state is not None and last[0] == state and last[1] == settings:
        return last[2]
    return Linker(settings) if state is None else Linker.from_bytes(state, settings)


def _done(
    linker: Linker,
    settings: LinkerSettings,
    changed: list[ProvisionalObject],
    disposition: str,
    owner: str | None = None,
    seen: bytes | None = None,
) -> LinkStep:
    global _last
    records = tuple((o.uct_id.encode(), encode_record(o.record(settings))) for o in changed)
    state = linker.to_bytes()
    _last = (state, settings, linker)
    return LinkStep(disposition, tuple(o.uct_id for o in changed), records, state, owner, seen)


def link_step(state: bytes | None, tracklet: Tracklet, settings: LinkerSettings) -> LinkStep:
    """Link one tracklet into the linker that ``state`` describes."""
    global _last
    linker = _linker(state, settings)
    owner = linker.owner_of(tracklet.track_id)
    if owner is not None:  # only a saved linker holds tracks: state is not None
        _last = (state, settings, linker)  # type: ignore[assignment]
        return LinkStep("duplicate", (owner,), (), None, owner)
    opened = linker.objects_opened
    changed = linker.link(tracklet)
    disposition = "opened" if linker.objects_opened > opened else "linked"
    return _done(linker, settings, changed, disposition, linker.owner_of(tracklet.track_id))


def identify_step(
    state: bytes | None, seen: bytes | None, catalogue: Catalogue, settings: LinkerSettings
) -> LinkStep:
    """Compare the objects of the linker that ``state`` describes with the element sets of
    ``catalogue`` not in ``seen`` (those compared before; None: none); the step's ``seen``
    holds all of ``catalogue``'s."""
    linker = _linker(state, settings)
    fresh = _new_sets(catalogue, seen)
    changed = linker.identify(fresh) if len(fresh) and len(linker) else []
    return _done(linker, settings, changed, "identified", seen=_seen_bytes(catalogue))


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
