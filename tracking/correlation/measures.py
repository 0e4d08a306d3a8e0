"""Measures: every coarse pair's residuals, normalised by their uncertainties and gated.

Positions are compared along and across the path the element set's error moves the object on
(its own motion, the sensor held still); rates against the apparent motion the track measured.
Each measure is divided by its total sigma (element set, track covariance, sensor); the sum of
the squares is the pair's score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..constants import ARCSEC_PER_DEG
from ..models import Sensor
from ..types import Array, IntArray
from .coarse import CoarsePairs
from .error_model import element_sigmas
from .objects import ObjectStates
from .path import PathPoints
from .settings import CorrelationSettings
from .tracks import FrameTracks

__all__ = ["CandidatePairs", "empty_pairs", "measure"]

# Below this apparent speed an object has no usable direction of motion (deg/s, 0.0036"/s).
_NO_MOTION_DEG_S = 1e-6


@dataclass(frozen=True)
class CandidatePairs:
    """Every track-object pair that survived the coarse selection, with its measures.

    Arrays are parallel, one entry per pair; ``track`` indexes the tracks passed in and
    ``object_index`` the catalogue. Offsets and residuals are track minus prediction, with the
    sign conventions of :class:`~orbitlink.tracking.models.Association`.
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


def empty_pairs(n_tracks: int) -> CandidatePairs:
    """No candidate for any of ``n_tracks`` tracks."""
    e = np.zeros(0)
    i = np.zeros(0, dtype=np.intp)
    return CandidatePairs(
        track=i,
        object_index=i,
        along_track_s=e,
        cross_track_deg=e,
        along_offset_deg=e,
        direction_deg=e,
        rate_fraction=e,
        z=np.zeros((0, 4)),
        score=e,
        gated=np.zeros(0, bool),
        slow=np.zeros(0, bool),
        element_age_days=e,
        n_tracks=n_tracks,
    )


def measure(
    tracks: FrameTracks,
    objects: ObjectStates,
    pairs: CoarsePairs,
    points: PathPoints,
    sensor: Sensor,
    settings: CorrelationSettings,
) -> CandidatePairs:
    """Residuals of every pair in the tangent plane at its track, normalised and gated."""
    s, trk = settings, tracks
    k = pairs.track
    is_slow = objects.slow[pairs.row]
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
    age = objects.age_days[pairs.row]
    timing_sig, position_sig = element_sigmas(s, age, points.range_km)
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
        track=pairs.track,
        object_index=objects.index[pairs.row],
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


def _quadratic(cov: Array, direction: Array) -> Array:
    """``d^T C d`` over the leading axis: cov (P, 2, 2), direction (P, 2)."""
    return np.einsum("pi,pij,pj->p", direction, cov, direction)
