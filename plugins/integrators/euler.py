"""Forward Euler: ``x_{t+1} = x_t + h f(x_t | Θ_t)`` (seed eq. 8); h = 1 is the plain DUN."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField


class EulerOptions(Options):
    h: float = Field(1.0, gt=0.0, description="step size h (1 gives the plain DUN x_{t+1} = G(x_t))")
    learnable_h: bool = Field(False, description="learn one h_t per layer, initialised at h")


class Euler(Integrator):
    """Forward Euler x_{t+1} = x_t + h f(x_t); h = 1 is the original DUN."""

    name = "euler"
    Options = EulerOptions

    def __init__(self, options: EulerOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        self.register_coefficient("h", torch.full((layout.num_layers,), options.h), options.learnable_h)

    @classmethod
    def describe(cls, options: EulerOptions) -> IntegratorMetadata:
        return IntegratorMetadata(family="one-step", past_states=1, stages=1, order=1, learnable=options.learnable_h)

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        return history.x(0) + self.h[t] * history.f(0)

    def reference_coefficients(self) -> dict[str, dict[str, Tensor]]:
        """The plain DUN x_{t+1} = G(x_t): h = 1."""
        return {"plain DUN": {"h": torch.ones(self.layout.num_layers)}}
