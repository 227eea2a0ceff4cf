"""Explicit Runge-Kutta schemes (seed eqs. 4-5): ``heun``, ``rk4`` and ``rk`` (any explicit tableau).

Layer ``t`` is one RK step of size ``h`` for ``dx/dt = f(x | Θ_t)``::

    k_1 = f(x_t | Θ_t)                       (already computed by the network: history.f(0))
    k_j = f(x_t + h Σ_{l<j} a_{jl} k_l | Θ_t) (j = 2..s: calls of layer t's step, field(x))
    x_{t+1} = x_t + h Σ_j b_j k_j

(the seed prints ``p_{jl} k_j`` inside the stage sum; ``p_{jl} k_l`` is meant). ``heun`` is the
2-stage trapezoidal tableau (order 2), ``rk4`` the classical 4-stage tableau (order 4). ``rk``
takes any explicit tableau (see :mod:`.butcher`), optionally with learnable weights ``b_t`` per
layer, parametrised as ``b_{t,1} = 1 − Σ_{j≥2} b_{t,j}`` so that ``Σ_j b_{t,j} = 1`` (consistency)
holds for any value of the parameters, and/or a learnable step ``h_t``. Every scheme maps a
fixed point of ``G_t`` to itself: all ``k_j`` vanish there.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field, field_validator
from torch import Tensor, nn

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField

from .butcher import PRESETS, ButcherTableau, preset, rk_step


class FixedRKOptions(Options):
    h: float = Field(1.0, gt=0.0, description="step size h (1 gives k_1 = G(x_t) − x_t per layer, as the plain DUN)")


class _FixedRungeKutta(Integrator):
    """An explicit RK scheme with a fixed tableau (set ``tableau_name`` in a subclass)."""

    tableau_name: ClassVar[str] = ""
    Options = FixedRKOptions

    def __init__(self, options: FixedRKOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        self.tableau = preset(self.tableau_name)
        self.register_buffer("h", torch.full((layout.num_layers,), options.h))  # in the network's dtype, as euler's

    @classmethod
    def describe(cls, options: FixedRKOptions) -> IntegratorMetadata:
        tableau = preset(cls.tableau_name)
        return IntegratorMetadata(family="runge-kutta", past_states=1, stages=tableau.stages, order=tableau.order)

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        return rk_step(history.x(0), history.f(0), field, self.h[t], self.tableau.a, self.tableau.b)


class Heun(_FixedRungeKutta):
    """Heun's method (explicit trapezoidal RK2): x_{t+1} = x_t + h/2 (k_1 + f(x_t + h k_1))."""

    name = "heun"
    tableau_name = "heun"


class RK4(_FixedRungeKutta):
    """Classical 4-stage Runge-Kutta (order 4); stages 2-4 call layer t's step."""

    name = "rk4"
    tableau_name = "rk4"


class RKOptions(Options):
    tableau: ButcherTableau = Field(
        "rk4",  # a preset name, converted by _preset below
        validate_default=True,
        description="explicit Butcher tableau {a, b, c} (c optional) or a preset name: " + ", ".join(sorted(PRESETS)),
    )
    h: float = Field(1.0, gt=0.0, description="step size h (initial h_t when learnable_h)")
    learnable_b: bool = Field(False, description="learn per-layer weights b_t (kept summing to 1), initialised at b")
    learnable_h: bool = Field(False, description="learn a per-layer step size h_t, initialised at h")

    @field_validator("tableau", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        return preset(value) if isinstance(value, str) else value


class RungeKutta(Integrator):
    """Explicit Runge-Kutta with any Butcher tableau (default classical RK4); optional learnable b_t, h_t."""

    name = "rk"
    Options = RKOptions

    def __init__(self, options: RKOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        tableau = options.tableau
        self.a = tableau.a
        T, s = layout.num_layers, tableau.stages
        self.register_coefficient("h", torch.full((T,), options.h), options.learnable_h)
        self.b = tableau.b  # fixed weights stay exact Python floats
        self.free_b: Tensor | None = None
        if options.learnable_b and s > 1:
            # b_{t,1} is derived (1 − the rest), so every parameter element is used.
            self.free_b = nn.Parameter(torch.tensor(tableau.b[1:]).repeat(T, 1))  # (T, s − 1)

    @classmethod
    def describe(cls, options: RKOptions) -> IntegratorMetadata:
        tableau = options.tableau
        learnable_b = options.learnable_b and tableau.stages > 1
        return IntegratorMetadata(
            family="runge-kutta",
            past_states=1,
            stages=tableau.stages,
            order=tableau.order,
            learnable=learnable_b or options.learnable_h,
        )

    def weights(self, t: int) -> Tensor | tuple[float, ...]:
        """``b_t`` ``(s,)`` of layer ``t`` (summing to 1)."""
        if self.free_b is None:
            return self.b
        rest = self.free_b[t]
        return torch.cat([(1 - rest.sum()).reshape(1), rest])

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        return rk_step(history.x(0), history.f(0), field, self.h[t], self.a, self.weights(t))

    def inspect_coefficients(self) -> dict[str, Tensor]:
        """The weights b_t ``(T, s)`` (summing to 1) and the step h_t ``(T,)``."""
        T = self.layout.num_layers
        b = torch.stack([torch.as_tensor(self.weights(t), dtype=self.h.dtype).detach() for t in range(T)])
        return {"b": b, "h": self.h.detach().clone()}
