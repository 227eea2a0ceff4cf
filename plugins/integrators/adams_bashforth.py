"""Adams–Bashforth schemes ``ab2``, ``ab3``, ``ab4``: explicit linear multistep methods (seed eq. 6).

The p-step Adams–Bashforth method of order p is seed eq. 6 with ``ξ = (1, 0, …, 0)``,
``γ_{−1} = 0`` and the classical weights::

    x_{t+1} = x_t + h Σ_{i=0}^{p−1} β^{(p)}_i f(x_{t−i} | Θ_{t−i})
    β^{(1)} = (1)                      (Euler)
    β^{(2)} = (3, −1) / 2
    β^{(3)} = (23, −16, 5) / 12
    β^{(4)} = (55, −59, 37, −9) / 24

The f values come from the network's :class:`~hno_framework.integrator.History` (each computed
once, by its own layer). Start-up (layers t < p − 1, fewer than p states available), option
``startup``:

* ``lower-order`` (default): layer t uses AB of order t + 1 (layer 0 is Euler). Simple and
  free, but the Euler first layer's local error O(h²) limits the global error of ab3/ab4 to
  O(h²);
* ``rk4``: layer t < p − 1 takes one classical RK4 step with layer t's field (3 extra f
  evaluations), accurate enough that ab3/ab4 keep their order p globally.

With ``learnable_h`` each layer has its own step ``h_t`` (initialised at ``h``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField

from .butcher import preset, rk_step

ADAMS_BASHFORTH: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}
"""Classical AB weights β^{(p)}_i on f(x_{t−i}), newest first."""


class AdamsBashforthOptions(Options):
    h: float = Field(1.0, gt=0.0, description="step size h (initial h_t when learnable_h)")
    learnable_h: bool = Field(False, description="learn a per-layer step size h_t, initialised at h")
    startup: Literal["lower-order", "rk4"] = Field(
        "lower-order",
        description="first p − 1 layers: 'lower-order' AB (layer t uses AB of order t + 1) or one 'rk4' step each",
    )


class _AdamsBashforth(Integrator):
    """The p-step Adams–Bashforth scheme (set ``past_states`` = p in a subclass)."""

    past_states: ClassVar[int] = 0
    Options = AdamsBashforthOptions

    def __init__(self, options: AdamsBashforthOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        self.register_coefficient("h", torch.full((layout.num_layers,), options.h), options.learnable_h)
        self._rk4 = preset("rk4")

    @classmethod
    def describe(cls, options: AdamsBashforthOptions) -> IntegratorMetadata:
        return IntegratorMetadata(
            family="multistep", past_states=cls.past_states, stages=1, order=cls.past_states, learnable=options.learnable_h
        )

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        k = min(t + 1, self.past_states, len(history))  # how many past states this layer uses
        if k < self.past_states and self.options.startup == "rk4":
            return rk_step(history.x(0), history.f(0), field, self.h[t], self._rk4.a, self._rk4.b)
        weights = ADAMS_BASHFORTH[k]
        slope = sum(w * history.f(i) for i, w in enumerate(weights))
        return history.x(0) + self.h[t] * slope


class AB2(_AdamsBashforth):
    """Adams–Bashforth order 2: x_{t+1} = x_t + h (3 f_t − f_{t−1}) / 2; Euler at layer 0."""

    name = "ab2"
    past_states = 2


class AB3(_AdamsBashforth):
    """Adams–Bashforth order 3: x_{t+1} = x_t + h (23 f_t − 16 f_{t−1} + 5 f_{t−2}) / 12."""

    name = "ab3"
    past_states = 3


class AB4(_AdamsBashforth):
    """Adams–Bashforth order 4: x_{t+1} = x_t + h (55 f_t − 59 f_{t−1} + 37 f_{t−2} − 9 f_{t−3}) / 24."""

    name = "ab4"
    past_states = 4
