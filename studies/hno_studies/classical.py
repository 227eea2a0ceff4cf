"""Classical Lasso solvers as baselines: ISTA and FISTA, λ tuned on the validation set.

Both solve ``min_x ½‖y − Φx‖² + λ‖x‖₁`` (seed eq. 1 with D = I) from ``x_0 = 0`` with step 1/L,
``L = ‖Φ‖₂²``:

* ISTA:  ``x_{k+1} = η_{λ/L}(x_k + Φᵀ(y − Φx_k)/L)``;
* FISTA (Beck & Teboulle 2009): the same step taken at ``z_k``, then
  ``t_{k+1} = (1 + √(1 + 4t_k²))/2``, ``z_{k+1} = x_{k+1} + ((t_k − 1)/t_{k+1})(x_{k+1} − x_k)``, t_0 = 1.

:func:`oracle_least_squares` (least squares on the true support) is a reference level with noise: an estimator
that has to find the support is not expected to pass it by much (only shrinkage that uses the prior can).

:func:`solve` returns the NMSE (dB) against x* after every iteration (index 0 is x_0 = 0, i.e.
0 dB), the same quantity as a network's NMSE per layer, so iteration k of a solver compares with
layer k of a network. :func:`tune_lambda` picks λ from a grid by the validation NMSE at a given
iteration; :func:`iterations_to_reach` counts the iterations a solver needs to reach an NMSE
("iterations saved" by a network of T layers: that count minus T).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from hno_framework.metrics import ratio_to_db
from hno_framework.ops import lipschitz, soft_threshold
from hno_framework.problems.base import SignalBatch

Algorithm = Literal["ista", "fista"]
ALGORITHMS: tuple[Algorithm, ...] = ("ista", "fista")


@dataclass
class SolverRun:
    """``x`` after the last iteration ``(N, n)`` and ``nmse_db`` after each iteration (length iterations + 1)."""

    algorithm: str
    lam: float
    x: Tensor
    nmse_db: list[float]


def solve(phi: Tensor, data: SignalBatch, lam: float, iterations: int, algorithm: Algorithm = "fista",
          *, chunk: int = 1000) -> SolverRun:
    """Run ISTA or FISTA for ``iterations`` on ``data`` (batch-first ``y`` ``(N, m)``), in chunks of samples."""
    if algorithm not in ("ista", "fista"):
        raise ValueError(f"unknown algorithm '{algorithm}'; use 'ista' or 'fista'")
    phi = phi.detach().to(data.y.dtype)
    L = lipschitz(phi)
    errors = torch.zeros(iterations + 1, dtype=torch.float64)
    xs = []
    for start in range(0, len(data), chunk):
        part = data.slice(start, start + chunk)
        x_true = part.x
        x = torch.zeros_like(x_true)
        z, t = x, 1.0
        b = part.y @ phi / L  # Φᵀy / L, (N, n)
        gram = phi.T @ phi / L  # ΦᵀΦ / L, (n, n)
        errors[0] += x_true.double().pow(2).sum()
        for k in range(1, iterations + 1):
            point = z if algorithm == "fista" else x
            x_next = soft_threshold(point - point @ gram + b, lam / L)
            if algorithm == "fista":
                t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
                z = x_next + ((t - 1.0) / t_next) * (x_next - x)
                t = t_next
            x = x_next
            errors[k] += (x - x_true).double().pow(2).sum()
        xs.append(x)
    ref = data.x.double().pow(2).sum()
    return SolverRun(algorithm, float(lam), torch.cat(xs), ratio_to_db(errors / ref))


@dataclass
class TunedSolver:
    """A solver with λ tuned on the validation set: ``lam``, the validation table, the test run."""

    algorithm: str
    lam: float
    validation_nmse_db: dict[float, float]
    test: SolverRun | None = None

    def as_dict(self) -> dict:
        return {
            "algorithm": self.algorithm,
            "lam": self.lam,
            "validation_nmse_db": {f"{k:g}": v for k, v in self.validation_nmse_db.items()},
            "nmse_db": self.test.nmse_db if self.test is not None else None,
        }


def tune_lambda(phi: Tensor, validation: SignalBatch, lambdas: Sequence[float], iterations: int,
                algorithm: Algorithm = "fista") -> TunedSolver:
    """λ of ``lambdas`` with the lowest validation NMSE after ``iterations`` (ties: the first)."""
    if not lambdas:
        raise ValueError("tune_lambda needs at least one λ")
    table = {float(lam): solve(phi, validation, lam, iterations, algorithm).nmse_db[-1] for lam in lambdas}
    best = min(table, key=lambda lam: (table[lam], list(table).index(lam)))
    return TunedSolver(algorithm, best, table)


def iterations_to_reach(curve_db: Sequence[float], target_db: float) -> int | None:
    """The first iteration k with ``curve_db[k] ≤ target_db`` (None when the curve never gets there)."""
    for k, value in enumerate(curve_db):
        if value <= target_db:
            return k
    return None


def oracle_least_squares(phi: Tensor, data: SignalBatch) -> Tensor:
    """The support oracle, a reference level for estimators that must find the support: for each sample i, least squares on
    the columns of Φ in S_i = supp(x*_i), ``x̂_S = argmin_z ‖y_i − Φ_S z‖²`` and ``x̂ = 0`` off S_i. Noiseless it
    recovers x* exactly (when Φ_S has full column rank); with noise its NMSE is σ² E tr((Φ_Sᵀ Φ_S)⁻¹) / E‖x*‖².
    ``phi``: (m, n); ``data.x``: (batch, n), ``data.y``: (batch, m); returns x̂, (batch, n)."""
    estimate = torch.zeros_like(data.x)
    for i in range(data.x.shape[0]):
        support = data.x[i].nonzero().squeeze(1)
        if support.numel():
            solution = torch.linalg.lstsq(phi[:, support], data.y[i].unsqueeze(1)).solution
            estimate[i, support] = solution.squeeze(1)
    return estimate


def lasso_objective(phi: Tensor, y: Tensor, x: Tensor, lam: float) -> Tensor:
    """``½‖y − Φx‖² + λ‖x‖₁`` per sample, ``(N,)``."""
    return 0.5 * (y - x @ phi.T).pow(2).sum(dim=1) + lam * x.abs().sum(dim=1)


def optimality_gap(phi: Tensor, y: Tensor, x: Tensor, lam: float) -> Tensor:
    """Per-sample violation of the Lasso optimality conditions (0 at a solution), ``(N,)``:
    ``g = Φᵀ(y − Φx)`` must equal ``λ·sign(x_i)`` on the support and satisfy ``|g_i| ≤ λ`` off it."""
    g = (y - x @ phi.T) @ phi
    on = x != 0
    off_violation = torch.where(on, torch.zeros_like(g), (g.abs() - lam).clamp(min=0))
    on_violation = torch.where(on, (g - lam * torch.sign(x)).abs(), torch.zeros_like(g))
    return torch.maximum(off_violation, on_violation).amax(dim=1)
