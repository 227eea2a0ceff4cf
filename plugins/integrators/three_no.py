"""3NO, the third-order HNO scheme (seed eq. 12, as corrected in the reference notes).

``x_{t+1} = (1 − β¹_t − β²_t) x_t + β¹_t x_{t−1} + β²_t x_{t−2} + α_t f(x_t | Θ_t)`` for t ≥ 2.
Start-up: layer 0 is Euler, ``x_1 = x_0 + f(x_0)``; layer 1 is the 2NO rule (seed eq. 11)
``x_2 = (1 − β¹) x_1 + β¹ x_0 + α f(x_1)``. So α and β¹ are used from layer 1 on and are stored
with shape (T − 1,) (layer t uses index t − 1), β² from layer 2 on with shape (T − 2,) (index
t − 2): every parameter element is used. Initialisation α = 1, β¹ = −0.5 (the seed's 2NO
values), β² = 0, so at init 3NO equals 2NO; options change them.

It is a three-step linear multistep method with ξ = (1 − β¹ − β², β¹, β²), γ = (α, 0, 0), h = 1.
Since the ξ weights sum to 1 for all values, a constant history at a fixed point of G (where
f = 0) is preserved. Its reference coefficients α = 1, β¹ = β² = 0 give Euler (order 1).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField


class ThreeNOOptions(Options):
    alpha_init: float = Field(1.0, description="initial α_t (seed: 1.0)")
    beta1_init: float = Field(-0.5, description="initial β¹_t, the weight of x_{t−1} (seed's 2NO value −0.5)")
    beta2_init: float = Field(0.0, description="initial β²_t, the weight of x_{t−2} (0: starts as 2NO)")
    learnable: bool = Field(True, description="train α_t, β¹_t, β²_t (False keeps them at their initial values)")


class ThreeNO(Integrator):
    """3NO (seed eq. 12): x_{t+1} = (1−β¹−β²)x_t + β¹x_{t−1} + β²x_{t−2} + α f(x_t), learnable per layer."""

    name = "3no"
    Options = ThreeNOOptions
    reference_options: ClassVar[dict[str, Any]] = {"alpha_init": 1.0, "beta1_init": 0.0, "beta2_init": 0.0}  # the declared order 1 is Euler's (no option h: the suite scales f)

    def __init__(self, options: ThreeNOOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        T = layout.num_layers
        values = {
            "alpha": torch.full((max(T - 1, 0),), options.alpha_init),  # layers 1..T−1
            "beta1": torch.full((max(T - 1, 0),), options.beta1_init),  # layers 1..T−1
            "beta2": torch.full((max(T - 2, 0),), options.beta2_init),  # layers 2..T−1
        }
        for key, value in values.items():  # no empty parameters for very shallow networks
            self.register_coefficient(key, value, options.learnable and value.numel() > 0)

    @classmethod
    def describe(cls, options: ThreeNOOptions) -> IntegratorMetadata:
        return IntegratorMetadata(family="multistep", past_states=3, stages=1, order=1, learnable=options.learnable)

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        x, fx = history.x(0), history.f(0)
        if t == 0 or len(history) < 2:
            return x + fx
        a, b1 = self.alpha[t - 1], self.beta1[t - 1]
        if t == 1 or len(history) < 3:
            return (1 - b1) * x + b1 * history.x(1) + a * fx
        b2 = self.beta2[t - 2]
        return (1 - b1 - b2) * x + b1 * history.x(1) + b2 * history.x(2) + a * fx

    def inspect_coefficients(self) -> dict[str, Tensor]:
        """α_t, β¹_t, β²_t for t = 0..T−1, shape ``(T,)``; the start-up layers' fixed values are 1 (α) and 0 (β)."""
        T = self.layout.num_layers

        def pad(value: Tensor, fixed: float) -> Tensor:
            return torch.cat([torch.full((T - value.numel(),), fixed, dtype=value.dtype), value.detach()])

        return {"alpha": pad(self.alpha, 1.0), "beta1": pad(self.beta1, 0.0), "beta2": pad(self.beta2, 0.0)}

    def reference_coefficients(self) -> dict[str, dict[str, Tensor]]:
        """Forward Euler (the plain DUN): α = 1, β¹ = β² = 0."""
        T = self.layout.num_layers
        return {"euler": {"alpha": torch.ones(T), "beta1": torch.zeros(T), "beta2": torch.zeros(T)}}
