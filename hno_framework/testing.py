"""The consistency suite every (step, integrator) pair must pass; importable by plugin authors.

Each ``check_*`` function builds small networks through the registry (so it exercises the
real entry-point path) and raises ``AssertionError`` with a clear message on failure. Run the
whole suite on your own component with one line::

    from hno_framework.testing import run_consistency_suite
    run_consistency_suite(step="my-step")          # against every registered integrator
    run_consistency_suite(integrator="my-scheme")  # against every registered step

or parametrize pytest over :func:`registered_pairs` and :data:`PAIR_CHECKS` (see ``tests/``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .composer import compose_network
from .config import ComponentSpec, NetworkConfig, ProblemConfig
from .network import UnrolledNetwork
from .problems import PROBLEM_KINDS, build_problem, make_sampler
from .registry import Registry, get_registry
from .step import ForwardContext

SMALL_M, SMALL_N = 8, 16  # n = 16 is a 4×4 patch for image problem kinds


@dataclass(frozen=True)
class Case:
    """One (step, integrator) pair with options, as the suite builds it."""

    step: str
    integrator: str
    step_options: dict[str, Any] = field(default_factory=dict)
    integrator_options: dict[str, Any] = field(default_factory=dict)
    layers: int = 4
    tied: bool = True

    def __str__(self) -> str:
        return f"{self.step}+{self.integrator}"


def small_problem_config(step: str, registry: Registry | None = None, seed: int = 0) -> ProblemConfig:
    """The first problem kind (``lasso`` first) whose small instance satisfies the step's needs."""
    cls = (registry or get_registry()).step(step).cls
    errors = []
    for kind in sorted(PROBLEM_KINDS, key=lambda k: (k != "lasso", k)):
        cfg = ProblemConfig(kind=kind, m=SMALL_M, n=SMALL_N, lam=0.1, sparsity=0.25, seed=seed)
        try:
            cls.check_problem(build_problem(cfg))
            return cfg
        except Exception as exc:  # noqa: BLE001 - try the next kind
            errors.append(f"{kind}: {exc}")
    raise AssertionError(f"no problem kind fits step '{step}': " + "; ".join(errors))


def build_case(case: Case, *, seed: int = 0, dtype: torch.dtype = torch.float64, registry: Registry | None = None,
               integrator_options: dict[str, Any] | None = None, integrator: str | None = None) -> UnrolledNetwork:
    """A small network for ``case`` (optionally with another integrator / options), seeded and in ``dtype``."""
    registry = registry or get_registry()
    torch.manual_seed(seed)
    problem = build_problem(small_problem_config(case.step, registry))
    net_cfg = NetworkConfig(
        step=ComponentSpec(name=case.step, options=case.step_options),
        integrator=ComponentSpec(
            name=integrator or case.integrator,
            options=case.integrator_options if integrator_options is None else integrator_options,
        ),
        layers=case.layers,
        tied=case.tied,
    )
    return compose_network(problem, net_cfg, registry).to(dtype)


def sample_measurements(net: UnrolledNetwork, case: Case, batch: int, seed: int, registry: Registry | None = None) -> Tensor:
    """``y`` ``(batch, m)`` drawn from the problem's own sampler, in the network's dtype."""
    cfg = small_problem_config(case.step, registry)
    g = torch.Generator().manual_seed(seed)
    return make_sampler(net.problem, cfg).sample(batch, g).y.to(net.problem.phi.dtype)


def perturb_(net: UnrolledNetwork, seed: int, scale: float = 0.05) -> None:
    """Add seeded noise to every floating parameter (so round-trip tests are not trivially at init)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.is_floating_point():
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _close(a: Tensor, b: Tensor, what: str, case: Case, atol: float = 1e-9, rtol: float = 1e-7) -> None:
    if not torch.allclose(a, b, atol=atol, rtol=rtol):
        err = (a - b).abs().max().item()
        raise AssertionError(f"{case}: {what} (max abs difference {err:.3g})")


# -- the checks ----------------------------------------------------------------------------------

def check_shape_and_dtype(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """forward(y) is (batch, n) and the trajectory (batch, T+1, n), finite, in float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        net = build_case(case, seed=seed, dtype=dtype, registry=registry)
        y = sample_measurements(net, case, batch, seed, registry)
        x = net(y)
        assert x.shape == (batch, net.problem.n), f"{case}: output shape {tuple(x.shape)} != {(batch, net.problem.n)}"
        assert x.dtype == dtype, f"{case}: output dtype {x.dtype} != {dtype}"
        assert torch.isfinite(x).all(), f"{case}: non-finite output in {dtype}"
        traj = net.trajectory(y)
        assert traj.shape == (batch, case.layers + 1, net.problem.n), f"{case}: trajectory shape {tuple(traj.shape)}"
        _close(traj[:, -1], x, "last trajectory state differs from forward()", case, atol=1e-5)


def check_batch_independence(case: Case, *, batch: int = 4, seed: int = 0, registry: Registry | None = None) -> None:
    """Each sample's estimate does not depend on the other samples in the batch."""
    net = build_case(case, seed=seed, registry=registry)
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        whole = net(y)
        for i in range(batch):
            _close(net(y[i : i + 1])[0], whole[i], f"sample {i} changes when run alone", case)


def check_determinism(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """Same seed -> same parameters; same input -> same output."""
    a, b = build_case(case, seed=seed, registry=registry), build_case(case, seed=seed, registry=registry)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        _close(va.double(), vb.double(), f"parameter '{k}' differs between two builds with seed {seed}", case, atol=0)
    y = sample_measurements(a, case, batch, seed, registry)
    with torch.no_grad():
        _close(a(y), a(y), "two forward passes differ", case, atol=0, rtol=0)
        _close(a(y), b(y), "two identically seeded networks differ", case, atol=0, rtol=0)


def check_gradients(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """The loss on x_T (plus auxiliary losses) gives a finite gradient to every learnable parameter."""
    net = build_case(case, seed=seed, registry=registry)
    if not any(p.requires_grad for p in net.parameters()):
        return  # nothing to learn (e.g. ISTA with Euler)
    perturb_(net, seed, scale=0.01)
    y = sample_measurements(net, case, batch, seed, registry)
    out = net.unroll(y)
    (out.estimate.pow(2).sum() + out.aux_loss).backward()
    missing = [n for n, p in net.named_parameters() if p.requires_grad and p.numel() and p.grad is None]
    assert not missing, f"{case}: no gradient reaches {missing}"
    bad = [n for n, p in net.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"{case}: non-finite gradient in {bad}"


def check_state_dict_round_trip(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """state_dict -> torch.save -> torch.load(weights_only=True) -> a fresh network gives equal outputs."""
    src = build_case(case, seed=seed, registry=registry)
    perturb_(src, seed + 1)
    buffer = io.BytesIO()
    torch.save(src.state_dict(), buffer)
    buffer.seek(0)
    dst = build_case(case, seed=seed + 7, registry=registry)
    dst.load_state_dict(torch.load(buffer, weights_only=True))
    y = sample_measurements(src, case, batch, seed, registry)
    with torch.no_grad():
        _close(dst(y), src(y), "outputs differ after a state_dict round trip", case)


def check_fixed_point(case: Case, *, batch: int = 2, seed: int = 0, registry: Registry | None = None) -> None:
    """A consistent integrator maps a constant history at a fixed point of G to itself.

    The field of each layer is shifted, ``f̃(x) = f(x) − f(x*)``, so a random ``x*`` is a fixed
    point of ``G̃ = f̃ + I`` while the step's own nonlinearity is kept.
    """
    net = build_case(case, seed=seed, registry=registry)
    if not net.integrator.metadata.consistent:
        return
    from .integrator import History

    y = sample_measurements(net, case, batch, seed, registry)
    g = torch.Generator().manual_seed(seed)
    x_star = torch.randn(batch, net.problem.n, generator=g, dtype=y.dtype)
    with torch.no_grad():
        for t, layer in enumerate(net.layers):
            ctx = ForwardContext(y=y)
            f_star = layer.f(x_star, ctx)

            def field(z: Tensor, _layer=layer, _ctx=ctx, _f=f_star) -> Tensor:
                return _layer.f(z, _ctx) - _f

            history = History(net.integrator.metadata.past_states)
            for _ in range(history.depth):
                history.push(x_star, field(x_star))
            _close(net.integrator.advance(t, history, field), x_star, f"layer {t} moves a fixed point", case, atol=1e-8)


PAIR_CHECKS: dict[str, Callable[..., None]] = {
    "shape_and_dtype": check_shape_and_dtype,
    "batch_independence": check_batch_independence,
    "determinism": check_determinism,
    "gradients": check_gradients,
    "state_dict_round_trip": check_state_dict_round_trip,
    "fixed_point": check_fixed_point,
}


def check_euler_is_plain_dun(step: str, *, layers: int = 4, batch: int = 3, seed: int = 0,
                             registry: Registry | None = None) -> None:
    """With ``euler`` (h = 1) the network equals iterating the step: ``x_{t+1} = G_t(x_t)``."""
    case = Case(step, "euler", layers=layers)
    net = build_case(case, seed=seed, registry=registry, integrator_options={"h": 1.0})
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        ctx = ForwardContext(y=y)
        x = y.new_zeros(batch, net.problem.n)
        for layer in net.layers:
            x = layer(x, ctx)
        _close(net(y), x, "euler(h=1) differs from iterating the step", case)


def check_2no_reduces_to_euler(step: str, *, layers: int = 4, batch: int = 3, seed: int = 0,
                               registry: Registry | None = None) -> None:
    """``2no`` with α = 1, β = 0 equals ``euler`` with h = 1 (seed eq. 11 -> eq. 8)."""
    case = Case(step, "2no", layers=layers)
    two = build_case(case, seed=seed, registry=registry, integrator_options={"alpha_init": 1.0, "beta_init": 0.0})
    eul = build_case(case, seed=seed, registry=registry, integrator="euler", integrator_options={})
    y = sample_measurements(two, case, batch, seed, registry)
    with torch.no_grad():
        _close(two(y), eul(y), "2no(α=1, β=0) differs from euler", case)


STEP_CHECKS: dict[str, Callable[..., None]] = {
    "euler_is_plain_dun": check_euler_is_plain_dun,
    "2no_reduces_to_euler": check_2no_reduces_to_euler,
}


# Checks of one integrator on its own (e.g. the numerical order on a linear ODE): name -> check(integrator, ...).
INTEGRATOR_CHECKS: dict[str, Callable[..., None]] = {}


def registered_pairs(registry: Registry | None = None) -> list[Case]:
    """Every (step, integrator) pair in the registry with default options."""
    registry = registry or get_registry()
    return [Case(s, i) for s in registry.names("step") for i in registry.names("integrator")]


def run_consistency_suite(step: str | None = None, integrator: str | None = None, *,
                          registry: Registry | None = None, seeds: Iterable[int] = (0, 1),
                          step_options: dict[str, Any] | None = None,
                          integrator_options: dict[str, Any] | None = None,
                          partners: Iterable[str] | None = None) -> int:
    """Run every check on the pairs involving ``step`` and/or ``integrator`` (all pairs if neither).

    ``step_options`` / ``integrator_options`` configure the component under test in the pair
    checks (the step- and integrator-only checks use default options); ``partners`` restricts
    the other side of each pair to these names (e.g. ``partners=["euler", "2no"]``), so a
    plugin's tests do not depend on everything else that happens to be installed.
    Returns the number of checks run; raises ``AssertionError`` on the first failure.
    """
    registry = registry or get_registry()
    allowed = set(partners) if partners is not None else None
    cases = []
    for c in registered_pairs(registry):
        if (step is not None and c.step != step) or (integrator is not None and c.integrator != integrator):
            continue
        if allowed is not None and (step is None) != (integrator is None):
            if (c.integrator if step is not None else c.step) not in allowed:
                continue
        cases.append(Case(c.step, c.integrator, step_options or {}, integrator_options or {}))
    if not cases:
        raise AssertionError(f"no registered pair matches step={step!r}, integrator={integrator!r}, partners={partners!r}")
    count = 0
    for seed in seeds:
        for case in cases:
            for check in PAIR_CHECKS.values():
                check(case, seed=seed, registry=registry)
                count += 1
        for name in sorted({c.step for c in cases}):
            for check in STEP_CHECKS.values():
                check(name, seed=seed, registry=registry)
                count += 1
        for name in sorted({c.integrator for c in cases}):
            for check in INTEGRATOR_CHECKS.values():
                check(name, seed=seed, registry=registry)
                count += 1
    return count


# -- numerical order on a linear test ODE ------------------------------------------------------

ORDER_TEST_MATRIX = ((-0.5, 1.0), (-1.0, -0.5))
"""``A`` of the test ODE ``dx/dt = A x``: rotation plus damping (eigenvalues −0.5 ± i)."""
ORDER_TEST_TIME = 2.0
ORDER_TEST_STEPS = (10, 20, 40, 80)
"""Step counts N over [0, ORDER_TEST_TIME], i.e. h = 0.2, 0.1, 0.05, 0.025."""
ORDER_TOLERANCE = 0.3


def measure_order(integrator_name: str, options: dict[str, Any] | None = None, *, exact_startup: bool = True,
                  seed: int = 0, registry: Registry | None = None,
                  steps: Iterable[int] = ORDER_TEST_STEPS) -> tuple[float, list[float], list[float]]:
    """Integrate ``dx/dt = A x`` (:data:`ORDER_TEST_MATRIX`, float64) to :data:`ORDER_TEST_TIME` with
    each step count N in ``steps`` (h = time / N) and return ``(slope, hs, errors)``, the least-squares
    slope of log(global error) against log(h).

    The integrator comes from the registry with ``options`` plus ``{"h": h}`` (its options model
    must have ``h``) and ``num_layers = N``; its :meth:`advance` is driven as the network does
    (push ``(x_t, field(x_t))``, then advance). With ``exact_startup`` an r-step scheme
    (``past_states`` r) is given the exact ``x_0..x_{r−1}`` and advanced from layer r − 1; otherwise
    it starts from ``x_0`` with its own start-up rule, exactly as in an unrolled network.
    """
    import math

    from .composer import validate_options
    from .integrator import History, IntegratorLayout

    registry = registry or get_registry()
    info = registry.integrator(integrator_name)
    if "h" not in info.cls.Options.model_fields:
        raise AssertionError(f"integrator '{integrator_name}' has no option 'h'; its order cannot be measured")
    A = torch.tensor(ORDER_TEST_MATRIX, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.tensor([[1.0, 0.0], [0.3, -0.8]], dtype=torch.float64)
    x0 = x0 + 0.1 * torch.rand(x0.shape, generator=g, dtype=torch.float64)

    def field(x: Tensor) -> Tensor:
        return x @ A.T

    def exact(time: float) -> Tensor:
        return x0 @ torch.linalg.matrix_exp(time * A).T

    hs, errors = [], []
    previous_dtype = torch.get_default_dtype()
    for n_steps in steps:
        h = ORDER_TEST_TIME / n_steps
        opts = validate_options(info, {**(options or {}), "h": h})
        torch.set_default_dtype(torch.float64)  # so that h and coefficients are built in float64
        try:
            integrator = info.cls(opts, IntegratorLayout(num_layers=n_steps)).to(torch.float64)
        finally:
            torch.set_default_dtype(previous_dtype)
        r = integrator.metadata.past_states
        history = History(r)
        x = x0
        with torch.no_grad():
            for t in range(n_steps):
                if exact_startup and t < r:
                    x = exact(t * h)
                history.push(x, field(x))
                if not exact_startup or t >= r - 1:
                    x = integrator.advance(t, history, field)
        hs.append(h)
        errors.append((x - exact(ORDER_TEST_TIME)).norm().item())
    usable = [(h, e) for h, e in zip(hs, errors) if e > 1e-11]
    if len(usable) < 3:
        raise AssertionError(f"'{integrator_name}': global errors {errors} are at round-off level; cannot fit an order")
    log_h = torch.tensor([math.log(h) for h, _ in usable], dtype=torch.float64)
    log_e = torch.tensor([math.log(e) for _, e in usable], dtype=torch.float64)
    centred = log_h - log_h.mean()
    slope = float((centred * (log_e - log_e.mean())).sum() / (centred * centred).sum())
    return slope, hs, errors


def check_numerical_order(integrator_name: str, *, seed: int = 0, registry: Registry | None = None) -> None:
    """The measured convergence order on ``dx/dt = A x`` equals the declared ``metadata.order`` ± 0.3.

    Applies to integrators that, with default options, are not learnable and have a step size
    option ``h``; others are skipped (learnable coefficients have no fixed order, and without
    ``h`` the step cannot be refined). Multistep schemes get exact starting values.
    """
    registry = registry or get_registry()
    cls = registry.integrator(integrator_name).cls
    metadata = cls.describe(cls.Options())
    if metadata.learnable or "h" not in cls.Options.model_fields:
        return
    slope, hs, errors = measure_order(integrator_name, seed=seed, registry=registry)
    table = ", ".join(f"h={h:.4g}: {e:.3e}" for h, e in zip(hs, errors))
    assert abs(slope - metadata.order) <= ORDER_TOLERANCE, (
        f"integrator '{integrator_name}' declares order {metadata.order} but its global error on dx/dt = Ax "
        f"falls with slope {slope:.2f} in h ({table})"
    )


INTEGRATOR_CHECKS["numerical_order"] = check_numerical_order
