"""The planetary ephemeris (JPL DE421, shipped by skyfield-data) and the Sun for shadow tests.

Nothing here downloads: DE421 comes from the ``skyfield-data`` package and is opened once.

Predicting a whole catalogue needs, per frame time, the Sun's geocentric position (is an object
in the Earth's shadow?) and the Earth's barycentric velocity (the light-time correction of an
astrometric position, see :mod:`tracking.predict`). Evaluating DE421 through Skyfield costs about
1.5 ms per call, more than the rest of the per-time work, while both vectors change slowly: the
Sun moves 0.04 arcsec/s across the geocentric sky and the Earth's velocity changes by 0.4 m/s per
minute. :func:`sun_and_earth_velocity` therefore evaluates them at the centre of a 60-second
bucket and caches the result, which keeps the Sun direction within 1.2 arcsec (a few tens of
metres of shadow boundary at low orbit) and the light-time term within 0.1 mm.
"""

from __future__ import annotations

import threading
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skyfield.api import load_file
from skyfield.jpllib import SpiceKernel

from .times import timescale

__all__ = ["EPHEMERIS_FILE", "ephemeris", "sun_and_earth_velocity"]

EPHEMERIS_FILE = "de421.bsp"
SUN_BUCKET_S = 60.0
_CACHE_LIMIT = 8192


@lru_cache(maxsize=1)
def ephemeris() -> SpiceKernel:
    """JPL DE421 (1900-2050) from skyfield-data, loaded once and shared."""
    with warnings.catch_warnings():
        # skyfield-data warns that its bundled finals2000A.all has expired; orbitlink never
        # loads that file (see tracking.times), so the warning is noise here.
        warnings.simplefilter("ignore", RuntimeWarning)
        import skyfield_data

        folder = Path(skyfield_data.get_skyfield_data_path())
    path = folder / EPHEMERIS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{EPHEMERIS_FILE} not found in skyfield-data at {folder}")
    return load_file(str(path))


_cache: dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
_cache_lock = threading.Lock()


def _evaluate(buckets: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    eph = ephemeris()
    centres_s = (buckets.astype(float) + 0.5) * SUN_BUCKET_S
    days = np.floor(centres_s / 86400.0)
    t = timescale().utc(1970, 1, 1 + days, 0, 0, centres_s - days * 86400.0)
    earth = eph["earth"]
    sun_km = (eph["sun"] - earth).at(t).position.km  # (3, B)
    earth_velocity_km_s = earth.at(t).velocity.km_per_s  # (3, B)
    return sun_km.T, earth_velocity_km_s.T


def sun_and_earth_velocity(time_unix_s: ArrayLike
                           ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Geocentric Sun position (km, GCRS) and the Earth's barycentric velocity (km/s, ICRS).

    Both have shape ``time_unix_s.shape + (3,)``. Values come from DE421 at the centre of the
    60-second bucket holding each time (see the module docstring for the error this makes).
    """
    times = np.asarray(time_unix_s, dtype=float)
    if not np.all(np.isfinite(times)):
        raise ValueError("time_unix_s must be finite")
    if times.size == 0:
        return np.zeros(times.shape + (3,)), np.zeros(times.shape + (3,))
    keys = np.floor(times / SUN_BUCKET_S).astype(np.int64)
    unique, inverse = np.unique(keys.ravel(), return_inverse=True)
    with _cache_lock:
        missing = np.array([k for k in unique.tolist() if k not in _cache], dtype=np.int64)
        if missing.size:
            sun, vel = _evaluate(missing)
            if len(_cache) + missing.size > _CACHE_LIMIT:
                _cache.clear()
            for k, s, v in zip(missing.tolist(), sun, vel):
                _cache[k] = (s, v)
        sun_u = np.stack([_cache[k][0] for k in unique.tolist()])
        vel_u = np.stack([_cache[k][1] for k in unique.tolist()])
    shape = times.shape + (3,)
    return sun_u[inverse].reshape(shape), vel_u[inverse].reshape(shape)
