"""LIHT, learned iterative hard thresholding: ``G_t(x) = H_θt(x + W(y − Φx))``, ``H_θ(v) = v·1[|v| > θ]``.

The learned version of IHT (Blumensath & Davies 2009; learned as in Xin et al. 2016), the
ℓ0 counterpart of LISTA. Learnable: ``W`` (n × m, init ``Φᵀ/L``; tied or ``W_t``) and ``θ_t``
(init ``λ/L``, the seed's threshold init).

Gradient surrogate for θ: ``H_θ`` is piecewise constant in θ, so its true derivative is zero
almost everywhere and θ_t would never learn. The forward pass is the exact hard threshold, and
``x`` gets its exact a.e. gradient ``1[|v| > θ]``; θ_t alone gets the gradient of the sigmoid
relaxation ``v·σ((|v| − θ)/τ)`` (straight-through for θ), with a fixed width
``τ = surrogate_width · λ/L`` chosen at build time.
"""

from __future__ import annotations

from pydantic import Field
from torch import Tensor

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep

from ._lista import ThresholdOptions, lista_threshold, lista_weight
from ._shrinkage import hard_threshold_st


class LIHTOptions(ThresholdOptions):
    surrogate_width: float = Field(
        1.0, gt=0.0, description="width τ of the sigmoid relaxation giving θ its gradient, in units of λ/L"
    )


class LIHTStep(UnfoldingStep):
    """LIHT layer H_θt(x + W(y − Φx)), learned hard thresholding; learnable W (tied or W_t) and θ_t."""

    name = "liht"
    requires = frozenset({"matrix"})
    Options = LIHTOptions
    tieable = ("W",)

    def __init__(self, problem: Problem, options: LIHTOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.tieable_parameter("W", lambda: lista_weight(problem))  # Φᵀ/L, (n, m)
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale
        self.width = options.surrogate_width * problem.lam / problem.lipschitz

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        residual = ctx.y - self.problem.measure(x)  # (batch, m)
        return hard_threshold_st(x + residual @ self.W.T, self.theta, self.width)
