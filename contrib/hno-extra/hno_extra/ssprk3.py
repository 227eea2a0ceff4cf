"""``ssprk3``: the strong-stability-preserving Runge-Kutta scheme of order 3 (Shu & Osher 1988).

A Runge-Kutta scheme (seed eqs. 4-5) for ``dx/dt = f(x | Θ_t) = G_t(x) − x`` (seed eq. 8),
written as convex combinations of forward-Euler steps:

    u₁      = x_t + h_t f(x_t)
    u₂      = ¾ x_t + ¼ (u₁ + h_t f(u₁))
    x_{t+1} = ⅓ x_t + ⅔ (u₂ + h_t f(u₂))

Butcher tableau: c = (0, 1, ½), p₂₁ = 1, p₃₁ = p₃₂ = ¼, v = (⅙, ⅙, ⅔); order 3.
``f(x_t)`` is the one the network already stored in the history, so each layer evaluates
the step twice more (at u₁ and u₂), all with layer t's parameters Θ_t.

Strong stability: for h_t ≤ 1 a forward-Euler step ``x + h f(x) = (1 − h) x + h G_t(x)`` is a
convex combination of x and G_t(x), hence so is every stage. If G_t maps a convex set C
(a box, a ball, the nonnegative orthant, …) into itself, so does the whole layer; and a fixed
point of G_t (f = 0) is kept for every h_t. ``h = 1`` is the natural DUN scale.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField


class SSPRK3Options(Options):
    h: float = Field(1.0, gt=0.0, description="step size h_t (≤ 1 keeps every stage a convex combination)")
    learnable_h: bool = Field(False, description="learn one h_t per layer, initialised at h")


class SSPRK3(Integrator):
    """SSP Runge-Kutta 3 (Shu-Osher): three convex combinations of Euler steps, order 3, optional learnable h_t."""

    name = "ssprk3"
    Options = SSPRK3Options

    def __init__(self, options: SSPRK3Options, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        self.register_coefficient("h", torch.full((layout.num_layers,), options.h), options.learnable_h)

    @classmethod
    def describe(cls, options: SSPRK3Options) -> IntegratorMetadata:
        return IntegratorMetadata(
            family="runge-kutta", past_states=1, stages=3, order=3, learnable=options.learnable_h, consistent=True
        )

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        h = self.h[t]
        x = history.x(0)
        u1 = x + h * history.f(0)
        u2 = 0.75 * x + 0.25 * (u1 + h * field(u1))
        return x / 3.0 + (2.0 / 3.0) * (u2 + h * field(u2))
