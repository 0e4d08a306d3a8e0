"""Correlating tracks with the element-set catalogue: which known object is each track?

One call, :func:`correlate_tracks`, takes the confirmed tracks of one sensor at one frame time and
returns one :class:`~tracking.models.Association` per track: a NORAD id with residuals, a score
and a confidence, or an uncorrelated track (UCT).

The measures are the ones visual observers and ``stvid`` use to identify a satellite streak,
each scaled by its uncertainty (see ``docs/correlation.md``):

* **along-track time offset** ``along_track_s``: the shift along the object's predicted path
  that best explains the track position. Element-set error is mostly a timing error (drag, a
  manoeuvre), which grows with the element set's age, so it is *searched* over a window that
  grows with age rather than gated tightly. Positive means the object is late.
* **cross-track offset** ``cross_track_arcsec``: the distance of the track from the predicted
  path at that point, positive to the left of the direction of motion. Element sets are good
  across their path (kilometres after a week), so this is gated tightly.
* **direction of motion** ``direction_residual_deg`` and **angular speed**
  ``rate_residual`` (fractional) of the track against the prediction at that point.

For near-stationary objects a time offset describes the error badly: a GEO object moves
about 18 arcsec/s on its orbit, its element-set error is tens of arc-seconds in any direction
rather than a timing error, and the direction of its apparent motion can be mostly the sensor's
own. Below :attr:`CorrelationSettings.slow_rate_deg_s` of own angular motion the offset is gated
as an angle in arc-seconds instead, no time search is made and ``along_track_s`` is null.

How the work is organised for speed (nothing loops per track-object pair):

1. the whole catalogue is predicted once at the frame time (:func:`tracking.predict.predict_sky`);
2. candidates are coarse-selected with k-d trees: fast movers by the pole of their great-circle
   path (the track must move along nearly the same great circle), within an octave band of
   speed, and then by the distance reachable within their search window; slow movers by
   position alone;
3. fast candidates are predicted on a small grid of times around the frame time in one call,
   their paths are interpolated with cubic splines, and the along-track offset of every
   candidate pair is refined with a few batched Gauss-Newton steps on the spline;
4. gated pairs are assigned globally (each object claims at most one track, each track may
   instead be a UCT) by one sparse minimum-weight bipartite matching.

The path of a late or early object is what the element set predicts *at another time as seen
from where the sensor is now*: the sensor's own motion over the shift (a ground site moves
0.46 km/s, 9 km in 20 s, which is a degree at Starlink range) must not be mistaken for
cross-track error, so the predicted topocentric vectors are moved to the sensor's position at
the frame time before interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from scipy.interpolate import CubicSpline
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from .constants import ARCSEC_PER_DEG, SECONDS_PER_DAY, SURFACE_GRAVITY_KM_S2
from .models import Association, FieldOfView, Sensor, TrackUpdate
from .predict import SkyPrediction, observer_state_gcrs_km, predict_sky
from .settings import Settings
from .sky import tangent_basis, unit_from_radec
from .times import datetime_from_unix, unix_from_datetime
from .types import Array, IntArray

if TYPE_CHECKING:
    from .catalogue import Catalogue

__all__ = [
    "CandidatePairs",
    "CorrelationSettings",
    "candidate_pairs",
    "correlate_tracks",
]

# A time offset within this many seconds of the end of the search grid means the optimum lies
# outside it: the pair is rejected rather than reported at the edge.
_EDGE_TOLERANCE_S = 1e-6
# Below this apparent speed an object has no usable direction of motion (deg/s, 0.0036"/s).
_NO_MOTION_DEG_S = 1e-6
# Largest (tracks x objects) block the coarse selection evaluates at once: 0.8 MB arrays, which
# stay clear of the page faults a fresh multi-megabyte array costs on every call.
_CHUNK_ELEMENTS = 100_000


class CorrelationSettings(Settings):
    """Every gate and uncertainty of the correlator, with units.

    The catalogue's own error is modelled per element set as a 1-sigma value that grows linearly
    with the element set's age ``|time - epoch|`` in days; it is combined in quadrature with
    the track's covariance and the sensor's astrometric sigma. Each measure is then normalised
    by its total sigma and gated at :attr:`gate_sigma`; the sum of the squares is the ``score``.
    """

    # -- element-set error model (1 sigma at epoch + growth per day of age)
    timing_sigma_s: float = Field(
        1.0,
        ge=0.0,
        description="Along-track timing error of a fresh element set, s (fast movers only).",
    )
    timing_sigma_growth_s_per_day: float = Field(
        2.0,
        ge=0.0,
        description="Growth of the timing error, s/day: week-old Starlink sets are "
        "3-50 s early or late, so 15 s at a week, searched to ``gate_sigma`` x 15 = 60 s.",
    )
    position_sigma_km: float = Field(
        0.3,
        ge=0.0,
        description="Position error of a fresh element set across (and along) its "
        "path, km; converted to an angle at the object's range.",
    )
    position_sigma_growth_km_per_day: float = Field(
        0.15,
        ge=0.0,
        description="Growth of the position error, km/day: week-old Starlink sets "
        "stay within ~2 km across their path (1.35 km 1-sigma at a week).",
    )
    angular_sigma_arcsec: float = Field(
        10.0,
        ge=0.0,
        description="Angular error of a fresh element set in any direction, arcsec: "
        "the floor that matters for distant objects (GEO), where kilometres are a few arcsec.",
    )
    angular_sigma_growth_arcsec_per_day: float = Field(
        10.0,
        ge=0.0,
        description="Growth of the angular error, arcsec/day: week-old GEO sets are "
        "30-200 arcsec off (80 arcsec 1-sigma at a week, gated at 320).",
    )
    direction_sigma_deg: float = Field(
        0.5,
        gt=0.0,
        description="Direction-of-motion tolerance, deg: stvid's 2-degree gate at "
        "``gate_sigma`` = 4.",
    )
    rate_sigma_fraction: float = Field(
        0.0125,
        gt=0.0,
        description="Fractional angular-speed tolerance: stvid's 5 % gate at ``gate_sigma`` = 4.",
    )
    rate_sigma_floor_arcsec_s: float = Field(
        0.5,
        ge=0.0,
        description="Absolute floor on each component of the rate difference, "
        "arcsec/s: keeps the direction and speed tests sane for objects that barely move.",
    )

    # -- gates
    gate_sigma: float = Field(
        4.0, gt=0.0, description="Every normalised measure must be within this many sigma."
    )
    chi2_gate: float = Field(
        23.5,
        gt=0.0,
        description="Largest acceptable score (sum of the four squared normalised "
        "measures): the 1e-4 tail of chi-square with 4 degrees of freedom. It is also the score "
        'of the "UCT" alternative.',
    )
    ambiguity_delta_chi2: float = Field(
        6.0,
        ge=0.0,
        description="A runner-up whose score is within this of the chosen object's "
        "makes the association ambiguous (a likelihood ratio under e^3 = 20).",
    )

    # -- search
    slow_rate_deg_s: float = Field(
        0.01,
        gt=0.0,
        description="Objects predicted to move slower than this (deg/s, 36 "
        "arcsec/s; GEO from the ground moves at 0.0042) are matched by angular offset, without a "
        "time search.",
    )
    max_window_s: float = Field(
        90.0,
        ge=0.0,
        description="Largest along-track time offset searched, s, whatever the element set's age.",
    )
    grid_step_s: float = Field(
        30.0,
        gt=0.0,
        description="Largest spacing of the prediction grid spanning the search "
        "window, s; the path between nodes is a cubic spline: 0.2 m (0.06 arcsec) worst error "
        "for low orbits at 30 s.",
    )
    refine_iterations: int = Field(
        4, ge=1, description="Gauss-Newton steps refining the along-track offset on the spline."
    )
    coarse_path_factor: float = Field(
        1.5,
        ge=0.0,
        description="Reach of a fast object over its search window, as a multiple of "
        "speed x window, for the coarse position gate (the apparent speed changes along a low "
        "pass).",
    )
    coarse_speed_ratio: float = Field(
        2.5,
        gt=0.0,
        description="Coarse gate on speed: a fast object is only paired with tracks "
        "whose angular speed is within this factor of its own (after widening by the track's "
        "speed uncertainty). Loose: a low pass speeds up and slows down along the window.",
    )
    fov_margin: float = Field(
        1.2,
        gt=0.0,
        description="With a field of view, objects further than ``fov_margin`` x "
        "radius plus their reach are not considered (SatChecker keeps hits within 1.2 x the FOV "
        "radius).",
    )
    require_sunlit: bool = Field(
        False,
        description="Only consider objects predicted in sunlight. Off by default: a "
        "week-old element set can put the shadow entry a minute off.",
    )

    def element_sigmas(self, age_days: Array, range_km: Array) -> tuple[Array, Array]:
        """Timing sigma (s) and position sigma (deg) of element sets of the given age (days,
        absolute) seen at the given range (km)."""
        age = np.abs(np.asarray(age_days, dtype=float))
        timing_s = self.timing_sigma_s + self.timing_sigma_growth_s_per_day * age
        position_km = self.position_sigma_km + self.position_sigma_growth_km_per_day * age
        angular_deg = (
            self.angular_sigma_arcsec + self.angular_sigma_growth_arcsec_per_day * age
        ) / ARCSEC_PER_DEG
        position_deg = np.hypot(np.degrees(position_km / np.maximum(range_km, 1.0)), angular_deg)
        return timing_s, position_deg


# ------------------------------------------------------------------------------ tracks


@dataclass(frozen=True)
class _Tracks:
    """The tracks of one frame as arrays: K tracks."""

    time_unix_s: float
    unit: Array  # (K, 3) line of sight
    east: Array  # (K, 3) tangent basis
    north: Array  # (K, 3)
    rate_deg_s: Array  # (K, 2) (xi, eta) rates
    position_cov: Array  # (K, 2, 2) deg^2
    rate_cov: Array  # (K, 2, 2) (deg/s)^2
    position_var: Array  # (K,) mean position variance per axis, with the sensor's, deg^2


def _track_arrays(tracks: Sequence[TrackUpdate], sensor: Sensor) -> _Tracks:
    """Validate the tracks of one frame and stack them."""
    time_unix_s = unix_from_datetime(tracks[0].time)
    first_time = tracks[0].time
    for i, track in enumerate(tracks):
        if track.sensor_id != sensor.sensor_id:
            raise ValueError(
                f"tracks[{i}].sensor_id {track.sensor_id!r} (track "
                f"{track.track_id!r}) is not the sensor's {sensor.sensor_id!r}"
            )
        if abs((track.time - first_time).total_seconds()) > 1e-3:
            raise ValueError(
                f"tracks[{i}].time {track.time.isoformat()} (track "
                f"{track.track_id!r}) differs from tracks[0].time "
                f"{tracks[0].time.isoformat()}: correlate one frame at a time"
            )
    ra = np.array([t.ra_deg for t in tracks], dtype=float)
    dec = np.array([t.dec_deg for t in tracks], dtype=float)
    rates = np.array([[t.ra_rate_deg_s, t.dec_rate_deg_s] for t in tracks], dtype=float)
    cov = np.array([t.covariance for t in tracks], dtype=float)
    bad_cov = ~np.all(np.isfinite(cov), axis=(1, 2)) | np.any(
        np.diagonal(cov, axis1=1, axis2=2) < 0, axis=1
    )
    if bad_cov.any():
        i = int(np.flatnonzero(bad_cov)[0])
        raise ValueError(
            f"tracks[{i}].covariance (track {tracks[i].track_id!r}) must be finite "
            f"with a non-negative diagonal"
        )
    bad_dec = np.abs(dec) > 90.0
    if bad_dec.any():
        i = int(np.flatnonzero(bad_dec)[0])
        raise ValueError(
            f"tracks[{i}].dec_deg {dec[i]} (track {tracks[i].track_id!r}) is outside [-90, 90]"
        )
    east, north, unit = tangent_basis(ra, dec)
    # Symmetrise: a tracker's covariance can be a few ulps from symmetric.
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    position_var = (
        np.trace(cov[:, :2, :2], axis1=1, axis2=2) / 2.0
        + (sensor.sigma_arcsec / ARCSEC_PER_DEG) ** 2
    )
    return _Tracks(
        time_unix_s, unit, east, north, rates, cov[:, :2, :2], cov[:, 2:, 2:], position_var
    )


def _quadratic(cov: Array, direction: Array) -> Array:
    """``d^T C d`` over the leading axis: cov (P, 2, 2), direction (P, 2)."""
    return np.einsum("pi,pij,pj->p", direction, cov, direction)


# ------------------------------------------------------------------------------ candidates


@dataclass(frozen=True)
class CandidatePairs:
    """Every track-object pair that survived the coarse selection, with its measures.

    Arrays are parallel, one entry per pair; ``track`` indexes the tracks passed in and
    ``object_index`` the catalogue. Offsets and residuals are track minus prediction, with the
    sign conventions of :class:`~tracking.models.Association`.
    """

    track: IntArray
    object_index: IntArray
    along_track_s: Array  # NaN for slow movers (matched by angle)
    cross_track_deg: Array
    along_offset_deg: Array  # offset along the path left after the time shift
    direction_deg: Array
    rate_fraction: Array  # NaN where the object barely moves
    z: Array  # (P, 4): cross, along, speed, direction, normalised
    score: Array  # sum of z**2
    gated: NDArray[np.bool_]  # every |z| within gate_sigma, score within chi2_gate
    slow: NDArray[np.bool_]  # matched by angular offset, no time search
    element_age_days: Array  # signed: time - epoch
    n_tracks: int

    def __len__(self) -> int:
        return len(self.track)


def _empty_pairs(n_tracks: int) -> CandidatePairs:
    e = np.zeros(0)
    i = np.zeros(0, dtype=np.intp)
    return CandidatePairs(
        i, i, e, e, e, e, e, np.zeros((0, 4)), e, np.zeros(0, bool), np.zeros(0, bool), e, n_tracks
    )


def _motion_3d(east: Array, north: Array, rate_deg_s: Array) -> Array:
    """3-D angular velocity (rad/s) of lines of sight from their (xi, eta) rates."""
    return np.radians(rate_deg_s[..., :1] * east + rate_deg_s[..., 1:] * north)


def candidate_pairs(
    tracks: Sequence[TrackUpdate],
    sensor: Sensor,
    catalogue: Catalogue,
    settings: CorrelationSettings = CorrelationSettings(),
    *,
    fov: FieldOfView | None = None,
    prediction: SkyPrediction | None = None,
) -> CandidatePairs:
    """Coarse-select candidate objects for every track and measure each pair.

    ``prediction`` is the whole catalogue predicted at the tracks' time for this sensor; it is
    computed when not given. See :func:`correlate_tracks` for the other arguments.
    """
    if not tracks:
        return _empty_pairs(0)
    trk = _track_arrays(tracks, sensor)
    if len(catalogue) == 0:
        return _empty_pairs(len(tracks))
    if prediction is None:
        prediction = predict_sky(catalogue, sensor, trk.time_unix_s)
    elif (
        prediction.ra_deg.shape != (len(catalogue),)
        or abs(float(np.asarray(prediction.time_unix_s)) - trk.time_unix_s) > 1e-3
    ):
        raise ValueError("prediction must be the whole catalogue predicted at the tracks' time")
    objects = _object_states(prediction, catalogue, sensor, trk, settings, fov)
    if objects is None:
        return _empty_pairs(len(tracks))
    pair_track, pair_row = _coarse_select(trk, objects, settings)
    if len(pair_track) == 0:
        return _empty_pairs(len(tracks))
    points = _path_points(catalogue, sensor, trk, objects, pair_track, pair_row, settings)
    return _measure(trk, objects, pair_track, pair_row, points, sensor, settings)


@dataclass(frozen=True)
class _Objects:
    """The catalogue objects that may be seen, at the frame time: N rows."""

    index: IntArray  # (N,) catalogue indices
    unit: Array  # (N, 3) predicted line of sight
    motion: Array  # (N, 3) apparent angular velocity, rad/s
    path: Array  # (N, 3) own angular velocity (sensor held still), rad/s
    speed_deg_s: Array  # (N,) apparent angular speed
    range_km: Array  # (N,)
    age_days: Array  # (N,) frame time minus epoch
    slow: NDArray[np.bool_]  # (N,) matched by angle, no time search
    window_s: Array  # (N,) along-track search window (0 for slow objects)
    reach_deg: Array  # (N,) how far from its prediction a track of it can be
    position_gate_deg: Array  # (N,) positional gate, with the worst track's uncertainty


def _object_states(
    prediction: SkyPrediction,
    catalogue: Catalogue,
    sensor: Sensor,
    trk: _Tracks,
    s: CorrelationSettings,
    fov: FieldOfView | None,
) -> _Objects | None:
    """Per-object quantities at the frame time, for the objects that could be a track; None
    if there are none."""
    t0 = trk.time_unix_s
    usable = np.asarray(prediction.valid, dtype=bool).copy()
    if s.require_sunlit:
        usable &= np.asarray(prediction.sunlit, dtype=bool)
    obj = np.flatnonzero(usable)
    range_km = prediction.range_km[obj]
    speed = np.hypot(prediction.ra_rate_deg_s[obj], prediction.dec_rate_deg_s[obj])
    age_days = (t0 - catalogue.epoch_unix_s[obj]) / SECONDS_PER_DAY
    timing_s, position_deg = s.element_sigmas(age_days, range_km)
    worst_track_var = float(trk.position_var.max())
    position_gate_deg = s.gate_sigma * np.sqrt(position_deg**2 + worst_track_var)

    # Objects that cannot reach the sky above a ground site, or the field of view, within
    # the longest window are dropped first. Their speed along their own path differs from the
    # apparent one by at most the sensor's speed over the range.
    _, observer_velocity = observer_state_gcrs_km(sensor, t0)
    observer_velocity = np.asarray(observer_velocity, dtype=float)
    path_speed_bound = speed + np.degrees(np.linalg.norm(observer_velocity) / range_km)
    longest_reach = s.coarse_path_factor * path_speed_bound * s.max_window_s + position_gate_deg
    keep = np.ones(len(obj), dtype=bool)
    elevation = getattr(prediction, "elevation_deg", None)
    if elevation is not None and not sensor.is_space_based:
        keep &= np.asarray(elevation)[obj] > -np.minimum(longest_reach, 90.0)
    ra, dec = prediction.ra_deg[obj], prediction.dec_deg[obj]
    if fov is not None:
        centre = unit_from_radec(fov.ra_deg, fov.dec_deg)
        limit = np.minimum(s.fov_margin * fov.radius_deg + longest_reach, 180.0)
        keep &= np.sum(unit_from_radec(ra, dec) * centre, -1) >= np.cos(np.radians(limit))
    if not keep.any():
        return None
    obj, range_km, speed, age_days, timing_s, position_deg, position_gate_deg, ra, dec = (
        a[keep]
        for a in (
            obj,
            range_km,
            speed,
            age_days,
            timing_s,
            position_deg,
            position_gate_deg,
            ra,
            dec,
        )
    )

    rates = np.stack([prediction.ra_rate_deg_s[obj], prediction.dec_rate_deg_s[obj]], axis=-1)
    east, north, unit = tangent_basis(ra, dec)
    motion = _motion_3d(east, north, rates)
    # The object's own motion as seen from the sensor held still: the apparent relative
    # velocity plus the sensor's velocity.
    velocity = (
        np.asarray(prediction.range_rate_km_s)[obj, None] * unit
        + range_km[:, None] * motion
        + observer_velocity
    )
    path = _transverse(unit, velocity, range_km)
    path_speed = np.degrees(np.linalg.norm(path, axis=-1))
    slow = path_speed < s.slow_rate_deg_s
    # Time window of a fast object: the gate on its along-track offset, expressed in seconds.
    window_s = np.where(
        slow,
        0.0,
        np.minimum(
            s.max_window_s,
            s.gate_sigma
            * np.sqrt(
                timing_s**2
                + (position_deg**2 + worst_track_var)
                / np.maximum(path_speed, s.slow_rate_deg_s) ** 2
            ),
        ),
    )
    reach_deg = s.coarse_path_factor * path_speed * window_s + position_gate_deg
    return _Objects(
        obj,
        unit,
        motion,
        path,
        speed,
        range_km,
        age_days,
        slow,
        window_s,
        reach_deg,
        position_gate_deg,
    )


@dataclass(frozen=True)
class _PathPoints:
    """Per pair, the point of the object's predicted path that best explains the track."""

    unit: Array  # (P, 3) line of sight
    motion: Array  # (P, 3) apparent angular velocity as the sensor sees it at t0, rad/s
    path: Array  # (P, 3) own angular velocity (sensor held still), rad/s
    range_km: Array  # (P,)
    shift_s: Array  # (P,) track = prediction at t0 + shift_s (0 for slow objects)
    ok: NDArray[np.bool_]  # (P,) valid propagation, optimum inside the searched window


def _path_points(
    catalogue: Catalogue,
    sensor: Sensor,
    trk: _Tracks,
    objects: _Objects,
    pair_track: IntArray,
    pair_row: IntArray,
    s: CorrelationSettings,
) -> _PathPoints:
    """Slow objects: their prediction at the frame time. Fast objects: the along-track
    search of :func:`_refine_on_path`."""
    n_pairs = len(pair_track)
    unit, motion, path = np.empty((n_pairs, 3)), np.empty((n_pairs, 3)), np.empty((n_pairs, 3))
    range_km, shift_s = np.empty(n_pairs), np.zeros(n_pairs)
    ok = np.ones(n_pairs, dtype=bool)
    slow = objects.slow[pair_row]
    sp = np.flatnonzero(slow)
    o = pair_row[sp]
    unit[sp], motion[sp], path[sp] = objects.unit[o], objects.motion[o], objects.path[o]
    range_km[sp] = objects.range_km[o]
    fp = np.flatnonzero(~slow)
    if len(fp):
        span_s = float(objects.window_s[pair_row[fp]].max())
        (unit[fp], motion[fp], path[fp], range_km[fp], shift_s[fp], ok[fp]) = _refine_on_path(
            catalogue,
            sensor,
            trk.time_unix_s,
            objects.index,
            pair_row[fp],
            trk.unit[pair_track[fp]],
            span_s,
            s,
        )
    return _PathPoints(unit, motion, path, range_km, shift_s, ok)


def _measure(
    trk: _Tracks,
    objects: _Objects,
    pair_track: IntArray,
    pair_row: IntArray,
    points: _PathPoints,
    sensor: Sensor,
    s: CorrelationSettings,
) -> CandidatePairs:
    """Residuals of every pair in the tangent plane at its track, normalised and gated."""
    k = pair_track
    is_slow = objects.slow[pair_row]
    e_k, n_k, c_k = trk.east[k], trk.north[k], trk.unit[k]
    depth = np.sum(points.unit * c_k, axis=-1)
    ok = points.ok & (depth > 0.5)
    depth = np.where(ok, depth, 1.0)
    residual = -np.degrees(
        np.stack([np.sum(points.unit * e_k, -1), np.sum(points.unit * n_k, -1)], axis=-1)
        / depth[:, None]
    )  # track minus prediction, deg

    def in_plane(vectors: Array) -> tuple[Array, Array]:
        """Size (deg/s) and unit direction in the track's plane (east if none) of 3-D rates."""
        xy = np.degrees(np.stack([np.sum(vectors * e_k, -1), np.sum(vectors * n_k, -1)], -1))
        size = np.hypot(xy[:, 0], xy[:, 1])
        direction = np.where(
            (size > _NO_MOTION_DEG_S)[:, None],
            xy / np.maximum(size, _NO_MOTION_DEG_S)[:, None],
            np.array([1.0, 0.0]),
        )
        return size, direction

    # Positions are compared along and across the path the element set's error moves the
    # object on (its own motion); rates against the apparent motion the track measured.
    path_speed, path_dir = in_plane(points.path)
    path_normal = np.stack([-path_dir[:, 1], path_dir[:, 0]], axis=-1)  # left of the path
    cross_deg = np.sum(residual * path_normal, -1)
    along_deg = np.sum(residual * path_dir, -1)
    speed, motion_dir = in_plane(points.motion)
    motion_normal = np.stack([-motion_dir[:, 1], motion_dir[:, 0]], axis=-1)
    moving = speed > _NO_MOTION_DEG_S

    w = trk.rate_deg_s[k]
    w_along = np.sum(w * motion_dir, -1)
    w_cross = np.sum(w * motion_normal, -1)
    track_speed = np.hypot(w[:, 0], w[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        direction_deg = np.where(
            moving & (track_speed > 0), np.degrees(np.arctan2(w_cross, w_along)), np.nan
        )
        rate_fraction = np.where(moving, track_speed / speed - 1.0, np.nan)
        # Slow movers get no time offset (see the module docstring).
        along_track_s = np.where(is_slow, np.nan, -(points.shift_s + along_deg / path_speed))

    # Each measure over its total uncertainty: element set, track covariance, sensor.
    age = objects.age_days[pair_row]
    timing_sig, position_sig = s.element_sigmas(age, points.range_km)
    sensor_var = (sensor.sigma_arcsec / ARCSEC_PER_DEG) ** 2
    pos_cov = trk.position_cov[k]
    var_cross = position_sig**2 + _quadratic(pos_cov, path_normal) + sensor_var
    var_along = position_sig**2 + _quadratic(pos_cov, path_dir) + sensor_var
    # Fast movers: the along-track term is the whole offset along the path (time shift plus
    # what is left after it) against timing and position error. Slow movers: angle only.
    total_along_deg = along_deg + path_speed * points.shift_s
    var_along = var_along + np.where(is_slow, 0.0, (path_speed * timing_sig) ** 2)
    floor_var = (s.rate_sigma_floor_arcsec_s / ARCSEC_PER_DEG) ** 2
    rate_cov = trk.rate_cov[k]
    var_speed = (s.rate_sigma_fraction * speed) ** 2 + _quadratic(rate_cov, motion_dir) + floor_var
    var_turn = (
        (math.radians(s.direction_sigma_deg) * speed) ** 2
        + _quadratic(rate_cov, motion_normal)
        + floor_var
    )
    z = np.stack(
        [
            cross_deg / np.sqrt(var_cross),
            total_along_deg / np.sqrt(var_along),
            (w_along - speed) / np.sqrt(var_speed),
            w_cross / np.sqrt(var_turn),
        ],
        axis=-1,
    )
    z = np.where(ok[:, None], z, np.inf)
    score = np.sum(z**2, axis=-1)
    gated = ok & np.all(np.abs(z) <= s.gate_sigma, axis=-1) & (score <= s.chi2_gate)

    return CandidatePairs(
        track=pair_track,
        object_index=objects.index[pair_row],
        along_track_s=along_track_s,
        cross_track_deg=cross_deg,
        along_offset_deg=along_deg,
        direction_deg=direction_deg,
        rate_fraction=rate_fraction,
        z=z,
        score=score,
        gated=gated,
        slow=is_slow,
        element_age_days=age,
        n_tracks=len(trk.unit),
    )


def _transverse(unit: Array, velocity: Array, range_km: Array) -> Array:
    """Angular velocity (rad/s) of the line of sight ``unit`` for a relative velocity."""
    return (velocity - np.sum(velocity * unit, -1, keepdims=True) * unit) / range_km[:, None]


def _coarse_select(
    trk: _Tracks, objects: _Objects, s: CorrelationSettings
) -> tuple[IntArray, IntArray]:
    """Pairs ``(track, object row)`` worth measuring.

    Every object: the track lies within its reach (the distance it can travel along its path
    within its window, plus its positional gate). Fast objects also: the track lies in a band
    around the great circle the object runs on as seen from the sensor held still (a straight
    line seen from a point is a great circle; the band allows the positional gate plus the
    bending of the orbit by gravity over the window), and the track's apparent speed is within
    ``coarse_speed_ratio`` of the object's.

    The tests run as dense (tracks x objects) matrix products, a few chunks of tracks at a
    time: the band around a great circle is not a ball, so a k-d tree would not index it, and
    products over the few thousand objects a sensor can see cost milliseconds.
    """
    floor_var = (s.rate_sigma_floor_arcsec_s / ARCSEC_PER_DEG) ** 2
    unit, slow, speed = objects.unit, objects.slow, objects.speed_deg_s
    pole = np.cross(unit, objects.path)
    pole /= np.maximum(np.linalg.norm(pole, axis=-1), 1e-30)[:, None]
    bend_deg = np.degrees(0.5 * SURFACE_GRAVITY_KM_S2 * objects.window_s**2 / objects.range_km)
    sin_band = np.sin(np.radians(np.minimum(objects.position_gate_deg + bend_deg, 90.0)))
    cos_reach = np.cos(np.radians(np.minimum(objects.reach_deg, 180.0)))

    track_speed = np.hypot(trk.rate_deg_s[:, 0], trk.rate_deg_s[:, 1])
    speed_sigma = np.sqrt(np.trace(trk.rate_cov, axis1=1, axis2=2) / 2.0 + floor_var)
    lowest = ((track_speed - s.gate_sigma * speed_sigma) / s.coarse_speed_ratio)[:, None]
    highest = ((track_speed + s.gate_sigma * speed_sigma) * s.coarse_speed_ratio)[:, None]

    slow_rows, fast_rows = np.flatnonzero(slow), np.flatnonzero(~slow)
    slow_unit_t, slow_cos_reach = unit[slow_rows].T.copy(), cos_reach[slow_rows]
    fast_pole_t, fast_sin_band = pole[fast_rows].T.copy(), sin_band[fast_rows]
    tracks_out: list[IntArray] = []
    objects_out: list[IntArray] = []
    step = max(1, _CHUNK_ELEMENTS // len(unit))
    for start in range(0, len(trk.unit), step):  # one pass per chunk of tracks
        r = trk.unit[start : start + step]
        # Slow objects: within reach.
        k, j = np.nonzero(r @ slow_unit_t >= slow_cos_reach)
        tracks_out.append(k + start)
        objects_out.append(slow_rows[j])
        # Fast objects: in the band first (the narrowest test), then reach and speed per pair.
        k, j = np.nonzero(np.abs(r @ fast_pole_t) <= fast_sin_band)
        rows = fast_rows[j]
        keep = (
            (np.sum(r[k] * unit[rows], -1) >= cos_reach[rows])
            & (speed[rows] >= lowest[k + start, 0])
            & (speed[rows] <= highest[k + start, 0])
        )
        tracks_out.append(k[keep] + start)
        objects_out.append(rows[keep])
    return np.concatenate(tracks_out), np.concatenate(objects_out)


def _refine_on_path(
    catalogue: Catalogue,
    sensor: Sensor,
    t0: float,
    obj: IntArray,
    pair_row: IntArray,
    track_unit: Array,
    span_s: float,
    s: CorrelationSettings,
) -> tuple[Array, Array, Array, Array, Array, NDArray[np.bool_]]:
    """Find, for each pair, the time shift along the object's path closest to the track.

    The candidates are predicted once on a grid of times ``t0 + tau`` spanning ``+-span_s``;
    their topocentric vectors are moved to the sensor's position at ``t0`` (the object is early
    or late, the sensor is where it is) and interpolated with a cubic spline per object, on
    which a few Gauss-Newton steps minimise the angle to each track.

    Returns per pair: the predicted line of sight at the best shift; its angular velocity as
    the sensor sees it at ``t0`` and along the path (rad/s, 3-D); the range (km); the shift
    ``tau`` (s); whether the result is usable (valid propagation, optimum inside the grid).
    """
    unique_rows, row_of_pair = np.unique(pair_row, return_inverse=True)
    n_half = max(1, math.ceil(span_s / s.grid_step_s))
    half_span = max(span_s, 1e-3) + span_s / n_half  # one step beyond the window
    tau_grid = np.linspace(-half_span, half_span, 2 * (n_half + 1) + 1)
    times = t0 + tau_grid
    grid = predict_sky(catalogue, sensor, times, index=obj[unique_rows])
    obs_pos, obs_vel = observer_state_gcrs_km(sensor, times)
    obs_pos = np.asarray(obs_pos, dtype=float)
    obs_vel = np.asarray(obs_vel, dtype=float)
    centre = len(tau_grid) // 2
    # Object position relative to the sensor's position at t0, km: (U, T, 3).
    rel = (
        np.asarray(grid.range_km)[..., None] * unit_from_radec(grid.ra_deg, grid.dec_deg)
        + (obs_pos - obs_pos[centre])[None, :, :]
    )
    valid_obj = np.all(np.asarray(grid.valid, dtype=bool), axis=1)
    rel = np.where(valid_obj[:, None, None], rel, np.array([1.0, 0.0, 0.0]))
    coeff = CubicSpline(tau_grid, rel, axis=1).c  # (4, T-1, U, 3)

    # Start from the nearest grid node, then Gauss-Newton on the spline.
    rel_unit = rel / np.linalg.norm(rel, axis=-1, keepdims=True)
    closeness = np.einsum("ptk,pk->pt", rel_unit[row_of_pair], track_unit)
    tau = tau_grid[np.argmax(closeness, axis=1)]
    for _ in range(int(s.refine_iterations)):
        pos, vel = _spline_eval(coeff, tau_grid, row_of_pair, tau)
        dist = np.linalg.norm(pos, axis=-1)
        u = pos / dist[:, None]
        along = _transverse(u, vel, dist)
        gain = np.sum(along * along, -1)
        step = np.sum((track_unit - u) * along, -1) / np.maximum(gain, 1e-30)
        tau = np.clip(tau + step, tau_grid[0], tau_grid[-1])
    pos, vel = _spline_eval(coeff, tau_grid, row_of_pair, tau)
    dist = np.linalg.norm(pos, axis=-1)
    u = pos / dist[:, None]
    # As seen at t0 the sensor moves with its velocity at t0, not at t0 + tau.
    apparent = _transverse(u, vel - obs_vel[centre], dist)
    path = _transverse(u, vel, dist)
    inside = np.abs(tau) < half_span - _EDGE_TOLERANCE_S
    return u, apparent, path, dist, tau, valid_obj[row_of_pair] & inside


def _spline_eval(coeff: Array, knots: Array, row: IntArray, tau: Array) -> tuple[Array, Array]:
    """Value and derivative of each pair's object spline at its own time ``tau``."""
    seg = np.clip(np.searchsorted(knots, tau, side="right") - 1, 0, len(knots) - 2)
    dx = (tau - knots[seg])[:, None]
    c = coeff[:, seg, row, :]  # (4, P, 3)
    value = ((c[0] * dx + c[1]) * dx + c[2]) * dx + c[3]
    slope = (3.0 * c[0] * dx + 2.0 * c[1]) * dx + c[2]
    return value, slope


# ------------------------------------------------------------------------------ assignment


def _best_per_track(pairs: CandidatePairs, idx: IntArray) -> IntArray:
    """Of the pairs ``idx``, the lowest-score one of each track present."""
    if len(idx) == 0:
        return idx
    idx = idx[np.lexsort((pairs.score[idx], pairs.track[idx]))]
    first = np.r_[True, pairs.track[idx][1:] != pairs.track[idx][:-1]]
    return idx[first]


def _assign(pairs: CandidatePairs, chi2_gate: float) -> IntArray:
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


# ------------------------------------------------------------------------------ public API


def correlate_tracks(
    tracks: Sequence[TrackUpdate],
    sensor: Sensor,
    catalogue: Catalogue,
    settings: CorrelationSettings = CorrelationSettings(),
    *,
    fov: FieldOfView | None = None,
    prediction: SkyPrediction | None = None,
) -> list[Association]:
    """Name each track with a catalogue object, or declare it uncorrelated.

    ``tracks`` are the current states of the confirmed tracks of one ``sensor`` at one time
    (one frame). ``fov``, when given, limits the catalogue to objects that can reach the field
    within their search window. ``prediction`` optionally passes the whole catalogue already
    predicted at that time (:func:`tracking.predict.predict_sky`).

    Returns one :class:`~tracking.models.Association` per track, in the order given:

    * correlated (``uct=False``): ``norad_id``/``name`` of the object assigned; residuals;
      ``score`` (sum of squared normalised residuals, lower is better); ``confidence`` =
      L / (L0 + sum of L over the track's acceptable candidates + L of the best rejected one),
      with ``L = exp(-score/2)`` and ``L0 = exp(-chi2_gate/2)`` the "unknown object"
      alternative; ``ambiguous`` when an acceptable runner-up scores within
      ``ambiguity_delta_chi2``. The runner-up (best other acceptable candidate) is reported
      whenever there is one.
    * uncorrelated (``uct=True``): residual fields and score null; ``confidence`` = L0 / (the
      same denominator), 1 when no candidate came near. An acceptable candidate that another
      track claimed is reported as the runner-up.

    ``n_candidates`` counts the acceptable candidates of the track (all gates passed).
    """
    if not tracks:
        return []
    pairs = candidate_pairs(tracks, sensor, catalogue, settings, fov=fov, prediction=prediction)
    chosen = _assign(pairs, settings.chi2_gate)
    return _associations(tracks, catalogue, pairs, chosen, settings)


def _associations(
    tracks: Sequence[TrackUpdate],
    catalogue: Catalogue,
    pairs: CandidatePairs,
    chosen: IntArray,
    s: CorrelationSettings,
) -> list[Association]:
    """Turn assigned pairs into records, with runner-ups, confidence and ambiguity."""
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


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
