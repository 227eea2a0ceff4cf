"""ISTA: ``G(x) = η_θ(x + Φᵀ(y − Φx)/L)`` with ``θ = λ/L`` (a proximal-gradient step on problem 1, D = I)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Options, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold


class ISTAOptions(Options):
    learn_threshold: bool = Field(False, description="make θ_t a learnable per-layer parameter (init λ/L)")
    step_scale: float = Field(1.0, gt=0.0, lt=2.0, description="step size as a multiple of 1/L (convergent below 2)")


class ISTAStep(UnfoldingStep):
    """ISTA layer η_{λ/L}(x + Φᵀ(y − Φx)/L); no learnable weights except an optional θ_t."""

    name = "ista"
    Options = ISTAOptions
    supports_mask = True

    def __init__(self, problem: Problem, options: ISTAOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        theta = torch.tensor(problem.lam / problem.lipschitz)
        if options.learn_threshold:
            self.theta = nn.Parameter(theta)
        else:
            self.register_buffer("theta", theta)
        self.step_size = options.step_scale / problem.lipschitz

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        problem = self.operator(ctx)
        residual = ctx.y - problem.measure(x, ctx.mask)  # (batch, *measurement_shape)
        return soft_threshold(x + self.step_size * problem.adjoint(residual, ctx.mask), self.theta)
