"""LISTA (Gregor & LeCun 2010; coupled form of Chen et al. 2018): ``G_t(x) = η_θt(x + W(y − Φx))``."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Options, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold


class LISTAOptions(Options):
    threshold_scale: float = Field(1.0, gt=0.0, description="θ_t init = threshold_scale · λ/L")


class LISTAStep(UnfoldingStep):
    """LISTA layer η_θt(x + W(y − Φx)); learnable W (n×m; tied or W_t) and θ_t, init Φᵀ/L and λ/L."""

    name = "lista"
    Options = LISTAOptions
    tieable = ("W",)
    supports_mask = True

    def __init__(self, problem: Problem, options: LISTAOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        L = problem.lipschitz
        self.tieable_parameter("W", lambda: problem.phi.detach().T.clone() / L)  # (n, m)
        self.theta = nn.Parameter(torch.tensor(options.threshold_scale * problem.lam / L))

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        residual = ctx.y - self.problem.measure(x, ctx.mask)  # (batch, m), 0 where unobserved
        return soft_threshold(x + residual @ self.W.T, self.theta)
