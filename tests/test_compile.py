"""Compiled networks (``enable_compile``, ``training.compile``) against the eager ones, and the History's
map/derivative bookkeeping that lets Euler at h = 1 return G(x_t) directly.

The default suite compiles with the ``aot_eager`` backend (dynamo tracing and AOT autograd, seconds); the
inductor backend, which generates C++ and takes tens of seconds per graph here, is checked under ``-m slow``.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from hno_framework.api import train
from hno_framework.composer import compose
from hno_framework.config import load_config
from hno_framework.integrator import History
from hno_framework.ops import soft_threshold


def small_net(integrator: str, layers: int = 4, step: str = "lista"):
    return compose({"problem": {"m": 12, "n": 24, "seed": 1},
                    "network": {"step": step, "integrator": integrator, "layers": layers}})


# euler through AOT autograd (the backward graph compiled too); rk4's extra stages through dynamo's tracing only
# ("eager" backend: seconds less); 2no: the training and copy tests below
@pytest.mark.parametrize(("integrator", "backend"), [("euler", "aot_eager"), ("rk4", "eager")])
def test_compiled_and_eager_agree_on_outputs_trajectories_and_gradients(integrator: str, backend: str) -> None:
    eager = small_net(integrator)
    compiled = copy.deepcopy(eager).enable_compile(backend=backend)
    y = torch.randn(6, 12, generator=torch.Generator().manual_seed(0))
    for kwargs in ({}, {"keep_trajectory": True}, {"depth": 2, "keep_trajectory": True}):
        a, b = eager.unroll(y, **kwargs), compiled.unroll(y, **kwargs)
        torch.testing.assert_close(b.estimate, a.estimate)
        if a.trajectory is not None:
            torch.testing.assert_close(b.trajectory, a.trajectory)
    eager(y).square().sum().backward()
    compiled(y).square().sum().backward()
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
    assert compiled.compiled
    assert compiled.state_dict().keys() == eager.state_dict().keys()


def test_torch_compile_of_the_whole_network_traces_one_graph() -> None:
    """``torch.compile(net, fullgraph=True)``, the user's own compile of the module (not ``enable_compile``): the
    eager loop, with its direct calls of hook-free layers, must trace without a graph break."""
    net = small_net("2no", layers=3)
    y = torch.randn(2, 12, generator=torch.Generator().manual_seed(0))
    graphs: list[torch.fx.GraphModule] = []

    def backend(gm: torch.fx.GraphModule, inputs: list[torch.Tensor]):
        graphs.append(gm)
        return gm.forward

    torch.testing.assert_close(torch.compile(net, backend=backend, fullgraph=True)(y), net(y))
    assert len(graphs) == 1

def test_a_compiled_network_deep_copies_and_compiles_again() -> None:
    net = small_net("2no").enable_compile(backend="eager")
    y = torch.randn(3, 12)
    first = net(y)
    twin = copy.deepcopy(net)
    assert twin.compiled
    torch.testing.assert_close(twin(y), first)


def test_a_failing_compiler_warns_once_and_the_network_runs_eagerly() -> None:
    def broken_backend(graph_module, example_inputs):  # a backend that cannot compile anything
        raise RuntimeError("no compiler on this machine")

    eager = small_net("2no")
    net = copy.deepcopy(eager).enable_compile(backend=broken_backend)
    y = torch.randn(4, 12)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no compiler on this machine.*runs eagerly"):
        out = net(y)
    torch.testing.assert_close(out, eager(y))
    assert not net.compiled
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # only once: the next call is eager and silent
        net(y)


def test_an_error_the_eager_loop_raises_as_well_is_raised() -> None:
    net = small_net("euler").enable_compile(backend="aot_eager")
    net.layers[0].W.data = torch.randn(5, 5)  # a broken parameter: fails compiled and eagerly
    with pytest.raises(RuntimeError):
        net(torch.randn(2, 12))


def test_training_compile_trains_the_same_network(tiny_config) -> None:
    path = tiny_config(iterations=10)
    eager = train(load_config(path, ["name=eager"]), progress=False)
    compiled = train(load_config(path, ["name=compiled", "training.compile=true",
                                        "training.compile_backend=aot_eager"]), progress=False)
    assert compiled.test_nmse_db == pytest.approx(eager.test_nmse_db, abs=1e-3)


def test_a_compiler_that_fails_on_the_backward_pass_falls_back_in_training(tiny_config) -> None:
    from torch._dynamo.backends.common import aot_autograd

    def forward_compiler(graph_module, example_inputs):
        return graph_module.forward

    def broken_backward_compiler(graph_module, example_inputs):  # AOT autograd calls it on the first backward
        raise RuntimeError("no backward compiler on this machine")

    path = tiny_config(iterations=10)
    config = load_config(path, ["name=eager"])
    eager = train(config, progress=False)
    net = compose(config).enable_compile(backend=aot_autograd(fw_compiler=forward_compiler,
                                                              bw_compiler=broken_backward_compiler))
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no backward compiler.*runs eagerly") as caught:
        fallen = train(load_config(path, ["name=fallen"]), network=net, progress=False)
    assert sum("torch.compile failed" in str(w.message) for w in caught) == 1
    assert not net.compiled
    assert fallen.test_nmse_db == pytest.approx(eager.test_nmse_db, abs=1e-5)


def test_a_backward_error_that_eager_autograd_raises_as_well_is_raised_and_compiling_stays_on(tiny_config) -> None:
    path = tiny_config(iterations=10)
    config = load_config(path, ["name=hooked"])
    net = compose(config).enable_compile(backend="aot_eager")

    def broken_hook(grad):  # runs in every backward, compiled or eager: the network's own error
        raise RuntimeError("a gradient hook that always fails")

    next(net.parameters()).register_hook(broken_hook)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile failed")
        with pytest.raises(RuntimeError, match="a gradient hook that always fails"):
            train(config, network=net, progress=False)
    assert net.compiled


def test_training_compile_is_strict() -> None:
    from hno_framework.config import TrainingConfig

    with pytest.raises(ValueError):
        TrainingConfig.model_validate({"compile": "yes"})
    with pytest.raises(ValueError):
        TrainingConfig.model_validate({"compile": True, "compile_backend": "tvm-ish"})


@pytest.mark.slow
@pytest.mark.parametrize("integrator", ["euler", "2no"])
def test_inductor_compiled_network_agrees_with_eager(integrator: str) -> None:
    eager = small_net(integrator)
    compiled = copy.deepcopy(eager).enable_compile()
    y = torch.randn(8, 12)
    torch.testing.assert_close(compiled.unroll(y, keep_trajectory=True).trajectory,
                               eager.unroll(y, keep_trajectory=True).trajectory, rtol=1e-5, atol=1e-6)
    assert compiled.compiled


# -- History: a state enters with its map G or its derivative f; the other follows ------------------------
def test_history_derives_f_from_the_map_and_the_map_from_f() -> None:
    x0, g0, x1, f1 = (torch.randn(2, 3) for _ in range(4))
    history = History(2)
    history.push_map(x0, g0)
    history.push(x1, f1)
    assert torch.equal(history.f(1), g0 - x0) and history.g(1) is g0
    assert torch.equal(history.g(0), x1 + f1) and history.f(0) is f1
    assert history.f(1) is history.f(1), "a derived value is computed once and kept"


def _plain_lista_euler(net, y: torch.Tensor, h: list[float]) -> torch.Tensor:
    """x_{t+1} = x_t + h_t (η_θt(x_t + W(y − Φx_t)) − x_t) (seed eq. 8), written out."""
    phi = net.problem.phi
    x = torch.zeros(y.shape[0], phi.shape[1])
    for t, layer in enumerate(net.layers):
        g = soft_threshold(x + (y - x @ phi.T) @ layer.W.T, layer.theta)
        x = x + h[t] * (g - x)
    return x


def test_euler_at_h_one_is_the_plain_dun_and_a_loaded_h_is_honoured() -> None:
    net = small_net("euler", layers=3)
    y = torch.randn(5, 12)
    with torch.no_grad():
        torch.testing.assert_close(net(y), _plain_lista_euler(net, y, [1.0, 1.0, 1.0]))
        state = net.state_dict()
        state["integrator.h"] = torch.tensor([0.5, 1.0, 0.25])  # a fixed h from elsewhere, loaded over h = 1
        net.load_state_dict(state)
        torch.testing.assert_close(net(y), _plain_lista_euler(net, y, [0.5, 1.0, 0.25]))
        state["integrator.h"] = torch.ones(3)
        net.load_state_dict(state)
        torch.testing.assert_close(net(y), _plain_lista_euler(net, y, [1.0, 1.0, 1.0]))
