"""Learned proximal gradient on any image operator: ``G_t(x) = z + R_t(z)``, ``z = x − γ_t Aᵀ(A x − y)``.

A proximal-gradient layer for ``min_x ½‖A x − y‖² + r(x)`` whose proximal map of the (unknown) prior ``r`` is
learned: the gradient step on the data term

    z = x − γ_t Aᵀ(A x − y)                       (with a per-sample mask μ: A_i = diag(μ_i) A)

goes through a small residual CNN, ``P_t(z) = z + R_t(z)`` (:mod:`._residual_cnn`). ``A`` and ``Aᵀ`` are the
problem's ``measure`` and ``adjoint``, so the layer never needs a matrix: it runs on ``blur``, ``mri`` and
``image-inpainting`` alike, for any channel count C.

Learnable: ``γ_t`` per layer (init ``step_scale / L``, ``L = ‖A‖₂²``) and the CNN (one for all layers when the
network is tied, ``R_t`` per layer when untied). The last convolution starts at zero, so the untrained layer is
the plain gradient step ``x − (step_scale / L) Aᵀ(A x − y)`` (Landweber).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Problem, UnfoldingStep

from ._residual_cnn import CNN_PARAMETERS, ResidualCNNOptions, build_residual_cnn, residual_cnn


class LearnedPGOptions(ResidualCNNOptions):
    """Options of learned-pg: the residual CNN's and the gradient step's."""

    step_scale: float = Field(1.0, gt=0.0, lt=2.0, description="γ_t init = step_scale / L (convergent below 2)")


class LearnedPGStep(UnfoldingStep):
    """Learned proximal gradient z + R_t(z), z = x − γ_t Aᵀ(Ax − y), R_t a residual CNN; works on any image operator.

    Shapes: ``x`` ``(batch, C, H, W)``, ``ctx.y`` ``(batch, *measurement_shape)``; parameters ``gamma`` γ_t ``()``
    and the CNN's (:data:`~._residual_cnn.CNN_PARAMETERS`, tieable).
    """

    name = "learned-pg"
    Options = LearnedPGOptions
    tieable = CNN_PARAMETERS
    requires = frozenset({"image"})
    supports_mask = True

    def __init__(self, problem: Problem, options: LearnedPGOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        self.gamma = nn.Parameter(torch.tensor(options.step_scale / problem.lipschitz, dtype=problem.dtype))
        build_residual_cnn(self, problem.signal_shape[0], options, problem.dtype)

    def gradient_step(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        """``z = x − γ_t Aᵀ(A x − y)``: ``(batch, C, H, W) -> (batch, C, H, W)``."""
        problem = self.operator(ctx)
        residual = problem.measure(x, ctx.mask) - ctx.y  # (batch, *measurement_shape), 0 where unobserved
        return x - self.gamma * problem.adjoint(residual, ctx.mask)

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        z = self.gradient_step(x, ctx)
        return z + residual_cnn(self, z)
