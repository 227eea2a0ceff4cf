"""The consistency suite every (step, integrator) pair must pass; importable by plugin authors.

Each check is a small named function, registered by :func:`consistency_check` in one of three
tables: :data:`PAIR_CHECKS` (a :class:`Case`: step + integrator with options),
:data:`STEP_CHECKS` (a step with its options) and :data:`INTEGRATOR_CHECKS` (an integrator with
its options). Checks build small networks through the registry (so they exercise the real
entry-point path). Any failure, an assertion or an exception torch raises, comes out as a
:class:`ConsistencyFailure` naming the pair or component (with options), the check and the
cause. Run the whole suite on your own component with one line::

    from hno_framework.testing import run_consistency_suite
    run_consistency_suite(step="my-step")          # against every registered integrator
    run_consistency_suite(integrator="my-scheme")  # against every registered step

or parametrize pytest over :func:`registered_pairs` and the tables (see ``tests/``).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import torch
from torch import Tensor

from .composer import compose_network, validate_options
from .config import ComponentSpec, NetworkConfig, ProblemConfig
from .contract import ContractViolation, first_line, guarded
from .errors import HNOError
from .network import UnrolledNetwork
from .problems import build_problem, make_sampler
from .registry import Registry, get_registry
from .step import ForwardContext, UnfoldingStep

SMALL_M, SMALL_N = 8, 16  # the matrix kinds' small instance (ProblemKind.small_config): n = 16 is a 4×4 patch

Scope = Literal["pair", "step", "integrator", "problem"]


def _options_text(options: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in options.items()) + ")" if options else ""


@dataclass(frozen=True)
class Case:
    """One (step, integrator) pair with options, as the suite builds it."""

    step: str
    integrator: str
    step_options: dict[str, Any] = field(default_factory=dict)
    integrator_options: dict[str, Any] = field(default_factory=dict)
    layers: int = 4
    tied: bool = True
    problem: str | None = None
    """The problem kind to build the pair on; None: the first kind whose small instance fits the step."""

    def __str__(self) -> str:
        on = f"@{self.problem}" if self.problem else ""
        return f"{self.step}{_options_text(self.step_options)}+{self.integrator}{_options_text(self.integrator_options)}{on}"


class ConsistencyFailure(AssertionError):
    """A check failed: ``subject`` (pair or component with options), ``check`` (its name) and ``cause``."""

    def __init__(self, subject: str, check: str, cause: str) -> None:
        self.subject, self.check, self.cause = subject, check, cause
        super().__init__(f"{subject}: check '{check}' failed: {cause}")


def _subject(scope: Scope, subject: Any, options: dict[str, Any] | None) -> str:
    if scope == "pair":
        return f"pair {subject}"
    return f"{scope} '{subject}'{_options_text(options or {})}"


PAIR_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(case, *, batch, seed, registry)``."""
STEP_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(step, *, options, layers, batch, seed, registry)``."""
INTEGRATOR_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(integrator, *, options, seed, registry)``."""
PROBLEM_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(kind, *, options, seed, registry)``: the operator of a problem kind's small instance."""
_TABLES: dict[Scope, dict[str, Callable[..., None]]] = {"pair": PAIR_CHECKS, "step": STEP_CHECKS, "integrator": INTEGRATOR_CHECKS,
                                                        "problem": PROBLEM_CHECKS}


def consistency_check(scope: Scope, name: str | None = None, *, needs: Iterable[str] = ()) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a check in the table of ``scope`` under ``name`` (default: the function name without ``check_``).

    ``needs`` names the partner integrators a step check runs with (e.g. ``("euler",)``): the
    suite runs it only when those are among the selected partners. The registered function
    turns every failure into a :class:`ConsistencyFailure`: an ``AssertionError`` keeps its
    message as the cause, any other exception (a raw torch ``RuntimeError``, say) is named by
    type and first line. :class:`~hno_framework.errors.HNOError` (invalid options) passes through.
    """

    def register(check: Callable[..., None]) -> Callable[..., None]:
        check_name = name or check.__name__.removeprefix("check_")

        @functools.wraps(check)
        def run(subject: Any, /, **kwargs: Any) -> None:
            try:
                check(subject, **kwargs)
            except (ConsistencyFailure, HNOError):
                raise
            except AssertionError as exc:
                raise ConsistencyFailure(_subject(scope, subject, kwargs.get("options")), check_name, str(exc)) from exc
            except Exception as exc:
                raise ConsistencyFailure(_subject(scope, subject, kwargs.get("options")), check_name, first_line(exc)) from exc

        run.needs = tuple(needs)  # type: ignore[attr-defined]
        _TABLES[scope][check_name] = run
        return run

    return register


# -- building small networks ----------------------------------------------------------------------

def small_problem(kind: str, registry: Registry | None = None, seed: int = 0,
                  options: dict[str, Any] | None = None) -> ProblemConfig:
    """The small instance of problem ``kind`` (its ``ProblemKind.small_config``, ``options`` merged over its own)."""
    registry = registry or get_registry()
    info = registry.get("problem", kind)
    block = info.cls.small_config()
    merged = {**block.get("options", {}), **(options or {})}
    return ProblemConfig.model_validate({**block, "kind": kind, "seed": seed, "options": merged})


def small_problem_config(step: str, registry: Registry | None = None, seed: int = 0, kind: str | None = None,
                         *, matrix_free: bool | None = None) -> ProblemConfig:
    """The small instance of problem ``kind``, or the first registered kind (``lasso`` first; with
    ``matrix_free``, only kinds with or without a matrix) whose small instance (``ProblemKind.small_config``)
    satisfies the step's needs."""
    registry = registry or get_registry()
    if kind is not None:
        return small_problem(kind, registry, seed)
    cls = registry.step(step).cls
    errors = []
    kinds = sorted(registry.components("problem"), key=lambda i: (i.name != "lasso", i.cls.matrix_free, i.name))
    for info in kinds:
        if matrix_free is not None and bool(info.cls.matrix_free) != matrix_free:
            continue
        kind = info.name if len(registry.components("problem", info.name)) == 1 else info.qualified_name
        try:
            cfg = small_problem(kind, registry, seed)
            cls.check_problem(build_problem(cfg, registry))
            return cfg
        except Exception as exc:  # noqa: BLE001 - try the next kind
            errors.append(f"{kind}: {exc}")
    raise AssertionError(f"no {'matrix-free ' if matrix_free else ''}problem kind fits step '{step}': " + "; ".join(errors))


def build_case(case: Case, *, seed: int = 0, dtype: torch.dtype = torch.float64, registry: Registry | None = None,
               integrator_options: dict[str, Any] | None = None, integrator: str | None = None) -> UnrolledNetwork:
    """A small network for ``case`` (optionally with another integrator / options), seeded and in ``dtype``
    (random initial weights come from torch's RNG seeded with ``seed`` inside ``fork_rng``: the caller's
    global RNG state is left as it was)."""
    registry = registry or get_registry()
    problem = build_problem(small_problem_config(case.step, registry, kind=case.problem), registry)
    net_cfg = NetworkConfig(
        step=ComponentSpec(name=case.step, options=case.step_options),
        integrator=ComponentSpec(
            name=integrator or case.integrator,
            options=case.integrator_options if integrator_options is None else integrator_options,
        ),
        layers=case.layers,
        tied=case.tied,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = compose_network(problem, net_cfg, registry)
    return net.to(dtype)


def sample_measurements(net: UnrolledNetwork, case: Case, batch: int, seed: int, registry: Registry | None = None) -> Tensor:
    """``y`` ``(batch, m)`` drawn from the problem's own sampler, in the network's dtype."""
    cfg = small_problem_config(case.step, registry, kind=case.problem)
    g = torch.Generator().manual_seed(seed)
    return make_sampler(net.problem, cfg, registry).sample(batch, g).y.to(net.problem.dtype)


def perturb_(net: UnrolledNetwork, seed: int, scale: float = 0.05) -> None:
    """Add seeded noise to every floating parameter (so round-trip tests are not trivially at init)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.is_floating_point():
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _close(a: Tensor, b: Tensor, what: str, atol: float = 1e-9, rtol: float = 1e-7) -> None:
    if not torch.allclose(a, b, atol=atol, rtol=rtol):
        err = (a - b).abs().max().item()
        raise AssertionError(f"{what} (max abs difference {err:.3g})")


def _guarded(net: UnrolledNetwork, case: Case, mutation: bool = False):
    return guarded(net, step=case.step, integrator=case.integrator, mutation=mutation)


def suite_device() -> torch.device:
    """Where the device check runs: CUDA when available, else PyTorch's ``meta`` device (shapes, dtypes
    and devices without data, so a tensor created on the CPU inside a component still shows up)."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("meta")


# -- checks of a pair -------------------------------------------------------------------------------

@consistency_check("pair")
def check_shape_and_dtype(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """In float32 and float64: every step output ``G_t(x)`` and every integrator output ``x_{t+1}`` has the
    shape ``(batch, n)`` and dtype of its input; forward(y) is (batch, n), finite, and the trajectory
    (batch, T+1, n) ends in it."""
    for dtype in (torch.float32, torch.float64):
        net = build_case(case, seed=seed, dtype=dtype, registry=registry)
        y = sample_measurements(net, case, batch, seed, registry)
        with _guarded(net, case):
            x = net(y)
        want = (batch, *net.problem.signal_shape)
        assert x.shape == want, f"output shape {tuple(x.shape)} != {want}"
        assert x.dtype == dtype, f"output dtype {x.dtype} != {dtype}"
        assert torch.isfinite(x).all(), f"non-finite output in {dtype}"
        traj = net.trajectory(y)
        assert traj.shape == (batch, case.layers + 1, *net.problem.signal_shape), f"trajectory shape {tuple(traj.shape)}"
        _close(traj[:, -1], x, "last trajectory state differs from forward()", atol=1e-5)


@consistency_check("pair")
def check_no_in_place_mutation(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """Steps leave their input ``x`` and ``ctx.y`` unchanged; integrators leave every stored state and
    derivative of the history unchanged (tensor version counters and before/after copies)."""
    net = build_case(case, seed=seed, registry=registry)
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad(), _guarded(net, case, mutation=True):
        net.trajectory(y)


@consistency_check("pair")
def check_device(case: Case, *, batch: int = 2, seed: int = 0, registry: Registry | None = None) -> None:
    """Moved with ``.to(device)`` (:func:`suite_device`), every step and integrator output stays on that device."""
    device = suite_device()
    net = build_case(case, seed=seed, registry=registry)
    y = sample_measurements(net, case, batch, seed, registry).to(device)
    net = net.to(device)
    with torch.no_grad(), _guarded(net, case):
        x = net(y)
    assert x.device.type == device.type, f"output on {x.device}, expected {device}"


@consistency_check("pair")
def check_batch_independence(case: Case, *, batch: int = 4, seed: int = 0, registry: Registry | None = None) -> None:
    """Each sample's estimate does not depend on the other samples in the batch."""
    net = build_case(case, seed=seed, registry=registry)
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        whole = net(y)
        for i in range(batch):
            _close(net(y[i : i + 1])[0], whole[i], f"sample {i} changes when run alone")


@consistency_check("pair")
def check_determinism(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """Same seed -> same state_dict (same keys, equal values); same input -> same output."""
    a, b = build_case(case, seed=seed, registry=registry), build_case(case, seed=seed, registry=registry)
    sa, sb = a.state_dict(), b.state_dict()
    only_a, only_b = sorted(sa.keys() - sb.keys()), sorted(sb.keys() - sa.keys())
    assert not only_a and not only_b, f"two builds with seed {seed} have different state_dict keys: {only_a} vs {only_b}"
    for k, va in sa.items():
        _close(va.double(), sb[k].double(), f"parameter '{k}' differs between two builds with seed {seed}", atol=0)
    y = sample_measurements(a, case, batch, seed, registry)
    with torch.no_grad():
        _close(a(y), a(y), "two forward passes differ", atol=0, rtol=0)
        _close(a(y), b(y), "two identically seeded networks differ", atol=0, rtol=0)


@consistency_check("pair")
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
    assert not missing, f"no gradient reaches {missing}"
    bad = [n for n, p in net.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient in {bad}"


@consistency_check("pair")
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
        _close(dst(y), src(y), "outputs differ after a state_dict round trip")


@consistency_check("pair")
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
    first = cast(UnfoldingStep, net.layers[0])  # a state of several variables (e.g. hqs-cnn's (x, z))
    x_star = first.initial_state(torch.randn(batch, *net.problem.signal_shape, generator=g, dtype=y.dtype))
    with torch.no_grad():
        for t, module in enumerate(net.layers):
            layer = cast(UnfoldingStep, module)
            ctx = ForwardContext(y=y)
            f_star = layer.f(x_star, ctx)

            def shifted(z: Tensor, _layer: UnfoldingStep = layer, _ctx: ForwardContext = ctx, _f: Tensor = f_star) -> Tensor:
                return _layer.f(z, _ctx) - _f

            history = History(net.integrator.metadata.past_states)
            for _ in range(history.past_states):
                history.push(x_star.clone(), shifted(x_star))
            _close(net.integrator.advance(t, history, shifted), x_star, f"layer {t} moves a fixed point", atol=1e-8)


# -- checks of a step (reductions to built-in partners: they run only when those partners are selected) --

@consistency_check("step", needs=("euler",))
def check_euler_is_plain_dun(step: str, *, options: dict[str, Any] | None = None, layers: int = 4, batch: int = 3,
                             seed: int = 0, registry: Registry | None = None) -> None:
    """With ``euler`` (h = 1) the network equals iterating the step: ``x_{t+1} = G_t(x_t)`` (seed eq. 7 = eq. 8)."""
    case = Case(step, "euler", options or {}, layers=layers)
    net = build_case(case, seed=seed, registry=registry, integrator_options={"h": 1.0})
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        ctx = ForwardContext(y=y)
        first = cast(UnfoldingStep, net.layers[0])
        x = first.initial_state(y.new_zeros(batch, *net.problem.signal_shape))
        for layer in net.layers:
            x = layer(x, ctx)
        _close(net(y), first.estimate(x), "euler(h=1) differs from iterating the step")


@consistency_check("step", "2no_reduces_to_euler", needs=("2no", "euler"))
def check_2no_reduces_to_euler(step: str, *, options: dict[str, Any] | None = None, layers: int = 4, batch: int = 3,
                               seed: int = 0, registry: Registry | None = None) -> None:
    """``2no`` with α = 1, β = 0 equals ``euler`` with h = 1 (seed eq. 11 -> eq. 8)."""
    case = Case(step, "2no", options or {}, layers=layers)
    two = build_case(case, seed=seed, registry=registry, integrator_options={"alpha_init": 1.0, "beta_init": 0.0})
    eul = build_case(case, seed=seed, registry=registry, integrator="euler", integrator_options={})
    y = sample_measurements(two, case, batch, seed, registry)
    with torch.no_grad():
        _close(two(y), eul(y), "2no(α=1, β=0) differs from euler")


# -- checks of a problem kind ----------------------------------------------------------------------------

ADJOINT_TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}
"""Relative tolerance of ⟨A x, r⟩ = ⟨x, Aᵀ r⟩ and of linearity per dtype (float32 rounding of FFTs and sums)."""


def _small_instance(kind: str, options: dict[str, Any] | None, seed: int, registry: Registry | None,
                    dtype: torch.dtype = torch.float64) -> Any:
    from .problems import Problem

    problem = build_problem(small_problem(kind, registry, seed, options), registry)
    assert isinstance(problem, Problem), f"build() returned {type(problem).__name__}, not a Problem"
    return problem.to(dtype)


def _operator_inputs(problem: Any, batch: int, seed: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor | None]:
    """Random ``x`` ``(batch, *signal_shape)``, ``r`` ``(batch, *measurement_shape)`` and, for a problem with
    per-sample masks, a random 0/1 mask of the measurement's shape."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *problem.signal_shape, generator=g, dtype=torch.float64).to(dtype)
    r = torch.randn(batch, *problem.measurement_shape, generator=g, dtype=torch.float64).to(dtype)
    mask = None
    if problem.per_sample_mask:
        mask = (torch.rand(batch, *problem.measurement_shape, generator=g, dtype=torch.float64) < 0.5).to(dtype)
    return x, r, mask


def _relative(a: Tensor, b: Tensor) -> float:
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-30)
    return float((a - b).abs().max()) / scale


@consistency_check("problem")
def check_operator_shapes(kind: str, *, options: dict[str, Any] | None = None, seed: int = 0, batch: int = 2,
                          registry: Registry | None = None) -> None:
    """In float32 and float64: ``measure`` maps ``(batch, *signal_shape)`` to ``(batch, *measurement_shape)`` and
    ``adjoint`` back, each keeping the input's dtype, finite; the problem's own sampler draws ``x*`` and ``y`` of
    those shapes (NaN in y only where a per-sample mask hides an entry)."""
    for dtype in (torch.float32, torch.float64):
        problem = _small_instance(kind, options, seed, registry, dtype)
        x, r, mask = _operator_inputs(problem, batch, seed, dtype)
        ax, atr = problem.measure(x, mask), problem.adjoint(r, mask)
        want_y, want_x = (batch, *problem.measurement_shape), (batch, *problem.signal_shape)
        assert tuple(ax.shape) == want_y, f"measure gives {tuple(ax.shape)}, expected (batch, *measurement_shape) = {want_y}"
        assert tuple(atr.shape) == want_x, f"adjoint gives {tuple(atr.shape)}, expected (batch, *signal_shape) = {want_x}"
        assert ax.dtype == dtype and atr.dtype == dtype, f"measure/adjoint of {dtype} inputs give {ax.dtype}/{atr.dtype}"
        assert torch.isfinite(ax).all() and torch.isfinite(atr).all(), "measure or adjoint gives non-finite values"
        cfg = small_problem(kind, registry, seed, options)
        data = make_sampler(problem, cfg, registry).sample(batch, torch.Generator().manual_seed(seed))
        assert tuple(data.x.shape) == want_x, f"sampler x* has shape {tuple(data.x.shape)}, expected {want_x}"
        assert tuple(data.y.shape) == want_y, f"sampler y has shape {tuple(data.y.shape)}, expected {want_y}"
        assert torch.isfinite(data.x).all(), "sampler x* is not finite"
        if not problem.per_sample_mask:
            assert torch.isfinite(data.y).all(), "sampler y has NaN or inf, but the problem has no per-sample masks"


@consistency_check("problem")
def check_adjoint(kind: str, *, options: dict[str, Any] | None = None, seed: int = 0, batch: int = 2,
                  registry: Registry | None = None) -> None:
    """⟨A x, r⟩ = ⟨x, Aᵀ r⟩ per sample (real inner product over all entries; per-sample masks applied) to
    :data:`ADJOINT_TOLERANCE` relative to ‖A x‖·‖r‖, in float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        problem = _small_instance(kind, options, seed, registry, dtype)
        x, r, mask = _operator_inputs(problem, batch, seed, dtype)
        lhs = (problem.measure(x, mask).double() * r.double()).flatten(1).sum(1)
        rhs = (x.double() * problem.adjoint(r, mask).double()).flatten(1).sum(1)
        scale = (problem.measure(x, mask).double().flatten(1).norm(dim=1) * r.double().flatten(1).norm(dim=1)).clamp_min(1e-30)
        worst = float(((lhs - rhs).abs() / scale).max())
        assert worst <= ADJOINT_TOLERANCE[dtype], (
            f"adjoint is not the adjoint of measure in {dtype}: |⟨A x, r⟩ − ⟨x, Aᵀ r⟩| / (‖A x‖‖r‖) = {worst:.3g} "
            f"(tolerance {ADJOINT_TOLERANCE[dtype]:g}); complex data must use the real inner product")


@consistency_check("problem")
def check_linearity(kind: str, *, options: dict[str, Any] | None = None, seed: int = 0, batch: int = 2,
                    registry: Registry | None = None) -> None:
    """``A(a x + b z) = a A x + b A z`` and the same for ``Aᵀ`` (float64)."""
    problem = _small_instance(kind, options, seed, registry)
    x, r, mask = _operator_inputs(problem, batch, seed, torch.float64)
    z, q, _ = _operator_inputs(problem, batch, seed + 1, torch.float64)
    a, b = 1.7, -0.6
    err = _relative(problem.measure(a * x + b * z, mask), a * problem.measure(x, mask) + b * problem.measure(z, mask))
    assert err <= ADJOINT_TOLERANCE[torch.float64], f"measure is not linear (relative error {err:.3g})"
    err = _relative(problem.adjoint(a * r + b * q, mask), a * problem.adjoint(r, mask) + b * problem.adjoint(q, mask))
    assert err <= ADJOINT_TOLERANCE[torch.float64], f"adjoint is not linear (relative error {err:.3g})"


@consistency_check("problem")
def check_lipschitz(kind: str, *, options: dict[str, Any] | None = None, seed: int = 0,
                    registry: Registry | None = None) -> None:
    """``problem.lipschitz`` = ‖A‖₂² (float64): it agrees with a power iteration on AᵀA run here to 1e-4 relative,
    and bounds ‖A v‖² ≤ L ‖v‖² for random v."""
    problem = _small_instance(kind, options, seed, registry)
    g = torch.Generator().manual_seed(seed + 7)
    v = torch.randn(1, *problem.signal_shape, generator=g, dtype=torch.float64)
    estimate = 0.0
    for _ in range(2000):
        w = problem.adjoint(problem.measure(v))
        estimate, v = float((v * w).sum() / (v * v).sum()), w / w.norm().clamp_min(1e-300)
    L = problem.lipschitz
    assert abs(L - estimate) <= 1e-4 * max(estimate, 1e-12), f"lipschitz = {L:.6g}, but power iteration on AᵀA gives {estimate:.6g}"
    probes = torch.randn(8, *problem.signal_shape, generator=g, dtype=torch.float64)
    ratio = problem.measure(probes).flatten(1).pow(2).sum(1) / probes.flatten(1).pow(2).sum(1)
    assert float(ratio.max()) <= L * (1 + 1e-6), f"‖A v‖²/‖v‖² = {float(ratio.max()):.6g} exceeds lipschitz = {L:.6g}"


@consistency_check("problem")
def check_problem_device(kind: str, *, options: dict[str, Any] | None = None, seed: int = 0,
                         registry: Registry | None = None) -> None:
    """Moved with ``.to(device)`` (CUDA when available, else PyTorch's ``meta`` device), ``measure`` and ``adjoint``
    give tensors on that device: no tensor of the operator stays behind on the CPU."""
    device = suite_device()
    problem = _small_instance(kind, options, seed, registry, torch.float32)
    x, r, mask = _operator_inputs(problem, 2, seed, torch.float32)
    problem = problem.to(device)
    ax = problem.measure(x.to(device), None if mask is None else mask.to(device))
    atr = problem.adjoint(r.to(device), None if mask is None else mask.to(device))
    assert ax.device.type == device.type and atr.device.type == device.type, (
        f"on {device}, measure/adjoint give tensors on {ax.device}/{atr.device}: a tensor of the operator is not a "
        "registered buffer (register_buffer) so .to() does not move it")


def run_problem_checks(kind: str, *, options: dict[str, Any] | None = None, registry: Registry | None = None,
                       seeds: Iterable[int] = (0, 1)) -> int:
    """Run every problem check on the small instance of ``kind`` (with ``options`` over its own); returns the
    number of checks run, raises :class:`ConsistencyFailure` on the first failure."""
    count = 0
    for seed in seeds:
        for check in PROBLEM_CHECKS.values():
            check(kind, options=options, seed=seed, registry=registry)
            count += 1
    return count


# -- running the suite -------------------------------------------------------------------------------

def image_kind_for(step: str, registry: Registry | None = None) -> str | None:
    """The first matrix-free problem kind whose small instance the step accepts (None: the step needs a matrix,
    or no such kind is registered)."""
    registry = registry or get_registry()
    try:
        return small_problem_config(step, registry, matrix_free=True).kind
    except AssertionError:
        return None


def registered_pairs(registry: Registry | None = None) -> list[Case]:
    """Every (step, integrator) pair in the registry with default options, on the first problem kind that fits
    the step; a step that also works through a matrix-free operator is paired with every integrator once more
    on the first matrix-free kind it accepts (whole-image states ``(batch, C, H, W)``)."""
    registry = registry or get_registry()
    integrators = registry.names("integrator")
    cases = [Case(s, i) for s in registry.names("step") for i in integrators]
    for s in registry.names("step"):
        kind = image_kind_for(s, registry)
        if kind is not None:
            cases += [Case(s, i, problem=kind) for i in integrators]
    return cases


def select_cases(registry: Registry, step: str | None, integrator: str | None, partners: Iterable[str] | None,
                 step_options: dict[str, Any] | None = None, integrator_options: dict[str, Any] | None = None) -> list[Case]:
    """The pairs involving ``step`` and/or ``integrator``; with one of them given, ``partners`` restricts the other side."""
    allowed = set(partners) if partners is not None else None
    cases = []
    for c in registered_pairs(registry):
        if (step is not None and c.step != step) or (integrator is not None and c.integrator != integrator):
            continue
        partner = c.integrator if step is not None else c.step
        if allowed is not None and (step is None) != (integrator is None) and partner not in allowed:
            continue
        cases.append(Case(c.step, c.integrator, step_options or {}, integrator_options or {}, problem=c.problem))
    if not cases:
        raise AssertionError(f"no registered pair matches step={step!r}, integrator={integrator!r}, partners={partners!r}")
    return cases


Run = tuple[Callable[..., None], Any, dict[str, Any]]


def plan(cases: list[Case]) -> list[Run]:
    """Every (check, subject, keyword arguments) the suite runs for ``cases``: each pair check on each
    case, each step check on each step (when its ``needs`` are among the cases' integrators), each
    integrator check on each integrator, with the options of the component under test."""
    integrators = {c.integrator for c in cases}
    steps = {c.step: c.step_options for c in cases}
    schemes = {c.integrator: c.integrator_options for c in cases}
    runs: list[Run] = [(check, case, {}) for case in cases for check in PAIR_CHECKS.values()]
    runs += [(check, name, {"options": options}) for name, options in sorted(steps.items())
             for check in STEP_CHECKS.values() if set(getattr(check, "needs", ())) <= integrators]
    runs += [(check, name, {"options": options}) for name, options in sorted(schemes.items())
             for check in INTEGRATOR_CHECKS.values()]
    return runs


def run_consistency_suite(step: str | None = None, integrator: str | None = None, *,
                          registry: Registry | None = None, seeds: Iterable[int] = (0, 1),
                          step_options: dict[str, Any] | None = None,
                          integrator_options: dict[str, Any] | None = None,
                          partners: Iterable[str] | None = None) -> int:
    """Run every check on the pairs involving ``step`` and/or ``integrator`` (all pairs if neither).

    ``step_options`` / ``integrator_options`` configure the component under test in every check
    (the declared order, for one, is measured with them); ``partners`` restricts the other side of
    each pair to these names (e.g. ``partners=["euler", "2no"]``), so a plugin's tests do not depend
    on everything else that happens to be installed; a step check that reduces to built-in
    integrators runs only when those are among the partners. Returns the number of checks run;
    raises :class:`ConsistencyFailure` (an ``AssertionError``) on the first failure and
    :class:`~hno_framework.errors.ConfigError` for invalid options.
    """
    registry = registry or get_registry()
    if step is not None and step_options:
        validate_options(registry.step(step), step_options)
    if integrator is not None and integrator_options:
        validate_options(registry.integrator(integrator), integrator_options)
    runs = plan(select_cases(registry, step, integrator, partners, step_options, integrator_options))
    count = 0
    for seed in seeds:
        for check, subject, kwargs in runs:
            check(subject, seed=seed, registry=registry, **kwargs)
            count += 1
    return count


# -- numerical order on test ODEs ----------------------------------------------------------------------

@dataclass(frozen=True)
class OrderODE:
    """A test problem ``dx/dt = field(x)`` on ``[0, time]`` with a closed-form solution.

    ``initial(g)`` gives ``x_0`` ``(batch, d)`` in float64 from a seeded generator; ``exact(x0, t)``
    is ``x(t)``; ``name`` is how failures describe the ODE.
    """

    name: str
    field: Callable[[Tensor], Tensor]
    exact: Callable[[Tensor, float], Tensor]
    initial: Callable[[torch.Generator], Tensor]
    time: float = 2.0


ORDER_TEST_MATRIX = ((-0.5, 1.0), (-1.0, -0.5))
"""``A`` of the linear test ODE ``dx/dt = A x``: rotation plus damping (eigenvalues −0.5 ± i)."""
ORDER_TEST_TIME = 2.0
ORDER_TEST_STEPS = (10, 20, 40, 80)
"""Step counts N over [0, time], i.e. h = 0.2, 0.1, 0.05, 0.025 for time 2."""
ORDER_TOLERANCE = 0.3


def _linear_initial(g: torch.Generator) -> Tensor:
    x0 = torch.tensor([[1.0, 0.0], [0.3, -0.8]], dtype=torch.float64)
    return x0 + 0.1 * torch.rand(x0.shape, generator=g, dtype=torch.float64)


def _matrix() -> Tensor:
    return torch.tensor(ORDER_TEST_MATRIX, dtype=torch.float64)


LINEAR_ODE = OrderODE(
    name="dx/dt = Ax",
    field=lambda x: x @ _matrix().T,
    exact=lambda x0, t: x0 @ torch.linalg.matrix_exp(t * _matrix()).T,
    initial=_linear_initial,
    time=ORDER_TEST_TIME,
)

ORDER_TEST_ODES: tuple[OrderODE, ...] = (LINEAR_ODE,)
"""The ODEs :func:`check_numerical_order` measures on; add one :class:`OrderODE` here to check another."""


def _least_squares_slope(hs: list[float], errors: list[float]) -> float:
    log_h = torch.tensor([math.log(h) for h in hs], dtype=torch.float64)
    log_e = torch.tensor([math.log(e) for e in errors], dtype=torch.float64)
    centred = log_h - log_h.mean()
    return float((centred * (log_e - log_e.mean())).sum() / (centred * centred).sum())


def measure_order(integrator_name: str, options: dict[str, Any] | None = None, *, exact_startup: bool = True,
                  seed: int = 0, registry: Registry | None = None, steps: Iterable[int] = ORDER_TEST_STEPS,
                  ode: OrderODE = LINEAR_ODE) -> tuple[float, list[float], list[float]]:
    """Integrate ``ode`` (float64) to ``ode.time`` with each step count N in ``steps`` (h = time / N) and
    return ``(slope, hs, errors)``, the least-squares slope of log(global error) against log(h).

    The integrator comes from the registry with ``options`` plus ``{"h": h}`` (its options model
    must have ``h``) and ``num_layers = N``, freshly built, so learnable coefficients are at their
    initial (reference) values; its :meth:`advance` is driven as the network does (push
    ``(x_t, field(x_t))``, then advance). With ``exact_startup`` an r-step scheme (``past_states``
    r) is given the exact ``x_0..x_{r−1}`` and advanced from layer r − 1; otherwise it starts from
    ``x_0`` with its own start-up rule, exactly as in an unrolled network.
    """
    from .integrator import History, IntegratorLayout

    registry = registry or get_registry()
    info = registry.integrator(integrator_name)
    if "h" not in info.cls.Options.model_fields:
        raise AssertionError(f"integrator '{integrator_name}' has no option 'h'; its order cannot be measured")
    x0 = ode.initial(torch.Generator().manual_seed(seed))
    hs, errors = [], []
    previous_dtype = torch.get_default_dtype()
    for n_steps in steps:
        h = ode.time / n_steps
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
                    x = ode.exact(x0, t * h)
                history.push(x, ode.field(x))
                if not exact_startup or t >= r - 1:
                    x = integrator.advance(t, history, ode.field)
        hs.append(h)
        errors.append((x - ode.exact(x0, ode.time)).norm().item())
    usable = [(h, e) for h, e in zip(hs, errors, strict=True) if e > 1e-11]
    if len(usable) < 3:
        raise AssertionError(f"'{integrator_name}': global errors {errors} are at round-off level; cannot fit an order")
    return _least_squares_slope([h for h, _ in usable], [e for _, e in usable]), hs, errors


@consistency_check("integrator")
def check_numerical_order(integrator_name: str, *, options: dict[str, Any] | None = None, seed: int = 0,
                          registry: Registry | None = None) -> None:
    """The convergence order measured on each ODE of :data:`ORDER_TEST_ODES` equals the declared
    ``metadata.order`` ± :data:`ORDER_TOLERANCE`, with the author's ``options``.

    Learnable schemes are measured at their initial (reference) coefficients, where the declared
    order applies. Integrators without a step size option ``h`` are skipped (the step cannot be
    refined). Multistep schemes get exact starting values.
    """
    registry = registry or get_registry()
    info = registry.integrator(integrator_name)
    if "h" not in info.cls.Options.model_fields:
        return
    metadata = info.cls.describe(validate_options(info, options or {}))
    where = " at its initial (reference) coefficients" if metadata.learnable else ""
    for ode in ORDER_TEST_ODES:
        slope, hs, errors = measure_order(integrator_name, options, seed=seed, registry=registry, ode=ode)
        table = ", ".join(f"h={h:.4g}: {e:.3e}" for h, e in zip(hs, errors, strict=True))
        assert abs(slope - metadata.order) <= ORDER_TOLERANCE, (
            f"integrator '{integrator_name}' declares order {metadata.order} but its global error on {ode.name} "
            f"falls with slope {slope:.2f} in h{where} ({table})"
        )


__all__ = [
    "ADJOINT_TOLERANCE",
    "INTEGRATOR_CHECKS",
    "LINEAR_ODE",
    "ORDER_TEST_ODES",
    "ORDER_TOLERANCE",
    "PAIR_CHECKS",
    "PROBLEM_CHECKS",
    "STEP_CHECKS",
    "Case",
    "ConsistencyFailure",
    "ContractViolation",
    "OrderODE",
    "build_case",
    "consistency_check",
    "image_kind_for",
    "measure_order",
    "perturb_",
    "plan",
    "registered_pairs",
    "run_consistency_suite",
    "run_problem_checks",
    "sample_measurements",
    "select_cases",
    "small_problem",
    "small_problem_config",
]
