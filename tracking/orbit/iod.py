"""Angles-only initial orbit determination from three lines of sight: Gauss's method.

Gauss's method (Curtis, Algorithms 5.5 and 5.6; Vallado, Algorithm 52) takes three
observation times, the three unit lines of sight from the sensor and the sensor's three
geocentric positions, and finds the slant ranges for which the three points lie on one
two-body orbit:

1. :func:`gauss` truncates the Lagrange coefficients ``f`` and ``g`` of the first and third
   times to their leading terms in ``mu / r2^3``. The middle radius ``r2`` is then a root of
   ``x^8 + a x^6 + b x^3 + c = 0``, which may have more than one positive root: every root
   with three positive ranges is a candidate. The velocity at the middle time comes from the
   same truncated ``f`` and ``g`` (Curtis's choice), or from the three positions by Gibbs's
   or Herrick-Gibbs's method (``velocity=``).
2. :func:`gauss_refined` iterates: with the current middle state it computes the exact ``f``
   and ``g`` (universal variables, :func:`~orbitlink.tracking.orbit.propagate.lagrange_
   coefficients`), solves the three ranges again and repeats until they stop changing. The
   fixed point is the two-body orbit that passes exactly through the three lines of sight.

Light time is not modelled here (the books do not): a range of ``rho`` puts the object
``rho / c`` earlier along its path, a few metres at LEO, well inside what three angles can
determine; the least-squares fit (:mod:`~orbitlink.tracking.orbit.fit`) models it.

Vectors are rows: ``los_unit`` and ``site_km`` are ``(3, 3)``, one observation per row, in
the same inertial frame (GCRS for everything else in orbitlink). Times are seconds on any
common origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ..constants import EARTH_MU_KM3_S2
from ..types import Array
from .propagate import lagrange_coefficients

__all__ = [
    "GaussSolution",
    "Velocity",
    "gauss",
    "gauss_refined",
    "gibbs",
    "herrick_gibbs",
]

Velocity = Literal["lagrange", "gibbs", "herrick-gibbs"]
MIN_RADIUS_KM = 1000.0  # roots of the octic below this are no orbit (the Earth is 6378 km)


@dataclass(frozen=True)
class GaussSolution:
    """An orbit through three lines of sight, as the state at the middle time.

    ``positions_km`` are the three geocentric positions ``(3, 3)``; ``ranges_km`` the slant
    ranges; ``time_s`` the middle time on the caller's origin. ``iterations`` is 0 for the
    plain Gauss answer; ``converged`` says whether the refinement met its tolerance.
    """

    time_s: float
    position_km: Array
    velocity_km_s: Array
    positions_km: Array
    ranges_km: Array
    iterations: int = 0
    converged: bool = True


def _check_inputs(
    times_s: ArrayLike, los_unit: ArrayLike, site_km: ArrayLike
) -> tuple[Array, Array, Array]:
    times = np.asarray(times_s, dtype=float)
    los = np.asarray(los_unit, dtype=float)
    sites = np.asarray(site_km, dtype=float)
    if times.shape != (3,) or los.shape != (3, 3) or sites.shape != (3, 3):
        raise ValueError("Gauss's method takes 3 times, (3, 3) lines of sight and (3, 3) sites")
    if not (times[0] < times[1] < times[2]):
        raise ValueError("the three times must increase")
    if not np.all(np.isfinite(los)) or not np.all(np.isfinite(sites)):
        raise ValueError("lines of sight and sites must be finite")
    return times, los / np.linalg.norm(los, axis=1, keepdims=True), sites


class _Geometry:
    """The determinants of Gauss's method (Curtis's ``D0`` and ``D_ij``)."""

    def __init__(self, los: Array, sites: Array) -> None:
        p = np.stack([np.cross(los[1], los[2]), np.cross(los[0], los[2]), np.cross(los[0], los[1])])
        self.d0 = float(los[0] @ p[0])
        self.d = sites @ p.T  # d[i, j] = R_i . p_j
        scale = np.abs(self.d).max()
        # Coplanar lines of sight leave the ranges undetermined; a relative 1e-14 is roundoff.
        if abs(self.d0) * np.linalg.norm(sites, axis=1).max() <= 1e-14 * scale:
            raise ValueError("the three lines of sight are coplanar: Gauss's method is singular")

    def ranges(self, c1: float, c3: float) -> Array:
        """Slant ranges from ``r2 = c1 r1 + c3 r3`` (``c1 = g3 / D``, ``c3 = -g1 / D``)."""
        d, d0 = self.d, self.d0
        return np.array(
            [
                (-d[0, 0] + d[1, 0] / c1 - d[2, 0] * c3 / c1) / d0,
                (-c1 * d[0, 1] + d[1, 1] - c3 * d[2, 1]) / d0,
                (-d[0, 2] * c1 / c3 + d[1, 2] / c3 - d[2, 2]) / d0,
            ]
        )


def gibbs(positions_km: ArrayLike, mu_km3_s2: float = EARTH_MU_KM3_S2) -> Array:
    """Velocity at the middle of three coplanar positions ``(3, 3)`` (Gibbs; Curtis,
    Algorithm 5.1). Poor when the positions are within a degree or so of each other."""
    r1, r2, r3 = np.asarray(positions_km, dtype=float)
    n1, n2, n3 = (np.linalg.norm(r) for r in (r1, r2, r3))
    c12, c23, c31 = np.cross(r1, r2), np.cross(r2, r3), np.cross(r3, r1)
    n = n1 * c23 + n2 * c31 + n3 * c12
    d = c12 + c23 + c31
    s = r1 * (n2 - n3) + r2 * (n3 - n1) + r3 * (n1 - n2)
    return np.sqrt(mu_km3_s2 / (np.linalg.norm(n) * np.linalg.norm(d))) * (np.cross(d, r2) / n2 + s)


def herrick_gibbs(
    times_s: ArrayLike, positions_km: ArrayLike, mu_km3_s2: float = EARTH_MU_KM3_S2
) -> Array:
    """Velocity at the middle of three closely spaced positions (Herrick-Gibbs; Vallado,
    Algorithm 55): a Taylor series good for arcs of a few degrees."""
    t1, t2, t3 = np.asarray(times_s, dtype=float)
    r1, r2, r3 = np.asarray(positions_km, dtype=float)
    dt21, dt31, dt32 = t2 - t1, t3 - t1, t3 - t2
    n1, n2, n3 = (np.linalg.norm(r) for r in (r1, r2, r3))
    return (
        -dt32 * (1.0 / (dt21 * dt31) + mu_km3_s2 / (12.0 * n1**3)) * r1
        + (dt32 - dt21) * (1.0 / (dt21 * dt32) + mu_km3_s2 / (12.0 * n2**3)) * r2
        + dt21 * (1.0 / (dt32 * dt31) + mu_km3_s2 / (12.0 * n3**3)) * r3
    )


def _middle_velocity(
    velocity: Velocity,
    times: Array,
    positions: Array,
    f1: float,
    g1: float,
    f3: float,
    g3: float,
    mu: float,
) -> Array:
    if velocity == "lagrange":
        return (-f3 * positions[0] + f1 * positions[2]) / (f1 * g3 - f3 * g1)
    if velocity == "gibbs":
        return gibbs(positions, mu)
    if velocity == "herrick-gibbs":
        return herrick_gibbs(times, positions, mu)
    raise ValueError(f"velocity must be 'lagrange', 'gibbs' or 'herrick-gibbs', not {velocity!r}")


def gauss(
    times_s: ArrayLike,
    los_unit: ArrayLike,
    site_km: ArrayLike,
    *,
    mu_km3_s2: float = EARTH_MU_KM3_S2,
    velocity: Velocity = "lagrange",
) -> tuple[GaussSolution, ...]:
    """Gauss's solutions, one per admissible root of the octic, in increasing ``r2``.

    A root is admissible if it is real, above ``MIN_RADIUS_KM`` and gives three positive
    slant ranges. An empty tuple means the three sightings fit no orbit this way; coplanar
    lines of sight raise ``ValueError``.
    """
    times, los, sites = _check_inputs(times_s, los_unit, site_km)
    geometry = _Geometry(los, sites)
    tau1, tau3 = times[0] - times[1], times[2] - times[1]
    tau = tau3 - tau1
    d, d0, mu = geometry.d, geometry.d0, mu_km3_s2
    a_term = (-d[0, 1] * tau3 / tau + d[1, 1] + d[2, 1] * tau1 / tau) / d0
    b_term = (
        d[0, 1] * (tau3 * tau3 - tau * tau) * tau3 / tau
        + d[2, 1] * (tau * tau - tau1 * tau1) * tau1 / tau
    ) / (6.0 * d0)
    e_term = float(sites[1] @ los[1])
    r2_site = float(sites[1] @ sites[1])
    a = -(a_term * a_term + 2.0 * a_term * e_term + r2_site)
    b = -2.0 * mu * b_term * (a_term + e_term)
    c = -((mu * b_term) ** 2)
    roots = np.roots([1.0, 0.0, a, 0.0, 0.0, b, 0.0, 0.0, c])
    real = roots[np.abs(roots.imag) <= 1e-9 * np.abs(roots)].real
    solutions = []
    for root in np.sort(real[real > MIN_RADIUS_KM]):
        # The truncated f and g series at the root (Curtis, Eqs. 5.99 and 5.100).
        u = mu / root**3
        f1, f3 = 1.0 - 0.5 * u * tau1 * tau1, 1.0 - 0.5 * u * tau3 * tau3
        g1, g3 = tau1 - u * tau1**3 / 6.0, tau3 - u * tau3**3 / 6.0
        c1 = tau3 / tau * (1.0 + u * (tau * tau - tau3 * tau3) / 6.0)
        c3 = -tau1 / tau * (1.0 + u * (tau * tau - tau1 * tau1) / 6.0)
        ranges = geometry.ranges(c1, c3)
        if not np.all(ranges > 0.0):
            continue
        positions = sites + ranges[:, None] * los
        v2 = _middle_velocity(velocity, times, positions, f1, g1, f3, g3, mu)
        solutions.append(GaussSolution(float(times[1]), positions[1].copy(), v2, positions, ranges))
    return tuple(solutions)


def gauss_refined(
    times_s: ArrayLike,
    los_unit: ArrayLike,
    site_km: ArrayLike,
    initial: GaussSolution,
    *,
    mu_km3_s2: float = EARTH_MU_KM3_S2,
    tolerance_km: float = 1e-8,
    max_iterations: int = 200,
    damping: float = 0.5,
) -> GaussSolution:
    """Iterate Gauss's solution with exact Lagrange coefficients (Curtis, Algorithm 5.6).

    Each step propagates the middle state to the outer times by universal variables, takes
    the exact ``f`` and ``g``, and solves the ranges again, until no range moves by more than
    ``tolerance_km``. ``damping`` blends the new ``f, g`` with the previous ones (Curtis takes
    one half): undamped, the iteration runs away on both textbook examples (Vallado 7-2,
    Curtis 5.12). The answer does not depend on it, only the number of steps.
    ``converged`` is False if ``max_iterations`` pass first, or the ranges turn negative.
    """
    times, los, sites = _check_inputs(times_s, los_unit, site_km)
    if not 0.0 <= damping < 1.0:
        raise ValueError("damping must be in [0, 1)")
    geometry = _Geometry(los, sites)
    tau = np.array([times[0] - times[1], times[2] - times[1]])
    r2, v2 = initial.position_km, initial.velocity_km_s
    ranges = initial.ranges_km
    fg = None
    for iteration in range(1, max_iterations + 1):
        lc = lagrange_coefficients(r2, v2, tau, mu_km3_s2)
        new = np.array([lc.f[0], lc.g[0], lc.f[1], lc.g[1]])
        fg = new if fg is None else damping * fg + (1.0 - damping) * new
        f1, g1, f3, g3 = fg
        det = f1 * g3 - f3 * g1
        new_ranges = geometry.ranges(g3 / det, -g1 / det)
        positions = sites + new_ranges[:, None] * los
        r2 = positions[1]
        v2 = (-f3 * positions[0] + f1 * positions[2]) / det
        change = np.abs(new_ranges - ranges).max()
        ranges = new_ranges
        if not np.all(ranges > 0.0) or not np.all(np.isfinite(ranges)):
            return GaussSolution(float(times[1]), r2, v2, positions, ranges, iteration, False)
        if change <= tolerance_km:
            return GaussSolution(float(times[1]), r2, v2, positions, ranges, iteration, True)
    return GaussSolution(float(times[1]), r2, v2, positions, ranges, max_iterations, False)
