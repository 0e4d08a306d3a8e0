"""Geometry on the celestial sphere, vectorised over numpy arrays.

All functions broadcast over their array arguments. Angles are degrees unless a name says
otherwise. The gnomonic (tangent-plane) projection maps great circles to straight lines, which
is why the trackers filter in it: an object moving on a great circle moves on a line.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .types import Array

__all__ = [
    "angular_separation_deg",
    "gnomonic_from_radec",
    "radec_from_gnomonic",
    "radec_from_unit",
    "tangent_basis",
    "unit_from_radec",
    "radec_rates_from_vectors",
]


def unit_from_radec(ra_deg: ArrayLike, dec_deg: ArrayLike) -> Array:
    """Unit vectors, shape ``(..., 3)``, for right ascension and declination."""
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)], axis=-1)


def radec_from_unit(vectors: ArrayLike) -> tuple[Array, Array]:
    """Right ascension in [0, 360) and declination of vectors ``(..., 3)`` (any length)."""
    v = np.asarray(vectors, dtype=float)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def angular_separation_deg(
    ra1_deg: ArrayLike, dec1_deg: ArrayLike, ra2_deg: ArrayLike, dec2_deg: ArrayLike
) -> Array:
    """Great-circle separation, accurate at all angles (Vincenty's formula)."""
    ra1, dec1 = np.radians(ra1_deg), np.radians(dec1_deg)
    ra2, dec2 = np.radians(ra2_deg), np.radians(dec2_deg)
    d_ra = ra2 - ra1
    sin_d, cos_d = np.sin(d_ra), np.cos(d_ra)
    num = np.hypot(
        np.cos(dec2) * sin_d, np.cos(dec1) * np.sin(dec2) - np.sin(dec1) * np.cos(dec2) * cos_d
    )
    den = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * cos_d
    return np.degrees(np.arctan2(num, den))


def tangent_basis(ra_deg: ArrayLike, dec_deg: ArrayLike) -> tuple[Array, Array, Array]:
    """Orthonormal ``(east, north, centre)`` vectors ``(..., 3)`` at a point of the sky.

    ``east`` points towards increasing RA and ``north`` towards increasing Dec. At the poles
    east is taken along +y, so the basis stays defined.
    """
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    sin_ra, cos_ra = np.sin(ra), np.cos(ra)
    sin_dec, cos_dec = np.sin(dec), np.cos(dec)
    east = np.stack([-sin_ra, cos_ra, np.zeros_like(ra)], axis=-1)
    north = np.stack([-sin_dec * cos_ra, -sin_dec * sin_ra, cos_dec], axis=-1)
    centre = np.stack([cos_dec * cos_ra, cos_dec * sin_ra, sin_dec], axis=-1)
    return east, north, centre


def gnomonic_from_radec(
    ra_deg: ArrayLike, dec_deg: ArrayLike, ra0_deg: ArrayLike, dec0_deg: ArrayLike
) -> tuple[Array, Array]:
    """Project points onto the tangent plane at ``(ra0, dec0)``: ``(xi_deg, eta_deg)``.

    Plane coordinates are in degrees (radians of the unit-sphere tangent plane times
    180/pi), so near the centre they equal angular offsets. Points 90 degrees or more from
    the centre have no projection and come back as NaN.
    """
    east, north, centre = tangent_basis(ra0_deg, dec0_deg)
    v = unit_from_radec(ra_deg, dec_deg)
    depth = np.sum(v * centre, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(depth > 1e-12, np.degrees(1.0) / depth, np.nan)
    return np.sum(v * east, axis=-1) * scale, np.sum(v * north, axis=-1) * scale


def radec_from_gnomonic(
    xi_deg: ArrayLike, eta_deg: ArrayLike, ra0_deg: ArrayLike, dec0_deg: ArrayLike
) -> tuple[Array, Array]:
    """Inverse of :func:`gnomonic_from_radec`."""
    east, north, centre = tangent_basis(ra0_deg, dec0_deg)
    xi = np.radians(np.asarray(xi_deg, dtype=float))[..., None]
    eta = np.radians(np.asarray(eta_deg, dtype=float))[..., None]
    return radec_from_unit(centre + xi * east + eta * north)


def radec_rates_from_vectors(
    position: ArrayLike, velocity: ArrayLike
) -> tuple[Array, Array, Array, Array, Array]:
    """Direction and on-sky rates of a relative position and velocity ``(..., 3)``.

    Returns ``(ra_deg, dec_deg, ra_rate_deg_s, dec_rate_deg_s, range)``, where the rates are
    the great-circle rates ``dRA/dt cos(Dec)`` and ``dDec/dt`` (per second if the velocity is
    per second) and ``range`` is in the position's unit. On the celestial poles the east
    direction is taken along +y, as in :func:`tangent_basis`.
    """
    r = np.asarray(position, dtype=float)
    v = np.asarray(velocity, dtype=float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    rho_sq = x * x + y * y
    rho = np.sqrt(rho_sq)
    distance_sq = rho_sq + z * z
    distance = np.sqrt(distance_sq)
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arctan2(z, rho))
    # The transverse velocity over distance is the angular velocity of the line of sight;
    # written with the east/north basis expanded so no sine or cosine is needed.
    on_axis = rho == 0.0
    safe_rho = np.where(on_axis, 1.0, rho)
    ra_rate = np.where(on_axis, vy / distance, (x * vy - y * vx) / (safe_rho * distance))
    dec_rate = np.where(
        on_axis,
        -np.sign(z) * vx / distance,
        (rho_sq * vz - z * (x * vx + y * vy)) / (safe_rho * distance_sq),
    )
    return ra, dec, np.degrees(ra_rate), np.degrees(dec_rate), distance
