"""The DUN zoo (plugins/steps): reductions at init, per-step maths, requirements, tying.

The shared (step × integrator) property suite lives in test_consistency.py; these tests check
what is specific to each step, against computations written out here independently.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_framework.composer import compose_network
from hno_framework.config import ComponentSpec, NetworkConfig, ProblemConfig
from hno_framework.errors import ProblemMismatchError
from hno_framework.network import UnrolledNetwork, count_learnable
from hno_framework.ops import hard_threshold, soft_threshold
from hno_framework.problems import build_problem, make_sampler
from hno_framework.problems.base import MatrixProblem, Problem
from hno_framework.registry import get_registry
from hno_framework.step import ForwardContext
from hno_framework.testing import perturb_, small_problem_config
from hno_plugins.steps import BUILTIN_STEPS
from hno_plugins.steps._shrinkage import hard_threshold_st, support_selection_shrink
from hno_plugins.steps.alista import ANALYTIC_WEIGHTS, closed_form_analytic_weight, solve_analytic_weight

ZOO = ["lista-cs", "glista", "ista-net", "alista", "liht", "lamp", "lista-cpss"]
MATRIX_FREE = {"learned-pg", "hqs-cnn"}  # whole-image steps, tested in test_steps_matrix_free.py
FAST = settings(max_examples=8, deadline=None, derandomize=True)
F64 = torch.float64


def problem_of(kind: str = "lasso", seed: int = 0, **fields: Any) -> tuple[Problem, ProblemConfig]:
    cfg = ProblemConfig(kind=kind, seed=seed, lam=0.1, **({"m": 10, "n": 20} | fields))
    return build_problem(cfg).to(F64), cfg


def network(problem: Problem, step: str, options: dict | None = None, *, layers: int = 5, tied: bool = True,
            integrator: str = "euler", integrator_options: dict | None = None, seed: int = 0) -> UnrolledNetwork:
    torch.manual_seed(seed)
    cfg = NetworkConfig(step=ComponentSpec(name=step, options=options or {}), layers=layers, tied=tied,
                        integrator=ComponentSpec(name=integrator, options=integrator_options or {}))
    return compose_network(problem, cfg).to(F64)


def measurements(problem: Problem, cfg: ProblemConfig, batch: int = 6, seed: int = 1) -> torch.Tensor:
    return make_sampler(problem, cfg).sample(batch, torch.Generator().manual_seed(seed)).y.to(F64)


def ista_iterates(problem: Problem, y: torch.Tensor, layers: int, basis: torch.Tensor | None = None) -> torch.Tensor:
    """x_0..x_T of ISTA for problem (1), written out: x ← Dᵀη_{λ/L}(D(x + Φᵀ(y − Φx)/L))."""
    phi, L, lam = problem.phi, problem.lipschitz, problem.lam
    d = torch.eye(problem.n, dtype=F64) if basis is None else basis
    x = torch.zeros(y.shape[0], problem.n, dtype=F64)
    states = [x]
    for _ in range(layers):
        v = x + (y - x @ phi.T) @ phi / L
        x = soft_threshold(v @ d.T, lam / L) @ d
        states.append(x)
    return torch.stack(states, dim=1)


@contextmanager
def default_float64() -> Iterator[None]:
    """Build parameters created with the default dtype (ista, lista) in float64, so reductions are exact."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def with_identity_basis(problem: Problem) -> Problem:
    return MatrixProblem(problem.phi.clone(), problem.lam, basis=torch.eye(problem.n, dtype=F64), kind="lasso-identity-basis")


# -- reductions at init (euler, tied) ------------------------------------------------------------

@FAST
@given(seed=st.integers(0, 10_000))
def test_lista_and_lista_cs_with_identity_basis_reproduce_ista(seed: int) -> None:
    problem, cfg = problem_of(seed=seed)
    y = measurements(problem, cfg, seed=seed)
    expected = ista_iterates(problem, y, 6)
    basis_problem = with_identity_basis(problem)
    with default_float64():
        nets = (network(problem, "ista", layers=6), network(problem, "lista", layers=6),
                network(basis_problem, "lista-cs", layers=6))
    for net in nets:
        torch.testing.assert_close(net.trajectory(y), expected, rtol=1e-12, atol=1e-12)


@FAST
@given(seed=st.integers(0, 10_000))
def test_lista_cs_at_init_is_ista_in_the_dct_basis(seed: int) -> None:
    problem, cfg = problem_of("cs", seed=seed, m=8, n=16)
    y = measurements(problem, cfg, seed=seed)
    expected = ista_iterates(problem, y, 5, basis=problem.basis)
    torch.testing.assert_close(network(problem, "lista-cs").trajectory(y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "step, options",
    [("glista", {}), ("glista", {"overshoot": True}), ("lista-cpss", {"ss_percent_per_layer": 0.0})],
    ids=["glista", "glista-overshoot", "lista-cpss-no-selection"],
)
def test_steps_that_start_as_lista(step: str, options: dict) -> None:
    problem, cfg = problem_of(m=20, n=40)
    y = measurements(problem, cfg)
    with default_float64():
        expected = network(problem, "lista").trajectory(y)
    # exact, except the closed overshoot gate: x + 1·(x̃ − x) is x̃ only up to rounding (Euler returns G = x̃ as it is)
    tol = 1e-14 if options.get("overshoot") else 0.0
    torch.testing.assert_close(network(problem, step, options).trajectory(y), expected, rtol=tol, atol=tol)


def test_ista_net_identity_init_is_pixel_domain_ista() -> None:
    problem, cfg = problem_of("cs", m=8, n=16)
    y = measurements(problem, cfg)
    net = network(problem, "ista-net", {"init": "identity", "channels": 4})
    torch.testing.assert_close(net.trajectory(y), ista_iterates(problem, y, 5), rtol=1e-12, atol=1e-12)


# -- LISTA-CPSS and the support selection ----------------------------------------------------------

@FAST
@given(seed=st.integers(0, 10_000), percent=st.floats(0.0, 60.0), theta=st.floats(0.0, 1.0))
def test_support_selection_against_sorting(seed: int, percent: float, theta: float) -> None:
    v = torch.randn(5, 30, generator=torch.Generator().manual_seed(seed), dtype=F64)
    out = support_selection_shrink(v, torch.tensor(theta, dtype=F64), percent)
    for row in range(5):  # Chen et al.: above the (100 − p)-th percentile (nearest rank) and above θ
        descending = sorted((float(a) for a in v[row].abs()), reverse=True)
        cutoff = descending[round(29 * percent / 100)] if percent > 0 else math.inf
        kept = {i for i in range(30) if cutoff < float(v[row, i].abs()) and float(v[row, i].abs()) > theta}
        for i in range(30):
            want = v[row, i] if i in kept else soft_threshold(v[row, i], theta)
            assert out[row, i] == want


def test_lista_cpss_schedule_and_passing_entries() -> None:
    problem, cfg = problem_of(m=60, n=120)
    net = network(problem, "lista-cpss", layers=14)
    assert [layer.percent for layer in net.layers] == pytest.approx([min((t + 1) * 1.2, 13.0) for t in range(14)])
    custom = network(problem, "lista-cpss", {"ss_percent_per_layer": 5.0, "ss_max_percent": 12.0}, layers=4)
    assert [layer.percent for layer in custom.layers] == pytest.approx([5.0, 10.0, 12.0, 12.0])
    # support selection changes the output once round((n − 1)·p/100) ≥ 1 (here from layer 0: 1.2 % of 120)
    y = measurements(problem, cfg)
    plain = network(problem, "lista", layers=3)
    assert not torch.allclose(network(problem, "lista-cpss", layers=3)(y), plain(y))


# -- LIHT ----------------------------------------------------------------------------------------

@FAST
@given(seed=st.integers(0, 10_000), theta=st.floats(0.05, 1.0), width=st.floats(0.01, 1.0))
def test_liht_threshold_is_exact_and_theta_gets_a_gradient(seed: int, theta: float, width: float) -> None:
    v = torch.randn(4, 25, generator=torch.Generator().manual_seed(seed), dtype=F64, requires_grad=True)
    t = torch.tensor(theta, dtype=F64, requires_grad=True)
    out = hard_threshold_st(v, t, width)
    assert torch.equal(out, hard_threshold(v.detach(), theta))
    weights = torch.randn(4, 25, generator=torch.Generator().manual_seed(seed + 1), dtype=F64)
    (out * weights).sum().backward()
    assert torch.equal(v.grad, weights * (v.detach().abs() > theta))  # exact a.e. gradient for v
    vd = v.detach()
    sig = torch.sigmoid((vd.abs() - theta) / width)
    expected = (weights * vd * (-sig * (1 - sig) / width)).sum()  # d/dθ of v·σ((|v| − θ)/τ)
    torch.testing.assert_close(t.grad, expected)


def test_liht_network_gives_theta_a_nonzero_gradient() -> None:
    problem, cfg = problem_of(m=20, n=40)
    net = network(problem, "liht", layers=4)
    y = measurements(problem, cfg, batch=16)
    net(y).pow(2).sum().backward()
    assert all(float(layer.theta.grad.abs()) > 0 for layer in net.layers)


# -- GLISTA --------------------------------------------------------------------------------------

@FAST
@given(mu=st.floats(0.0, 5.0), eps=st.floats(0.05, 3.0), seed=st.integers(0, 1000))
def test_glista_gain_is_inverse_proportional_and_bounded(mu: float, eps: float, seed: int) -> None:
    problem, _ = problem_of(m=10, n=20)
    layer = network(problem, "glista", {"gain_init": mu, "gain_eps": eps}, layers=1).layers[0]
    x = 3 * torch.randn(7, 20, generator=torch.Generator().manual_seed(seed), dtype=F64)
    g = layer.gain(x)
    torch.testing.assert_close(g, 1 + mu / (eps + layer.gain_nu.abs() * x.abs()))
    assert bool((g >= 1).all()) and bool((g <= 1 + mu / eps + 1e-12).all())


def test_glista_gate_changes_the_layer_and_learns() -> None:
    problem, cfg = problem_of(m=20, n=40)
    y = measurements(problem, cfg)
    lista = network(problem, "lista")(y)
    gated = network(problem, "glista", {"gain_init": 0.2, "overshoot": True, "overshoot_init": 0.1})
    out = gated(y)
    assert not torch.allclose(out, lista)
    out.pow(2).sum().backward()
    last = gated.layers[-1]
    assert all(float(p.grad.abs().sum()) > 0 for p in (last.gain_mu, last.gain_nu, last.overshoot_a, last.theta))


# -- ALISTA --------------------------------------------------------------------------------------

def coherence(w: torch.Tensor, phi: torch.Tensor) -> tuple[float, float]:
    """(max, Frobenius) off-diagonal of WᵀΦ with its diagonal scaled to 1 (generalised mutual coherence)."""
    gram = w.T @ phi
    gram = gram / torch.diag(gram)[:, None]
    gram.fill_diagonal_(0.0)
    return float(gram.abs().max()), float(gram.norm())


@FAST
@given(seed=st.integers(0, 10_000), size=st.sampled_from([(8, 16), (20, 40), (30, 45)]))
def test_alista_weight_has_unit_diagonal_and_lower_frobenius_coherence(seed: int, size: tuple[int, int]) -> None:
    problem, _ = problem_of(seed=seed, m=size[0], n=size[1])
    phi = problem.phi
    weight = network(problem, "alista", layers=1).layers[0].W_analytic
    torch.testing.assert_close(torch.diag(weight.T @ phi), torch.ones(size[1], dtype=F64))
    # the LISTA init Φᵀ/L as an ALISTA weight is Φ/L; both compared with their diagonals scaled to 1
    assert coherence(weight, phi)[1] < coherence(phi / problem.lipschitz, phi)[1]


@pytest.mark.parametrize("size", [(64, 128), (250, 500)])
def test_alista_weight_has_lower_mutual_coherence(size: tuple[int, int]) -> None:
    problem, _ = problem_of(m=size[0], n=size[1])
    weight = closed_form_analytic_weight(problem.phi)
    analytic, baseline = coherence(weight, problem.phi), coherence(problem.phi / problem.lipschitz, problem.phi)
    assert analytic[0] < baseline[0] and analytic[1] < baseline[1]


def test_alista_projected_gradient_matches_closed_form() -> None:
    problem, _ = problem_of(m=8, n=16, seed=3)
    closed = closed_form_analytic_weight(problem.phi)
    projected = solve_analytic_weight(problem.phi, iterations=2000, tolerance=1e-12)
    torch.testing.assert_close(projected, closed, rtol=1e-6, atol=1e-8)
    net = network(problem, "alista", {"solver": "projected-gradient", "solver_iterations": 2000,
                                      "solver_tolerance": 1e-12}, layers=1)
    torch.testing.assert_close(net.layers[0].W_analytic, closed, rtol=1e-6, atol=1e-8)


def test_alista_closed_form_handles_a_singular_gram_matrix() -> None:
    """m > n: ΦΦᵀ is singular; the pseudo-inverse gives a feasible minimiser (objective as projected gradient)."""
    phi = torch.randn(30, 20, generator=torch.Generator().manual_seed(5), dtype=F64)
    closed = closed_form_analytic_weight(phi)
    torch.testing.assert_close(torch.diag(closed.T @ phi), torch.ones(20, dtype=F64))
    projected = solve_analytic_weight(phi, iterations=2000, tolerance=1e-12)
    objective = [float((w.T @ phi).pow(2).sum()) for w in (closed, projected)]
    assert objective[0] == pytest.approx(objective[1], rel=1e-8)


def test_alista_weight_is_solved_once_per_phi_and_copied_per_layer() -> None:
    ANALYTIC_WEIGHTS.clear()
    problem, _ = problem_of(m=12, n=24, seed=11)
    before = ANALYTIC_WEIGHTS.solves
    net = network(problem, "alista", layers=6)
    assert ANALYTIC_WEIGHTS.solves == before + 1
    network(problem, "alista", layers=3)
    assert ANALYTIC_WEIGHTS.solves == before + 1  # cached: same Φ
    network(problem_of(m=12, n=24, seed=12)[0], "alista", layers=2)
    assert ANALYTIC_WEIGHTS.solves == before + 2  # another Φ
    first, second = net.layers[0].W_analytic, net.layers[1].W_analytic
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    with torch.no_grad():
        first.add_(1.0)  # in-place changes (e.g. load_state_dict) stay in that layer
    assert not torch.allclose(first, second)
    torch.testing.assert_close(network(problem, "alista", layers=1).layers[0].W_analytic, second, rtol=0, atol=0)


def test_alista_learns_only_gamma_and_theta() -> None:
    problem, _ = problem_of()
    net = network(problem, "alista", layers=4)
    assert sorted(n for n, _ in net.named_parameters()) == sorted(
        f"layers.{t}.{p}" for t in range(4) for p in ("gamma", "theta"))
    assert "layers.0.W_analytic" in net.state_dict()


# -- LAMP ----------------------------------------------------------------------------------------

def lamp_direct(problem: Problem, net: UnrolledNetwork, y: torch.Tensor) -> torch.Tensor:
    """LAMP written out: v_t = y − Φx_t + (‖x_t‖₀/m) v_{t−1}; x_{t+1} = η(x_t + B_t v_t; θ_t ‖v_t‖/√m)."""
    m = problem.m
    x = torch.zeros(y.shape[0], problem.n, dtype=F64)
    v_prev = torch.zeros_like(y)
    for layer in net.layers:
        onsager = (x != 0).sum(dim=1, keepdim=True).to(F64) / m * v_prev
        v = y - x @ problem.phi.T + onsager
        sigma = v.norm(dim=1, keepdim=True) / math.sqrt(m)
        x = soft_threshold(x + v @ layer.B.T, layer.theta * sigma)
        v_prev = v
    return x


@pytest.mark.parametrize("tied", [True, False])
def test_lamp_onsager_term_matches_direct_computation(tied: bool) -> None:
    problem, cfg = problem_of(m=20, n=40)
    net = network(problem, "lamp", layers=5, tied=tied)
    perturb_(net, 3, scale=0.02)
    y = measurements(problem, cfg)
    with torch.no_grad():
        out = net(y)
        torch.testing.assert_close(out, lamp_direct(problem, net, y), rtol=1e-12, atol=1e-12)
        # the Onsager term matters: dropping it (b_t = 0) gives another result
        x = torch.zeros_like(out)
        for layer in net.layers:
            v = y - x @ problem.phi.T
            x = soft_threshold(x + v @ layer.B.T, layer.theta * v.norm(dim=1, keepdim=True) / math.sqrt(problem.m))
        assert not torch.allclose(x, out)


def test_lamp_state_advances_once_per_layer() -> None:
    problem, cfg = problem_of(m=20, n=40)
    net = network(problem, "lamp", layers=3)
    y = measurements(problem, cfg)
    ctx = ForwardContext(y=y)
    l0, l1 = net.layers[0], net.layers[1]
    x1 = l0(torch.zeros(y.shape[0], problem.n, dtype=F64), ctx)
    key = l0.state_key
    v0 = ctx.state[key]["v"]
    torch.testing.assert_close(v0, y)  # v_0 = y − Φ·0 (no previous residual)
    z = x1 + 0.1
    l0(z, ctx)  # a second evaluation of layer 0 (a Runge-Kutta stage) leaves the state alone
    assert ctx.state[key]["layer"] == 0 and ctx.state[key]["v"] is v0
    first = l1(x1, ctx)  # layer 1 at its current point: v_1 = y − Φx_1 + (‖x_1‖₀/m) v_0
    v1 = ctx.state[key]["v"]
    torch.testing.assert_close(v1, y - x1 @ problem.phi.T + (x1 != 0).sum(1, keepdim=True) / problem.m * v0)
    stage = l1(z, ctx)  # a stage of layer 1 uses v_0 again, at its own point z
    v_stage = y - z @ problem.phi.T + (z != 0).sum(1, keepdim=True) / problem.m * v0
    sigma = v_stage.norm(dim=1, keepdim=True) / math.sqrt(problem.m)
    torch.testing.assert_close(stage, soft_threshold(z + v_stage @ l1.B.T, l1.theta * sigma))
    assert ctx.state[key]["v"] is v1 and not torch.allclose(stage, first)


def test_lamp_default_init_is_amp_and_seed_init_is_available() -> None:
    problem, _ = problem_of()
    amp = network(problem, "lamp", layers=2).layers[0]
    torch.testing.assert_close(amp.B.detach(), problem.phi.T)
    assert amp.theta.item() == 1.0
    seed = network(problem, "lamp", {"init": "seed"}, layers=2).layers[0]
    torch.testing.assert_close(seed.B.detach(), problem.phi.T / problem.lipschitz)
    assert seed.theta.item() == pytest.approx(problem.lam / problem.lipschitz)


# -- ISTA-Net ------------------------------------------------------------------------------------

def test_ista_net_symmetry_loss_vanishes_for_an_exact_inverse() -> None:
    problem, cfg = problem_of("cs", m=8, n=16)
    y = measurements(problem, cfg)
    net = network(problem, "ista-net", {"init": "identity", "channels": 3})
    perturb_(net, 0)  # F̃ = F⁻¹ must hold for any weights of this form: rebuild the inverse pair
    for layer in net.layers:
        layer._identity_init()
    result = net.unroll(y)
    assert result.aux_loss.item() == 0.0
    r = torch.randn(5, 1, 4, 4, dtype=F64)
    assert net.layers[2].symmetry_loss(r).item() == 0.0


def test_ista_net_symmetry_loss_is_weighted_and_reaches_the_aux_losses() -> None:
    problem, cfg = problem_of("cs", m=8, n=16)
    y = measurements(problem, cfg)
    base = network(problem, "ista-net", {"channels": 6}, layers=3).unroll(y).aux_loss
    double = network(problem, "ista-net", {"channels": 6, "symmetry_weight": 0.02}, layers=3).unroll(y).aux_loss
    off = network(problem, "ista-net", {"channels": 6, "symmetry_weight": 0.0}, layers=3).unroll(y).aux_loss
    assert base.item() > 0 and off.item() == 0.0
    torch.testing.assert_close(double, 2 * base)
    net = network(problem, "ista-net", {"channels": 6}, layers=3)
    ctx = ForwardContext(y=y)
    x = torch.zeros(y.shape[0], 16, dtype=F64)
    for layer in net.layers:
        r = (x + layer.rho * (y - x @ problem.phi.T) @ problem.phi).reshape(-1, 1, 4, 4)
        expected = 0.01 * (layer.inverse(layer.transform(r)) - r).pow(2).mean()
        x = layer(x, ctx)
        torch.testing.assert_close(ctx.aux_losses[-1], expected)


def test_ista_net_rejects_bad_options() -> None:
    problem, _ = problem_of("cs", m=8, n=16)
    with pytest.raises(ValueError, match="odd"):
        network(problem, "ista-net", {"kernel_size": 2})
    with pytest.raises(ValueError, match="channels"):
        network(problem, "ista-net", {"init": "identity", "channels": 1})


# -- requirements --------------------------------------------------------------------------------

def test_requirements_are_declared() -> None:
    registry = get_registry()
    assert registry.step("lista-cs").cls.requires == frozenset({"matrix", "basis"})
    assert registry.step("ista-net").cls.requires == frozenset({"matrix", "patch"})
    for name in ("lista", "glista", "alista", "liht", "lamp", "lista-cpss"):  # they read Φ (W = Φᵀ/L, ...)
        assert registry.step(name).cls.requires == frozenset({"matrix"})
    assert registry.step("ista").cls.requires == frozenset(), "ista works through the operator"


@pytest.mark.parametrize("step, needs", [("lista-cs", "basis"), ("ista-net", "patch")])
def test_steps_fail_clearly_on_a_problem_without_what_they_need(step: str, needs: str) -> None:
    problem, _ = problem_of("lasso")
    with pytest.raises(ProblemMismatchError, match=f"step '{step}'.*(basis|image patches).*kind 'lasso'"):
        network(problem, step)
    assert small_problem_config(step).kind == "cs"  # the suite picks the image kind for them


def test_alista_fails_clearly_on_inpainting() -> None:
    problem, _ = problem_of("inpainting", m=8, n=16)
    with pytest.raises(ProblemMismatchError, match=r"alista.*zero columns"):
        network(problem, "alista")


@pytest.mark.parametrize("kind", ["cs", "inpainting"])
@pytest.mark.parametrize("step", ["lista-cs", "ista-net"])
def test_image_steps_run_on_image_kinds(kind: str, step: str) -> None:
    problem, cfg = problem_of(kind, m=8, n=16)
    out = network(problem, step, layers=2)(measurements(problem, cfg))
    assert out.shape == (6, 16) and bool(torch.isfinite(out).all())


# -- tied / untied -------------------------------------------------------------------------------

def expected_count(step: str, m: int, n: int, layers: int, tied: bool) -> int:
    w = n * m * (1 if tied else layers)
    per_layer = {"lista-cs": 1, "liht": 1, "lamp": 1, "lista-cpss": 1, "glista": 2 + n, "alista": 2}
    if step == "ista-net":
        c, k = 32, 3
        return layers * (2 + k * k * (c + c * c + c * c + c))
    return (0 if step == "alista" else w) + layers * per_layer[step]


@pytest.mark.parametrize("step", ZOO)
def test_tied_and_untied_parameter_counts(step: str) -> None:
    cfg = small_problem_config(step)
    problem = build_problem(cfg).to(F64)
    tied, untied = network(problem, step, layers=3, tied=True), network(problem, step, layers=3, tied=False)
    assert count_learnable(tied) == expected_count(step, cfg.m, cfg.n, 3, True)
    assert count_learnable(untied) == expected_count(step, cfg.m, cfg.n, 3, False)
    for name in tied.layers[0].tieable:
        assert getattr(tied.layers[0], name) is getattr(tied.layers[2], name)
        assert getattr(untied.layers[0], name) is not getattr(untied.layers[2], name)


def test_every_builtin_step_is_registered_and_documented_in_its_docstrings() -> None:
    registry = get_registry()
    names = {cls.name for cls in BUILTIN_STEPS}
    assert set(ZOO) | {"ista", "lista"} | MATRIX_FREE == names
    for cls in BUILTIN_STEPS:
        assert registry.step(cls.name).cls is cls
        module_doc = __import__(cls.__module__, fromlist=["_"]).__doc__ or ""
        assert cls.summary() and module_doc.strip(), f"{cls.name}: missing summary or module docstring"
        for field, info in cls.Options.model_fields.items():
            assert info.description, f"{cls.name}: option '{field}' has no description"
