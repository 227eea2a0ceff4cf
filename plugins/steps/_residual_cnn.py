"""The residual CNN proximal map shared by the matrix-free image steps (``learned-pg``, ``hqs-cnn``).

``P_t(z) = z + R_t(z)`` on images ``(batch, C, H, W)``, with

    R_t = conv_out ∘ ReLU ∘ conv_mid[depth−3] ∘ … ∘ ReLU ∘ conv_mid[0] ∘ ReLU ∘ conv_in

``depth`` convolutions in all: ``conv_in`` C → width, ``depth − 2`` convolutions width → width, ``conv_out``
width → C; each with a bias, a ``kernel_size × kernel_size`` kernel (odd) and zero "same" padding. ``conv_out``
starts at zero (``residual_init = 0``), so ``P_t`` starts as the identity.

The parameters are created through :meth:`UnfoldingStep.tieable_parameter` under the flat names of
:data:`CNN_PARAMETERS` (one CNN for all layers when the network is tied, ``R_t`` per layer when untied); the
``depth − 2`` middle convolutions are stacked into one tensor ``conv_mid_weight`` ``(depth − 2, width, width, k, k)``
(``(0, …)`` for depth 2), so the names do not depend on the depth.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from hno_framework import Options, UnfoldingStep

CNN_PARAMETERS: tuple[str, ...] = (
    "conv_in_weight", "conv_in_bias", "conv_mid_weight", "conv_mid_bias", "conv_out_weight", "conv_out_bias",
)
"""Parameter names of the residual CNN (a step lists them in its ``tieable``)."""


class ResidualCNNOptions(Options):
    """Options of the residual CNN ``R_t``."""

    depth: int = Field(3, ge=2, le=16, description="convolutions in R_t (conv_in, depth − 2 middle ones, conv_out)")
    width: int = Field(32, ge=1, le=512, description="feature channels of the hidden convolutions")
    kernel_size: int = Field(3, ge=1, le=15, description="odd side of every convolution kernel (zero 'same' padding)")
    residual_init: float = Field(
        0.0, ge=0.0, description="std of the initial weights of the last convolution (0: R_t = 0, the prox starts "
        "as the identity)")

    @model_validator(mode="after")
    def _odd_kernel(self) -> ResidualCNNOptions:
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {self.kernel_size}")
        return self


def _uniform(shape: tuple[int, ...], fan_in: int, dtype: torch.dtype) -> Tensor:
    """U(−1/√fan_in, 1/√fan_in): PyTorch's default initialisation of ``nn.Conv2d`` weights and biases."""
    bound = 1.0 / math.sqrt(fan_in)
    return (2.0 * torch.rand(shape, dtype=dtype) - 1.0) * bound


def build_residual_cnn(step: UnfoldingStep, channels: int, options: ResidualCNNOptions, dtype: torch.dtype) -> None:
    """Register the parameters of ``R_t`` on ``step`` (tieable, names :data:`CNN_PARAMETERS`) for ``channels`` C."""
    w, k, mid = options.width, options.kernel_size, options.depth - 2
    step.tieable_parameter("conv_in_weight", lambda: _uniform((w, channels, k, k), channels * k * k, dtype))
    step.tieable_parameter("conv_in_bias", lambda: _uniform((w,), channels * k * k, dtype))
    step.tieable_parameter("conv_mid_weight", lambda: _uniform((mid, w, w, k, k), w * k * k, dtype))
    step.tieable_parameter("conv_mid_bias", lambda: _uniform((mid, w), w * k * k, dtype))
    step.tieable_parameter("conv_out_weight", lambda: options.residual_init * torch.randn(channels, w, k, k, dtype=dtype))
    step.tieable_parameter("conv_out_bias", lambda: torch.zeros(channels, dtype=dtype))


def residual_cnn(step: UnfoldingStep, z: Tensor) -> Tensor:
    """``R_t(z)``: ``(batch, C, H, W) -> (batch, C, H, W)`` with the parameters :func:`build_residual_cnn` registered."""
    weight_in: Tensor = step.conv_in_weight
    pad = weight_in.shape[-1] // 2
    h = F.relu(F.conv2d(z, weight_in, step.conv_in_bias, padding=pad))
    mid_w: Tensor = step.conv_mid_weight
    mid_b: Tensor = step.conv_mid_bias
    for i in range(mid_w.shape[0]):
        h = F.relu(F.conv2d(h, mid_w[i], mid_b[i], padding=pad))
    return F.conv2d(h, step.conv_out_weight, step.conv_out_bias, padding=pad)
