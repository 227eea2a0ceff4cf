"""2NO, the second-order HNO scheme (seed eq. 11).

``x_{t+1} = (1 − β_t) x_t + β_t x_{t−1} + α_t f(x_t | Θ_t)`` for t ≥ 1, and ``x_1 = x_0 + f(x_0)``
(α_0 = 1, β_0 = 0 fixed). α_t, β_t are learnable, initialised at 1.0 and −0.5 (seed).
It is a two-step linear multistep method with ξ = (1 − β_t, β_t), γ = (α_t, 0), h = 1; with
α = 1, β = 0 it reduces to Euler (order 1). A constant history at a fixed point of G is
preserved for every α, β, because f vanishes there and the ξ weights sum to 1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField


class TwoNOOptions(Options):
    alpha_init: float = Field(1.0, description="initial α_t (seed: 1.0)")
    beta_init: float = Field(-0.5, description="initial β_t (seed: −0.5)")
    learnable: bool = Field(True, description="train α_t, β_t (False keeps them at their initial values)")


class TwoNO(Integrator):
    """2NO (seed eq. 11): x_{t+1} = (1−β_t)x_t + β_t x_{t−1} + α_t f(x_t), learnable α_t, β_t."""

    name = "2no"
    Options = TwoNOOptions
    reference_options: ClassVar[dict[str, Any]] = {"alpha_init": 1.0, "beta_init": 0.0}  # the declared order 1 is Euler's (no option h: the suite scales f)

    def __init__(self, options: TwoNOOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        count = max(layout.num_layers - 1, 0)  # layer 0 is fixed to Euler
        self.register_coefficient("alpha", torch.full((count,), options.alpha_init), options.learnable and count > 0)
        self.register_coefficient("beta", torch.full((count,), options.beta_init), options.learnable and count > 0)

    @classmethod
    def describe(cls, options: TwoNOOptions) -> IntegratorMetadata:
        return IntegratorMetadata(family="multistep", past_states=2, stages=1, order=1, learnable=options.learnable)

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        if t == 0 or len(history) < 2:
            return history.g(0)  # x_0 + f(x_0) = G(x_0)
        a, b = self.alpha[t - 1], self.beta[t - 1]
        # (1 − β)x_t + βx_{t−1} + α(G(x_t) − x_t), gathered as (1 − α − β)x_t + βx_{t−1} + αG(x_t): one pass fewer
        return (1 - a - b) * history.x(0) + b * history.x(1) + a * history.g(0)

    def inspect_coefficients(self) -> dict[str, Tensor]:
        """α_t, β_t for t = 0..T−1, shape ``(T,)``; layer 0 is Euler (α_0 = 1, β_0 = 0, fixed)."""
        one, zero = self.alpha.new_ones(1), self.beta.new_zeros(1)
        return {"alpha": torch.cat([one, self.alpha.detach()]), "beta": torch.cat([zero, self.beta.detach()])}

    def reference_coefficients(self) -> dict[str, dict[str, Tensor]]:
        """Forward Euler (the plain DUN): α = 1, β = 0."""
        T = self.layout.num_layers
        return {"euler": {"alpha": torch.ones(T), "beta": torch.zeros(T)}}
