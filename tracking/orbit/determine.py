"""An orbit from one track, or the admissible region when the track cannot give one.

:func:`determine_orbit` is the initial orbit determination of a track (a short arc from one
sensor, ground or space-based):

1. Fit the attributable (:func:`~orbitlink.tracking.orbit.admissible.attributable`). If the
   arc's curvature is below ``min_curvature_snr`` sigmas, the angles say nothing about the
   range: the answer is the admissible region, with that reason.
2. Gather first guesses: Gauss's solutions through the first, middle and last observations
   (:func:`~orbitlink.tracking.orbit.iod.gauss`, refined by
   :func:`~orbitlink.tracking.orbit.iod.gauss_refined`), and the best few samples of the
   admissible region ranked by their chi-square against every observation (a systematic
   search of range and range rate, which needs no three well-spread sightings and works where
   Gauss's method has no root).
3. Fit each guess by two-body least squares (cheap), then the best by the full model
   (:func:`~orbitlink.tracking.orbit.fit.fit_orbit`).
4. Accept the orbit only if the fit converged, its residuals match the sigmas
   (chi-square per degree of freedom at most ``max_chi2_per_dof``), it is bound with perigee
   above the atmosphere, and its semi-major axis is known to ``max_sma_sigma_fraction``;
   otherwise answer with the admissible region and the reason.

The result is an :class:`OrbitDetermination`: ``orbit`` (an :class:`~orbitlink.tracking.
orbit.fit.OrbitFit`, with covariance) when determined, else ``region``; ``reason`` in words
either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ..constants import EARTH_MU_KM3_S2, EARTH_RADIUS_KM
from ..settings import Settings
from .admissible import (
    AdmissibleRegion,
    AdmissibleSettings,
    Attributable,
    admissible_region,
    attributable,
)
from .angles import AngleObservations
from .fit import FitSettings, OrbitFit, fit_orbit, state_residuals_arcsec
from .iod import gauss, gauss_refined

__all__ = ["DeterminationSettings", "OrbitDetermination", "determine_orbit"]


class DeterminationSettings(Settings):
    """When a track determines an orbit, and how the orbit is found."""

    min_curvature_snr: float = Field(
        4.0,
        ge=0.0,
        description="Fewest sigmas of angular acceleration an arc must show to be fitted: "
        "below it the arc is too short and the admissible region is the answer.",
    )
    max_sma_sigma_fraction: float = Field(
        0.05,
        gt=0.0,
        description="Largest 1-sigma of the semi-major axis, as a fraction of it, for an orbit "
        "to count as determined.",
    )
    max_chi2_per_dof: float = Field(
        4.0,
        gt=0.0,
        description="Largest chi-square per degree of freedom of an accepted fit: more means "
        "the residuals are not the sigmas' noise (a wrong orbit, a cross-tagged track).",
    )
    search_candidates: int = Field(
        6, ge=0, description="Admissible-region samples (the best by chi-square) tried as guesses."
    )
    fit: FitSettings = Field(FitSettings(), description="The least-squares fit.")
    region: AdmissibleSettings = Field(
        AdmissibleSettings(), description="The admissible region of a too-short arc."
    )


@dataclass(frozen=True)
class OrbitDetermination:
    """The outcome for one track: an orbit, or the admissible region, and why."""

    determined: bool
    reason: str
    attributable: Attributable
    orbit: OrbitFit | None = None
    region: AdmissibleRegion | None = None


def _gauss_guesses(observations: AngleObservations) -> list[tuple[float, np.ndarray]]:
    n = len(observations)
    picks = [0, n // 2, n - 1]
    times = observations.time_unix_s[picks]
    if not (times[0] < times[1] < times[2]):
        return []
    los = observations.los_unit[picks]
    sites = observations.observer_gcrs_km[picks]
    guesses = []
    try:
        solutions = gauss(times - times[1], los, sites)
    except ValueError:
        return []
    for solution in solutions:
        refined = gauss_refined(times - times[1], los, sites, solution)
        best = refined if refined.converged else solution
        guesses.append((float(times[1]), np.concatenate([best.position_km, best.velocity_km_s])))
    return guesses


def _search_guesses(
    observations: AngleObservations, region: AdmissibleRegion, count: int, light_time: bool
) -> list[tuple[float, np.ndarray]]:
    if count == 0 or len(region.sample_states) == 0:
        return []
    epoch = region.attributable.epoch_unix_s
    residuals = state_residuals_arcsec(
        observations, region.sample_states, epoch, "two-body", light_time=light_time
    )
    chi2 = np.nansum((residuals / observations.sigma_arcsec[:, None]) ** 2, axis=(1, 2))
    chi2[~np.all(np.isfinite(residuals), axis=(1, 2))] = np.inf
    best = np.argsort(chi2)[:count]
    return [(epoch, region.sample_states[i]) for i in best if np.isfinite(chi2[i])]


def _first_fit(
    observations: AngleObservations, guesses: list[tuple[float, np.ndarray]], settings: FitSettings
) -> OrbitFit | None:
    quick = settings.replace(dynamics="two-body", outlier_sigma=None)
    best: OrbitFit | None = None
    for epoch, state in guesses:
        try:
            fit = fit_orbit(observations, state[:3], state[3:], epoch, quick)
        except ValueError:
            continue
        if not np.isfinite(fit.chi2):
            continue
        if best is None or fit.chi2 < best.chi2:
            best = fit
    return best


def _acceptance(fit: OrbitFit, settings: DeterminationSettings) -> str | None:
    """Why the fitted orbit is not good enough, or None."""
    if not fit.converged:
        return f"the least-squares fit did not converge ({fit.message})"
    chi2_per_dof = fit.chi2 / max(fit.dof, 1)
    if chi2_per_dof > settings.max_chi2_per_dof:
        return (
            f"the best orbit leaves residuals of {fit.rms_arcsec:.1f} arcsec RMS, "
            f"chi-square {chi2_per_dof:.1f} per degree of freedom"
        )
    elements = fit.elements()
    a = float(elements.semi_major_axis_km)
    if not a > 0.0 or float(elements.eccentricity) >= 1.0:
        return "the best orbit is not bound to the Earth"
    perigee = float(elements.perigee_radius_km)
    if perigee < EARTH_RADIUS_KM + settings.region.min_perigee_height_km:
        height = perigee - EARTH_RADIUS_KM
        if height < 0.0:
            return f"the best orbit's perigee is {-height:,.0f} km below the Earth's surface"
        return f"the best orbit's perigee is {height:,.0f} km high, in the atmosphere"
    sigma = fit.semi_major_axis_sigma_km
    if not sigma <= settings.max_sma_sigma_fraction * a:
        return (
            f"the arc leaves the semi-major axis uncertain: {a:,.0f} +- {sigma:,.0f} km "
            f"({100 * sigma / a:.0f}% at 1 sigma)"
        )
    return None


def determine_orbit(
    observations: AngleObservations,
    settings: DeterminationSettings = DeterminationSettings(),
) -> OrbitDetermination:
    """An orbit with its covariance from one track, or the admissible region and the reason.

    Needs at least ``settings.fit.min_observations`` observations (``ValueError``).
    """
    if len(observations) < settings.fit.min_observations:
        raise ValueError(
            f"orbit determination needs at least {settings.fit.min_observations} "
            f"observations, got {len(observations)}"
        )
    att = attributable(observations)
    regions: list[AdmissibleRegion] = []

    def region_of_arc() -> AdmissibleRegion:
        if not regions:
            regions.append(admissible_region(att, settings.region, mu_km3_s2=EARTH_MU_KM3_S2))
        return regions[0]

    def undetermined(reason: str) -> OrbitDetermination:
        region = region_of_arc()
        return OrbitDetermination(False, f"{reason}; {region.describe()}", att, region=region)

    if att.curvature_snr < settings.min_curvature_snr:
        return undetermined(
            f"too short an arc: its curvature is {att.curvature_snr:.1f} sigma "
            f"(at least {settings.min_curvature_snr:g} needed)"
        )
    guesses = _gauss_guesses(observations)
    if settings.search_candidates:
        guesses += _search_guesses(
            observations, region_of_arc(), settings.search_candidates, settings.fit.light_time
        )
    first = _first_fit(observations, guesses, settings.fit)
    if first is None:
        return undetermined("no first guess leads to an orbit")
    try:
        fit = fit_orbit(
            observations, first.position_km, first.velocity_km_s, first.epoch_unix_s, settings.fit
        )
    except ValueError as error:
        return undetermined(f"the orbit fit failed: {error}")
    problem = _acceptance(fit, settings)
    if problem is not None:
        return undetermined(problem)
    sigma_pct = 100.0 * fit.semi_major_axis_sigma_km / float(fit.elements().semi_major_axis_km)
    return OrbitDetermination(
        True,
        f"orbit fitted to {int(fit.used.sum())} observations over {observations.span_s:.0f} s: "
        f"{fit.rms_arcsec:.2f} arcsec RMS, semi-major axis to {sigma_pct:.2g}% (1 sigma)",
        att,
        orbit=fit,
    )
