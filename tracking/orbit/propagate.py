"""Propagation of geocentric states: two-body (universal variables) and numerical J2, Sun, Moon.

Two-body motion is solved in closed form with the universal anomaly ``chi`` (Battin; Vallado,
Algorithm 8; Curtis, Algorithm 3.3), which serves ellipses, parabolas and hyperbolas alike:

    sqrt(mu) dt = r0 vr0 / sqrt(mu) chi^2 C(z) + (1 - alpha r0) chi^3 S(z) + r0 chi,
    z = alpha chi^2, alpha = 1 / a,

with the Stumpff functions ``C`` and ``S``. The equation is solved by the Laguerre-Conway
iteration (Conway 1986), which converges from any start, vectorised over every state and time
at once; an elliptic ``dt`` is first reduced modulo the period. The Lagrange coefficients
``f, g, fdot, gdot`` then give the state.

:func:`propagate` adds, by numerical integration (scipy's DOP853, one call for a whole stack of
states, so a Jacobian by finite differences costs one integration), the Earth's oblateness
(J2, about the Earth's true pole, not the GCRS z axis, which is 0.15 deg away in 2026) and
optionally the Sun and Moon as point masses (their tidal pull moves a GEO object by kilometres
in a day). The Sun and Moon come from DE421 at nodes every ``THIRD_BODY_STEP_S`` and a cubic
spline between them.

All states are GCRS (km, km/s); times are Unix seconds (UTC; a leap second inside an arc would
be a second of error, and none is scheduled).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline

from ..constants import (
    EARTH_J2,
    EARTH_MU_KM3_S2,
    EARTH_RADIUS_KM,
    MOON_MU_KM3_S2,
    SUN_MU_KM3_S2,
)
from ..ephemeris import ephemeris
from ..predict import frame_rotations
from ..times import skyfield_time
from ..types import Array

__all__ = [
    "DYNAMICS",
    "Dynamics",
    "LagrangeCoefficients",
    "earth_pole_gcrs",
    "kepler",
    "lagrange_coefficients",
    "propagate",
    "stumpff",
]

#: Force models: ``"two-body"`` (closed form), ``"j2"`` (two-body + J2), ``"j2-sun-moon"``.
Dynamics = Literal["two-body", "j2", "j2-sun-moon"]
DYNAMICS: tuple[str, ...] = ("two-body", "j2", "j2-sun-moon")

THIRD_BODY_STEP_S = 1800.0  # spline nodes of the Sun and Moon positions
RTOL = 1e-11  # DOP853 relative tolerance: ~0.1 mm at LEO over a day
ATOL_KM, ATOL_KM_S = 1e-7, 1e-10


def stumpff(z: ArrayLike) -> tuple[Array, Array]:
    """Stumpff functions ``C(z) = (1 - cos sqrt z) / z`` and ``S(z) = (sqrt z - sin sqrt z) /
    sqrt(z)^3``, continued to ``z <= 0``; near zero by their series (no cancellation)."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-3
    safe = np.where(small, 1.0, z)
    root = np.sqrt(np.abs(safe))
    with np.errstate(over="ignore", invalid="ignore"):
        c_pos = (1.0 - np.cos(root)) / safe
        s_pos = (root - np.sin(root)) / root**3
        c_neg = (np.cosh(root) - 1.0) / -safe
        s_neg = (np.sinh(root) - root) / root**3
    c_series = 1.0 / 2 - z / 24 + z * z / 720 - z**3 / 40320
    s_series = 1.0 / 6 - z / 120 + z * z / 5040 - z**3 / 362880
    c = np.where(small, c_series, np.where(z > 0, c_pos, c_neg))
    s = np.where(small, s_series, np.where(z > 0, s_pos, s_neg))
    return c, s


class LagrangeCoefficients(NamedTuple):
    """``f, g, fdot, gdot`` taking a state over ``dt``: ``r = f r0 + g v0``, ``v = fdot r0 +
    gdot v0``; ``chi`` the universal anomaly (km^0.5), ``radius_km`` the final radius."""

    f: Array
    g: Array
    fdot: Array
    gdot: Array
    chi: Array
    radius_km: Array


def lagrange_coefficients(
    position_km: ArrayLike,
    velocity_km_s: ArrayLike,
    dt_s: ArrayLike,
    mu_km3_s2: float = EARTH_MU_KM3_S2,
    *,
    max_iterations: int = 50,
) -> LagrangeCoefficients:
    """Two-body Lagrange coefficients of states ``(..., 3)`` over ``dt_s`` (broadcast with the
    states' leading shape). Raises ``ValueError`` for a state at the origin."""
    r0 = np.asarray(position_km, dtype=float)
    v0 = np.asarray(velocity_km_s, dtype=float)
    dt = np.asarray(dt_s, dtype=float)
    r0_norm = np.linalg.norm(r0, axis=-1)
    if np.any(r0_norm <= 0.0):
        raise ValueError("a state at the geocentre has no orbit")
    sqrt_mu = np.sqrt(mu_km3_s2)
    sigma0 = np.sum(r0 * v0, axis=-1) / sqrt_mu  # r0 . v0 / sqrt(mu)
    alpha = 2.0 / r0_norm - np.sum(v0 * v0, axis=-1) / mu_km3_s2
    shape = np.broadcast_shapes(r0_norm.shape, dt.shape)
    r0_norm, sigma0, alpha, dt = (np.broadcast_to(x, shape) for x in (r0_norm, sigma0, alpha, dt))

    # Reduce an elliptic dt to within half a period (the motion repeats).
    with np.errstate(invalid="ignore", divide="ignore"):
        period = np.where(alpha > 0.0, 2.0 * np.pi / (sqrt_mu * np.abs(alpha) ** 1.5), np.inf)
        turns = np.where(np.isfinite(period), np.round(dt / period), 0.0)
    dt_reduced = dt - turns * np.where(np.isfinite(period), period, 0.0)

    # Starting guesses (Vallado, Algorithm 8): elliptic sqrt(mu) alpha dt; hyperbolic from the
    # asymptotic form; near-parabolic sqrt(mu) dt / r0.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        chi = np.where(alpha > 1e-12, sqrt_mu * alpha * dt_reduced, sqrt_mu * dt_reduced / r0_norm)
        hyperbolic = alpha < -1e-12
        a_h = np.where(hyperbolic, 1.0 / np.where(hyperbolic, alpha, -1.0), -1.0)
        sign = np.sign(dt_reduced)
        argument = (-2.0 * mu_km3_s2 * alpha * dt_reduced) / (
            sigma0 * sqrt_mu + sign * np.sqrt(-mu_km3_s2 * a_h) * (1.0 - r0_norm * alpha)
        )
        chi_h = sign * np.sqrt(-a_h) * np.log(np.abs(argument))
        chi = np.where(hyperbolic & np.isfinite(chi_h) & (argument > 0), chi_h, chi)
    chi = np.where(dt_reduced == 0.0, 0.0, chi)

    one_minus = 1.0 - alpha * r0_norm
    target = sqrt_mu * dt_reduced
    for _ in range(max_iterations):
        z = alpha * chi * chi
        c, s = stumpff(z)
        chi2 = chi * chi
        value = sigma0 * chi2 * c + one_minus * chi2 * chi * s + r0_norm * chi - target
        slope = sigma0 * chi * (1.0 - z * s) + one_minus * chi2 * c + r0_norm  # = radius
        curvature = sigma0 * (1.0 - z * c) + one_minus * chi * (1.0 - z * s)
        root = np.sqrt(np.abs(16.0 * slope * slope - 20.0 * value * curvature))
        step = 5.0 * value / (slope + np.sign(slope) * root)
        chi = chi - step
        if np.all(np.abs(step) <= 1e-13 * np.maximum(np.abs(chi), 1.0)):
            break
    z = alpha * chi * chi
    c, s = stumpff(z)
    chi2 = chi * chi
    radius = sigma0 * chi * (1.0 - z * s) + one_minus * chi2 * c + r0_norm
    f = 1.0 - chi2 / r0_norm * c
    g = dt_reduced - chi2 * chi / sqrt_mu * s
    fdot = sqrt_mu / (radius * r0_norm) * chi * (z * s - 1.0)
    gdot = 1.0 - chi2 / radius * c
    return LagrangeCoefficients(f, g, fdot, gdot, chi, radius)


def kepler(
    position_km: ArrayLike,
    velocity_km_s: ArrayLike,
    dt_s: ArrayLike,
    mu_km3_s2: float = EARTH_MU_KM3_S2,
) -> tuple[Array, Array]:
    """Two-body states after ``dt_s``: ``(r, v)``, each ``broadcast(states, dt) + (3,)``.

    ``position_km``/``velocity_km_s`` are ``(..., 3)``; ``dt_s`` broadcasts against ``...``
    (for K states at T times pass ``r[:, None]`` and ``dt[None, :]``).
    """
    r0 = np.asarray(position_km, dtype=float)
    v0 = np.asarray(velocity_km_s, dtype=float)
    lc = lagrange_coefficients(r0, v0, dt_s, mu_km3_s2)
    r = lc.f[..., None] * r0 + lc.g[..., None] * v0
    v = lc.fdot[..., None] * r0 + lc.gdot[..., None] * v0
    return r, v


# ------------------------------------------------------------------------- numerical model


def earth_pole_gcrs(time_unix_s: float) -> Array:
    """The Earth's rotation axis (ITRS z) as a GCRS unit vector at a time."""
    _, gcrs_to_itrs = frame_rotations(np.array([float(time_unix_s)]))
    return gcrs_to_itrs[0, 2, :].copy()


@lru_cache(maxsize=16)
def _third_body_splines(start_s: float, stop_s: float) -> tuple[CubicSpline, CubicSpline]:
    """Geocentric GCRS Moon and Sun positions (km) between two times, as cubic splines."""
    count = max(4, int(np.ceil((stop_s - start_s) / THIRD_BODY_STEP_S)) + 1)
    nodes = np.linspace(start_s, start_s + (count - 1) * THIRD_BODY_STEP_S, count)
    eph = ephemeris()
    t = skyfield_time(nodes)
    earth = eph["earth"]
    moon_km = (eph["moon"] - earth).at(t).position.km.T
    sun_km = (eph["sun"] - earth).at(t).position.km.T
    return CubicSpline(nodes, moon_km, axis=0), CubicSpline(nodes, sun_km, axis=0)


def _acceleration_factory(dynamics: str, epoch_unix_s: float, span: tuple[float, float]):
    pole = earth_pole_gcrs(epoch_unix_s)
    j2_factor = 1.5 * EARTH_J2 * EARTH_MU_KM3_S2 * EARTH_RADIUS_KM**2
    splines = None
    if dynamics == "j2-sun-moon":
        # Nodes on a fixed grid (multiples of the step) so that fits of one arc share them.
        start = np.floor(min(span) / THIRD_BODY_STEP_S - 2.0) * THIRD_BODY_STEP_S
        stop = np.ceil(max(span) / THIRD_BODY_STEP_S + 2.0) * THIRD_BODY_STEP_S
        splines = _third_body_splines(float(start), float(stop))

    def acceleration(t_s: float, r: Array) -> Array:
        """``r`` is ``(K, 3)``; returns ``(K, 3)`` km/s^2."""
        r2 = np.einsum("ij,ij->i", r, r)
        r_norm = np.sqrt(r2)
        accel = -EARTH_MU_KM3_S2 * r / (r2 * r_norm)[:, None]
        z = r @ pole
        accel -= (j2_factor / (r2 * r2 * r_norm))[:, None] * (
            (1.0 - 5.0 * z * z / r2)[:, None] * r + 2.0 * z[:, None] * pole
        )
        if splines is not None:
            for spline, mu in zip(splines, (MOON_MU_KM3_S2, SUN_MU_KM3_S2)):
                body = spline(t_s)
                to_body = body - r
                d = np.linalg.norm(to_body, axis=1)
                accel += mu * (to_body / (d**3)[:, None] - body / np.linalg.norm(body) ** 3)
        return accel

    return acceleration


def propagate(
    position_km: ArrayLike,
    velocity_km_s: ArrayLike,
    epoch_unix_s: float,
    time_unix_s: ArrayLike,
    dynamics: Dynamics = "j2",
) -> tuple[Array, Array]:
    """States ``(K, 3)`` at ``epoch_unix_s`` carried to ``T`` times: ``(r, v)``, ``(K, T, 3)``.

    ``"two-body"`` is :func:`kepler`; the others integrate every state at once with DOP853
    (relative tolerance 1e-11), forwards and backwards from the epoch as the times require.
    A state that falls into the Earth comes back as NaN from then on rather than raising.
    """
    r0 = np.atleast_2d(np.asarray(position_km, dtype=float))
    v0 = np.atleast_2d(np.asarray(velocity_km_s, dtype=float))
    times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, not {dynamics!r}")
    if r0.shape != v0.shape or r0.shape[-1] != 3 or r0.ndim != 2:
        raise ValueError("position_km and velocity_km_s must both be (K, 3)")
    dt = times - float(epoch_unix_s)
    if dynamics == "two-body":
        return kepler(r0[:, None, :], v0[:, None, :], dt[None, :])

    k = len(r0)
    acceleration = _acceleration_factory(
        dynamics, float(epoch_unix_s), (float(epoch_unix_s), *times.tolist())
    )

    def rhs(t: float, y: Array) -> Array:
        state = y.reshape(k, 6)
        out = np.empty_like(state)
        out[:, :3] = state[:, 3:]
        out[:, 3:] = acceleration(float(epoch_unix_s) + t, state[:, :3])
        return out.ravel()

    def below_surface(t: float, y: Array) -> float:
        radii = np.linalg.norm(y.reshape(k, 6)[:, :3], axis=1)
        return float(radii.min() - 0.5 * EARTH_RADIUS_KM)

    below_surface.terminal = True  # type: ignore[attr-defined]
    atol = np.tile(np.r_[np.full(3, ATOL_KM), np.full(3, ATOL_KM_S)], k)
    y0 = np.concatenate([r0, v0], axis=1).ravel()
    out = np.full((k, len(times), 6), np.nan)
    for direction in (1.0, -1.0):
        chosen = np.flatnonzero(dt * direction > 0.0) if direction > 0 else np.flatnonzero(dt < 0)
        if direction > 0:
            out[:, dt == 0.0] = y0.reshape(k, 1, 6)
        if len(chosen) == 0:
            continue
        order = chosen[np.argsort(dt[chosen] * direction)]
        end = dt[order[-1]]
        solution = solve_ivp(
            rhs,
            (0.0, end),
            y0,
            method="DOP853",
            t_eval=dt[order],
            rtol=RTOL,
            atol=atol,
            events=below_surface,
        )
        reached = solution.y.shape[1]
        if reached:
            out[:, order[:reached]] = solution.y.T.reshape(reached, k, 6).transpose(1, 0, 2)
    return out[..., :3], out[..., 3:]
