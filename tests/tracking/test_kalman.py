"""The batched filter and association building blocks, checked against independent references:
filterpy's KalmanFilter, finite differences of the sky projection, brute-force search and a dense
assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from filterpy.common import Q_continuous_white_noise
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from orbitlink.tracking.association import (
    candidate_pairs,
    chi2_gate,
    chi_square_quantile,
    gnn_assign,
)
from orbitlink.tracking.kalman import (
    POSITION_H,
    constant_velocity_transition,
    mahalanobis_sq,
    predict,
    recentre,
    two_point_initial_state,
    update,
    white_noise_acceleration,
)
from orbitlink.tracking.sky import (
    angular_separation_deg,
    gnomonic_from_radec,
    radec_from_gnomonic,
    unit_from_radec,
)


def _random_covariance(rng: np.random.Generator, n: int, dim: int, scale: float) -> np.ndarray:
    A = rng.normal(size=(n, dim, dim)) * scale
    return A @ np.swapaxes(A, 1, 2) + np.eye(dim) * scale**2


@pytest.mark.parametrize(
    "H",
    [
        POSITION_H,
        np.array([[0.8, -0.6, 0.1, 0.0], [0.6, 0.8, 0.0, -0.2]]),
        np.array([[1.0, 0.5, 2.0, 0.0]]),
    ],
    ids=["position", "rotated", "one-row"],
)
def test_batched_filter_matches_filterpy(H: np.ndarray) -> None:
    rng = np.random.default_rng(42)
    n_tracks, n_steps = 5, 6
    k = H.shape[0]
    x = rng.normal(size=(n_tracks, 4))
    P = _random_covariance(rng, n_tracks, 4, 0.3)
    q = rng.uniform(1e-3, 1e-1, n_tracks)
    R = _random_covariance(rng, n_tracks, k, 0.05)

    references = []
    for i in range(n_tracks):
        kf = KalmanFilter(dim_x=4, dim_z=k)
        kf.x = x[i].copy()
        kf.P = P[i].copy()
        kf.H = H
        kf.R = R[i]
        references.append(kf)

    for step in range(n_steps):
        dt = 0.5 + step * 0.7
        F = constant_velocity_transition(dt)
        Q = white_noise_acceleration(dt, q)
        z = rng.normal(size=(n_tracks, k))
        x, P = predict(x, P, F, Q)
        x, P = update(x, P, z, R, H)
        for i, kf in enumerate(references):
            kf.F = F
            kf.Q = Q_continuous_white_noise(2, dt, q[i], block_size=2, order_by_dim=False)
            kf.predict()
            kf.update(z[i])
            np.testing.assert_allclose(x[i], kf.x, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(P[i], kf.P, rtol=1e-9, atol=1e-12)


def test_process_noise_matches_filterpy_and_per_track_shape() -> None:
    Q = white_noise_acceleration(3.0, np.array([2.0, 0.5]))
    assert Q.shape == (2, 4, 4)
    for i, q in enumerate([2.0, 0.5]):
        expected = Q_continuous_white_noise(2, 3.0, q, block_size=2, order_by_dim=False)
        np.testing.assert_allclose(Q[i], expected, rtol=1e-15)


def test_mahalanobis_matches_chi_square_statistics() -> None:
    rng = np.random.default_rng(7)
    S = _random_covariance(rng, 1, 2, 1.0)[0]
    y = rng.multivariate_normal(np.zeros(2), S, size=20000)
    d2 = mahalanobis_sq(y, np.broadcast_to(S, (len(y), 2, 2)))
    # The 2x2 closed form agrees with a general solve.
    reference = np.einsum("ni,ni->n", y, np.linalg.solve(S, y.T).T)
    np.testing.assert_allclose(d2, reference, rtol=1e-12)
    # The squared distances of true innovations are chi-square with 2 dof.
    gate = chi2_gate(0.99)
    assert gate == pytest.approx(chi2.ppf(0.99, 2), rel=1e-12)
    assert np.mean(d2 < gate) == pytest.approx(0.99, abs=0.003)
    assert np.mean(d2) == pytest.approx(2.0, rel=0.03)


# Places on the sky where a naive RA/Dec filter would break: RA wrap, close to both poles.
PLACES = [(359.9, 10.0), (0.05, -45.0), (123.0, 89.95), (250.0, -89.9), (180.0, 0.0)]


@pytest.mark.parametrize("ra0, dec0", PLACES)
def test_recentre_moves_plane_to_the_position_and_transforms_rates(ra0: float, dec0: float) -> None:
    rng = np.random.default_rng(int(ra0 * 10))
    n = 6
    x = np.column_stack(
        [
            rng.uniform(-2, 2, n),
            rng.uniform(-2, 2, n),
            rng.uniform(-0.5, 0.5, n),
            rng.uniform(-0.5, 0.5, n),
        ]
    )
    P = _random_covariance(rng, n, 4, 0.01)
    ra0s, dec0s = np.full(n, ra0), np.full(n, dec0)
    ra, dec, x_new, P_new = recentre(ra0s, dec0s, x, P)

    expected_ra, expected_dec = radec_from_gnomonic(x[:, 0], x[:, 1], ra0s, dec0s)
    assert np.all(angular_separation_deg(ra, dec, expected_ra, expected_dec) < 1e-10)
    np.testing.assert_array_equal(x_new[:, :2], 0.0)

    # Rates: finite differences of a point moving linearly in the old plane, seen in the new.
    h = 1e-4
    ahead = radec_from_gnomonic(x[:, 0] + h * x[:, 2], x[:, 1] + h * x[:, 3], ra0s, dec0s)
    behind = radec_from_gnomonic(x[:, 0] - h * x[:, 2], x[:, 1] - h * x[:, 3], ra0s, dec0s)
    xi_a, eta_a = gnomonic_from_radec(*ahead, ra, dec)
    xi_b, eta_b = gnomonic_from_radec(*behind, ra, dec)
    rate = np.column_stack([(xi_a - xi_b) / (2 * h), (eta_a - eta_b) / (2 * h)])
    np.testing.assert_allclose(x_new[:, 2:], rate, rtol=1e-6, atol=1e-9)

    # The covariance goes through the same Jacobian: it stays symmetric positive definite
    # and its position block matches the finite-difference Jacobian of the plane change.
    assert np.allclose(P_new, np.swapaxes(P_new, 1, 2), rtol=0, atol=0)
    assert np.all(np.linalg.eigvalsh(P_new) > 0)
    J = np.empty((n, 2, 2))
    for j, step in enumerate(np.eye(2)):
        a = radec_from_gnomonic(x[:, 0] + h * step[0], x[:, 1] + h * step[1], ra0s, dec0s)
        b = radec_from_gnomonic(x[:, 0] - h * step[0], x[:, 1] - h * step[1], ra0s, dec0s)
        xi_a, eta_a = gnomonic_from_radec(*a, ra, dec)
        xi_b, eta_b = gnomonic_from_radec(*b, ra, dec)
        J[:, 0, j] = (xi_a - xi_b) / (2 * h)
        J[:, 1, j] = (eta_a - eta_b) / (2 * h)
    np.testing.assert_allclose(
        P_new[:, :2, :2], J @ P[:, :2, :2] @ np.swapaxes(J, 1, 2), rtol=1e-6, atol=1e-12
    )


def test_recentre_of_a_centred_state_changes_nothing() -> None:
    """A track already at its tangent point keeps its plane, state and covariance."""
    rng = np.random.default_rng(3)
    n = 4
    ra0, dec0 = np.array([359.99, 10.0, 200.0, 45.0]), np.array([89.99, -30.0, -89.5, 0.0])
    x = np.column_stack([np.zeros((n, 2)), rng.normal(size=(n, 2)) * 0.3])
    P = _random_covariance(rng, n, 4, 0.01)
    ra, dec, x_new, P_new = recentre(ra0, dec0, x, P)
    assert np.all(angular_separation_deg(ra, dec, ra0, dec0) < 1e-12)
    np.testing.assert_allclose(x_new, x, atol=1e-14)
    np.testing.assert_allclose(P_new, P, rtol=1e-12, atol=1e-18)


def test_two_point_initial_state_is_the_linear_estimate() -> None:
    """Velocity is the displacement over dt; covariance is A diag(R0, R1) A^T of that map."""
    ra0, dec0 = np.array([359.95, 12.0]), np.array([89.9, -20.0])
    ra1, dec1 = radec_from_gnomonic(np.array([0.3, -0.02]), np.array([0.1, 0.05]), ra0, dec0)
    s0, s1, dt = np.array([2e-3, 1e-4]), np.array([3e-3, 2e-4]), 1.5
    x, P = two_point_initial_state(ra0, dec0, s0, ra1, dec1, s1, dt)
    xi_prev, eta_prev = gnomonic_from_radec(ra0, dec0, ra1, dec1)
    np.testing.assert_allclose(x[:, :2], 0.0)
    np.testing.assert_allclose(x[:, 2], -xi_prev / dt)
    np.testing.assert_allclose(x[:, 3], -eta_prev / dt)
    for i in range(2):
        # state = A @ (z_prev, z_new) with z in the new plane
        A = np.zeros((4, 4))
        A[0, 2] = A[1, 3] = 1.0
        A[2, 0], A[2, 2] = -1 / dt, 1 / dt
        A[3, 1], A[3, 3] = -1 / dt, 1 / dt
        Rz = np.diag([s0[i] ** 2, s0[i] ** 2, s1[i] ** 2, s1[i] ** 2])
        np.testing.assert_allclose(P[i], A @ Rz @ A.T, rtol=1e-12)


def test_candidate_pairs_equal_brute_force() -> None:
    rng = np.random.default_rng(11)
    ra_t, dec_t = rng.uniform(350, 370, 60) % 360, rng.uniform(-10, 10, 60)
    ra_d, dec_d = rng.uniform(350, 370, 300) % 360, rng.uniform(-10, 10, 300)
    radius = rng.uniform(0.1, 3.0, 60)
    rows, cols = candidate_pairs(unit_from_radec(ra_t, dec_t), radius, unit_from_radec(ra_d, dec_d))
    separation = angular_separation_deg(ra_t[:, None], dec_t[:, None], ra_d, dec_d)
    expected = np.argwhere(separation <= radius[:, None])
    np.testing.assert_array_equal(np.column_stack([rows, cols]), expected)
    assert len(rows) > 100  # the scene really has overlaps across RA = 0


def _brute_force_cost(cost: np.ndarray, miss: np.ndarray) -> float:
    """Best total by enumeration: each row takes one allowed column or misses."""
    n_rows, n_cols = cost.shape
    best = np.inf
    for choice in itertools.product(range(-1, n_cols), repeat=n_rows):
        taken = [c for c in choice if c >= 0]
        if len(taken) != len(set(taken)):
            continue
        total = sum(miss[r] if c < 0 else cost[r, c] for r, c in enumerate(choice))
        best = min(best, total)
    return best


def test_gnn_assign_is_optimal_on_random_sparse_problems() -> None:
    rng = np.random.default_rng(13)
    for _ in range(40):
        n_rows, n_cols = rng.integers(1, 5), rng.integers(1, 5)
        cost = np.where(
            rng.random((n_rows, n_cols)) < 0.6, rng.uniform(0, 10, (n_rows, n_cols)), np.inf
        )
        miss = np.full(n_rows, 9.21)
        rows, cols = np.nonzero(np.isfinite(cost))
        chosen = gnn_assign(rows, cols, cost[rows, cols], miss, n_rows, n_cols)
        r, c = rows[chosen], cols[chosen]
        assert len(set(c.tolist())) == len(c) and len(set(r.tolist())) == len(r)
        assert np.all(np.isfinite(cost[r, c]))
        total = cost[r, c].sum() + miss[np.setdiff1d(np.arange(n_rows), r)].sum()
        assert total == pytest.approx(_brute_force_cost(cost, miss))


def test_gnn_assign_matches_the_dense_assignment_over_many_components() -> None:
    # Many small clusters in one call, per-row miss costs, some costs below zero: the total
    # equals the dense linear_sum_assignment's with a private miss column per row.
    rng = np.random.default_rng(29)
    for _ in range(20):
        n_rows, n_cols = 40, 50
        near = np.abs(rng.integers(0, n_cols, n_rows)[:, None] - np.arange(n_cols)) <= 2
        cost = np.where(
            near & (rng.random((n_rows, n_cols)) < 0.5), rng.normal(4, 3, near.shape), np.inf
        )
        miss = rng.uniform(3.0, 9.0, n_rows)
        rows, cols = np.nonzero(np.isfinite(cost))
        chosen = gnn_assign(rows, cols, cost[rows, cols], miss, n_rows, n_cols)
        r, c = rows[chosen], cols[chosen]
        assert len(set(c.tolist())) == len(c) and np.all(np.diff(r) > 0)
        total = cost[r, c].sum() + miss[np.setdiff1d(np.arange(n_rows), r)].sum()
        dense = np.full((n_rows, n_cols + n_rows), 1e9)
        dense[rows, cols] = np.minimum(cost[rows, cols], 1e9)
        dense[np.arange(n_rows), n_cols + np.arange(n_rows)] = miss
        rr, cc = linear_sum_assignment(dense)
        assert total == pytest.approx(dense[rr, cc].sum())


def test_gnn_assign_resolves_contention_for_one_detection() -> None:
    # Tracks 0 and 1 both want detection 5; track 1 also sees detection 7 a bit further.
    rows = np.array([0, 1, 1, 2])
    cols = np.array([5, 5, 7, 9])
    cost = np.array([1.0, 0.5, 2.0, 20.0])
    chosen = gnn_assign(rows, cols, cost, 9.21, 3, 10)
    assert chosen.tolist() == [0, 2]  # track 2's pair costs more than a miss
    # Dense reference with the same miss columns.
    dense = np.full((3, 10 + 3), 1e9)
    dense[rows, cols] = cost
    dense[np.arange(3), 10 + np.arange(3)] = 9.21
    rr, cc = linear_sum_assignment(dense)
    assert [(a, b) for a, b in zip(rr, cc) if b < 10] == [(0, 5), (1, 7)]


#: scipy.special's inverse of the upper tail against scipy.stats' quantile.
QUANTILE_RTOL = 1e-9


def test_chi_square_quantile_matches_scipy_stats_over_tails_and_dofs() -> None:
    probability = np.array([1e-6, 1e-3, 0.025, 0.5, 0.975, 0.9999, 1.0 - 1e-7])[:, None]
    dof = np.array([1, 2, 3, 6, 26, 100, 1000, 20000])[None, :]
    np.testing.assert_allclose(
        chi_square_quantile(probability, dof), chi2.ppf(probability, dof), rtol=QUANTILE_RTOL
    )
    assert chi2_gate(0.9999, 26) == pytest.approx(chi2.ppf(0.9999, 26), rel=QUANTILE_RTOL)


def test_chi2_gate_rejects_bad_probability() -> None:
    with pytest.raises(ValueError, match="gate probability"):
        chi2_gate(1.0)
    assert chi2_gate(0.95, dof=3) == pytest.approx(chi2.ppf(0.95, 3))
