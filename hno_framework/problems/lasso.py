"""Synthetic sparse coding (Lasso) as in Chen et al. 2018 (LISTA-CPSS), which the seed follows.

* Φ ``(m, n)``: i.i.d. N(0, 1/m) entries, columns normalised to unit ℓ2 norm. For a condition
  number κ > 1, as the LISTA-CPSS reference problem generator does: with ``Φ = U diag(σ) Vᵀ``,
  the singular values are replaced by ``s = logspace(0, −log10 κ, k)`` (k = min(m, n)) rescaled
  to ``s·√n/‖s‖`` (so ``‖Φ‖_F² = n``), and *then* the columns are renormalised to unit norm. So Φ
  keeps unit columns at every κ; its condition number is then close to, not exactly, κ
  (4.98 at κ = 5 and 49.0 at κ = 50 for 250 × 500, seed 0).
* x* ``(batch, n)``: Bernoulli(p) · N(0, 1).
* y = Φx* + e, with e Gaussian of std ``std(Φx*) · 10^(−SNR/20)`` per sample (no noise when SNR is None).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import MatrixProblem, Problem, SignalBatch


def gaussian_matrix(m: int, n: int, generator: torch.Generator, condition_number: float = 1.0) -> Tensor:
    """Φ ``(m, n)`` float64 with unit-norm columns; for κ > 1 singular values ``logspace(0, −log10 κ)·√n/‖s‖``
    before the columns are normalised (module docstring)."""
    phi = torch.randn(m, n, generator=generator, dtype=torch.float64) / math.sqrt(m)
    if condition_number > 1.0:
        u, _, vh = torch.linalg.svd(phi, full_matrices=False)
        s = torch.logspace(0.0, -math.log10(condition_number), min(m, n), dtype=torch.float64)
        phi = (u * (s * math.sqrt(n) / s.norm())) @ vh
    return phi / phi.norm(dim=0, keepdim=True)


def sparse_signals(batch: int, n: int, sparsity: float, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """x* = Bernoulli(p) ⊙ N(0, 1), shape ``(batch, n)``."""
    support = torch.rand(batch, n, generator=generator, dtype=dtype) < sparsity
    return support.to(dtype) * torch.randn(batch, n, generator=generator, dtype=dtype)


def add_noise(y: Tensor, snr_db: float | None, generator: torch.Generator) -> Tensor:
    """y + e with per-sample std(e) = std(y) · 10^(−SNR/20); identity when ``snr_db`` is None."""
    if snr_db is None:
        return y
    std = y.std(dim=1, keepdim=True) * 10.0 ** (-snr_db / 20.0)
    return y + std * torch.randn(y.shape, generator=generator, dtype=y.dtype)


class SparseSignalSampler:
    """Draws ``(x*, y)`` batches for a problem: ``sample(batch, generator) -> SignalBatch``."""

    def __init__(self, problem: Problem, sparsity: float, snr_db: float | None) -> None:
        self.problem, self.sparsity, self.snr_db = problem, sparsity, snr_db

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch:
        phi = self.problem.phi
        x = sparse_signals(batch, self.problem.n, self.sparsity, generator, torch.float64)
        y = add_noise(x @ phi.detach().cpu().double().T, self.snr_db, generator)
        return SignalBatch(x, y).to(phi.device, phi.dtype)


def make_lasso_problem(m: int, n: int, lam: float, seed: int, condition_number: float = 1.0) -> Problem:
    """Build the Lasso :class:`Problem` (D = I) with a seeded Gaussian Φ."""
    g = torch.Generator().manual_seed(seed)
    return MatrixProblem(gaussian_matrix(m, n, g, condition_number).float(), lam, kind="lasso")
