"""The planetary ephemeris (JPL DE421, shipped by skyfield-data) and the Sun for shadow tests.

Nothing here downloads: DE421 comes from the ``skyfield-data`` package and is opened once.

Predicting a whole catalogue needs, per frame time, the Sun's geocentric position (is an object
in the Earth's shadow?) and the Earth's barycentric velocity (the light-time correction of an
astrometric position, see :mod:`tracking.predict`). Evaluating DE421 through Skyfield costs about
1.5 ms per call, more than the rest of the per-time work, while both vectors change slowly: the
Sun moves 0.04 arcsec/s across the geocentric sky and the Earth's velocity changes by 0.36 m/s per
minute. :func:`sun_and_earth_velocity` therefore evaluates them at the centre of a 60-second
bucket and caches the result, which keeps the Sun direction within 1.2 arcsec (a few tens of
metres of shadow boundary at low orbit) and the light-time term within 2 cm at GEO range
(1e-4 arcsec).
"""

from __future__ import annotations

import math
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skyfield.api import load_file
from skyfield.jpllib import SpiceKernel

from .times import skyfield_time

__all__ = ["BucketCache", "EPHEMERIS_FILE", "ephemeris", "sun_and_earth_velocity"]

EPHEMERIS_FILE = "de421.bsp"
SUN_BUCKET_S = 60.0


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


class BucketCache:
    """Slowly varying per-time quantities, evaluated once per time bucket and cached.

    ``evaluate(centres_unix_s)`` takes the centres of ``K`` buckets and returns a tuple of
    arrays whose first axis is ``K``. Calling the cache with times of any shape returns the
    same tuple gathered per time (shape ``times.shape + value shape``) and the offsets of the
    times from their bucket centres, in seconds. Thread-safe; bounded to ``limit`` buckets.
    """

    def __init__(self, bucket_s: float, evaluate, limit: int = 8192) -> None:
        self.bucket_s = float(bucket_s)
        self._evaluate = evaluate
        self._limit = limit
        self._values: dict[int, tuple[np.ndarray, ...]] = {}
        self._lock = threading.Lock()

    def __call__(self, time_unix_s: ArrayLike) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        times = np.asarray(time_unix_s, dtype=float)
        if times.size == 1:  # one time (a frame's): the same gather without the unique
            return self._one(times)
        if times.size == 0 or not np.all(np.isfinite(times)):
            raise ValueError("time_unix_s must be finite and not empty")
        keys = np.floor(times / self.bucket_s).astype(np.int64)
        unique, inverse = np.unique(keys.ravel(), return_inverse=True)
        with self._lock:
            missing = [k for k in unique.tolist() if k not in self._values]
            if missing:
                centres = (np.array(missing, dtype=float) + 0.5) * self.bucket_s
                values = self._evaluate(centres)
                if len(self._values) + len(missing) > self._limit:
                    self._values.clear()
                for j, key in enumerate(missing):
                    self._values[key] = tuple(value[j] for value in values)
            rows = [self._values[k] for k in unique.tolist()]
        gathered = tuple(
            np.stack(column)[inverse].reshape(times.shape + column[0].shape)
            for column in zip(*rows)
        )
        return gathered, times - (keys + 0.5) * self.bucket_s

    def _one(self, times: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        t = float(times.reshape(()))
        if not math.isfinite(t):
            raise ValueError("time_unix_s must be finite and not empty")
        key = math.floor(t / self.bucket_s)
        with self._lock:
            row = self._values.get(key)
            if row is None:
                values = self._evaluate(np.array([(key + 0.5) * self.bucket_s]))
                if len(self._values) + 1 > self._limit:
                    self._values.clear()
                row = self._values[key] = tuple(value[0] for value in values)
        gathered = tuple(value.reshape(times.shape + value.shape).copy() for value in row)
        return gathered, times - (key + 0.5) * self.bucket_s


def _sun_and_earth_velocity_at(
    centres_unix_s: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    eph = ephemeris()
    t = skyfield_time(centres_unix_s)
    earth = eph["earth"]
    sun_km = (eph["sun"] - earth).at(t).position.km  # (3, K)
    earth_velocity_km_s = earth.at(t).velocity.km_per_s  # (3, K)
    return sun_km.T, earth_velocity_km_s.T


_sun_cache = BucketCache(SUN_BUCKET_S, _sun_and_earth_velocity_at)


def sun_and_earth_velocity(
    time_unix_s: ArrayLike,
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
    (sun_km, earth_velocity_km_s), _ = _sun_cache(times)
    return sun_km, earth_velocity_km_s
