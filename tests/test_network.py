"""The unrolled loop: trajectory, depth, tying, and the problem data."""

from __future__ import annotations

import pytest
import torch

from hno_framework.composer import compose
from hno_framework.network import count_learnable
from hno_framework.problems.lasso import gaussian_matrix


def net_for(tied: bool = True, integrator: str = "euler", layers: int = 4):
    return compose({"problem": {"m": 10, "n": 20}, "network": {"step": "lista", "integrator": integrator,
                                                             "layers": layers, "tied": tied}})


def test_tied_shares_one_w_untied_has_one_per_layer() -> None:
    tied, untied = net_for(True), net_for(False)
    assert tied.layers[0].W is tied.layers[3].W
    assert untied.layers[0].W is not untied.layers[3].W
    w, layers = 20 * 10, 4
    assert count_learnable(tied) == w + layers
    assert count_learnable(untied) == layers * w + layers


def test_depth_and_trajectory() -> None:
    net = net_for(layers=5)
    y = torch.randn(3, 10)
    full = net.trajectory(y)
    assert full.shape == (3, 6, 20) and torch.equal(full[:, 0], torch.zeros(3, 20))
    part = net.unroll(y, keep_trajectory=True, depth=2).trajectory
    torch.testing.assert_close(part, full[:, :3])
    with pytest.raises(ValueError, match="depth"):
        net.unroll(y, depth=6)


def test_float64_conversion_reaches_the_problem() -> None:
    net = net_for().to(torch.float64)
    assert net.problem.phi.dtype == torch.float64 and net.layers[2].problem is net.problem
    assert net(torch.randn(2, 10, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("kappa", [1.0, 5.0, 50.0])
def test_gaussian_matrix(kappa: float) -> None:
    phi = gaussian_matrix(30, 60, torch.Generator().manual_seed(0), kappa)
    s = torch.linalg.svdvals(phi)
    torch.testing.assert_close(phi.norm(dim=0), torch.ones(60, dtype=torch.float64))  # unit columns at every κ
    if kappa > 1.0:  # columns renormalised after the singular values are set: κ(Φ) close to κ (tests/test_fidelity.py)
        assert float(s[0] / s[-1]) == pytest.approx(kappa, rel=0.3)


def _plain_two_step(net, y: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """Seed eq. 11 as a plain loop over the layers' G: x_1 = G_0(x_0), then
    x_{t+1} = (1 − β) x_t + β x_{t−1} + α (G_t(x_t) − x_t); β = 0, α = 1 is the plain DUN."""
    from hno_framework.step import ForwardContext

    ctx = ForwardContext(y=y)
    prev, x = None, torch.zeros(y.shape[0], net.problem.n, dtype=y.dtype)
    for t, layer in enumerate(net.layers):
        g = layer(x, ctx)
        nxt = g if t == 0 else (1 - beta) * x + beta * prev + alpha * (g - x)
        prev, x = x, nxt
    return x


def test_with_integrator_swaps_the_scheme_and_shares_the_layers() -> None:
    net = net_for(layers=5)
    for p in net.layers.parameters():  # move away from ISTA-like init so the schemes differ
        p.data.mul_(1.3)
    y = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    as_euler = net.with_integrator("2no", alpha_init=1.0, beta_init=0.0)
    torch.testing.assert_close(as_euler(y), net(y))  # 2no at α = 1, β = 0 reduces to euler
    torch.testing.assert_close(as_euler(y), _plain_two_step(net, y, 1.0, 0.0))
    seeded = net.with_integrator({"name": "2no"})  # seed init α = 1, β = −0.5
    torch.testing.assert_close(seeded(y), _plain_two_step(net, y, 1.0, -0.5))
    assert not torch.allclose(seeded(y), net(y), atol=1e-4)
    assert net.integrator.name == "euler" and seeded.integrator.name == "2no"
    assert seeded.problem is net.problem and all(a is b for a, b in zip(seeded.layers, net.layers, strict=True))
    assert seeded.integrator.alpha.requires_grad


def test_with_integrator_follows_the_dtype_and_rejects_bad_specs() -> None:
    from hno_framework.errors import ConfigError, UnknownComponentError

    net = net_for().to(torch.float64)
    assert net.with_integrator("2no").integrator.alpha.dtype == torch.float64
    with pytest.raises(UnknownComponentError, match="Did you mean '2no'"):
        net.with_integrator("2n0")
    with pytest.raises(ConfigError, match="alpha: unknown key"):
        net.with_integrator("2no", alpha=1.0)


def test_load_network_is_exported() -> None:
    import hno_framework
    from hno_framework.checkpoint import load_network

    assert hno_framework.load_network is load_network and "load_network" in hno_framework.__all__


def test_a_step_that_defines_its_own_field_is_integrated_through_it_at_h_one() -> None:
    """A step that defines its own f (not G − x) is integrated through it: Euler at h = 1 gives x + f(x)."""
    from hno_plugins.steps.lista import LISTAStep

    class HalfField(LISTAStep):
        def f(self, x, ctx):
            return 0.5 * (self(x, ctx) - x)

    net = net_for(layers=3)
    for layer in net.layers:
        layer.__class__ = HalfField
    y = torch.randn(4, 10)
    phi, W = net.problem.phi, net.layers[0].W
    x = torch.zeros(4, 20)
    with torch.no_grad():
        for layer in net.layers:  # x_{t+1} = x_t + ½(η_θt(x_t + W(y − Φx_t)) − x_t)
            z = x + (y - x @ phi.T) @ W.T
            x = x + 0.5 * (torch.sign(z) * torch.clamp(z.abs() - layer.theta, min=0) - x)
        torch.testing.assert_close(net(y), x)
        torch.testing.assert_close(net.trajectory(y)[:, -1], x)


def test_hooks_on_layers_run_as_with_module_call() -> None:
    """The loop calls a hook-free layer's ``forward`` directly; a layer with a hook (its own or a global one) must
    still go through ``nn.Module.__call__``, so every kind of hook fires and a pre-hook's new input is used."""
    net = net_for(layers=3)
    y = torch.randn(2, 10)
    plain = net(y)
    seen: list[int] = []
    handles = [layer.register_forward_hook(lambda module, args, out, t=t: seen.append(t))
               for t, layer in enumerate(net.layers)]
    torch.testing.assert_close(net(y), plain)
    assert seen == [0, 1, 2]
    for handle in handles:
        handle.remove()

    handle = net.layers[1].register_forward_pre_hook(lambda module, args: (args[0] + 1.0, args[1]))
    shifted = net(y)
    handle.remove()
    x1 = net.layers[0](torch.zeros(2, 20), _context(y))  # the reference: layer 1 sees x_1 + 1
    x3 = net.layers[2](net.layers[1](x1 + 1.0, _context(y)), _context(y))
    torch.testing.assert_close(shifted, x3)

    calls: list[str] = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: calls.append(type(module).__name__))
    try:
        net(y)
    finally:
        handle.remove()
    assert calls.count(type(net.layers[0]).__name__) == 3

    grads: list[int] = []
    handle = net.layers[2].register_full_backward_hook(lambda module, gin, gout: grads.append(2))
    net(y).sum().backward()
    handle.remove()
    assert grads == [2]


def test_a_layer_compiled_with_module_compile_runs_compiled() -> None:
    """``layer.compile()`` installs a compiled call that ``nn.Module.__call__`` runs; the loop must not bypass it."""
    net = net_for(layers=3)
    y = torch.randn(2, 10)
    plain = net(y)
    graphs: list[torch.fx.GraphModule] = []

    def backend(gm: torch.fx.GraphModule, inputs: list[torch.Tensor]):
        graphs.append(gm)
        return gm.forward

    net.layers[1].compile(backend=backend)
    torch.testing.assert_close(net(y), plain)
    assert len(graphs) == 1


def _context(y: torch.Tensor):
    from hno_framework import ForwardContext

    return ForwardContext(y=y, mask=None, problem=None)
