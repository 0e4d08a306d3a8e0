"""Levenberg-Marquardt for small parameter vectors and vectorised residual functions.

Orbit fits have 6 or 7 parameters and residual functions that are far cheaper per extra
parameter vector than per call (a whole stack of states propagates in one go). So the
residual function here takes ``(K, P)`` parameter vectors and returns ``(K, M)`` residuals
(already divided by their sigmas), and the Jacobian is taken by forward differences in one
call of ``P + 1`` vectors.

The step solves ``(J^T J + lambda diag(J^T J)) delta = -J^T r`` (Marquardt's scaling, which
makes the method indifferent to the parameters' units) on the correlation-scaled normal
matrix; a step that does not lower the cost, or whose residuals are not finite (an orbit that
fell into the Earth), is refused and ``lambda`` grows tenfold. The fit has converged when an
accepted step lowers the cost by less than ``cost_tolerance * (1 + cost)``, or when no step
can lower it and the predicted decrease is that small anyway.

The covariance is ``(J^T J)^-1`` at the solution, the formal covariance for residuals with
the sigmas they were divided by; a pseudo-inverse stands in if the normal matrix is singular
(``condition`` tells).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..types import Array

__all__ = ["LeastSquaresResult", "levenberg_marquardt"]

Residuals = Callable[[Array], Array]  # (K, P) -> (K, M)


@dataclass(frozen=True)
class LeastSquaresResult:
    x: Array  # (P,)
    residuals: Array  # (M,) normalised residuals at x
    jacobian: Array  # (M, P)
    covariance: Array  # (P, P)
    cost: float  # sum of squared normalised residuals (chi-square)
    iterations: int
    converged: bool
    condition: float  # of the correlation-scaled normal matrix
    message: str


def _jacobian(residuals: Residuals, x: Array, steps: Array) -> tuple[Array, Array]:
    trial = np.vstack([x, x + np.diag(steps)])
    values = residuals(trial)
    return values[0], (values[1:] - values[0]).T / steps


def _covariance(normal: Array) -> tuple[Array, float]:
    if not np.all(np.isfinite(normal)):  # the fit left the propagator's domain
        return np.full_like(normal, np.nan), math.inf
    d = np.sqrt(np.diag(normal))
    d = np.where(d > 0.0, d, 1.0)
    scaled = normal / np.outer(d, d)
    eigenvalues = np.linalg.eigvalsh(scaled)
    condition = float(eigenvalues.max() / max(eigenvalues.min(), 1e-300))
    if condition < 1e14:
        inverse = np.linalg.inv(scaled)
    else:
        inverse = np.linalg.pinv(scaled, rcond=1e-14, hermitian=True)
    covariance = inverse / np.outer(d, d)
    return 0.5 * (covariance + covariance.T), condition


def levenberg_marquardt(
    residuals: Residuals,
    x0: ArrayLike,
    steps: ArrayLike,
    *,
    max_iterations: int = 50,
    cost_tolerance: float = 1e-8,
    damping: float = 1e-3,
) -> LeastSquaresResult:
    """Minimise ``sum(residuals(x)**2)`` from ``x0``.

    ``steps`` are the forward-difference steps of the parameters (``(P,)``), small against
    their uncertainties and large against the residual function's rounding.
    """
    x = np.asarray(x0, dtype=float).copy()
    steps = np.asarray(steps, dtype=float)
    r, jacobian = _jacobian(residuals, x, steps)
    if not np.all(np.isfinite(r)):
        raise ValueError("the residuals are not finite at the starting point")
    cost = float(r @ r)
    lam = damping
    converged = False
    message = f"stopped after {max_iterations} iterations"
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        if not np.all(np.isfinite(jacobian)):
            message = "the Jacobian is not finite"
            break
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ r
        d = np.sqrt(np.diag(normal))
        d = np.where(d > 0.0, d, 1.0)
        scaled = normal / np.outer(d, d)
        accepted = False
        while lam <= 1e12:
            try:
                y = np.linalg.solve(scaled + lam * np.eye(len(x)), -gradient / d)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            delta = y / d
            predicted = float(-(gradient @ delta) * 2.0 - delta @ normal @ delta)
            trial_r = residuals((x + delta)[None, :])[0]
            trial_cost = float(trial_r @ trial_r) if np.all(np.isfinite(trial_r)) else np.inf
            if trial_cost < cost:
                accepted = True
                break
            if predicted <= cost_tolerance * (1.0 + cost):
                break  # at the minimum to within rounding: nothing left to gain
            lam *= 10.0
        if not accepted:
            converged = lam <= 1e12 or np.linalg.norm(gradient / d) < 1e-6 * (1.0 + cost)
            message = "converged" if converged else "no step lowers the cost"
            break
        x = x + delta
        decrease = cost - trial_cost
        cost = trial_cost
        lam = max(lam / 10.0, 1e-12)
        r, jacobian = _jacobian(residuals, x, steps)
        if not np.all(np.isfinite(r)):
            message = "the residuals are not finite"
            break
        cost = float(r @ r)
        if decrease <= cost_tolerance * (1.0 + cost):
            converged = True
            message = "converged"
            break
    covariance, condition = _covariance(jacobian.T @ jacobian)
    converged = converged and math.isfinite(condition)
    return LeastSquaresResult(
        x=x,
        residuals=r,
        jacobian=jacobian,
        covariance=covariance,
        cost=cost,
        iterations=iterations,
        converged=converged,
        condition=condition,
        message=message,
    )
