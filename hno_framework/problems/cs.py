"""Image-patch compressed sensing (``kind: cs``), the natural-image CS setting of the seed.

* A signal is a ``p × p`` image patch flattened row-major: ``n = p²`` (``problem.patch_shape = (p, p)``).
* Φ ``(m, n)``: Gaussian with unit-norm N(0, 1/m) columns (as the ``lasso`` kind, optionally
  with condition number κ); the CS ratio is ``m / n``.
* D ``(n, n)``: the orthonormal 2-D DCT (:func:`~hno_framework.problems.dct.dct2_basis`), so
  problem (1) of the seed reads ``min ½‖y − Φx‖² + λ‖Dx‖₁``; built in float64, stored as float32
  (``.to()`` converts it with the network).
* Synthetic signals sparse in D: ``x* = Dᵀ s`` with Bernoulli(p)·N(0, 1) coefficients ``s``;
  ``y = Φx* + e`` with the ``lasso`` kind's noise model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError
from .base import MatrixProblem, Problem, SignalBatch
from .dct import dct2_basis
from .lasso import add_noise, gaussian_matrix, sparse_signals

if TYPE_CHECKING:
    from ..config import ProblemConfig


def patch_side(cfg: ProblemConfig) -> int:
    """The patch side ``p`` with ``n = p²``: ``cfg.patch_size`` or the square root of ``cfg.n``."""
    if cfg.patch_size is not None:
        if cfg.patch_size**2 != cfg.n:  # guarded by ProblemConfig as well
            raise ConfigError(f"problem kind '{cfg.kind}': n={cfg.n} must equal patch_size² = {cfg.patch_size**2}")
        return cfg.patch_size
    side = math.isqrt(cfg.n)
    if side * side != cfg.n:
        raise ConfigError(
            f"problem kind '{cfg.kind}' works on square image patches, but n={cfg.n} is not a square; "
            f"set problem.patch_size (then n = patch_size², e.g. patch_size: 8 for n = 64) or a square n"
        )
    return side


class BasisSparseSampler:
    """Draws ``x* = Dᵀ s`` (s Bernoulli(p)·N(0, 1)) and ``y = Φx* + e`` for a problem with a basis D."""

    def __init__(self, problem: Problem, sparsity: float, snr_db: float | None) -> None:
        if problem.basis is None:
            raise ConfigError(f"problem kind '{problem.kind}' has no basis D to draw basis-sparse signals from")
        self.problem: Problem = problem
        self.sparsity: float = sparsity
        self.snr_db: float | None = snr_db

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch:
        phi, basis = self.problem.phi, self.problem.basis
        assert basis is not None  # checked in __init__
        s = sparse_signals(batch, self.problem.n, self.sparsity, generator, torch.float64)
        x = s @ basis.detach().cpu().double()  # rows: x = Dᵀ s
        y = add_noise(x @ phi.detach().cpu().double().T, self.snr_db, generator)
        return SignalBatch(x, y).to(phi.device, phi.dtype)


def make_cs_problem(cfg: ProblemConfig) -> Problem:
    """The ``cs`` :class:`Problem`: seeded Gaussian Φ ``(m, p²)``, 2-D DCT basis, ``patch_shape = (p, p)``."""
    side = patch_side(cfg)
    if cfg.missing_ratio is not None:
        raise ConfigError("problem kind 'cs' has no missing pixels: remove problem.missing_ratio (it is for kind: inpainting)")
    if cfg.mask != "fixed":
        raise ConfigError("problem kind 'cs' has no missing pixels: remove problem.mask (it is for the inpainting kinds)")
    g = torch.Generator().manual_seed(cfg.seed)
    phi = gaussian_matrix(cfg.m, cfg.n, g, cfg.condition_number)
    basis = dct2_basis(side)
    return MatrixProblem(phi.float(), cfg.lam, basis=basis.float(), kind="cs", patch_shape=(side, side))
