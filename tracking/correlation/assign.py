"""Global assignment: each track to one object or to "uncorrelated", no object to two tracks."""

from __future__ import annotations

import numpy as np

from ..association import min_cost_matching
from ..types import Array, IntArray

__all__ = ["assign"]


def assign(track: IntArray, object_index: IntArray, log_lr: Array, n_tracks: int) -> IntArray:
    """For each of ``n_tracks`` tracks, the pair it is assigned to, or -1 (UCT).

    Pairs are ``(track, object_index, log_lr)``, ``log_lr`` the evidence of the object against
    the uncatalogued-object hypothesis. The assignment maximises the total ``log_lr`` over all
    tracks (a UCT adds 0) with each object claimed by at most one track: a minimum-weight full
    matching of the tracks into the objects that beat the UCT hypothesis plus one private "UCT"
    column per track, solved on the sparse graph in one call (the sparse form of
    ``linear_sum_assignment``). Clusters of tracks and objects are thereby correlated jointly.
    """
    chosen = np.full(n_tracks, -1, dtype=np.intp)
    better = np.flatnonzero(np.isfinite(log_lr) & (log_lr > 0.0))
    if len(better) == 0:
        return chosen
    rows, row_of = np.unique(track[better], return_inverse=True)
    objects, col_of = np.unique(object_index[better], return_inverse=True)
    n_rows, n_cols = len(rows), len(objects)
    if n_cols == len(better):
        # No object is wanted by two tracks: each track's best pair is the optimum, and when no
        # track has two best pairs it is the only one, the matching's answer without solving.
        independent = _best_per_track(track[better], log_lr[better])
        if independent is not None:
            chosen[rows] = better[independent]
            return chosen
    # The UCT option adds nothing: an object's cost is its evidence against it, negated.
    taken = min_cost_matching(row_of, col_of, -log_lr[better], np.zeros(n_rows))
    chosen[rows[row_of[taken]]] = better[taken]
    return chosen


def _best_per_track(track: IntArray, log_lr: Array) -> IntArray | None:
    """Per track (in increasing order), the index of its pair of largest ``log_lr``; None if
    a track has two pairs tied for it."""
    order = np.lexsort((-log_lr, track))
    first = np.r_[True, track[order][1:] != track[order][:-1]]
    best = order[first]
    # The runner-up of each track, where it has one, must be strictly worse.
    second = np.flatnonzero(first) + 1
    has_second = np.r_[~first[1:], False][first]
    if np.any(log_lr[order[second[has_second]]] >= log_lr[best[has_second]]):
        return None
    return best
