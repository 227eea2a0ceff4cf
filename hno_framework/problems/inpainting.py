"""Image-patch inpainting (``kind: inpainting``): recover a ``p × p`` patch from its observed pixels.

* ``n = p²`` pixels, row-major (``problem.patch_shape = (p, p)``); a fixed random mask, drawn
  from ``seed``, keeps ``m`` of them (``m = n − round(missing_ratio · n)`` when
  ``missing_ratio`` is given, e.g. the seed's 50 %).
* Φ ``(m, n)``: the kept rows of the identity, in increasing pixel order, so ``Φx`` lists the
  observed pixels and ``Φᵀy`` puts them back (zeros elsewhere); ``L = ‖Φ‖₂² = 1``.
* D ``(n, n)``: the orthonormal 2-D DCT, so basis steps (e.g. ``lista-cs``) apply.
* Synthetic signals sparse in D by default (``x* = Dᵀ s``, Bernoulli(p)·N(0, 1) ``s``), with the
  ``lasso`` kind's noise model on the observed pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError
from .base import Problem
from .cs import patch_side
from .dct import dct2_basis

if TYPE_CHECKING:
    from ..config import ProblemConfig


def random_mask(n: int, observed: int, generator: torch.Generator) -> torch.Tensor:
    """Sorted indices of ``observed`` distinct pixels out of ``n``."""
    return torch.randperm(n, generator=generator)[:observed].sort().values


def make_inpainting_problem(cfg: ProblemConfig) -> Problem:
    """The ``inpainting`` :class:`Problem`: Φ = kept rows of I_n, 2-D DCT basis, ``patch_shape = (p, p)``."""
    side = patch_side(cfg)
    if cfg.m > cfg.n:
        raise ConfigError(
            f"problem kind 'inpainting' observes m of the n={cfg.n} pixels, but m={cfg.m}; "
            "set problem.missing_ratio (e.g. 0.5) or m ≤ n"
        )
    if cfg.condition_number != 1.0:
        raise ConfigError("problem kind 'inpainting' has a mask operator: condition_number does not apply; remove it")
    g = torch.Generator().manual_seed(cfg.seed)
    kept = random_mask(cfg.n, cfg.m, g)
    phi = torch.eye(cfg.n, dtype=torch.float64)[kept]
    basis = dct2_basis(side)
    return Problem(phi.float(), cfg.lam, basis=basis.float(), kind="inpainting", patch_shape=(side, side))
