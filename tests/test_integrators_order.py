"""Orders of accuracy: measured on dx/dt = Ax against declared/computed orders; RK tableaux properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_framework.composer import validate_options
from hno_framework.integrator import History, IntegratorLayout
from hno_framework.registry import Registry, get_registry
from hno_framework.testing import ORDER_TOLERANCE, check_numerical_order, measure_order
from hno_plugins.integrators.butcher import PRESETS, ButcherTableau, preset, rooted_trees, tableau_order

REGISTRY = get_registry()
FAST = settings(max_examples=10, deadline=None, derandomize=True)

AB3 = [23 / 12, -16 / 12, 5 / 12]


@pytest.mark.parametrize(
    "name, options, order",
    [
        ("euler", {}, 1),
        ("ab2", {}, 2),
        ("ab3", {}, 2),  # lower-order start-up: the Euler first layer limits the global order to 2
        ("ab4", {}, 2),
        ("ab3", {"startup": "rk4"}, 3),
        ("ab4", {"startup": "rk4"}, 4),
        ("heun", {}, 2),
        ("rk4", {}, 4),
        ("abm2", {}, 2),
        ("abm2", {"corrections": 3}, 2),
        ("lm", {"past_states": 1, "learnable": False}, 1),
        ("lm", {"past_states": 2, "gamma_init": [1.5, -0.5], "learnable": False}, 2),
        ("lm", {"past_states": 3, "gamma_init": AB3, "learnable": False}, 2),
    ],
)
def test_order_in_the_unrolled_network(name: str, options: dict, order: int) -> None:
    """Driven exactly as the network loop drives it, from x_0 with the scheme's own start-up."""
    slope, _, errors = measure_order(name, options, exact_startup=False, registry=REGISTRY)
    assert abs(slope - order) <= ORDER_TOLERANCE, (name, options, slope, errors)
    if name == "lm":  # lm's metadata order accounts for the start-up
        info = REGISTRY.integrator(name)
        assert info.cls.describe(validate_options(info, options)).order == order


@pytest.mark.parametrize(
    "name, options",
    [("ab3", {}), ("ab4", {}), ("lm", {"past_states": 3, "gamma_init": AB3, "learnable": False}),
     ("lm", {"past_states": 4, "gamma_init": [55 / 24, -59 / 24, 37 / 24, -9 / 24], "learnable": False})],
)
def test_steady_order_with_exact_starting_values(name: str, options: dict) -> None:
    steady = {"ab3": 3, "ab4": 4}.get(name, options.get("past_states"))
    slope, _, _ = measure_order(name, options, exact_startup=True, registry=REGISTRY)
    assert abs(slope - steady) <= ORDER_TOLERANCE


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_rk_presets_have_their_order(name: str) -> None:
    declared = {"euler": 1, "midpoint": 2, "heun": 2, "ralston": 2, "kutta3": 3, "rk4": 4, "rk38": 4}[name]
    assert preset(name).order == declared
    slope, _, _ = measure_order("rk", {"tableau": name}, registry=REGISTRY)
    assert abs(slope - declared) <= ORDER_TOLERANCE


def test_rooted_tree_counts() -> None:
    assert [len(rooted_trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


@FAST
@given(c2=st.floats(0.1, 1.0))
def test_two_stage_second_order_family(c2: float) -> None:
    b2 = 1 / (2 * c2)
    tableau = {"a": [[0, 0], [c2, 0]], "b": [1 - b2, b2]}
    assert tableau_order(tableau["a"], tableau["b"]) == 2
    assert validate_options(REGISTRY.integrator("rk"), {"tableau": tableau}).tableau.order == 2


@FAST
@given(c2=st.floats(0.2, 0.6), c3=st.floats(0.75, 1.0))
def test_three_stage_third_order_family(c2: float, c3: float) -> None:
    b2 = (3 * c3 - 2) / (6 * c2 * (c3 - c2))
    b3 = (2 - 3 * c2) / (6 * c3 * (c3 - c2))
    a32 = c3 * (c3 - c2) / (c2 * (2 - 3 * c2))
    a = [[0, 0, 0], [c2, 0, 0], [c3 - a32, a32, 0]]
    b = [1 - b2 - b3, b2, b3]
    assert tableau_order(a, b) == 3
    slope, _, _ = measure_order("rk", {"tableau": {"a": a, "b": b}}, registry=REGISTRY, steps=(10, 20, 40))
    assert abs(slope - 3) <= ORDER_TOLERANCE


def random_tableau(draw: st.DrawFn) -> dict:
    s = draw(st.integers(1, 5))
    entry = st.floats(-1.5, 1.5, allow_subnormal=False)
    a = [[draw(entry) if k < j else 0.0 for k in range(s)] for j in range(s)]
    free = [draw(entry) for _ in range(s - 1)]
    return {"a": a, "b": [1 - sum(free), *free], "c": [sum(row) for row in a]}


@FAST
@given(data=st.data(), h=st.floats(0.05, 1.0))
def test_rk_matches_its_stability_function_on_linear_fields(data: st.DataObject, h: float) -> None:
    """Any valid explicit tableau: one step on dx/dt = Mx is x ↦ Σ_q (bᵀA^{q−1}1)(hM)^q x (+ x), computed in numpy."""
    tableau = random_tableau(data.draw)
    options = validate_options(REGISTRY.integrator("rk"), {"tableau": tableau, "h": h})
    assert options.tableau.order >= 1
    rng = np.random.default_rng(0)
    M = rng.standard_normal((3, 3))
    x = rng.standard_normal((2, 3))
    A, b = np.array(tableau["a"]), np.array(tableau["b"])
    s = len(b)
    expected = x.copy()
    for q in range(1, s + 1):
        coef = b @ np.linalg.matrix_power(A, q - 1) @ np.ones(s)
        expected += coef * x @ np.linalg.matrix_power(h * M, q).T
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        integ = REGISTRY.integrator("rk").cls(options, IntegratorLayout(num_layers=1))
    finally:
        torch.set_default_dtype(previous)
    Mt = torch.tensor(M)
    xt = torch.tensor(x)
    history = History(1)
    history.push(xt, xt @ Mt.T)
    out = integ.advance(0, history, lambda z: z @ Mt.T)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)


@FAST
@given(data=st.data())
def test_random_tableaux_round_trip_through_yaml_like_dicts(data: st.DataObject) -> None:
    tableau = random_tableau(data.draw)
    parsed = ButcherTableau.model_validate(tableau)
    assert ButcherTableau.model_validate(parsed.model_dump()) == parsed
    assert parsed.stages == len(tableau["b"])


@pytest.mark.parametrize(
    "name, options, t, calls",
    [
        ("euler", {}, 3, 0), ("2no", {}, 3, 0), ("3no", {}, 3, 0), ("lm", {"past_states": 4}, 3, 0),
        ("ab4", {}, 3, 0), ("ab4", {}, 0, 0), ("ab4", {"startup": "rk4"}, 0, 3), ("ab4", {"startup": "rk4"}, 3, 0),
        ("heun", {}, 3, 1), ("rk4", {}, 3, 3), ("rk", {"tableau": "kutta3"}, 3, 2),
        ("abm2", {}, 3, 1), ("abm2", {"corrections": 3}, 3, 3), ("abm2", {"corrections": 2}, 0, 2),
    ],
)
def test_field_calls_match_stages(name: str, options: dict, t: int, calls: int) -> None:
    """Multistep schemes reuse history.f (no field calls); RK and PC call layer t's field stages − 1 times."""
    info = REGISTRY.integrator(name)
    integ = info.cls(validate_options(info, options), IntegratorLayout(num_layers=5))
    history = History(integ.metadata.past_states)
    for i in range(min(t + 1, history.depth)):
        history.push(torch.full((2, 3), float(i)), torch.full((2, 3), 0.1 * i))
    count = 0

    def field(z: torch.Tensor) -> torch.Tensor:
        nonlocal count
        count += 1
        return -z

    out = integ.advance(t, history, field)
    assert out.shape == (2, 3) and count == calls
    if t >= integ.metadata.past_states - 1 and not options.get("startup"):
        assert count == integ.metadata.stages - 1


MISDECLARED = '''
from hno_framework import hookimpl
from hno_plugins.integrators.euler import Euler

class Liar(Euler):
    """Euler claiming order 2."""
    name = "liar"

    @classmethod
    def describe(cls, options):
        return super().describe(options).model_copy(update={"order": 2})

@hookimpl
def register_integrators(register):
    register(Liar)
'''


def test_numerical_order_check_catches_a_wrong_declaration(make_plugin) -> None:
    make_plugin("liar-dist", MISDECLARED)
    registry = Registry()
    with pytest.raises(AssertionError, match=r"'liar' declares order 2 .* slope 1.0"):
        check_numerical_order("liar", registry=registry)
    check_numerical_order("euler", registry=registry)  # the honest one passes


def test_schemes_without_a_step_size_are_measured_through_their_own_coefficients() -> None:
    """2NO/3NO have no option h: driven with h·f, at their reference options (Euler) they are order 1; at the
    seed initialisation β = −0.5 they are not consistent with dx/dt = f, so the order does not hold there."""
    from hno_framework.testing import order_options

    for name in ("2no", "3no"):
        check_numerical_order(name, registry=REGISTRY)
        slope, _, _ = measure_order(name, order_options(name, None, REGISTRY), registry=REGISTRY)
        assert abs(slope - 1.0) < 0.1
        slope, _, _ = measure_order(name, registry=REGISTRY)
        assert slope < 0.7


def test_numerical_order_check_measures_learnable_schemes_at_their_initial_coefficients() -> None:
    """lm is learnable by default; at its initial coefficients it is the declared order."""
    check_numerical_order("lm", registry=REGISTRY)
    check_numerical_order("euler", options={"learnable_h": True}, registry=REGISTRY)
