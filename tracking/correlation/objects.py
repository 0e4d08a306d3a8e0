"""The catalogue objects that could be one of a frame's tracks, and their states at its time."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from ..constants import SECONDS_PER_DAY
from ..models import FieldOfView, Sensor
from ..predict import SkyPrediction
from ..sky import tangent_basis, unit_from_radec
from ..types import Array, IntArray
from .error_model import ElementPriors, element_priors
from .settings import CorrelationSettings
from .tracks import FrameTracks

__all__ = ["ObjectStates", "angular_velocity", "object_states"]


@dataclass(frozen=True)
class ObjectStates:
    """The catalogue objects that may be seen, at the frame time: N rows."""

    index: IntArray  # (N,) catalogue indices, increasing
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
    priors: ElementPriors  # (N,) the element sets' error at their ages
    mean_motion_rad_s: Array  # (N,) of the orbit, for the drift the geometry allows

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class _Usable:
    """Per validly predicted object: what the reach test needs, and the states reuse."""

    index: IntArray
    range_km: Array
    speed_deg_s: Array
    age_days: Array
    priors: ElementPriors
    position_sigma_deg: Array
    position_gate_deg: Array
    ra_deg: Array
    dec_deg: Array

    def take(self, keep: NDArray[np.bool_]) -> _Usable:
        def pick(value: object) -> object:
            if isinstance(value, ElementPriors):
                return ElementPriors(
                    **{f.name: getattr(value, f.name)[keep] for f in fields(value)}
                )
            return value[keep]  # type: ignore[index]

        return _Usable(**{f.name: pick(getattr(self, f.name)) for f in fields(self)})


def object_states(
    tracks: FrameTracks,
    prediction: SkyPrediction,
    epoch_unix_s: Array,
    class_codes: IntArray,
    mean_motion_rad_s: Array,
    observer_velocity_km_s: Array,
    sensor: Sensor,
    settings: CorrelationSettings,
    fov: FieldOfView | None = None,
) -> ObjectStates | None:
    """Per-object quantities at the frame time, for the objects that could be a track; None
    if there are none.

    ``prediction`` is the catalogue (or the sensor's candidates) at the tracks' time;
    ``epoch_unix_s``, ``class_codes`` and ``mean_motion_rad_s`` are the epochs, orbit classes
    and mean motions of its objects, row for row; ``observer_velocity_km_s`` is the sensor's
    GCRS velocity at that time. The states' ``index`` is into the catalogue.
    """
    s = settings
    usable = np.asarray(prediction.valid, dtype=bool).copy()
    if s.require_sunlit:
        usable &= np.asarray(prediction.sunlit, dtype=bool)
    obj = np.flatnonzero(usable)
    range_km = prediction.range_km[obj]
    age_days = (tracks.time_unix_s - epoch_unix_s[obj]) / SECONDS_PER_DAY
    priors = element_priors(s, class_codes[obj], age_days)
    # Which objects move (their in-track error then searched as a time) is known only below:
    # until then the positional gate holds the in-track error as an angle too.
    position_deg = priors.position_sigma_deg(range_km)
    along_deg = priors.in_track_sigma_deg(range_km)
    worst_track_var = float(tracks.position_var.max())
    rows = _Usable(
        index=obj,
        range_km=range_km,
        speed_deg_s=np.hypot(prediction.ra_rate_deg_s[obj], prediction.dec_rate_deg_s[obj]),
        age_days=age_days,
        priors=priors,
        position_sigma_deg=np.hypot(position_deg, along_deg),
        position_gate_deg=s.gate_sigma * np.sqrt(position_deg**2 + along_deg**2 + worst_track_var),
        ra_deg=prediction.ra_deg[obj],
        dec_deg=prediction.dec_deg[obj],
    )
    observer_velocity = np.asarray(observer_velocity_km_s, dtype=float)
    keep = _within_reach(rows, prediction, observer_velocity, sensor, s, fov)
    if not keep.any():
        return None
    rows = rows.take(keep)

    obj, range_km = rows.index, rows.range_km
    rates = np.stack([prediction.ra_rate_deg_s[obj], prediction.dec_rate_deg_s[obj]], axis=-1)
    east, north, unit = tangent_basis(rows.ra_deg, rows.dec_deg)
    motion = _motion_3d(east, north, rates)
    # The object's own motion as seen from the sensor held still: the apparent relative
    # velocity plus the sensor's velocity.
    velocity = (
        np.asarray(prediction.range_rate_km_s)[obj, None] * unit
        + range_km[:, None] * motion
        + observer_velocity
    )
    path = angular_velocity(unit, velocity, range_km)
    path_speed = np.degrees(np.linalg.norm(path, axis=-1))
    slow = path_speed < s.slow_rate_deg_s
    # Time window of a fast object: the gate on its along-track offset, expressed in seconds;
    # its positional gate is then across the path only.
    across_deg = rows.priors.position_sigma_deg(range_km)
    window_s = np.where(
        slow,
        0.0,
        np.minimum(
            s.max_window_s,
            s.gate_sigma
            * np.sqrt(
                rows.priors.timing_s**2
                + (across_deg**2 + worst_track_var) / np.maximum(path_speed, s.slow_rate_deg_s) ** 2
            ),
        ),
    )
    position_gate_deg = np.where(
        slow,
        rows.position_gate_deg,
        s.gate_sigma * np.sqrt(across_deg**2 + worst_track_var),
    )
    reach_deg = s.coarse_path_factor * path_speed * window_s + position_gate_deg
    return ObjectStates(
        index=prediction.index[obj],
        unit=unit,
        motion=motion,
        path=path,
        speed_deg_s=rows.speed_deg_s,
        range_km=range_km,
        age_days=rows.age_days,
        slow=slow,
        window_s=window_s,
        reach_deg=reach_deg,
        position_gate_deg=position_gate_deg,
        priors=rows.priors,
        mean_motion_rad_s=mean_motion_rad_s[obj],
    )


def _within_reach(
    rows: _Usable,
    prediction: SkyPrediction,
    observer_velocity: Array,
    sensor: Sensor,
    s: CorrelationSettings,
    fov: FieldOfView | None,
) -> NDArray[np.bool_]:
    """Objects that can reach the sky above a ground site, and the field of view if there is
    one, within the longest window.

    An object's speed along its own path differs from the apparent one by at most the sensor's
    speed over the range.
    """
    path_speed_bound = rows.speed_deg_s + np.degrees(
        np.linalg.norm(observer_velocity) / rows.range_km
    )
    longest_reach = (
        s.coarse_path_factor * path_speed_bound * s.max_window_s + rows.position_gate_deg
    )
    keep = np.ones(len(rows.index), dtype=bool)
    if not sensor.is_space_based:
        keep &= np.asarray(prediction.elevation_deg)[rows.index] > -np.minimum(longest_reach, 90.0)
    if fov is not None:
        centre = unit_from_radec(fov.ra_deg, fov.dec_deg)
        limit = np.minimum(s.fov_margin * fov.radius_deg + longest_reach, 180.0)
        sky = unit_from_radec(rows.ra_deg, rows.dec_deg)
        keep &= np.sum(sky * centre, -1) >= np.cos(np.radians(limit))
    return keep


def _motion_3d(east: Array, north: Array, rate_deg_s: Array) -> Array:
    """3-D angular velocity (rad/s) of lines of sight from their (xi, eta) rates."""
    return np.radians(rate_deg_s[..., :1] * east + rate_deg_s[..., 1:] * north)


def angular_velocity(unit: Array, velocity: Array, range_km: Array) -> Array:
    """Angular velocity (rad/s) of the lines of sight ``unit`` for relative velocities (km/s)
    at ranges (km): the velocity's part across the line of sight, over the range."""
    return (velocity - np.sum(velocity * unit, -1, keepdims=True) * unit) / range_km[:, None]
