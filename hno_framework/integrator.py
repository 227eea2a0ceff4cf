"""The :class:`Integrator` interface: a numerical scheme for ``dx/dt = f(x) = G(x | Θ_t) − x``.

Layer ``t`` of the unrolled network is one step of the scheme. The network loop keeps a
:class:`History` of the last ``r`` (``past_states``) states ``x_t, x_{t−1}, …`` and of the derivatives
``f(x_{t−i} | Θ_{t−i})`` evaluated when each state was current, and hands the integrator a
:class:`VectorField` for layer ``t``. So

* a one-step scheme (Euler) uses ``history.x(0)`` and ``history.f(0)`` (or the map ``history.g(0) = G(x_t)``);
* an r-step linear multistep scheme (seed eq. 6/10) looks back ``history.x(i)``, ``history.f(i)``
  for ``i < r``, reusing stored values (no recomputation);
* a Runge-Kutta scheme (seed eqs. 4-5) calls ``field(x)`` for its extra stages, each of which
  evaluates layer ``t``'s step.

The composer never special-cases a scheme: all of the above go through :meth:`Integrator.advance`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor, nn

from .config import ComponentSpec
from .integrator_metadata import IntegratorMetadata
from .options import Component, ComponentOptions, validate_options
from .registry import Registry, get_registry


class History:
    """The last ``past_states`` (r) states and their derivatives, newest first.

    ``x(i)`` is ``x_{t−i}``, ``f(i)`` is ``f(x_{t−i} | Θ_{t−i})`` and ``g(i)`` is the layer map
    ``G(x_{t−i} | Θ_{t−i}) = x_{t−i} + f(i)`` (seed eq. 8), each ``(batch, *state_shape)``; ``len(history)`` is
    how many are available (``min(t + 1, r)``). Memory is O(r).

    A state enters with its derivative (:meth:`push`) or with its map (:meth:`push_map`, what the network does for
    a step that defines ``G``); the other one is computed on first use and kept, so a scheme that is written in
    ``G`` (Euler at h = 1: ``x_{t+1} = G(x_t)``) does no ``x + (G − x)`` round trip.
    """

    def __init__(self, past_states: int) -> None:
        if past_states < 1:
            raise ValueError(f"a history keeps past_states ≥ 1 states, got {past_states}")
        self.past_states = past_states
        self._x: deque[Tensor] = deque(maxlen=past_states)
        self._f: deque[Tensor | None] = deque(maxlen=past_states)
        self._g: deque[Tensor | None] = deque(maxlen=past_states)

    @property
    def depth(self) -> int:
        """The earlier name of :attr:`past_states`, kept for plugins that read it."""
        return self.past_states

    def push(self, x: Tensor, fx: Tensor) -> None:
        """Make ``x`` the current state ``x_t`` with derivative ``fx = f(x_t | Θ_t)``."""
        self._x.appendleft(x)
        self._f.appendleft(fx)
        self._g.appendleft(None)

    def push_map(self, x: Tensor, gx: Tensor) -> None:
        """Make ``x`` the current state ``x_t`` with its map ``gx = G(x_t | Θ_t)`` (so ``f = gx − x``)."""
        self._x.appendleft(x)
        self._f.appendleft(None)
        self._g.appendleft(gx)

    def x(self, i: int = 0) -> Tensor:
        return self._x[i]

    def f(self, i: int = 0) -> Tensor:
        fx = self._f[i]
        if fx is None:
            gx = self._g[i]
            assert gx is not None
            fx = self._f[i] = gx - self._x[i]
        return fx

    def g(self, i: int = 0) -> Tensor:
        gx = self._g[i]
        if gx is None:
            fx = self._f[i]
            assert fx is not None
            gx = self._g[i] = self._x[i] + fx
        return gx

    def __len__(self) -> int:
        return len(self._x)


VectorField = Callable[[Tensor], Tensor]
"""``field(x) = f(x | Θ_t) = G_t(x) − x`` for the current layer ``t``: ``(batch, n) -> (batch, n)``."""


@dataclass(frozen=True)
class IntegratorLayout:
    """How the network is unrolled: ``num_layers`` T."""

    num_layers: int


class Integrator(Component, nn.Module):
    """A scheme advancing the state by one layer; subclasses implement :meth:`advance`.

    Class attributes a subclass sets: ``name`` (registry name), ``Options`` (pydantic model), optionally
    ``behaviour`` (declarations that relax named behavioural checks of the consistency suite, see
    :data:`hno_framework.behaviour.BEHAVIOURS`) and ``reference_options`` (option values at which the declared
    ``order`` applies, when they are not the defaults, e.g. 2NO's α = 1, β = 0; the suite measures the order
    with them merged over the options under test).
    Subclasses describe themselves through :meth:`describe` (metadata may depend on options,
    e.g. the number of past states r of ``lm``). Per-layer learnable coefficients are registered
    parameters of the integrator, indexed by the layer ``t``.
    """

    behaviour: ClassVar[frozenset[str]] = frozenset()
    reference_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, options: ComponentOptions, layout: IntegratorLayout) -> None:
        super().__init__()
        self.options = options
        self.layout = layout
        self.metadata = self.describe(options)

    @classmethod
    def describe(cls, options: ComponentOptions) -> IntegratorMetadata:  # pragma: no cover - abstract
        """Metadata of the scheme with these options."""
        raise NotImplementedError

    def register_coefficient(self, name: str, value: Tensor, learnable: bool) -> Tensor:
        """Register a coefficient tensor (e.g. per-layer ``h_t`` of shape ``(T,)``): an ``nn.Parameter``
        when ``learnable``, else a buffer (saved in the state_dict and moved by ``.to()``, not trained)."""
        if learnable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)
        return getattr(self, name)

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:  # pragma: no cover
        """``x_{t+1}`` from the history (``history.x(0) = x_t``, ``history.f(0) = f(x_t | Θ_t)``)."""
        raise NotImplementedError

    def inspect_coefficients(self) -> dict[str, Tensor]:
        """The coefficients each layer applies, for ``hno inspect``: name -> ``(T,)`` or ``(T, k)``, row ``t``
        for layer ``t``. Optional to override; the default takes every own parameter and buffer whose first
        dimension is T, and repeats one of shape ``()`` or ``(1,)`` (shared by all layers) T times."""
        T = self.layout.num_layers
        out: dict[str, Tensor] = {}
        for name, value in [*self.named_parameters(recurse=False), *self.named_buffers(recurse=False)]:
            value = value.detach()
            if value.dim() >= 1 and value.shape[0] == T:
                out[name] = value.clone()
            elif value.numel() == 1:
                out[name] = value.reshape(1).repeat(T)
        return out

    def reference_coefficients(self) -> dict[str, dict[str, Tensor]]:
        """Named reference schemes in the layout of :meth:`inspect_coefficients`, e.g. ``{"euler": {"alpha":
        ones, "beta": zeros}}`` (the values at which this scheme is forward Euler). Optional; default none.
        (The values at initialisation are found by ``hno inspect`` itself, from a freshly built network.)"""
        return {}

    def extra_repr(self) -> str:
        m = self.metadata
        return f"family={m.family}, past_states={m.past_states}, stages={m.stages}, order={m.order}, learnable={m.learnable}"


def build_integrator(
    spec: str | ComponentSpec | Mapping[str, Any], num_layers: int, registry: Registry | None = None
) -> Integrator:
    """The registered integrator ``spec`` names (``"2no"`` or ``{"name": ..., "options": {...}}``) for
    ``num_layers`` layers, its options validated (float32 parameters; move it with ``.to()``)."""
    spec = ComponentSpec.model_validate(spec)
    info = (registry or get_registry()).integrator(spec.name)
    return info.cls(validate_options(info, spec.options), IntegratorLayout(num_layers=num_layers))
