"""Where every catalogue object appears in a sensor's sky: RA/Dec, rates, range and flags.

The chain, vectorised over objects and times (no Python loop per object):

1. ``sgp4.api.SatrecArray.sgp4`` propagates every element set to every time at once, giving
   TEME position and velocity (km, km/s). Times are UTC Julian dates, as Skyfield uses for TLEs.
2. One TEME->GCRS rotation per time (Skyfield's :class:`skyfield.sgp4lib.TEME` frame: GMST1982
   and the IAU 2000A precession-nutation) is applied to all objects at once.
   The rotation changes slowly enough that the velocity is rotated with the same matrix, as
   Skyfield does.
3. The observer's GCRS state: a WGS84 ground site from :func:`skyfield.api.wgs84` (Earth
   rotation included in its velocity), or a space-based sensor's own TLE through steps 1-2.
4. Light time (``light_time=True``): the object is seen where it was at ``t - tau``. As in
   Skyfield's ``observe()``, the delay is counted in the barycentric frame, so the Earth's own
   motion during ``tau`` enters too: ``rho = r_obj(t) - r_obs(t) - (v_obj + v_earth) * tau``
   with ``tau = |rho| / c``, one fixed-point step from the geometric range (the linearised
   motion over at most 0.15 s is exact to millimetres). The resulting direction is the
   *astrometric* ICRS position (no aberration, no deflection), which is what an optical sensor
   reduced against an astrometric star catalogue measures, and what Skyfield's
   ``(earth + site).at(t).observe(earth + sat).radec()`` returns. With ``light_time=False``
   the result is the geometric direction of Skyfield's ``(sat - site).at(t).radec()``.
5. :func:`tracking.sky.radec_rates_from_vectors` turns the relative position and velocity
   into RA/Dec, great-circle rates and range.

Flags: ``valid`` (sgp4 returned no error, and the object is not the observer itself),
``sunlit`` (the line from the object to the Sun's centre misses the Earth, a sphere of
6378.137 km: the test Skyfield's ``is_sunlit`` makes), ``above_horizon`` (ground: geometric
elevation above ``min_elevation_deg`` over the WGS84 horizon, without refraction; space: the
line of sight clears the Earth plus a 100 km atmosphere).

For frame streams, :class:`GridPropagator` replaces step 1 by sgp4 at 30-second grid nodes and
Hermite interpolation in between (centimetre-level differences, several times cheaper per
frame). :class:`SkyPredictor` holds a catalogue with its propagator and answers the three
questions the correlator asks of a frame. See ``docs/catalogue.md`` for measured accuracy and
speed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray
from skyfield.api import wgs84
from skyfield.constants import ANGVEL
from skyfield.framelib import tirs
from skyfield.sgp4lib import TEME
from skyfield.toposlib import GeographicPosition

from .catalogue import Catalogue, element_set_from_tle
from .constants import (
    ATMOSPHERE_KM,
    EARTH_RADIUS_KM,
    SIDEREAL_RATE_RAD_S,
    SPEED_OF_LIGHT_KM_S,
)
from .element_error import orbit_classes
from .ephemeris import BucketCache, sun_and_earth_velocity
from .models import FieldOfView, Sensor
from .sky import angular_separation_deg, radec_rates_from_vectors
from .times import jd_from_unix, skyfield_time
from .types import Array, IntArray

__all__ = [
    "GridPropagator",
    "SkyPrediction",
    "SkyPredictor",
    "in_field_of_view",
    "observer_state_gcrs_km",
    "predict_sky",
    "sun_altitude_deg",
    "frame_rotations",
]

MIN_RANGE_KM = 1e-3  # closer than this to the observer, an object has no direction
BLOCK_OBJECT_TIMES = 120_000  # object-times per vectorised block: ~40 MB of temporaries
FRAME_BUCKET_S = 60.0  # precession-nutation is evaluated once per bucket (see frame_rotations)


@dataclass(frozen=True)
class SkyPrediction:
    """Predicted topocentric sky positions of catalogue objects for one sensor.

    Per-object arrays have shape ``(N,)`` for a scalar time and ``(N, T)`` for a 1-D array of
    ``T`` times. Angles are degrees, rates degrees per second (``ra_rate_deg_s`` is
    ``dRA/dt * cos(Dec)``), distances km. Where ``valid`` is False the numbers are NaN.
    """

    time_unix_s: NDArray[np.float64]  # () or (T,)
    index: NDArray[np.intp]  # (N,) indices into the catalogue
    norad_ids: NDArray[np.int64]  # (N,)
    ra_deg: Array
    dec_deg: Array
    ra_rate_deg_s: Array
    dec_rate_deg_s: Array
    range_km: Array
    range_rate_km_s: Array
    elevation_deg: Array  # above the WGS84 horizon; NaN for a space-based sensor
    sunlit: NDArray[np.bool_]
    above_horizon: NDArray[np.bool_]
    valid: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.index)

    def select(self, mask_or_index: ArrayLike) -> SkyPrediction:
        """The predictions of some objects (a boolean mask over N or indices into N)."""
        selector = np.asarray(mask_or_index)
        if selector.dtype == bool and selector.shape != (len(self),):
            raise ValueError(f"mask has shape {selector.shape}, expected ({len(self)},)")
        if (
            selector.dtype != bool
            and selector.size
            and not np.issubdtype(selector.dtype, np.integer)
        ):
            raise ValueError("select takes a boolean mask or integer indices")
        if selector.dtype != bool:
            selector = selector.astype(np.intp)
        changes = {
            f.name: getattr(self, f.name)[selector] for f in fields(self) if f.name != "time_unix_s"
        }
        return replace(self, **changes)

    def visible(self) -> NDArray[np.bool_]:
        """Valid, above the horizon (or clear of the Earth) and sunlit."""
        return self.valid & self.above_horizon & self.sunlit


# ------------------------------------------------------------------------- frames and sites


def _time_vector(time_unix_s: ArrayLike) -> tuple[Array, bool]:
    times = np.asarray(time_unix_s, dtype=float)
    if times.ndim > 1:
        raise ValueError(f"time_unix_s must be a scalar or 1-D, not shape {times.shape}")
    if times.size == 0:
        raise ValueError("time_unix_s is empty: give at least one time")
    if not np.all(np.isfinite(times)):
        raise ValueError("time_unix_s must be finite")
    return np.atleast_1d(times), times.ndim == 0


def _frame_rotations_at(centres_unix_s: Array) -> tuple[Array, Array, Array]:
    t = skyfield_time(centres_unix_s)
    teme_to_gcrs = np.moveaxis(TEME.rotation_at(t), -1, 0).transpose(0, 2, 1)
    gcrs_to_tirs = np.moveaxis(tirs.rotation_at(t), -1, 0)
    if t.ts.polar_motion_table is not None:
        polar = np.moveaxis(t.polar_motion_matrix(), -1, 0)
    else:  # the builtin timescale has no polar motion, as in Skyfield's own itrs frame
        polar = np.broadcast_to(np.eye(3), gcrs_to_tirs.shape)
    return teme_to_gcrs, gcrs_to_tirs, polar


_frame_cache = BucketCache(FRAME_BUCKET_S, _frame_rotations_at)


def frame_rotations(time_unix_s: ArrayLike) -> tuple[Array, Array]:
    """``(teme_to_gcrs, gcrs_to_itrs)`` rotation matrices, each ``time.shape + (3, 3)``.

    They are Skyfield's (``TEME.rotation_at`` transposed, ``itrs.rotation_at``), built once per
    60-second bucket, because evaluating IAU 2000A nutation costs about a millisecond per call.
    Within a bucket only the Earth's rotation matters: the ITRS matrix is turned by the sidereal
    rate times the offset from the bucket centre, while precession-nutation and the
    TEME-to-GCRS matrix move less than 1e-4 arcsec in 30 s, 1000 times below anything
    measurable here (the tests compare with Skyfield evaluated at each exact time).
    """
    (teme_to_gcrs, gcrs_to_tirs, polar), offset_s = _frame_cache(time_unix_s)
    angle = -SIDEREAL_RATE_RAD_S * offset_s  # rot_z(-gast) with gast advanced by the offset
    cos, sin = np.cos(angle), np.sin(angle)
    gcrs_to_itrs = np.empty_like(gcrs_to_tirs)
    for j in range(3):
        x, y, z = gcrs_to_tirs[..., 0, j], gcrs_to_tirs[..., 1, j], gcrs_to_tirs[..., 2, j]
        gcrs_to_itrs[..., 0, j] = cos * x - sin * y
        gcrs_to_itrs[..., 1, j] = sin * x + cos * y
        gcrs_to_itrs[..., 2, j] = z
    return teme_to_gcrs, polar @ gcrs_to_itrs


def _rotate(matrices: Array, vectors: Array) -> Array:
    """Apply one matrix per time, ``(T, 3, 3)``, to vectors ``(N, T, 3)``; return ``(3, N, T)``.

    The hot path works on component-first arrays: each component is a contiguous ``(N, T)``
    plane, so dot products and norms are sums of three planes rather than strided reductions.
    """
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.stack(
        [matrices[:, i, 0] * x + matrices[:, i, 1] * y + matrices[:, i, 2] * z for i in range(3)]
    )


def _dot(a: Array, b: Array) -> Array:
    """Dot product of component-first vectors ``(3, ...)``."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@lru_cache(maxsize=256)
def _ground_site(
    lat_deg: float, lon_deg: float, alt_m: float
) -> tuple[GeographicPosition, Array, Array, Array]:
    """A WGS84 site: Skyfield's object, ITRS position (km), velocity (km/s), zenith (unit)."""
    site = wgs84.latlon(lat_deg, lon_deg, elevation_m=alt_m)
    x, y, z = site.itrs_xyz.km
    velocity = ANGVEL * np.array([-y, x, 0.0])  # Skyfield's rotating-Earth velocity
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    zenith = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    return site, np.array([x, y, z]), velocity, zenith


def _site(sensor: Sensor) -> tuple[GeographicPosition, Array, Array, Array]:
    return _ground_site(float(sensor.lat_deg), float(sensor.lon_deg), float(sensor.alt_m or 0.0))


@lru_cache(maxsize=256)
def _sensor_satrec(line1: str, line2: str, sensor_id: str) -> Satrec:
    return element_set_from_tle("", line1, line2, where=f"sensor {sensor_id!r} tle").satrec


def _observer_state(
    sensor: Sensor, times: Array, teme_to_gcrs: Array, gcrs_to_itrs: Array
) -> tuple[Array, Array]:
    """Observer GCRS position and velocity, each ``(T, 3)`` km and km/s."""
    if sensor.tle is not None:
        satrec = _sensor_satrec(sensor.tle[0], sensor.tle[1], sensor.sensor_id)
        jd, fraction = jd_from_unix(times)
        error, r, v = satrec.sgp4_array(jd, fraction)
        if np.any(error):
            code = int(error[np.flatnonzero(error)[0]])
            raise ValueError(
                f"sensor {sensor.sensor_id!r}: sgp4 cannot propagate its tle: {SGP4_ERRORS[code]}"
            )
        return (_rotate(teme_to_gcrs, r[None])[:, 0].T, _rotate(teme_to_gcrs, v[None])[:, 0].T)
    _, position, velocity, _ = _site(sensor)
    # GCRS = transpose(gcrs_to_itrs) @ ITRS, for each time
    return gcrs_to_itrs.transpose(0, 2, 1) @ position, gcrs_to_itrs.transpose(0, 2, 1) @ velocity


def observer_state_gcrs_km(sensor: Sensor, time_unix_s: ArrayLike) -> tuple[Array, Array]:
    """The sensor's GCRS position (km) and velocity (km/s), each ``time.shape + (3,)``.

    A ground sensor is a WGS84 site turning with the Earth; a space-based sensor follows its
    own TLE through sgp4.
    """
    times, scalar = _time_vector(time_unix_s)
    position, velocity = _observer_state(sensor, times, *frame_rotations(times))
    return (position[0], velocity[0]) if scalar else (position, velocity)


def _ground_up_gcrs(sensor: Sensor, gcrs_to_itrs: Array) -> Array:
    """Local vertical (WGS84 ellipsoid normal) of a ground site in GCRS, ``(T, 3)``."""
    return gcrs_to_itrs.transpose(0, 2, 1) @ _site(sensor)[3]


# ------------------------------------------------------------------------------ prediction


def _satrec_array(catalogue: Catalogue, index: NDArray[np.intp] | None) -> SatrecArray | None:
    if index is None:
        return catalogue.satrec_array if len(catalogue) else None
    return SatrecArray([catalogue.satrecs[i] for i in index.tolist()]) if len(index) else None


def _resolve_index(catalogue: Catalogue, index: ArrayLike | None) -> NDArray[np.intp] | None:
    if index is None:
        return None
    selector = np.asarray(index)
    if selector.dtype == bool:
        if selector.shape != (len(catalogue),):
            raise ValueError(f"index mask has shape {selector.shape}, expected ({len(catalogue)},)")
        return np.flatnonzero(selector).astype(np.intp)
    if selector.size and not np.issubdtype(selector.dtype, np.integer):
        raise ValueError("index must be integer catalogue indices or a boolean mask")
    selector = selector.astype(np.intp).ravel()
    if selector.size and (selector.min() < 0 or selector.max() >= len(catalogue)):
        raise IndexError(f"index out of range for a catalogue of {len(catalogue)}")
    return selector


class GridPropagator:
    """sgp4 states of a catalogue on a time grid, interpolated in between.

    A stream of frames asks for catalogue objects at a new time every second or so, and sgp4
    is most of the cost of a prediction. This propagator calls sgp4 only at grid nodes
    ``k * step_s`` (Unix seconds), once per node and object, keeps the last ``max_nodes``
    nodes, and evaluates any time in between by cubic Hermite interpolation of the TEME
    position and velocity at the two surrounding nodes. The error bound is ``step^4/384``
    times the fourth derivative of the motion: with 30 s nodes the shipped catalogue differs
    from direct sgp4 by 3 cm (median) and 7 cm (99th percentile) in range, 6.7 m at worst (the
    MMS probes, eccentricity 0.83, near perigee), and by at most 0.03 arcsec for objects above
    a ground site's horizon. ``tests/tracking/test_predict.py`` checks it against direct sgp4
    over the whole catalogue.

    A node holds rows for the objects asked about so far: a request for some objects
    (``index`` given, as a sensor's candidates) propagates only the rows a node lacks. sgp4
    and the rotation work object by object, so an object's interpolated state is the same
    whether it was asked for alone or with the whole catalogue, whatever was asked before.
    An object is invalid if sgp4 fails at either node. The cache follows
    :attr:`Catalogue.revision`: an in-place update empties it. A request needing more than
    ``max_nodes`` nodes is direct sgp4 at its times. Not thread-safe: hold one per worker
    thread.
    """

    def __init__(self, catalogue: Catalogue, step_s: float = 30.0, max_nodes: int = 8) -> None:
        if not step_s > 0.0:
            raise ValueError(f"step_s must be positive, not {step_s}")
        if max_nodes < 2:
            raise ValueError(f"max_nodes must be at least 2, not {max_nodes}")
        self.catalogue = catalogue
        self.step_s = float(step_s)
        self.max_nodes = int(max_nodes)
        self._revision = catalogue.revision
        self._nodes: OrderedDict[int, _Node] = OrderedDict()

    def __len__(self) -> int:
        """Number of cached nodes."""
        return len(self._nodes)

    def _node_keys(self, times: Array) -> tuple[NDArray[np.int64], Array]:
        k = np.floor(times / self.step_s).astype(np.int64)
        return k, times / self.step_s - k  # node before each time, fraction of the step

    def _fill(self, keys: list[int], index: NDArray[np.intp] | None) -> None:
        """Make the nodes ``keys`` hold the rows at ``index`` (every row for None)."""
        n = len(self.catalogue)
        for key in keys:
            if key not in self._nodes:
                self._nodes[key] = _Node(
                    np.zeros(n, dtype=np.int32),
                    np.empty((3, n)),
                    np.empty((3, n)),
                    np.zeros(n, dtype=bool),
                )
        # One sgp4 call over the union of the rows any of the nodes lacks, at all of them.
        asked = np.arange(n) if index is None else index
        missing = [asked[~self._nodes[key].filled[asked]] for key in keys]
        rows = np.unique(np.concatenate(missing)) if any(len(m) for m in missing) else missing[0]
        if len(rows):
            array = (
                self.catalogue.satrec_array
                if len(rows) == n
                else SatrecArray([self.catalogue.satrecs[i] for i in rows.tolist()])
            )
            node_times = np.array(keys, dtype=float) * self.step_s
            error, r, v = _sgp4_gcrs(array, node_times)
            for j, key in enumerate(keys):
                node = self._nodes[key]
                node.error[rows] = error[:, j]
                node.r_km[:, rows] = r[:, :, j]
                node.v_km_s[:, rows] = v[:, :, j]
                node.filled[rows] = True
        for key in keys:
            self._nodes.move_to_end(key)
        while len(self._nodes) > self.max_nodes:
            self._nodes.popitem(last=False)

    def node_states(self, key: int) -> tuple[NDArray[np.int32], Array, Array]:
        """The whole catalogue at node ``key`` (time ``key * step_s``): ``(sgp4 error (N,),
        r_km (3, N), v_km_s (3, N))`` in the GCRS, exact sgp4. Read-only views."""
        if self.catalogue.revision != self._revision:
            self._nodes.clear()
            self._revision = self.catalogue.revision
        self._fill([int(key)], None)
        node = self._nodes[int(key)]
        return node.error, node.r_km, node.v_km_s

    def gcrs_states(
        self, times: ArrayLike, index: NDArray[np.intp] | None = None
    ) -> tuple[NDArray[np.int32], Array, Array]:
        """``(sgp4 error (n, T), r_km (3, n, T), v_km_s (3, n, T))`` in the GCRS.

        Component-first, like :func:`_sgp4_gcrs`, for all objects or the rows at ``index``.
        """
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if self.catalogue.revision != self._revision:
            self._nodes.clear()
            self._revision = self.catalogue.revision
        if len(self.catalogue) == 0 or (index is not None and len(index) == 0):
            return _sgp4_gcrs(None, times)
        before, fraction = self._node_keys(times)
        needed = np.unique(np.concatenate([before, before + 1])).tolist()
        if len(needed) > self.max_nodes:
            return _sgp4_gcrs(_satrec_array(self.catalogue, index), times)
        self._fill(needed, index)
        rows = slice(None) if index is None else index

        def gather(keys: NDArray[np.int64], part: str) -> np.ndarray:
            return np.stack(
                [getattr(self._nodes[key], part)[..., rows] for key in keys.tolist()], axis=-1
            )

        error = np.maximum(gather(before, "error"), gather(before + 1, "error"))
        r0, v0 = gather(before, "r_km"), gather(before, "v_km_s")
        r1, v1 = gather(before + 1, "r_km"), gather(before + 1, "v_km_s")
        s = fraction  # (T,), broadcast along the last axis
        h = self.step_s
        s2, s3 = s * s, s * s * s
        position = (
            (2 * s3 - 3 * s2 + 1) * r0
            + (s3 - 2 * s2 + s) * h * v0
            + (3 * s2 - 2 * s3) * r1
            + (s3 - s2) * h * v1
        )
        velocity = (
            (6 * s2 - 6 * s) * (r0 - r1) / h + (3 * s2 - 4 * s + 1) * v0 + (3 * s2 - 2 * s) * v1
        )
        return error, position, velocity


@dataclass
class _Node:
    """One grid node: sgp4 error code, GCRS position and velocity of every catalogue row, and
    which rows hold values yet."""

    error: NDArray[np.int32]  # (N,)
    r_km: Array  # (3, N)
    v_km_s: Array  # (3, N)
    filled: NDArray[np.bool_]  # (N,)


def _sgp4_gcrs(array: SatrecArray | None, times: Array) -> tuple[NDArray[np.int32], Array, Array]:
    """sgp4 over ``array`` x ``times``, rotated to the GCRS, component-first.

    Returns ``(error (n, T), r_km (3, n, T), v_km_s (3, n, T))``.
    """
    if array is None:
        return (
            np.zeros((0, len(times)), dtype=np.int32),
            np.zeros((3, 0, len(times))),
            np.zeros((3, 0, len(times))),
        )
    teme_to_gcrs, _ = frame_rotations(times)
    error, r_teme, v_teme = array.sgp4(*jd_from_unix(times))
    return error, _rotate(teme_to_gcrs, r_teme), _rotate(teme_to_gcrs, v_teme)


def _sunlit(position_km: Array, sun_km: Array) -> NDArray[np.bool_]:
    """Whether the segment from each position to the Sun misses the Earth.

    Component-first arrays: ``position_km`` ``(3, N, T)`` geocentric, ``sun_km`` ``(3, 1, T)``.
    """
    to_sun = sun_km - position_km
    to_sun /= np.sqrt(_dot(to_sun, to_sun))
    along = -_dot(position_km, to_sun)  # distance to the point nearest the geocentre
    miss2 = _dot(position_km, position_km) - along * along
    return ~((along > 0.0) & (miss2 < EARTH_RADIUS_KM**2))


def _clear_of_earth(observer_km: Array, line_km: Array) -> NDArray[np.bool_]:
    """Whether the segment from the observer along ``line_km`` stays above the atmosphere.

    Component-first arrays: ``observer_km`` ``(3, 1, T)``, ``line_km`` ``(3, N, T)``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.clip(-_dot(observer_km, line_km) / _dot(line_km, line_km), 0.0, 1.0)
    nearest = observer_km + u * line_km
    return _dot(nearest, nearest) > (EARTH_RADIUS_KM + ATMOSPHERE_KM) ** 2


def predict_sky(
    catalogue: Catalogue,
    sensor: Sensor,
    time_unix_s: ArrayLike,
    index: ArrayLike | None = None,
    *,
    light_time: bool = True,
    min_elevation_deg: float = 0.0,
    propagator: GridPropagator | None = None,
) -> SkyPrediction:
    """Predict every catalogue object (or those at ``index``) as seen by ``sensor``.

    ``time_unix_s`` is a scalar or a 1-D array; ``index`` integer indices or a boolean mask
    over the catalogue. See the module docstring for the frames, light time and flags.
    ``propagator``: a :class:`GridPropagator` of this catalogue, to interpolate cached sgp4
    states instead of calling sgp4 for every object at every time (frame streams).
    Long time arrays are processed in blocks of about ``BLOCK_OBJECT_TIMES`` object-times, which
    bounds the temporaries (a few hundred bytes per object-time) whatever the request.
    """
    times, scalar = _time_vector(time_unix_s)
    chosen = _resolve_index(catalogue, index)
    n = len(catalogue) if chosen is None else len(chosen)
    if propagator is not None:
        if propagator.catalogue is not catalogue:
            raise ValueError("propagator was built for a different catalogue")

        def propagate(block_times: Array) -> tuple[NDArray[np.int32], Array, Array]:
            return propagator.gcrs_states(block_times, chosen)
    else:
        array = _satrec_array(catalogue, chosen)

        def propagate(block_times: Array) -> tuple[NDArray[np.int32], Array, Array]:
            return _sgp4_gcrs(array, block_times)

    step = max(1, BLOCK_OBJECT_TIMES // max(n, 1))
    blocks = [
        _predict_block(propagate, sensor, times[k : k + step], light_time, min_elevation_deg)
        for k in range(0, len(times), step)
    ]
    columns = (
        blocks[0]
        if len(blocks) == 1
        else {name: np.concatenate([block[name] for block in blocks], axis=1) for name in blocks[0]}
    )
    if scalar:
        columns = {name: values[:, 0] for name, values in columns.items()}
    index_out = np.arange(n, dtype=np.intp) if chosen is None else chosen
    return SkyPrediction(
        time_unix_s=times[0] if scalar else times,
        index=index_out,
        norad_ids=catalogue.norad_ids[index_out],
        **columns,
    )


def _predict_block(
    propagate: Callable[[Array], tuple[NDArray[np.int32], Array, Array]],
    sensor: Sensor,
    times: Array,
    light_time: bool,
    min_elevation_deg: float,
) -> dict[str, np.ndarray]:
    """The per-object columns of :class:`SkyPrediction`, each ``(n, len(times))``.

    ``propagate(times)`` returns ``(sgp4 error (n, T), r_gcrs (3, n, T), v_gcrs (3, n, T))``.
    """
    to_gcrs, gcrs_to_itrs = frame_rotations(times)
    observer_km, observer_km_s = _observer_state(sensor, times, to_gcrs, gcrs_to_itrs)
    sun_km, earth_km_s = sun_and_earth_velocity(times)

    # Vectors are component-first, (3, N, T); per-time vectors are (3, 1, T).
    error, r_obj, v_obj = propagate(times)

    def per_time(vectors: Array) -> Array:
        return vectors.T[:, None, :]

    rel = r_obj - per_time(observer_km)
    rel_v = v_obj - per_time(observer_km_s)
    # sgp4 errors, and a space-based sensor's own element set (no direction), are invalid.
    valid = (error == 0) & (_dot(rel, rel) > MIN_RANGE_KM**2)
    for vectors in (r_obj, rel, rel_v):
        vectors[:, ~valid] = np.nan

    if light_time:
        drift = v_obj + per_time(earth_km_s)  # barycentric velocity of the object
        # One fixed-point step from the geometric delay: its error is tau * (range rate / c),
        # about a microsecond at GEO, i.e. nanometres of position.
        tau = np.sqrt(_dot(rel, rel)) / SPEED_OF_LIGHT_KM_S
        seen = rel - drift * tau
        tau = np.sqrt(_dot(seen, seen)) / SPEED_OF_LIGHT_KM_S
        seen = rel - drift * tau
        # d(tau)/dt = range rate / c scales the retarded velocity; it shifts LEO rates ~1e-5.
        tau_rate = _dot(seen, rel_v) / (tau * SPEED_OF_LIGHT_KM_S**2)
        seen_v = rel_v - drift * tau_rate
    else:
        seen, seen_v = rel, rel_v

    ra, dec, ra_rate, dec_rate, range_km = radec_rates_from_vectors(
        np.moveaxis(seen, 0, -1), np.moveaxis(seen_v, 0, -1)
    )
    range_rate = _dot(seen, seen_v) / range_km
    sunlit = _sunlit(r_obj, per_time(sun_km)) & valid

    if sensor.is_space_based:
        above = _clear_of_earth(per_time(observer_km), rel) & valid
        elevation = np.full(ra.shape, np.nan)
    else:
        # Geometric direction, as Skyfield's altaz(): the astrometric one is displaced up to
        # ~25 arcsec by the Earth's orbital motion, which a horizon test should not see.
        up = per_time(_ground_up_gcrs(sensor, gcrs_to_itrs))
        elevation = np.degrees(
            np.arcsin(np.clip(_dot(rel, up) / np.sqrt(_dot(rel, rel)), -1.0, 1.0))
        )
        above = (elevation > min_elevation_deg) & valid

    return {
        "ra_deg": ra,
        "dec_deg": dec,
        "ra_rate_deg_s": ra_rate,
        "dec_rate_deg_s": dec_rate,
        "range_km": range_km,
        "range_rate_km_s": range_rate,
        "elevation_deg": elevation,
        "sunlit": sunlit,
        "above_horizon": above,
        "valid": valid,
    }


def in_field_of_view(
    prediction: SkyPrediction, fov: FieldOfView, margin: float = 1.2
) -> NDArray[np.bool_]:
    """Objects within ``margin * fov.radius_deg`` of the field centre (False where invalid)."""
    separation = angular_separation_deg(
        prediction.ra_deg, prediction.dec_deg, fov.ra_deg, fov.dec_deg
    )
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(separation, nan=np.inf) <= margin * fov.radius_deg


def sun_altitude_deg(sensor: Sensor, time_unix_s: ArrayLike) -> Array:
    """Geometric altitude of the Sun's centre above a ground site's horizon (no refraction).

    Shape of ``time_unix_s``. Civil, nautical and astronomical twilight end at -6, -12, -18.
    A space-based sensor has no horizon: that raises ``ValueError``.
    """
    if sensor.is_space_based:
        raise ValueError(
            f"sensor {sensor.sensor_id!r} is space-based: sun altitude is only "
            f"defined for ground sites"
        )
    times, scalar = _time_vector(time_unix_s)
    teme_to_gcrs, gcrs_to_itrs = frame_rotations(times)
    observer_km, _ = _observer_state(sensor, times, teme_to_gcrs, gcrs_to_itrs)
    sun_km, _ = sun_and_earth_velocity(times)
    to_sun = sun_km - observer_km
    up = _ground_up_gcrs(sensor, gcrs_to_itrs)
    altitude = np.degrees(np.arcsin(np.sum(to_sun * up, axis=-1) / np.linalg.norm(to_sun, axis=-1)))
    return altitude[0] if scalar else altitude


class SkyPredictor:
    """One catalogue's predictions for any sensor: what the correlator asks of a frame.

    * :meth:`at`: the whole catalogue, or a sensor's candidates, at one time (the frame's).
    * :meth:`paths`: some objects on a grid of times (the along-track search of a frame).
    * :meth:`observer_state_gcrs_km`: the sensor's own GCRS state at some times.

    With ``grid_step_s`` (the default, for frame streams) the predictor owns a
    :class:`GridPropagator` with nodes that far apart, and :meth:`at` interpolates its
    cached sgp4 states; with ``grid_step_s=None`` every call is sgp4 at the exact times, as
    :func:`predict_sky` without a propagator. Either way a whole-catalogue prediction depends
    only on the time and the catalogue, never on what was asked before, and what the predictor
    keeps follows :attr:`Catalogue.revision`. Not thread-safe: hold one per worker thread.
    """

    def __init__(
        self, catalogue: Catalogue, *, grid_step_s: float | None = 30.0, max_nodes: int = 8
    ) -> None:
        self.catalogue = catalogue
        self.propagator = (
            None if grid_step_s is None else GridPropagator(catalogue, grid_step_s, max_nodes)
        )
        self._classes: tuple[int, tuple[IntArray, Array]] | None = None

    def prepare(self) -> None:
        """Build now what predictions of the current catalogue revision derive from it (its
        sgp4 array, epochs, orbit classes and mean motions), which the first frame after a
        change would otherwise build (~30 ms for the shipped catalogue)."""
        catalogue = self.catalogue
        if len(catalogue):
            catalogue.satrec_array, catalogue.epochs  # noqa: B018 (built on first use)
            self._per_revision()

    def orbit_classes(self) -> IntArray:
        """The orbit class code of every element set (:func:`~.element_error.orbit_classes`),
        computed once per catalogue revision."""
        return self._per_revision()[0]

    def mean_motion_rad_s(self) -> Array:
        """The mean motion of every element set, rad/s (once per catalogue revision)."""
        return self._per_revision()[1]

    def _per_revision(self) -> tuple[IntArray, Array]:
        revision = self.catalogue.revision
        if self._classes is None or self._classes[0] != revision:
            motion = np.array([s.no_kozai for s in self.catalogue.satrecs], dtype=float) / 60.0
            self._classes = (revision, (orbit_classes(self.catalogue), motion))
        return self._classes[1]

    def at(
        self, sensor: Sensor, time_unix_s: float, index: ArrayLike | None = None
    ) -> SkyPrediction:
        """The whole catalogue (or the objects at ``index``, as a sensor's candidates) as
        ``sensor`` sees it at one time: ``(N,)`` arrays. An object's prediction is the same
        whichever objects were asked for with it."""
        if np.ndim(time_unix_s) != 0:
            raise ValueError("at() predicts one time; use paths() for several")
        return predict_sky(self.catalogue, sensor, time_unix_s, index, propagator=self.propagator)

    def paths(self, sensor: Sensor, index: ArrayLike, times_unix_s: ArrayLike) -> SkyPrediction:
        """The objects at catalogue ``index`` at each of ``times_unix_s``: ``(n, T)`` arrays.

        Always sgp4 at the exact times: a few hundred objects over a window of minutes are
        cheaper to propagate directly than the whole catalogue at the grid nodes they span
        (see :class:`GridPropagator`).
        """
        return predict_sky(self.catalogue, sensor, times_unix_s, index=index)

    def observer_state_gcrs_km(self, sensor: Sensor, time_unix_s: ArrayLike) -> tuple[Array, Array]:
        """The sensor's GCRS position (km) and velocity (km/s): :func:`observer_state_gcrs_km`."""
        return observer_state_gcrs_km(sensor, time_unix_s)
