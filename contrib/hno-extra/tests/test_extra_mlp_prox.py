"""Tests of the ``mlp-prox`` step, through the public API of hno-framework only."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_extra.mlp_prox import MLPProxOptions, MLPProxStep
from hno_framework import compose, get_registry
from hno_framework.errors import ConfigError
from hno_framework.testing import run_consistency_suite

SMALL_PROBLEM = {"kind": "lasso", "m": 8, "n": 16, "sparsity": 0.25, "lam": 0.1, "seed": 0}


def network(step: str = "mlp-prox", integrator: str = "euler", layers: int = 3, tied: bool = True, **options):
    return compose(
        {
            "problem": SMALL_PROBLEM,
            "network": {"step": {"name": step, "options": options}, "integrator": integrator,
                        "layers": layers, "tied": tied},
            "training": {"dtype": "float64"},
        }
    )


def measurements(net, batch: int = 5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, net.problem.m, generator=g, dtype=torch.float64)


@pytest.mark.processes
def test_consistency_suite():
    assert run_consistency_suite(step="mlp-prox") > 0


def test_registered_with_its_options_model():
    info = get_registry().step("mlp-prox")
    assert info.cls is MLPProxStep
    assert info.cls.Options is MLPProxOptions
    assert set(info.options_schema()["properties"]) == {"hidden", "threshold_scale", "residual_init"}


@pytest.mark.parametrize("integrator", ["euler", "2no"])
def test_starts_as_lista(integrator):
    """With residual_init = 0 the correction ψ_t vanishes, so the network equals LISTA at init."""
    ours, lista = network(integrator=integrator), network("lista", integrator=integrator)
    y = measurements(ours)
    with torch.no_grad():
        torch.testing.assert_close(ours(y), lista(y))


def test_correction_changes_the_output():
    ours, lista = network(residual_init=0.5), network("lista")
    y = measurements(ours)
    with torch.no_grad():
        assert (ours(y) - lista(y)).abs().max() > 1e-6


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), hidden=st.integers(1, 12), scale=st.floats(0.0, 3.0))
def test_prox_keeps_zero_entries_at_zero(seed, hidden, scale):
    torch.manual_seed(seed)
    layer = network(hidden=hidden, residual_init=scale, layers=1).layers[0]
    v = torch.randn(4, layer.problem.n, dtype=torch.float64)
    v[:, ::3] = 0.0
    with torch.no_grad():
        out = layer.prox(v)
    assert torch.all(out[:, ::3] == 0)
    assert out.shape == v.shape


def test_prox_is_elementwise():
    """ψ_t is one scalar function for every coordinate: permuting v permutes P_t(v)."""
    torch.manual_seed(3)
    layer = network(residual_init=1.0, layers=1).layers[0]
    v = torch.randn(3, layer.problem.n, dtype=torch.float64)
    perm = torch.randperm(layer.problem.n)
    with torch.no_grad():
        torch.testing.assert_close(layer.prox(v[:, perm]), layer.prox(v)[:, perm])


def test_tied_shares_w_untied_does_not():
    tied, untied = network(layers=3, tied=True), network(layers=3, tied=False)
    assert len({id(layer.W) for layer in tied.layers}) == 1
    assert len({id(layer.W) for layer in untied.layers}) == 3
    # the MLP belongs to each layer in both cases
    assert len({id(layer.psi_out) for layer in tied.layers}) == 3


def test_a_few_adam_steps_reduce_the_error():
    net = network(residual_init=0.1, layers=4)
    g = torch.Generator().manual_seed(0)
    phi = net.problem.phi
    x_true = (torch.rand(64, net.problem.n, generator=g, dtype=phi.dtype) < 0.25) * torch.randn(
        64, net.problem.n, generator=g, dtype=phi.dtype
    )
    y = net.problem.measure(x_true)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = (net(y) - x_true).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_unknown_option_is_rejected_with_the_known_ones():
    with pytest.raises(ConfigError, match="hidden"):
        network(width=3)
