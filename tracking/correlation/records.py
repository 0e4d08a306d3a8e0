"""Association records: the chosen object with its residuals, confidence and runner-up."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..catalogue import Catalogue
from ..constants import ARCSEC_PER_DEG
from ..models import Association, TrackUpdate
from ..times import datetime_from_unix
from ..types import IntArray
from .measures import CandidatePairs
from .settings import CorrelationSettings

__all__ = ["associations"]


def associations(
    tracks: Sequence[TrackUpdate],
    catalogue: Catalogue,
    pairs: CandidatePairs,
    chosen: IntArray,
    settings: CorrelationSettings,
) -> list[Association]:
    """One record per track, in order, from the pair each was assigned (``chosen``, -1 for
    none): residuals, confidence, runner-up and ambiguity as :func:`~.correlate_tracks`
    describes them."""
    s = settings
    n = len(tracks)
    log_l0 = -0.5 * s.chi2_gate
    # Per track: likelihood sum over acceptable candidates, the best rejected one (its score
    # clipped to the gate: it failed, so it is at best as likely as an unknown object), and
    # the number of acceptable candidates.
    likelihood = np.exp(-0.5 * pairs.score - log_l0)  # relative to L0
    gated = pairs.gated
    sum_gated = np.bincount(pairs.track[gated], weights=likelihood[gated], minlength=n)
    n_gated = np.bincount(pairs.track[gated], minlength=n)
    best_rejected = np.zeros(n)
    rej = ~gated & np.isfinite(pairs.score)
    np.maximum.at(
        best_rejected,
        pairs.track[rej],
        np.exp(-0.5 * np.maximum(pairs.score[rej], s.chi2_gate) - log_l0),
    )
    denominator = 1.0 + sum_gated + best_rejected

    # Runner-up: the best acceptable pair of the track other than the chosen one.
    runner = np.full(n, -1, dtype=np.intp)
    candidates = np.flatnonzero(gated)
    if len(candidates):
        chosen_pair = np.zeros(len(pairs), dtype=bool)
        chosen_pair[chosen[chosen >= 0]] = True
        best = _best_per_track(pairs, candidates[~chosen_pair[candidates]])
        runner[pairs.track[best]] = best

    # Everything per track as plain Python values, so the loop below only builds records.
    has = chosen >= 0
    p = np.where(has, chosen, 0)
    r = np.where(runner >= 0, runner, 0)
    j = pairs.object_index[p] if len(pairs) else np.zeros(n, dtype=np.intp)
    score = np.where(has, pairs.score[p], np.nan) if len(pairs) else np.full(n, np.nan)
    runner_score = np.where(runner >= 0, pairs.score[r], np.nan) if len(pairs) else score
    confidence = np.clip(
        np.where(has, likelihood[p] if len(pairs) else 0.0, 1.0) / denominator, 0.0, 1.0
    )
    ambiguous = has & (runner >= 0) & (runner_score - score < s.ambiguity_delta_chi2)
    ids = catalogue.norad_ids
    columns = {
        "has": has.tolist(),
        "object": j.tolist(),
        "score": score.tolist(),
        "confidence": confidence.tolist(),
        "ambiguous": ambiguous.tolist(),
        "n_candidates": n_gated.tolist(),
        "runner_id": [None if q < 0 else int(ids[pairs.object_index[q]]) for q in runner.tolist()],
        "runner_score": [None if not math.isfinite(v) else v for v in runner_score.tolist()],
    }
    if len(pairs):
        columns.update(
            cross=(pairs.cross_track_deg[p] * ARCSEC_PER_DEG).tolist(),
            along=pairs.along_track_s[p].tolist(),
            direction=pairs.direction_deg[p].tolist(),
            rate=pairs.rate_fraction[p].tolist(),
            age=pairs.element_age_days[p].tolist(),
        )

    out: list[Association] = []
    for i, track in enumerate(tracks):
        common = dict(
            time=track.time,
            track_id=track.track_id,
            sensor_id=track.sensor_id,
            frame_id=track.frame_id,
            n_candidates=columns["n_candidates"][i],
            runner_up_norad_id=columns["runner_id"][i],
            runner_up_score=columns["runner_score"][i],
            confidence=columns["confidence"][i],
        )
        if not columns["has"][i]:
            out.append(Association(uct=True, **common))
            continue
        k = columns["object"][i]
        out.append(
            Association(
                uct=False,
                norad_id=int(ids[k]),
                name=catalogue.names[k] or None,
                cross_track_arcsec=columns["cross"][i],
                along_track_s=_finite_or_none(columns["along"][i]),
                direction_residual_deg=_finite_or_none(columns["direction"][i]),
                rate_residual=_finite_or_none(columns["rate"][i]),
                score=columns["score"][i],
                ambiguous=columns["ambiguous"][i],
                element_epoch=datetime_from_unix(float(catalogue.epoch_unix_s[k])),
                element_age_days=columns["age"][i],
                **common,
            )
        )
    return out


def _best_per_track(pairs: CandidatePairs, idx: IntArray) -> IntArray:
    """Of the pairs ``idx``, the lowest-score one of each track present."""
    if len(idx) == 0:
        return idx
    idx = idx[np.lexsort((pairs.score[idx], pairs.track[idx]))]
    first = np.r_[True, pairs.track[idx][1:] != pairs.track[idx][:-1]]
    return idx[first]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
