"""Gating and global-nearest-neighbour assignment of detections to tracks.

Association runs in three stages, each vectorised so that the cost grows about linearly with
the numbers of tracks and detections:

1. **Spatial pre-gate** (:func:`candidate_pairs`): a KD-tree over the detections' unit
   vectors is queried with each track's predicted direction and a per-track radius, giving the
   few (track, detection) pairs that could possibly pass the statistical gate.
2. **Statistical gate**: the caller computes the squared Mahalanobis distance of each
   candidate pair and keeps those under the chi-square threshold :func:`chi2_gate`.
3. **Assignment** (:func:`gnn_assign`): the gated pairs form a bipartite graph whose
   connected components are independent problems. A component of one pair is taken as is;
   larger components are solved together, exactly, as one minimum-weight full matching on the
   sparse graph (``scipy.sparse.csgraph``, the sparse form of ``linear_sum_assignment``), each
   row (track) also offered a private "miss" column at its miss cost, so a track takes a
   detection only when that beats leaving it unassigned.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree
from scipy.special import chdtri

from .types import Array, IntArray

__all__ = [
    "candidate_pairs",
    "chi2_gate",
    "chi_square_quantile",
    "chord_from_angle",
    "gnn_assign",
    "min_cost_matching",
]


def chi_square_quantile(probability: ArrayLike, dof: ArrayLike) -> Array:
    """The ``probability`` quantile of the chi-square distribution with ``dof`` degrees of
    freedom (``scipy.stats.chi2.ppf``, from ``scipy.special``: importing ``scipy.stats`` alone
    costs a whole replay's worth of start-up)."""
    return chdtri(np.asarray(dof, dtype=float), 1.0 - np.asarray(probability, dtype=float))


def chi2_gate(probability: float, dof: int = 2) -> float:
    """Squared-Mahalanobis threshold that a true ``dof``-dimensional measurement passes with
    the given probability (the chi-square quantile)."""
    if not 0.0 < probability < 1.0:
        raise ValueError(f"gate probability must be in (0, 1), got {probability}")
    if dof == 2:  # closed form of the 2-dof chi-square quantile
        return float(-2.0 * np.log1p(-probability))
    return float(chi_square_quantile(probability, dof))


def chord_from_angle(angle_deg: ArrayLike) -> Array:
    """Straight-line distance between unit vectors separated by ``angle_deg``."""
    half = np.radians(np.minimum(np.asarray(angle_deg, dtype=float), 180.0)) / 2.0
    return 2.0 * np.sin(half)


def candidate_pairs(centres: Array, radius_deg: Array, points: Array) -> tuple[IntArray, IntArray]:
    """All ``(i, j)`` with ``points[j]`` within ``radius_deg[i]`` of ``centres[i]``.

    ``centres`` ``(n, 3)`` and ``points`` ``(m, 3)`` are unit vectors; the KD-tree is built on
    the points, so one call costs about ``O((n + m) log m)`` plus the pairs found. Pairs come
    back sorted by ``i`` then ``j``.
    """
    n, m = len(centres), len(points)
    if n == 0 or m == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    tree = cKDTree(points)
    hits = tree.query_ball_point(centres, chord_from_angle(radius_deg), return_sorted=True)
    counts = np.fromiter(map(len, hits), dtype=np.intp, count=n)
    cols = np.fromiter(chain.from_iterable(hits), dtype=np.intp, count=int(counts.sum()))
    rows = np.repeat(np.arange(n, dtype=np.intp), counts)
    return rows, cols


def gnn_assign(
    rows: IntArray, cols: IntArray, cost: Array, miss_cost: ArrayLike, n_rows: int, n_cols: int
) -> IntArray:
    """Global-nearest-neighbour assignment over sparse gated pairs.

    ``rows``, ``cols`` and ``cost`` describe the gated pairs (at most one per ``(row, col)``);
    ``miss_cost`` (scalar or one per row) is what leaving a row unassigned costs. Finds the
    one-to-one assignment minimising the total cost of assigned pairs plus missed rows, and
    returns the indices of the chosen pairs, sorted by row.
    """
    rows = np.asarray(rows, dtype=np.intp)
    cols = np.asarray(cols, dtype=np.intp)
    cost = np.asarray(cost, dtype=float)
    miss = np.broadcast_to(np.asarray(miss_cost, dtype=float), (n_rows,))
    # A pair that costs more than missing its row is never part of the optimum.
    kept = np.flatnonzero(cost < miss[rows])
    rows, cols, cost = rows[kept], cols[kept], cost[kept]
    if len(rows) == 0:
        return np.empty(0, dtype=np.intp)

    # A pair whose row and column appear in no other pair is a component on its own: the
    # common case, settled without building the graph.
    single = (np.bincount(rows, minlength=n_rows)[rows] == 1) & (
        np.bincount(cols, minlength=n_cols)[cols] == 1
    )
    chosen = [np.flatnonzero(single)]

    # Pairs in larger components (crossing targets, clutter near a track): matched exactly in
    # one call. The components stay independent problems in it, as they share no row or column.
    multi = np.flatnonzero(~single)
    if len(multi):
        block_rows, local_r = np.unique(rows[multi], return_inverse=True)
        _, local_c = np.unique(cols[multi], return_inverse=True)
        chosen.append(multi[min_cost_matching(local_r, local_c, cost[multi], miss[block_rows])])

    selected = np.concatenate(chosen)
    selected = selected[np.argsort(rows[selected], kind="stable")]
    return kept[selected]


def min_cost_matching(row: IntArray, col: IntArray, cost: Array, own_cost: Array) -> IntArray:
    """An exact minimum-cost assignment in which each row takes one of its pairs or an option
    of its own: the indices of the pairs taken.

    ``row`` and ``col`` number the rows ``0 .. len(own_cost) - 1`` and the columns from 0 with
    no gaps (``np.unique(..., return_inverse=True)`` gives such numbers), at most one pair per
    ``(row, col)``; ``own_cost[r]`` is what row ``r`` pays for its own option. Solved as one
    minimum-weight full matching on the sparse graph (the sparse form of
    ``linear_sum_assignment``), each row with a private column. The costs are shifted to be
    positive, as the sparse solver reads a zero as a missing edge; every full matching pays
    that shift once per row.
    """
    n_rows, n_cols = len(own_cost), int(col.max()) + 1
    weight = np.r_[cost, own_cost]
    graph = csr_matrix(
        (
            weight - weight.min() + 1.0,
            (np.r_[row, np.arange(n_rows)], np.r_[col, n_cols + np.arange(n_rows)]),
        ),
        shape=(n_rows, n_cols + n_rows),
    )
    matched_row, matched_col = min_weight_full_bipartite_matching(graph)
    taken = matched_col < n_cols
    # Back from (row, column) to the pair: each occurs once.
    key = row.astype(np.int64) * n_cols + col
    order = np.argsort(key)
    wanted = matched_row[taken].astype(np.int64) * n_cols + matched_col[taken]
    return order[np.searchsorted(key[order], wanted)]
