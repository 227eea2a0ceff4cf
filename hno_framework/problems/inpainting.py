"""Image-patch inpainting (``kind: inpainting``): recover a ``p × p`` patch from its observed pixels.

* ``n = p²`` pixels, row-major (``problem.patch_shape = (p, p)``); a fixed random mask, drawn
  from ``seed``, keeps ``m`` of them (``m = n − round(missing_ratio · n)`` when
  ``missing_ratio`` is given, e.g. the seed's 50 %).
* Φ ``(m, n)``: the kept rows of the identity, in increasing pixel order, so ``Φx`` lists the
  observed pixels and ``Φᵀy`` puts them back (zeros elsewhere); ``L = ‖Φ‖₂² = 1``.
* D ``(n, n)``: the orthonormal 2-D DCT, so basis steps (e.g. ``lista-cs``) apply.
* Synthetic signals sparse in D by default (``x* = Dᵀ s``, Bernoulli(p)·N(0, 1) ``s``), with the
  ``lasso`` kind's noise model on the observed pixels; patches of photographs with ``problem.patches``.

``inpainting-dct`` (seed Table 1, after Aberdam et al. 2020): the signal is the vector of 2-D DCT
coefficients ``s = D x_patch`` itself, observed through ``Φ = M Dᵀ`` (the kept pixels of the patch
``Dᵀ s``), and problem (1) has D = I, so ``ista``, ``lista``, ``glista`` apply as on the Lasso; the
patch is ``Dᵀ ŝ``. No ``patch_shape`` (x is not a patch); ``L = ‖M Dᵀ‖₂² = 1``.

``mask: per-sample`` (both kinds): every sample gets its own mask with ``m`` observed pixels
(``per-sample-bernoulli``: each pixel observed with probability ``m/n``, ``m`` on average); Φ is
then the full ``(n, n)`` operator (``I`` or ``Dᵀ``), ``y`` has n entries with NaN at the unobserved
pixels, and ``Φ_i = diag(μ_i) Φ`` (:class:`~hno_framework.problems.base.Problem`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError
from .base import MatrixProblem, Problem, SignalBatch
from .cs import patch_side
from .dct import dct2_basis

if TYPE_CHECKING:
    from ..config import ProblemConfig
    from . import Sampler


def random_mask(n: int, observed: int, generator: torch.Generator) -> torch.Tensor:
    """Sorted indices of ``observed`` distinct pixels out of ``n``."""
    return torch.randperm(n, generator=generator)[:observed].sort().values


def make_inpainting_problem(cfg: ProblemConfig, *, coefficients: bool = False) -> Problem:
    """The ``inpainting`` :class:`Problem` (Φ = kept rows of I_n, 2-D DCT basis, ``patch_shape = (p, p)``), or
    with ``coefficients`` the ``inpainting-dct`` one (Φ = kept rows of Dᵀ, no basis); per-sample masks: all rows."""
    side = patch_side(cfg)
    kind = "inpainting-dct" if coefficients else "inpainting"
    if cfg.m > cfg.n:
        raise ConfigError(
            f"problem kind '{kind}' observes m of the n={cfg.n} pixels, but m={cfg.m}; "
            "set problem.missing_ratio (e.g. 0.5) or m ≤ n"
        )
    if cfg.condition_number != 1.0:
        raise ConfigError(f"problem kind '{kind}' has a mask operator: condition_number does not apply; remove it")
    basis = dct2_basis(side)
    rows = basis.T if coefficients else torch.eye(cfg.n, dtype=torch.float64)  # pixels of x: rows of x @ rows.T
    per_sample = cfg.mask != "fixed"
    if per_sample:
        phi = rows
    else:
        g = torch.Generator().manual_seed(cfg.seed)
        phi = rows[random_mask(cfg.n, cfg.m, g)]
    if coefficients:
        return MatrixProblem(phi.float(), cfg.lam, kind=kind, per_sample_mask=per_sample)
    return MatrixProblem(phi.float(), cfg.lam, basis=basis.float(), kind=kind, patch_shape=(side, side), per_sample_mask=per_sample)


class MaskedSampler:
    """Wraps a sampler of a per-sample-mask problem: each sample keeps ``observed`` random entries of y (NaN
    elsewhere), or with ``bernoulli`` each entry with probability ``observed / n`` (n: the length of y)."""

    def __init__(self, inner: Sampler, observed: int, *, bernoulli: bool = False) -> None:
        self.inner, self.observed, self.bernoulli = inner, observed, bernoulli

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch:
        from ..images.masks import hide, per_sample_masks

        data = self.inner.sample(batch, generator)
        mask = per_sample_masks(batch, data.y.shape[1], self.observed, generator, bernoulli=self.bernoulli)
        mask = mask.to(data.y.device)
        return SignalBatch(data.x, hide(data.y, mask))
