"""LISTA-CPSS: LISTA with support selection (Chen et al. 2018), ``G_t(x) = η^ss_{θt, p_t}(x + W(y − Φx))``.

``η^ss_{θ, p}`` soft-thresholds every entry except those (per sample) above both θ and the
sample's ``(100 − p)``-th percentile of magnitudes (nearest rank, as the reference code; about
the ``p·n/100`` largest), which pass unchanged ("support selection": entries trusted
to be in the support are not shrunk). The percentage grows with depth,
``p_t = min((t + 1) · 1.2, 13)`` % by default (``ss_percent_per_layer``, ``ss_max_percent``).
Learnable: ``W`` (n × m, init ``Φᵀ/L``; tied or ``W_t``) and ``θ_t`` (init ``λ/L``); with
``p = 0`` this is the LISTA layer (the coupled form of LISTA in Chen et al. 2018; seed, related work).
"""

from __future__ import annotations

from pydantic import Field
from torch import Tensor

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep

from ._lista import ThresholdOptions, lista_threshold, lista_weight
from ._shrinkage import support_percent, support_selection_shrink


class LISTACPSSOptions(ThresholdOptions):
    ss_percent_per_layer: float = Field(1.2, ge=0.0, le=100.0, description="support-selection percent added per layer")
    ss_max_percent: float = Field(13.0, ge=0.0, le=100.0, description="cap of the support-selection percent")


class LISTACPSSStep(UnfoldingStep):
    """LISTA-CPSS layer: LISTA with support selection, top p_t % entries pass unthresholded (Chen et al. 2018)."""

    name = "lista-cpss"
    requires = frozenset({"matrix"})
    Options = LISTACPSSOptions
    tieable = ("W",)

    def __init__(self, problem: Problem, options: LISTACPSSOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.tieable_parameter("W", lambda: lista_weight(problem))  # Φᵀ/L, (n, m)
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale
        self.percent = support_percent(layer.index, options.ss_percent_per_layer, options.ss_max_percent)

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        residual = ctx.y - self.problem.measure(x)  # (batch, m)
        return support_selection_shrink(x + residual @ self.W.T, self.theta, self.percent)

    def extra_repr(self) -> str:
        return f"layer={self.layer.index}, support_percent={self.percent:g}"
