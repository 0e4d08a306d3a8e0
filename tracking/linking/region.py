"""Linking a too-short tracklet to a later one: a search of its admissible region.

A tracklet too short for an orbit still fixes four of the six numbers of its orbit (its
attributable: direction and rate of motion on the sky); range ``rho`` and range rate
``rho_dot`` are free within its admissible region (:mod:`~orbitlink.tracking.orbit.admissible`).
A later tracklet of the same object fixes them: :func:`region_candidates` finds every
``(rho, rho_dot)`` whose orbit, carried to the later tracklet's times, passes through its
observations.

The difficulty is the phase. Hours or days later, the object's position along its orbit
depends on its period so strongly that neighbouring samples of the region end up on opposite
sides of the Earth: a grid of the region never samples the solution finely enough to be
*tested* directly, and the solutions are several (one for each whole number of revolutions
the object may have made in between). So the region is used as a set of *starting points*
instead:

1. Seeds are spread over the region at ``seed_ranges`` ranges and, at each range, at mean
   motions spaced so that the phase reached at the later tracklet steps by ``phase_step_deg``
   (at each mean motion, two range rates: either side of the band's centre). Every solution
   then has a seed within a fraction of a revolution of it, inside its basin.
2. From every seed at once (one vectorised Levenberg-Marquardt), ``(rho, rho_dot)`` is
   adjusted until the orbit through the first tracklet's attributable fits the later
   tracklet's observations, the orbits carried by two-body motion with J2's secular drift
   (:mod:`.secular`, a few kilometres a day from the truth).
3. The distinct minima, ranked by their chi-square on the later tracklet, are the candidate
   orbits. Two parameters fit ``2 N`` angles, so a wrong pairing or a wrong number of
   revolutions usually shows as a misfit of the later tracklet's rate and curvature; the
   caller decides by fitting the best few to every observation of both tracklets with SGP4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ..constants import EARTH_MU_KM3_S2, EARTH_RADIUS_KM
from ..orbit.admissible import AdmissibleRegion, AdmissibleSettings
from ..orbit.angles import ARCSEC_PER_RAD, AngleObservations, predicted_directions
from ..orbit.elements import elements_from_state
from ..settings import Settings
from ..sky import tangent_basis
from ..types import Array
from .secular import secular_j2_states

__all__ = [
    "RegionCandidate",
    "RegionSearchSettings",
    "mean_motion_band_rad_s",
    "region_candidates",
    "region_seeds",
]


class RegionSearchSettings(Settings):
    """How the admissible region of a one-tracklet object is searched for a later tracklet."""

    seed_ranges: int = Field(
        40,
        ge=2,
        description="Ranges at which seeds are placed, from the region's nearest to its "
        "farthest, closer together near the nearest (as the 1.5th power).",
    )
    phase_step_deg: float = Field(
        45.0,
        gt=0.0,
        le=180.0,
        description="Largest step, in the phase reached at the later tracklet, between seeds "
        "of one range: every solution then has a seed within half of it.",
    )
    max_seeds: int = Field(
        20_000,
        ge=100,
        description="Most seeds per search; beyond it the phase step grows (long gaps of low "
        "orbits would need more).",
    )
    iterations: int = Field(20, ge=1, description="Levenberg-Marquardt iterations from every seed.")
    candidates: int = Field(
        4, ge=1, description="Distinct solutions handed on, the best by chi-square."
    )
    model_error_km: float = Field(
        20.0,
        ge=0.0,
        description="Position error of the search's dynamics at the later tracklet, added to "
        "its sigmas (as an angle at its range) when solutions are screened.",
    )
    model_error_km_per_day: float = Field(
        10.0, ge=0.0, description="Growth of model_error_km per day between the tracklets."
    )
    max_chi2_per_dof: float = Field(
        9.0,
        gt=0.0,
        description="Largest chi-square per degree of freedom of the later tracklet, with the "
        "model error, for a solution to count; the SGP4 fit that follows is the real test.",
    )


@dataclass(frozen=True)
class RegionCandidate:
    """An orbit through the first tracklet's attributable that fits the later tracklet.

    ``state`` is the GCRS state ``(6,)`` at the attributable's epoch ``epoch_unix_s``; ``chi2``
    and ``dof`` are the later tracklet's, under the search's approximate dynamics;
    ``revolutions`` how many the orbit makes between the two.
    """

    epoch_unix_s: float
    state: Array
    range_km: float
    range_rate_km_s: float
    chi2: float
    dof: int
    revolutions: float


def _line_of_sight(region: AdmissibleRegion) -> tuple[Array, Array]:
    att = region.attributable
    east, north, centre = tangent_basis(att.ra_deg, att.dec_deg)
    turning = np.radians(att.ra_rate_deg_s) * east + np.radians(att.dec_rate_deg_s) * north
    return centre, turning


def mean_motion_band_rad_s(
    region: AdmissibleRegion, region_settings: AdmissibleSettings = AdmissibleSettings()
) -> tuple[float, float]:
    """The smallest and largest mean motion of the region's orbits over its admissible
    ranges (NaN if it has none): the top is reached at the centre of the range-rate band,
    which the samples never quite touch, so it comes from the band itself."""
    low, high = region.range_interval_km
    if not np.isfinite(low):
        return (np.nan, np.nan)
    att = region.attributable
    u, w = _line_of_sight(region)
    q, q_dot = att.observer_gcrs_km, att.observer_velocity_km_s
    rho = np.geomspace(low, high, 200) if high > low else np.array([low])
    radius = np.linalg.norm(q + rho[:, None] * u, axis=1)
    v_min2 = np.sum((q_dot + rho[:, None] * w) ** 2, axis=1) - (q_dot @ u) ** 2
    inverse_a = 2.0 / radius - v_min2 / EARTH_MU_KM3_S2
    if not np.any(inverse_a > 0.0):
        return (np.nan, np.nan)
    n_high = float(np.sqrt(EARTH_MU_KM3_S2 * inverse_a[inverse_a > 0.0].max() ** 3))
    return float(np.sqrt(EARTH_MU_KM3_S2 / region_settings.max_apogee_km**3)), n_high


def _admissible(states: Array, settings: AdmissibleSettings) -> Array:
    elements = elements_from_state(states[:, :3], states[:, 3:])
    floor_km = EARTH_RADIUS_KM + settings.min_perigee_height_km
    with np.errstate(invalid="ignore"):
        return (
            (elements.eccentricity < 1.0)
            & (elements.perigee_radius_km >= floor_km)
            & (elements.apogee_radius_km <= settings.max_apogee_km)
            & (np.linalg.norm(states[:, :3], axis=1) >= floor_km)
        )


def region_seeds(
    region: AdmissibleRegion,
    gap_s: float,
    settings: RegionSearchSettings = RegionSearchSettings(),
    *,
    mean_motion_window_rad_s: tuple[float, float] | None = None,
    region_settings: AdmissibleSettings = AdmissibleSettings(),
) -> tuple[Array, Array]:
    """Seeds ``(rho, rho_dot)`` over the region for a tracklet ``gap_s`` later (step 1 of the
    module docstring), optionally only at mean motions within ``mean_motion_window_rad_s``."""
    low, high = region.range_interval_km
    if not np.isfinite(low):
        return np.zeros(0), np.zeros(0)
    att = region.attributable
    u, w = _line_of_sight(region)
    q, q_dot = att.observer_gcrs_km, att.observer_velocity_km_s
    rho = low + (high - low) * np.linspace(0.0, 1.0, settings.seed_ranges) ** 1.5
    radius = np.linalg.norm(q + rho[:, None] * u, axis=1)
    centre = -(q_dot @ u)
    v_min2 = np.sum((q_dot + rho[:, None] * w) ** 2, axis=1) - centre * centre
    inverse_a_top = 2.0 / radius - v_min2 / EARTH_MU_KM3_S2  # at the band's centre
    with np.errstate(invalid="ignore"):
        n_high = np.where(
            inverse_a_top > 0.0, np.sqrt(EARTH_MU_KM3_S2 * np.abs(inverse_a_top) ** 3), np.nan
        )
    n_low = np.full_like(rho, np.sqrt(EARTH_MU_KM3_S2 / region_settings.max_apogee_km**3))
    if mean_motion_window_rad_s is not None:
        n_low = np.maximum(n_low, mean_motion_window_rad_s[0])
        n_high = np.minimum(n_high, mean_motion_window_rad_s[1])
    usable = np.isfinite(n_high) & (n_high > n_low)
    span = np.where(usable, (n_high - n_low) * abs(gap_s), 0.0)
    step = np.radians(settings.phase_step_deg)
    counts = np.where(usable, np.ceil(span / step) + 1, 0)
    total = 2 * counts.sum()
    if total > settings.max_seeds:
        counts = np.where(usable, np.ceil(counts * settings.max_seeds / total), 0)
    rhos, rates = [], []
    for k in np.flatnonzero(usable):
        n = np.linspace(n_low[k], n_high[k], int(max(counts[k], 2)))
        inverse_a = (n * n / EARTH_MU_KM3_S2) ** (1.0 / 3.0)
        v2 = EARTH_MU_KM3_S2 * (2.0 / radius[k] - inverse_a)
        offset = np.sqrt(np.clip(v2 - v_min2[k], 0.0, None))
        rates += [centre - offset, centre + offset]
        rhos += [np.full(2 * len(n), rho[k])]
    if not rhos:
        return np.zeros(0), np.zeros(0)
    rho_s, rate_s = np.concatenate(rhos), np.concatenate(rates)
    keep = _admissible(region.states(rho_s, rate_s), region_settings)
    return rho_s[keep], rate_s[keep]


def _chord_residuals(
    region: AdmissibleRegion, target: AngleObservations, x: Array, weights: Array
) -> Array:
    """Weighted chord residuals ``(S, 3 N)`` of the target's directions for parameters
    ``x = (rho, rho_dot)`` ``(S, 2)``: smooth and bounded everywhere, unlike the gnomonic
    ones (a seed can start on the far side of the sky)."""
    att = region.attributable
    states = region.states(x[:, 0], x[:, 1])
    r, v = secular_j2_states(states, att.epoch_unix_s, target.time_unix_s)
    with np.errstate(invalid="ignore"):
        unit = predicted_directions(target, r, v)
    chord = (unit - target.los_unit) * ARCSEC_PER_RAD * weights[:, None]
    return chord.reshape(len(x), -1)


def _solve_2x2(normal: Array, rhs: Array) -> Array:
    det = normal[:, 0, 0] * normal[:, 1, 1] - normal[:, 0, 1] * normal[:, 1, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        x0 = (normal[:, 1, 1] * rhs[:, 0] - normal[:, 0, 1] * rhs[:, 1]) / det
        x1 = (normal[:, 0, 0] * rhs[:, 1] - normal[:, 1, 0] * rhs[:, 0]) / det
    return np.stack([x0, x1], axis=1)


def _fit_seeds(
    region: AdmissibleRegion, target: AngleObservations, x: Array, settings: RegionSearchSettings
) -> Array:
    """Levenberg-Marquardt from every seed at once, on the target's first, middle and last
    observations (its position, rate and curvature); seeds that meet on one solution are
    merged as they go, hopeless ones dropped. Returns the parameters reached."""
    picks = sorted({0, len(target) // 2, len(target) - 1})
    target = target.select(picks)
    weights = 1.0 / target.sigma_arcsec

    def residuals(params: Array) -> Array:
        return _chord_residuals(region, target, params, weights)

    r = residuals(x)
    cost = np.sum(r * r, axis=1)
    lam = np.full(len(x), 1e-3)
    for iteration in range(settings.iterations):
        live = np.isfinite(cost)
        if iteration >= 2:
            # Merge seeds on one solution; drop those far worse than the best.
            key = np.round(np.stack([np.log(x[:, 0]), x[:, 1]], axis=1) / [1e-6, 1e-6])
            _, first = np.unique(key, axis=0, return_index=True)
            keep = np.zeros(len(x), dtype=bool)
            keep[first] = True
            if iteration >= 6 and live.any():
                keep &= cost <= 1e4 * (np.min(cost[live]) + len(r[0]))
            keep &= live
            x, r, cost, lam = x[keep], r[keep], cost[keep], lam[keep]
        if len(x) == 0:
            break
        steps = np.stack([1e-6 * x[:, 0] + 1e-4, np.full(len(x), 1e-6)], axis=1)
        columns = []
        for j in range(2):
            shifted = x.copy()
            shifted[:, j] += steps[:, j]
            columns.append((residuals(shifted) - r) / steps[:, j : j + 1])
        jacobian = np.stack(columns, axis=2)  # (S, 3M, 2)
        normal = np.einsum("sij,sik->sjk", jacobian, jacobian)
        gradient = np.einsum("sij,si->sj", jacobian, r)
        damped = normal + lam[:, None, None] * normal * np.eye(2)[None]
        trial = x + _solve_2x2(damped, -gradient)
        trial[:, 0] = np.maximum(trial[:, 0], 1.0)
        trial_r = residuals(trial)
        trial_cost = np.sum(trial_r * trial_r, axis=1)
        better = np.isfinite(trial_cost) & (trial_cost < cost)
        x = np.where(better[:, None], trial, x)
        r = np.where(better[:, None], trial_r, r)
        cost = np.where(better, trial_cost, cost)
        lam = np.where(better, np.maximum(lam / 10.0, 1e-9), np.minimum(lam * 10.0, 1e9))
    return x


def region_candidates(
    region: AdmissibleRegion,
    target: AngleObservations,
    settings: RegionSearchSettings = RegionSearchSettings(),
    *,
    mean_motion_window_rad_s: tuple[float, float] | None = None,
    region_settings: AdmissibleSettings = AdmissibleSettings(),
) -> list[RegionCandidate]:
    """Orbits through ``region``'s attributable that fit the ``target`` tracklet, best first
    (see the module docstring); at most ``settings.candidates``."""
    att = region.attributable
    gap_s = float(np.mean(target.time_unix_s) - att.epoch_unix_s)
    rho, rate = region_seeds(
        region,
        gap_s,
        settings,
        mean_motion_window_rad_s=mean_motion_window_rad_s,
        region_settings=region_settings,
    )
    if len(rho) == 0:
        return []
    x = _fit_seeds(region, target, np.stack([rho, rate], axis=1), settings)
    if len(x) == 0:
        return []
    states = region.states(x[:, 0], x[:, 1])
    ok = _admissible(states, region_settings)
    if not ok.any():
        return []
    x, states = x[ok], states[ok]
    r, v = secular_j2_states(states, att.epoch_unix_s, target.time_unix_s)
    with np.errstate(invalid="ignore"):
        unit = predicted_directions(target, r, v)
    depth = np.sum(unit * target.los_unit, axis=-1)
    chord = np.linalg.norm(unit - target.los_unit, axis=-1) * ARCSEC_PER_RAD
    chi2 = np.sum((chord / target.sigma_arcsec) ** 2, axis=1)
    chi2[~np.all(depth > 0.0, axis=1)] = np.inf
    # Screened with the search's own model error added, ranked without it.
    error_km = settings.model_error_km + settings.model_error_km_per_day * abs(gap_s) / 86400.0
    range_km = np.linalg.norm(r - target.observer_gcrs_km, axis=-1)
    model_arcsec = error_km / range_km * ARCSEC_PER_RAD
    screened = np.sum(chord**2 / (target.sigma_arcsec**2 + model_arcsec**2), axis=1)
    dof = 2 * len(target) - 2
    good = np.flatnonzero(np.isfinite(chi2) & (screened <= settings.max_chi2_per_dof * max(dof, 1)))
    if len(good) == 0:
        return []
    elements = elements_from_state(states[good, :3], states[good, 3:])
    n = np.sqrt(EARTH_MU_KM3_S2 / elements.semi_major_axis_km**3)
    revolutions = n * gap_s / (2.0 * np.pi)
    # Distinct minima: seeds that converged to one solution agree in range and in the
    # revolutions made (to a small fraction of one).
    order = good[np.argsort(chi2[good], kind="stable")]
    picked: list[int] = []
    picked_revs: list[float] = []
    picked_rho: list[float] = []
    position = {int(g): i for i, g in enumerate(good)}
    for index in order.tolist():
        revs = float(revolutions[position[index]])
        rho_k = float(x[index, 0])
        if any(
            abs(revs - other) < 0.02 and abs(rho_k - other_rho) < 0.01 * rho_k
            for other, other_rho in zip(picked_revs, picked_rho)
        ):
            continue
        picked.append(index)
        picked_revs.append(revs)
        picked_rho.append(rho_k)
        if len(picked) == settings.candidates:
            break
    return [
        RegionCandidate(
            epoch_unix_s=att.epoch_unix_s,
            state=states[i].copy(),
            range_km=float(x[i, 0]),
            range_rate_km_s=float(x[i, 1]),
            chi2=float(chi2[i]),
            dof=dof,
            revolutions=float(revolutions[position[i]]),
        )
        for i in picked
    ]
