"""LISTA-CS (seed eq. 13): ``G_t(x) = Dᵀ η_θt(D(x + W(y − Φx)))``.

ISTA for problem (1) with an orthonormal basis D, ``min ½‖y − Φx‖² + λ‖Dx‖₁``, iterates
``x_{t+1} = Dᵀ η_{λ/L}(D(x_t + Φᵀ(y − Φx_t)/L))`` (Zhang & Ghanem 2018); LISTA-CS learns the
matrix ``W`` (n × m, init ``Φᵀ/L``; one ``W`` when tied, ``W_t`` per layer when untied, seed
eq. 14 uses tied) and the thresholds ``θ_t`` (init ``λ/L``). The threshold acts on the
coefficients ``Dx``; with ``D = I`` this is LISTA. Batch form: ``Dv`` is ``v @ Dᵀ``, ``Dᵀs`` is ``s @ D``.
"""

from __future__ import annotations

from torch import Tensor

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold

from ._lista import ThresholdOptions, lista_threshold, lista_weight


class LISTACSOptions(ThresholdOptions):
    """Options of lista-cs: ``threshold_scale`` only."""


class LISTACSStep(UnfoldingStep):
    """LISTA-CS layer Dᵀη_θt(D(x + W(y − Φx))) (seed eq. 13); learnable W (tied or W_t) and θ_t; needs a basis D."""

    name = "lista-cs"
    Options = LISTACSOptions
    tieable = ("W",)
    requires = frozenset({"matrix", "basis"})
    supports_mask = True

    def __init__(self, problem: Problem, options: LISTACSOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.tieable_parameter("W", lambda: lista_weight(problem))  # Φᵀ/L, (n, m)
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        basis = self.problem.basis  # (n, n), rows are the atoms of the analysis operator
        residual = ctx.y - self.problem.measure(x, ctx.mask)  # (batch, m), 0 where unobserved
        coefficients = (x + residual @ self.W.T) @ basis.T  # D(x + W r)
        return soft_threshold(coefficients, self.theta) @ basis  # Dᵀ η(·)
