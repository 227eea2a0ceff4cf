"""Synthetic sparse coding (Lasso) as in Chen et al. 2018 (LISTA-CPSS), which the seed follows.

* Φ ``(m, n)``: i.i.d. N(0, 1/m) entries, columns normalised to unit ℓ2 norm; for a
  condition number κ > 1 the singular values are replaced by ``logspace(0, -log10 κ, m)``
  (so κ(Φ) is exactly κ; the columns are then no longer exactly unit norm).
* x* ``(batch, n)``: Bernoulli(p) · N(0, 1).
* y = Φx* + e, with e Gaussian of std ``std(Φx*) · 10^(−SNR/20)`` per sample (no noise when SNR is None).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Problem, SignalBatch


def gaussian_matrix(m: int, n: int, generator: torch.Generator, condition_number: float = 1.0) -> Tensor:
    """Φ with unit-norm N(0, 1/m) columns, optionally with singular values log-spaced in [1/κ, 1]. float64."""
    phi = torch.randn(m, n, generator=generator, dtype=torch.float64) / math.sqrt(m)
    phi = phi / phi.norm(dim=0, keepdim=True)
    if condition_number > 1.0:
        u, _, vh = torch.linalg.svd(phi, full_matrices=False)
        k = min(m, n)
        s = torch.logspace(0.0, -math.log10(condition_number), k, dtype=torch.float64)
        phi = u @ torch.diag(s) @ vh
    return phi


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
    return Problem(gaussian_matrix(m, n, g, condition_number).float(), lam, kind="lasso")
