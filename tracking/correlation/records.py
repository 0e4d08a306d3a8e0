"""Association records: the verdict on each track from the evidence of its arc.

Per track, the hypotheses are its candidate objects and "an uncatalogued object"; their
posterior probabilities follow from the log-likelihood ratios (each against the UCT
hypothesis, whose prior is already in the ratio). After the joint assignment:

* a track is **named** when its assigned object beats the UCT hypothesis by at least
  ``name_log_odds``; otherwise it is a **UCT**, with its best candidate as the runner-up;
* ``confidence`` is the posterior of the verdict, each candidate discounted by the chance that
  another track of the frame is that object (one object, one track);
* a named track is **ambiguous** when another candidate explains it within
  ``ambiguity_log_odds`` of the chosen object, or when another track explains the chosen
  object within that margin (two tracks that could each be the object: a co-located pair, a
  train);
* ``score`` is ``-2 log`` of the likelihood ratio (lower is better; negative when the object
  beats the UCT hypothesis), ``runner_up_score`` the same for the runner-up, and
  ``arc_detections`` the number of detections the evidence holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..batches import TrackBatch, trusted_records
from ..catalogue import Catalogue
from ..models import Association, TrackUpdate
from ..times import datetime_from_unix
from ..types import IntArray
from .pairs import CandidatePairs
from .settings import CorrelationSettings

__all__ = ["associations", "verdicts"]


def verdicts(
    pairs: CandidatePairs, chosen: IntArray, settings: CorrelationSettings
) -> tuple[IntArray, IntArray, np.ndarray, np.ndarray]:
    """Per track: the named pair (-1 for a UCT), the runner-up pair (-1 for none), the
    confidence of the verdict and whether a named verdict is ambiguous."""
    s, n = settings, pairs.n_tracks
    if len(pairs) == 0:
        none = np.full(n, -1, dtype=np.intp)
        return none, none.copy(), np.ones(n), np.zeros(n, dtype=bool)
    llr = np.where(pairs.acceptable, pairs.log_lr, -np.inf)
    named = np.where(chosen >= 0, chosen, -1)
    weak = (named >= 0) & (llr[np.maximum(named, 0)] < s.name_log_odds)
    named = np.where(weak, -1, named)
    # Posteriors that respect "one object, one track": each candidate's weight for a track is
    # discounted by the chance that another track is that object, from the other tracks' own
    # posteriors (exact for two tracks competing for one object, a good approximation for
    # small clusters). The UCT hypothesis has log ratio 0.
    finite = np.isfinite(llr)
    alone_top = np.zeros(n)
    np.maximum.at(alone_top, pairs.track[finite], llr[finite])
    alone = np.where(finite, np.exp(llr - alone_top[pairs.track]), 0.0)
    alone_total = np.exp(-alone_top) + np.bincount(pairs.track, weights=alone, minlength=n)
    taken = alone / alone_total[pairs.track]  # P(track of the pair is that object), alone
    log_free = np.log1p(-np.clip(taken, 0.0, 1.0 - 1e-12))
    per_object = np.zeros(int(pairs.object_index.max()) + 1)
    np.add.at(per_object, pairs.object_index[finite], log_free[finite])
    # What the other tracks leave of each object: its total minus this pair's own share.
    discounted = np.where(finite, llr + per_object[pairs.object_index] - log_free, -np.inf)
    top = np.zeros(n)
    np.maximum.at(top, pairs.track[finite], discounted[finite])
    weights = np.where(finite, np.exp(discounted - top[pairs.track]), 0.0)
    denominator = np.exp(-top) + np.bincount(pairs.track, weights=weights, minlength=n)

    # Runner-up: the best acceptable candidate of the track other than the named one.
    runner = np.full(n, -1, dtype=np.intp)
    others = np.flatnonzero(np.isfinite(llr))
    others = others[~np.isin(others, named[named >= 0])]
    if len(others):
        order = others[np.lexsort((-llr[others], pairs.track[others]))]
        first = np.r_[True, pairs.track[order][1:] != pairs.track[order][:-1]]
        runner[pairs.track[order[first]]] = order[first]

    has = named >= 0
    chosen_llr = np.where(has, llr[np.maximum(named, 0)], 0.0)
    chosen_weight = np.where(has, discounted[np.maximum(named, 0)], 0.0)
    confidence = np.where(has, np.exp(chosen_weight - top), np.exp(-top)) / np.maximum(
        denominator, 1e-300
    )
    ambiguous = np.zeros(n, dtype=bool)
    if has.any():
        runner_llr = np.where(runner >= 0, llr[np.maximum(runner, 0)], -np.inf)
        rival_object = has & (runner_llr >= chosen_llr - s.ambiguity_log_odds)
        # Another track that explains the chosen object nearly as well.
        best_other_track = np.full(n, -np.inf)
        chosen_object = np.where(has, pairs.object_index[np.maximum(named, 0)], -1)
        same = np.flatnonzero(np.isfinite(llr))
        namer = np.full(int(pairs.object_index.max()) + 1, -1, dtype=np.intp)
        namer[chosen_object[has]] = np.flatnonzero(has)
        mapped = namer[pairs.object_index[same]]
        rival = (mapped >= 0) & (mapped != pairs.track[same])
        np.maximum.at(best_other_track, mapped[rival], llr[same][rival])
        rival_track = has & (best_other_track >= chosen_llr - s.ambiguity_log_odds)
        ambiguous = rival_object | rival_track
    return named, runner, np.clip(confidence, 0.0, 1.0), ambiguous


def associations(
    tracks: Sequence[TrackUpdate] | TrackBatch,
    catalogue: Catalogue,
    pairs: CandidatePairs,
    chosen: IntArray,
    settings: CorrelationSettings,
) -> list[Association]:
    """One record per track, in order, from the pairs and the assignment (``chosen``)."""
    if not isinstance(tracks, TrackBatch):
        tracks = (
            TrackBatch.from_records(tracks)
            if len(tracks)
            else TrackBatch.empty(datetime_from_unix(0.0), "", None)
        )
    named, runner, confidence, ambiguous = verdicts(pairs, chosen, settings)
    ids = catalogue.norad_ids.tolist()
    n_acceptable = np.bincount(pairs.track[pairs.acceptable], minlength=len(tracks)).tolist()
    object_index = pairs.object_index.tolist()
    log_lr = pairs.log_lr.tolist()
    cross = pairs.cross_track_arcsec.tolist()
    along = pairs.along_track_s.tolist()
    direction = pairs.direction_deg.tolist()
    rate = pairs.rate_fraction.tolist()
    age = pairs.element_age_days.tolist()
    detections = pairs.arc_detections.tolist()
    time, sensor_id, frame_id = tracks.time, tracks.sensor_id, tracks.frame_id
    epochs, names = catalogue.epochs, catalogue.names
    confidences, ambiguities = confidence.tolist(), ambiguous.tolist()
    # A UCT's record is mostly nulls: copied from this one (in the model's field order).
    uct: dict[str, object] = dict.fromkeys(Association.model_fields)
    uct.update(time=time, sensor_id=sensor_id, frame_id=frame_id, uct=True, ambiguous=False)
    uct.update(n_candidates=0, arc_detections=0)
    rows: list[dict[str, object]] = []
    for i, (p, q, track_id) in enumerate(zip(named.tolist(), runner.tolist(), tracks.track_id)):
        if p < 0:
            row = uct.copy()
            row["track_id"] = track_id
            row["confidence"] = confidences[i]
            if q >= 0:
                row["runner_up_norad_id"] = ids[object_index[q]]
                row["runner_up_score"] = _score(log_lr[q])
            row["n_candidates"] = n_acceptable[i]
            rows.append(row)
            continue
        k = object_index[p]
        rows.append(
            {
                "time": time,
                "track_id": track_id,
                "sensor_id": sensor_id,
                "frame_id": frame_id,
                "norad_id": ids[k],
                "name": names[k] or None,
                "uct": False,
                "cross_track_arcsec": _finite_or_none(cross[p]),
                "along_track_s": _finite_or_none(along[p]),
                "direction_residual_deg": _finite_or_none(direction[p]),
                "rate_residual": _finite_or_none(rate[p]),
                "score": _score(log_lr[p]),
                "confidence": confidences[i],
                "ambiguous": ambiguities[i],
                "runner_up_norad_id": None if q < 0 else ids[object_index[q]],
                "runner_up_score": None if q < 0 else _score(log_lr[q]),
                "element_epoch": epochs[k],
                "element_age_days": age[p],
                "n_candidates": n_acceptable[i],
                "arc_detections": detections[p],
            }
        )
    # Every value is of its field's type and finite (or None): validation would only cost.
    return trusted_records(Association, rows)


def _score(log_lr: float) -> float | None:
    return -2.0 * float(log_lr) if math.isfinite(log_lr) else None


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
