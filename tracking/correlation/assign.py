"""Global assignment: each track to one object or to "uncorrelated", no object to two tracks."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from ..types import IntArray
from .measures import CandidatePairs

__all__ = ["assign"]


def assign(pairs: CandidatePairs, chi2_gate: float) -> IntArray:
    """For each track, the pair it is assigned to, or -1 (UCT).

    Minimises the total score over all tracks, a UCT costing ``chi2_gate``, with each object
    claimed by at most one track: a minimum-weight full matching of the tracks into their
    acceptable objects plus one private "UCT" column per track, solved on the sparse graph of
    gated pairs in one call (the sparse form of ``linear_sum_assignment``).
    """
    chosen = np.full(pairs.n_tracks, -1, dtype=np.intp)
    gated = np.flatnonzero(pairs.gated)
    if len(gated) == 0:
        return chosen
    rows, row_of = np.unique(pairs.track[gated], return_inverse=True)
    objects, col_of = np.unique(pairs.object_index[gated], return_inverse=True)
    n_rows, n_cols = len(rows), len(objects)
    # Every matching covers every row once, so adding 1 to all weights changes no optimum and
    # keeps zero scores from reading as missing edges.
    weight = np.r_[pairs.score[gated], np.full(n_rows, chi2_gate)] + 1.0
    graph = csr_matrix(
        (weight, (np.r_[row_of, np.arange(n_rows)], np.r_[col_of, n_cols + np.arange(n_rows)])),
        shape=(n_rows, n_cols + n_rows),
    )
    matched_rows, matched_cols = min_weight_full_bipartite_matching(graph)
    real = matched_cols < n_cols
    # Back from (row, column) to the pair: each track-object pair occurs once.
    key = row_of.astype(np.int64) * n_cols + col_of
    order = np.argsort(key)
    wanted = matched_rows[real].astype(np.int64) * n_cols + matched_cols[real]
    chosen[rows[matched_rows[real]]] = gated[order[np.searchsorted(key[order], wanted)]]
    return chosen
