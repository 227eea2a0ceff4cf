"""LAMP, learned AMP (Borgerding, Schniter & Rangan 2017): AMP with a learned matrix and thresholds.

Layer t, with ``v_{−1} = 0``:

    v_t     = y − Φx_t + b_t v_{t−1},        b_t = ‖x_t‖₀ / m      (Onsager correction)
    x_{t+1} = η(x_t + B v_t ; θ_t σ_t),      σ_t = ‖v_t‖₂ / √m     (per sample)

``η`` is the soft threshold, so ``b_t`` (the divergence of the previous denoiser divided by m)
is the number of nonzeros of ``x_t`` over m; it is a count and carries no gradient. Learnable:
``B`` (n × m; tied or ``B_t``) and ``θ_t``. Init ``init: amp`` (default): ``B = Φᵀ`` and
``θ_t = threshold_init`` (AMP's threshold multiplier; the Onsager term assumes ``B = Φᵀ``
with unit-norm columns of Φ); ``init: seed``: ``B = Φᵀ/L``, ``θ_t = λ/L`` as the seed's LISTA.

State: the residual ``v`` is carried in ``ctx.state`` under ``"lamp:<id of the problem>"`` (one
chain per network pass: the context is created per pass). Under a multi-stage integrator the
state advances **once per layer**: the first evaluation of layer t in a pass (the network
always evaluates ``f`` at the layer's current point ``x_t`` first) computes ``v_t`` from the
stored ``v_{t−1}`` and stores ``v_t``; further evaluations of layer t (Runge-Kutta stages,
correctors) at other points ``z`` use the same ``v_{t−1}``, i.e. ``G_t(z) = η(z + B(y − Φz +
b(z) v_{t−1}); θ_t σ)`` with ``b(z) = ‖z‖₀/m``, and leave the state alone. So ``G_t`` is a
fixed function of z within a layer and the stage values are consistent.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Options, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold


class LAMPOptions(Options):
    init: Literal["amp", "seed"] = Field(
        "amp", description="amp: B = Φᵀ, θ = threshold_init (AMP); seed: B = Φᵀ/L, θ = λ/L (as LISTA)"
    )
    threshold_init: float = Field(1.0, gt=0.0, description="θ_t init for init: amp (threshold = θ_t · ‖v_t‖/√m)")


class LAMPStep(UnfoldingStep):
    """LAMP layer η(x + B v_t; θ_t σ_t) with Onsager residual v_t = y − Φx + (‖x‖₀/m) v_{t−1} (Borgerding et al. 2017)."""

    name = "lamp"
    requires = frozenset({"matrix"})
    Options = LAMPOptions
    tieable = ("B",)

    def __init__(self, problem: Problem, options: LAMPOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        L = problem.lipschitz
        scale = 1.0 if options.init == "amp" else 1.0 / L
        theta = options.threshold_init if options.init == "amp" else problem.lam / L
        self.tieable_parameter("B", lambda: problem.phi.detach().T.clone() * scale)  # (n, m)
        self.theta = nn.Parameter(torch.tensor(float(theta), dtype=problem.phi.dtype))

    @property
    def state_key(self) -> str:
        return f"lamp:{id(self.problem)}"

    def residual(self, x: Tensor, ctx: ForwardContext) -> tuple[Tensor, Tensor]:
        """``(v, b)`` at ``x``, with ``v = y − Φx + b v_{t−1}``, ``b = ‖x‖₀/m`` ``(batch, 1)``; advances the state once per layer."""
        state = ctx.state.get(self.state_key)
        first_call = state is None or state["layer"] != self.layer.index
        previous = (state["v"] if state is not None else None) if first_call else state["v_previous"]
        b = (x != 0).sum(dim=1, keepdim=True).to(x.dtype) / self.problem.m
        v = ctx.y - self.problem.measure(x)
        if previous is not None:
            v = v + b * previous
        if first_call:
            ctx.state[self.state_key] = {"layer": self.layer.index, "v": v, "v_previous": previous}
        return v, b

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        v, _ = self.residual(x, ctx)
        sigma = torch.linalg.vector_norm(v, dim=1, keepdim=True) / math.sqrt(self.problem.m)
        return soft_threshold(x + v @ self.B.T, self.theta * sigma)
