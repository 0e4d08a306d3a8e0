"""Arc evidence: how well each candidate object explains every detection a track has used.

A stale element set puts an object early or late along its path, and a little to one side of
it, by amounts that hardly change over a pass: the error grows over days, a pass lasts minutes.
So for a track and a candidate object, each detection ``k`` of the track gives two offsets from
the candidate's predicted path, ``along_k`` (a time, for objects that move; a distance, for
near-stationary ones) and ``cross_k`` (a distance), each with the noise of the astrometry, and
the question per component is whether the offsets are

* ``H_j``, *this object*: one offset for the whole arc, drawn from the element set's error at
  its age (intercept ``~ N(0, P)``) and drifting only as much as the viewing geometry moves a
  constant 3-D error across the sky (slope ``~ N(0, Q)``), with a heavy tail for the sets that
  are far off (a manoeuvre, a mis-tagged id: share ``f`` with a ``TAIL_SCALE`` times wider
  intercept); or
* ``H_0``, *an object not in the catalogue*: any straight line (intercept and slope free),
  with a prior density equal to the number density of uncatalogued objects around the track in
  position and velocity.

Both are linear-Gaussian in the offsets, so the evidence of a whole arc reduces to six running
sums per component (:data:`N_SUMS`), updated one detection at a time and never re-measured,
and the log-likelihood ratio ``log p(arc | H_j) - log p(arc | H_0)`` is closed-form
(:func:`log_likelihood_ratio`). It grows with the arc for the right object and falls for a
neighbour whose offsets drift or sit further out than its element set's error allows.
"""

from __future__ import annotations

import math

import numpy as np

from ..types import Array

__all__ = [
    "N_SUMS",
    "posterior",
    "TAIL_SCALE",
    "add_measurements",
    "fitted_offsets",
    "log_likelihood_ratio",
    "sums_from_estimate",
]

#: Running sums per component: ``(sum w, sum w t, sum w t^2, sum w r, sum w t r, sum w r^2)``.
N_SUMS = 6
#: The heavy tail's intercept is this many times wider than the Gaussian core.
TAIL_SCALE = 10.0

_LOG_2PI = math.log(2.0 * math.pi)


def add_measurements(
    sums: Array, pair: np.ndarray, t_s: Array, value: Array, weight: Array
) -> None:
    """Add measurements to the running sums in place.

    ``sums`` is ``(M, N_SUMS)``; ``pair`` the row of each measurement, ``t_s`` its time from
    the pair's reference time, ``value`` the offset and ``weight`` its inverse variance.
    """
    w = np.where(np.isfinite(value) & np.isfinite(weight), weight, 0.0)
    r = np.where(w > 0, value, 0.0)
    t = np.where(w > 0, t_s, 0.0)
    for column, term in enumerate((w, w * t, w * t * t, w * r, w * t * r, w * r * r)):
        np.add.at(sums[:, column], pair, term)


def sums_from_estimate(intercept: Array, slope: Array, covariance: Array) -> Array:
    """The running sums of an arc summarised by an estimate of its offset line (intercept and
    slope at time 0, with their ``(M, 2, 2)`` covariance), e.g. a filtered track state."""
    info = np.linalg.inv(covariance)
    beta = np.stack([intercept, slope], axis=-1)
    b = np.einsum("mij,mj->mi", info, beta)
    return np.stack(
        [
            info[:, 0, 0],
            info[:, 0, 1],
            info[:, 1, 1],
            b[:, 0],
            b[:, 1],
            np.einsum("mi,mi->m", beta, b),
        ],
        axis=-1,
    )


def _information(sums: Array) -> tuple[Array, Array, Array]:
    """``F`` (M, 2, 2), ``b`` (M, 2) and ``r'Wr`` (M,) of the linear model from the sums."""
    F = np.empty(sums.shape[:-1] + (2, 2))
    F[..., 0, 0], F[..., 0, 1] = sums[..., 0], sums[..., 1]
    F[..., 1, 0], F[..., 1, 1] = sums[..., 1], sums[..., 2]
    return F, sums[..., 3:5], sums[..., 5]


def _solve_2x2(A: Array, b: Array) -> tuple[Array, Array]:
    """``A^-1 b`` and ``log det A`` for stacks of symmetric 2x2 matrices."""
    det = A[..., 0, 0] * A[..., 1, 1] - A[..., 0, 1] * A[..., 1, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        x0 = (A[..., 1, 1] * b[..., 0] - A[..., 0, 1] * b[..., 1]) / det
        x1 = (A[..., 0, 0] * b[..., 1] - A[..., 1, 0] * b[..., 0]) / det
        log_det = np.log(det)
    return np.stack([x0, x1], axis=-1), log_det


def _log_evidence_gaussian(F: Array, b: Array, rwr: Array, p: Array, q: Array) -> Array:
    """``log p(r | beta ~ N(0, diag(p, q)))`` up to the data's own normalisation."""
    precision = F.copy()
    precision[..., 0, 0] += 1.0 / p
    precision[..., 1, 1] += 1.0 / q
    mean, log_det_precision = _solve_2x2(precision, b)
    quadratic = rwr - np.sum(b * mean, axis=-1)
    # log det(I + Pi F) = log det(Pi) + log det(Pi^-1 + F)
    return -0.5 * quadratic - 0.5 * (np.log(p) + np.log(q) + log_det_precision)


def log_likelihood_ratio(
    sums: Array,
    intercept_var: Array,
    slope_var: Array,
    tail_fraction: Array,
    log_unknown_density: Array,
) -> Array:
    """``log p(arc | H_j) - log p(arc | H_0)`` of one component (see the module docstring).

    ``sums`` is ``(..., N_SUMS)``; the variances are the element set's (``P``, ``Q``) in the
    component's units, ``tail_fraction`` the share of far-off sets and
    ``log_unknown_density`` the log density of uncatalogued objects per unit intercept and
    slope of that component. Arcs whose times do not determine a slope (fewer than two
    distinct times) have no ``H_0`` line to compare with and get NaN.
    """
    F, b, rwr = _information(sums)
    core = _log_evidence_gaussian(F, b, rwr, intercept_var, slope_var)
    tail = _log_evidence_gaussian(F, b, rwr, intercept_var * TAIL_SCALE**2, slope_var)
    f = np.clip(tail_fraction, 1e-12, 0.5)
    log_hj = np.logaddexp(np.log1p(-f) + core, np.log(f) + tail)
    line, log_det_f = _solve_2x2(F, b)
    with np.errstate(invalid="ignore"):
        log_h0 = (
            log_unknown_density
            - 0.5 * (rwr - np.sum(b * line, axis=-1))
            + _LOG_2PI
            - 0.5 * log_det_f
        )
    determined = np.isfinite(log_det_f) & (
        F[..., 0, 0] * F[..., 1, 1] > F[..., 0, 1] ** 2 * 1.0000001
    )
    return np.where(determined, log_hj - log_h0, np.nan)


def fitted_offsets(sums: Array, intercept_var: Array, slope_var: Array, t_s: Array) -> Array:
    """The offset ``H_j`` puts on the arc at time ``t_s`` from the reference time: the
    posterior mean of intercept + slope * t (core prior)."""
    F, b, _ = _information(sums)
    precision = F.copy()
    precision[..., 0, 0] += 1.0 / intercept_var
    precision[..., 1, 1] += 1.0 / slope_var
    mean, _ = _solve_2x2(precision, b)
    return mean[..., 0] + mean[..., 1] * t_s


def posterior(sums: Array, intercept_var: Array, slope_var: Array) -> tuple[Array, Array]:
    """``H_j``'s posterior of the offset line (core prior): mean ``(..., 2)`` (intercept at
    the reference time, slope) and covariance ``(..., 2, 2)``."""
    F, b, _ = _information(sums)
    precision = F.copy()
    precision[..., 0, 0] += 1.0 / intercept_var
    precision[..., 1, 1] += 1.0 / slope_var
    det = precision[..., 0, 0] * precision[..., 1, 1] - precision[..., 0, 1] ** 2
    cov = np.empty_like(precision)
    cov[..., 0, 0] = precision[..., 1, 1] / det
    cov[..., 1, 1] = precision[..., 0, 0] / det
    cov[..., 0, 1] = cov[..., 1, 0] = -precision[..., 0, 1] / det
    mean = np.einsum("...ij,...j->...i", cov, b)
    return mean, cov
