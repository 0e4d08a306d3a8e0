"""The final verdict of each track: what the correlator last said about it.

The correlator publishes an :class:`~orbitlink.tracking.models.Association` for a confirmed
track at every frame that updates it, and may change its mind as the track grows (a second
catalogue object drops out of the gate, a UCT verdict turns into a name). What a run concluded
about a track is therefore its last association record; the offline summary, the evaluation
and the demo's printout all count those.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Association

__all__ = ["final_verdicts"]


def final_verdicts(associations: Iterable[Association]) -> dict[str, Association]:
    """The last association of each track, by ``track_id``.

    ``associations`` must be in time order (as the pipeline produces them and as
    ``associations.jsonl`` holds them): a later record of a track replaces an earlier one.
    The result keeps the order in which the tracks were first associated.
    """
    final: dict[str, Association] = {}
    for association in associations:
        final[association.track_id] = association
    return final
