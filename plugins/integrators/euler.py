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
        self._plain = options.h == 1.0 and not options.learnable_h
        self.register_load_state_dict_post_hook(self._recheck_after_load)

    @classmethod
    def describe(cls, options: EulerOptions) -> IntegratorMetadata:
        return IntegratorMetadata(family="one-step", past_states=1, stages=1, order=1, learnable=options.learnable_h)

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        if self._plain:
            return history.g(0)  # x_t + 1 · f(x_t) = G(x_t): the plain DUN, without the round trip
        return history.x(0) + self.h[t] * history.f(0)

    @staticmethod
    def _recheck_after_load(module: torch.nn.Module, incompatible: object) -> None:
        """``_plain``: whether h is a buffer of ones (not learnable), set from the options and again after a load."""
        assert isinstance(module, Euler)
        h = module.h
        module._plain = not isinstance(h, torch.nn.Parameter) and not h.is_meta and bool((h == 1).all())

    def reference_coefficients(self) -> dict[str, dict[str, Tensor]]:
        """The plain DUN x_{t+1} = G(x_t): h = 1."""
        return {"plain DUN": {"h": torch.ones(self.layout.num_layers)}}
