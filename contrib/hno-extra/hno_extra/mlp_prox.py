"""``mlp-prox``: a LISTA layer whose proximal map is a soft threshold plus a learned scalar MLP.

A DUN layer is ``x_{t+1} = G(x_t | y, Θ_t)`` (seed eq. 7). Here

    G_t(x) = P_t(x + W(y − Φx)),
    P_t(v) = η_θt(v) + ψ_t(v),
    ψ_t(v)_i = Σ_k a_{t,k} [tanh(b_{t,k} v_i + c_{t,k}) − tanh(c_{t,k})],

i.e. the proximal gradient step of problem (1) with D = I, where the prox ``η_θ`` of
``θ‖·‖₁`` is corrected by ψ_t, a one-hidden-layer MLP of width K applied to each entry
(the same scalar function for every coordinate, so the layer works for any n). ψ_t(0) = 0,
so an entry that the gradient step leaves at zero stays zero.

Parameters: ``W`` (n×m, tieable: one W for all layers when tied, ``W_t`` when untied; init
Φᵀ/L), ``theta`` θ_t (init threshold_scale · λ/L) and the MLP weights a_t, b_t, c_t ∈ R^K of
each layer (b, c ~ N(0, 1); a ~ N(0, residual_init²), so with the default residual_init = 0
the layer starts exactly as LISTA and learns its correction from there).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Options, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold


class MLPProxOptions(Options):
    hidden: int = Field(8, ge=1, le=256, description="width K of the element-wise MLP ψ_t")
    threshold_scale: float = Field(1.0, gt=0.0, description="θ_t init = threshold_scale · λ/L")
    residual_init: float = Field(
        0.0, ge=0.0, description="std of the initial MLP output weights a_t (0: the layer starts as LISTA)"
    )


class MLPProxStep(UnfoldingStep):
    """Learned prox layer η_θt(v) + ψ_t(v), v = x + W(y − Φx), ψ_t an element-wise MLP with ψ_t(0) = 0.

    ``W`` ``(n, m)`` is tieable; θ_t and the MLP weights ``psi_in`` (b), ``psi_bias`` (c),
    ``psi_out`` (a), each ``(K,)``, belong to layer t.
    """

    name = "mlp-prox"
    requires = frozenset({"matrix"})
    Options = MLPProxOptions
    tieable = ("W",)

    def __init__(self, problem: Problem, options: MLPProxOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        L = problem.lipschitz
        k = options.hidden
        self.tieable_parameter("W", lambda: problem.phi.detach().T.clone() / L)  # (n, m)
        self.theta = nn.Parameter(torch.tensor(options.threshold_scale * problem.lam / L))
        self.psi_in = nn.Parameter(torch.randn(k))  # b_t
        self.psi_bias = nn.Parameter(torch.randn(k))  # c_t
        self.psi_out = nn.Parameter(options.residual_init * torch.randn(k))  # a_t

    def correction(self, v: Tensor) -> Tensor:
        """ψ_t(v), element-wise: ``(batch, n) -> (batch, n)``; ψ_t(0) = 0."""
        hidden = torch.tanh(v.unsqueeze(-1) * self.psi_in + self.psi_bias) - torch.tanh(self.psi_bias)  # (batch, n, K)
        return hidden @ self.psi_out

    def prox(self, v: Tensor) -> Tensor:
        """P_t(v) = η_θt(v) + ψ_t(v): ``(batch, n) -> (batch, n)``."""
        return soft_threshold(v, self.theta) + self.correction(v)

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        residual = ctx.y - self.problem.measure(x)  # (batch, m)
        return self.prox(x + residual @ self.W.T)
