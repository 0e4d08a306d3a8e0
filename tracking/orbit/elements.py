"""Classical orbital elements from Cartesian states and back, vectorised over states.

The elements are osculating two-body elements of a geocentric state: semi-major axis ``a``
(negative for a hyperbola), eccentricity ``e``, inclination ``i``, right ascension of the
ascending node ``RAAN``, argument of perigee ``argp`` and mean anomaly ``M`` (the true anomaly
too). The reference plane is the frame's xy plane (the GCRS or TEME equator).

Where an angle is undefined the convention is the usual one, so that every state has
elements: for an equatorial orbit (``i`` below ``1e-10`` rad) the node is the x axis
(``RAAN = 0``); for a circular one (``e`` below ``1e-10``) perigee is at the node (``argp =
0``) and the anomalies are arguments of latitude. Near those limits the individual angles are
ill-conditioned even though the state is not: compare sums such as ``RAAN + argp + M`` there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..constants import EARTH_MU_KM3_S2
from ..types import Array

__all__ = [
    "KeplerElements",
    "eccentric_anomaly_from_mean",
    "elements_from_state",
    "mean_anomaly_from_true",
    "period_s",
    "state_from_elements",
    "true_anomaly_from_mean",
]

SINGULAR = 1e-10  # eccentricity, or sin(inclination), below which an angle is conventional


@dataclass(frozen=True)
class KeplerElements:
    """Osculating elements, each an array of the states' shape (angles in degrees, [0, 360))."""

    semi_major_axis_km: Array
    eccentricity: Array
    inclination_deg: Array
    raan_deg: Array
    arg_perigee_deg: Array
    mean_anomaly_deg: Array
    true_anomaly_deg: Array

    @property
    def perigee_radius_km(self) -> Array:
        return self.semi_major_axis_km * (1.0 - self.eccentricity)

    @property
    def apogee_radius_km(self) -> Array:
        """Infinite for an unbound orbit."""
        with np.errstate(invalid="ignore"):
            return np.where(
                self.eccentricity < 1.0,
                self.semi_major_axis_km * (1.0 + self.eccentricity),
                np.inf,
            )


def _dot(a: Array, b: Array) -> Array:
    return np.sum(a * b, axis=-1)


def _angle_deg(radians: Array) -> Array:
    return np.degrees(radians) % 360.0


def elements_from_state(
    position_km: ArrayLike, velocity_km_s: ArrayLike, mu_km3_s2: float = EARTH_MU_KM3_S2
) -> KeplerElements:
    """Elements of states ``(..., 3)`` (any inertial frame; the xy plane is the reference)."""
    r = np.asarray(position_km, dtype=float)
    v = np.asarray(velocity_km_s, dtype=float)
    r_norm = np.linalg.norm(r, axis=-1)
    h = np.cross(r, v)
    h_norm = np.linalg.norm(h, axis=-1)
    node = np.stack([-h[..., 1], h[..., 0], np.zeros_like(h[..., 0])], axis=-1)  # z x h
    node_norm = np.linalg.norm(node, axis=-1)
    e_vec = (
        (_dot(v, v) - mu_km3_s2 / r_norm)[..., None] * r - _dot(r, v)[..., None] * v
    ) / mu_km3_s2
    e = np.linalg.norm(e_vec, axis=-1)
    energy = 0.5 * _dot(v, v) - mu_km3_s2 / r_norm
    with np.errstate(divide="ignore"):
        a = -mu_km3_s2 / (2.0 * energy)
    inclination = np.arccos(np.clip(h[..., 2] / h_norm, -1.0, 1.0))

    equatorial = node_norm < SINGULAR * h_norm
    circular = e < SINGULAR
    # In-plane reference directions: the node (or the x axis), and 90 degrees on in the plane.
    x_axis = np.broadcast_to(np.array([1.0, 0.0, 0.0]), r.shape)
    safe_node = np.where(
        equatorial[..., None], x_axis, node / np.where(equatorial, 1.0, node_norm)[..., None]
    )
    h_unit = h / h_norm[..., None]
    # For a retrograde equatorial orbit the x axis still serves; the in-plane frame follows h.
    ahead = np.cross(h_unit, safe_node)
    raan = np.where(equatorial, 0.0, np.arctan2(node[..., 1], node[..., 0]))

    def in_plane_angle(vector: Array) -> Array:
        return np.arctan2(_dot(vector, ahead), _dot(vector, safe_node))

    perigee_angle = np.where(circular, 0.0, in_plane_angle(e_vec))  # argp
    latitude_angle = in_plane_angle(r)  # argument of latitude
    true_anomaly = latitude_angle - perigee_angle
    mean_anomaly = mean_anomaly_from_true(true_anomaly, e)
    return KeplerElements(
        semi_major_axis_km=a,
        eccentricity=e,
        inclination_deg=np.degrees(inclination),
        raan_deg=_angle_deg(raan),
        arg_perigee_deg=_angle_deg(perigee_angle),
        mean_anomaly_deg=_angle_deg(mean_anomaly),
        true_anomaly_deg=_angle_deg(true_anomaly),
    )


def mean_anomaly_from_true(true_anomaly_rad: ArrayLike, eccentricity: ArrayLike) -> Array:
    """Mean anomaly (rad) from the true anomaly: elliptic ``E - e sin E``, hyperbolic
    ``e sinh H - H``, parabolic Barker ``D + D^3 / 3``."""
    nu = np.asarray(true_anomaly_rad, dtype=float)
    e = np.asarray(eccentricity, dtype=float)
    half = 0.5 * nu
    with np.errstate(invalid="ignore", divide="ignore"):
        ell = np.sqrt(np.abs(1.0 - e) / (1.0 + e)) * np.tan(half)
        elliptic_e = 2.0 * np.arctan2(
            np.sqrt(np.abs(1.0 - e)) * np.sin(half), np.sqrt(1.0 + e) * np.cos(half)
        )
        elliptic = elliptic_e - e * np.sin(elliptic_e)
        hyperbolic_h = 2.0 * np.arctanh(np.clip(ell, -1.0 + 1e-16, 1.0 - 1e-16))
        hyperbolic = e * np.sinh(hyperbolic_h) - hyperbolic_h
        d = np.tan(half)
        parabolic = d + d**3 / 3.0
    return np.where(e < 1.0, elliptic, np.where(e > 1.0, hyperbolic, parabolic))


def eccentric_anomaly_from_mean(mean_anomaly_rad: ArrayLike, eccentricity: ArrayLike) -> Array:
    """Solve Kepler's equation ``M = E - e sin E`` (elliptic orbits) by Newton's method.

    Newton starts from ``M + e sin M`` for ``e <= 0.8`` and from ``pi`` beyond, a start
    from which it converges for every ``M`` and ``e < 1`` (Charles and Tatum 1998); iterations
    stop at 1e-14 rad. ``M`` is first reduced to ``[-pi, pi)``, and so is ``E``.
    """
    m = np.asarray(mean_anomaly_rad, dtype=float)
    e = np.asarray(eccentricity, dtype=float)
    if np.any((e < 0.0) | (e >= 1.0)):
        raise ValueError("eccentric_anomaly_from_mean needs 0 <= e < 1")
    m = np.remainder(m + np.pi, 2.0 * np.pi) - np.pi
    big = np.broadcast_to(e > 0.8, np.broadcast(m, e).shape)
    anomaly = np.where(big, np.pi * np.sign(m), m + e * np.sin(m))
    for _ in range(50):
        step = (anomaly - e * np.sin(anomaly) - m) / (1.0 - e * np.cos(anomaly))
        anomaly = anomaly - step
        if np.all(np.abs(step) < 1e-14):
            break
    return anomaly


def true_anomaly_from_mean(mean_anomaly_rad: ArrayLike, eccentricity: ArrayLike) -> Array:
    """True anomaly (rad, in (-pi, pi]) of an elliptic orbit."""
    e = np.asarray(eccentricity, dtype=float)
    anomaly = eccentric_anomaly_from_mean(mean_anomaly_rad, e)
    return 2.0 * np.arctan2(
        np.sqrt(1.0 + e) * np.sin(0.5 * anomaly), np.sqrt(1.0 - e) * np.cos(0.5 * anomaly)
    )


def state_from_elements(
    elements: KeplerElements, mu_km3_s2: float = EARTH_MU_KM3_S2
) -> tuple[Array, Array]:
    """Position (km) and velocity (km/s), ``(..., 3)``, of elliptic elements.

    The mean anomaly places the object; ``true_anomaly_deg`` is not read.
    """
    a = np.asarray(elements.semi_major_axis_km, dtype=float)
    e = np.asarray(elements.eccentricity, dtype=float)
    if np.any((a <= 0.0) | (e >= 1.0)):
        raise ValueError("state_from_elements takes elliptic elements (a > 0, e < 1)")
    inclination = np.radians(elements.inclination_deg)
    raan = np.radians(elements.raan_deg)
    argp = np.radians(elements.arg_perigee_deg)
    nu = true_anomaly_from_mean(np.radians(elements.mean_anomaly_deg), e)
    p = a * (1.0 - e * e)
    radius = p / (1.0 + e * np.cos(nu))
    speed = np.sqrt(mu_km3_s2 / p)
    # Perifocal position and velocity, then the 3-1-3 rotation (RAAN, i, argp).
    r_pqw = np.stack([radius * np.cos(nu), radius * np.sin(nu)], axis=-1)
    v_pqw = np.stack([-speed * np.sin(nu), speed * (e + np.cos(nu))], axis=-1)
    cos_o, sin_o = np.cos(raan), np.sin(raan)
    cos_w, sin_w = np.cos(argp), np.sin(argp)
    cos_i, sin_i = np.cos(inclination), np.sin(inclination)
    p_axis = np.stack(
        [
            cos_o * cos_w - sin_o * sin_w * cos_i,
            sin_o * cos_w + cos_o * sin_w * cos_i,
            sin_w * sin_i,
        ],
        axis=-1,
    )
    q_axis = np.stack(
        [
            -cos_o * sin_w - sin_o * cos_w * cos_i,
            -sin_o * sin_w + cos_o * cos_w * cos_i,
            cos_w * sin_i,
        ],
        axis=-1,
    )
    position = r_pqw[..., :1] * p_axis + r_pqw[..., 1:] * q_axis
    velocity = v_pqw[..., :1] * p_axis + v_pqw[..., 1:] * q_axis
    return position, velocity


def period_s(semi_major_axis_km: ArrayLike, mu_km3_s2: float = EARTH_MU_KM3_S2) -> Array:
    """Two-body orbital period; NaN for an unbound orbit (``a <= 0``)."""
    a = np.asarray(semi_major_axis_km, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(a > 0.0, 2.0 * np.pi * np.sqrt(np.abs(a) ** 3 / mu_km3_s2), np.nan)
