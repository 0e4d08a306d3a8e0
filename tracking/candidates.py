"""Per sensor, the catalogue objects a frame can need: its candidates over the next minute.

A frame of a sensor with a field of view searches only the catalogue objects that can be within
reach of that field (:func:`~.correlation.objects.object_states`: the field radius times
``fov_margin``, plus the distance an object can run along its path within the longest search
window, plus its positional gate) and, for the uncatalogued-object density, those within
``density_radius_deg`` of its tracks. :class:`CandidateCache` keeps, per sensor, a superset of
those objects valid for every frame between two look nodes (``look_step_s`` apart, 60 s by
default, on the predictor's grid): each node's whole-catalogue state is looked at once per
sensor, and a frame then predicts and searches only the candidates. The records do not
change: an object left out provably fails every test that would have kept it.

The bound, for an interval ``[t_k, t_k + h]`` between two nodes, from the exact sgp4 states at
both nodes: an object's relative speed changes by at most ``2 g h`` over the interval (gravity
on the object and, for a space-based sensor, on the sensor), so it is at most ``v`` (the larger
node speed plus that); its range is then at least ``rho = (rho_k + rho_{k+1} - v h) / 2``, and
the angle it moves at most ``v / rho`` per second. Its distance from the cap's centre at any
time of the interval is at least ``(a_k + a_{k+1} - (v / rho) h) / 2`` (``a`` at the nodes),
and its reach at most the reach of an object moving at ``v / rho`` at range ``rho`` with its
element-set sigmas at the larger of its ages at the two ends of the hour (sigmas grow with the
age's magnitude). An object whose ``rho`` is under
``close_range_km`` (a near pass, where the bound says little) is always a candidate, and so is
one sgp4 cannot propagate at either node.

The cache holds a cap (a centre and radius) covering the field with ``slew_deg`` to spare, so
a sensor that tracks or steps its pointing within that keeps its candidates; a frame whose
field or tracks fall outside the cap, whose tracks are less certain than the cap allowed, or
that comes in another interval, rebuilds them (one whole-catalogue look per new node).
A ground sensor's frame without a field of view has the sky above its horizon for its field
(the cap is centred on the local vertical); a space-based sensor's frame without one has no
cap: it searches the whole catalogue (``None``).

The cache is derived data, kept beside the predictor: not serialised with a sensor's state,
and a restored pipeline, starting with an empty cache, gives the same records.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .constants import SECONDS_PER_DAY, SURFACE_GRAVITY_KM_S2
from .correlation.error_model import element_priors
from .correlation.settings import CorrelationSettings
from .models import FieldOfView, Sensor
from .predict import (
    SkyPredictor,
    _dot,
    _ground_up_gcrs,
    _sgp4_gcrs,
    frame_rotations,
    observer_state_gcrs_km,
)
from .sky import unit_from_radec
from .types import Array, BoolArray, IntArray

__all__ = ["CandidateCache"]

# Angles the bound does not model: the light-time and Earth-motion displacement of the
# astrometric direction from the geometric one (under 0.01 deg), the grid's interpolation
# (centimetres), rounding.
_MARGIN_DEG = 0.05
# The light-time correction scales apparent rates by (1 + range rate / c), ~1e-5.
_RATE_MARGIN = 1e-3
# Track variances the cap allows at least, deg^2 (a minute of arc, one sigma).
_FLOOR_TRACK_VAR_DEG2 = (1.0 / 60.0) ** 2
# The field of a ground sensor's frame without one: every direction above its horizon.
_SKY_DEG = 90.0
# The element-set sigmas are bounded for an hour at a time (they change over days).
_SIGMA_SPAN_S = 3600.0


@dataclass(frozen=True)
class _NodeLook:
    """The whole catalogue from one sensor at one grid node (geometric, exact sgp4)."""

    unit: Array  # (N, 3) line of sight
    range_km: Array  # (N,)
    speed_km_s: Array  # (N,) relative speed
    valid: BoolArray  # (N,)
    observer_speed_km_s: float


@dataclass(frozen=True)
class _Cap:
    key: int  # look interval [key, key + 1]
    sensor: Sensor
    revision: int
    settings: CorrelationSettings
    centre: Array  # (3,)
    radius_deg: float
    track_var_deg2: float
    index: IntArray  # sorted catalogue indices


class CandidateCache:
    """One sensor's candidate objects (see the module docstring).

    ``look_step_s`` is the length of the intervals the candidates hold for (a multiple of the
    predictor's grid step: its nodes are where the whole catalogue is looked at);
    ``slew_deg`` how far the pointing may move within an interval before the candidates are
    rebuilt; ``close_range_km`` the range under which an object is always a candidate.
    """

    def __init__(
        self,
        predictor: SkyPredictor,
        *,
        look_step_s: float = 60.0,
        slew_deg: float = 2.0,
        close_range_km: float = 100.0,
    ) -> None:
        grid = predictor.propagator
        if grid is not None and not float(look_step_s / grid.step_s).is_integer():
            raise ValueError(
                f"look_step_s {look_step_s} must be a multiple of the grid step {grid.step_s}"
            )
        self.predictor = predictor
        self.look_step_s = float(look_step_s)
        self.slew_deg = float(slew_deg)
        self.close_range_km = float(close_range_km)
        self._looks: OrderedDict[tuple[int, int], _NodeLook] = OrderedDict()
        self._looks_for: tuple[str, CorrelationSettings] | None = None
        self._sigmas: tuple[tuple[int, int], Array, CorrelationSettings] | None = None
        self._cap: _Cap | None = None
        self.rebuilds = 0  # how often the candidates were rebuilt (for benchmarks)

    def index_for(
        self,
        sensor: Sensor,
        time_unix_s: float,
        fov: FieldOfView | None,
        track_unit: Array,
        track_var_deg2: float,
        settings: CorrelationSettings,
    ) -> IntArray | None:
        """The catalogue indices (sorted) a frame at ``time_unix_s`` with this field and these
        tracks (lines of sight ``(K, 3)``, largest position variance ``track_var_deg2``) can
        need; None for the whole catalogue (a space-based sensor's frame without a field of
        view)."""
        if fov is not None:
            centre = unit_from_radec(fov.ra_deg, fov.dec_deg)
            field_deg = settings.fov_margin * fov.radius_deg
        elif not sensor.is_space_based:
            # A ground sensor without a field sees at most its sky: the hemisphere above its
            # horizon (object_states keeps no object further below it than the object's reach).
            # The local vertical turns 0.25 deg a minute, well within the cap's slew.
            centre = _ground_up_gcrs(sensor, frame_rotations(np.array([time_unix_s]))[1])[0]
            field_deg = _SKY_DEG
        else:
            return None
        catalogue = self.predictor.catalogue
        key = int(np.floor(time_unix_s / self.look_step_s))
        cap = self._cap
        if (
            cap is not None
            and cap.key == key
            and cap.sensor == sensor
            and cap.revision == catalogue.revision
            and cap.settings == settings
            and track_var_deg2 <= cap.track_var_deg2
            and _separation_deg(cap.centre, centre[None])[0] + field_deg <= cap.radius_deg
            and _covers(cap.centre, cap.radius_deg, track_unit)
        ):
            return cap.index
        radius = field_deg + self.slew_deg
        if len(track_unit):
            radius = max(radius, float(_separation_deg(centre, track_unit).max()) + _MARGIN_DEG)
        var = max(2.0 * track_var_deg2, _FLOOR_TRACK_VAR_DEG2)
        index = self._select(sensor, key, centre, radius, var, settings)
        self._cap = _Cap(key, sensor, catalogue.revision, settings, centre, radius, var, index)
        self.rebuilds += 1
        return index

    def _select(
        self,
        sensor: Sensor,
        key: int,
        centre: Array,
        radius_deg: float,
        track_var_deg2: float,
        s: CorrelationSettings,
    ) -> IntArray:
        h = self.look_step_s
        a, b = self._look(sensor, key, s), self._look(sensor, key + 1, s)
        sigma_km2 = self._sigma_km2(key, s)
        speed = np.maximum(a.speed_km_s, b.speed_km_s) + 2.0 * SURFACE_GRAVITY_KM_S2 * h
        nearest_km = 0.5 * (a.range_km + b.range_km - speed * h)
        close = nearest_km < self.close_range_km
        nearest_km = np.maximum(nearest_km, self.close_range_km)
        turn_deg_s = np.degrees(speed / nearest_km) * (1.0 + _RATE_MARGIN)
        observer_km_s = max(a.observer_speed_km_s, b.observer_speed_km_s)
        observer_deg_s = np.degrees((observer_km_s + SURFACE_GRAVITY_KM_S2 * h) / nearest_km)
        gate_deg = s.gate_sigma * np.sqrt(
            np.degrees(1.0) ** 2 * sigma_km2 / nearest_km**2 + track_var_deg2
        )
        reach_deg = s.coarse_path_factor * (turn_deg_s + observer_deg_s) * s.max_window_s
        reach_deg = np.minimum(reach_deg + gate_deg, 180.0)
        # Far enough at every time of the interval: beyond the field's reach and the density
        # radius around every track.
        least_deg = 0.5 * (
            _separation_deg(centre, a.unit) + _separation_deg(centre, b.unit) - turn_deg_s * h
        )
        needed_deg = radius_deg + np.maximum(reach_deg, s.density_radius_deg) + _MARGIN_DEG
        keep = (least_deg <= needed_deg) | close | ~a.valid | ~b.valid
        return np.flatnonzero(keep).astype(np.intp)

    def _look(self, sensor: Sensor, key: int, s: CorrelationSettings) -> _NodeLook:
        owner = (sensor.model_dump_json(), s)
        catalogue = self.predictor.catalogue
        if self._looks_for != owner:
            self._looks.clear()
            self._looks_for = owner
        cached = self._looks.get((catalogue.revision, key))
        if cached is not None:
            return cached
        look = self._compute_look(sensor, key * self.look_step_s)
        self._looks[(catalogue.revision, key)] = look
        while len(self._looks) > 3:
            self._looks.popitem(last=False)
        return look

    def _sigma_km2(self, key: int, s: CorrelationSettings) -> Array:
        """Per object, the gate's squared element-set sigmas (km^2) at the largest age of the
        hour holding interval ``key``: sigmas grow with the age's magnitude, so the larger of
        the hour's two ends bounds every time within it."""
        catalogue = self.predictor.catalogue
        hour = int(np.floor(key * self.look_step_s / _SIGMA_SPAN_S))
        tag = (catalogue.revision, hour)
        if self._sigmas is not None and self._sigmas[0] == tag and self._sigmas[2] == s:
            return self._sigmas[1]
        classes = self.predictor.orbit_classes()
        total = np.zeros(len(catalogue))
        for end_s in (hour * _SIGMA_SPAN_S, (hour + 1) * _SIGMA_SPAN_S + self.look_step_s):
            priors = element_priors(s, classes, (end_s - catalogue.epoch_unix_s) / SECONDS_PER_DAY)
            total = np.maximum(
                total,
                priors.cross_track_km**2 + priors.in_track_km**2 + 2.0 * priors.radial_km**2,
            )
        self._sigmas = (tag, total, s)
        return total

    def _compute_look(self, sensor: Sensor, time_s: float) -> _NodeLook:
        predictor = self.predictor
        grid = predictor.propagator
        if grid is not None:
            error, r, v = grid.node_states(round(time_s / grid.step_s))
        else:
            error, r, v = _sgp4_gcrs(predictor.catalogue.satrec_array, np.array([time_s]))
            r, v, error = r[:, :, 0], v[:, :, 0], error[:, 0]
        observer_km, observer_km_s = observer_state_gcrs_km(sensor, time_s)
        rel = r - observer_km[:, None]
        rel_v = v - observer_km_s[:, None]
        range_km = np.sqrt(_dot(rel, rel))
        valid = (error == 0) & (range_km > 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = (rel / range_km).T
        unit[~valid] = np.array([1.0, 0.0, 0.0])
        return _NodeLook(
            unit=unit,
            range_km=np.where(valid, range_km, 0.0),
            speed_km_s=np.where(valid, np.sqrt(_dot(rel_v, rel_v)), 0.0),
            valid=valid,
            observer_speed_km_s=float(np.linalg.norm(observer_km_s)),
        )


def _separation_deg(centre: Array, units: Array) -> Array:
    """Angles (deg) from one unit vector to each of ``units`` ``(N, 3)``."""
    return np.degrees(np.arccos(np.clip(units @ centre, -1.0, 1.0)))


def _covers(centre: Array, radius_deg: float, units: Array) -> bool:
    return not len(units) or bool(_separation_deg(centre, units).max() <= radius_deg)
