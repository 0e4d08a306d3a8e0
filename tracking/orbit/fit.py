"""Batch least-squares orbit fit to angle observations (differential correction).

:func:`fit_orbit` adjusts a GCRS state at an epoch so that the orbit through it, propagated
with two-body, J2 or J2 + Sun + Moon dynamics (:func:`~orbitlink.tracking.orbit.propagate.
propagate`), reproduces every observation's astrometric direction
(:mod:`~orbitlink.tracking.orbit.angles`), each weighted by its sigma. The observations may
come from one track or from many (different sensors, days apart): this is how a link of
tracks refines an orbit. Levenberg-Marquardt (:mod:`~orbitlink.tracking.orbit.leastsq`)
makes it robust to a poor first guess; the Jacobian comes from one propagation of seven
states, so the fit is vectorised over the observations and the parameters alike.

With ``outlier_sigma`` set, observations whose normalised residual exceeds it are dropped and
the fit repeated, until none is (at most ``max_outlier_rounds`` times).

The result, :class:`OrbitFit`, carries the state, its formal covariance, the residuals in
arc-seconds and what the lead's linking needs next: the orbit's elements, its prediction at
other times with the covariance carried along (:meth:`OrbitFit.predict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field

from ..constants import EARTH_MU_KM3_S2
from ..settings import Settings
from ..types import Array, BoolArray
from .angles import AngleObservations, predicted_directions, tangent_residuals_arcsec
from .elements import KeplerElements, elements_from_state
from .leastsq import LeastSquaresResult, levenberg_marquardt
from .propagate import Dynamics, propagate

__all__ = ["FitSettings", "OrbitFit", "fit_orbit", "state_residuals_arcsec"]

RELATIVE_STEP = 1e-7  # forward-difference step of each state component, relative to |r| or |v|


class FitSettings(Settings):
    """How :func:`fit_orbit` models and weighs the observations."""

    dynamics: Dynamics = Field(
        "j2",
        description="Force model: 'two-body', 'j2' (two-body + J2) or 'j2-sun-moon'. J2 moves "
        "a LEO object by ~0.5 km in five minutes, so even one track wants it; the Sun and Moon "
        "matter for fits of GEO and HEO over days.",
    )
    light_time: bool = Field(
        True,
        description="Model the astrometric light time, as the observations have it (5 arcsec "
        "at 1,000 km range).",
    )
    max_iterations: int = Field(
        50, ge=1, description="Levenberg-Marquardt iterations at most (per outlier round)."
    )
    cost_tolerance: float = Field(
        1e-8,
        gt=0.0,
        description="Converged when a step lowers the chi-square by less than this times "
        "(1 + chi-square).",
    )
    outlier_sigma: float | None = Field(
        None,
        gt=0.0,
        description="Drop observations whose residual exceeds this many sigmas and fit again "
        "(None keeps every observation).",
    )
    max_outlier_rounds: int = Field(5, ge=1, description="Rounds of outlier removal at most.")
    min_observations: int = Field(
        4,
        ge=3,
        description="Fewest observations left after outlier removal (each gives two angles; "
        "six parameters need three, a fourth gives the fit a residual).",
    )


@dataclass(frozen=True)
class OrbitFit:
    """A fitted orbit: GCRS state at ``epoch_unix_s``, its covariance, and the fit's residuals.

    ``covariance`` is the 6x6 formal covariance of ``(r, v)`` in km and km/s (from the
    observations' sigmas); ``residuals_arcsec`` is ``(N, 2)`` observed minus fitted,
    ``(dRA cos Dec, dDec)``, for every observation; ``used`` marks those the fit kept;
    ``rms_arcsec`` is over the used ones and both coordinates; ``chi2`` is the sum of squared
    normalised residuals of the used observations, with ``dof = 2 * used - 6`` degrees of
    freedom.
    """

    epoch_unix_s: float
    position_km: Array
    velocity_km_s: Array
    covariance: Array
    residuals_arcsec: Array
    used: BoolArray
    rms_arcsec: float
    chi2: float
    dof: int
    iterations: int
    converged: bool
    condition: float
    message: str
    dynamics: Dynamics
    light_time: bool
    mu_km3_s2: float = field(default=EARTH_MU_KM3_S2)

    @property
    def state(self) -> Array:
        return np.concatenate([self.position_km, self.velocity_km_s])

    def elements(self) -> KeplerElements:
        """Osculating elements at the epoch (GCRS equator)."""
        return elements_from_state(self.position_km, self.velocity_km_s, self.mu_km3_s2)

    @property
    def semi_major_axis_sigma_km(self) -> float:
        """1-sigma of the osculating semi-major axis, from the covariance."""
        r, v = self.position_km, self.velocity_km_s
        a = float(self.elements().semi_major_axis_km)
        gradient = np.concatenate(
            [2.0 * a * a * r / np.linalg.norm(r) ** 3, 2.0 * a * a * v / self.mu_km3_s2]
        )
        return float(np.sqrt(max(gradient @ self.covariance @ gradient, 0.0)))

    @property
    def position_sigma_km(self) -> float:
        """Root of the trace of the position covariance (the 3-D 1-sigma size)."""
        return float(np.sqrt(max(np.trace(self.covariance[:3, :3]), 0.0)))

    def predict(self, time_unix_s: ArrayLike) -> tuple[Array, Array, Array]:
        """States at other times and their covariance: ``r (T, 3)``, ``v (T, 3)``, ``(T, 6,
        6)``, by the fit's dynamics, the covariance carried by the state transition matrix
        (forward differences, one propagation of seven states)."""
        times = np.atleast_1d(np.asarray(time_unix_s, dtype=float))
        steps = _state_steps(self.state)
        states = np.vstack([self.state, self.state + np.diag(steps)])
        r, v = propagate(states[:, :3], states[:, 3:], self.epoch_unix_s, times, self.dynamics)
        out = np.concatenate([r, v], axis=-1)  # (7, T, 6)
        transition = ((out[1:] - out[0]) / steps[:, None, None]).transpose(1, 2, 0)  # (T, 6, 6)
        covariance = transition @ self.covariance @ transition.transpose(0, 2, 1)
        return r[0], v[0], covariance


def _state_steps(state: Array) -> Array:
    r_norm = np.linalg.norm(state[:3])
    v_norm = np.linalg.norm(state[3:])
    return np.r_[np.full(3, RELATIVE_STEP * r_norm), np.full(3, RELATIVE_STEP * v_norm)]


def state_residuals_arcsec(
    observations: AngleObservations,
    states: Array,
    epoch_unix_s: float,
    dynamics: Dynamics = "j2",
    *,
    light_time: bool = True,
) -> Array:
    """Residuals ``(K, N, 2)`` (arc-seconds) of the observations against ``K`` GCRS states
    ``(K, 6)`` at an epoch; NaN where an orbit fell into the Earth."""
    states = np.atleast_2d(states)
    r, v = propagate(states[:, :3], states[:, 3:], epoch_unix_s, observations.time_unix_s, dynamics)
    with np.errstate(invalid="ignore"):
        unit = predicted_directions(observations, r, v, light_time=light_time)
        return tangent_residuals_arcsec(observations, unit)


def _solve(
    observations: AngleObservations,
    state: Array,
    epoch_unix_s: float,
    settings: FitSettings,
) -> LeastSquaresResult:
    weights = 1.0 / observations.sigma_arcsec[:, None]

    def residuals(states: Array) -> Array:
        values = state_residuals_arcsec(
            observations, states, epoch_unix_s, settings.dynamics, light_time=settings.light_time
        )
        return (values * weights).reshape(len(states), -1)

    return levenberg_marquardt(
        residuals,
        state,
        _state_steps(state),
        max_iterations=settings.max_iterations,
        cost_tolerance=settings.cost_tolerance,
    )


def fit_orbit(
    observations: AngleObservations,
    position_km: ArrayLike,
    velocity_km_s: ArrayLike,
    epoch_unix_s: float,
    settings: FitSettings = FitSettings(),
) -> OrbitFit:
    """Fit a GCRS state at ``epoch_unix_s`` to the observations, starting from the given one.

    Raises ``ValueError`` if there are too few observations or the first guess itself cannot
    be propagated to them; a fit that does not converge is returned with ``converged``
    False and the reason in ``message``.
    """
    if len(observations) < settings.min_observations:
        raise ValueError(
            f"an orbit fit needs at least {settings.min_observations} observations, "
            f"got {len(observations)}"
        )
    state = np.concatenate(
        [np.asarray(position_km, dtype=float), np.asarray(velocity_km_s, dtype=float)]
    )
    if state.shape != (6,) or not np.all(np.isfinite(state)):
        raise ValueError("position_km and velocity_km_s must be finite 3-vectors")
    used = np.ones(len(observations), dtype=bool)
    rounds = settings.max_outlier_rounds if settings.outlier_sigma is not None else 1
    for _ in range(rounds):
        result = _solve(observations.select(used), state, epoch_unix_s, settings)
        state = result.x
        all_residuals = state_residuals_arcsec(
            observations, state, epoch_unix_s, settings.dynamics, light_time=settings.light_time
        )[0]
        if settings.outlier_sigma is None:
            break
        normalised = np.linalg.norm(all_residuals, axis=1) / observations.sigma_arcsec
        keep = normalised <= settings.outlier_sigma
        if np.array_equal(keep, used) or keep.sum() < settings.min_observations:
            break
        used = keep
    used_residuals = all_residuals[used]
    return OrbitFit(
        epoch_unix_s=float(epoch_unix_s),
        position_km=state[:3].copy(),
        velocity_km_s=state[3:].copy(),
        covariance=result.covariance,
        residuals_arcsec=all_residuals,
        used=used,
        rms_arcsec=float(np.sqrt(np.mean(used_residuals**2))),
        chi2=result.cost,
        dof=int(2 * used.sum() - 6),
        iterations=result.iterations,
        converged=result.converged,
        condition=result.condition,
        message=result.message,
        dynamics=settings.dynamics,
        light_time=settings.light_time,
    )
