"""The frame-to-frame tracker of one sensor: detections in, track updates out.

:class:`SensorTracker` keeps every track of one sensor in a handful of numpy arrays and, for
each frame, runs one batched cycle:

1. predict every track to the frame time (constant velocity in its tangent plane, process
   noise scaled to the track's angular speed, :mod:`tracking.kalman`);
2. pre-gate with a KD-tree, gate by Mahalanobis distance and assign detections to tracks by
   global nearest neighbour (:mod:`tracking.association`);
3. update the assigned tracks, re-centre every track's tangent plane on its new position;
4. run the life cycle: M-of-N confirmation, coasting through missed frames, deletion after
   too many misses, a covariance grown too large or a track leaving the field of view;
5. start tentative tracks from pairs of unassociated detections, one of this frame and one
   of the last frame or two (two-point velocity initialisation within a maximum angular
   rate).

The whole state (arrays plus a few scalars) serialises to bytes and back bit-exactly
(:meth:`SensorTracker.to_bytes`), which is how the stream worker keeps it in a table and
recovers after a crash. Track ids come from a per-sensor counter in that state, so the same
frames in the same order always give the same records.
"""

from __future__ import annotations

import json
import math
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator
from scipy.spatial import cKDTree

from .association import candidate_pairs, chi2_gate, chord_from_angle, gnn_assign
from .batches import TrackBatch
from .constants import DEG_PER_ARCSEC
from .kalman import (
    constant_velocity_transition,
    mahalanobis_sq,
    predict,
    recentre,
    two_point_initial_state,
    update,
    white_noise_acceleration,
)
from .models import Frame, TrackUpdate
from .settings import Settings
from .sky import angular_separation_deg, gnomonic_from_radec, tangent_basis, unit_from_radec
from .times import unix_from_datetime
from .types import Array, Disposition

__all__ = ["Disposition", "SensorTracker", "TrackerSettings", "TrackerStep"]

#: Record statuses by code, so that records share four string objects.
_STATUS = ("tentative", "confirmed", "coasting", "deleted")
#: How many of its latest detections a track keeps (its arc), for the correlator.
ARC_LENGTH = 8
#: A detection further than this many sigmas from the smooth path through its track's arc
#: marks the arc as mixing objects; the floor (deg) allows for what a quadratic leaves of a
#: real path's curvature over an arc.
ARC_OUTLIER_SIGMA = 8.0
ARC_SIGMA_FLOOR_DEG = 2.0 / 3600.0
_TENTATIVE, _CONFIRMED, _COASTING, _DELETED = range(4)


class TrackerSettings(Settings):
    """Every threshold of the tracker. Units are in the names; see ``docs/tracking.md``.

    The defaults suit optical sensors on the ground or in orbit with frames every 1-30 s,
    LEO objects moving 0.1-1 deg/s and GEO objects at ~15 arcsec/s, detection probability
    ~0.9, a few false alarms per frame and astrometric sigmas of 1-30 arcsec.
    """

    gate_probability: float = Field(
        0.999,
        description="Probability that a true detection falls inside a track's gate "
        "(chi-square, 2 dof): a gate of 13.8, which keeps true detections through model "
        "mismatch (LEO acceleration); global nearest neighbour resolves the rest.",
    )
    accel_floor_deg_s2: float = Field(
        2e-5,
        ge=0.0,
        description="Floor of a track's angular-acceleration scale ``a = "
        "accel_floor_deg_s2 + accel_per_rate_sq_per_deg * speed_deg_s**2``: GEO objects barely "
        "accelerate against the stars, so the floor (also the parallax drift seen from a "
        "sensor in LEO) sets theirs.",
    )
    accel_per_rate_sq_per_deg: float = Field(
        0.02,
        ge=0.0,
        description="Growth of the acceleration scale with the square of the "
        "track's speed: an object passing overhead peaks at about 0.011 * speed^2 (deg/s^2, "
        "speed in deg/s: 0.65 (v/h)^2 rad/s^2 for a straight pass at range h); the default "
        "doubles that.",
    )
    accel_time_s: float = Field(
        10.0,
        gt=0.0,
        description="The white-noise acceleration spectral density is ``q = "
        "a**2 * accel_time_s``: the time over which an acceleration of ``a`` persists.",
    )
    max_init_rate_deg_s: float = Field(
        2.0,
        gt=0.0,
        description="Largest angular rate a two-point initiation may imply: "
        "above the fastest LEO rate seen from the ground (about 1 deg/s).",
    )
    max_init_gap_s: float = Field(
        120.0,
        gt=0.0,
        description="Two detections further apart in time than this never "
        "start a track: 30 s frames with a missed frame still initiate.",
    )
    init_max_frame_gap: int = Field(
        2,
        ge=1,
        description="A tentative track may start from two detections up to this "
        "many frames apart, so one missed detection does not delay initiation (1 = "
        "consecutive frames only).",
    )
    max_init_partners: int = Field(
        8,
        ge=1,
        description="Each unassociated detection starts tentative tracks with up to "
        "this many of the nearest pending (unassociated, recent) detections within the rate "
        "limit; M-of-N confirmation then keeps the pairing that continues.",
    )
    confirm_m: int = Field(
        5,
        ge=2,
        le=32,
        description="A tentative track is confirmed once it has ``confirm_m`` "
        "detections among its last ``confirm_n`` frames (the two initiating detections "
        "count), and deleted as soon as it no longer can.",
    )
    confirm_n: int = Field(7, ge=2, le=32, description="See ``confirm_m``.")
    delete_after_misses: int = Field(
        4,
        ge=1,
        description="A confirmed track is deleted at its ``delete_after_misses``-th "
        "consecutive missed frame (it coasts through the ones before): at Pd 0.9 a live track "
        "is dropped about once in 10^4 frames.",
    )
    max_position_sigma_deg: float = Field(
        0.5,
        gt=0.0,
        description="A track whose 1-sigma position uncertainty (largest axis) "
        "exceeds this is deleted: beyond it, gates hold many detections.",
    )
    max_gate_radius_deg: float = Field(
        5.0,
        gt=0.0,
        description="The KD-tree pre-gate never searches further than this from a prediction.",
    )
    fov_margin_deg: float = Field(
        0.0,
        ge=0.0,
        description="A track predicted further than the frame's FOV radius plus "
        "this margin from the FOV centre has left the field and is deleted (a track outside "
        "the field cannot be observed, so its misses are not evidence). Frames without a FOV "
        "skip the test.",
    )
    frame_id_memory: int = Field(
        256, ge=1, description="How many recent frame ids are remembered to recognise duplicates."
    )
    publish_tentative: bool = Field(
        False,
        description="Publish every tentative track (and its deletion) as well as the "
        "confirmed ones, from its first two detections on.",
    )
    publish_after_detections: int = Field(
        3,
        ge=2,
        le=ARC_LENGTH,
        description="A tentative track with this many detections is offered to the "
        "correlator, which confirms it at once when a catalogued object explains its arc (a "
        "real observer's pass is often only 3-5 points); without such support it is "
        "published as tentative (and so gets a verdict, a UCT) only when its last detection "
        "fell in a gate small enough that clutter is unlikely to have completed it "
        "(``short_arc_clutter_probability``), and confirmed by M-of-N as before.",
    )
    short_arc_clutter_probability: float = Field(
        1e-2,
        gt=0.0,
        lt=1.0,
        description="Largest chance that clutter fell in a tentative track's last gate (the "
        "sensor's measured clutter density times the gate's area) for the track to be "
        "published before its M-of-N confirmation. Fast-moving pairs of clutter get wide gates "
        "and wait; a short arc measured precisely is published at its third detection.",
    )
    clutter_memory_frames: int = Field(
        20,
        ge=1,
        description="Frames over which a sensor's clutter density (detections no confirmed "
        "track took, per square degree of field) is averaged.",
    )

    @field_validator("gate_probability")
    @classmethod
    def _probability(cls, value: float) -> float:
        chi2_gate(value)  # raises naming the gate probability when outside (0, 1)
        return value

    @model_validator(mode="after")
    def _windows(self) -> TrackerSettings:
        if self.confirm_m > self.confirm_n:
            raise ValueError("TrackerSettings needs 2 <= confirm_m <= confirm_n <= 32")
        if self.init_max_frame_gap >= self.confirm_n:
            raise ValueError("TrackerSettings needs 1 <= init_max_frame_gap < confirm_n")
        return self


@dataclass
class TrackerStep:
    """What one frame produced: the records to publish and how the frame was handled.

    ``batch`` holds the records to publish as columns (:class:`~.batches.TrackBatch`;
    ``updates`` builds their models). ``ended`` names the published tracks deleted at this
    frame and ``ended_arcs`` holds their arcs (as :meth:`SensorTracker.arcs` returns them):
    what a pass left behind. ``offered_batch`` (models: ``offered``) holds the records
    (status ``tentative``, not published) of the unpublished tentative tracks with
    ``publish_after_detections`` detections that took one this frame: the correlator may
    confirm them (:meth:`SensorTracker.confirm`). ``nis`` maps each track confirmed before
    this frame that took a detection to its normalised innovation squared (the squared
    Mahalanobis distance of the detection from the prediction): what filter consistency is
    monitored on.
    """

    batch: TrackBatch
    disposition: Disposition
    ended: list[str] = field(default_factory=list)
    ended_arcs: tuple[Array, Array, Array, Array] | None = None
    offered_batch: TrackBatch | None = None
    nis: dict[str, float] = field(default_factory=dict)

    @property
    def updates(self) -> list[TrackUpdate]:
        """The records to publish, as models."""
        return self.batch.records()

    @property
    def offered(self) -> list[TrackUpdate]:
        """The offered short arcs' records, as models."""
        return [] if self.offered_batch is None else self.offered_batch.records()


# Layout of the serialised state: magic, header length, JSON header, raw little-endian arrays.
_MAGIC = b"ORBITLINK-TRACKER-2\n"
_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    # name: (dtype, trailing shape); the leading axis is the track or pending count.
    "ra0_deg": ("<f8", ()),
    "dec0_deg": ("<f8", ()),
    "x": ("<f8", (4,)),
    "P": ("<f8", (4, 4)),
    "number": ("<i8", ()),
    "confirmed": ("|b1", ()),
    "history": ("<u4", ()),
    "age": ("<i4", ()),
    "n_updates": ("<i4", ()),
    "n_missed": ("<i4", ()),
    "published": ("|b1", ()),
    "gate_area_deg2": ("<f8", ()),
    "arc_time_s": ("<f8", (ARC_LENGTH,)),
    "arc_ra_deg": ("<f8", (ARC_LENGTH,)),
    "arc_dec_deg": ("<f8", (ARC_LENGTH,)),
    "arc_sigma_deg": ("<f8", (ARC_LENGTH,)),
    "pending_ra_deg": ("<f8", ()),
    "pending_dec_deg": ("<f8", ()),
    "pending_sigma_deg": ("<f8", ()),
    "pending_time_s": ("<f8", ()),
    "pending_frames_back": ("<i4", ()),
}
_PENDING = (
    "pending_ra_deg",
    "pending_dec_deg",
    "pending_sigma_deg",
    "pending_time_s",
    "pending_frames_back",
)


@dataclass
class _State:
    """Plain-data state of one sensor's tracker. Track arrays share their leading axis."""

    ra0_deg: Array = field(default_factory=lambda: np.empty(0))
    dec0_deg: Array = field(default_factory=lambda: np.empty(0))
    x: Array = field(default_factory=lambda: np.empty((0, 4)))
    P: Array = field(default_factory=lambda: np.empty((0, 4, 4)))
    number: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    confirmed: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, bool))
    history: NDArray[np.uint32] = field(default_factory=lambda: np.empty(0, np.uint32))
    age: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    n_updates: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    n_missed: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    #: Whether the track has been published (it then gets a record until it is deleted),
    #: and the area of its last detection's gate (the chi-square ellipse), deg^2.
    published: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, bool))
    gate_area_deg2: Array = field(default_factory=lambda: np.empty(0))
    #: The track's last ``ARC_LENGTH`` detections (time, position, sigma), oldest first,
    #: NaN where it has had fewer: what the correlator measures a new candidate against.
    arc_time_s: Array = field(default_factory=lambda: np.empty((0, ARC_LENGTH)))
    arc_ra_deg: Array = field(default_factory=lambda: np.empty((0, ARC_LENGTH)))
    arc_dec_deg: Array = field(default_factory=lambda: np.empty((0, ARC_LENGTH)))
    arc_sigma_deg: Array = field(default_factory=lambda: np.empty((0, ARC_LENGTH)))
    pending_ra_deg: Array = field(default_factory=lambda: np.empty(0))
    pending_dec_deg: Array = field(default_factory=lambda: np.empty(0))
    pending_sigma_deg: Array = field(default_factory=lambda: np.empty(0))
    #: Unix time of each pending detection's frame, and how many processed frames ago it
    #: was made (0 = the last frame).
    pending_time_s: Array = field(default_factory=lambda: np.empty(0))
    pending_frames_back: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    last_time_s: float = math.nan
    next_number: int = 1
    #: Running mean of the clutter density (detections no confirmed track took per square
    #: degree of field) and how many frames it has seen.
    clutter_per_deg2: float = math.nan
    clutter_frames: int = 0

    def select(self, keep: NDArray[np.bool_]) -> None:
        """Keep only the tracks where ``keep`` is true."""
        for name in _ARRAYS:
            if name not in _PENDING:
                setattr(self, name, getattr(self, name)[keep])

    def append(self, other: dict[str, np.ndarray]) -> None:
        """Append new tracks given as arrays by name."""
        for name, value in other.items():
            setattr(self, name, np.concatenate([getattr(self, name), value]))


class SensorTracker:
    """Tracks of one sensor, advanced one frame at a time (see the module docstring)."""

    def __init__(self, sensor_id: str, settings: TrackerSettings = TrackerSettings()) -> None:
        if not sensor_id:
            raise ValueError("sensor_id must be a non-empty string")
        self.sensor_id = sensor_id
        self.settings = settings
        self._gate = chi2_gate(settings.gate_probability)
        self._state = _State()
        self._recent_frame_ids: deque[str] = deque(maxlen=settings.frame_id_memory)
        # Track ids by number: a dense frame names each of its thousand tracks several times.
        self._ids: dict[int, str] = {}

    # ------------------------------------------------------------------ read access
    @property
    def n_tracks(self) -> int:
        """Number of live tracks (tentative and confirmed)."""
        return len(self._state.number)

    @property
    def track_ids(self) -> list[str]:
        return self._track_ids(self._state.number)

    @property
    def confirmed(self) -> NDArray[np.bool_]:
        return self._state.confirmed.copy()

    @property
    def ra_deg(self) -> Array:
        """Position of each track at the last frame time (its tangent point)."""
        return self._state.ra0_deg.copy()

    @property
    def dec_deg(self) -> Array:
        return self._state.dec0_deg.copy()

    @property
    def rates_deg_s(self) -> Array:
        """``(n, 2)`` on-sky rates ``(dRA/dt cos Dec, dDec/dt)``."""
        return self._state.x[:, 2:].copy()

    @property
    def covariance(self) -> Array:
        """``(n, 4, 4)`` covariances in the plane tangent at each track's position."""
        return self._state.P.copy()

    @property
    def n_updates(self) -> NDArray[np.int32]:
        return self._state.n_updates.copy()

    @property
    def n_missed(self) -> NDArray[np.int32]:
        return self._state.n_missed.copy()

    @property
    def last_time_s(self) -> float:
        """Unix time of the last processed frame (NaN before the first)."""
        return self._state.last_time_s

    def _rows(self, track_ids: Sequence[str]) -> NDArray[np.intp]:
        """Rows of the live tracks named by ``track_ids`` (``ValueError`` for another)."""
        numbers = np.array([int(tid.rsplit("-", 1)[1]) for tid in track_ids], dtype=np.int64)
        rows = np.searchsorted(self._state.number, numbers)  # numbers only ever increase
        found = (rows < len(self._state.number)) & (
            self._state.number[np.minimum(rows, len(self._state.number) - 1)] == numbers
        )
        if not found.all():
            missing = [tid for tid, ok in zip(track_ids, found.tolist()) if not ok]
            raise ValueError(f"no live track {missing[0]!r} in tracker {self.sensor_id!r}")
        return rows

    def arcs(self, track_ids: Sequence[str]) -> tuple[Array, Array, Array, Array]:
        """The arcs of the named tracks: ``(time_unix_s, ra_deg, dec_deg, sigma_deg)``, each
        ``(len(track_ids), ARC_LENGTH)``, oldest detection first, NaN where a track has had
        fewer than ``ARC_LENGTH``."""
        rows, state = self._rows(track_ids), self._state
        return (
            state.arc_time_s[rows],
            state.arc_ra_deg[rows],
            state.arc_dec_deg[rows],
            state.arc_sigma_deg[rows],
        )

    def fuse_rates(self, track_ids: Sequence[str], rate_deg_s: Array, cov: Array) -> None:
        """Fold an independent estimate of the named tracks' on-sky rates (``(k, 2)``, in
        each track's own tangent plane, as :attr:`rates_deg_s`; covariance ``(k, 2, 2)``) into
        their filters: the catalogue's predicted rate of the object a short arc was named as,
        which a three-detection arc measures poorly."""
        if len(track_ids) == 0:
            return
        rows, state = self._rows(track_ids), self._state
        H = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
        state.x[rows], state.P[rows] = update(
            state.x[rows], state.P[rows], np.asarray(rate_deg_s, float), np.asarray(cov, float), H
        )

    def confirm(self, track_ids: Sequence[str]) -> None:
        """Confirm the named tentative tracks now (the correlator found a catalogued object
        that explains their arc), whatever their M-of-N count."""
        rows = self._rows(track_ids)
        self._state.confirmed[rows] = True
        self._state.published[rows] = True

    def _track_id(self, number: int) -> str:
        track_id = self._ids.get(number)
        if track_id is None:
            if len(self._ids) > 2 * len(self._state.number) + 64:  # forget ended tracks
                live = set(self._state.number.tolist())
                self._ids = {n: t for n, t in self._ids.items() if n in live}
            track_id = self._ids[number] = f"{self.sensor_id}-{number:06d}"
        return track_id

    def _track_ids(self, numbers: NDArray[np.int64]) -> list[str]:
        get, name = self._ids.get, self._track_id
        return [get(n) or name(n) for n in numbers.tolist()]

    # ------------------------------------------------------------------ processing
    def process(self, frame: Frame, default_sigma_arcsec: float) -> TrackerStep:
        """Advance all tracks to ``frame`` and return the records to publish.

        ``default_sigma_arcsec`` is used for detections without their own ``sigma_arcsec``
        (normally the sensor's). Duplicate and out-of-order frames change nothing.
        """
        if frame.sensor_id != self.sensor_id:
            raise ValueError(
                f"frame {frame.frame_id!r} has sensor_id {frame.sensor_id!r}, "
                f"this tracker is for {self.sensor_id!r}"
            )
        if not (math.isfinite(default_sigma_arcsec) and default_sigma_arcsec > 0.0):
            raise ValueError(
                f"default_sigma_arcsec must be finite and > 0, got {default_sigma_arcsec!r}"
            )
        time_s = unix_from_datetime(frame.time)
        state = self._state
        if frame.frame_id in self._recent_frame_ids or time_s == state.last_time_s:
            return TrackerStep(self._empty(frame), disposition="duplicate")
        if time_s < state.last_time_s:
            return TrackerStep(self._empty(frame), disposition="out_of_order")

        detections = frame.detections
        det_ra = np.array([d.ra_deg for d in detections], dtype=float)
        det_dec = np.array([d.dec_deg for d in detections], dtype=float)
        det_sigma = (
            np.array(
                [
                    default_sigma_arcsec if d.sigma_arcsec is None else d.sigma_arcsec
                    for d in detections
                ],
                dtype=float,
            )
            * DEG_PER_ARCSEC
        )
        det_unit = unit_from_radec(det_ra, det_dec).reshape(-1, 3)

        dt_s = time_s - state.last_time_s  # NaN for the first frame, which has no tracks
        n = len(state.number)
        det_track = np.full(len(detections), -1, dtype=np.intp)
        hit = np.zeros(n, dtype=bool)
        nis: dict[str, float] = {}
        if n:
            confirmed_before = state.confirmed.copy()
            hit_rows, hit_cols, hit_nis = self._advance_tracks(dt_s, det_unit, det_sigma)
            shown = confirmed_before[hit_rows]
            nis = {
                self._track_id(number): value
                for number, value in zip(
                    state.number[hit_rows[shown]].tolist(), hit_nis[shown].tolist()
                )
            }
            hit[hit_rows] = True
            det_track[hit_cols] = hit_rows
            self._extend_arcs(
                hit_rows, time_s, det_ra[hit_cols], det_dec[hit_cols], det_sigma[hit_cols]
            )

        self._measure_clutter(frame, det_track)
        was_confirmed, deleted = self._life_cycle(hit, frame)
        det_of_track = np.full(n, -1, dtype=np.intp)
        det_of_track[det_track[det_track >= 0]] = np.flatnonzero(det_track >= 0)
        records = self._records(frame, was_confirmed, deleted, det_of_track, hit)
        ended_rows = np.flatnonzero(deleted & state.published)
        offered = self._offered(frame, hit, det_of_track, deleted)
        ended = self._track_ids(state.number[ended_rows])
        ended_arcs = (
            state.arc_time_s[ended_rows],
            state.arc_ra_deg[ended_rows],
            state.arc_dec_deg[ended_rows],
            state.arc_sigma_deg[ended_rows],
        )
        state.select(~deleted)

        free = det_track < 0
        n_before = len(state.number)
        new_det_index = self._initiate(
            time_s,
            det_ra[free],
            det_dec[free],
            det_sigma[free],
            det_unit[free],
            np.flatnonzero(free),
        )
        if self.settings.publish_tentative and len(new_det_index):
            index = np.arange(n_before, len(state.number))
            records = records.concat(
                self._make_records(frame, index, np.full(len(index), _TENTATIVE), new_det_index)
            )

        state.last_time_s = time_s
        self._recent_frame_ids.append(frame.frame_id)
        return TrackerStep(
            records,
            disposition="processed",
            ended=ended,
            ended_arcs=ended_arcs,
            offered_batch=offered,
            nis=nis,
        )

    def _empty(self, frame: Frame) -> TrackBatch:
        return TrackBatch.empty(frame.time, self.sensor_id, frame.frame_id)

    def _measure_clutter(self, frame: Frame, det_track: NDArray[np.intp]) -> None:
        """Fold this frame's clutter density (detections no confirmed track took, over the
        field's area) into the sensor's running mean."""
        if frame.fov is None:
            return
        state = self._state
        taken = det_track >= 0
        confirmed_taken = int(np.count_nonzero(state.confirmed[det_track[taken]]))
        area_deg2 = 2.0 * np.pi * (1.0 - np.cos(np.radians(frame.fov.radius_deg)))
        area_deg2 *= np.degrees(1.0) ** 2
        density = (len(det_track) - confirmed_taken) / area_deg2
        state.clutter_frames = min(state.clutter_frames + 1, self.settings.clutter_memory_frames)
        if not math.isfinite(state.clutter_per_deg2):
            state.clutter_per_deg2 = density
        else:
            state.clutter_per_deg2 += (density - state.clutter_per_deg2) / state.clutter_frames

    def _smooth_arcs(self, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Whether the arcs of the tracks at ``rows`` are one object's: a quadratic path (a
        line for fewer than five detections) in the plane tangent at each arc's last
        detection fits every detection within ``ARC_OUTLIER_SIGMA`` of its sigma (plus a
        floor for the curvature a quadratic leaves), or the arc is too short to tell."""
        state = self._state
        out = np.ones(len(rows), dtype=bool)
        if len(rows) == 0:
            return out
        times = state.arc_time_s[rows]
        valid = np.isfinite(times)
        count = valid.sum(axis=1)
        last = np.where(valid, times, -np.inf).max(axis=1)
        ra0 = state.arc_ra_deg[rows, -1]
        dec0 = state.arc_dec_deg[rows, -1]
        xi, eta = gnomonic_from_radec(
            state.arc_ra_deg[rows], state.arc_dec_deg[rows], ra0[:, None], dec0[:, None]
        )
        sigma = np.hypot(state.arc_sigma_deg[rows], ARC_SIGMA_FLOOR_DEG)
        dt = np.where(valid, times - last[:, None], 0.0)
        degree = np.where(count >= 5, 2, 1)
        design = np.stack([np.ones_like(dt), dt, dt * dt * (degree[:, None] == 2)], axis=-1)
        w = np.where(valid, 1.0 / sigma, 0.0)
        for values in (xi, eta):
            y = np.where(valid, values, 0.0)
            a = design * w[..., None]
            b = y * w
            # Least squares per arc (the columns a quadratic does not use are all zero).
            normal = np.einsum("rki,rkj->rij", a, a) + np.eye(3) * 1e-12
            coef = np.linalg.solve(normal, np.einsum("rki,rk->ri", a, b)[..., None])[..., 0]
            residual = np.where(
                valid, (values - np.einsum("rki,ri->rk", design, coef)) / sigma, 0.0
            )
            out &= (count <= degree + 1) | (np.abs(residual).max(axis=1) <= ARC_OUTLIER_SIGMA)
        return out

    def credible_short_arcs(self) -> NDArray[np.bool_]:
        """Tentative tracks whose last gate was small enough, given the sensor's clutter
        density, that clutter is unlikely to have completed them (no estimate yet: none)."""
        state = self._state
        if not math.isfinite(state.clutter_per_deg2):
            return np.zeros(len(state.number), dtype=bool)
        chance = state.clutter_per_deg2 * state.gate_area_deg2
        return chance <= self.settings.short_arc_clutter_probability

    def _extend_arcs(
        self, rows: NDArray[np.intp], time_s: float, ra: Array, dec: Array, sigma_deg: Array
    ) -> None:
        """Append one detection to the arcs of the tracks at ``rows``.

        A full arc makes room by dropping the interior detection whose neighbours are closest
        in time, so the arc keeps its first detection and spreads over the whole track (what
        an orbit fit of the pass needs) while staying ``ARC_LENGTH`` long.
        """
        state = self._state
        if len(rows) == 0:
            return
        times = state.arc_time_s[rows]
        full = np.isfinite(times[:, 0])
        gaps = times[:, 2:] - times[:, :-2]  # span left by removing interior column i + 1
        drop = np.where(full, 1 + np.argmin(np.where(np.isfinite(gaps), gaps, np.inf), 1), 0)
        keep = np.arange(ARC_LENGTH)[None, :] != drop[:, None]  # (m, L): drop one column each
        for name, value in (
            ("arc_time_s", np.full(len(rows), time_s)),
            ("arc_ra_deg", ra),
            ("arc_dec_deg", dec),
            ("arc_sigma_deg", sigma_deg),
        ):
            arc = getattr(state, name)
            kept = arc[rows][keep].reshape(len(rows), ARC_LENGTH - 1)
            arc[rows] = np.concatenate([kept, value[:, None]], axis=1)

    def _process_noise_density(self, x: Array) -> Array:
        """White-noise acceleration density ``q`` (deg^2/s^3) of each track from its speed."""
        s = self.settings
        speed_sq = x[:, 2] ** 2 + x[:, 3] ** 2
        accel = s.accel_floor_deg_s2 + s.accel_per_rate_sq_per_deg * speed_sq
        return accel**2 * s.accel_time_s

    def _advance_tracks(
        self, dt_s: float, det_unit: Array, det_sigma_deg: Array
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], Array]:
        """Predict, gate, assign, update and re-centre all tracks; return the assigned pairs
        and the squared Mahalanobis distance of each (its NIS)."""
        state, s = self._state, self.settings
        F = constant_velocity_transition(dt_s)
        Q = white_noise_acceleration(dt_s, self._process_noise_density(state.x))
        x, P = predict(state.x, state.P, F, Q)

        # Predicted directions in 3-D, for the KD-tree pre-gate and for projecting detections
        # into each track's plane.
        east, north, centre = tangent_basis(state.ra0_deg, state.dec0_deg)
        a = np.radians(x[:, 0])[:, None]
        b = np.radians(x[:, 1])[:, None]
        predicted = centre + a * east + b * north
        predicted /= np.sqrt(np.einsum("ni,ni->n", predicted, predicted))[:, None]

        # Gate radius: the largest axis of the innovation covariance, scaled to the gate.
        # Plane distances are never shorter than angles on the sky, so this is conservative.
        max_var = _largest_eigenvalue_2x2(P[:, :2, :2])
        r_max = float(det_sigma_deg.max()) ** 2 if len(det_sigma_deg) else 0.0
        radius = np.minimum(np.sqrt(self._gate * (max_var + r_max)), s.max_gate_radius_deg)
        rows, cols = candidate_pairs(predicted, radius, det_unit)

        # Detections in each candidate track's plane, then the squared Mahalanobis distance.
        v = det_unit[cols]
        depth = np.einsum("ni,ni->n", v, centre[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(depth > 1e-12, np.degrees(1.0) / depth, np.nan)
        z = np.stack(
            [
                np.einsum("ni,ni->n", v, east[rows]) * scale,
                np.einsum("ni,ni->n", v, north[rows]) * scale,
            ],
            axis=-1,
        )
        S = P[rows, :2, :2]  # fancy indexing copies, so adding R in place is safe
        r_var = det_sigma_deg[cols] ** 2
        S[:, 0, 0] += r_var
        S[:, 1, 1] += r_var
        d2 = mahalanobis_sq(z - x[rows, :2], S)
        gated = np.isfinite(d2) & (d2 < self._gate)
        rows, cols, d2, z = rows[gated], cols[gated], d2[gated], z[gated]

        # Confirmed tracks choose first; tentative tracks share what is left, so a young
        # track born of clutter can never take a detection from an established one.
        first = np.flatnonzero(state.confirmed[rows])
        first = first[
            gnn_assign(rows[first], cols[first], d2[first], self._gate, len(x), len(det_unit))
        ]
        second = np.flatnonzero(~state.confirmed[rows] & ~np.isin(cols, cols[first]))
        second = second[
            gnn_assign(rows[second], cols[second], d2[second], self._gate, len(x), len(det_unit))
        ]
        chosen = np.concatenate([first, second])
        hit_rows, hit_cols = rows[chosen], cols[chosen]
        if len(chosen):
            R = (det_sigma_deg[hit_cols] ** 2)[:, None, None] * np.eye(2)
            innovation = P[hit_rows, :2, :2] + R
            det = innovation[:, 0, 0] * innovation[:, 1, 1] - innovation[:, 0, 1] ** 2
            state.gate_area_deg2[hit_rows] = np.pi * self._gate * np.sqrt(np.maximum(det, 0.0))
            x[hit_rows], P[hit_rows] = update(x[hit_rows], P[hit_rows], z[chosen], R)

        state.ra0_deg, state.dec0_deg, state.x, state.P = recentre(
            state.ra0_deg, state.dec0_deg, x, P
        )
        return hit_rows, hit_cols, d2[chosen]

    def _life_cycle(
        self, hit: NDArray[np.bool_], frame: Frame
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Update counters, confirm and find the tracks to delete. Returns the masks
        ``(was_confirmed, deleted)`` over the current tracks (deleted ones not yet dropped)."""
        state, s = self._state, self.settings
        window = np.uint32((1 << s.confirm_n) - 1)
        state.history = ((state.history << np.uint32(1)) | hit.astype(np.uint32)) & window
        state.age += 1
        state.n_updates += hit.astype(np.int32)
        state.n_missed = np.where(hit, 0, state.n_missed + 1).astype(np.int32)

        hits_in_window = np.bitwise_count(state.history).astype(np.int32)
        was_confirmed = state.confirmed.copy()
        # A track that reaches M of N from the detections of several objects (two-point
        # starts pair neighbours in a cluster every way) has an arc no smooth path fits: it
        # is deleted rather than confirmed; the right pairings confirm on their own.
        ready = ~state.confirmed & (hits_in_window >= s.confirm_m)
        mixed = np.zeros_like(ready)
        mixed[ready] = ~self._smooth_arcs(np.flatnonzero(ready))
        state.confirmed = state.confirmed | (ready & ~mixed)

        frames_in_window = np.minimum(state.age, s.confirm_n)
        hopeless = ~state.confirmed & (
            frames_in_window - hits_in_window > s.confirm_n - s.confirm_m
        )
        lost = state.confirmed & (state.n_missed >= s.delete_after_misses)
        finite = np.all(np.isfinite(state.x), axis=1) & np.all(np.isfinite(state.P), axis=(1, 2))
        with np.errstate(invalid="ignore"):
            uncertain = ~(
                np.sqrt(_largest_eigenvalue_2x2(state.P[:, :2, :2])) <= s.max_position_sigma_deg
            )
        outside = np.zeros_like(hit)
        if frame.fov is not None and len(hit):
            distance = angular_separation_deg(
                state.ra0_deg, state.dec0_deg, frame.fov.ra_deg, frame.fov.dec_deg
            )
            outside = distance > frame.fov.radius_deg + s.fov_margin_deg
        deleted = hopeless | lost | ~finite | uncertain | outside | mixed
        return was_confirmed, deleted

    def _records(
        self,
        frame: Frame,
        was_confirmed: NDArray[np.bool_],
        deleted: NDArray[np.bool_],
        det_of_track: NDArray[np.intp],
        hit: NDArray[np.bool_],
    ) -> TrackBatch:
        """TrackUpdates of the existing tracks for this frame, in track-number order:
        confirmed tracks (and those deleted this frame), plus tentative ones if asked."""
        state = self._state
        short = hit & (state.n_updates >= self.settings.publish_after_detections)
        short &= ~state.published & self.credible_short_arcs()
        short[short] = self._smooth_arcs(np.flatnonzero(short))
        state.published |= state.confirmed | short
        publish = state.confirmed | was_confirmed | state.published
        if self.settings.publish_tentative:
            publish = np.ones_like(publish)
        # A track whose state went non-finite (a guard against pathological input; the
        # life cycle deletes it) is dropped rather than published with NaNs.
        finite = np.all(np.isfinite(state.x), axis=1) & np.all(np.isfinite(state.P), axis=(1, 2))
        index = np.flatnonzero(publish & finite)
        status = np.select(
            [deleted[index], ~state.confirmed[index], hit[index]],
            [_DELETED, _TENTATIVE, _CONFIRMED],
            _COASTING,
        )
        return self._make_records(frame, index, status, det_of_track[index])

    def _offered(
        self,
        frame: Frame,
        hit: NDArray[np.bool_],
        det_of_track: NDArray[np.intp],
        deleted: NDArray[np.bool_],
    ) -> TrackBatch:
        state = self._state
        index = np.flatnonzero(
            hit
            & ~deleted
            & ~state.published
            & (state.n_updates >= self.settings.publish_after_detections)
        )
        return self._make_records(
            frame, index, np.full(len(index), _TENTATIVE), det_of_track[index]
        )

    def _make_records(
        self,
        frame: Frame,
        index: NDArray[np.intp],
        status: NDArray[np.intp],
        det_index: NDArray[np.intp],
    ) -> TrackBatch:
        """Records of the tracks at ``index``, with status codes (``_STATUS``) and the
        frame index of the detection each used (-1 for none), as columns."""
        if len(index) == 0:
            return self._empty(frame)
        state = self._state
        detections = frame.detections
        return TrackBatch(
            time=frame.time,
            sensor_id=self.sensor_id,
            frame_id=frame.frame_id,
            track_id=tuple(self._track_ids(state.number[index])),
            status=np.asarray(status, dtype=np.intp),
            ra_deg=state.ra0_deg[index],
            dec_deg=state.dec0_deg[index],
            ra_rate_deg_s=state.x[index, 2],
            dec_rate_deg_s=state.x[index, 3],
            covariance=state.P[index],
            n_updates=state.n_updates[index],
            n_missed=state.n_missed[index],
            det_id=tuple(detections[j].det_id if j >= 0 else None for j in det_index.tolist()),
        )

    def _initiate(
        self,
        time_s: float,
        ra: Array,
        dec: Array,
        sigma_deg: Array,
        unit: Array,
        det_index: NDArray[np.intp],
    ) -> NDArray[np.intp]:
        """Start tentative tracks from pairs of unassociated detections: one of this frame
        and one of the last ``init_max_frame_gap`` frames, within the rate limit. Then this
        frame's unassociated detections join the pending ones. Returns the frame index of
        each new track's detection (the tracks are appended in that order)."""
        state, s = self._state, self.settings
        new_det_index = np.empty(0, dtype=np.intp)
        # Frames and seconds since each pending detection was made.
        frames_back = state.pending_frames_back + 1
        dt_pending = time_s - state.pending_time_s
        usable = (
            (frames_back <= s.init_max_frame_gap)
            & (dt_pending > 0.0)
            & (dt_pending <= s.max_init_gap_s)
        )
        prev = {name: getattr(state, name)[usable] for name in _PENDING}
        frames_back, dt_pending = frames_back[usable], dt_pending[usable]
        n_prev = len(frames_back)
        if n_prev and len(ra):
            prev_unit = unit_from_radec(prev["pending_ra_deg"], prev["pending_dec_deg"])
            k = min(s.max_init_partners, n_prev)
            # No pair may span 90 degrees or more: it would have no common tangent plane.
            reach_deg = np.minimum(s.max_init_rate_deg_s * dt_pending, 89.0)
            # Nearest pending detections of each new one, nearest first, then each pair
            # checked against the rate limit over its own interval.
            distance, partner = cKDTree(prev_unit).query(
                unit, k=k, distance_upper_bound=float(chord_from_angle(reach_deg.max()))
            )
            distance, partner = distance.reshape(len(unit), k), partner.reshape(len(unit), k)
            new_j, slot = np.nonzero(partner < n_prev)
            prev_i = partner[new_j, slot]
            within = distance[new_j, slot] <= chord_from_angle(reach_deg[prev_i])
            new_j, prev_i = new_j[within], prev_i[within]
            if len(prev_i):
                dt_pair = dt_pending[prev_i]
                x, P = two_point_initial_state(
                    prev["pending_ra_deg"][prev_i],
                    prev["pending_dec_deg"][prev_i],
                    prev["pending_sigma_deg"][prev_i],
                    ra[new_j],
                    dec[new_j],
                    sigma_deg[new_j],
                    dt_pair,
                )
                # The two-point velocity is a mean over the interval; allow for the
                # acceleration the model expects over it.
                P = P + white_noise_acceleration(dt_pair, self._process_noise_density(x))
                count = len(prev_i)
                back = frames_back[prev_i]
                arcs = {
                    name: np.full((count, ARC_LENGTH), np.nan)
                    for name in ("arc_time_s", "arc_ra_deg", "arc_dec_deg", "arc_sigma_deg")
                }
                for name, older, newer in (
                    ("arc_time_s", prev["pending_time_s"][prev_i], np.full(count, time_s)),
                    ("arc_ra_deg", prev["pending_ra_deg"][prev_i], ra[new_j]),
                    ("arc_dec_deg", prev["pending_dec_deg"][prev_i], dec[new_j]),
                    ("arc_sigma_deg", prev["pending_sigma_deg"][prev_i], sigma_deg[new_j]),
                ):
                    arcs[name][:, -2], arcs[name][:, -1] = older, newer
                numbers = np.arange(state.next_number, state.next_number + count, dtype=np.int64)
                state.next_number += count
                state.append(
                    {
                        "ra0_deg": ra[new_j],
                        "dec0_deg": dec[new_j],
                        "x": x,
                        "P": P,
                        "number": numbers,
                        "confirmed": np.zeros(count, bool),
                        # Hits now and ``back`` frames ago; the frames between were misses.
                        "history": (1 | (1 << back)).astype(np.uint32),
                        "age": (back + 1).astype(np.int32),
                        "n_updates": np.full(count, 2, np.int32),
                        "n_missed": np.zeros(count, np.int32),
                        "published": np.zeros(count, bool),
                        "gate_area_deg2": np.full(count, np.inf),
                        **arcs,
                    }
                )
                new_det_index = det_index[new_j]
        # Every detection no track took waits for later frames, including those that just
        # started tentative tracks: if the pairing was wrong (clutter, or a miss of the other
        # end), the right pairing can still form.
        keep = frames_back < s.init_max_frame_gap
        for name, value in (
            ("pending_ra_deg", ra),
            ("pending_dec_deg", dec),
            ("pending_sigma_deg", sigma_deg),
            ("pending_time_s", np.full(len(ra), time_s)),
            ("pending_frames_back", np.zeros(len(ra), np.int32)),
        ):
            older = frames_back if name == "pending_frames_back" else prev[name]
            setattr(state, name, np.concatenate([older[keep], value]))
        return new_det_index

    # ------------------------------------------------------------------ state
    def to_bytes(self) -> bytes:
        """The complete tracker state as bytes (deterministic; see :meth:`from_bytes`).

        Layout: a magic line, a 4-byte little-endian header length, a UTF-8 JSON header
        (sensor id, scalars, recent frame ids, array shapes) and the raw little-endian
        arrays in header order. Floats go through as raw bytes, so the round trip is exact.
        """
        state = self._state
        arrays = {
            name: np.ascontiguousarray(getattr(state, name), dtype=dtype)
            for name, (dtype, _) in _ARRAYS.items()
        }
        header = {
            "sensor_id": self.sensor_id,
            "last_time_s": struct.pack("<d", state.last_time_s).hex(),
            "clutter_per_deg2": struct.pack("<d", state.clutter_per_deg2).hex(),
            "clutter_frames": state.clutter_frames,
            "next_number": state.next_number,
            "recent_frame_ids": list(self._recent_frame_ids),
            "lengths": {name: len(value) for name, value in arrays.items()},
        }
        head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        return b"".join(
            [
                _MAGIC,
                struct.pack("<I", len(head)),
                head,
                *(value.tobytes() for value in arrays.values()),
            ]
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, settings: TrackerSettings = TrackerSettings()
    ) -> SensorTracker:
        """Rebuild a tracker from :meth:`to_bytes` output. Raises ``ValueError`` on bytes
        that are not a tracker state."""
        view = memoryview(data)
        if bytes(view[: len(_MAGIC)]) != _MAGIC:
            raise ValueError("not an orbitlink tracker state (bad magic)")
        offset = len(_MAGIC)
        try:
            (head_len,) = struct.unpack_from("<I", view, offset)
            offset += 4
            header = json.loads(bytes(view[offset : offset + head_len]).decode())
            offset += head_len
            tracker = cls(header["sensor_id"], settings)
            state = tracker._state
            (state.last_time_s,) = struct.unpack("<d", bytes.fromhex(header["last_time_s"]))
            state.next_number = int(header["next_number"])
            (state.clutter_per_deg2,) = struct.unpack(
                "<d", bytes.fromhex(header["clutter_per_deg2"])
            )
            state.clutter_frames = int(header["clutter_frames"])
            tracker._recent_frame_ids.extend(header["recent_frame_ids"])
            for name, (dtype, trailing) in _ARRAYS.items():
                length = int(header["lengths"][name])
                shape = (length, *trailing)
                size = int(np.prod(shape)) * np.dtype(dtype).itemsize
                if offset + size > len(data):
                    raise ValueError(f"array {name!r} runs past the end of the data")
                array = np.frombuffer(view[offset : offset + size], dtype=dtype).reshape(shape)
                setattr(state, name, array.astype(dtype.replace("<", "="), copy=True))
                offset += size
        except (KeyError, TypeError, json.JSONDecodeError, struct.error, UnicodeDecodeError) as exc:
            raise ValueError(f"corrupt tracker state: {exc!r}") from None
        if offset != len(data):
            raise ValueError(f"tracker state has {len(data) - offset} trailing bytes")
        n = len(state.number)
        for name in _ARRAYS:
            expected = len(state.pending_ra_deg) if name in _PENDING else n
            if len(getattr(state, name)) != expected:
                raise ValueError(f"tracker state array {name!r} has the wrong length")
        return tracker


def _largest_eigenvalue_2x2(M: Array) -> Array:
    """Largest eigenvalue of symmetric 2x2 matrices ``(n, 2, 2)``."""
    a, b, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    half_trace = 0.5 * (a + d)
    return half_trace + np.sqrt(np.maximum(0.25 * (a - d) ** 2 + b * b, 0.0))
