"""The learnable r-step scheme ``lm`` (and 3no): start-up rule, parameter layout, gradients, constraint."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_framework.network import count_learnable
from hno_framework.registry import get_registry
from hno_framework.step import ForwardContext
from hno_framework.testing import Case, build_case, perturb_, sample_measurements

REGISTRY = get_registry()
FAST = settings(max_examples=12, deadline=None, derandomize=True)


@st.composite
def lm_setup(draw: st.DrawFn) -> dict:
    r = draw(st.integers(1, 4))
    coef = st.floats(-0.6, 0.6)
    free = [draw(coef) for _ in range(r - 1)]
    return {
        "past_states": r,
        "xi_init": [1 - sum(free), *free],
        "gamma_init": [draw(st.floats(0.3, 1.2)), *[draw(coef) for _ in range(r - 1)]],
        "h": draw(st.floats(0.3, 1.2)),
        "shared": draw(st.booleans()),
    }


def padded_reference(net, y: torch.Tensor, coefficients) -> torch.Tensor:
    """Unroll by hand: x_{t+1} = Σ ξ_{t,i} x_{t−i} + h_t Σ γ_{t,i} f_{t−i}, with the missing past
    (i > t) equal to the oldest state x_0, f_0 (the documented start-up rule)."""
    ctx = ForwardContext(y=y)
    x = y.new_zeros(y.shape[0], net.problem.n)
    xs, fs = [], []
    for t, layer in enumerate(net.layers):
        xs.insert(0, x)
        fs.insert(0, layer.f(x, ctx))
        xi, gamma, h = coefficients(t)
        x = sum(xi[i] * xs[min(i, t)] for i in range(len(xi))) + h * sum(g * fs[min(i, t)] for i, g in enumerate(gamma))
    return x


@FAST
@given(setup=lm_setup(), layers=st.integers(1, 6), step=st.sampled_from(["ista", "lista"]))
def test_lm_at_init_is_the_padded_r_step_rule(setup: dict, layers: int, step: str) -> None:
    case = Case(step, "lm", integrator_options=setup, layers=layers)
    net = build_case(case, seed=layers, registry=REGISTRY)
    y = sample_measurements(net, case, 3, 0, REGISTRY)
    with torch.no_grad():
        expected = padded_reference(net, y, lambda t: (setup["xi_init"], setup["gamma_init"], setup["h"]))
        assert torch.allclose(net(y), expected, atol=1e-6, rtol=1e-6)


@FAST
@given(r=st.integers(1, 4), layers=st.integers(1, 6), sum_to_one=st.booleans(), seed=st.integers(0, 50))
def test_perturbed_per_layer_lm_uses_its_own_coefficients(r: int, layers: int, sum_to_one: bool, seed: int) -> None:
    """Layout (re-derived here): layer t owns k_t = min(t + 1, r) γ's and k_t (− 1 if ξ_0 is derived) ξ's, in order."""
    case = Case("lista", "lm", integrator_options={"past_states": r, "sum_to_one": sum_to_one}, layers=layers)
    net = build_case(case, seed=seed, registry=REGISTRY)
    perturb_(net.integrator, seed, scale=0.2)
    integ = net.integrator
    ks = [min(t + 1, r) for t in range(layers)]
    skip = int(sum_to_one)
    assert integ.gamma.numel() == sum(ks) and integ.xi.numel() == sum(k - skip for k in ks)
    assert integ.h.numel() == layers

    def coefficients(t: int):
        a = sum(k - skip for k in ks[:t])
        free = integ.xi[a : a + ks[t] - skip]
        xi = torch.cat([(1 - free.sum()).reshape(1), free]) if skip else free
        g = sum(ks[:t])
        return xi, integ.gamma[g : g + ks[t]], integ.h[t]

    y = sample_measurements(net, case, 2, seed, REGISTRY)
    with torch.no_grad():
        assert torch.allclose(net(y), padded_reference(net, y, coefficients), atol=1e-10)
        for t in range(layers):
            xi, _, _ = integ.coefficients(t)
            assert len(xi) == ks[t]
            if sum_to_one:
                assert abs(float(xi.sum()) - 1) < 1e-12


@FAST
@given(r=st.integers(1, 4), layers=st.integers(1, 6), seed=st.integers(0, 50))
def test_perturbed_shared_lm(r: int, layers: int, seed: int) -> None:
    case = Case("ista", "lm", integrator_options={"past_states": r, "shared": True}, layers=layers)
    net = build_case(case, seed=seed, registry=REGISTRY)
    perturb_(net.integrator, seed, scale=0.2)
    integ = net.integrator
    k = min(r, layers)
    assert integ.gamma.numel() == k and integ.xi.numel() == k - 1 and integ.h.numel() == 1
    xi = torch.cat([(1 - integ.xi.sum()).reshape(1), integ.xi])
    y = sample_measurements(net, case, 2, seed, REGISTRY)
    with torch.no_grad():
        assert torch.allclose(net(y), padded_reference(net, y, lambda t: (xi, integ.gamma, integ.h[0])), atol=1e-10)


@FAST
@given(
    r=st.integers(1, 4), layers=st.integers(1, 6), shared=st.booleans(), sum_to_one=st.booleans(),
    seed=st.integers(0, 50),
)
def test_every_lm_parameter_element_gets_a_nonzero_gradient(r: int, layers: int, shared: bool, sum_to_one: bool,
                                                            seed: int) -> None:
    opts = {"past_states": r, "shared": shared, "sum_to_one": sum_to_one}
    case = Case("ista", "lm", integrator_options=opts, layers=layers)
    net = build_case(case, seed=seed, registry=REGISTRY)
    perturb_(net.integrator, seed, scale=0.1)
    y = sample_measurements(net, case, 3, seed, REGISTRY)
    # a non-zero x_0: without the sum constraint ξ_{0,0} multiplies x_0, which is 0 by default
    x0 = torch.randn(3, net.problem.n, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    net.unroll(y, x0=x0).estimate.pow(2).sum().backward()
    for name, p in net.integrator.named_parameters():
        assert p.grad is not None and (p.grad != 0).all(), f"lm {opts}, T={layers}: unused elements in {name}"


@FAST
@given(layers=st.integers(1, 6), seed=st.integers(0, 50))
def test_every_3no_parameter_element_gets_a_nonzero_gradient(layers: int, seed: int) -> None:
    case = Case("ista", "3no", layers=layers)
    net = build_case(case, seed=seed, registry=REGISTRY)
    perturb_(net.integrator, seed, scale=0.1)
    assert count_learnable(net.integrator) == max(layers - 1, 0) * 2 + max(layers - 2, 0)
    if layers == 1:
        return  # layer 0 is Euler: nothing to learn
    y = sample_measurements(net, case, 3, seed, REGISTRY)
    net(y).pow(2).sum().backward()
    for name, p in net.integrator.named_parameters():
        assert p.grad is not None and (p.grad != 0).all(), f"3no T={layers}: unused elements in {name}"


def test_lm_parameter_count_is_linear_in_r() -> None:
    layers = 16
    counts = []
    for r in (1, 2, 4, 8):
        net = build_case(Case("ista", "lm", integrator_options={"past_states": r}, layers=layers), registry=REGISTRY)
        counts.append(count_learnable(net.integrator))
        assert net.integrator.metadata.past_states == r
    # per layer: h, k_t γ's and k_t − 1 free ξ's, k_t = min(t + 1, r)
    assert counts == [sum(2 * min(t + 1, r) for t in range(layers)) for r in (1, 2, 4, 8)]


def test_lm_without_sum_constraint_can_leave_fixed_points() -> None:
    """Unconstrained ξ may drift from Σ ξ = 1; metadata says so (consistent = False)."""
    net = build_case(Case("ista", "lm", integrator_options={"past_states": 2, "sum_to_one": False}), registry=REGISTRY)
    assert not net.integrator.metadata.consistent
    with torch.no_grad():
        net.integrator.xi.add_(0.1)
    xi, _, _ = net.integrator.coefficients(3)
    assert abs(float(xi.detach().sum()) - 1) > 0.1
