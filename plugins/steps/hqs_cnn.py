"""Half-quadratic splitting with a learned CNN prior: a step whose state holds two variables, ``s = (x, z)``.

HQS splits ``min_x ½‖A x − y‖² + r(x)`` into a data step and a prior step coupled by ``(μ/2)‖x − z‖²``. Layer t
maps the state ``s_t = (x_t, z_t)`` ``(batch, 2, C, H, W)`` to

    x_{t+1} ≈ argmin_x ½‖A x − y‖² + (μ_t/2)‖x − z_t‖²      (the data step, warm-started at x_t)
    z_{t+1} = x_{t+1} + R_t(x_{t+1})                         (the learned prox of r, a residual CNN)

so ``G_t(x, z) = (x_{t+1}, z_{t+1})`` and ``f = G − I`` acts on both variables; every integrator combines whole
states entry-wise (with ``euler`` this is plain HQS). The start is ``s_0 = (x_0, x_0)`` (``x_0 = 0``); the estimate
is ``z_T``, the last prior output (as in DPIR).

The data step uses only ``A`` and ``Aᵀ`` (``problem.measure`` / ``problem.adjoint``, with the per-sample mask):
``solver: gd`` takes K steps of gradient descent from ``v_0 = x_t``,

    v_{k+1} = v_k − (Aᵀ(A v_k − y) + μ_t (v_k − z_t)) / (L + μ_t),     L = ‖A‖₂²,

``solver: cg`` K iterations of conjugate gradients on ``(AᵀA + μ_t I) v = Aᵀy + μ_t z_t`` from ``v_0 = x_t``
(per sample; exact after at most n iterations). Learnable: ``μ_t > 0`` per layer (stored as ``log_mu``, init
``mu_init · L``) and the CNN (tieable, as in ``learned-pg``; the last convolution starts at zero, so the
untrained layer is an approximate proximal-point step on the data term).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep

from ._residual_cnn import CNN_PARAMETERS, ResidualCNNOptions, build_residual_cnn, residual_cnn


class HQSCNNOptions(ResidualCNNOptions):
    """Options of hqs-cnn: the residual CNN's and the data step's."""

    iterations: int = Field(3, ge=1, le=200, description="K: iterations of the data-step solver per layer")
    solver: Literal["gd", "cg"] = Field("gd", description="data step: gd (gradient descent, step 1/(L + μ_t)) or cg "
                                        "(conjugate gradients)")
    mu_init: float = Field(0.1, gt=0.0, le=1e4, description="μ_t init = mu_init · L (weight of ½‖x − z‖²)")


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Per-sample inner products ``(batch, 1, …, 1)`` of two ``(batch, …)`` tensors."""
    return (a * b).flatten(1).sum(1).view(-1, *[1] * (a.ndim - 1))


def _safe(denominator: Tensor) -> Tensor:
    """``denominator`` with exact zeros replaced by 1 (their numerators are 0 too: a converged sample stays put)."""
    return denominator + (denominator == 0).to(denominator.dtype)


class HQSCNNStep(UnfoldingStep):
    """HQS with a learned prior on a state (x, z): x ← argmin ½‖Ax − y‖² + μ_t/2‖x − z‖² (K GD/CG steps), z ← x + R_t(x).

    Shapes: the state ``(batch, 2, C, H, W)`` (:meth:`initial_state`), the estimate ``(batch, C, H, W)``
    (:meth:`estimate`: z); parameters ``log_mu`` ``()`` per layer and the CNN's (tieable).
    """

    name = "hqs-cnn"
    Options = HQSCNNOptions
    tieable = CNN_PARAMETERS
    requires = frozenset({"image"})
    supports_mask = True

    def __init__(self, problem: Problem, options: HQSCNNOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.lipschitz = problem.lipschitz
        self.log_mu = nn.Parameter(torch.tensor(math.log(options.mu_init * self.lipschitz), dtype=problem.dtype))
        build_residual_cnn(self, problem.signal_shape[0], options, problem.dtype)

    # -- the state -------------------------------------------------------------------------------------
    def initial_state(self, x0: Tensor) -> Tensor:
        """``s_0 = (x_0, x_0)``: ``(batch, C, H, W) -> (batch, 2, C, H, W)``."""
        return torch.stack((x0, x0), dim=1)

    def estimate(self, state: Tensor) -> Tensor:
        """``z``: ``(batch, 2, C, H, W) -> (batch, C, H, W)``."""
        return state[:, 1]

    @property
    def mu(self) -> Tensor:
        """``μ_t = exp(log_mu) > 0``."""
        return self.log_mu.exp()

    def inspect_parameters(self) -> dict[str, Tensor]:
        return {"mu": self.mu.detach(), **super().inspect_parameters()}

    # -- the layer ---------------------------------------------------------------------------------------
    def data_step(self, x: Tensor, z: Tensor, ctx: ForwardContext) -> Tensor:
        """``≈ argmin_v ½‖A v − y‖² + (μ_t/2)‖v − z‖²`` from ``v_0 = x``: ``(batch, C, H, W)`` each."""
        problem = self.operator(ctx)
        A, At, mask, mu = problem.measure, problem.adjoint, ctx.mask, self.mu
        o = self.options
        assert isinstance(o, HQSCNNOptions)
        v = x
        if o.solver == "gd":
            step = 1.0 / (self.lipschitz + mu)
            for _ in range(o.iterations):
                v = v - step * (At(A(v, mask) - ctx.y, mask) + mu * (v - z))
            return v
        r = At(ctx.y - A(v, mask), mask) + mu * (z - v)  # b − M v, M = AᵀA + μI
        p, rr = r, _dot(r, r)
        for _ in range(o.iterations):
            mp = At(A(p, mask), mask) + mu * p
            alpha = rr / _safe(_dot(p, mp))
            v = v + alpha * p
            r = r - alpha * mp
            rr_next = _dot(r, r)
            p = r + (rr_next / _safe(rr)) * p
            rr = rr_next
        return v

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        """``G_t(s)``: ``(batch, 2, C, H, W) -> (batch, 2, C, H, W)``, ``s = (x, z) ↦ (x⁺, x⁺ + R_t(x⁺))``."""
        x_next = self.data_step(x[:, 0], x[:, 1], ctx)
        return torch.stack((x_next, x_next + residual_cnn(self, x_next)), dim=1)
