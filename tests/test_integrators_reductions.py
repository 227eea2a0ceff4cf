"""Reductions between integrators: special coefficients of one scheme give another, on real networks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_framework.registry import get_registry
from hno_framework.testing import Case, build_case, perturb_, sample_measurements

REGISTRY = get_registry()
STEPS = ["ista", "lista"]
FAST = settings(max_examples=8, deadline=None, derandomize=True)
layers_st = st.integers(min_value=1, max_value=6)
h_st = st.floats(min_value=0.1, max_value=1.5)
coef_st = st.floats(min_value=-0.9, max_value=0.9)


def outputs(step: str, layers: int, seed: int, *specs: tuple[str, dict]) -> list[torch.Tensor]:
    """x_T of networks that share the step (same seed, so the same Φ and step weights) and differ in integrator."""
    case = Case(step, "euler", layers=layers)
    nets = [build_case(case, seed=seed, registry=REGISTRY, integrator=name, integrator_options=opts) for name, opts in specs]
    y = sample_measurements(nets[0], case, 3, seed, REGISTRY)
    with torch.no_grad():
        return [net(y) for net in nets]


def assert_all_close(values: list[torch.Tensor], what: str, atol: float = 1e-10) -> None:
    for v in values[1:]:
        err = (v - values[0]).abs().max().item()
        assert torch.allclose(v, values[0], atol=atol, rtol=atol), f"{what}: max difference {err:.3g}"


def test_the_builtin_family_is_registered() -> None:
    expected = {"euler", "2no", "3no", "lm", "ab2", "ab3", "ab4", "heun", "rk4", "rk", "abm2"}
    assert expected <= set(REGISTRY.names("integrator"))
    for name in expected:
        assert REGISTRY.integrator(name).provider.distribution == "hno-framework"


@pytest.mark.parametrize("step", STEPS)
@FAST
@given(layers=layers_st, h=h_st, shared=st.booleans())
def test_lm_one_step_is_euler(step: str, layers: int, h: float, shared: bool) -> None:
    lm = {"past_states": 1, "xi_init": [1.0], "gamma_init": [1.0], "h": h, "shared": shared}
    assert_all_close(outputs(step, layers, 0, ("euler", {"h": h}), ("lm", lm)), "lm(r=1, ξ=1, γ=1) vs euler")


@pytest.mark.parametrize("step", STEPS)
@FAST
@given(layers=layers_st, beta=coef_st)
def test_lm_two_step_in_2no_form_is_2no(step: str, layers: int, beta: float) -> None:
    # 2NO fixes layer 0 to Euler; lm's start-up gives x_1 = x_0 + h γ f_0 = Euler when α = h = 1.
    lm = {"past_states": 2, "xi_init": [1 - beta, beta], "gamma_init": [1.0, 0.0], "h": 1.0}
    two = {"alpha_init": 1.0, "beta_init": beta}
    assert_all_close(outputs(step, layers, 1, ("2no", two), ("lm", lm)), "lm(r=2, 2NO form) vs 2no")


@FAST
@given(layers=st.integers(min_value=2, max_value=6), seed=st.integers(0, 100))
def test_lm_with_trained_2no_coefficients_is_2no(layers: int, seed: int) -> None:
    """Copy perturbed per-layer α_t, β_t of a 2no network into lm's ξ_t, γ_t: same output."""
    case = Case("lista", "2no", layers=layers)
    two = build_case(case, seed=seed, registry=REGISTRY)
    perturb_(two.integrator, seed, scale=0.3)
    lm = build_case(case, seed=seed, registry=REGISTRY, integrator="lm", integrator_options={"past_states": 2})
    with torch.no_grad():
        # per layer t ≥ 1: free ξ_{t,1} = β_t; γ_t = (α_t, 0); h_t = 1 (layer 0: γ_0 = 1, Euler).
        lm.integrator.xi.copy_(two.integrator.beta)
        gamma = torch.zeros_like(lm.integrator.gamma)
        gamma[0] = 1.0
        gamma[1::2] = two.integrator.alpha
        lm.integrator.gamma.copy_(gamma)
        y = sample_measurements(two, case, 3, seed, REGISTRY)
        assert_all_close([two(y), lm(y)], "lm with 2no's coefficients vs 2no")


@pytest.mark.parametrize("step", STEPS)
@FAST
@given(layers=layers_st, alpha=st.floats(0.2, 1.5), beta=coef_st)
def test_3no_without_beta2_is_2no(step: str, layers: int, alpha: float, beta: float) -> None:
    three = {"alpha_init": alpha, "beta1_init": beta, "beta2_init": 0.0}
    two = {"alpha_init": alpha, "beta_init": beta}
    assert_all_close(outputs(step, layers, 2, ("2no", two), ("3no", three)), "3no(β²=0) vs 2no")


def test_3no_with_perturbed_alpha_beta1_is_2no() -> None:
    case = Case("lista", "2no", layers=5)
    two = build_case(case, seed=3, registry=REGISTRY)
    perturb_(two.integrator, 3, scale=0.3)
    three = build_case(case, seed=3, registry=REGISTRY, integrator="3no", integrator_options={})
    with torch.no_grad():
        three.integrator.alpha.copy_(two.integrator.alpha)
        three.integrator.beta1.copy_(two.integrator.beta)
        y = sample_measurements(two, case, 3, 3, REGISTRY)
        assert_all_close([two(y), three(y)], "3no(β²=0) with 2no's α_t, β_t vs 2no")
        three.integrator.beta2.fill_(0.2)
        assert not torch.allclose(two(y), three(y)), "β² must change the output"


@pytest.mark.parametrize("step", STEPS)
@FAST
@given(layers=layers_st, h=h_st)
def test_rk_with_euler_tableau_is_euler(step: str, layers: int, h: float) -> None:
    specs = [("euler", {"h": h}), ("rk", {"tableau": "euler", "h": h}), ("rk", {"tableau": {"a": [[0]], "b": [1]}, "h": h})]
    assert_all_close(outputs(step, layers, 4, *specs), "rk(Euler tableau) vs euler")


@pytest.mark.parametrize("step", STEPS)
@FAST
@given(layers=layers_st, h=h_st)
def test_rk_with_rk4_and_heun_tableaux_is_rk4_and_heun(step: str, layers: int, h: float) -> None:
    rk4 = {"a": [[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]], "b": [1 / 6, 1 / 3, 1 / 3, 1 / 6],
           "c": [0, 0.5, 0.5, 1]}
    assert_all_close(outputs(step, layers, 5, ("rk4", {"h": h}), ("rk", {"tableau": rk4, "h": h}), ("rk", {"h": h})),
                     "rk(RK4 tableau) vs rk4")
    # learnable b_t are parameters created in float32 (1/3 is rounded there), hence the looser tolerance
    assert_all_close(outputs(step, layers, 5, ("rk4", {"h": h}), ("rk", {"h": h, "learnable_b": True, "learnable_h": True})),
                     "rk(RK4, learnable b and h, at init) vs rk4", atol=1e-6)
    heun = {"a": [[0, 0], [1, 0]], "b": [0.5, 0.5]}
    assert_all_close(outputs(step, layers, 5, ("heun", {"h": h}), ("rk", {"tableau": heun, "h": h})), "rk(Heun) vs heun")


@pytest.mark.parametrize("step", STEPS)
@FAST
@given(layers=layers_st, h=h_st)
def test_ab2_is_lm_with_ab2_coefficients(step: str, layers: int, h: float) -> None:
    lm = {"past_states": 2, "gamma_init": [1.5, -0.5], "h": h, "learnable": False}
    assert_all_close(outputs(step, layers, 6, ("ab2", {"h": h}), ("lm", lm)), "ab2 vs lm(AB2 weights)")


@pytest.mark.parametrize("name", ["ab2", "ab3", "ab4", "abm2"])
def test_first_layer_of_multistep_schemes(name: str) -> None:
    """With one layer, AB schemes are Euler and abm2 (one correction) is Heun; rk4 start-up is rk4."""
    first = "heun" if name == "abm2" else "euler"
    assert_all_close(outputs("lista", 1, 7, (first, {"h": 0.7}), (name, {"h": 0.7})), f"{name} layer 0 vs {first}")
    if name.startswith("ab") and name != "abm2":
        assert_all_close(outputs("lista", 1, 7, ("rk4", {"h": 0.7}), (name, {"h": 0.7, "startup": "rk4"})),
                         f"{name} rk4 start-up vs rk4")


@pytest.mark.parametrize("name", ["ab3", "ab4", "lm", "3no", "abm2", "rk"])
def test_schemes_differ_from_euler_when_they_should(name: str) -> None:
    """Guard for the reductions above: a non-trivial configuration does change the output."""
    opts = {"lm": {"past_states": 3, "gamma_init": [1.2, -0.1, -0.1]}, "3no": {"beta2_init": 0.3}}.get(name, {})
    euler, other = outputs("lista", 5, 8, ("euler", {}), (name, opts))
    assert not torch.allclose(euler, other, atol=1e-6), f"{name} unexpectedly equals euler"
