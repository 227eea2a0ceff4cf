"""GLISTA, gated LISTA (Wu et al. 2020; seed eq. 3): ``G_t(x) = η_θt(g(x) + W(y − Φ g(x)))``.

The gain gate ``g(x) = g_t(x, y) ⊙ x`` enlarges the entries of x before the LISTA update, to
make up for the shrinkage of the soft threshold (soft thresholding biases every surviving
entry towards zero by θ). Of the gain functions in GLISTA (piecewise linear, exponential,
inverse proportional, sigmoid) we use the **inverse-proportional** one, elementwise:

    g_t(x)_i = 1 + μ_t / (ε + |ν_{t,i}| · |x_i|),

a gain above 1 that is largest for small entries and decays like ``1/|x_i|``, so that
``g_t(x)_i x_i ≈ x_i + (μ_t/|ν_{t,i}|) sign(x_i)`` for large entries: a learned bias that
counteracts the shrinkage. ``μ_t`` (scalar) and ``ν_t`` (n entries) are learnable per layer;
``|ν|`` keeps the denominator ≥ ε > 0. The gain is bounded, ``1 ≤ g ≤ 1 + μ/ε`` for μ ≥ 0.
By default ``μ_t = 0`` at init, so GLISTA starts as LISTA (θ = λ/L, W = Φᵀ/L) and learns the gate.

Optional **support selection** (``support_selection: true``, as the reference ``GLISTA_cp``): the soft threshold is
replaced by LISTA-CPSS's support-selecting shrinkage ``η^ss_{θt, p_t}`` (the entries above θ and above the sample's
``(100 − p_t)``-th magnitude percentile pass unshrunk; ``p_t = min((t + 1) · 1.2, 13)`` % by default).

Optional **overshoot gate** (``overshoot: true``): with ``x̃`` the gated LISTA output,
``x_{t+1} = x + o ⊙ (x̃ − x)``, ``o = 1 + a_t / (ε_o + |x̃ − x|)`` (inverse proportional as well;
``a_t`` learnable, init 0 so the gate starts closed), which lets a layer move past x̃ (momentum).
W is tieable (tied or ``W_t``); θ_t, μ_t, ν_t, a_t are per layer.

**Which GLISTA variant this is** (checked against the GLISTA reference code, ``GLISTA_cp.py`` of
Wu et al.): the reference gain is ``1 + α_t·f(|D_t ⊙ x|)`` with f one of piecewise linear
``relu(1 − relu(·))``, inverse ``0.2/(0.001 + ·)``, inverse with learnable ε ``0.2/(e^{log ε_t} + ·)``,
``exp(−·)`` or ``sigmoid(−·)``, D_t per entry (init 1), and its gated update is the same as here
(residual at ``g(x)``). Ours is the inverse-proportional family with ``μ_t = 0.2·α_t``,
``ν_t = D_t`` and a **fixed** ε (``gain_eps``, default 1; the reference's ``inv`` is ε = 0.001,
its ``inv_v`` learns ε from e^{−2}). Other differences from the reference model: θ_t is one scalar
per layer (the reference learns a threshold per entry), support selection is off by default (the
reference always thresholds with the LISTA-CPSS support-selecting shrinkage: ``support_selection:
true``), and the overshoot gate is
``o = 1 + a/(ε_o + |x̃ − x|)`` (the reference: ``1 − a·θ_{t−1}·1[not selected]/(0.1 + |x̃ − x|)``
with the combination ``o·x̃ + (1 − o)·x``, equal to ``x + o(x̃ − x)``). So this is "GLISTA-CP with
an inverse-proportional gain, scalar θ, no support selection" by default; rows labelled GLISTA report it.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep

from ._lista import ThresholdOptions, lista_threshold, lista_weight
from ._shrinkage import support_percent, support_selection_shrink


class GLISTAOptions(ThresholdOptions):
    gain_init: float = Field(0.0, description="initial gain amplitude μ_t (0: the layer starts as LISTA)")
    gain_scale_init: float = Field(1.0, gt=0.0, description="initial gain decay rates ν_t (one per entry)")
    gain_eps: float = Field(1.0, gt=0.0, description="ε of the inverse-proportional gain 1 + μ/(ε + |ν||x|)")
    overshoot: bool = Field(False, description="add the overshoot gate x + o ⊙ (x̃ − x)")
    overshoot_init: float = Field(0.0, description="initial overshoot amplitude a_t (0: no overshoot)")
    overshoot_eps: float = Field(1.0, gt=0.0, description="ε_o of the overshoot gate 1 + a/(ε_o + |x̃ − x|)")
    support_selection: bool = Field(False, description="threshold with support selection (LISTA-CPSS), as the reference GLISTA_cp")
    ss_percent_per_layer: float = Field(1.2, ge=0.0, le=100.0, description="support-selection percent added per layer")
    ss_max_percent: float = Field(13.0, ge=0.0, le=100.0, description="cap of the support-selection percent")


class GLISTAStep(UnfoldingStep):
    """GLISTA layer η_θt(g(x) + W(y − Φg(x))) with an inverse-proportional gain gate (Wu et al. 2020; seed eq. 3)."""

    name = "glista"
    requires = frozenset({"matrix"})
    Options = GLISTAOptions
    tieable = ("W",)
    supports_mask = True
    # Layer 0's gain multiplies x_0 = 0, so with a one-step scheme its μ_0, ν_0 never get a gradient (as in the
    # reference code); kept, so that checkpoints keep their layout.
    behaviour = frozenset({"unused-parameters"})

    def __init__(self, problem: Problem, options: GLISTAOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.tieable_parameter("W", lambda: lista_weight(problem))  # Φᵀ/L, (n, m)
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale
        self.gain_mu = nn.Parameter(torch.tensor(float(options.gain_init), dtype=problem.phi.dtype))
        self.gain_nu = nn.Parameter(torch.full((problem.n,), float(options.gain_scale_init), dtype=problem.phi.dtype))
        self.percent = (support_percent(layer.index, options.ss_percent_per_layer, options.ss_max_percent)
                        if options.support_selection else 0.0)
        if options.overshoot:
            self.overshoot_a = nn.Parameter(torch.tensor(float(options.overshoot_init), dtype=problem.phi.dtype))

    def gain(self, x: Tensor) -> Tensor:
        """The gain ``g_t(x)`` ``(batch, n)``, elementwise ``1 + μ_t / (ε + |ν_t| |x|)``."""
        return 1.0 + self.gain_mu / (self.options.gain_eps + self.gain_nu.abs() * x.abs())

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        gx = self.gain(x) * x
        residual = ctx.y - self.problem.measure(gx, ctx.mask)  # (batch, m), 0 where unobserved
        # percent 0 (support selection off) is the plain soft threshold
        x_tilde = support_selection_shrink(gx + residual @ self.W.T, self.theta, self.percent)
        if not self.options.overshoot:
            return x_tilde
        step = x_tilde - x
        o = 1.0 + self.overshoot_a / (self.options.overshoot_eps + step.abs())
        return x + o * step
