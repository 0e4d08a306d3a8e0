"""Path search: the point of each candidate object's predicted path closest to its track.

A late or early object is where its element set puts it *at another time, as seen from where
the sensor is now*: the sensor's own motion over the shift (a ground site moves 0.46 km/s, 9 km
in 20 s, which is a degree at Starlink range) must not be mistaken for cross-track error, so
the predicted topocentric vectors are moved to the sensor's position at the frame time before
they are interpolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..models import Sensor
from ..predict import SkyPredictor
from ..sky import unit_from_radec
from ..splines import cubic_coefficients
from ..types import Array, IntArray
from .coarse import CoarsePairs
from .objects import ObjectStates, angular_velocity
from .settings import CorrelationSettings
from .tracks import FrameTracks

__all__ = ["PathPoints", "path_points"]

# A time offset within this many seconds of the end of the search grid means the optimum lies
# outside it: the pair is rejected rather than reported at the edge.
_EDGE_TOLERANCE_S = 1e-6


@dataclass(frozen=True)
class PathPoints:
    """Per pair, the point of the object's predicted path that best explains the track."""

    unit: Array  # (P, 3) line of sight
    motion: Array  # (P, 3) apparent angular velocity as the sensor sees it at t0, rad/s
    path: Array  # (P, 3) own angular velocity (sensor held still), rad/s
    range_km: Array  # (P,)
    shift_s: Array  # (P,) track = prediction at t0 + shift_s (0 for slow objects)
    ok: NDArray[np.bool_]  # (P,) valid propagation, optimum inside the searched window


def path_points(
    predictor: SkyPredictor,
    sensor: Sensor,
    tracks: FrameTracks,
    objects: ObjectStates,
    pairs: CoarsePairs,
    settings: CorrelationSettings,
) -> PathPoints:
    """Slow objects: their prediction at the frame time. Fast objects: the along-track
    search of :func:`_search_paths`, over the largest window among them."""
    n_pairs = len(pairs)
    unit, motion, path = np.empty((n_pairs, 3)), np.empty((n_pairs, 3)), np.empty((n_pairs, 3))
    range_km, shift_s = np.empty(n_pairs), np.zeros(n_pairs)
    ok = np.ones(n_pairs, dtype=bool)
    slow = objects.slow[pairs.row]
    sp = np.flatnonzero(slow)
    o = pairs.row[sp]
    unit[sp], motion[sp], path[sp] = objects.unit[o], objects.motion[o], objects.path[o]
    range_km[sp] = objects.range_km[o]
    fp = np.flatnonzero(~slow)
    if len(fp):
        rows = pairs.row[fp]
        fast = _search_paths(
            predictor,
            sensor,
            tracks.time_unix_s,
            objects.index[rows],
            tracks.unit[pairs.track[fp]],
            float(objects.window_s[rows].max()),
            settings,
        )
        unit[fp], motion[fp], path[fp] = fast.unit, fast.motion, fast.path
        range_km[fp], shift_s[fp], ok[fp] = fast.range_km, fast.shift_s, fast.ok
    return PathPoints(unit, motion, path, range_km, shift_s, ok)


def _search_paths(
    predictor: SkyPredictor,
    sensor: Sensor,
    t0: float,
    object_index: IntArray,
    track_unit: Array,
    span_s: float,
    s: CorrelationSettings,
) -> PathPoints:
    """Find, for each pair (catalogue object ``object_index``, track line of sight
    ``track_unit``), the time shift along the object's path closest to the track.

    The candidates are predicted once on a grid of times ``t0 + tau`` spanning ``+-span_s``;
    their topocentric vectors are moved to the sensor's position at ``t0`` (the object is early
    or late, the sensor is where it is) and interpolated with a cubic spline per object, on
    which a few Gauss-Newton steps minimise the angle to each track.

    Per pair: the predicted line of sight at the best shift; its angular velocity as the sensor
    sees it at ``t0`` and along the path (rad/s, 3-D); the range (km); the shift ``tau`` (s);
    whether the result is usable (valid propagation, optimum inside the grid).
    """
    unique_index, row_of_pair = np.unique(object_index, return_inverse=True)
    n_half = max(1, math.ceil(span_s / s.grid_step_s))
    half_span = max(span_s, 1e-3) + span_s / n_half  # one step beyond the window
    tau_grid = np.linspace(-half_span, half_span, 2 * (n_half + 1) + 1)
    times = t0 + tau_grid
    grid = predictor.paths(sensor, unique_index, times)
    obs_pos, obs_vel = predictor.observer_state_gcrs_km(sensor, times)
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
    coeff = cubic_coefficients(tau_grid, rel, axis=1)  # (4, T-1, U, 3)

    # Start from the nearest grid node, then Gauss-Newton on the spline.
    rel_unit = rel / np.linalg.norm(rel, axis=-1, keepdims=True)
    closeness = np.einsum("ptk,pk->pt", rel_unit[row_of_pair], track_unit)
    tau = tau_grid[np.argmax(closeness, axis=1)]
    for _ in range(int(s.refine_iterations)):
        pos, vel = _spline_eval(coeff, tau_grid, row_of_pair, tau)
        dist = np.linalg.norm(pos, axis=-1)
        u = pos / dist[:, None]
        along = angular_velocity(u, vel, dist)
        gain = np.sum(along * along, -1)
        step = np.sum((track_unit - u) * along, -1) / np.maximum(gain, 1e-30)
        tau = np.clip(tau + step, tau_grid[0], tau_grid[-1])
    pos, vel = _spline_eval(coeff, tau_grid, row_of_pair, tau)
    dist = np.linalg.norm(pos, axis=-1)
    u = pos / dist[:, None]
    inside = np.abs(tau) < half_span - _EDGE_TOLERANCE_S
    return PathPoints(
        unit=u,
        # As seen at t0 the sensor moves with its velocity at t0, not at t0 + tau.
        motion=angular_velocity(u, vel - obs_vel[centre], dist),
        path=angular_velocity(u, vel, dist),
        range_km=dist,
        shift_s=tau,
        ok=valid_obj[row_of_pair] & inside,
    )


def _spline_eval(coeff: Array, knots: Array, row: IntArray, tau: Array) -> tuple[Array, Array]:
    """Value and derivative of each pair's object spline at its own time ``tau``."""
    seg = np.clip(np.searchsorted(knots, tau, side="right") - 1, 0, len(knots) - 2)
    dx = (tau - knots[seg])[:, None]
    c = coeff[:, seg, row, :]  # (4, P, 3)
    value = ((c[0] * dx + c[1]) * dx + c[2]) * dx + c[3]
    slope = (3.0 * c[0] * dx + 2.0 * c[1]) * dx + c[2]
    return value, slope
