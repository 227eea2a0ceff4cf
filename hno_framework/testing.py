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
from torch import Tensor, nn

from .composer import compose_network, validate_options
from .config import ComponentSpec, NetworkConfig, ProblemConfig
from .contract import ContractViolation, first_line, guarded
from .errors import HNOError
from .network import UnrolledNetwork
from .problems import build_problem, make_sampler
from .problems.base import SignalBatch
from .registry import Registry, get_registry
from .step import ForwardContext, UnfoldingStep

SMALL_M, SMALL_N = 8, 16  # the matrix kinds' small instance (ProblemKind.small_config): n = 16 is a 4×4 patch

Scope = Literal["pair", "step", "integrator", "problem", "suite"]


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
    if scope == "suite":
        return f"{len(subject)} pairs ({', '.join(map(str, subject[:3]))}{', ...' if len(subject) > 3 else ''})"
    return f"{scope} '{subject}'{_options_text(options or {})}"


PAIR_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(case, *, batch, seed, registry)``."""
STEP_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(step, *, options, layers, batch, seed, registry)``."""
INTEGRATOR_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(integrator, *, options, seed, registry)``."""
PROBLEM_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(kind, *, options, seed, registry)``: the operator of a problem kind's small instance."""
SUITE_CHECKS: dict[str, Callable[..., None]] = {}
"""``name -> check(cases, *, seed, registry)``: checks run once over all selected pairs (e.g. in fresh processes)."""
_TABLES: dict[Scope, dict[str, Callable[..., None]]] = {"pair": PAIR_CHECKS, "step": STEP_CHECKS, "integrator": INTEGRATOR_CHECKS,
                                                        "problem": PROBLEM_CHECKS, "suite": SUITE_CHECKS}


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


def sample_signals(net: UnrolledNetwork, case: Case, batch: int, seed: int, registry: Registry | None = None) -> SignalBatch:
    """``(x*, y)`` drawn from the problem's own sampler (as :func:`sample_measurements`), in the network's dtype."""
    cfg = small_problem_config(case.step, registry, kind=case.problem)
    g = torch.Generator().manual_seed(seed)
    data = make_sampler(net.problem, cfg, registry).sample(batch, g)
    return SignalBatch(data.x.to(net.problem.dtype), data.y.to(net.problem.dtype))


def declared_behaviour(case: Case, registry: Registry | None = None) -> frozenset[str]:
    """What the pair's step and integrator declare in ``behaviour`` (see :data:`~hno_framework.behaviour.BEHAVIOURS`)."""
    registry = registry or get_registry()
    step, scheme = registry.step(case.step).cls, registry.integrator(case.integrator).cls
    return frozenset(getattr(step, "behaviour", ())) | frozenset(getattr(scheme, "behaviour", ()))


def _comparable(net: UnrolledNetwork, behaviour: frozenset[str], *also: str) -> UnrolledNetwork:
    """Put ``net`` in eval mode when the pair declares ``stochastic`` (or one of ``also``): comparisons of two
    outputs then run where the components must be deterministic."""
    if {"stochastic", *also} & behaviour:
        net.eval()
    return net


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
    behaviour = declared_behaviour(case, registry)
    for dtype in (torch.float32, torch.float64):
        net = _comparable(build_case(case, seed=seed, dtype=dtype, registry=registry), behaviour)
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
    """Each sample's estimate does not depend on the other samples in the batch: a permuted batch gives the
    permuted outputs, each half of the batch run alone and each sample run alone give their rows of the whole
    batch's output (in eval mode when the pair declares ``stochastic`` or ``uses-batch-statistics``)."""
    net = build_case(case, seed=seed, registry=registry)
    perturb_(net, seed)
    _comparable(net, declared_behaviour(case, registry), "uses-batch-statistics")
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        whole = net(y)
        if batch > 1:
            perm = torch.randperm(batch, generator=torch.Generator().manual_seed(seed))
            if bool((perm == torch.arange(batch)).all()):
                perm = perm.roll(1)
            _rows_close(net(y[perm]), whole[perm], f"permuting the batch (order {perm.tolist()}) changes the outputs",
                        index=perm.tolist())
            k = batch // 2
            halves = torch.cat([net(y[:k]), net(y[k:])])
            _rows_close(halves, whole, f"running the batch in two halves (samples 0..{k - 1} and {k}..{batch - 1}) "
                        "changes the outputs")
        for i in range(batch):
            _close(net(y[i : i + 1])[0], whole[i], f"sample {i} changes when run alone")


def _rows_close(a: Tensor, b: Tensor, what: str, index: list[int] | None = None, atol: float = 1e-9,
                rtol: float = 1e-7) -> None:
    """Like :func:`_close`, naming the first sample (row of ``b``, or ``index[row]``) that differs."""
    if torch.allclose(a, b, atol=atol, rtol=rtol):
        return
    diff = (a - b).abs().flatten(1).amax(1)
    row = int(torch.nonzero(~torch.isclose(a, b, atol=atol, rtol=rtol).flatten(1).all(1))[0])
    sample = index[row] if index is not None else row
    raise AssertionError(f"{what}: sample {sample} differs (max abs difference {float(diff[row]):.3g}); a sample's "
                         "output must not depend on the rest of its batch (no batch means, norms or statistics), or "
                         "declare behaviour 'uses-batch-statistics'")


@consistency_check("pair")
def check_determinism(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """Same seed -> same state_dict (same keys, equal values); same input -> same output."""
    a, b = build_case(case, seed=seed, registry=registry), build_case(case, seed=seed, registry=registry)
    sa, sb = a.state_dict(), b.state_dict()
    only_a, only_b = sorted(sa.keys() - sb.keys()), sorted(sb.keys() - sa.keys())
    assert not only_a and not only_b, f"two builds with seed {seed} have different state_dict keys: {only_a} vs {only_b}"
    for k, va in sa.items():
        _close(va.double(), sb[k].double(), f"parameter '{k}' differs between two builds with seed {seed}", atol=0)
    behaviour = declared_behaviour(case, registry)
    if "nondeterministic" in behaviour:
        return
    _comparable(a, behaviour), _comparable(b, behaviour)
    y = sample_measurements(a, case, batch, seed, registry)
    with torch.no_grad():
        _close(a(y), a(y), "two forward passes differ", atol=0, rtol=0)
        _close(a(y), b(y), "two identically seeded networks differ", atol=0, rtol=0)


GRADIENT_STEPS = 3
"""Adam steps of the short training run in which every learnable parameter must receive a gradient."""
GRADIENT_BATCH = 8
"""Smallest batch of each step of that run (a fresh draw per step)."""


@consistency_check("pair")
def check_gradients(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """In a short training run (:data:`GRADIENT_STEPS` Adam steps on ‖x_T − x*‖² plus auxiliary losses, each on a
    fresh draw of at least :data:`GRADIENT_BATCH` pairs (x*, y) from the problem's sampler) every learnable parameter gets finite gradients, and each gets a non-zero gradient
    in at least one step (unless the pair declares ``unused-parameters``)."""
    net = build_case(case, seed=seed, registry=registry)
    params = [(n, p) for n, p in net.named_parameters() if p.requires_grad and p.numel()]
    if not params:
        return  # nothing to learn (e.g. ISTA with Euler)
    strict = "unused-parameters" not in declared_behaviour(case, registry)
    perturb_(net, seed, scale=0.01)
    optimizer = torch.optim.Adam([p for _, p in params], lr=1e-2)
    moved: set[str] = set()
    for step in range(GRADIENT_STEPS):
        # a fresh batch per step, of at least GRADIENT_BATCH samples: one sparse sample can be thresholded to zero
        data = sample_signals(net, case, max(batch, GRADIENT_BATCH), seed + step, registry)
        optimizer.zero_grad(set_to_none=True)
        out = net.unroll(data.y)
        ((out.estimate - data.x).pow(2).sum() + out.aux_loss).backward()
        missing = [n for n, p in params if p.grad is None]
        assert not (strict and missing), f"no gradient reaches {missing}"
        bad = [n for n, p in params if p.grad is not None and not torch.isfinite(p.grad).all()]
        assert not bad, f"non-finite gradient in {bad} at training step {step}"
        moved |= {n for n, p in params if p.grad is not None and bool(p.grad.ne(0).any())}
        optimizer.step()
    zero = [n for n, _ in params if n not in moved]
    assert not (strict and zero), (
        f"{zero} get a zero gradient in each of {GRADIENT_STEPS} training steps: they never learn; use them in "
        "forward/advance, make them buffers, or declare behaviour 'unused-parameters'")


@consistency_check("pair")
def check_state_dict_round_trip(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """state_dict -> torch.save -> torch.load(weights_only=True) -> a fresh network (built with another seed) gives
    equal outputs; when it does not, the failure names the state the state_dict misses (a plain tensor or number
    attribute, or a buffer registered with ``persistent=False``, that differs between the two networks)."""
    behaviour = declared_behaviour(case, registry)
    src = build_case(case, seed=seed, registry=registry)
    perturb_(src, seed + 1)
    buffer = io.BytesIO()
    torch.save(src.state_dict(), buffer)
    buffer.seek(0)
    dst = build_case(case, seed=seed + 7, registry=registry)
    dst.load_state_dict(torch.load(buffer, weights_only=True))
    if "nondeterministic" in behaviour:
        return
    _comparable(src, behaviour), _comparable(dst, behaviour)
    y = sample_measurements(src, case, batch, seed, registry)
    with torch.no_grad():
        a, b = dst(y), src(y)
    if not torch.allclose(a, b, atol=1e-9, rtol=1e-7):
        causes = state_outside_state_dict(src, dst)
        where = ("; the state_dict misses " + "; ".join(causes)) if causes else ""
        raise AssertionError(f"outputs differ after a state_dict round trip (max abs difference "
                             f"{float((a - b).abs().max()):.3g}){where}")


def _differs(a: Tensor, b: Tensor) -> bool:
    if a.shape != b.shape or a.device.type == "meta" or b.device.type == "meta":
        return a.shape != b.shape
    return not bool(torch.equal(a.detach().double(), b.detach().double()))


def state_outside_state_dict(src: nn.Module, dst: nn.Module) -> list[str]:
    """What differs between two modules of one architecture outside their state_dicts: plain tensor and number
    attributes and non-persistent buffers, each named with its module path and the fix."""
    causes: list[str] = []
    others = dict(dst.named_modules())
    for path, module in src.named_modules():
        other = others.get(path)
        if other is None:
            continue
        where = f"module '{path}' ({type(module).__name__})" if path else "the network"
        for name in sorted(getattr(module, "_non_persistent_buffers_set", ())):
            a, b = module._buffers.get(name), other._buffers.get(name)
            if a is not None and b is not None and _differs(a, b):
                causes.append(f"buffer '{name}' of {where}: registered with persistent=False, so the state_dict "
                              "omits it (register it as a persistent buffer)")
        theirs = vars(other)
        for name, value in vars(module).items():
            twin = theirs.get(name)
            if isinstance(value, Tensor) and not isinstance(value, nn.Parameter) and isinstance(twin, Tensor):
                if _differs(value, twin):
                    causes.append(f"attribute '{name}' of {where}: a plain tensor, not in the state_dict "
                                  "(register it with register_buffer, or as a parameter)")
            elif (isinstance(value, (int, float)) and not isinstance(value, bool) and type(twin) is type(value)
                  and value != twin):
                causes.append(f"attribute '{name}' of {where}: a plain number ({value!r} here, {twin!r} in a fresh "
                              "network), not in the state_dict (keep it in a buffer)")
    return causes


@consistency_check("pair")
def check_fixed_point(case: Case, *, batch: int = 2, seed: int = 0, registry: Registry | None = None) -> None:
    """A consistent integrator maps a constant history at a fixed point of G to itself.

    The field of each layer is shifted, ``f̃(x) = f(x) − f(x*)``, so a random ``x*`` is a fixed
    point of ``G̃ = f̃ + I`` while the step's own nonlinearity is kept.
    """
    net = _comparable(build_case(case, seed=seed, registry=registry), declared_behaviour(case, registry))
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


@consistency_check("pair")
def check_depends_on_y(case: Case, *, batch: int = 2, seed: int = 0, registry: Registry | None = None) -> None:
    """The output depends on the measurements: two independent draws of ``y`` (as drawn, or scaled by 10 so that
    thresholds at initialisation do not zero everything) give different outputs (skipped when the pair declares
    ``ignores-measurements``)."""
    behaviour = declared_behaviour(case, registry)
    if "ignores-measurements" in behaviour:
        return
    net = _comparable(build_case(case, seed=seed, registry=registry), behaviour)
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    other = sample_measurements(net, case, batch, seed + 1, registry)
    with torch.no_grad():
        for scale in (1.0, 10.0):
            if not torch.allclose(net(scale * y), net(scale * other), atol=1e-12, rtol=1e-9):
                return
    raise AssertionError("the output is the same for two independent draws of the measurements y (also scaled by 10): "
                         "it does not depend on y; a step must read ctx.y (through the operator: "
                         "self.operator(ctx).adjoint(ctx.y - ...)), an integrator must use the field f, or declare "
                         "behaviour 'ignores-measurements'")


INPUT_SCALES = (1e-3, 1e-1, 1e1, 1e3)
"""Factors on the problem's typical measurements (its sampler's ``y``) over which the output must stay finite."""


@consistency_check("pair")
def check_finite_over_scales(case: Case, *, batch: int = 2, seed: int = 0, registry: Registry | None = None) -> None:
    """In float32 and eval mode (how a trained network is used), the output is finite for the measurements scaled by
    each factor of :data:`INPUT_SCALES` (1e-3 … 1e3 times the problem's typical scale), skipped when the pair declares
    ``bounded-input-range``."""
    if "bounded-input-range" in declared_behaviour(case, registry):
        return
    net = build_case(case, seed=seed, dtype=torch.float32, registry=registry).eval()
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        bad = [scale for scale in INPUT_SCALES if not bool(torch.isfinite(net(scale * y)).all())]
    assert not bad, (
        f"non-finite output (NaN or inf) for measurements scaled by {', '.join(f'{s:g}' for s in bad)} × the "
        "problem's typical scale (float32): guard divisions (clamp_min), exponentials and powers of the input, or "
        "declare behaviour 'bounded-input-range'")


@consistency_check("pair")
def check_eval_matches_train(case: Case, *, batch: int = 3, seed: int = 0, registry: Registry | None = None) -> None:
    """Eval mode (what ``hno eval`` and the test tables use) gives the output of train mode (skipped when the pair
    declares ``stochastic`` or ``uses-batch-statistics``)."""
    if {"stochastic", "uses-batch-statistics"} & declared_behaviour(case, registry):
        return
    net = build_case(case, seed=seed, registry=registry)
    perturb_(net, seed)
    y = sample_measurements(net, case, batch, seed, registry)
    with torch.no_grad():
        trained = net.train()(y)
        evaluated = net.eval()(y)
    _close(evaluated, trained, "eval mode gives another output than train mode: a component branches on "
           "self.training (or uses dropout / batch norm); make both modes compute the same, or declare behaviour "
           "'stochastic' or 'uses-batch-statistics'")


# -- checks run once over all selected pairs --------------------------------------------------------------

PROCESS_TIMEOUT = 600.0
"""Seconds a fresh process of :func:`check_same_output_across_processes` may take."""


def _process_outputs() -> None:
    """Child side of :func:`check_same_output_across_processes`: read ``{"seed", "out", "cases"}`` from the JSON file
    named by ``sys.argv[1]``, build each case with the seed in the process-wide registry and save its output (or
    error) to ``out``."""
    import json
    import sys

    torch.set_num_threads(1)
    with open(sys.argv[1]) as f:
        request = json.load(f)
    results: dict[str, Any] = {}
    for fields in request["cases"]:
        case = Case(**fields)
        try:
            net = _comparable(build_case(case, seed=request["seed"]), declared_behaviour(case))
            with torch.no_grad():
                results[str(case)] = net(sample_measurements(net, case, 3, request["seed"]))
        except Exception as exc:  # noqa: BLE001 - reported by the parent, naming the pair
            results[str(case)] = first_line(exc)
    torch.save(results, request["out"])


@consistency_check("suite")
def check_same_output_across_processes(cases: list[Case], *, seed: int = 0, registry: Registry | None = None) -> None:
    """Two fresh Python processes (run side by side, each importing the installed plugins anew, with random hash
    seeds) build every pair with one seed and give bit-identical outputs (pairs that declare ``nondeterministic`` are
    left out, ``stochastic`` ones compared in eval mode). Catches state drawn at import or from unseeded generators
    (``random``, ``numpy``, ``hash()`` of strings), which two builds in one process share."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from dataclasses import asdict

    cases = [c for c in cases if "nondeterministic" not in declared_behaviour(c, registry)]
    if not cases:
        return
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["OMP_NUM_THREADS"] = "1"
    code = "from hno_framework.testing import _process_outputs; _process_outputs()"
    with tempfile.TemporaryDirectory(prefix="hno-check-") as tmp:
        outs = [os.path.join(tmp, f"run{i}.pt") for i in (0, 1)]
        request = os.path.join(tmp, "request.json")
        runs = []
        for out in outs:
            with open(request if out == outs[0] else request + "1", "w") as f:
                json.dump({"seed": seed, "out": out, "cases": [asdict(c) for c in cases]}, f)
            runs.append(subprocess.Popen([sys.executable, "-c", code, f.name], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, text=True))
        failures = []
        for run in runs:
            try:
                _, err = run.communicate(timeout=PROCESS_TIMEOUT)
            except subprocess.TimeoutExpired:
                run.kill()
                _, err = run.communicate()
            if run.returncode != 0:
                failures.append(f"exit status {run.returncode}: {(err or '').strip().splitlines()[-1:] or ''}")
        assert not failures, f"a fresh process failed: {failures[0]}"
        first, second = (torch.load(out, weights_only=True) for out in outs)
    for case in cases:
        a, b = first.get(str(case)), second.get(str(case))
        if isinstance(a, str) or isinstance(b, str):
            raise ConsistencyFailure(f"pair {case}", "same_output_across_processes",
                                     f"building it in a fresh process raised {a if isinstance(a, str) else b}")
        if a is None or b is None or not torch.equal(a, b):
            diff = "missing" if a is None or b is None else f"max abs difference {float((a - b).abs().max()):.3g}"
            raise ConsistencyFailure(
                f"pair {case}", "same_output_across_processes",
                f"two fresh processes with seed {seed} give different outputs ({diff}): state drawn at import or from "
                "an unseeded generator (random, numpy, hash() of strings, time); draw from torch's seeded RNG, or "
                "declare behaviour 'nondeterministic'")


# -- checks of a step (reductions to built-in partners: they run only when those partners are selected) --

@consistency_check("step", needs=("euler",))
def check_euler_is_plain_dun(step: str, *, options: dict[str, Any] | None = None, layers: int = 4, batch: int = 3,
                             seed: int = 0, registry: Registry | None = None) -> None:
    """With ``euler`` (h = 1) the network equals iterating the step: ``x_{t+1} = G_t(x_t)`` (seed eq. 7 = eq. 8)."""
    case = Case(step, "euler", options or {}, layers=layers)
    net = _comparable(build_case(case, seed=seed, registry=registry, integrator_options={"h": 1.0}),
                      declared_behaviour(case, registry))
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
    behaviour = declared_behaviour(case, registry) | declared_behaviour(Case(step, "euler"), registry)
    _comparable(two, behaviour), _comparable(eul, behaviour)
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
    """The pairs involving ``step`` and/or ``integrator``; with one of them given, ``partners`` restricts the other side
    (a partner that is not a registered component of that side is an
    :class:`~hno_framework.errors.UnknownComponentError`, with the closest name)."""
    from .errors import UnknownComponentError

    allowed = set(partners) if partners is not None else None
    if allowed is not None and (step is None) != (integrator is None):
        side: Literal["step", "integrator"] = "integrator" if step is not None else "step"
        for name in sorted(allowed - set(registry.names(side))):
            raise UnknownComponentError(f"partner {side}", name, registry.names(side), note=registry.trouble_note())
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


def _check_name(check: Callable[..., None]) -> str:
    return next(name for table in _TABLES.values() for name, c in table.items() if c is check)


def _suite_runs(registry: Registry, step: str | None, integrator: str | None, seeds: Iterable[int],
                step_options: dict[str, Any] | None, integrator_options: dict[str, Any] | None,
                partners: Iterable[str] | None, processes: bool) -> list[tuple[Callable[..., None], Any, dict[str, Any]]]:
    if step is not None and step_options:
        validate_options(registry.step(step), step_options)
    if integrator is not None and integrator_options:
        validate_options(registry.integrator(integrator), integrator_options)
    cases = select_cases(registry, step, integrator, partners, step_options, integrator_options)
    seeds = list(seeds)
    runs = [(check, subject, {**kwargs, "seed": seed}) for seed in seeds for check, subject, kwargs in plan(cases)]
    if processes:
        runs += [(check, cases, {"seed": seeds[0] if seeds else 0}) for check in SUITE_CHECKS.values()]
    return runs


def run_consistency_suite(step: str | None = None, integrator: str | None = None, *,
                          registry: Registry | None = None, seeds: Iterable[int] = (0, 1),
                          step_options: dict[str, Any] | None = None,
                          integrator_options: dict[str, Any] | None = None,
                          partners: Iterable[str] | None = None, processes: bool = False) -> int:
    """Run every check on the pairs involving ``step`` and/or ``integrator`` (all pairs if neither).

    ``step_options`` / ``integrator_options`` configure the component under test in every check
    (the declared order, for one, is measured with them); ``partners`` restricts the other side of
    each pair to these names (e.g. ``partners=["euler", "2no"]``), so a plugin's tests do not depend
    on everything else that happens to be installed; a step check that reduces to built-in
    integrators runs only when those are among the partners. ``processes`` also runs the checks of
    :data:`SUITE_CHECKS` once (same output in two fresh processes: a few seconds; the components must be
    installed, i.e. found through entry points). Returns the number of checks run;
    raises :class:`ConsistencyFailure` (an ``AssertionError``) on the first failure and
    :class:`~hno_framework.errors.ConfigError` for invalid options.
    """
    registry = registry or get_registry()
    runs = _suite_runs(registry, step, integrator, seeds, step_options, integrator_options, partners, processes)
    for check, subject, kwargs in runs:
        check(subject, registry=registry, **kwargs)
    return len(runs)


@dataclass(frozen=True)
class CheckResult:
    """One run of one check: ``check`` (its name), ``subject`` (pair or component), ``seed``, ``passed``, ``cause``."""

    check: str
    subject: str
    seed: int
    passed: bool
    cause: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "subject": self.subject, "seed": self.seed, "passed": self.passed, "cause": self.cause}


def collect_consistency_suite(step: str | None = None, integrator: str | None = None, *,
                              registry: Registry | None = None, seeds: Iterable[int] = (0,),
                              step_options: dict[str, Any] | None = None,
                              integrator_options: dict[str, Any] | None = None,
                              partners: Iterable[str] | None = None, processes: bool = True) -> list[CheckResult]:
    """Run the same checks as :func:`run_consistency_suite` without stopping at a failure; one
    :class:`CheckResult` per run (what ``hno check`` prints)."""
    registry = registry or get_registry()
    results = []
    for check, subject, kwargs in _suite_runs(registry, step, integrator, seeds, step_options, integrator_options,
                                              partners, processes):
        name, seed = _check_name(check), kwargs.get("seed", 0)
        scope = next(s for s, table in _TABLES.items() if table.get(name) is check)
        label = _subject(scope, subject, kwargs.get("options"))
        try:
            check(subject, registry=registry, **kwargs)
        except ConsistencyFailure as failure:
            results.append(CheckResult(name, failure.subject, seed, False, failure.cause))
        else:
            results.append(CheckResult(name, label, seed, True))
    return results


def components_of(target: str, registry: Registry | None = None) -> dict[str, list[str]]:
    """``{"step": [...], "integrator": [...], "problem": [...]}`` that ``target`` names: every component an installed
    distribution registers (its name, any spelling of ``-``/``_``/case), or one component by name (``NAME`` or
    ``DIST:NAME``). Raises :class:`~hno_framework.errors.UnknownComponentError` when it names neither."""
    from .errors import UnknownComponentError
    from .registry import _norm

    registry = registry or get_registry()
    kinds = ("step", "integrator", "problem")
    found: dict[str, list[str]] = {k: [] for k in kinds}
    for info in registry.components():
        if info.kind in kinds and _norm(info.provider.distribution) == _norm(target):
            plain = len(registry.components(info.kind, info.name)) == 1
            found[info.kind].append(info.name if plain else info.qualified_name)
    if not any(found.values()):
        for kind in kinds:
            try:
                registry.get(kind, target)  # type: ignore[arg-type]
            except UnknownComponentError:
                continue
            found[kind].append(target)
    if not any(found.values()):
        dists = sorted({p.provider.distribution for p in registry.plugins})
        known = [*dists, *(n for k in kinds for n in registry.names(k))]  # type: ignore[arg-type]
        raise UnknownComponentError("distribution or component", target, known, note=registry.trouble_note())
    return found


def check_components(target: str, *, registry: Registry | None = None, partners: Iterable[str] | None = None,
                     seeds: Iterable[int] = (0,), processes: bool = True) -> list[CheckResult]:
    """Every check on what ``target`` names (see :func:`components_of`): each step and integrator with every
    registered partner (or ``partners``), each problem kind's operator checks, and (``processes``) the same output in
    two fresh processes once over all those pairs; one :class:`CheckResult` per run, never stopping at a failure."""
    from .errors import UnknownComponentError

    registry = registry or get_registry()
    found = components_of(target, registry)
    seeds = list(seeds)
    sides = {"step": registry.names("integrator"), "integrator": registry.names("step")}  # the other side's names
    for name in partners or ():
        if name not in sides["step"] and name not in sides["integrator"]:
            raise UnknownComponentError("partner", name, [*sides["step"], *sides["integrator"]])
    results: list[CheckResult] = []
    cases: list[Case] = []
    for kind in ("step", "integrator"):
        # partners of the other side only; none named there: every registered one
        chosen = [p for p in partners or () if p in sides[kind]] or None
        for name in found[kind]:
            selection = {kind: name}
            results += collect_consistency_suite(registry=registry, seeds=seeds, partners=chosen, processes=False,
                                                 **selection)  # type: ignore[arg-type]
            cases += select_cases(registry, selection.get("step"), selection.get("integrator"), chosen)
    for kind in found["problem"]:
        for seed in seeds:
            for name, check in PROBLEM_CHECKS.items():
                try:
                    check(kind, seed=seed, registry=registry)
                except ConsistencyFailure as failure:
                    results.append(CheckResult(name, failure.subject, seed, False, failure.cause))
                else:
                    results.append(CheckResult(name, f"problem '{kind}'", seed, True))
    if processes and cases:
        unique = list({str(c): c for c in cases}.values())
        for name, check in SUITE_CHECKS.items():
            try:
                check(unique, seed=seeds[0] if seeds else 0, registry=registry)
            except ConsistencyFailure as failure:
                results.append(CheckResult(name, failure.subject, seeds[0] if seeds else 0, False, failure.cause))
            else:
                results.append(CheckResult(name, _subject("suite", unique, None), seeds[0] if seeds else 0, True))
    seen: set[tuple[str, str, int]] = set()
    return [r for r in results if (key := (r.check, r.subject, r.seed)) not in seen and not seen.add(key)]  # type: ignore[func-returns-value]


def assert_consistent(step: str | None = None, integrator: str | None = None, **kwargs: Any) -> list[CheckResult]:
    """For an author's own pytest suite: run every check (like ``hno check``, fresh processes included), and fail
    with one message listing every failed check with its subject and cause; returns the results otherwise."""
    results = collect_consistency_suite(step, integrator, **kwargs)
    failed = [r for r in results if not r.passed]
    if failed:
        lines = "\n".join(f"  {r.subject}: check '{r.check}' failed: {r.cause}" for r in failed)
        raise ConsistencyFailure(failed[0].subject, failed[0].check, f"{failed[0].cause}\n{len(failed)} of "
                                 f"{len(results)} checks failed:\n{lines}")
    return results


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

    The integrator comes from the registry with ``options`` and ``num_layers = N``, freshly built, so
    learnable coefficients are at their initial values. The step size h reaches it through its option ``h``
    when it has one; otherwise through the scheme's own coefficients, by scaling the vector field: the scheme
    at its coefficients is driven with ``h·field`` (for an explicit scheme whose step multiplies f, one step
    with ``h·f`` is one step of size h). Its :meth:`advance` is driven as the network does (push
    ``(x_t, field(x_t))``, then advance). With ``exact_startup`` an r-step scheme (``past_states``
    r) is given the exact ``x_0..x_{r−1}`` and advanced from layer r − 1; otherwise it starts from
    ``x_0`` with its own start-up rule, exactly as in an unrolled network.
    """
    from .integrator import History, IntegratorLayout

    registry = registry or get_registry()
    info = registry.integrator(integrator_name)
    has_h = "h" in info.cls.Options.model_fields
    x0 = ode.initial(torch.Generator().manual_seed(seed))
    hs, errors = [], []
    previous_dtype = torch.get_default_dtype()
    for n_steps in steps:
        h = ode.time / n_steps
        opts = validate_options(info, {**(options or {}), "h": h} if has_h else dict(options or {}))
        torch.set_default_dtype(torch.float64)  # so that h and coefficients are built in float64
        try:
            integrator = info.cls(opts, IntegratorLayout(num_layers=n_steps)).to(torch.float64)
        finally:
            torch.set_default_dtype(previous_dtype)

        def field(x: Tensor, _scale: float = 1.0 if has_h else h) -> Tensor:
            return _scale * ode.field(x)

        r = integrator.metadata.past_states
        history = History(r)
        x = x0
        with torch.no_grad():
            for t in range(n_steps):
                if exact_startup and t < r:
                    x = ode.exact(x0, t * h)
                history.push(x, field(x))
                if not exact_startup or t >= r - 1:
                    x = integrator.advance(t, history, field)
        hs.append(h)
        errors.append((x - ode.exact(x0, ode.time)).norm().item())
    usable = [(h, e) for h, e in zip(hs, errors, strict=True) if e > 1e-11]
    if len(usable) < 3:
        raise AssertionError(f"'{integrator_name}': global errors {errors} are at round-off level; cannot fit an order")
    return _least_squares_slope([h for h, _ in usable], [e for _, e in usable]), hs, errors


def order_options(integrator_name: str, options: dict[str, Any] | None = None,
                  registry: Registry | None = None) -> dict[str, Any]:
    """The options the declared order is measured with: ``options`` with the scheme's ``reference_options`` over
    them (the coefficients at which it declares its order, e.g. 2NO's α = 1, β = 0)."""
    info = (registry or get_registry()).integrator(integrator_name)
    return {**(options or {}), **dict(getattr(info.cls, "reference_options", {}) or {})}


@consistency_check("integrator")
def check_numerical_order(integrator_name: str, *, options: dict[str, Any] | None = None, seed: int = 0,
                          registry: Registry | None = None) -> None:
    """The convergence order measured on each ODE of :data:`ORDER_TEST_ODES` equals the declared
    ``metadata.order`` ± :data:`ORDER_TOLERANCE`, with the author's ``options`` (and the scheme's
    ``reference_options`` over them), for every integrator.

    Learnable schemes are measured at their initial coefficients. The step size is refined through
    the option ``h`` when the scheme has one, otherwise by scaling the vector field (see
    :func:`measure_order`). Multistep schemes get exact starting values.
    """
    registry = registry or get_registry()
    info = registry.integrator(integrator_name)
    options = order_options(integrator_name, options, registry)
    metadata = info.cls.describe(validate_options(info, options))
    where = " at its initial (reference) coefficients" if metadata.learnable else ""
    route = "" if "h" in info.cls.Options.model_fields else " (no option h: h·f through its own coefficients)"
    for ode in ORDER_TEST_ODES:
        slope, hs, errors = measure_order(integrator_name, options, seed=seed, registry=registry, ode=ode)
        table = ", ".join(f"h={h:.4g}: {e:.3e}" for h, e in zip(hs, errors, strict=True))
        assert abs(slope - metadata.order) <= ORDER_TOLERANCE, (
            f"integrator '{integrator_name}' declares order {metadata.order} but its global error on {ode.name} "
            f"falls with slope {slope:.2f} in h{where}{route} ({table})"
        )


EULER_REFERENCES = ("euler", "plain DUN")
"""Names of :meth:`~hno_framework.integrator.Integrator.reference_coefficients` entries that mean forward Euler, h = 1."""


@consistency_check("integrator")
def check_reduces_to_euler(integrator_name: str, *, options: dict[str, Any] | None = None, seed: int = 0,
                           registry: Registry | None = None, layers: int = 5) -> None:
    """A scheme that says it is forward Euler (h = 1) at initialisation computes Euler: when, freshly built with the
    author's options (and again with its ``reference_options`` over them), its ``inspect_coefficients()`` equal a
    ``reference_coefficients()`` entry named ``euler`` (or ``plain DUN``), every layer's ``advance`` gives
    ``x_t + f(x_t)`` on random histories and a random field."""
    from .integrator import History, IntegratorLayout

    registry = registry or get_registry()
    info = registry.integrator(integrator_name)
    tried = [dict(options or {})]
    if getattr(info.cls, "reference_options", None):
        tried.append(order_options(integrator_name, options, registry))
    g = torch.Generator().manual_seed(seed)
    matrix = torch.randn(3, 3, generator=g, dtype=torch.float64) / 3

    def field(x: Tensor) -> Tensor:
        return torch.tanh(x @ matrix.T) - 0.5 * x

    for opts in tried:
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            scheme = info.cls(validate_options(info, opts), IntegratorLayout(num_layers=layers)).to(torch.float64)
        finally:
            torch.set_default_dtype(previous)
        now = scheme.inspect_coefficients()
        claims = [k for k, ref in scheme.reference_coefficients().items() if k in EULER_REFERENCES and _same_table(now, ref)]
        if not claims:
            continue
        history = History(scheme.metadata.past_states)
        with torch.no_grad():
            for t in range(layers):
                x = torch.randn(2, 3, generator=g, dtype=torch.float64)
                history.push(x, field(x))
                out = scheme.advance(t, history, field)
                err = float((out - (x + field(x))).abs().max())
                assert err <= 1e-9, (
                    f"integrator '{integrator_name}'{_options_text(opts)} reports its '{claims[0]}' reference "
                    f"coefficients at initialisation, but layer {t} is not forward Euler x_t + f(x_t) (max abs "
                    f"difference {err:.3g}); fix advance, or its inspect_coefficients / reference_coefficients")


def _same_table(now: dict[str, Tensor], ref: dict[str, Tensor]) -> bool:
    """Every reference coefficient is present with the same values (NaN in the reference: not compared)."""
    for key, value in ref.items():
        mine = now.get(key)
        if mine is None or mine.shape != value.shape:
            return False
        value, mine = value.double(), mine.detach().double()
        known = ~value.isnan()
        if not torch.allclose(mine[known], value[known], atol=1e-12):
            return False
    return bool(ref)


__all__ = [
    "ADJOINT_TOLERANCE",
    "EULER_REFERENCES",
    "GRADIENT_STEPS",
    "INPUT_SCALES",
    "INTEGRATOR_CHECKS",
    "LINEAR_ODE",
    "ORDER_TEST_ODES",
    "ORDER_TOLERANCE",
    "PAIR_CHECKS",
    "PROBLEM_CHECKS",
    "STEP_CHECKS",
    "SUITE_CHECKS",
    "Case",
    "CheckResult",
    "ConsistencyFailure",
    "ContractViolation",
    "OrderODE",
    "assert_consistent",
    "build_case",
    "check_components",
    "collect_consistency_suite",
    "components_of",
    "consistency_check",
    "declared_behaviour",
    "image_kind_for",
    "measure_order",
    "order_options",
    "perturb_",
    "plan",
    "registered_pairs",
    "run_consistency_suite",
    "run_problem_checks",
    "sample_measurements",
    "sample_signals",
    "select_cases",
    "small_problem",
    "small_problem_config",
    "state_outside_state_dict",
]
