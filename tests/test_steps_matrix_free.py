"""Matrix-free unfolding steps on whole-image operators (blur, mri, image-inpainting): learned-pg, hqs-cnn, ista.

The maths is pinned against references written out here: a plain loop of the formula with
``torch.nn.functional.conv2d`` and the problem's own operator (``problem.measure`` / ``problem.adjoint``),
never the steps' helper functions.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import hno_framework as hno
from hno_framework.api import train
from hno_framework.config import parse_config
from hno_framework.data import make_test_set
from hno_framework.errors import ConfigError, ProblemMismatchError
from hno_framework.evaluation import nmse_per_layer
from hno_framework.network import UnrolledNetwork, count_learnable
from hno_framework.registry import get_registry
from hno_framework.step import ForwardContext

F64 = torch.float64
INTEGRATORS = get_registry().names("integrator")
BLUR: dict[str, Any] = {"kind": "blur", "lam": 0.01, "options": {"size": 8, "sigma": 0.8}}
INPAINT: dict[str, Any] = {"kind": "image-inpainting", "lam": 0.01, "options": {"size": 8, "missing_ratio": 0.4}}
MRI: dict[str, Any] = {"kind": "mri", "lam": 0.01, "options": {"size": 8}}
KINDS = {"blur": BLUR, "image-inpainting": INPAINT, "mri": MRI,
         "inpainting-rgb": {**INPAINT, "options": {**INPAINT["options"], "channels": 3}}}


def config(problem: dict[str, Any], step: str = "learned-pg", *, integrator: str = "euler", layers: int = 3,
           tied: bool = True, options: dict[str, Any] | None = None, **training: Any) -> dict[str, Any]:
    return {"problem": problem,
            "network": {"step": {"name": step, "options": options or {}}, "integrator": integrator,
                        "layers": layers, "tied": tied},
            "training": {"dtype": "float64", **training}}


def build(cfg: dict[str, Any]) -> UnrolledNetwork:
    return hno.compose(cfg)


def data(net: UnrolledNetwork, cfg: dict[str, Any], size: int = 4) -> tuple[Tensor, Tensor]:
    batch = make_test_set(net.problem, parse_config(cfg), size)
    return batch.x.to(F64), batch.y.to(F64)


def perturb(net: UnrolledNetwork, seed: int = 5, scale: float = 0.05) -> None:
    """Seeded noise on every parameter, so the checks do not sit at the (partly zero) initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def context(net: UnrolledNetwork, y: Tensor) -> ForwardContext:
    """y with NaN → 0 and the per-sample 0/1 mask (None when the operator is shared), written out here."""
    if not net.problem.per_sample_mask:
        return ForwardContext(y=y)
    observed = ~torch.isnan(y)
    return ForwardContext(y=torch.nan_to_num(y, nan=0.0), mask=observed.to(y.dtype))


def reference_cnn(z: Tensor, convs: list[tuple[Tensor, Tensor]]) -> Tensor:
    """R(z) = conv_D(ReLU(… ReLU(conv_1(z)))), zero 'same' padding, one conv2d per (weight, bias)."""
    h = z
    for i, (weight, bias) in enumerate(convs):
        h = F.conv2d(h, weight, bias, padding=weight.shape[-1] // 2)
        if i < len(convs) - 1:
            h = torch.relu(h)
    return h


def convs_of(layer: Any) -> list[tuple[Tensor, Tensor]]:
    """The layer's convolutions in order, read from its state_dict by name."""
    sd = layer.state_dict()
    mids = [(sd["conv_mid_weight"][i], sd["conv_mid_bias"][i]) for i in range(sd["conv_mid_weight"].shape[0])]
    return [(sd["conv_in_weight"], sd["conv_in_bias"]), *mids, (sd["conv_out_weight"], sd["conv_out_bias"])]


def reference_learned_pg(layer: Any, x: Tensor, y: Tensor, mask: Tensor | None) -> Tensor:
    """G(x) = z + R(z), z = x − γ Aᵀ(A x − y)."""
    A, At = layer.problem.measure, layer.problem.adjoint
    z = x - layer.gamma.detach() * At(A(x, mask) - y, mask)
    return z + reference_cnn(z, convs_of(layer))


def cnn_count(c: int, width: int, depth: int, k: int) -> int:
    return (c * width * k * k + width) + (depth - 2) * (width * width * k * k + width) + (width * c * k * k + c)


# -- learned-pg: the maths ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("options", [{}, {"depth": 2, "width": 5, "kernel_size": 5}, {"depth": 4, "width": 6}])
def test_learned_pg_layer_matches_the_formula(kind: str, options: dict[str, Any]) -> None:
    cfg = config(KINDS[kind], options=options, tied=False)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg)
    ctx = context(net, y)
    x = torch.randn(y.shape[0], *net.problem.signal_shape, dtype=F64)
    with torch.no_grad():
        for layer in net.layers:
            want = reference_learned_pg(layer, x, ctx.y, ctx.mask)
            torch.testing.assert_close(layer(x, ctx), want, atol=1e-10, rtol=1e-10)
            assert want.shape == x.shape


def test_learned_pg_euler_network_is_the_plain_loop_of_the_formula() -> None:
    cfg = config(INPAINT, layers=4, tied=False)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg, 5)
    ctx = context(net, y)
    with torch.no_grad():
        x = torch.zeros(y.shape[0], *net.problem.signal_shape, dtype=F64)
        states = [x]
        for layer in net.layers:
            x = reference_learned_pg(layer, x, ctx.y, ctx.mask)
            states.append(x)
        torch.testing.assert_close(net(y), x)
        torch.testing.assert_close(net.trajectory(y), torch.stack(states, 1))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("step_scale", [1.0, 0.5])
def test_learned_pg_starts_as_the_plain_gradient_step(kind: str, step_scale: float) -> None:
    cfg = config(KINDS[kind], options={"step_scale": step_scale})
    net = build(cfg)
    _, y = data(net, cfg)
    ctx = context(net, y)
    problem = net.problem
    x = torch.randn(y.shape[0], *problem.signal_shape, dtype=F64)
    gamma = step_scale / problem.lipschitz
    plain = x - gamma * problem.adjoint(problem.measure(x, ctx.mask) - ctx.y, ctx.mask)
    with torch.no_grad():
        for layer in net.layers:
            torch.testing.assert_close(layer(x, ctx), plain)
    if ctx.mask is not None:  # an unobserved pixel is left where it was
        hidden = ctx.mask == 0
        assert hidden.any()
        torch.testing.assert_close(plain[hidden], x[hidden])


def test_residual_init_gives_a_nonzero_correction() -> None:
    cfg = config(BLUR, options={"residual_init": 0.1})
    net = build(cfg)
    _, y = data(net, cfg)
    x = torch.randn(y.shape[0], *net.problem.signal_shape, dtype=F64)
    problem, layer = net.problem, net.layers[0]
    plain = x - problem.adjoint(problem.measure(x) - y) / problem.lipschitz
    with torch.no_grad():
        assert (layer(x, ForwardContext(y=y)) - plain).abs().max() > 1e-3


@pytest.mark.parametrize(("options", "key"), [({"kernel_size": 4}, "kernel_size"), ({"depth": 1}, "depth"),
                                              ({"step_scale": 2.0}, "step_scale")])
def test_learned_pg_rejects_bad_options(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"learned-pg.*{key}"):
        build(config(BLUR, options=options))


# -- tying, state_dict ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["blur", "inpainting-rgb"])
@pytest.mark.parametrize("options", [{}, {"depth": 2, "width": 4}, {"depth": 5, "width": 3, "kernel_size": 5}])
@pytest.mark.parametrize("step", ["learned-pg", "hqs-cnn"])
def test_tied_and_untied_parameter_counts(step: str, kind: str, options: dict[str, Any]) -> None:
    layers = 3
    tied = build(config(KINDS[kind], step, options=options, layers=layers, tied=True))
    untied = build(config(KINDS[kind], step, options=options, layers=layers, tied=False))
    c = tied.problem.signal_shape[0]
    cnn = cnn_count(c, options.get("width", 32), options.get("depth", 3), options.get("kernel_size", 3))
    assert count_learnable(tied.layers) == layers + cnn  # γ_t (or μ_t) per layer, one CNN
    assert count_learnable(untied.layers) == layers * (1 + cnn)
    for name in tied.layers[0].tieable:
        assert getattr(tied.layers[0], name) is getattr(tied.layers[2], name)
        assert getattr(untied.layers[0], name) is not getattr(untied.layers[2], name)
    scalar = "gamma" if step == "learned-pg" else "log_mu"
    assert getattr(tied.layers[0], scalar) is not getattr(tied.layers[1], scalar)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("step", ["learned-pg", "hqs-cnn"])
def test_state_dict_round_trip(step: str, tied: bool) -> None:
    cfg = config(BLUR, step, integrator="2no", tied=tied)
    src = build(cfg)
    perturb(src)
    buffer = io.BytesIO()
    torch.save(src.state_dict(), buffer)
    buffer.seek(0)
    dst = build({**cfg, "training": {**cfg["training"], "seed": 7}})
    _, y = data(src, cfg)
    with torch.no_grad():
        assert not torch.allclose(dst(y), src(y))
        dst.load_state_dict(torch.load(buffer, weights_only=True))
        torch.testing.assert_close(dst(y), src(y), atol=0, rtol=0)
    if tied:  # still one CNN after loading
        assert dst.layers[0].conv_in_weight is dst.layers[1].conv_in_weight


# -- every integrator, every operator ----------------------------------------------------------------------

@pytest.mark.parametrize("integrator", INTEGRATORS)
@pytest.mark.parametrize("kind", ["blur", "image-inpainting"])
@pytest.mark.parametrize("step", ["learned-pg", "hqs-cnn", "ista"])
def test_composes_with_every_integrator(step: str, kind: str, integrator: str) -> None:
    cfg = config(KINDS[kind], step, integrator=integrator, layers=3)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg, 3)
    if kind == "image-inpainting":
        assert net.problem.per_sample_mask and torch.isnan(y).any()
    out = net(y)
    assert out.shape == (3, *net.problem.signal_shape) and out.shape[1:] == (1, 8, 8)
    assert torch.isfinite(out).all()
    if any(p.requires_grad for p in net.parameters()):
        out.pow(2).sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)


def test_matrix_steps_name_the_step_and_the_kind_on_a_matrix_free_problem() -> None:
    with pytest.raises(ProblemMismatchError) as info:
        build(config(BLUR, "lista"))
    message = str(info.value)
    assert "\n" not in message and "'lista'" in message and "'blur'" in message


@pytest.mark.parametrize("step", ["learned-pg", "hqs-cnn"])
def test_image_steps_need_whole_images(step: str) -> None:
    with pytest.raises(ProblemMismatchError, match=rf"step '{step}'.*kind 'lasso'"):
        build(config({"kind": "lasso", "m": 8, "n": 16}, step))


def test_requirements_are_declared() -> None:
    registry = get_registry()
    for step in ("learned-pg", "hqs-cnn"):
        assert registry.step(step).cls.requires == frozenset({"image"})
        assert registry.step(step).cls.supports_mask
    assert "matrix" not in registry.step("ista").cls.requires and registry.step("ista").cls.supports_mask


# -- hqs-cnn: a state of two variables ---------------------------------------------------------------------

def reference_hqs(layer: Any, state: Tensor, y: Tensor, mask: Tensor | None, iterations: int) -> Tensor:
    """(x, z) ↦ (v_K, v_K + R(v_K)), v_{k+1} = v_k − (Aᵀ(A v_k − y) + μ(v_k − z)) / (L + μ), v_0 = x."""
    A, At, L = layer.problem.measure, layer.problem.adjoint, layer.problem.lipschitz
    mu = torch.exp(layer.state_dict()["log_mu"])
    x, z = state[:, 0], state[:, 1]
    v = x
    for _ in range(iterations):
        v = v - (At(A(v, mask) - y, mask) + mu * (v - z)) / (L + mu)
    return torch.stack((v, v + reference_cnn(v, convs_of(layer))), dim=1)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("iterations", [1, 3])
def test_hqs_gd_layer_matches_the_formula(kind: str, iterations: int) -> None:
    cfg = config(KINDS[kind], "hqs-cnn", options={"iterations": iterations, "width": 6}, tied=False)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg)
    ctx = context(net, y)
    state = torch.randn(y.shape[0], 2, *net.problem.signal_shape, dtype=F64)
    with torch.no_grad():
        for layer in net.layers:
            torch.testing.assert_close(layer(state, ctx), reference_hqs(layer, state, ctx.y, ctx.mask, iterations))


def dense_operator(problem: Any, mask: Tensor | None) -> Tensor:
    """The matrix of A_i (one sample): column j = A e_j, from the problem's own operator."""
    n = math.prod(problem.signal_shape)
    basis = torch.eye(n, dtype=F64).view(n, *problem.signal_shape)
    return problem.measure(basis, None if mask is None else mask.expand(n, *mask.shape[1:])).reshape(n, -1).T


@pytest.mark.parametrize("kind", ["blur", "image-inpainting", "mri"])
def test_hqs_cg_solves_the_data_step_exactly(kind: str) -> None:
    cfg = config(KINDS[kind], "hqs-cnn", options={"solver": "cg", "iterations": 60}, layers=1)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg, 2)
    ctx = context(net, y)
    layer, problem = net.layers[0], net.problem
    mu = torch.exp(layer.state_dict()["log_mu"])
    state = torch.randn(y.shape[0], 2, *problem.signal_shape, dtype=F64)
    with torch.no_grad():
        out = layer(state, ctx)
    for i in range(y.shape[0]):  # (AᵢᵀAᵢ + μI) x = Aᵢᵀyᵢ + μ zᵢ, solved densely
        a = dense_operator(problem, None if ctx.mask is None else ctx.mask[i : i + 1])
        rhs = a.T @ ctx.y[i].reshape(-1) + mu * state[i, 1].reshape(-1)
        exact = torch.linalg.solve(a.T @ a + mu * torch.eye(a.shape[1], dtype=F64), rhs)
        torch.testing.assert_close(out[i, 0].reshape(-1), exact, atol=1e-8, rtol=1e-8)
        torch.testing.assert_close(out[i, 1], out[i, 0] + reference_cnn(out[i : i + 1, 0], convs_of(layer))[0])


@pytest.mark.parametrize("kind", ["blur", "image-inpainting"])
def test_hqs_starts_as_proximal_point_and_the_network_reads_z(kind: str) -> None:
    cfg = config(KINDS[kind], "hqs-cnn", layers=4)
    net = build(cfg)
    _, y = data(net, cfg)
    ctx = context(net, y)
    problem = net.problem
    L = problem.lipschitz
    mu = 0.1 * L  # mu_init
    with torch.no_grad():
        x = torch.zeros(y.shape[0], *problem.signal_shape, dtype=F64)
        z = x
        estimates = [z]
        for _ in range(4):  # R = 0: z = x, three gradient steps towards argmin ½‖Ax − y‖² + μ/2‖x − z‖²
            v = x
            for _ in range(3):
                v = v - (problem.adjoint(problem.measure(v, ctx.mask) - ctx.y, ctx.mask) + mu * (v - z)) / (L + mu)
            x = z = v
            estimates.append(z)
        torch.testing.assert_close(net.trajectory(y), torch.stack(estimates, 1))
        torch.testing.assert_close(net(y), z)


def test_hqs_euler_network_iterates_the_state_and_returns_z() -> None:
    cfg = config(INPAINT, "hqs-cnn", layers=3, tied=False)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg)
    ctx = context(net, y)
    x0 = torch.rand(y.shape[0], *net.problem.signal_shape, dtype=F64)
    with torch.no_grad():
        state = torch.stack((x0, x0), 1)
        estimates = [x0]
        for layer in net.layers:
            state = reference_hqs(layer, state, ctx.y, ctx.mask, 3)
            estimates.append(state[:, 1])
        result = net.unroll(y, keep_trajectory=True, x0=x0)
        torch.testing.assert_close(result.estimate, state[:, 1])
        assert result.trajectory is not None
        torch.testing.assert_close(result.trajectory, torch.stack(estimates, 1))


def test_hqs_2no_combines_both_variables() -> None:
    """s_1 = s_0 + f(s_0) (Euler first), s_2 = (1 − β)s_1 + β s_0 + α f(s_1), on x and z alike (seed eq. 11)."""
    cfg = config(BLUR, "hqs-cnn", integrator="2no", layers=2, tied=False)
    net = build(cfg)
    perturb(net)
    _, y = data(net, cfg)
    alpha, beta = float(net.integrator.alpha.detach()[0]), float(net.integrator.beta.detach()[0])
    with torch.no_grad():
        s0 = torch.zeros(y.shape[0], 2, *net.problem.signal_shape, dtype=F64)
        s1 = reference_hqs(net.layers[0], s0, y, None, 3)
        f1 = reference_hqs(net.layers[1], s1, y, None, 3) - s1
        s2 = (1 - beta) * s1 + beta * s0 + alpha * f1
        assert not torch.allclose(s2[:, 0], s2[:, 1])  # the two variables differ
        torch.testing.assert_close(net(y), s2[:, 1])


# -- ista on any operator ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ista_runs_the_formula_on_matrix_free_operators(kind: str) -> None:
    cfg = config(KINDS[kind], "ista", layers=4)
    net = build(cfg)
    _, y = data(net, cfg)
    ctx = context(net, y)
    problem = net.problem
    L, theta = problem.lipschitz, problem.lam / problem.lipschitz
    with torch.no_grad():
        x = torch.zeros(y.shape[0], *problem.signal_shape, dtype=F64)
        for _ in range(4):  # x ← η_{λ/L}(x + Aᵀ(y − A x)/L)
            v = x + problem.adjoint(ctx.y - problem.measure(x, ctx.mask), ctx.mask) / L
            x = torch.sign(v) * torch.clamp(v.abs() - theta, min=0)
        torch.testing.assert_close(net(y), x)


# -- training ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("step", ["learned-pg", "hqs-cnn"])
def test_short_training_on_blur_reduces_the_error(step: str, tmp_path: Path) -> None:
    raw = config(BLUR, step, integrator="2no", layers=3, iterations=20, batch_size=8, lr=0.003, validate_every=10,
                 validation_size=16, test_size=32, threads=1)
    raw["training"]["dtype"] = "float32"
    raw["name"] = f"{step}-blur"
    raw["output"] = {"dir": str(tmp_path)}
    cfg = parse_config(raw)
    before = nmse_per_layer(hno.compose(cfg), make_test_set(hno.compose(cfg).problem, cfg))[-1]
    result = train(cfg, progress=False)
    after = result.test_nmse_db[-1]
    assert math.isfinite(after) and after < before - 0.1, (before, after)
