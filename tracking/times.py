"""Time conversions shared by the tracker, the catalogue and the simulator.

The trackers count time as float seconds since the Unix epoch (UTC, leap seconds ignored, as
POSIX does): differences between frames a few seconds apart are then exact to the microsecond.
Propagation needs Julian dates; :func:`timescale` gives Skyfield's builtin timescale, which
ships its own leap-second and Delta T tables, so nothing is downloaded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skyfield.api import Timescale, load
from skyfield.timelib import Time

from .constants import SECONDS_PER_DAY, UNIX_EPOCH_JD
from .models import parse_time

__all__ = ["datetime_from_unix", "jd_from_unix", "skyfield_time", "timescale", "unix_from_datetime"]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def timescale() -> Timescale:
    """Skyfield's builtin timescale (no download, no expiring IERS file)."""
    return load.timescale(builtin=True)


def unix_from_datetime(value: datetime | str) -> float:
    """Seconds since 1970-01-01T00:00:00Z."""
    return parse_time(value).timestamp()


def datetime_from_unix(seconds: float) -> datetime:
    """A UTC datetime, rounded to the microsecond."""
    return _UNIX_EPOCH + timedelta(microseconds=round(float(seconds) * 1e6))


def jd_from_unix(seconds: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """UTC Julian date split as ``(whole_day, fraction)`` for precision, as sgp4 takes it."""
    s = np.asarray(seconds, dtype=float)
    days = np.floor(s / SECONDS_PER_DAY)
    fraction = (s - days * SECONDS_PER_DAY) / SECONDS_PER_DAY
    return days + UNIX_EPOCH_JD, fraction


def skyfield_time(time_unix_s: ArrayLike) -> Time:
    """A Skyfield ``Time`` for Unix seconds (scalar or array), on the builtin timescale.

    The seconds are split into whole UTC days and seconds of day so that Skyfield looks up the
    leap-second count of the right date (POSIX seconds count no leap seconds; writing
    ``utc(1970, 1, 1, 0, 0, seconds)`` would apply 1970's count and be ~29 s off). The
    instant is the one :func:`jd_from_unix` hands to sgp4.
    """
    seconds = np.asarray(time_unix_s, dtype=float)
    days = np.floor(seconds / SECONDS_PER_DAY)
    return timescale().utc(1970, 1, 1 + days, 0, 0, seconds - days * SECONDS_PER_DAY)
