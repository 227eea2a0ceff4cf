"""``abm2``: Adams–Bashforth–Moulton predictor-corrector of order 2 (seed eq. 6 with γ_{−1} ≠ 0).

The implicit trapezoidal Adams–Moulton rule ``x_{t+1} = x_t + h/2 (f(x_t) + f(x_{t+1}))`` (seed
eq. 6 with r = 1, γ_{−1} = γ_0 = 1/2) is made explicit by predicting ``x_{t+1}`` with AB2 and
correcting k times (option ``corrections``), each correction calling layer t's field::

    x^{(0)}   = x_t + h (3 f_t − f_{t−1}) / 2                 (predict, AB2; f_t = f(x_t | Θ_t))
    x^{(j+1)} = x_t + h (f_t + f(x^{(j)} | Θ_t)) / 2           (correct, j = 0..k−1)
    x_{t+1}   = x^{(k)}

i.e. P(EC)^k; the final evaluation "E" of f(x_{t+1}) is done by the next layer, with Θ_{t+1}.
Layer 0 has no f_{t−1}: it predicts with Euler, ``x^{(0)} = x_0 + h f_0`` (so with k = 1 it
is Heun's method, local error O(h³)), which keeps the global order 2. Stored f values are
reused; each layer costs k extra f evaluations. ``learnable_h`` gives each layer its own h_t.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField


class ABM2Options(Options):
    h: float = Field(1.0, gt=0.0, description="step size h (initial h_t when learnable_h)")
    corrections: int = Field(1, ge=1, description="k, how many times the trapezoidal corrector is applied")
    learnable_h: bool = Field(False, description="learn a per-layer step size h_t, initialised at h")


class ABM2(Integrator):
    """AB2 predictor + trapezoidal Adams–Moulton corrector applied k times (order 2)."""

    name = "abm2"
    Options = ABM2Options

    def __init__(self, options: ABM2Options, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        self.register_coefficient("h", torch.full((layout.num_layers,), options.h), options.learnable_h)

    @classmethod
    def describe(cls, options: ABM2Options) -> IntegratorMetadata:
        return IntegratorMetadata(
            family="predictor-corrector",
            past_states=2,
            stages=1 + options.corrections,
            order=2,
            learnable=options.learnable_h,
        )

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        h, x, fx = self.h[t], history.x(0), history.f(0)
        guess = x + h * fx if t == 0 or len(history) < 2 else x + h * (1.5 * fx - 0.5 * history.f(1))
        for _ in range(self.options.corrections):
            guess = x + 0.5 * h * (fx + field(guess))
        return guess
