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
from dataclasses import dataclass

import numpy as np

from ..models import Association, FieldOfView, Sensor, TrackUpdate
from ..predict import SkyPredictor
from ..types import Array, BoolArray
from .arcs import measure_arcs
from .assign import assign
from .coarse import coarse_select
from .evidence import N_SUMS, add_measurements
from .objects import ObjectStates, object_states
from .pairs import CandidatePairs, empty_pairs
from .records import associations, verdicts
from .scoring import score_candidates
from .settings import CorrelationSettings
from .tracks import frame_tracks

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
    """What one frame's identification produced."""

    associations: list[Association]
    evidence: ArcEvidence  # to keep for the next frame
    confirm: list[str]  # tentative tracks a catalogued object explains: confirm them now
    pairs: CandidatePairs


@dataclass(frozen=True)
class _Arcs:
    """The tracks' arcs, ``(K, L)``: times, positions and sigmas, NaN-padded on the left."""

    time_s: Array
    ra_deg: Array
    dec_deg: Array
    sigma_deg: Array


def identify(
    tracks: Sequence[TrackUpdate],
    arcs: tuple[Array, Array, Array, Array],
    evidence: ArcEvidence,
    sensor: Sensor,
    predictor: SkyPredictor,
    settings: CorrelationSettings,
    *,
    fov: FieldOfView | None = None,
) -> Identification:
    """Identify the tracks that took a detection this frame (see the module docstring).

    ``tracks`` are their records at the frame (one time); ``arcs`` their arcs from the tracker
    (:meth:`~orbitlink.tracking.tracker.SensorTracker.arcs`), newest detection last (the
    frame's); ``evidence`` what the previous frames left. Evidence of tracks not in ``tracks``
    is kept as it is.
    """
    s = settings
    ids = [t.track_id for t in tracks]
    present = set(ids)
    mine = np.array([t in present for t in evidence.track_id], dtype=bool)
    held_elsewhere = evidence.take(~mine)
    if not tracks:
        return Identification([], evidence, [], empty_pairs(0))
    arc = _Arcs(*(np.asarray(a, dtype=float) for a in arcs))
    catalogue = predictor.catalogue
    trk = frame_tracks(tracks, sensor)
    objects: ObjectStates | None = None
    prediction = None
    if len(catalogue):
        _, observer_velocity = predictor.observer_state_gcrs_km(sensor, trk.time_unix_s)
        prediction = predictor.at(sensor, trk.time_unix_s)
        objects = object_states(
            trk,
            prediction,
            catalogue.epoch_unix_s,
            predictor.orbit_classes(),
            predictor.mean_motion_rad_s(),
            observer_velocity,
            sensor,
            s,
            fov,
        )
    if objects is None:
        records = associations(
            tracks, catalogue, empty_pairs(len(tracks)), np.full(len(tracks), -1), s
        )
        return Identification(records, held_elsewhere, [], empty_pairs(len(tracks)))

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
        return Identification(records, held_elsewhere, [], empty_pairs(len(tracks)))

    # What to measure: the frame's detection of a held pair, the whole arc of a new one.
    latest = arc.time_s.shape[1] - 1
    is_new = np.arange(n_pairs) >= n_held
    columns = np.where(is_new[:, None], np.arange(arc.time_s.shape[1])[None, :], latest)
    measured = np.isfinite(arc.time_s[track[:, None], columns]) & (
        is_new[:, None] | (columns == latest)
    )
    pair_of, column = np.nonzero(measured)
    column = columns[pair_of, column]
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
    chosen = assign(pairs.track, pairs.object_index, pairs.log_lr, len(tracks))
    records = associations(tracks, catalogue, pairs, chosen, s)
    named, _, _, ambiguous = verdicts(pairs, chosen, s)
    confirm = [
        tracks[k].track_id
        for k in range(len(tracks))
        if tracks[k].status == "tentative"
        and named[k] >= 0
        and not ambiguous[k]
        and pairs.log_lr[named[k]] >= s.confirm_log_odds
    ]

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
    return Identification(records, _concat(held_elsewhere, carried), confirm, pairs)


def _concat(a: ArcEvidence, b: ArcEvidence) -> ArcEvidence:
    return ArcEvidence(
        a.track_id + b.track_id,
        np.r_[a.norad_id, b.norad_id].astype(np.int64),
        np.r_[a.t_ref_s, b.t_ref_s],
        np.r_[a.slow, b.slow].astype(bool),
        np.r_[a.detections, b.detections].astype(np.int32),
        np.concatenate([a.sums, b.sums]),
    )
