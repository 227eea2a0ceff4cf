"""ISTA-Net (Zhang & Ghanem 2018): ``G_t(x) = F̃_t η_θt(F_t(x + ρ_t Φᵀ(y − Φx)))``.

ISTA for ``min ½‖y − Φx‖² + λ‖F(x)‖₁`` (seed eq. 2) with a learned nonlinear transform ``F``
in place of the basis D: the gradient step ``r = x + ρ_t Φᵀ(y − Φx)`` is reshaped to the
image patch ``(1, h, w)`` (``problem.patch_shape``), mapped to ``C`` feature channels by
``F_t = conv–ReLU–conv``, soft-thresholded with ``θ_t``, and mapped back by ``F̃_t =
conv–ReLU–conv``, a learned left inverse of ``F_t``. The seed's 2NO-ISTA-Net is this layer
under the ``2no`` integrator.

Symmetry constraint: each evaluation appends
``symmetry_weight · mean((F̃_t(F_t(r)) − r)²)`` (mean over batch and pixels; weight 0.01 as in
ISTA-Net) to ``ctx.aux_losses``; it vanishes when ``F̃_t = F_t⁻¹`` on the data. A multi-stage
integrator evaluates a layer several times, and every evaluation adds its term.

Learnable per layer: ``ρ_t`` (init ``rho_scale/L``), ``θ_t`` (init ``λ/L``), the convolutions of
``F_t`` and ``F̃_t`` (``channels`` features, ``kernel_size`` odd, zero padding, no bias).
Nothing is tieable. Needs an image problem (``requires = {"patch"}``).

Initialisation of the convolutions (``init``):

* ``xavier`` (default, as ISTA-Net): Xavier-normal weights; the untrained layer is a random map.
* ``identity``: Xavier-normal, then channels 0 and 1 are overwritten so that
  ``F(r) = (r⁺, r⁻, …)`` and ``F̃(u) = u_0 − u_1``, and F̃ reads nothing from channels ≥ 2
  (their weights start at zero but receive gradients). Then ``F̃ η_θ(F(r)) = η_θ(r)``: the
  untrained layer is exactly ISTA in the pixel domain, and ``F̃(F(r)) = r`` (zero symmetry
  loss). Needs ``channels ≥ 2``.
"""

from __future__ import annotations

from typing import Literal, cast

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Options, Problem, UnfoldingStep
from hno_framework.ops import soft_threshold

from ._lista import lista_threshold


class ISTANetOptions(Options):
    channels: int = Field(32, ge=1, description="feature channels C of F_t and F̃_t (ISTA-Net: 32)")
    kernel_size: int = Field(3, ge=1, description="odd convolution kernel size (zero 'same' padding)")
    symmetry_weight: float = Field(0.01, ge=0.0, description="weight of the symmetry loss ‖F̃(F(r)) − r‖² (0: off)")
    rho_scale: float = Field(1.0, gt=0.0, description="ρ_t init = rho_scale / L")
    threshold_scale: float = Field(1.0, gt=0.0, description="θ_t init = threshold_scale · λ/L")
    init: Literal["xavier", "identity"] = Field(
        "xavier", description="xavier: random convs (ISTA-Net); identity: F̃η(F(r)) = η(r), the layer starts as ISTA"
    )


def _conv(c_in: int, c_out: int, k: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
    nn.init.xavier_normal_(conv.weight)
    return conv


class ISTANetStep(UnfoldingStep):
    """ISTA-Net layer F̃_t η_θt(F_t(x + ρ_t Φᵀ(y − Φx))) with conv transforms and a symmetry loss; needs image patches."""

    name = "ista-net"
    Options = ISTANetOptions
    requires = frozenset({"matrix", "patch"})
    supports_mask = True

    def __init__(self, problem: Problem, options: ISTANetOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        if options.kernel_size % 2 == 0:
            raise ValueError(f"ista-net: kernel_size must be odd, got {options.kernel_size}")
        if options.init == "identity" and options.channels < 2:
            raise ValueError("ista-net: init 'identity' needs channels ≥ 2 (r⁺ and r⁻)")
        L = problem.lipschitz
        c, k = options.channels, options.kernel_size
        self.rho = nn.Parameter(torch.tensor(options.rho_scale / L, dtype=problem.phi.dtype))
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale
        self.transform = nn.Sequential(_conv(1, c, k), nn.ReLU(), _conv(c, c, k))  # F_t
        self.inverse = nn.Sequential(_conv(c, c, k), nn.ReLU(), _conv(c, 1, k))  # F̃_t
        self.transform.to(problem.phi.dtype)
        self.inverse.to(problem.phi.dtype)
        if options.init == "identity":
            self._identity_init()

    @torch.no_grad()
    def _identity_init(self) -> None:
        """Make ``F(r) = (r⁺, r⁻, …)`` and ``F̃(u) = u_0 − u_1`` (see the module docstring)."""
        centre = self.options.kernel_size // 2
        f1, f2 = (cast(nn.Conv2d, self.transform[i]).weight for i in (0, 2))
        g1, g2 = (cast(nn.Conv2d, self.inverse[i]).weight for i in (0, 2))
        for w in (f1[:2], f2[:2], g1[:2], g2):
            w.zero_()
        f1[0, 0, centre, centre], f1[1, 0, centre, centre] = 1.0, -1.0
        for w in (f2, g1):
            w[0, 0, centre, centre] = w[1, 1, centre, centre] = 1.0
        g2[0, 0, centre, centre], g2[0, 1, centre, centre] = 1.0, -1.0

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        h, w = self.problem.patch_shape
        batch = x.shape[0]
        residual = ctx.y - self.problem.measure(x, ctx.mask)  # (batch, m)
        r = (x + self.rho * self.problem.adjoint(residual, ctx.mask)).reshape(batch, 1, h, w)
        features = self.transform(r)
        out = self.inverse(soft_threshold(features, self.theta))
        if self.options.symmetry_weight > 0:
            ctx.aux_losses.append(self.options.symmetry_weight * self.symmetry_loss(r, features))
        return out.reshape(batch, h * w)

    def symmetry_loss(self, r: Tensor, features: Tensor | None = None) -> Tensor:
        """Unweighted ``mean((F̃_t(F_t(r)) − r)²)`` for patches ``r`` ``(batch, 1, h, w)``."""
        features = self.transform(r) if features is None else features
        return (self.inverse(features) - r).pow(2).mean()
