"""The joint assignment finds the best total evidence, with or without a shared object."""

from __future__ import annotations

import itertools

import numpy as np

from orbitlink.tracking.correlation.assign import assign


def _best_total(track, object_index, log_lr, n_tracks) -> float:
    """The largest total evidence over every assignment, by enumeration (a UCT adds 0)."""
    options = [[-1] + [p for p in range(len(track)) if track[p] == k] for k in range(n_tracks)]
    best = 0.0
    for choice in itertools.product(*options):
        picked = [p for p in choice if p >= 0]
        objects = [object_index[p] for p in picked]
        if len(set(objects)) == len(objects):
            best = max(best, float(sum(log_lr[p] for p in picked)))
    return best


def test_assignment_is_the_optimum_of_every_small_problem() -> None:
    rng = np.random.default_rng(5)
    shared = independent = 0
    for _ in range(400):
        n_tracks = int(rng.integers(1, 5))
        pairs = sorted(
            {(int(rng.integers(0, n_tracks)), int(rng.integers(0, 6))) for _ in range(7)}
        )
        track = np.array([t for t, _ in pairs])
        object_index = np.array([o for _, o in pairs])
        log_lr = rng.normal(1.0, 3.0, len(pairs))
        chosen = assign(track, object_index, log_lr, n_tracks)
        picked = chosen[chosen >= 0]
        assert len(set(object_index[picked].tolist())) == len(picked)  # one object, one track
        assert np.all(track[picked] == np.flatnonzero(chosen >= 0))
        assert np.all(log_lr[picked] > 0)
        total = float(log_lr[picked].sum())
        assert abs(total - _best_total(track, object_index, log_lr, n_tracks)) < 1e-9
        wanted = object_index[log_lr > 0]
        if len(set(wanted.tolist())) < len(wanted):
            shared += 1
        else:
            independent += 1
    assert shared > 50 and independent > 50  # both the solver and the direct case ran
