"""Batched constant-velocity Kalman filtering on the sky, in per-track tangent planes.

Every track carries a tangent point ``(ra0, dec0)`` on the celestial sphere and a state
``x = (xi, eta, xi_rate, eta_rate)`` in the gnomonic plane tangent there (degrees and degrees
per second, xi towards +RA, eta towards +Dec, see :mod:`tracking.sky`). The gnomonic
projection maps great circles to straight lines, so an object moving along a great circle
moves on a line in the plane and a constant-velocity model fits it; angular acceleration (real
topocentric motion is not uniform, and the projection stretches as ``tan`` away from the
tangent point) is absorbed by the process noise.

After every frame each track is *re-centred*: its tangent point moves to its current position
estimate and the state and covariance are transformed with the Jacobian of the change of plane
(:func:`recentre`). The plane therefore never sits far from the track, the projection is well
defined anywhere on the sky (RA wrap and the poles included), and the state read off a track
is directly its on-sky rates ``(dRA/dt cos Dec, dDec/dt)`` with a covariance in the plane
tangent at the reported position, as :mod:`tracking.models` specifies.

All functions are vectorised over a leading track axis: states ``(n, 4)``, covariances
``(n, 4, 4)``. The predict/update equations are the textbook ones, and the update uses the
Joseph form, exactly as ``filterpy.kalman.KalmanFilter`` does (a test checks the two agree).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .sky import gnomonic_from_radec, radec_from_unit, tangent_basis
from .types import Array

__all__ = [
    "POSITION_H",
    "constant_velocity_transition",
    "innovation",
    "mahalanobis_sq",
    "predict",
    "recentre",
    "two_point_initial_state",
    "update",
    "white_noise_acceleration",
]


#: Measurement matrix: a detection measures the position ``(xi, eta)`` of the state.
POSITION_H: Array = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])


def constant_velocity_transition(dt_s: float) -> Array:
    """State transition ``F`` (4x4) of the constant-velocity model over ``dt_s`` seconds."""
    F = np.eye(4)
    F[0, 2] = F[1, 3] = dt_s
    return F


def white_noise_acceleration(dt_s: ArrayLike, q_deg2_s3: ArrayLike) -> Array:
    """Process noise ``Q`` of continuous white-noise acceleration over ``dt_s`` seconds.

    ``q_deg2_s3`` is the acceleration power spectral density per axis (deg^2/s^3). Both
    arguments are scalars or one per track (they broadcast); the result has shape
    ``broadcast.shape + (4, 4)``. Over an interval the velocity random-walks by
    ``sqrt(q dt)`` and the position by ``sqrt(q dt^3 / 3)``, the same on both axes and
    independent between them.
    """
    q, dt = np.broadcast_arrays(np.asarray(q_deg2_s3, dtype=float), np.asarray(dt_s, dtype=float))
    Q = np.zeros(q.shape + (4, 4))
    Q[..., 0, 0] = Q[..., 1, 1] = q * dt**3 / 3.0
    Q[..., 0, 2] = Q[..., 2, 0] = Q[..., 1, 3] = Q[..., 3, 1] = q * dt**2 / 2.0
    Q[..., 2, 2] = Q[..., 3, 3] = q * dt
    return Q


def predict(x: Array, P: Array, F: Array, Q: Array) -> tuple[Array, Array]:
    """Kalman prediction ``x' = F x``, ``P' = F P F^T + Q``.

    ``x`` is ``(n, 4)``, ``P`` ``(n, 4, 4)``; ``F`` is ``(4, 4)`` shared by all tracks or
    ``(n, 4, 4)``, ``Q`` ``(4, 4)`` or ``(n, 4, 4)``.
    """
    if F.ndim == 2:
        # One F for every track: two plain matrix products over the stacked rows, which
        # BLAS does far faster than a stack of tiny 4x4 products.
        n, d = x.shape
        x_new = x @ F.T
        PFt = (P.reshape(-1, d) @ F.T).reshape(n, d, d)
        FPFt = (F @ PFt.transpose(1, 0, 2).reshape(d, -1)).reshape(d, n, d).transpose(1, 0, 2)
        return x_new, FPFt + Q
    x_new = np.einsum("nij,nj->ni", F, x)
    return x_new, F @ P @ np.swapaxes(F, -1, -2) + Q


def innovation(
    x: Array, P: Array, z: Array, R: Array, H: Array = POSITION_H
) -> tuple[Array, Array]:
    """Innovation ``y = z - H x`` and its covariance ``S = H P H^T + R``.

    ``z`` is ``(n, k)`` and ``R`` ``(n, k, k)`` (or ``(k, k)``) for a ``k``-row ``H``.
    """
    if H is POSITION_H:  # a selection: no products needed
        return z - x[:, :2], P[:, :2, :2] + R
    return z - x @ H.T, H @ P @ H.T + R


def _inverse_2x2(S: Array) -> Array:
    """Inverses of a stack of 2x2 matrices, in closed form."""
    det = S[:, 0, 0] * S[:, 1, 1] - S[:, 0, 1] * S[:, 1, 0]
    inverse = np.empty_like(S)
    inverse[:, 0, 0] = S[:, 1, 1]
    inverse[:, 0, 1] = -S[:, 0, 1]
    inverse[:, 1, 0] = -S[:, 1, 0]
    inverse[:, 1, 1] = S[:, 0, 0]
    return inverse / det[:, None, None]


def _mul_inner2(A: Array, B: Array) -> Array:
    """``A @ B`` for stacks ``(n, p, 2) @ (n, 2, q)``.

    numpy's stacked matmul pays a large per-matrix overhead on tiny matrices; with an inner
    dimension of two, two broadcast products and a sum are several times faster.
    """
    return A[:, :, 0, None] * B[:, None, 0, :] + A[:, :, 1, None] * B[:, None, 1, :]


def mahalanobis_sq(y: Array, S: Array) -> Array:
    """Squared Mahalanobis distance ``y^T S^-1 y`` of innovations ``(n, k)``.

    Closed form for ``k = 2`` (the tracker's case); a singular ``S`` gives inf or NaN.
    """
    if S.shape[-1] == 2:
        a, b, d = S[..., 0, 0], S[..., 0, 1], S[..., 1, 1]
        y0, y1 = y[..., 0], y[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return (d * y0 * y0 - 2.0 * b * y0 * y1 + a * y1 * y1) / (a * d - b * b)
    return np.einsum("...i,...i->...", y, np.linalg.solve(S, y[..., None])[..., 0])


def update(x: Array, P: Array, z: Array, R: Array, H: Array = POSITION_H) -> tuple[Array, Array]:
    """Kalman update with the Joseph-form covariance, for one measurement per track.

    ``x' = x + K y`` and ``P' = (I - K H) P (I - K H)^T + K R K^T`` with the gain
    ``K = P H^T S^-1``. The Joseph form keeps ``P`` symmetric positive definite under rounding,
    which matters for tracks that live for thousands of frames. ``z`` is ``(n, k)``, ``R``
    ``(n, k, k)``; ``H`` (``k x 4``) defaults to measuring the position.
    """
    y, S = innovation(x, P, z, R, H)
    if H is POSITION_H:
        # H selects the position, so every product below has an inner dimension of two.
        K = _mul_inner2(P[:, :, :2], _inverse_2x2(S))
        x_new = x + _mul_inner2(K, y[:, :, None])[:, :, 0]
        # (I - K H) P (I - K H)^T with K H non-zero only in its first two columns.
        M = P - _mul_inner2(K, P[:, :2, :])
        M = M - _mul_inner2(M[:, :, :2], np.swapaxes(K, 1, 2))
        return x_new, M + _mul_inner2(_mul_inner2(K, R), np.swapaxes(K, 1, 2))
    K = P @ H.T @ np.linalg.inv(S)
    x_new = x + (K @ y[:, :, None])[:, :, 0]
    I_KH = np.eye(x.shape[-1]) - K @ H
    P_new = I_KH @ P @ np.swapaxes(I_KH, -1, -2) + K @ R @ np.swapaxes(K, -1, -2)
    return x_new, P_new


def recentre(
    ra0_deg: Array, dec0_deg: Array, x: Array, P: Array
) -> tuple[Array, Array, Array, Array]:
    """Move each track's tangent plane to its current position estimate.

    The position ``(xi, eta)`` in the plane at ``(ra0, dec0)`` becomes the new tangent point
    ``(ra, dec)``; the new state is ``(0, 0, J v)`` and the covariance ``T P T^T`` with
    ``T = diag(J, J)``, where ``J`` (2x2) is the Jacobian of the map from the old plane to the
    new one at that point. With the point ``p = c0 + xi e0 + eta n0`` (radians, unnormalised)
    and the new basis ``(e1, n1)`` perpendicular to it, ``J = [[e1.e0, e1.n0], [n1.e0, n1.n0]]
    / |p|``. Velocities transform with the same ``J`` to first order (the term from ``J``
    changing along the path is dropped, as in any linearised filter).

    Returns ``(ra_deg, dec_deg, x, P)``.
    """
    e0, n0, c0 = tangent_basis(ra0_deg, dec0_deg)
    a = np.radians(x[:, 0])[:, None]
    b = np.radians(x[:, 1])[:, None]
    p = c0 + a * e0 + b * n0
    norm = np.sqrt(_dot(p, p))
    ra, dec = radec_from_unit(p)
    e1, n1, _ = tangent_basis(ra, dec)
    n = len(ra)
    J = np.empty((n, 2, 2))
    J[:, 0, 0] = _dot(e1, e0)
    J[:, 0, 1] = _dot(e1, n0)
    J[:, 1, 0] = _dot(n1, e0)
    J[:, 1, 1] = _dot(n1, n0)
    J /= norm[:, None, None]
    x_new = np.zeros_like(x)
    x_new[:, 2:] = _mul_inner2(J, x[:, 2:, None])[:, :, 0]
    T = np.zeros((n, 4, 4))
    T[:, :2, :2] = J
    T[:, 2:, 2:] = J
    P_new = T @ P @ np.swapaxes(T, -1, -2)
    # Rounding breaks symmetry at the 1e-16 level; keep P exactly symmetric so that it stays
    # a valid covariance through thousands of frames.
    P_new = 0.5 * (P_new + np.swapaxes(P_new, -1, -2))
    return ra, dec, x_new, P_new


def _dot(a: Array, b: Array) -> Array:
    """Row-wise dot products of ``(n, 3)`` arrays (einsum avoids a slow strided reduction)."""
    return np.einsum("ni,ni->n", a, b)


def two_point_initial_state(
    ra_prev_deg: Array,
    dec_prev_deg: Array,
    sigma_prev_deg: Array,
    ra_deg: Array,
    dec_deg: Array,
    sigma_deg: Array,
    dt_s: ArrayLike,
) -> tuple[Array, Array]:
    """State and covariance of new tracks from two detections ``dt_s`` seconds apart
    (a scalar or one interval per pair).

    The plane is tangent at the newer detection (so the state's position is zero), the
    velocity is the difference of the two positions over ``dt_s`` in that plane, and the
    covariance is what differencing two independent measurements with isotropic sigmas gives:
    ``var(pos) = s1^2``, ``cov(pos, vel) = s1^2 / dt``, ``var(vel) = (s0^2 + s1^2) / dt^2``.
    The tangent points are ``(ra_deg, dec_deg)``. Returns ``(x (n, 4), P (n, 4, 4))``.
    """
    xi_prev, eta_prev = gnomonic_from_radec(ra_prev_deg, dec_prev_deg, ra_deg, dec_deg)
    n = len(xi_prev)
    dt_s = np.asarray(dt_s, dtype=float)
    x = np.zeros((n, 4))
    x[:, 2] = -xi_prev / dt_s
    x[:, 3] = -eta_prev / dt_s
    s1 = np.asarray(sigma_deg, dtype=float) ** 2
    s0 = np.asarray(sigma_prev_deg, dtype=float) ** 2
    P = np.zeros((n, 4, 4))
    for axis in (0, 1):
        P[:, axis, axis] = s1
        P[:, axis, axis + 2] = P[:, axis + 2, axis] = s1 / dt_s
        P[:, axis + 2, axis + 2] = (s0 + s1) / dt_s**2
    return x, P
