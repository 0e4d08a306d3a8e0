"""Physical constants and unit conversions, one name per fact.

Every module takes these from here, so that a number such as the arc-seconds in a degree is
written once. Values are the defining or conventional ones (IAU, WGS84, SI).
"""

from __future__ import annotations

import math

__all__ = [
    "ARCSEC_PER_DEG",
    "ATMOSPHERE_KM",
    "DEG_PER_ARCSEC",
    "EARTH_J2",
    "EARTH_MU_KM3_S2",
    "EARTH_RADIUS_KM",
    "MOON_MU_KM3_S2",
    "SECONDS_PER_DAY",
    "SIDEREAL_RATE_RAD_S",
    "SPEED_OF_LIGHT_KM_S",
    "SUN_MU_KM3_S2",
    "SURFACE_GRAVITY_KM_S2",
    "UNIX_EPOCH_JD",
]

#: Arc-seconds in a degree, and its inverse.
ARCSEC_PER_DEG = 3600.0
DEG_PER_ARCSEC = 1.0 / ARCSEC_PER_DEG

#: Seconds in a (UTC or TT) day, and the Julian date of 1970-01-01T00:00:00 UTC.
SECONDS_PER_DAY = 86400.0
UNIX_EPOCH_JD = 2440587.5

#: Speed of light in vacuum (SI definition), km/s.
SPEED_OF_LIGHT_KM_S = 299_792.458
#: WGS84 equatorial radius, km.
EARTH_RADIUS_KM = 6378.137
#: Surface gravity rounded up (9.78-9.83 m/s^2 with latitude), km/s^2: no orbit's path bends
#: faster than this.
SURFACE_GRAVITY_KM_S2 = 9.82e-3
#: Lines of sight grazing the Earth below this height count as blocked, km.
ATMOSPHERE_KM = 100.0
#: Rate of Greenwich sidereal time, rad per SI second of UT1 (which UTC follows within 1e-8).
SIDEREAL_RATE_RAD_S = 2.0 * math.pi * 1.00273781191135448 / SECONDS_PER_DAY

#: The Earth's gravitational parameter GM (IERS Conventions 2010 and WGS84, atmosphere
#: included), km^3/s^2.
EARTH_MU_KM3_S2 = 398_600.4418
#: The Earth's dynamical form factor J2 = -sqrt(5) * C20 of EGM2008 (tide-free), for the
#: reference radius EARTH_RADIUS_KM (EGM2008's 6378.1363 km differs by 1e-7, which is nothing
#: beside J2's own effect).
EARTH_J2 = 1.08262668e-3
#: Gravitational parameters of the Moon and the Sun as in JPL DE421 (the ephemeris the
#: library ships), km^3/s^2.
MOON_MU_KM3_S2 = 4_902.800066
SUN_MU_KM3_S2 = 1.32712440041e11
