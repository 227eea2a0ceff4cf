"""The consistency suite catches what a careless plugin does.

A distribution of deliberately wrong components (``hno-bad-example``) is installed through a real
entry point (a fake dist-info on ``sys.path``, as in ``test_registry.py``); the suite, run the way
a plugin author runs it, must fail each one with a message naming the component, the check and
the cause.
"""

from __future__ import annotations

import pytest
import torch

from hno_framework.contract import ContractViolation, Snapshot, expect_like
from hno_framework.registry import Registry
from hno_framework.testing import Case, ConsistencyFailure, check_determinism, run_consistency_suite

BAD_COMPONENTS = '''
import torch
from pydantic import Field
from hno_framework import hookimpl, Integrator, IntegratorMetadata, Options, UnfoldingStep


def ista(step, x, ctx):
    """G(x) = η(x + Φᵀ(y − Φx)/L), one ISTA step with threshold λ/L."""
    p = step.problem
    z = x + p.adjoint(ctx.y - p.measure(x)) / p.lipschitz
    return torch.sign(z) * torch.relu(z.abs() - p.lam / p.lipschitz)


class InputMutating(UnfoldingStep):
    """ISTA that scales its input in place (x.mul_)."""
    name = "hno-test-bad-input-mutation"
    def forward(self, x, ctx):
        x.mul_(0.5)
        return ista(self, x, ctx)


class Downcast(UnfoldingStep):
    """ISTA computed in float32 whatever the input."""
    name = "hno-test-bad-downcast"
    def forward(self, x, ctx):
        return ista(self, x, ctx).float()


class Upcast(UnfoldingStep):
    """ISTA computed in float64 whatever the input."""
    name = "hno-test-bad-upcast"
    def forward(self, x, ctx):
        return ista(self, x, ctx).double()


class PlainTensorShift(UnfoldingStep):
    """ISTA plus a shift kept as a plain CPU tensor (not a buffer, so .to(device) misses it)."""
    name = "hno-test-bad-device"
    def __init__(self, problem, options, layer):
        super().__init__(problem, options, layer)
        self.shift = torch.zeros(problem.n, dtype=torch.float64)
    def forward(self, x, ctx):
        return ista(self, x, ctx) + self.shift.to(x.dtype)


class FreshOutput(UnfoldingStep):
    """Builds its output with torch.zeros (on the default device) and adds ISTA's shrinkage scale."""
    name = "hno-test-bad-device-output"
    def forward(self, x, ctx):
        return torch.zeros(x.shape, dtype=x.dtype) + 0.5


class WrongShape(UnfoldingStep):
    """ISTA with one extra coordinate appended at every layer."""
    name = "hno-test-bad-shape"
    def forward(self, x, ctx):
        g = ista(self, x, ctx)
        return torch.cat([g, g[:, :1]], dim=1)


class LearnableHOptions(Options):
    h: float = Field(1.0, gt=0.0)
    learnable_h: bool = Field(True)


class EulerClaimingTwo(Integrator):
    """Forward Euler x + h_t f(x) with learnable h_t, declaring order 2."""
    name = "hno-test-bad-order"
    Options = LearnableHOptions
    def __init__(self, options, layout):
        super().__init__(options, layout)
        self.register_coefficient("h", torch.full((layout.num_layers,), options.h), options.learnable_h)
    @classmethod
    def describe(cls, options):
        return IntegratorMetadata(family="one-step", order=2, learnable=options.learnable_h)
    def advance(self, t, history, field):
        return history.x(0) + self.h[t] * history.f(0)


class HistoryWriting(EulerClaimingTwo):
    """Forward Euler that writes x_{t+1} into history.x(0) in place."""
    name = "hno-test-bad-history-mutation"
    @classmethod
    def describe(cls, options):
        return IntegratorMetadata(family="one-step", order=1, learnable=options.learnable_h)
    def advance(self, t, history, field):
        x = history.x(0)
        x.add_(self.h[t] * history.f(0))
        return x


class ShapeLosing(HistoryWriting):
    """Forward Euler averaged over the batch: returns (n,) instead of (batch, n)."""
    name = "hno-test-bad-scheme-shape"
    def advance(self, t, history, field):
        return (history.x(0) + history.f(0)).mean(dim=0)


class UpcastingScheme(HistoryWriting):
    """Forward Euler with h as a float64 tensor that is not a buffer."""
    name = "hno-test-bad-scheme-upcast"
    def advance(self, t, history, field):
        return history.x(0) + torch.tensor(1.0, dtype=torch.float64).expand(1) * history.f(0)


@hookimpl
def register_steps(register):
    for cls in (InputMutating, Downcast, Upcast, PlainTensorShift, FreshOutput, WrongShape):
        register(cls)


@hookimpl
def register_integrators(register):
    for cls in (EulerClaimingTwo, HistoryWriting, ShapeLosing, UpcastingScheme):
        register(cls)
'''


@pytest.fixture
def bad_registry(make_plugin) -> Registry:
    make_plugin("hno-test-bad-example", BAD_COMPONENTS, version="0.0.1")
    registry = Registry(strict=True)
    assert not registry.broken
    return registry


def _failure(registry: Registry, **kwargs) -> ConsistencyFailure:
    with pytest.raises(ConsistencyFailure) as err:
        run_consistency_suite(registry=registry, seeds=(0,), **kwargs)
    return err.value


@pytest.mark.parametrize(
    "step, check, cause",
    [
        ("hno-test-bad-input-mutation", "no_in_place_mutation", r"step 'hno-test-bad-input-mutation' at layer 0 modified its input x in place"),
        ("hno-test-bad-downcast", "shape_and_dtype", r"step 'hno-test-bad-downcast' at layer 0: G\(x\) returned torch.float32 for a torch.float64 input \(downcast\)"),
        ("hno-test-bad-upcast", "shape_and_dtype", r"step 'hno-test-bad-upcast' at layer 0: G\(x\) returned torch.float64 for a torch.float32 input \(upcast\)"),
        ("hno-test-bad-device", "device", r"step 'hno-test-bad-device' at layer 0 raised RuntimeError: .*device"),
        ("hno-test-bad-device-output", "device", r"step 'hno-test-bad-device-output' at layer 0: G\(x\) returned a tensor on cpu for an input on meta"),
        ("hno-test-bad-shape", "shape_and_dtype", r"step 'hno-test-bad-shape' at layer 0: G\(x\) returned shape \(3, 17\), expected \(3, 16\)"),
    ],
)
def test_bad_steps_are_caught_naming_component_check_and_cause(bad_registry, step, check, cause) -> None:
    if check == "device" and torch.cuda.is_available():
        cause = cause.replace("meta", "cuda.*")
    failure = _failure(bad_registry, step=step, partners=["euler"])
    assert failure.check == check, str(failure)
    assert failure.subject == f"pair {step}+euler"
    assert f"pair {step}+euler: check '{check}' failed: " in str(failure)
    assert step in failure.cause
    import re

    assert re.search(cause, failure.cause), failure.cause


@pytest.mark.parametrize(
    "integrator, check, cause",
    [
        ("hno-test-bad-history-mutation", "no_in_place_mutation",
         r"integrator 'hno-test-bad-history-mutation' at layer 0 modified history.x\(0\) in place"),
        ("hno-test-bad-scheme-shape", "shape_and_dtype",
         r"integrator 'hno-test-bad-scheme-shape' at layer 0: x_\{t\+1\} returned shape \(16,\), expected \(3, 16\)"),
        ("hno-test-bad-scheme-upcast", "shape_and_dtype",
         r"integrator 'hno-test-bad-scheme-upcast' at layer 0: x_\{t\+1\} returned torch.float64 for a torch.float32 input \(upcast\)"),
        ("hno-test-bad-order", "numerical_order",
         (r"integrator 'hno-test-bad-order' declares order 2 but its global error on dx/dt = Ax falls with slope 1.0\d in h "
          r"at its initial \(reference\) coefficients")),
    ],
)
def test_bad_integrators_are_caught_naming_component_check_and_cause(bad_registry, integrator, check, cause) -> None:
    import re

    failure = _failure(bad_registry, integrator=integrator, partners=["ista"])
    assert failure.check == check, str(failure)
    assert integrator in failure.subject and integrator in failure.cause
    assert re.search(cause, failure.cause), failure.cause


def test_order_is_checked_with_the_options_the_author_passes(bad_registry) -> None:
    """Learnable h (the default) and fixed h are both measured at the initial h."""
    for options in ({}, {"learnable_h": False}, {"learnable_h": True, "h": 0.5}):
        failure = _failure(bad_registry, integrator="hno-test-bad-order", integrator_options=options, partners=["ista"])
        assert failure.check == "numerical_order"
        assert failure.subject.startswith("integrator 'hno-test-bad-order'")
        for key, value in options.items():
            assert f"{key}={value!r}" in failure.subject


def test_no_builtin_reduction_runs_without_its_partner(bad_registry) -> None:
    """partners=["hno-test-bad-order"]: only the pair and integrator checks of that pair; no euler / 2no reductions."""
    from hno_framework.testing import INTEGRATOR_CHECKS, PAIR_CHECKS, plan, select_cases

    runs = plan(select_cases(bad_registry, "ista", None, ["hno-test-bad-history-mutation"]))
    names = {getattr(check, "__name__", "") for check, _, _ in runs}
    assert not {"check_euler_is_plain_dun", "check_2no_reduces_to_euler"} & names
    # ista works through the operator: it is paired on a matrix problem and on an image problem
    assert len(runs) == 2 * len(PAIR_CHECKS) + len(INTEGRATOR_CHECKS)
    with_euler = plan(select_cases(bad_registry, "ista", None, ["euler"]))
    assert "check_euler_is_plain_dun" in {c.__name__ for c, _, _ in with_euler}
    assert "check_2no_reduces_to_euler" not in {c.__name__ for c, _, _ in with_euler}


def test_raw_torch_errors_name_the_pair_and_the_check(bad_registry) -> None:
    """A check outside the per-layer guard (batch independence) still names pair, check and the torch error."""
    from hno_framework.testing import PAIR_CHECKS

    with pytest.raises(ConsistencyFailure, match=r"pair hno-test-bad-shape\+euler: check 'batch_independence' failed: RuntimeError: "):
        PAIR_CHECKS["batch_independence"](Case("hno-test-bad-shape", "euler"), registry=bad_registry)


def test_determinism_compares_key_sets(make_plugin) -> None:
    make_plugin("hno-test-bad-keys-example", '''
import itertools, torch
from hno_framework import hookimpl, UnfoldingStep
COUNTER = itertools.count()

class ExtraBuffer(UnfoldingStep):
    """Identity step with a buffer whose name changes from build to build."""
    name = "hno-test-bad-keys"
    def __init__(self, problem, options, layer):
        super().__init__(problem, options, layer)
        self.register_buffer(f"b{next(COUNTER)}", torch.zeros(()))
    def forward(self, x, ctx):
        return x

@hookimpl
def register_steps(register):
    register(ExtraBuffer)
''')
    with pytest.raises(ConsistencyFailure, match="check 'determinism' failed: two builds with seed 0 have different state_dict keys"):
        check_determinism(Case("hno-test-bad-keys", "euler"), registry=Registry())


def test_snapshot_sees_writes_through_data() -> None:
    """``.data`` writes bypass the version counter; the before/after copy still sees them."""
    x = torch.zeros(2, 3)
    snap = Snapshot([("x", x)])
    x.data[0, 0] = 1.0
    assert snap.modified() == ["x"]
    nan = torch.full((2,), float("nan"))
    assert Snapshot([("nan", nan)]).modified() == []


def test_expect_like_reports_each_mismatch() -> None:
    ref = torch.zeros(2, 3, dtype=torch.float64)
    expect_like(ref.clone(), ref, "ok")
    with pytest.raises(ContractViolation, match=r"returned list"):
        expect_like([1.0], ref, "G")
    with pytest.raises(ContractViolation, match=r"shape \(3, 2\)"):
        expect_like(torch.zeros(3, 2, dtype=torch.float64), ref, "G")
    with pytest.raises(ContractViolation, match="downcast"):
        expect_like(torch.zeros(2, 3, dtype=torch.float32), ref, "G")
    with pytest.raises(ContractViolation, match="on meta"):
        expect_like(torch.zeros(2, 3, dtype=torch.float64, device="meta"), ref, "G")


def test_builtins_pass_the_new_checks() -> None:
    """The honest built-ins pass mutation, dtype and device checks (a sample: the full grid is test_consistency)."""
    from hno_framework.testing import PAIR_CHECKS

    for case in (Case("lista", "2no"), Case("lamp", "rk4"), Case("ista", "abm2")):
        for name in ("shape_and_dtype", "no_in_place_mutation", "device"):
            PAIR_CHECKS[name](case)
