"""Detections against candidate paths: each detection's offsets from a candidate's prediction.

For a detection at time ``t`` and a candidate object, the along-track offset of a moving object
is the time shift ``tau`` that brings its predicted path closest to the detection, seen from
where the sensor was at ``t``: the path is ``G(t + tau) - O(t)``, with ``G`` the object's
topocentric prediction plus the sensor's position (so that the sensor's own motion over the
shift is not mistaken for cross-track error) and ``O(t)`` the sensor's position. ``G`` of every
candidate is predicted once on a grid of times spanning every detection asked about, plus the
search window, and interpolated with cubic splines; a few batched Gauss-Newton steps find each
``tau``. Near-stationary objects are compared at ``tau = 0``, their along offset a distance.

Offsets are track minus prediction, along positive when the object is late (or behind) and
cross positive to the left of its direction of motion, as in
:class:`~orbitlink.tracking.models.Association`; distances are km at the object's range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..models import Sensor
from ..predict import SkyPredictor
from ..sky import tangent_basis, unit_from_radec
from ..splines import cubic_coefficients
from ..types import Array, BoolArray, IntArray
from .objects import angular_velocity
from .settings import CorrelationSettings

__all__ = ["ArcPoints", "measure_arcs"]

# A shift within this many seconds of the end of the searched window means the optimum lies
# beyond it: the point is rejected rather than reported at the edge.
_EDGE_TOLERANCE_S = 1e-6
# Below this own angular speed a path has no direction; the plane's east axis stands in.
_NO_MOTION_DEG_S = 1e-6


@dataclass(frozen=True)
class ArcPoints:
    """Per measured detection (R rows): its offsets from one candidate's path."""

    along: Array  # (R,) s for moving objects, km for slow ones; positive late/behind
    cross_km: Array  # (R,) positive to the left of the path
    along_weight: Array  # (R,) inverse variance of ``along`` from the astrometry
    cross_weight: Array  # (R,) inverse variance of ``cross_km``, 1/km^2
    path_speed_deg_s: Array  # (R,) the object's own angular speed there (sensor held still)
    motion: Array  # (R, 3) its apparent angular velocity as the sensor sees it, rad/s
    range_km: Array  # (R,)
    ok: BoolArray  # (R,) valid prediction, optimum inside the window

    def __len__(self) -> int:
        return len(self.along)


def measure_arcs(
    predictor: SkyPredictor,
    sensor: Sensor,
    object_index: IntArray,
    slow: BoolArray,
    window_s: Array,
    time_unix_s: Array,
    ra_deg: Array,
    dec_deg: Array,
    sigma_deg: Array,
    settings: CorrelationSettings,
) -> ArcPoints:
    """Offsets of detections (R rows: catalogue ``object_index``, whether it is ``slow``, its
    search ``window_s``, and the detection's time, position and sigma) from their candidates'
    predicted paths."""
    n = len(object_index)
    along, cross_km = np.full(n, np.nan), np.full(n, np.nan)
    along_w, cross_w = np.zeros(n), np.zeros(n)
    speed, range_km = np.full(n, np.nan), np.full(n, np.nan)
    motion = np.zeros((n, 3))
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return ArcPoints(along, cross_km, along_w, cross_w, speed, motion, range_km, ok)
    window = np.where(slow, 0.0, np.asarray(window_s, dtype=float))
    times = np.asarray(time_unix_s, dtype=float)
    span = float(window.max())
    # One grid over every detection time and window: node spacing at most grid_step_s.
    start, stop = float(times.min()) - span, float(times.max()) + span
    n_steps = max(2, math.ceil((stop - start) / settings.grid_step_s) + 2)
    step = (stop - start) / (n_steps - 2) if stop > start else 1.0
    grid = start - step + step * np.arange(n_steps + 1)
    unique, object_row = np.unique(object_index, return_inverse=True)
    predicted = predictor.paths(sensor, unique, grid)
    grid_obs, _ = predictor.observer_state_gcrs_km(sensor, grid)
    position = (
        np.asarray(predicted.range_km)[..., None]
        * unit_from_radec(predicted.ra_deg, predicted.dec_deg)
        + np.asarray(grid_obs, dtype=float)[None, :, :]
    )  # (U, T, 3): G of each object
    valid_object = np.all(np.asarray(predicted.valid, dtype=bool), axis=1)
    position = np.where(valid_object[:, None, None], position, np.array([1.0, 0.0, 0.0]))
    coeff = cubic_coefficients(grid, position, axis=1)  # (4, T-1, U, 3)

    unique_times, time_row = np.unique(times, return_inverse=True)
    obs, obs_vel = predictor.observer_state_gcrs_km(sensor, unique_times)
    obs = np.asarray(obs, dtype=float).reshape(-1, 3)[time_row]
    obs_vel = np.asarray(obs_vel, dtype=float).reshape(-1, 3)[time_row]
    east, north, target = tangent_basis(ra_deg, dec_deg)

    # Start each search at the best grid node inside its window, then Gauss-Newton.
    offsets = grid[None, :] - times[:, None]  # (R, T)
    rel = position[object_row] - obs[:, None, :]
    closeness = np.einsum("rtk,rk->rt", rel, target) / np.linalg.norm(rel, axis=-1)
    closeness = np.where(np.abs(offsets) <= window[:, None], closeness, -np.inf)
    tau = np.where(slow, 0.0, np.take_along_axis(offsets, closeness.argmax(1)[:, None], 1)[:, 0])
    for _ in range(int(settings.refine_iterations)):
        pos, vel = _spline_eval(coeff, grid, object_row, times + tau)
        rel_now = pos - obs
        dist = np.linalg.norm(rel_now, axis=-1)
        u = rel_now / dist[:, None]
        path = angular_velocity(u, vel, dist)
        gain = np.sum(path * path, -1)
        move = np.sum((target - u) * path, -1) / np.maximum(gain, 1e-30)
        tau = np.where(slow, 0.0, np.clip(tau + move, -window, window))
    pos, vel = _spline_eval(coeff, grid, object_row, times + tau)
    rel_now = pos - obs
    dist = np.linalg.norm(rel_now, axis=-1)
    u = rel_now / dist[:, None]
    path = angular_velocity(u, vel, dist)
    motion = angular_velocity(u, vel - obs_vel, dist)

    depth = np.sum(u * target, -1)
    usable = valid_object[object_row] & (depth > 0.5)
    depth = np.where(usable, depth, 1.0)
    # Track minus prediction in the detection's tangent plane, radians.
    residual = -np.stack([np.sum(u * east, -1), np.sum(u * north, -1)], -1) / depth[:, None]
    path_xy = np.stack([np.sum(path * east, -1), np.sum(path * north, -1)], -1)
    path_speed = np.hypot(path_xy[:, 0], path_xy[:, 1])  # rad/s
    moving = np.degrees(path_speed) > _NO_MOTION_DEG_S
    direction = np.where(
        moving[:, None], path_xy / np.maximum(path_speed, 1e-30)[:, None], np.array([1.0, 0.0])
    )
    normal = np.stack([-direction[:, 1], direction[:, 0]], -1)
    along_rad = np.sum(residual * direction, -1)
    cross_rad = np.sum(residual * normal, -1)
    sigma_rad = np.radians(np.asarray(sigma_deg, dtype=float))
    inside = slow | (np.abs(tau) < window - _EDGE_TOLERANCE_S)
    fast = ~slow & moving
    with np.errstate(divide="ignore", invalid="ignore"):
        along = np.where(slow, -along_rad * dist, -(tau + along_rad / path_speed))
        along_w = np.where(slow, 1.0 / (sigma_rad * dist) ** 2, (path_speed / sigma_rad) ** 2)
    ok = usable & inside & (slow | fast)
    return ArcPoints(
        along=np.where(ok, along, np.nan),
        cross_km=np.where(ok, cross_rad * dist, np.nan),
        along_weight=np.where(ok, along_w, 0.0),
        cross_weight=np.where(ok, 1.0 / (sigma_rad * dist) ** 2, 0.0),
        path_speed_deg_s=np.degrees(path_speed),
        motion=motion,
        range_km=dist,
        ok=ok,
    )


def _spline_eval(coeff: Array, knots: Array, row: IntArray, t: Array) -> tuple[Array, Array]:
    """Value and derivative of each row's object spline at its own time ``t``."""
    seg = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, len(knots) - 2)
    dx = (t - knots[seg])[:, None]
    c = coeff[:, seg, row, :]  # (4, R, 3)
    value = ((c[0] * dx + c[1]) * dx + c[2]) * dx + c[3]
    slope = (3.0 * c[0] * dx + 2.0 * c[1]) * dx + c[2]
    return value, slope
