"""Fast approximate motion of many orbits: two-body with the secular drift of J2.

The region search (:mod:`.region`) tries thousands of candidate orbits against a tracklet
hours or days later, several times over while it iterates, so it needs a propagator that is
closed-form and vectorised over every orbit and time, and accurate enough to land within a
few kilometres of where the orbit really goes (the final fits then use SGP4). Two-body
motion misses by far more than that over a day: J2 turns a low orbit's plane by degrees a day
and shifts its mean motion by a part in a thousand. Kozai's first-order secular rates fix
both:

    dRAAN/dt = -3/2 n J2 (R/p)^2 cos i,
    dargp/dt = 3/4 n J2 (R/p)^2 (5 cos^2 i - 1),
    dM/dt    = n (1 + 3/4 J2 (R/p)^2 sqrt(1 - e^2) (3 cos^2 i - 1)),

with the mean semi-major axis in the rates, not the osculating one: the two differ by up to
10 km in low orbit (J2's short-period term), which would put the phase a day later 10 degrees
off. (The orbit's shape keeps the osculating elements, so the state at the epoch is exact.) The
mean value comes from the energy, exactly to first order in J2: the osculating two-body energy
differs from the conserved one by the J2 potential ``dV`` at the object, so
``1/a_mean = 1/a_osc - 2 (dV - <dV>) / mu`` with ``<dV>`` its orbit average. Elements are
taken about the Earth's true pole (:func:`~orbitlink.tracking.orbit.propagate.earth_pole_gcrs`),
about which J2 turns the node.

Against sgp4 of real TLEs the result is 5-20 km off after six hours to two days (the other
elements' short-period terms, and drag), against 200-3,800 km for two-body motion.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from ..constants import EARTH_J2, EARTH_MU_KM3_S2, EARTH_RADIUS_KM
from ..orbit.elements import KeplerElements, elements_from_state, state_from_elements
from ..orbit.propagate import earth_pole_gcrs
from ..types import Array

__all__ = ["mean_semi_major_axis_km", "pole_frame", "secular_j2_states"]


@lru_cache(maxsize=256)
def pole_frame(time_unix_s: float) -> Array:
    """Rotation ``(3, 3)`` from the GCRS to a frame whose z axis is the Earth's true pole at
    a time (its x axis is any fixed choice: J2 turns the node about z)."""
    pole = earth_pole_gcrs(time_unix_s)
    x = np.cross([0.0, 1.0, 0.0], pole)
    x /= np.linalg.norm(x)
    y = np.cross(pole, x)
    return np.stack([x, y, pole])


def mean_semi_major_axis_km(position_km: Array, velocity_km_s: Array, z_unit: Array) -> Array:
    """Mean (Kozai) semi-major axis of osculating states ``(..., 3)``, first order in J2;
    ``z_unit`` is the Earth's pole in the states' frame. NaN for unbound states."""
    r = np.linalg.norm(position_km, axis=-1)
    v2 = np.sum(velocity_km_s * velocity_km_s, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_osc = 2.0 / r - v2 / EARTH_MU_KM3_S2
        a = 1.0 / inverse_osc
        h = np.cross(position_km, velocity_km_s)
        p = np.sum(h * h, axis=-1) / EARTH_MU_KM3_S2
        one_minus_e2 = np.clip(p / a, 1e-12, None)
        sin_lat = (position_km @ z_unit) / r
        cos_i = (h @ z_unit) / np.linalg.norm(h, axis=-1)
        sin2_i = 1.0 - cos_i * cos_i
        scale = 0.5 * EARTH_MU_KM3_S2 * EARTH_J2 * EARTH_RADIUS_KM**2
        here = scale * (3.0 * sin_lat * sin_lat - 1.0) / r**3
        average = scale * (1.5 * sin2_i - 1.0) / (a**3 * one_minus_e2**1.5)
        a_mean = 1.0 / (inverse_osc - 2.0 * (here - average) / EARTH_MU_KM3_S2)
    return np.where(inverse_osc > 0.0, a_mean, np.nan)


def secular_j2_states(
    states: ArrayLike, epoch_unix_s: float, time_unix_s: ArrayLike
) -> tuple[Array, Array]:
    """GCRS states ``(K, 6)`` at ``epoch_unix_s`` carried to ``T`` times: ``(r, v)``,
    ``(K, T, 3)``, by two-body motion with J2's secular drift (see the module docstring).
    Unbound states come back as NaN."""
    states = np.atleast_2d(np.asarray(states, dtype=float))
    times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
    rotation = pole_frame(epoch_unix_s)
    r = states[:, :3] @ rotation.T
    v = states[:, 3:] @ rotation.T
    z = np.array([0.0, 0.0, 1.0])
    osculating = elements_from_state(r, v)
    a = mean_semi_major_axis_km(r, v, z)
    bound = np.isfinite(a) & (a > 0.0) & (osculating.eccentricity < 1.0)
    a = np.where(bound, a, 1e5)
    a_shape = np.where(bound, osculating.semi_major_axis_km, 1e5)
    e = np.where(bound, osculating.eccentricity, 0.0)
    cos_i = np.cos(np.radians(osculating.inclination_deg))
    n = np.sqrt(EARTH_MU_KM3_S2 / a**3)
    k = EARTH_J2 * (EARTH_RADIUS_KM / (a * (1.0 - e * e))) ** 2
    raan_rate = -1.5 * n * k * cos_i
    argp_rate = 0.75 * n * k * (5.0 * cos_i * cos_i - 1.0)
    anomaly_rate = n * (1.0 + 0.75 * k * np.sqrt(1.0 - e * e) * (3.0 * cos_i * cos_i - 1.0))
    dt = (times - float(epoch_unix_s))[None, :]
    drifted = KeplerElements(
        semi_major_axis_km=a_shape[:, None] + 0.0 * dt,
        eccentricity=e[:, None] + 0.0 * dt,
        inclination_deg=osculating.inclination_deg[:, None] + 0.0 * dt,
        raan_deg=osculating.raan_deg[:, None] + np.degrees(raan_rate[:, None] * dt),
        arg_perigee_deg=osculating.arg_perigee_deg[:, None] + np.degrees(argp_rate[:, None] * dt),
        mean_anomaly_deg=osculating.mean_anomaly_deg[:, None]
        + np.degrees(anomaly_rate[:, None] * dt),
        true_anomaly_deg=np.zeros((len(a), len(times))),
    )
    position, velocity = state_from_elements(drifted)
    position = position @ rotation
    velocity = velocity @ rotation
    position[~bound] = np.nan
    velocity[~bound] = np.nan
    return position, velocity
