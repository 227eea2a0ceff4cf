"""What the LISTA family of built-in steps shares: the ``threshold_scale`` option and LISTA's initial
point, the ISTA step it unfolds (Gregor & LeCun 2010; Chen et al. 2018).

ISTA's layer is ``η_{λ/L}(x + Φᵀ(y − Φx)/L)``, so a learned ``η_θt(x + W(y − Φx))`` starts from
``W = Φᵀ/L`` ``(n, m)`` and ``θ_t = threshold_scale · λ/L``, with ``L = ‖Φ‖₂²``.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import Options, Problem


class ThresholdOptions(Options):
    """Options of a step with a learned threshold θ_t initialised from λ/L."""

    threshold_scale: float = Field(1.0, gt=0.0, description="θ_t init = threshold_scale · λ/L")


def lista_weight(problem: Problem) -> Tensor:
    """``W = Φᵀ/L`` ``(n, m)``, a fresh tensor in Φ's dtype (for ``tieable_parameter("W", ...)``)."""
    return problem.phi.detach().T.clone() / problem.lipschitz


def lista_threshold(problem: Problem, scale: float) -> nn.Parameter:
    """The learnable threshold ``θ_t = scale · λ/L``, a scalar in Φ's dtype."""
    return nn.Parameter(torch.tensor(scale * problem.lam / problem.lipschitz, dtype=problem.phi.dtype))
