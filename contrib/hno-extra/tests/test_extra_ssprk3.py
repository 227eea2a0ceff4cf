"""Tests of the ``ssprk3`` integrator, through the public API of hno-framework only."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_extra.ssprk3 import SSPRK3, SSPRK3Options
from hno_framework import History, IntegratorLayout, compose, get_registry
from hno_framework.testing import run_consistency_suite


def integrate(scheme: SSPRK3, field, x0: torch.Tensor, steps: int) -> torch.Tensor:
    """Run ``steps`` layers of the scheme on an autonomous field, as the network loop does."""
    history = History(scheme.metadata.past_states)
    x = x0
    for t in range(steps):
        history.push(x, field(x))
        x = scheme.advance(t, history, field)
    return x


@pytest.mark.processes
def test_consistency_suite():
    assert run_consistency_suite(integrator="ssprk3") > 0


def test_registered_metadata():
    info = get_registry().integrator("ssprk3")
    assert info.cls is SSPRK3
    meta = info.metadata()
    assert (meta["family"], meta["past_states"], meta["stages"]) == ("runge-kutta", 1, 3)


def test_observed_order_matches_metadata():
    """On dx/dt = A x the error at t = 1 falls as N^-order when the step h = 1/N shrinks."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    a = a - a.T - 0.5 * torch.eye(4, dtype=torch.float64)  # stable, oscillating
    x0 = torch.randn(2, 4, generator=g, dtype=torch.float64)
    exact = x0 @ torch.linalg.matrix_exp(a).T
    errors = []
    for n in (8, 16, 32, 64):
        scheme = SSPRK3(SSPRK3Options(h=1.0 / n), IntegratorLayout(num_layers=n)).double()
        errors.append((integrate(scheme, lambda x: x @ a.T, x0, n) - exact).norm().item())
    observed = [math.log2(e0 / e1) for e0, e1 in itertools.pairwise(errors)]
    order = SSPRK3.describe(SSPRK3Options()).order
    assert all(abs(p - order) < 0.2 for p in observed), (errors, observed)


@settings(max_examples=40, deadline=None)
@given(h=st.floats(0.05, 1.0), seed=st.integers(0, 2**16), steps=st.integers(1, 6))
def test_strong_stability_keeps_a_box_invariant(h, seed, steps):
    """If G maps the box [-1, 1]^n into itself, every layer with h ≤ 1 does too (SSP property)."""
    g = torch.Generator().manual_seed(seed)
    shift = torch.randn(8, generator=g, dtype=torch.float64)
    scale = 3.0 * torch.randn(8, generator=g, dtype=torch.float64)

    def field(x):  # G(x) = clamp(scale · x + shift) lies in the box for every x
        return torch.clamp(scale * x + shift, -1.0, 1.0) - x

    scheme = SSPRK3(SSPRK3Options(h=h), IntegratorLayout(num_layers=steps)).double()
    x0 = 2.0 * torch.rand(3, 8, generator=g, dtype=torch.float64) - 1.0
    x = integrate(scheme, field, x0, steps)
    assert x.abs().max() <= 1.0 + 1e-12


@pytest.mark.parametrize("step", ["ista", "lista"])
def test_learnable_h_gets_gradients_with_builtin_steps(step):
    net = compose(
        {
            "problem": {"m": 8, "n": 16, "lam": 0.1, "sparsity": 0.25},
            "network": {"step": step, "integrator": {"name": "ssprk3", "options": {"learnable_h": True}}, "layers": 3},
        }
    )
    y = torch.randn(4, 8)
    net(y).pow(2).sum().backward()
    assert net.integrator.h.grad is not None and torch.isfinite(net.integrator.h.grad).all()
    assert net.integrator.h.grad.abs().sum() > 0


def test_evaluates_the_field_at_the_two_extra_stages():
    calls = []

    def field(x):
        calls.append(x)
        return -x

    scheme = SSPRK3(SSPRK3Options(), IntegratorLayout(num_layers=2))
    integrate(scheme, field, torch.ones(1, 3), 2)
    # per layer: one evaluation pushed to the history + the two stages the scheme asks for
    assert len(calls) == 2 * SSPRK3.describe(SSPRK3Options()).stages
