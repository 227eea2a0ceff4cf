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
