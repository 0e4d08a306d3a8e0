"""Provisional orbits as SGP4 mean elements: fits to many tracklets, and the gate for a new one.

A provisional object's orbit is kept as what it is published as: SGP4 mean elements (a TLE,
at full precision) with the formal covariance of their equinoctial parameters. Both jobs the
linker has for it are done with SGP4 itself:

* :func:`fit_elements`, differential correction of the mean elements against every
  observation of every tracklet linked so far (Levenberg-Marquardt; B* too when the
  observations span long enough to see drag). The observations of a link may be days apart
  and from several sensors; SGP4 carries the low orbits' J3, J4 and drag and the high orbits'
  Sun and Moon, which a fit with two-body + J2 dynamics could not do over days (see
  docs/orbits.md). This is the second step of
  :func:`~orbitlink.tracking.orbit.tle.fit_mean_elements`, started from existing elements
  instead of from an osculating orbit, in the same parameters (so the covariance means the
  same thing).
* :func:`gate_chi2`, the compatibility of a new tracklet with many orbits at once: each orbit
  is carried to the tracklet's times by SGP4 (one ``SatrecArray`` call for every orbit and its
  six perturbed copies), its covariance mapped into the tracklet's angles through the
  finite-difference Jacobian, and the tracklet's residuals weighed by that and by their own
  sigmas: a chi-square with ``2 N`` degrees of freedom.

:func:`mean_elements_from_state` turns an osculating state (a region search's candidate) into
mean elements, through ``fit_mean_elements`` on the state's J2 orbit over one revolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constants import EARTH_MU_KM3_S2, EARTH_RADIUS_KM, SECONDS_PER_DAY
from ..orbit import tle as _tle
from ..orbit.angles import AngleObservations, predicted_directions, tangent_residuals_arcsec
from ..orbit.fit import OrbitFit
from ..orbit.leastsq import levenberg_marquardt
from ..orbit.tle import (
    MeanElements,
    TLESettings,
    fit_mean_elements,
    sgp4_gcrs,
    tle_epoch_unix_s,
)
from ..types import Array

# tle.py's equinoctial parameters (n rad/min, h, k, p, q, mean longitude rad[, B*]) and its
# helpers over them, so that a MeanElementsFit's covariance and ours mean the same thing.
PARAMETER_STEPS = _tle._STEPS
parameters_of = _tle._parameters
elements_from_parameters = _tle._elements
satrecs_of = _tle._satrecs
tle_grid_candidates = _tle._tle_grid_candidates

__all__ = [
    "ProvisionalOrbit",
    "elements_from_dict",
    "elements_to_dict",
    "fit_elements",
    "gate_chi2",
    "gate_chi2_of_sets",
    "mean_elements_from_state",
    "observation_chi2",
    "orbit_of_state",
    "phase_sigma_rad",
    "reepoch",
]


def elements_to_dict(elements: MeanElements) -> dict[str, float]:
    return {name: float(getattr(elements, name)) for name in MeanElements.__dataclass_fields__}


def elements_from_dict(data: dict[str, Any]) -> MeanElements:
    return MeanElements(**{name: float(value) for name, value in data.items()})


@dataclass(frozen=True)
class ProvisionalOrbit:
    """SGP4 mean elements fitted to a provisional object's observations.

    ``elements`` are at full precision (the OMM's), ``tle_elements`` the TLE-representable set
    SGP4 fits best; ``covariance`` the formal covariance of the equinoctial parameters (6x6,
    or 7x7 with B*); ``chi2``/``dof``/``rms_arcsec`` over the ``n_observations`` fitted.
    """

    elements: MeanElements
    tle_elements: MeanElements
    covariance: Array
    chi2: float
    dof: int
    rms_arcsec: float
    n_observations: int
    converged: bool

    @property
    def epoch_unix_s(self) -> float:
        return self.elements.epoch_unix_s

    @property
    def fits_bstar(self) -> bool:
        return len(self.covariance) == 7

    @property
    def has_covariance(self) -> bool:
        """False when the fit ended where SGP4 could not propagate (its covariance NaN)."""
        return bool(np.all(np.isfinite(self.covariance)))

    @property
    def semi_major_axis_km(self) -> float:
        n_rad_s = self.elements.mean_motion_rev_day * 2.0 * math.pi / SECONDS_PER_DAY
        return (EARTH_MU_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0)

    @property
    def mean_motion_sigma_rad_s(self) -> float:
        return math.sqrt(max(float(self.covariance[0, 0]), 0.0)) / 60.0

    def parameters(self) -> Array:
        return parameters_of(self.elements)[: len(self.covariance)]

    def gcrs_state(self, time_unix_s: float | None = None) -> tuple[Array, Array, Array]:
        """Position, velocity and their 6x6 covariance (GCRS, km and km/s) at a time (the
        epoch by default), from SGP4 and the parameters' covariance."""
        time = self.epoch_unix_s if time_unix_s is None else float(time_unix_s)
        params = self.parameters()
        steps = PARAMETER_STEPS[: len(params)]
        stack = np.vstack([params, params + np.diag(steps)])
        satrecs = satrecs_of(stack, self.elements)
        if satrecs is None:
            raise ValueError("the orbit's elements cannot be propagated")
        _, r, v = sgp4_gcrs(satrecs, [time])
        states = np.concatenate([r[:, 0], v[:, 0]], axis=1)
        jacobian = ((states[1:] - states[0]) / steps[:, None]).T  # (6, P)
        return r[0, 0], v[0, 0], jacobian @ self.covariance @ jacobian.T

    def to_dict(self) -> dict[str, Any]:
        return {
            "elements": elements_to_dict(self.elements),
            "tle_elements": elements_to_dict(self.tle_elements),
            "covariance": self.covariance.tolist(),
            "chi2": self.chi2,
            "dof": self.dof,
            "rms_arcsec": self.rms_arcsec,
            "n_observations": self.n_observations,
            "converged": self.converged,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvisionalOrbit:
        return cls(
            elements=elements_from_dict(data["elements"]),
            tle_elements=elements_from_dict(data["tle_elements"]),
            covariance=np.array(data["covariance"], dtype=float),
            chi2=float(data["chi2"]),
            dof=int(data["dof"]),
            rms_arcsec=float(data["rms_arcsec"]),
            n_observations=int(data["n_observations"]),
            converged=bool(data["converged"]),
        )


def _angles(satrecs: list, observations: AngleObservations) -> Array:
    _, r, v = sgp4_gcrs(satrecs, observations.time_unix_s)
    with np.errstate(invalid="ignore"):
        unit = predicted_directions(observations, r, v)
        return tangent_residuals_arcsec(observations, unit)


def fit_elements(
    start: MeanElements,
    observations: AngleObservations,
    *,
    fit_bstar: bool = False,
    max_iterations: int = 50,
) -> ProvisionalOrbit:
    """SGP4 mean elements fitted to ``observations`` from ``start`` (whose epoch they keep).

    Raises ``ValueError`` when ``start`` cannot be propagated to the observations.
    """
    size = 7 if fit_bstar else 6
    x0 = parameters_of(start)[:size]
    weights = 1.0 / observations.sigma_arcsec[:, None]

    def residuals(parameters: Array) -> Array:
        satrecs = satrecs_of(parameters, start)
        if satrecs is None:
            return np.full((len(parameters), 2 * len(observations)), np.nan)
        return (_angles(satrecs, observations) * weights).reshape(len(parameters), -1)

    result = levenberg_marquardt(
        residuals, x0, PARAMETER_STEPS[:size], max_iterations=max_iterations
    )
    elements = elements_from_parameters(result.x, start)
    candidates = tle_grid_candidates(elements)
    angles = _angles([elements.satrec()] + [c.satrec() for c in candidates], observations)
    chi2 = np.nansum((angles * weights) ** 2, axis=(1, 2))
    best = int(np.argmin(chi2[1:]))
    return ProvisionalOrbit(
        elements=elements,
        tle_elements=candidates[best],
        covariance=result.covariance,
        chi2=float(result.cost),
        dof=int(2 * len(observations) - size),
        rms_arcsec=float(np.sqrt(np.mean(angles[0] ** 2))),
        n_observations=len(observations),
        converged=bool(result.converged and np.all(np.isfinite(angles[0]))),
    )


def orbit_of_state(epoch_unix_s: float, state: Array) -> OrbitFit:
    """An :class:`OrbitFit` holding only a state (J2 dynamics, no covariance to speak of),
    for :func:`~orbitlink.tracking.orbit.tle.fit_mean_elements` to start from."""
    return OrbitFit(
        epoch_unix_s=float(epoch_unix_s),
        position_km=np.asarray(state[:3], dtype=float),
        velocity_km_s=np.asarray(state[3:], dtype=float),
        covariance=np.eye(6),
        residuals_arcsec=np.zeros((0, 2)),
        used=np.zeros(0, dtype=bool),
        rms_arcsec=0.0,
        chi2=0.0,
        dof=0,
        iterations=0,
        converged=True,
        condition=1.0,
        message="a state, not a fit",
        dynamics="j2",
        light_time=True,
    )


def mean_elements_from_state(
    epoch_unix_s: float, state: Array, bstar_per_earth_radius: float = 0.0
) -> MeanElements | None:
    """Mean elements at the TLE epoch nearest ``epoch_unix_s`` of an osculating GCRS state
    (through its J2 orbit over one revolution); None for a state SGP4 cannot take (unbound,
    or decaying within the revolution)."""
    r = np.linalg.norm(state[:3])
    energy = 0.5 * float(state[3:] @ state[3:]) - EARTH_MU_KM3_S2 / r
    if not energy < 0.0 or r < EARTH_RADIUS_KM:
        return None
    try:
        fit = fit_mean_elements(
            orbit_of_state(epoch_unix_s, state),
            None,
            TLESettings(bstar_per_earth_radius=bstar_per_earth_radius),
        )
    except ValueError:
        return None
    elements = fit.elements
    if not (0.0 <= elements.eccentricity < 1.0 and elements.mean_motion_rev_day > 0.0):
        return None
    return elements


def reepoch(orbit: ProvisionalOrbit, epoch_unix_s: float) -> MeanElements | None:
    """The orbit's mean elements moved to another TLE epoch (SGP4's state there, converted)."""
    r, v, _ = orbit.gcrs_state(tle_epoch_unix_s(epoch_unix_s))
    return mean_elements_from_state(
        epoch_unix_s, np.concatenate([r, v]), orbit.elements.bstar_per_earth_radius
    )


def phase_sigma_rad(orbit: ProvisionalOrbit, time_unix_s: float) -> float:
    """1-sigma of the mean longitude carried linearly to a time: how far along its orbit the
    object may be. Beyond a few tenths of a radian the linear gate stops being a good test."""
    dt_min = (float(time_unix_s) - orbit.epoch_unix_s) / 60.0
    p = orbit.covariance
    variance = p[5, 5] + 2.0 * dt_min * p[0, 5] + dt_min * dt_min * p[0, 0]
    return math.sqrt(max(float(variance), 0.0))


def gate_chi2(
    orbits: Sequence[ProvisionalOrbit], observations: AngleObservations
) -> tuple[Array, int]:
    """Squared Mahalanobis distance of the observations from each orbit's prediction, with
    the orbit's covariance and the observations' sigmas: ``(K,)`` and its ``2 N`` degrees of
    freedom. Infinite where an orbit cannot be propagated to the observations."""
    n = len(observations)
    chi2 = np.full(len(orbits), np.inf)
    satrecs: list = []
    rows: list[tuple[int, int, Array]] = []
    for k, orbit in enumerate(orbits):
        params = orbit.parameters()
        steps = PARAMETER_STEPS[: len(params)]
        recs = satrecs_of(np.vstack([params, params + np.diag(steps)]), orbit.elements)
        if recs is None:
            continue
        rows.append((k, len(satrecs), steps))
        satrecs += recs
    if not rows:
        return chi2, 2 * n
    angles = _angles(satrecs, observations).reshape(len(satrecs), 2 * n)
    noise = np.repeat(observations.sigma_arcsec**2, 2)
    for k, start, steps in rows:
        nominal = angles[start]
        perturbed = angles[start + 1 : start + 1 + len(steps)]
        jacobian = ((perturbed - nominal) / steps[:, None]).T  # (2N, P)
        chi2[k] = _mahalanobis_chi2(nominal, jacobian, orbits[k].covariance, noise)
    return chi2, 2 * n


def _mahalanobis_chi2(
    residual: Array, partials: Array, covariance: Array, noise_variance: Array
) -> float:
    """``r^T (J P J^T + R)^-1 r`` of residuals ``(M,)`` with partials ``(M, P)``, the
    parameters' covariance and the residuals' variances; infinite where it is undefined."""
    total = partials @ covariance @ partials.T + np.diag(noise_variance)
    if not (np.all(np.isfinite(residual)) and np.all(np.isfinite(total))):
        return math.inf
    try:
        return float(residual @ np.linalg.solve(total, residual))
    except np.linalg.LinAlgError:
        return math.inf


def gate_chi2_of_sets(
    orbit: ProvisionalOrbit, observation_sets: Sequence[AngleObservations]
) -> tuple[Array, Array]:
    """Squared Mahalanobis distance of each set of observations from one orbit's prediction
    (the orbit's covariance and each set's sigmas, as :func:`gate_chi2`), ``(K,)``, and each
    set's ``2 N`` degrees of freedom. One propagation serves every set."""
    sizes = np.array([len(o) for o in observation_sets], dtype=int)
    chi2 = np.full(len(sizes), np.inf)
    if not len(sizes):
        return chi2, 2 * sizes
    params = orbit.parameters()
    steps = PARAMETER_STEPS[: len(params)]
    satrecs = satrecs_of(np.vstack([params, params + np.diag(steps)]), orbit.elements)
    if satrecs is None:
        return chi2, 2 * sizes
    observations = AngleObservations.concatenate(list(observation_sets))
    # concatenate sorts by time: follow each observation's set through that order.
    times = np.concatenate([o.time_unix_s for o in observation_sets])
    labels = np.repeat(np.arange(len(sizes)), sizes)[np.argsort(times, kind="stable")]
    angles = _angles(satrecs, observations)  # (1 + P, N, 2)
    nominal = angles[0]
    jacobian = (angles[1:] - nominal) / steps[:, None, None]  # (P, N, 2)
    variance = observations.sigma_arcsec**2
    for k in range(len(sizes)):
        rows = labels == k
        residual = nominal[rows].ravel()
        partials = jacobian[:, rows].reshape(len(steps), -1).T  # (2 N_k, P)
        noise = np.repeat(variance[rows], 2)
        chi2[k] = _mahalanobis_chi2(residual, partials, orbit.covariance, noise)
    return chi2, 2 * sizes


def observation_chi2(orbit: ProvisionalOrbit, observations: AngleObservations) -> float:
    """Chi-square of observations under an orbit's full-precision elements."""
    residuals = _angles([orbit.elements.satrec()], observations)[0]
    return float(np.sum((residuals / observations.sigma_arcsec[:, None]) ** 2))
