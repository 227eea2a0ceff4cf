"""ISTA / FISTA baselines: convergence to the Lasso solution, FISTA faster, λ tuning, iterations to reach."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hno_framework.problems.base import SignalBatch
from hno_framework.problems.lasso import gaussian_matrix, sparse_signals
from hno_studies.classical import (
    iterations_to_reach,
    lasso_objective,
    lipschitz,
    optimality_gap,
    solve,
    tune_lambda,
)


def tiny_problem(m: int = 30, n: int = 60, batch: int = 8, seed: int = 0, kappa: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    phi = gaussian_matrix(m, n, g, kappa)  # float64
    x = sparse_signals(batch, n, 0.1, g, torch.float64)
    return phi, SignalBatch(x, x @ phi.T)


def objective_after(phi, data, lam, k, algorithm):
    return lasso_objective(phi, data.y, solve(phi, data, lam, k, algorithm).x, lam)


def test_fista_converges_to_the_lasso_solution() -> None:
    phi, data = tiny_problem(kappa=5.0)
    lam = 0.05
    fista = solve(phi, data, lam, 3000, "fista")
    assert float(optimality_gap(phi, data.y, fista.x, lam).max()) < 1e-7
    ista = solve(phi, data, lam, 30000, "ista")  # a long run of the other method lands on the same point
    torch.testing.assert_close(fista.x, ista.x, atol=1e-6, rtol=0)
    # the starting point is far from optimal, so the check is not vacuous
    assert float(optimality_gap(phi, data.y, torch.zeros_like(data.x), lam).max()) > 0.1


def test_zero_is_the_solution_for_a_large_lambda() -> None:
    phi, data = tiny_problem()
    lam = float((data.y @ phi).abs().max()) * 1.01  # λ ≥ ‖Φᵀy‖∞ ⇒ x = 0 is optimal
    run = solve(phi, data, lam, 20, "fista")
    assert torch.count_nonzero(run.x) == 0
    assert float(optimality_gap(phi, data.y, run.x, lam).max()) == 0.0
    assert run.nmse_db == pytest.approx([0.0] * 21)


def test_fista_beats_ista_per_iteration() -> None:
    phi, data = tiny_problem(kappa=10.0)
    lam = 0.02
    best = lasso_objective(phi, data.y, solve(phi, data, lam, 20000, "fista").x, lam).sum()
    L = lipschitz(phi)
    x_star_sq = float(solve(phi, data, lam, 20000, "fista").x.pow(2).sum())
    for k in (10, 30, 100, 300):
        gap_fista = float(objective_after(phi, data, lam, k, "fista").sum() - best)
        gap_ista = float(objective_after(phi, data, lam, k, "ista").sum() - best)
        assert gap_fista < gap_ista
        # and both obey their classical rates from x_0 = 0 (Beck & Teboulle 2009, Thms 3.1 and 4.4)
        assert gap_ista <= L * x_star_sq / (2 * k) + 1e-9
        assert gap_fista <= 2 * L * x_star_sq / (k + 1) ** 2 + 1e-9


def test_nmse_curve_matches_final_iterate_and_chunks() -> None:
    phi, data = tiny_problem(batch=10)
    whole = solve(phi, data, 0.05, 40, "fista")
    chunked = solve(phi, data, 0.05, 40, "fista", chunk=3)
    assert len(whole.nmse_db) == 41 and whole.nmse_db[0] == pytest.approx(0.0)
    assert chunked.nmse_db == pytest.approx(whole.nmse_db, abs=1e-9)
    err = float((whole.x - data.x).pow(2).sum() / data.x.pow(2).sum())
    assert whole.nmse_db[-1] == pytest.approx(10 * math.log10(err))


def test_tune_lambda_picks_the_best_validation_nmse() -> None:
    phi, data = tiny_problem(batch=16)
    noisy = SignalBatch(data.x, data.y + 0.05 * torch.randn(data.y.shape, generator=torch.Generator().manual_seed(1),
                                                            dtype=torch.float64))
    tuned = tune_lambda(phi, noisy, [0.001, 0.01, 0.1, 1.0], 200, "fista")
    assert tuned.lam == min(tuned.validation_nmse_db, key=tuned.validation_nmse_db.get)
    assert tuned.validation_nmse_db[1.0] > tuned.validation_nmse_db[tuned.lam]  # the grid is not flat


def test_iterations_to_reach_examples() -> None:
    curve = [0.0, -3.0, -6.0, -5.0, -12.0]
    assert iterations_to_reach(curve, -6.0) == 2
    assert iterations_to_reach(curve, -5.5) == 2
    assert iterations_to_reach(curve, -10.0) == 4
    assert iterations_to_reach(curve, -13.0) is None
    assert iterations_to_reach(curve, 1.0) == 0


@given(st.lists(st.floats(-80, 0, allow_nan=False), min_size=1, max_size=40), st.floats(-90, 5, allow_nan=False))
def test_iterations_to_reach_is_the_first_crossing(curve: list[float], target: float) -> None:
    k = iterations_to_reach(curve, target)
    if k is None:
        assert all(v > target for v in curve)
    else:
        assert curve[k] <= target and all(v > target for v in curve[:k])


def test_support_oracle_solves_the_normal_equations_on_each_samples_support() -> None:
    import numpy as np

    from hno_studies.classical import oracle_least_squares

    rng = np.random.default_rng(3)
    m, n, batch = 12, 30, 6
    phi = rng.standard_normal((m, n)) / np.sqrt(m)
    x = rng.standard_normal((batch, n)) * (rng.random((batch, n)) < 0.15)
    x[0] = 0.0  # an empty support gives x̂ = 0
    noise = 0.05 * rng.standard_normal((batch, m))
    y = x @ phi.T + noise
    got = oracle_least_squares(torch.from_numpy(phi), SignalBatch(torch.from_numpy(x), torch.from_numpy(y))).numpy()
    for i in range(batch):
        want = np.zeros(n)
        support = np.flatnonzero(x[i])
        if support.size:
            a = phi[:, support]
            want[support] = np.linalg.solve(a.T @ a, a.T @ y[i])  # the normal equations
        np.testing.assert_allclose(got[i], want, atol=1e-10)
    exact = oracle_least_squares(torch.from_numpy(phi), SignalBatch(torch.from_numpy(x), torch.from_numpy(x @ phi.T)))
    np.testing.assert_allclose(exact.numpy(), x, atol=1e-10)  # noiseless: x* recovered


def reference_fista(phi, y, lam: float, iterations: int) -> list[list[float]]:
    """FISTA (Beck & Teboulle 2009) for one sample, as plain Python lists: y₁ = x₀ = 0, t₁ = 1;
    x_k = η_{λ/L}(y_k − Φᵀ(Φ y_k − y)/L); t_{k+1} = (1 + √(1 + 4 t_k²))/2; y_{k+1} = x_k + (t_k − 1)/t_{k+1} (x_k − x_{k−1})."""
    rows = phi.tolist()
    m, n = len(rows), len(rows[0])
    L = float(torch.linalg.matrix_norm(phi, ord=2) ** 2)
    x_prev = [0.0] * n
    point = [0.0] * n
    t = 1.0
    for _ in range(iterations):
        residual = [sum(rows[i][j] * point[j] for j in range(n)) - y[i] for i in range(m)]
        grad = [sum(rows[i][j] * residual[i] for i in range(m)) for j in range(n)]
        v = [point[j] - grad[j] / L for j in range(n)]
        x = [math.copysign(max(abs(a) - lam / L, 0.0), a) for a in v]
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        point = [x[j] + (t - 1) / t_next * (x[j] - x_prev[j]) for j in range(n)]
        x_prev, t = x, t_next
    return [x_prev]


def test_fista_matches_an_independent_recurrence() -> None:
    phi, data = tiny_problem(m=12, n=24, batch=2, seed=3)
    for k in (1, 2, 5, 40):
        ours = solve(phi, data, 0.05, k, "fista").x
        for i in range(2):
            (ref,) = reference_fista(phi, data.y[i].tolist(), 0.05, k)
            assert torch.allclose(ours[i], torch.tensor(ref, dtype=torch.float64), atol=1e-12), (k, i)


def test_the_fista_reference_tells_a_wrong_momentum_apart() -> None:
    """The pin can fail: the momentum (t_k − 1)/t_k instead of (t_k − 1)/t_{k+1} gives other iterates by k = 5."""
    phi, data = tiny_problem(m=12, n=24, batch=1, seed=3)
    (ref,) = reference_fista(phi, data.y[0].tolist(), 0.05, 5)
    L = float(torch.linalg.matrix_norm(phi, ord=2) ** 2)
    x_prev = torch.zeros(24, dtype=torch.float64)
    point, t = x_prev.clone(), 1.0
    for _ in range(5):
        v = point - phi.T @ (phi @ point - data.y[0]) / L
        x = torch.sign(v) * torch.clamp(v.abs() - 0.05 / L, min=0)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        point = x + (t - 1) / t * (x - x_prev)  # the wrong momentum
        x_prev, t = x, t_next
    assert not torch.allclose(x_prev, torch.tensor(ref, dtype=torch.float64), atol=1e-6)
