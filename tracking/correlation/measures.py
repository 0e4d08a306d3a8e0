"""A track's filtered state as arc evidence: the single-frame form of the correlator.

A track's filtered position and rate at the frame time, with their covariance, summarise its
detections under the tracker's constant-velocity model. Against a candidate's path point
(:mod:`.path`) they give the along and cross offsets now (intercepts) and their rates of change
(slopes), with variances from the track covariance and the sensor's sigma: an estimate of the
offset line that :func:`~.evidence.sums_from_estimate` turns into the same running sums a
measured arc has. :func:`correlate_tracks <.correlator.correlate_tracks>` scores those; the
pipeline scores the measured arcs themselves (:mod:`.identify`).
"""

from __future__ import annotations

import numpy as np

from ..constants import DEG_PER_ARCSEC
from ..models import Sensor
from ..types import Array, BoolArray
from .coarse import CoarsePairs
from .evidence import sums_from_estimate
from .objects import ObjectStates
from .path import PathPoints
from .tracks import FrameTracks

__all__ = ["state_sums"]

# Below this own angular speed an object has no direction of motion (deg/s, 0.0036"/s).
_NO_MOTION_DEG_S = 1e-6


def state_sums(
    tracks: FrameTracks,
    objects: ObjectStates,
    pairs: CoarsePairs,
    points: PathPoints,
    sensor: Sensor,
) -> tuple[Array, BoolArray]:
    """``(sums (P, 2, N_SUMS), ok (P,))``: each pair's offsets from its track's state, with
    time measured from the frame time; ``ok`` is False where the path point is unusable."""
    trk, k = tracks, pairs.track
    slow = objects.slow[pairs.row]
    e_k, n_k, c_k = trk.east[k], trk.north[k], trk.unit[k]
    depth = np.sum(points.unit * c_k, axis=-1)
    ok = points.ok & (depth > 0.5)
    depth = np.where(ok, depth, 1.0)
    residual = (
        -np.stack([np.sum(points.unit * e_k, -1), np.sum(points.unit * n_k, -1)], axis=-1)
        / depth[:, None]
    )  # track minus prediction, rad

    def in_plane(vectors: Array) -> Array:
        return np.stack([np.sum(vectors * e_k, -1), np.sum(vectors * n_k, -1)], -1)

    path_xy = in_plane(points.path)
    path_speed = np.hypot(path_xy[:, 0], path_xy[:, 1])  # rad/s
    moving = np.degrees(path_speed) > _NO_MOTION_DEG_S
    direction = np.where(
        moving[:, None], path_xy / np.maximum(path_speed, 1e-30)[:, None], np.array([1.0, 0.0])
    )
    normal = np.stack([-direction[:, 1], direction[:, 0]], -1)
    r = np.maximum(points.range_km, 1.0)
    rate = np.radians(trk.rate_deg_s[k]) - in_plane(points.motion)  # track minus object, rad/s
    sensor_var = np.radians(sensor.sigma_arcsec * DEG_PER_ARCSEC) ** 2
    pos_cov = np.radians(1.0) ** 2 * trk.position_cov[k]
    rate_cov = np.radians(1.0) ** 2 * trk.rate_cov[k]

    def project(cov: Array, d: Array) -> Array:
        return np.einsum("pi,pij,pj->p", d, cov, d)

    along_left = np.sum(residual * direction, -1)
    speed = np.where(moving, path_speed, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Along: a time for moving objects (positive late), a distance for slow ones.
        along_scale = np.where(slow, r, 1.0 / speed)
        along = np.where(slow, -along_left * r, -(points.shift_s + along_left / speed))
        along_rate = -np.sum(rate * direction, -1) * along_scale
    along_var = (project(pos_cov, direction) + sensor_var) * along_scale**2
    along_rate_var = project(rate_cov, direction) * along_scale**2
    cross = np.sum(residual * normal, -1) * r
    cross_rate = np.sum(rate * normal, -1) * r
    cross_var = (project(pos_cov, normal) + sensor_var) * r**2
    cross_rate_var = project(rate_cov, normal) * r**2

    def covariance(a: Array, b: Array) -> Array:
        cov = np.zeros((len(a), 2, 2))
        cov[:, 0, 0], cov[:, 1, 1] = np.maximum(a, 1e-30), np.maximum(b, 1e-30)
        return cov

    ok &= slow | moving
    along = np.where(ok, along, 0.0)
    along_rate = np.where(ok, along_rate, 0.0)
    sums = np.stack(
        [
            sums_from_estimate(along, along_rate, covariance(along_var, along_rate_var)),
            sums_from_estimate(
                np.where(ok, cross, 0.0),
                np.where(ok, cross_rate, 0.0),
                covariance(cross_var, cross_rate_var),
            ),
        ],
        axis=1,
    )
    return sums, ok
