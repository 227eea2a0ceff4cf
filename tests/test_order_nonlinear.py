"""Order of accuracy on a nonlinear ODE with a known solution: the logistic equation.

``dx/dt = x(1 − x)``, ``x(t) = 1 / (1 + (1/x₀ − 1) e^{−t})`` (componentwise, several x₀). The
linear test ODE of :func:`hno_framework.testing.measure_order` cannot tell a scheme whose stage
values are combined wrongly in a way that only nonlinear fields expose (e.g. a Runge-Kutta stage
evaluated at the wrong point); this one can. Driven as the network drives an integrator (push
``(x_t, f(x_t))``, then ``advance``), from x₀ with the scheme's own start-up.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from hno_framework.composer import validate_options
from hno_framework.integrator import History, IntegratorLayout
from hno_framework.registry import get_registry

X0 = torch.tensor([[0.1, 0.4, 0.8, 1.6]], dtype=torch.float64)
TIME = 3.0
STEPS = (12, 24, 48, 96)


def logistic(t: float) -> Tensor:
    return 1.0 / (1.0 + (1.0 / X0 - 1.0) * math.exp(-t))


def logistic_order(name: str, options: dict) -> tuple[float, list[float]]:
    """Least-squares slope of log(global error at TIME) against log(h), and the errors."""
    info = get_registry().integrator(name)
    errors, hs = [], []
    for n in STEPS:
        h = TIME / n
        opts = validate_options(info, {**options, "h": h})
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            integrator = info.cls(opts, IntegratorLayout(num_layers=n)).to(torch.float64)
        finally:
            torch.set_default_dtype(previous)
        history = History(integrator.metadata.past_states)

        def field(x: Tensor) -> Tensor:
            return x * (1.0 - x)

        x = X0.clone()
        with torch.no_grad():
            for t in range(n):
                history.push(x, field(x))
                x = integrator.advance(t, history, field)
        hs.append(h)
        errors.append(float((x - logistic(TIME)).abs().max()))
    lh = torch.tensor([math.log(h) for h in hs], dtype=torch.float64)
    le = torch.tensor([math.log(e) for e in errors], dtype=torch.float64)
    c = lh - lh.mean()
    return float((c * (le - le.mean())).sum() / (c * c).sum()), errors


@pytest.mark.parametrize(
    "name, options, order",
    [
        ("euler", {}, 1),
        ("heun", {}, 2),
        ("rk4", {}, 4),
        ("ab2", {}, 2),
        ("abm2", {}, 2),
        ("ab4", {"startup": "rk4"}, 4),
        ("lm", {"past_states": 2, "gamma_init": [1.5, -0.5], "learnable": False}, 2),
    ],
)
def test_order_on_the_logistic_equation(name: str, options: dict, order: int) -> None:
    slope, errors = logistic_order(name, options)
    assert abs(slope - order) <= 0.3, (name, slope, errors)


# Textbook orders of every named tableau (written here, not read from the metadata): a preset added to
# plugins/integrators/butcher.py must be added here, so that it is measured and not only declared.
TABLEAU_ORDERS = {"euler": 1, "midpoint": 2, "heun": 2, "ralston": 2, "kutta3": 3, "rk4": 4, "rk38": 4}


def test_every_named_tableau_has_a_textbook_order_here() -> None:
    from hno_plugins.integrators.butcher import PRESETS

    assert set(PRESETS) == set(TABLEAU_ORDERS)


@pytest.mark.parametrize("tableau", sorted(TABLEAU_ORDERS))
def test_every_named_tableau_has_its_order_on_the_logistic_equation(tableau: str) -> None:
    slope, errors = logistic_order("rk", {"tableau": tableau})
    declared = get_registry().integrator("rk").cls.describe(
        validate_options(get_registry().integrator("rk"), {"tableau": tableau})).order
    assert declared == TABLEAU_ORDERS[tableau], f"{tableau}: declares order {declared}"
    assert abs(slope - TABLEAU_ORDERS[tableau]) <= 0.3, (tableau, slope, errors)


@pytest.mark.parametrize(("name", "order"), [("ab2", 2), ("ab3", 3), ("ab4", 4)])
def test_every_adams_bashforth_order_on_the_logistic_equation(name: str, order: int) -> None:
    # with the rk4 start-up the first p − 1 steps are exact to O(h⁵), so the global order is p
    slope, errors = logistic_order(name, {"startup": "rk4"})
    assert abs(slope - order) <= 0.3, (name, slope, errors)


def test_a_wrong_tableau_coefficient_is_caught() -> None:
    """Sanity of the check itself: Kutta's third-order tableau with a₃₂ = 1.5 instead of 2 (still consistent,
    Σb = 1) falls to order 2, so the kutta3 case above would fail on it."""
    wrong = {"a": [[0, 0, 0], [0.5, 0, 0], [-1, 1.5, 0]], "b": [1 / 6, 2 / 3, 1 / 6]}
    slope, _ = logistic_order("rk", {"tableau": wrong})
    assert abs(slope - 3) > 0.3


def test_a_wrong_adams_bashforth_weight_is_caught() -> None:
    """AB3 with the weights (23, −17, 6)/12 instead of (23, −16, 5)/12: still consistent (Σγ = 1) but first order."""
    from hno_plugins.integrators import adams_bashforth

    def advance_wrong(self, t, history, field):  # x_{t+1} = x_t + h (23 f_t − 17 f_{t−1} + 6 f_{t−2}) / 12
        if t < 2:
            return original(self, t, history, field)
        return history.x(0) + self.h[t] * (23 * history.f(0) - 17 * history.f(1) + 6 * history.f(2)) / 12

    original = adams_bashforth.AB3.advance
    adams_bashforth.AB3.advance = advance_wrong
    try:
        slope, _ = logistic_order("ab3", {"startup": "rk4"})
    finally:
        adams_bashforth.AB3.advance = original
    assert abs(slope - 1) <= 0.3, slope


def test_a_wrong_stage_point_is_caught() -> None:
    """Sanity of the check itself: RK4 with its stages all taken at x_t (order 1) is not order 4."""
    h = TIME / 48

    def field(x: Tensor) -> Tensor:
        return x * (1.0 - x)

    x = X0.clone()
    for _ in range(48):
        k = field(x)
        x = x + h * (k + 2 * k + 2 * k + k) / 6  # all stages at x_t: Euler in disguise
    assert float((x - logistic(TIME)).abs().max()) > 1e-4
