"""``lm``: the learnable explicit r-step linear multistep scheme, HNO (seed eq. 10).

Layer ``t`` (for t ≥ r − 1) computes::

    x_{t+1} = Σ_{i=0}^{r−1} ξ_{t,i} x_{t−i} + h_t Σ_{i=0}^{r−1} γ_{t,i} f(x_{t−i} | Θ_{t−i})

with ``f(x_{t−i} | Θ_{t−i})`` taken from the network's history (each computed once, by its own
layer). ξ, γ and h are learnable, per layer (default) or ``shared`` by all layers.

*Sum constraint* (``sum_to_one``, default on, seed eq. 6 requires Σ ξ_i = 1): ξ is
parametrised by ξ_{t,1..r−1}; ξ_{t,0} = 1 − Σ_{i≥1} ξ_{t,i}. Then a constant history at a
fixed point of G (where f = 0) is preserved whatever the parameters.

*Start-up* (layers t < r − 1 see only t + 1 states): the missing past is taken to be the
oldest state, i.e. x_{t−i} := x_0 and f_{t−i} := f_0 for i > t. Equivalently, layer t uses the
(t + 1)-step rule whose last coefficient collects the weights of the missing ones,
``ξ'_{t,i} = ξ_{t,i}`` for i < t and ``ξ'_{t,t} = Σ_{i≥t} ξ_{t,i}`` (same for γ). So Σ ξ' = Σ ξ, and AB-type
coefficients (ξ = (1, 0, …), Σ γ = 1) start with Euler. Per-layer parameters are created only
for the coefficients a layer uses (layer t has min(t + 1, r) of each, minus ξ_{t,0} when it is
derived), so every parameter element is used. ``shared`` coefficients are one set of min(r, T)
of each, used by every layer (merged as above in the first layers).

*Initialisation*: ξ = (1, 0, …, 0), γ = (1, 0, …, 0), h = 1, which is Euler with h = 1, the
plain DUN (options ``xi_init``, ``gamma_init``, ``h`` change it, e.g. the Adams–Bashforth weights).

*Metadata order*: the global convergence order of the scheme frozen at its initial
coefficients: min(p, p_k + 1) over the steady rule (order p by the classical conditions
C_0 = … = C_p = 0) and the start-up rules (order p_k), and 0 when the rule is not convergent
(inconsistent, or ρ(ζ) = ζ^r − Σ ξ_i ζ^{r−1−i} violates the root condition).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np
import torch
from pydantic import AliasChoices, Field, model_validator
from torch import Tensor

from hno_framework import History, Integrator, IntegratorLayout, IntegratorMetadata, Options, VectorField

TOLERANCE = 1e-9


@overload
def merge(values: Tensor, k: int) -> Tensor: ...
@overload
def merge(values: Sequence[float], k: int) -> list[float]: ...
def merge(values: Sequence[float] | Tensor, k: int) -> list[float] | Tensor:
    """The first k − 1 entries of ``values`` followed by the sum of the rest (the start-up merge);
    a tensor ``(r,)`` gives a tensor ``(k,)``, a sequence a list."""
    if k >= len(values):
        return values if isinstance(values, Tensor) else list(values)
    if isinstance(values, Tensor):
        return torch.cat([values[: k - 1], values[k - 1 :].sum().reshape(1)])
    return [*list(values[:k - 1]), sum(values[k - 1:])]


def zero_stable(xi: Sequence[float]) -> bool:
    """Root condition for ρ(ζ) = ζ^r − Σ ξ_i ζ^{r−1−i}: roots in the closed unit disk, simple on the circle."""
    roots = np.roots([1.0, *[-v for v in xi]]) if len(xi) else np.array([])
    for j, z in enumerate(roots):
        if abs(z) > 1 + 1e-9:
            return False
        if abs(abs(z) - 1) <= 1e-9 and any(abs(z - w) < 1e-6 for w in roots[j + 1 :]):
            return False
    return True


def lmm_order(xi: Sequence[float], gamma: Sequence[float], max_order: int = 12) -> int:
    """Consistency order of x_{t+1} = Σ ξ_i x_{t−i} + h Σ γ_i f_{t−i}: the largest p with C_0..C_p = 0,
    ``C_q = (1 − Σ ξ_i (−i)^q)/q! − Σ γ_i (−i)^{q−1}/(q−1)!`` (0 if C_0 or C_1 ≠ 0)."""
    order = -1
    for q in range(max_order + 1):
        c = (1 - sum(x * (-i) ** q for i, x in enumerate(xi))) / math.factorial(q)
        if q >= 1:
            c -= sum(g * (-i) ** (q - 1) for i, g in enumerate(gamma)) / math.factorial(q - 1)
        if abs(c) > TOLERANCE:
            break
        order = q
    return max(order, 0)


def convergence_order(xi: Sequence[float], gamma: Sequence[float]) -> int:
    """Global order of the r-step rule with the start-up merge (0 when not convergent)."""
    if not zero_stable(xi):
        return 0
    order = lmm_order(xi, gamma)
    for k in range(1, len(xi)):
        order = min(order, lmm_order(merge(xi, k), merge(gamma, k)) + 1)
    return order


class LMOptions(Options):
    past_states: int = Field(
        2,
        ge=1,
        validation_alias=AliasChoices("past_states", "steps"),  # `steps`: the earlier name, still accepted
        description="r: how many past states x_t..x_{t−r+1} (and their f) a layer combines (old name: steps)",
    )
    xi_init: tuple[float, ...] | None = Field(
        None, description="initial ξ_0..ξ_{r−1} (weights of x_t..x_{t−r+1}); default (1, 0, …, 0)"
    )
    gamma_init: tuple[float, ...] | None = Field(
        None, description="initial γ_0..γ_{r−1} (weights of f_t..f_{t−r+1}); default (1, 0, …, 0)"
    )
    h: float = Field(1.0, gt=0.0, description="initial step size h_t")
    sum_to_one: bool = Field(True, description="parametrise ξ so that Σ_i ξ_{t,i} = 1 (fixed points of G are kept)")
    shared: bool = Field(False, description="one ξ, γ, h for all layers instead of ξ_t, γ_t, h_t per layer")
    learnable: bool = Field(True, description="train ξ and γ")
    learnable_h: bool | None = Field(None, description="train h (default: the value of learnable)")

    @model_validator(mode="after")
    def _check(self) -> LMOptions:
        for key in ("xi_init", "gamma_init"):
            value = getattr(self, key)
            if value is not None and len(value) != self.past_states:
                raise ValueError(
                    f"{key} has {len(value)} entries but past_states = {self.past_states}; give one per past state"
                )
        if self.sum_to_one and abs(sum(self.xi) - 1) > TOLERANCE:
            raise ValueError(
                f"xi_init sums to {sum(self.xi):.12g}, but sum_to_one requires Σ ξ = 1; "
                "fix xi_init or set sum_to_one: false"
            )
        return self

    @property
    def xi(self) -> tuple[float, ...]:
        return self.xi_init if self.xi_init is not None else (1.0,) + (0.0,) * (self.past_states - 1)

    @property
    def gamma(self) -> tuple[float, ...]:
        return self.gamma_init if self.gamma_init is not None else (1.0,) + (0.0,) * (self.past_states - 1)

    @property
    def train_h(self) -> bool:
        return self.learnable if self.learnable_h is None else self.learnable_h


class LinearMultistep(Integrator):
    """HNO r-step linear multistep (seed eq. 10): x_{t+1} = Σ ξ_{t,i} x_{t−i} + h_t Σ γ_{t,i} f_{t−i}, learnable."""

    name = "lm"
    Options = LMOptions

    def __init__(self, options: LMOptions, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        r, T = options.past_states, layout.num_layers
        skip = 1 if options.sum_to_one else 0  # ξ_0 is derived when the sum is constrained
        # Layer t uses ks[t] coefficients of each kind; its entries start at the offsets below.
        # Shared coefficients: min(r, T) of each (a network shallower than r never sees more states).
        self.ks = [min(r, T)] * T if options.shared else [min(t + 1, r) for t in range(T)]
        rows = self.ks[:1] if options.shared else self.ks
        xi_rows = [merge(options.xi, k) for k in rows]
        gamma_rows = [merge(options.gamma, k) for k in rows]
        self._xi_at = _offsets([len(row) - skip for row in xi_rows])
        self._gamma_at = _offsets([len(row) for row in gamma_rows])
        xi = torch.tensor([v for row in xi_rows for v in row[skip:]])
        gamma = torch.tensor([v for row in gamma_rows for v in row])
        h = torch.full((1 if options.shared else T,), options.h)
        self.register_coefficient("xi", xi, options.learnable and xi.numel() > 0)
        self.register_coefficient("gamma", gamma, options.learnable)
        self.register_coefficient("h", h, options.train_h)

    @classmethod
    def describe(cls, options: LMOptions) -> IntegratorMetadata:
        learnable = options.learnable or options.train_h
        fixed_sum = abs(sum(options.xi) - 1) <= TOLERANCE and not options.learnable
        return IntegratorMetadata(
            family="multistep",
            past_states=options.past_states,
            stages=1,
            order=convergence_order(options.xi, options.gamma),
            learnable=learnable,
            consistent=options.sum_to_one or fixed_sum,
        )

    def coefficients(self, t: int, available: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(ξ, γ, h)`` layer ``t`` applies to ``x_{t−i}``, ``f_{t−i}`` (i = 0..k−1), merged to
        ``available`` past states when fewer are given. ``ξ`` includes the derived ``ξ_0``."""
        row = 0 if self.options.shared else t
        k = self.ks[t]
        skip = 1 if self.options.sum_to_one else 0
        start, stop = self._xi_at[row], self._xi_at[row + 1]
        xi = self.xi[start:stop]
        if skip:
            xi = torch.cat([(1 - xi.sum()).reshape(1), xi])
        gamma = self.gamma[self._gamma_at[row] : self._gamma_at[row + 1]]
        h = self.h[0 if self.options.shared else t]
        use = max(1, min(k, t + 1, available if available is not None else k))
        return merge(xi, use), merge(gamma, use), h

    def advance(self, t: int, history: History, field: VectorField) -> Tensor:
        xi, gamma, h = self.coefficients(t, len(history))
        x = sum(xi[i] * history.x(i) for i in range(len(xi)))
        slope = sum(gamma[i] * history.f(i) for i in range(len(gamma)))
        return x + h * slope

    def inspect_coefficients(self) -> dict[str, Tensor]:
        """ξ_t, γ_t ``(T, r)`` as layer t applies them (start-up merge included; NaN for the past states a
        layer does not see) and h_t ``(T,)``."""
        T, r = self.layout.num_layers, self.options.past_states
        xi, gamma = torch.full((T, r), float("nan")), torch.full((T, r), float("nan"))
        h = torch.empty(T)
        for t in range(T):
            x_t, g_t, h_t = self.coefficients(t, min(t + 1, r))
            xi[t, : len(x_t)] = torch.as_tensor(x_t).detach()
            gamma[t, : len(g_t)] = torch.as_tensor(g_t).detach()
            h[t] = h_t.detach()
        return {"xi": xi, "gamma": gamma, "h": h}

    def reference_coefficients(self) -> dict[str, dict[str, Tensor]]:
        """Forward Euler (the plain DUN): ξ = (1, 0, …), γ = (1, 0, …), h = 1 (NaN where a layer sees fewer states)."""
        T, r = self.layout.num_layers, self.options.past_states
        xi = torch.full((T, r), float("nan"))
        for t in range(T):
            xi[t, : min(t + 1, r)] = 0.0
        xi[:, 0] = 1.0
        return {"euler": {"xi": xi, "gamma": xi.clone(), "h": torch.ones(T)}}


def _offsets(lengths: list[int]) -> list[int]:
    out = [0]
    for n in lengths:
        out.append(out[-1] + n)
    return out
