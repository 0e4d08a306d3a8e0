"""Verdicts from the whole arc: the evidence each track keeps about its candidates.

:class:`ArcEvidence` is the per-sensor memory of the correlator: for every track, up to
``max_candidates_per_track`` candidate objects with the running sums of their arc evidence
(:mod:`.evidence`), kept from frame to frame beside the tracker state. :func:`identify` runs
one frame:

1. the catalogue at the frame time, the objects that can be the tracks, and the coarse pairs
   (the stages of :func:`~.correlator.correlate_tracks`);
2. a candidate already held is measured against the frame's detection only; a new one against
   every detection of the track's arc (the tracker keeps the last few), so a candidate found
   late is judged on the same arc as the others;
3. every pair's log-likelihood ratio against the uncatalogued-object hypothesis, one joint
   assignment over the frame's tracks (:func:`~.assign.assign`), and the records
   (:mod:`.records`);
4. tentative tracks that a catalogued object explains beyond ``confirm_log_odds``, with no
   rival, are returned for confirmation.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..batches import TrackBatch
from ..catalogue import Catalogue
from ..models import Association, FieldOfView, Sensor, TrackUpdate
from ..predict import SkyPredictor
from ..types import Array, BoolArray
from .arcs import measure_arcs
from .assign import assign
from .claims import CONSISTENT_CHI2, Claims
from .coarse import coarse_select
from .evidence import N_SUMS, add_measurements
from .objects import ObjectStates, object_states
from .pairs import CandidatePairs, empty_pairs
from .records import associations, verdicts
from .scoring import score_candidates
from .settings import CorrelationSettings
from .tracks import FrameTracks, frame_tracks

if TYPE_CHECKING:  # candidates.py imports this package: the name is for types only
    from ..candidates import CandidateCache

__all__ = ["ArcEvidence", "Identification", "identify"]

_MAGIC = b"ORBITLINK-EVIDENCE-1\n"


@dataclass(frozen=True)
class ArcEvidence:
    """The candidates each track holds and their running sums: M rows, grouped by track."""

    track_id: tuple[str, ...]  # (M,)
    norad_id: np.ndarray  # (M,) int64
    t_ref_s: Array  # (M,) the pair's time origin (its first detection), Unix s
    slow: BoolArray  # (M,) along offset a distance (near-stationary object), else a time
    detections: np.ndarray  # (M,) int32, detections summed
    sums: Array  # (M, 2, N_SUMS): along, cross

    def __len__(self) -> int:
        return len(self.track_id)

    @classmethod
    def empty(cls) -> ArcEvidence:
        return cls(
            (),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0, bool),
            np.zeros(0, np.int32),
            np.zeros((0, 2, N_SUMS)),
        )

    def take(self, keep: np.ndarray) -> ArcEvidence:
        index = np.flatnonzero(keep) if keep.dtype == bool else keep
        return ArcEvidence(
            tuple(self.track_id[i] for i in index.tolist()),
            self.norad_id[index],
            self.t_ref_s[index],
            self.slow[index],
            self.detections[index],
            self.sums[index],
        )

    def of_tracks(self, track_ids: set[str]) -> ArcEvidence:
        """The rows of the named tracks only (the others have ended)."""
        return self.take(np.array([t in track_ids for t in self.track_id], dtype=bool))

    def to_bytes(self) -> bytes:
        """Deterministic bytes: a magic line, a JSON header, raw little-endian arrays."""
        header = json.dumps({"track_id": list(self.track_id)}, separators=(",", ":")).encode()
        arrays = [
            np.ascontiguousarray(self.norad_id, "<i8"),
            np.ascontiguousarray(self.t_ref_s, "<f8"),
            np.ascontiguousarray(self.slow, "|b1"),
            np.ascontiguousarray(self.detections, "<i4"),
            np.ascontiguousarray(self.sums, "<f8"),
        ]
        return b"".join(
            [_MAGIC, struct.pack("<I", len(header)), header, *(a.tobytes() for a in arrays)]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ArcEvidence:
        """Inverse of :meth:`to_bytes`; ``ValueError`` on bytes that are not evidence."""
        if not data.startswith(_MAGIC):
            raise ValueError("not orbitlink arc evidence (bad magic)")
        offset = len(_MAGIC)
        try:
            (size,) = struct.unpack_from("<I", data, offset)
            offset += 4
            ids = tuple(json.loads(data[offset : offset + size].decode())["track_id"])
            offset += size
        except (struct.error, KeyError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"corrupt arc evidence: {exc!r}") from None
        m = len(ids)
        out = []
        for dtype, shape in (
            ("<i8", ()),
            ("<f8", ()),
            ("|b1", ()),
            ("<i4", ()),
            ("<f8", (2, N_SUMS)),
        ):
            count = m * int(np.prod(shape, dtype=int))
            nbytes = count * np.dtype(dtype).itemsize
            if offset + nbytes > len(data):
                raise ValueError("corrupt arc evidence: arrays run past the end")
            out.append(np.frombuffer(data, dtype, count, offset).reshape((m, *shape)).copy())
            offset += nbytes
        if offset != len(data):
            raise ValueError("corrupt arc evidence: trailing bytes")
        return cls(ids, out[0], out[1], out[2].astype(bool), out[3], out[4])


@dataclass(frozen=True)
class Identification:
    """What one frame's identification produced: the frame's tracks' records, revised
    verdicts of earlier tracks whose object a track of this frame took or now shares
    (:mod:`.claims`), and the evidence and claims to keep for the next frame."""

    associations: list[Association]
    evidence: ArcEvidence
    confirm: list[str]  # tentative tracks a catalogued object explains: confirm them now
    pairs: CandidatePairs
    claims: Claims = field(default_factory=Claims.empty)
    revised: list[Association] = field(default_factory=list)
    # Per confirmed tentative track: the named object's predicted on-sky rate at the frame, in
    # the track's tangent plane (deg/s), and its covariance: the prior a short arc lacks.
    rate_priors: dict[str, tuple[Array, Array]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Arcs:
    """The tracks' arcs, ``(K, L)``: times, positions and sigmas, NaN-padded on the left."""

    time_s: Array
    ra_deg: Array
    dec_deg: Array
    sigma_deg: Array


def identify(
    tracks: Sequence[TrackUpdate] | TrackBatch,
    arcs: tuple[Array, Array, Array, Array],
    evidence: ArcEvidence,
    sensor: Sensor,
    predictor: SkyPredictor,
    settings: CorrelationSettings,
    *,
    fov: FieldOfView | None = None,
    claims: Claims | None = None,
    candidates: CandidateCache | None = None,
) -> Identification:
    """Identify the tracks that took a detection this frame (see the module docstring).

    ``tracks`` are their records at the frame (one time: models, or the tracker's columns);
    ``arcs`` their arcs from the tracker
    (:meth:`~orbitlink.tracking.tracker.SensorTracker.arcs`), newest detection last (the
    frame's); ``evidence`` and ``claims`` what the previous frames left. Evidence of tracks
    not in ``tracks`` is kept as it is. ``candidates``, the sensor's
    :class:`~orbitlink.tracking.candidates.CandidateCache`, limits the frame to the objects
    that can be within reach of its field (the records are the same without it).
    """
    s = settings
    claims = Claims.empty() if claims is None else claims
    ids = (
        [t.track_id for t in tracks]
        if not isinstance(tracks, TrackBatch)
        else list(tracks.track_id)
    )
    present = set(ids)
    mine = np.array([t in present for t in evidence.track_id], dtype=bool)
    held_elsewhere = evidence.take(~mine)
    if not len(tracks):
        return Identification([], evidence, [], empty_pairs(0), claims)
    arc = _Arcs(*(np.asarray(a, dtype=float) for a in arcs))
    catalogue = predictor.catalogue
    trk = frame_tracks(tracks, sensor)
    if not isinstance(tracks, TrackBatch):
        tracks = TrackBatch.from_records(tracks)
    objects: ObjectStates | None = None
    prediction = None
    if len(catalogue):
        _, observer_velocity = predictor.observer_state_gcrs_km(sensor, trk.time_unix_s)
        index = (
            None
            if candidates is None
            else candidates.index_for(
                sensor, trk.time_unix_s, fov, trk.unit, float(trk.position_var.max()), s
            )
        )
        prediction = predictor.at(sensor, trk.time_unix_s, index)
        rows = prediction.index
        objects = object_states(
            trk,
            prediction,
            catalogue.epoch_unix_s[rows],
            predictor.orbit_classes()[rows],
            predictor.mean_motion_rad_s()[rows],
            observer_velocity,
            sensor,
            s,
            fov,
        )
    if objects is None:
        records = associations(
            tracks, catalogue, empty_pairs(len(tracks)), np.full(len(tracks), -1), s
        )
        return Identification(records, held_elsewhere, [], empty_pairs(len(tracks)), claims)

    # The pairs: those held (still reachable, same kind of along offset) and the coarse ones.
    held = evidence.take(mine)
    track_of_id = {tid: k for k, tid in enumerate(ids)}
    held_track = np.array([track_of_id[t] for t in held.track_id], dtype=np.intp)
    held_index = catalogue.index_of(held.norad_id) if len(held) else np.zeros(0, np.intp)
    held_row = np.searchsorted(objects.index, held_index)
    held_row = np.minimum(held_row, len(objects.index) - 1)
    keep_held = (held_index >= 0) & (objects.index[held_row] == held_index)
    keep_held &= objects.slow[held_row] == held.slow
    held, held_track, held_row = held.take(keep_held), held_track[keep_held], held_row[keep_held]
    coarse = coarse_select(trk, objects, s)
    width = len(objects.index)
    new = ~np.isin(coarse.track * width + coarse.row, held_track * width + held_row)
    new_track, new_row = coarse.track[new], coarse.row[new]
    track = np.r_[held_track, new_track].astype(np.intp)
    row = np.r_[held_row, new_row].astype(np.intp)
    n_held, n_pairs = len(held), len(held) + len(new_track)
    if n_pairs == 0:
        records = associations(
            tracks, catalogue, empty_pairs(len(tracks)), np.full(len(tracks), -1), s
        )
        return Identification(records, held_elsewhere, [], empty_pairs(len(tracks)), claims)

    # What to measure: the frame's detection of a held pair, the whole arc of a new one.
    latest = arc.time_s.shape[1] - 1
    is_new = np.arange(n_pairs) >= n_held
    slots = np.arange(arc.time_s.shape[1])[None, :]
    measured = np.isfinite(arc.time_s[track]) & (is_new[:, None] | (slots == latest))
    pair_of, column = np.nonzero(measured)
    k_of = track[pair_of]
    points = measure_arcs(
        predictor,
        sensor,
        objects.index[row[pair_of]],
        objects.slow[row[pair_of]],
        objects.window_s[row[pair_of]],
        arc.time_s[k_of, column],
        arc.ra_deg[k_of, column],
        arc.dec_deg[k_of, column],
        arc.sigma_deg[k_of, column],
        s,
    )
    first_time = np.full(n_pairs, np.inf)
    np.minimum.at(first_time, pair_of, arc.time_s[k_of, column])
    t_ref = np.r_[held.t_ref_s, first_time[n_held:]]
    sums = np.concatenate([held.sums, np.zeros((n_pairs - n_held, 2, N_SUMS))])
    detections = np.r_[held.detections, np.zeros(n_pairs - n_held, np.int32)]
    t_rel = arc.time_s[k_of, column] - t_ref[pair_of]
    add_measurements(sums[:, 0], pair_of, t_rel, points.along, points.along_weight)
    add_measurements(sums[:, 1], pair_of, t_rel, points.cross_km, points.cross_weight)
    np.add.at(detections, pair_of, points.ok.astype(np.int32))

    # The geometry of each pair now: its point at the frame's detection.
    now = column == latest
    current = np.full(n_pairs, -1, dtype=np.intp)
    current[pair_of[now]] = np.flatnonzero(now)
    has_now = current >= 0
    c = np.maximum(current, 0)
    range_km = np.where(has_now, points.range_km[c], objects.range_km[row])
    path_speed = np.where(
        has_now, points.path_speed_deg_s[c], np.degrees(np.linalg.norm(objects.path[row], axis=-1))
    )
    motion = np.where(has_now[:, None], points.motion[c], objects.motion[row])
    pairs = score_candidates(
        trk,
        objects,
        prediction,
        track,
        row,
        sums,
        t_ref,
        detections,
        range_km,
        path_speed,
        motion,
        catalogue,
        s,
    )
    # Earlier tracks that claim an object a track of this frame wants, with other offsets,
    # compete for it in the assignment (one object, one track).
    rivals, rival_rows = _rivals(pairs, ids, claims, catalogue, trk.time_unix_s, s)
    everyone = _with_rivals(pairs, rivals, len(tracks))
    chosen = assign(everyone.track, everyone.object_index, everyone.log_lr, everyone.n_tracks)
    records = associations(tracks, catalogue, everyone, chosen, s)
    named, _, confidence, ambiguous = verdicts(everyone, chosen, s)
    tentative = tracks.is_status("tentative")
    confirm = [
        ids[k] for k in range(len(tracks)) if tentative[k] and named[k] >= 0 and not ambiguous[k]
    ]
    revised = _revised(claims, rival_rows, named, confidence, ambiguous, len(tracks), tracks)
    rate_priors = _rate_priors(trk, ids, confirm, named, pairs, motion, range_km, path_speed)
    claims = _claims_after(
        claims, records, pairs, named, rival_rows, len(tracks), catalogue, s, trk.time_unix_s
    )

    # Keep the best candidates of each track for the next frame.
    log_lr = pairs.log_lr
    slow = pairs.slow
    score = np.where(np.isfinite(log_lr), log_lr, -np.inf)
    order = np.lexsort((-score, track))
    rank = np.empty(n_pairs, dtype=np.intp)
    starts = np.r_[0, np.flatnonzero(np.diff(track[order])) + 1]
    rank[order] = np.arange(n_pairs) - np.repeat(starts, np.diff(np.r_[starts, n_pairs]))
    keep = (rank < s.max_candidates_per_track) & (detections > 0)
    kept = np.flatnonzero(keep)
    carried = ArcEvidence(
        tuple(ids[k] for k in track[kept].tolist()),
        catalogue.norad_ids[objects.index[row[kept]]].astype(np.int64),
        t_ref[kept],
        slow[kept],
        detections[kept],
        sums[kept],
    )
    return Identification(
        records, _concat(held_elsewhere, carried), confirm, pairs, claims, revised, rate_priors
    )


def _concat(a: ArcEvidence, b: ArcEvidence) -> ArcEvidence:
    return ArcEvidence(
        a.track_id + b.track_id,
        np.r_[a.norad_id, b.norad_id].astype(np.int64),
        np.r_[a.t_ref_s, b.t_ref_s],
        np.r_[a.slow, b.slow].astype(bool),
        np.r_[a.detections, b.detections].astype(np.int32),
        np.concatenate([a.sums, b.sums]),
    )


def _rivals(
    pairs: CandidatePairs,
    ids: list[str],
    claims: Claims,
    catalogue: Catalogue,
    time_s: float,
    s: CorrelationSettings,
) -> tuple[CandidatePairs, np.ndarray]:
    """The claims that compete with this frame's pairs: ``(rival pairs, claim rows)``, one
    rival "track" per claim, wanting its object with the evidence it had."""
    none = (empty_pairs(0), np.zeros(0, dtype=np.intp))
    if len(claims) == 0 or len(pairs) == 0:
        return none
    norad = catalogue.norad_ids[pairs.object_index]
    row = claims.find(norad)
    present = set(ids)
    claimant = [claims.verdict[r].track_id if r >= 0 else None for r in row.tolist()]
    elsewhere = np.array([c is not None and c not in present for c in claimant], dtype=bool)
    wanted = elsewhere & pairs.acceptable & (claims.slow[np.maximum(row, 0)] == pairs.slow)
    wanted &= time_s - claims.time_s[np.maximum(row, 0)] <= s.claim_memory_s
    if not wanted.any():
        return none
    p = np.flatnonzero(wanted)
    intercept, variance = claims.carried_to(row[p], time_s)
    mine = pairs.offset_mean[p, :, 0]
    mine_var = pairs.offset_cov[p, :, 0, 0]
    chi2 = np.sum((mine - intercept) ** 2 / (mine_var + variance), axis=-1)
    # Arcs that agree are the same object seen again: no rivalry.
    competing = np.unique(row[p[chi2 > CONSISTENT_CHI2]])
    if len(competing) == 0:
        return none
    index = catalogue.index_of(claims.norad_id[competing])
    k = len(competing)
    rivals = CandidatePairs(
        track=np.arange(k, dtype=np.intp),
        object_index=index.astype(np.intp),
        log_lr=claims.log_lr[competing],
        along_track_s=np.full(k, np.nan),
        cross_track_arcsec=np.full(k, np.nan),
        direction_deg=np.full(k, np.nan),
        rate_fraction=np.full(k, np.nan),
        element_age_days=np.full(k, np.nan),
        arc_detections=np.zeros(k, dtype=np.intp),
        slow=claims.slow[competing],
        n_tracks=k,
    )
    return rivals, competing


def _with_rivals(pairs: CandidatePairs, rivals: CandidatePairs, n_tracks: int) -> CandidatePairs:
    """The frame's pairs with the rival claimants appended as tracks ``n_tracks`` onwards."""
    if len(rivals) == 0:
        return pairs

    def join(name: str) -> np.ndarray:
        return np.r_[getattr(pairs, name), getattr(rivals, name)]

    return CandidatePairs(
        track=np.r_[pairs.track, rivals.track + n_tracks].astype(np.intp),
        object_index=join("object_index").astype(np.intp),
        log_lr=join("log_lr"),
        along_track_s=join("along_track_s"),
        cross_track_arcsec=join("cross_track_arcsec"),
        direction_deg=join("direction_deg"),
        rate_fraction=join("rate_fraction"),
        element_age_days=join("element_age_days"),
        arc_detections=join("arc_detections").astype(np.intp),
        slow=join("slow").astype(bool),
        n_tracks=n_tracks + rivals.n_tracks,
    )


def _revised(
    claims: Claims,
    rival_rows: np.ndarray,
    named: np.ndarray,
    confidence: np.ndarray,
    ambiguous: np.ndarray,
    n_tracks: int,
    frame: TrackBatch,
) -> list[Association]:
    """New verdicts of rival claimants that lost their object, or now share it ambiguously,
    dated at this frame."""
    out = []
    for v, row in enumerate(rival_rows.tolist()):
        old = claims.verdict[row]
        when = dict(
            time=frame.time, frame_id=frame.frame_id, confidence=float(confidence[n_tracks + v])
        )
        if named[n_tracks + v] < 0:
            out.append(
                Association(
                    track_id=old.track_id,
                    sensor_id=old.sensor_id,
                    uct=True,
                    runner_up_norad_id=old.norad_id,
                    runner_up_score=old.score,
                    n_candidates=old.n_candidates,
                    **when,
                )
            )
        elif ambiguous[n_tracks + v] and not old.ambiguous:
            out.append(old.model_copy(update=dict(ambiguous=True, **when)))
    return out


def _claims_after(
    claims: Claims,
    records: list[Association],
    pairs: CandidatePairs,
    named: np.ndarray,
    rival_rows: np.ndarray,
    n_tracks: int,
    catalogue: Catalogue,
    s: CorrelationSettings,
    time_s: float,
) -> Claims:
    """The claims after this frame: the frame's named tracks claim their objects, rivals
    that lost let go, tracks of this frame that no longer name an object let go of theirs."""
    rows = [k for k in range(n_tracks) if named[k] >= 0]
    p = named[rows].astype(np.intp) if rows else np.zeros(0, dtype=np.intp)
    new = Claims(
        catalogue.norad_ids[pairs.object_index[p]].astype(np.int64),
        tuple(records[k] for k in rows),
        np.full(len(p), time_s),
        pairs.log_lr[p],
        pairs.slow[p],
        pairs.offset_mean[p],
        pairs.offset_cov[p],
        pairs.drift_var[p],
    )
    released = {
        int(claims.norad_id[row])
        for v, row in enumerate(rival_rows.tolist())
        if named[n_tracks + v] < 0
    }
    frame_ids = {r.track_id for r in records}
    released |= {
        int(n)
        for n, v in zip(claims.norad_id.tolist(), claims.verdict)
        if v.track_id in frame_ids and n not in set(new.norad_id.tolist())
    }
    return claims.updated(new, released, time_s, s.claim_memory_s)


def _rate_priors(
    trk: FrameTracks,
    track_ids: Sequence[str],
    confirm: list[str],
    named: np.ndarray,
    pairs: CandidatePairs,
    motion: Array,
    range_km: Array,
    path_speed_deg_s: Array,
) -> dict[str, tuple[Array, Array]]:
    """The named objects' predicted rates of the tracks to confirm, with the spread their
    hypothesis allows (the slopes' prior variances, along and across the path)."""
    out: dict[str, tuple[Array, Array]] = {}
    wanted = set(confirm)
    for k, track_id in enumerate(track_ids):
        if track_id not in wanted:
            continue
        p = int(named[k])
        e, n = trk.east[k], trk.north[k]
        rate = np.degrees(np.array([motion[p] @ e, motion[p] @ n]))
        speed = float(np.hypot(*rate))
        direction = rate / speed if speed > 1e-9 else np.array([1.0, 0.0])
        normal = np.array([-direction[1], direction[0]])
        deg_per_km = np.degrees(1.0) / max(float(range_km[p]), 1.0)
        along_sigma = (
            np.sqrt(pairs.drift_var[p, 0]) * deg_per_km
            if pairs.slow[p]
            else float(path_speed_deg_s[p]) * np.sqrt(pairs.drift_var[p, 0])
        )
        cross_sigma = np.sqrt(pairs.drift_var[p, 1]) * deg_per_km
        cov = along_sigma**2 * np.outer(direction, direction) + cross_sigma**2 * np.outer(
            normal, normal
        )
        out[track_id] = (rate, cov)
    return out
