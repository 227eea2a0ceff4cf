"""Explicit Butcher tableaux: validation, named presets, order conditions, one RK step.

An explicit s-stage Runge-Kutta method (seed eqs. 4-5, with ``p_{jl} k_l`` inside the sum
where the paper prints ``p_{jl} k_j``) for the autonomous ODE ``dx/dt = f(x)`` is::

    k_1 = f(x_t),   k_j = f(x_t + h Σ_{l<j} a_{jl} k_l)   (j = 2..s),
    x_{t+1} = x_t + h Σ_j b_j k_j,

given by the tableau ``(A, b, c)`` with ``A`` strictly lower triangular (explicit), ``c_j =
Σ_l a_{jl}`` (the stage times; the field of a layer does not depend on time, so ``c`` is only
checked) and ``Σ_j b_j = 1`` (consistency). The order is the largest ``p`` such that every
rooted tree ``τ`` with at most ``p`` nodes satisfies ``b·Φ(τ) = 1/γ(τ)`` (Butcher's order
conditions), computed here for trees up to :data:`MAX_ORDER` nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from hno_framework import VectorField

TOLERANCE = 1e-9
"""Absolute tolerance of the tableau checks (row sums, Σb = 1) and of the order conditions."""

MAX_ORDER = 8
"""Order conditions are checked for rooted trees up to this many nodes."""


class ButcherTableau(BaseModel):
    """An explicit tableau: ``a`` (s×s, strictly lower triangular), ``b`` (s, Σ = 1), ``c`` (s, row sums of ``a``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    a: tuple[tuple[float, ...], ...] = Field(description="s×s matrix A, strictly lower triangular (explicit method)")
    b: tuple[float, ...] = Field(description="weights b_1..b_s, summing to 1")
    c: tuple[float, ...] | None = Field(
        None, description="nodes c_1..c_s; must equal the row sums of A (omit to use them)"
    )

    @model_validator(mode="after")
    def _check(self) -> ButcherTableau:
        s = len(self.a)
        if s == 0:
            raise ValueError("A is empty; give at least one stage, e.g. a: [[0]], b: [1] (Euler)")
        for j, row in enumerate(self.a):
            if len(row) != s:
                raise ValueError(f"A must be square: row {j} has {len(row)} entries, expected {s}")
            upper = [row[i] for i in range(j, s) if row[i] != 0.0]
            if upper:
                raise ValueError(
                    f"A must be strictly lower triangular (an explicit method): row {j} has non-zero entries "
                    f"on or above the diagonal; set a[{j}][{j}:] to 0"
                )
        if len(self.b) != s:
            raise ValueError(f"b has {len(self.b)} entries but A has {s} stages; give one weight per stage")
        if abs(sum(self.b) - 1.0) > TOLERANCE:
            raise ValueError(f"the weights b must sum to 1 (consistency), they sum to {sum(self.b):.12g}")
        if self.c is not None:
            if len(self.c) != s:
                raise ValueError(f"c has {len(self.c)} entries but A has {s} stages; give one node per stage")
            for j, (cj, row) in enumerate(zip(self.c, self.a, strict=True)):
                if abs(cj - sum(row)) > TOLERANCE:
                    raise ValueError(
                        f"c[{j}] = {cj:.12g} differs from the row sum of A ({sum(row):.12g}); "
                        "c must equal the row sums of A (or omit c)"
                    )
        return self

    @property
    def stages(self) -> int:
        return len(self.a)

    @property
    def nodes(self) -> tuple[float, ...]:
        """``c`` (the row sums of ``A`` when not given)."""
        return self.c if self.c is not None else tuple(sum(row) for row in self.a)

    @property
    def order(self) -> int:
        """Order of accuracy (Butcher's conditions on trees up to :data:`MAX_ORDER` nodes)."""
        return tableau_order(self.a, self.b)


PRESETS: dict[str, dict[str, Any]] = {
    "euler": {"a": [[0]], "b": [1]},
    "midpoint": {"a": [[0, 0], [0.5, 0]], "b": [0, 1]},
    "heun": {"a": [[0, 0], [1, 0]], "b": [0.5, 0.5]},
    "ralston": {"a": [[0, 0], [2 / 3, 0]], "b": [0.25, 0.75]},
    "kutta3": {"a": [[0, 0, 0], [0.5, 0, 0], [-1, 2, 0]], "b": [1 / 6, 2 / 3, 1 / 6]},
    "rk4": {"a": [[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]], "b": [1 / 6, 1 / 3, 1 / 3, 1 / 6]},
    "rk38": {
        "a": [[0, 0, 0, 0], [1 / 3, 0, 0, 0], [-1 / 3, 1, 0, 0], [1, -1, 1, 0]],
        "b": [1 / 8, 3 / 8, 3 / 8, 1 / 8],
    },
}
"""Named tableaux accepted wherever a tableau is expected (``tableau: rk4``)."""


def preset(name: str) -> ButcherTableau:
    """The named tableau from :data:`PRESETS`."""
    if name not in PRESETS:
        raise ValueError(f"unknown tableau '{name}'; presets: {', '.join(sorted(PRESETS))} (or give a, b[, c])")
    return ButcherTableau.model_validate(PRESETS[name])


# -- order conditions -------------------------------------------------------------------------

Tree = tuple  # a rooted tree: the sorted tuple of its root's subtrees; () is the single node


def _grow(tree: Tree) -> list[Tree]:
    """Every tree obtained by attaching one new leaf to a node of ``tree`` (canonical form)."""
    grown = [tuple(sorted((*tree, ())))]
    for i, child in enumerate(tree):
        for g in _grow(child):
            grown.append(tuple(sorted((*tree[:i], g, *tree[i + 1:]))))
    return grown


@cache
def rooted_trees(order: int) -> tuple[Tree, ...]:
    """All rooted trees with ``order`` nodes (1, 1, 2, 4, 9, 20, 48, 115, ...)."""
    if order == 1:
        return ((),)
    return tuple(sorted({g for t in rooted_trees(order - 1) for g in _grow(t)}))


def _density(tree: Tree) -> int:
    """γ(τ) = |τ| · Π γ(children)."""
    out = _size(tree)
    for child in tree:
        out *= _density(child)
    return out


def _size(tree: Tree) -> int:
    return 1 + sum(_size(c) for c in tree)


def _stage_weights(tree: Tree, a: np.ndarray) -> np.ndarray:
    """Φ_j(τ) per stage: Π over children of (A Φ(child)); 1 for the single node."""
    out = np.ones(a.shape[0])
    for child in tree:
        out = out * (a @ _stage_weights(child, a))
    return out


def tableau_order(a: Sequence[Sequence[float]], b: Sequence[float], max_order: int = MAX_ORDER) -> int:
    """Largest p ≤ ``max_order`` with ``b·Φ(τ) = 1/γ(τ)`` for all trees of ≤ p nodes (0 if Σb ≠ 1)."""
    A, B = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    order = 0
    for p in range(1, max_order + 1):
        for tree in rooted_trees(p):
            if abs(float(B @ _stage_weights(tree, A)) - 1.0 / _density(tree)) > TOLERANCE:
                return order
        order = p
    return order


# -- one step ---------------------------------------------------------------------------------

def rk_step(
    x: Tensor,
    fx: Tensor,
    field: VectorField,
    h: Tensor | float,
    a: Sequence[Sequence[float]],
    b: Sequence[Any] | Tensor,
) -> Tensor:
    """``x + h Σ_j b_j k_j`` with ``k_1 = fx = f(x)`` (reused, not recomputed) and
    ``k_j = field(x + h Σ_{i<j} a_{ji} k_i)``. ``b`` may be a tensor (learnable weights)."""
    k = [fx]
    for j in range(1, len(a)):
        increment = sum((a[j][i] * k[i] for i in range(j) if a[j][i] != 0.0), start=x.new_zeros(()))
        k.append(field(x + h * increment))
    return x + h * sum((b[j] * k[j] for j in range(len(a))), start=x.new_zeros(()))
