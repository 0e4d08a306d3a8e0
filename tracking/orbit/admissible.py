"""Attributables and the admissible region of a too-short arc.

A short arc of angles pins down the direction of an object and its rate of motion (an
*attributable*: RA, Dec and their rates at one time) but barely its range ``rho`` and range
rate ``rho_dot``. Which ``(rho, rho_dot)`` are possible follows from physics alone (Milani et
al. 2004, Tommei, Milani and Rossi 2007, DeMars and Jah 2013): with the observer's geocentric
position ``q`` and velocity ``q_dot``,

    r = q + rho u,    r_dot = q_dot + rho_dot u + rho w,

where ``u`` is the line of sight and ``w = ra_rate e_east + dec_rate e_north`` its rate of
turning, and the orbit is bound (an Earth satellite) when the energy is negative:

    rho_dot^2 + 2 (q_dot . u) rho_dot + |w|^2 rho^2 + 2 (q_dot . w) rho + |q_dot|^2
        - 2 mu / |q + rho u| < 0,

a band of range rates around ``-q_dot . u`` for each range. The *admissible region* adds that
the object is above the atmosphere now and at perigee, and that its apogee is within
``max_apogee_km``. :func:`admissible_region` returns the band on a grid of ranges and samples
of the admissible orbits; each sample is a full GCRS state.

The arc's curvature says whether the arc can do more than this. :func:`attributable` fits
a quadratic in time to the angles (in the gnomonic plane at the middle observation) and
returns, with the attributable, the fitted angular acceleration and its significance
``curvature_snr``: the acceleration's length in units of its own uncertainty (its chi-square
with two degrees of freedom, square-rooted). An arc whose curvature is lost in the noise holds
no information on the range at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, model_validator

from ..constants import ARCSEC_PER_DEG, ATMOSPHERE_KM, EARTH_MU_KM3_S2, EARTH_RADIUS_KM
from ..settings import Settings
from ..sky import radec_from_unit, tangent_basis
from ..types import Array
from .angles import AngleObservations
from .elements import elements_from_state

__all__ = [
    "AdmissibleRegion",
    "AdmissibleSettings",
    "Attributable",
    "admissible_region",
    "attributable",
]

MAX_ATTRIBUTABLE_OFFSET_DEG = 60.0  # observations further from the middle one are left out


@dataclass(frozen=True)
class Attributable:
    """Direction and motion of the line of sight at ``epoch_unix_s``, fitted to a short arc.

    ``ra_rate_deg_s`` is ``dRA/dt cos Dec``, as everywhere in orbitlink. ``covariance`` is the
    4x4 covariance of ``(ra offset * cos Dec, dec, ra_rate, dec_rate)`` in deg^2, deg^2/s and
    deg^2/s^2 (the tangent-plane convention of track covariances); ``acceleration_deg_s2``
    the tangent-plane acceleration with its 2x2 ``acceleration_covariance``. The observer's
    GCRS state at the epoch is carried along (it is the state at the middle observation).
    """

    epoch_unix_s: float
    ra_deg: float
    dec_deg: float
    ra_rate_deg_s: float
    dec_rate_deg_s: float
    covariance: Array
    acceleration_deg_s2: Array
    acceleration_covariance: Array
    curvature_snr: float
    fit_rms_arcsec: float
    observer_gcrs_km: Array
    observer_velocity_km_s: Array
    n_observations: int
    arc_s: float

    @property
    def rate_deg_s(self) -> float:
        return float(np.hypot(self.ra_rate_deg_s, self.dec_rate_deg_s))


def attributable(observations: AngleObservations) -> Attributable:
    """Fit ``angle = a0 + a1 dt + a2 dt^2 / 2`` to each tangent-plane coordinate.

    The epoch is the observation nearest the middle of the arc (so the observer's state there
    is exact); observations more than ``MAX_ATTRIBUTABLE_OFFSET_DEG`` from it are left out.
    Needs three observations at least.
    """
    n = len(observations)
    if n < 3:
        raise ValueError(f"an attributable needs at least 3 observations, got {n}")
    times = observations.time_unix_s
    middle = int(np.argmin(np.abs(times - 0.5 * (times[0] + times[-1]))))
    east, north, centre = tangent_basis(observations.ra_deg[middle], observations.dec_deg[middle])
    los = observations.los_unit
    depth = los @ centre
    keep = depth > np.cos(np.radians(MAX_ATTRIBUTABLE_OFFSET_DEG))
    if keep.sum() < 3:
        raise ValueError("fewer than 3 observations lie near the middle of the arc")
    dt = times[keep] - times[middle]
    xi = np.degrees((los[keep] @ east) / depth[keep])
    eta = np.degrees((los[keep] @ north) / depth[keep])
    sigma_deg = observations.sigma_arcsec[keep] / ARCSEC_PER_DEG
    design = np.stack([np.ones_like(dt), dt, 0.5 * dt * dt], axis=1) / sigma_deg[:, None]
    normal = design.T @ design
    covariance3 = np.linalg.inv(normal)
    coefficients = covariance3 @ design.T @ (np.stack([xi, eta], axis=1) / sigma_deg[:, None])
    fitted = design @ coefficients * sigma_deg[:, None]
    residual = np.stack([xi, eta], axis=1) - fitted
    (xi0, eta0), (xi1, eta1), (xi2, eta2) = coefficients
    ra, dec = radec_from_unit(centre + np.radians(xi0) * east + np.radians(eta0) * north)
    # The same design matrix serves both coordinates, so they share one 3x3 covariance.
    covariance = np.zeros((4, 4))
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
        block = covariance3[i, j]
        covariance[2 * i, 2 * j] = covariance[2 * i + 1, 2 * j + 1] = block
    acceleration = np.array([xi2, eta2])
    acceleration_covariance = np.eye(2) * covariance3[2, 2]
    snr = float(np.sqrt(acceleration @ np.linalg.solve(acceleration_covariance, acceleration)))
    return Attributable(
        epoch_unix_s=float(times[middle]),
        ra_deg=float(ra),
        dec_deg=float(dec),
        ra_rate_deg_s=float(xi1),
        dec_rate_deg_s=float(eta1),
        covariance=covariance,
        acceleration_deg_s2=acceleration,
        acceleration_covariance=acceleration_covariance,
        curvature_snr=snr,
        fit_rms_arcsec=float(np.sqrt(np.mean(residual**2)) * ARCSEC_PER_DEG),
        observer_gcrs_km=observations.observer_gcrs_km[middle].copy(),
        observer_velocity_km_s=observations.observer_velocity_km_s[middle].copy(),
        n_observations=int(keep.sum()),
        arc_s=float(dt.max() - dt.min()),
    )


class AdmissibleSettings(Settings):
    """Which orbits count as admissible, and how finely the region is sampled."""

    min_perigee_height_km: float = Field(
        ATMOSPHERE_KM,
        ge=0.0,
        description="Perigee (and the object itself now) at least this high above the "
        "equatorial radius: lower orbits decay within days.",
    )
    max_apogee_km: float = Field(
        500_000.0,
        gt=0.0,
        description="Largest geocentric apogee radius, km: beyond the Moon's orbit an object is "
        "not an Earth satellite for long.",
    )
    min_range_km: float = Field(
        1.0, gt=0.0, description="Smallest range considered (a sensor in orbit has no horizon)."
    )
    range_samples: int = Field(
        120, ge=8, description="Ranges in the grid (spaced geometrically from the smallest)."
    )
    range_rate_samples: int = Field(
        40, ge=4, description="Range rates per range, spaced evenly across the bound band."
    )

    @model_validator(mode="after")
    def _apogee_above_perigee(self) -> AdmissibleSettings:
        if self.max_apogee_km <= EARTH_RADIUS_KM + self.min_perigee_height_km:
            raise ValueError("max_apogee_km must exceed the Earth's radius plus the perigee height")
        return self


@dataclass(frozen=True)
class AdmissibleRegion:
    """The orbits a too-short arc allows, in range and range rate from the sensor.

    ``range_km`` is the grid of ranges; ``range_rate_bounds_km_s`` ``(M, 2)`` the band of
    bound orbits at each (NaN where none is bound). ``sample_range_km`` and
    ``sample_range_rate_km_s`` are the grid points that are admissible (bound, perigee above
    the atmosphere, apogee within the limit), ``sample_states`` their GCRS states ``(K, 6)``
    at the attributable's epoch. ``range_interval_km`` and ``range_rate_interval_km_s`` are
    the extremes over the samples (NaN if there are none).
    """

    attributable: Attributable
    range_km: Array
    range_rate_bounds_km_s: Array
    sample_range_km: Array
    sample_range_rate_km_s: Array
    sample_states: Array

    @property
    def range_interval_km(self) -> tuple[float, float]:
        if len(self.sample_range_km) == 0:
            return (np.nan, np.nan)
        return float(self.sample_range_km.min()), float(self.sample_range_km.max())

    @property
    def range_rate_interval_km_s(self) -> tuple[float, float]:
        if len(self.sample_range_rate_km_s) == 0:
            return (np.nan, np.nan)
        return float(self.sample_range_rate_km_s.min()), float(self.sample_range_rate_km_s.max())

    def states(self, range_km: Array, range_rate_km_s: Array) -> Array:
        """GCRS states ``(..., 6)`` at the epoch for ranges and range rates (broadcast)."""
        return _states(self.attributable, np.asarray(range_km), np.asarray(range_rate_km_s))

    def describe(self) -> str:
        low, high = self.range_interval_km
        rate_low, rate_high = self.range_rate_interval_km_s
        if not len(self.sample_range_km):
            return "no admissible orbit"
        return (
            f"range {low:,.0f}-{high:,.0f} km, range rate {rate_low:+.2f} to {rate_high:+.2f} "
            f"km/s ({len(self.sample_range_km)} admissible samples)"
        )


def _line_of_sight(att: Attributable) -> tuple[Array, Array]:
    east, north, centre = tangent_basis(att.ra_deg, att.dec_deg)
    turning = np.radians(att.ra_rate_deg_s) * east + np.radians(att.dec_rate_deg_s) * north
    return centre, turning


def _states(att: Attributable, range_km: Array, range_rate_km_s: Array) -> Array:
    u, w = _line_of_sight(att)
    rho = np.asarray(range_km, dtype=float)[..., None]
    rho_dot = np.asarray(range_rate_km_s, dtype=float)[..., None]
    position = att.observer_gcrs_km + rho * u
    velocity = att.observer_velocity_km_s + rho_dot * u + rho * w
    position, velocity = np.broadcast_arrays(position, velocity)
    return np.concatenate([position, velocity], axis=-1)


def _energy_band(att: Attributable, rho: Array, mu: float) -> tuple[Array, Array]:
    """Centre and half-width of the bound band of range rates (half-width NaN if none)."""
    u, w = _line_of_sight(att)
    q, q_dot = att.observer_gcrs_km, att.observer_velocity_km_s
    w1 = q_dot @ u
    radius = np.linalg.norm(q + rho[:, None] * u, axis=1)
    f = (w @ w) * rho * rho + 2.0 * (q_dot @ w) * rho + q_dot @ q_dot - 2.0 * mu / radius
    discriminant = w1 * w1 - f
    with np.errstate(invalid="ignore"):
        half = np.where(discriminant > 0.0, np.sqrt(discriminant), np.nan)
    return np.full_like(rho, -w1), half


def admissible_region(
    att: Attributable,
    settings: AdmissibleSettings = AdmissibleSettings(),
    *,
    mu_km3_s2: float = EARTH_MU_KM3_S2,
) -> AdmissibleRegion:
    """The admissible region of an attributable, on a grid, with its admissible samples."""
    u, _ = _line_of_sight(att)
    q = att.observer_gcrs_km
    floor_km = EARTH_RADIUS_KM + settings.min_perigee_height_km
    # Nearest range above the atmosphere along the line of sight. From the ground, where the
    # line of sight leaves the atmosphere's sphere. From above it, any range: an object may
    # be between the camera and the atmosphere (a lower satellite seen from a higher one);
    # the samples inside the sphere are dropped below.
    along = q @ u
    inside = floor_km**2 - q @ q
    if inside > 0.0:
        rho_min = max(settings.min_range_km, -along + np.sqrt(along * along + inside))
    else:
        rho_min = settings.min_range_km
    # Farthest bound range: scan geometrically out to the apogee limit plus the observer.
    rho_cap = settings.max_apogee_km + np.linalg.norm(q)
    scan = np.geomspace(rho_min, rho_cap, 4000)
    _, half = _energy_band(att, scan, mu_km3_s2)
    bound = np.isfinite(half)
    if not bound.any():
        rho_grid = np.geomspace(rho_min, rho_cap, settings.range_samples)
        centre, half_grid = _energy_band(att, rho_grid, mu_km3_s2)
        empty = np.zeros(0)
        return AdmissibleRegion(
            att,
            rho_grid,
            np.stack([centre - half_grid, centre + half_grid], axis=1),
            empty,
            empty,
            np.zeros((0, 6)),
        )
    last = int(np.flatnonzero(bound)[-1])
    rho_max = scan[min(last + 1, len(scan) - 1)]
    rho_grid = np.geomspace(rho_min, rho_max, settings.range_samples)
    centre, half_grid = _energy_band(att, rho_grid, mu_km3_s2)
    bounds = np.stack([centre - half_grid, centre + half_grid], axis=1)
    # Samples strictly inside the band (the edges are parabolic orbits).
    fractions = (np.arange(settings.range_rate_samples) + 0.5) / settings.range_rate_samples
    rho_s = np.repeat(rho_grid, settings.range_rate_samples)
    rate_s = (bounds[:, :1] + (bounds[:, 1:] - bounds[:, :1]) * fractions[None, :]).ravel()
    finite = np.isfinite(rate_s)
    rho_s, rate_s = rho_s[finite], rate_s[finite]
    states = _states(att, rho_s, rate_s)
    elements = elements_from_state(states[:, :3], states[:, 3:], mu_km3_s2)
    radius = np.linalg.norm(states[:, :3], axis=1)
    with np.errstate(invalid="ignore"):
        ok = (
            (elements.eccentricity < 1.0)
            & (elements.perigee_radius_km >= floor_km)
            & (elements.apogee_radius_km <= settings.max_apogee_km)
            & (radius >= floor_km)
        )
    return AdmissibleRegion(att, rho_grid, bounds, rho_s[ok], rate_s[ok], states[ok])
