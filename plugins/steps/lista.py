"""LISTA (Gregor & LeCun 2010; coupled form of Chen et al. 2018): ``G_t(x) = η_θt(x + W(y − Φx))``."""

from __future__ import annotations

from torch import Tensor

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold

from ._lista import ThresholdOptions, lista_threshold, lista_weight


class LISTAOptions(ThresholdOptions):
    """Options of lista: ``threshold_scale`` only."""


class LISTAStep(UnfoldingStep):
    """LISTA layer η_θt(x + W(y − Φx)); learnable W (n×m; tied or W_t) and θ_t, init Φᵀ/L and λ/L."""

    name = "lista"
    requires = frozenset({"matrix"})
    Options = LISTAOptions
    tieable = ("W",)
    supports_mask = True

    def __init__(self, problem: Problem, options: LISTAOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.tieable_parameter("W", lambda: lista_weight(problem))  # Φᵀ/L, (n, m)
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        residual = ctx.y - self.problem.measure(x, ctx.mask)  # (batch, m), 0 where unobserved
        return soft_threshold(x + residual @ self.W.T, self.theta)
