"""TEMPORARY, until the pipeline hands tracklets over: delete with that hook.

The pipeline is to give every frame's result the tracklets of the UCT tracks that ended in it
(``FrameResult.tracklets: list[Tracklet]``, built with
:meth:`~orbitlink.tracking.tracklets.Tracklet.from_arrays`). The offline replay and the stream
worker are written against that attribute; until it exists, this gives every result an empty
one, so both run (and link nothing) without it. Importing this module has that effect.
"""

from __future__ import annotations

from ..pipeline import FrameResult

if not hasattr(FrameResult, "tracklets"):
    FrameResult.tracklets = ()  # type: ignore[attr-defined]
