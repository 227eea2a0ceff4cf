"""The behavioural checks of the consistency suite catch wrong behaviour that shapes and dtypes do not show.

A distribution of deliberately wrong components (``hno-test-bad-behaviour``) is installed through a real entry
point; each one fails its check with a message naming the component, the check and the cause, and an honest
component that declares its behaviour passes.
"""

from __future__ import annotations

import re

import pytest

from hno_framework.errors import PluginError
from hno_framework.registry import Registry
from hno_framework.testing import (
    INTEGRATOR_CHECKS,
    PAIR_CHECKS,
    SUITE_CHECKS,
    Case,
    ConsistencyFailure,
    assert_consistent,
    collect_consistency_suite,
)

BAD_BEHAVIOUR = '''
import random
import torch
from torch import nn
from hno_framework import hookimpl, Integrator, IntegratorMetadata, UnfoldingStep

_IMPORT_NOISE = random.SystemRandom().random()  # drawn once per process, from no seeded generator


def ista(step, x, ctx):
    """G(x) = η(x + Aᵀ(y − Ax)/L), one ISTA step with threshold λ/L."""
    p = step.operator(ctx)
    z = x + p.adjoint(ctx.y - p.measure(x)) / p.lipschitz
    return torch.sign(z) * torch.relu(z.abs() - p.lam / p.lipschitz)


class IgnoresY(UnfoldingStep):
    """Shrinks x towards 0; never reads the measurements."""
    name = "hno-test-bad-ignores-y"
    def forward(self, x, ctx):
        return 0.5 * x


class DeclaredPrior(IgnoresY):
    """The same step, declaring that it ignores the measurements."""
    name = "hno-test-declared-ignores-y"
    behaviour = frozenset({"ignores-measurements"})


class OverflowsWhenLarge(UnfoldingStep):
    """ISTA plus 0·exp(|G(x)|): finite at the typical scale, NaN once the input is large."""
    name = "hno-test-bad-overflow"
    def forward(self, x, ctx):
        g = ista(self, x, ctx)
        return g + 0.0 * torch.exp(g.abs())


class EvalOnlyScale(UnfoldingStep):
    """ISTA, scaled by 1.1 in eval mode only."""
    name = "hno-test-bad-eval-mode"
    def forward(self, x, ctx):
        g = ista(self, x, ctx)
        return g if self.training else 1.1 * g


class Dropout(UnfoldingStep):
    """ISTA with dropout in train mode, declared stochastic."""
    name = "hno-test-declared-stochastic"
    behaviour = frozenset({"stochastic"})
    def forward(self, x, ctx):
        return nn.functional.dropout(ista(self, x, ctx), 0.1, self.training)


class MixesNeighbours(UnfoldingStep):
    """ISTA plus 1 % of the previous sample's ISTA step (the batch rolled by one)."""
    name = "hno-test-bad-batch-mixing"
    def forward(self, x, ctx):
        g = ista(self, x, ctx)
        return g + 0.01 * g.roll(1, dims=0)


class PlainAttributeScale(UnfoldingStep):
    """ISTA scaled per entry by a random vector kept as a plain tensor attribute (not a buffer)."""
    name = "hno-test-bad-plain-attribute"
    def __init__(self, problem, options, layer):
        super().__init__(problem, options, layer)
        self.scale = 1.0 + 0.1 * torch.rand(problem.signal_shape, dtype=torch.float64)
    def forward(self, x, ctx):
        return ista(self, x, ctx) * self.scale.to(x)


class NonPersistentScale(UnfoldingStep):
    """ISTA scaled per entry by a random buffer registered with persistent=False."""
    name = "hno-test-bad-non-persistent"
    def __init__(self, problem, options, layer):
        super().__init__(problem, options, layer)
        self.register_buffer("scale", 1.0 + 0.1 * torch.rand(problem.signal_shape), persistent=False)
    def forward(self, x, ctx):
        return ista(self, x, ctx) * self.scale


class DeadGate(UnfoldingStep):
    """ISTA plus relu(gate − 1)·x with gate initialised at 0: the ReLU is dead, the gate never learns."""
    name = "hno-test-bad-dead-parameter"
    def __init__(self, problem, options, layer):
        super().__init__(problem, options, layer)
        self.gate = nn.Parameter(torch.zeros(()))
    def forward(self, x, ctx):
        return ista(self, x, ctx) + torch.relu(self.gate - 1.0) * x


class ImportNoise(UnfoldingStep):
    """ISTA shifted by a number drawn at import, from no seeded generator."""
    name = "hno-test-bad-import-noise"
    def forward(self, x, ctx):
        return ista(self, x, ctx) + 1e-3 * _IMPORT_NOISE


class HalfStep(Integrator):
    """x_{t+1} = x_t + f(x_t)/2 with no option h, declaring order 2: not even consistent."""
    name = "hno-test-bad-inconsistent"
    @classmethod
    def describe(cls, options):
        return IntegratorMetadata(family="one-step", order=2)
    def advance(self, t, history, field):
        return history.x(0) + 0.5 * history.f(0)


class NotEulerAtInit(Integrator):
    """2NO with a sign slip: reports α = 1, β = 0 (Euler) at init but applies β − 0.5."""
    name = "hno-test-bad-not-euler"
    def __init__(self, options, layout):
        super().__init__(options, layout)
        self.register_coefficient("alpha", torch.ones(layout.num_layers), True)
        self.register_coefficient("beta", torch.zeros(layout.num_layers), True)
    @classmethod
    def describe(cls, options):
        return IntegratorMetadata(family="multistep", past_states=2, order=1, learnable=True)
    def advance(self, t, history, field):
        if len(history) < 2:
            return history.x(0) + self.alpha[t] * history.f(0)
        b = self.beta[t] - 0.5
        return (1 - b) * history.x(0) + b * history.x(1) + self.alpha[t] * history.f(0)
    def reference_coefficients(self):
        T = self.layout.num_layers
        return {"euler": {"alpha": torch.ones(T), "beta": torch.zeros(T)}}


@hookimpl
def register_steps(register):
    for cls in (IgnoresY, DeclaredPrior, OverflowsWhenLarge, EvalOnlyScale, Dropout, MixesNeighbours,
                PlainAttributeScale, NonPersistentScale, DeadGate, ImportNoise):
        register(cls)


@hookimpl
def register_integrators(register):
    register(HalfStep)
    register(NotEulerAtInit)
'''


@pytest.fixture
def bad_registry(make_plugin) -> Registry:
    make_plugin("hno-test-bad-behaviour", BAD_BEHAVIOUR, version="0.0.1")
    registry = Registry(strict=True)
    assert not registry.broken
    return registry


def _failures(registry: Registry, **kwargs) -> dict[str, str]:
    """``check -> cause`` and ``subject:check -> subject`` of the first failure of each check."""
    out: dict[str, str] = {}
    for r in collect_consistency_suite(registry=registry, seeds=(0,), processes=False, **kwargs):
        if not r.passed and r.check not in out:
            out[r.check], out[f"subject:{r.check}"] = r.cause, r.subject
    return out


@pytest.mark.parametrize(
    "step, check, cause",
    [
        ("hno-test-bad-ignores-y", "depends_on_y", r"the output is the same for two independent draws of the measurements y"),
        ("hno-test-bad-overflow", "finite_over_scales", r"non-finite output \(NaN or inf\) for measurements scaled by 1000 ×"),
        ("hno-test-bad-eval-mode", "eval_matches_train", r"eval mode gives another output than train mode"),
        ("hno-test-bad-batch-mixing", "batch_independence", r"permuting the batch \(order \[.*\]\) changes the outputs: sample \d differs"),
        ("hno-test-bad-plain-attribute", "state_dict_round_trip",
         r"the state_dict misses attribute 'scale' of module 'layers\.0' \(PlainAttributeScale\): a plain tensor"),
        ("hno-test-bad-non-persistent", "state_dict_round_trip",
         r"buffer 'scale' of module 'layers\.0' \(NonPersistentScale\): registered with persistent=False"),
        ("hno-test-bad-dead-parameter", "gradients", r"\['layers\.\d\.gate'.*\] get a zero gradient in each of 3 training steps"),
    ],
)
def test_wrong_behaviour_of_a_step_is_caught(bad_registry, step, check, cause) -> None:
    failure = _failures(bad_registry, step=step, partners=["euler"])
    assert check in failure, f"{check} did not fail for {step}: {failure}"
    assert failure[f"subject:{check}"] == f"pair {step}+euler"
    assert re.search(cause, failure[check]), failure[check]
    with pytest.raises(ConsistencyFailure, match=rf"pair {step}\+euler: check '{check}' failed: "):
        PAIR_CHECKS[check](Case(step, "euler"), registry=bad_registry)


def test_an_inconsistent_scheme_without_h_fails_its_declared_order(bad_registry) -> None:
    with pytest.raises(ConsistencyFailure) as err:
        INTEGRATOR_CHECKS["numerical_order"]("hno-test-bad-inconsistent", registry=bad_registry)
    assert err.value.subject == "integrator 'hno-test-bad-inconsistent'" and err.value.check == "numerical_order"
    assert re.search(r"declares order 2 but its global error on dx/dt = Ax falls with slope -?0\.\d+ in h "
                     r"\(no option h: h·f through its own coefficients\)", err.value.cause), err.value.cause


def test_a_scheme_that_reports_euler_at_init_must_compute_euler(bad_registry) -> None:
    with pytest.raises(ConsistencyFailure) as err:
        INTEGRATOR_CHECKS["reduces_to_euler"]("hno-test-bad-not-euler", registry=bad_registry)
    assert err.value.check == "reduces_to_euler"
    assert re.search(r"integrator 'hno-test-bad-not-euler' reports its 'euler' reference coefficients at initialisation, but "
                     r"layer 1 is not forward Euler", err.value.cause), err.value.cause


@pytest.mark.processes
def test_state_drawn_at_import_differs_across_fresh_processes(bad_registry) -> None:
    """In-process determinism cannot see it; two fresh processes can."""
    PAIR_CHECKS["determinism"](Case("hno-test-bad-import-noise", "euler"), registry=bad_registry)
    with pytest.raises(ConsistencyFailure) as err:
        SUITE_CHECKS["same_output_across_processes"]([Case("ista", "euler"), Case("hno-test-bad-import-noise", "euler")],
                                                     registry=bad_registry)
    assert err.value.subject == "pair hno-test-bad-import-noise+euler", str(err.value)
    assert err.value.check == "same_output_across_processes"
    assert "two fresh processes with seed 0 give different outputs" in err.value.cause


def test_declared_behaviour_relaxes_only_its_checks(bad_registry) -> None:
    assert_consistent(step="hno-test-declared-ignores-y", partners=["euler"], registry=bad_registry, processes=False)
    assert_consistent(step="hno-test-declared-stochastic", partners=["euler", "2no"], registry=bad_registry, processes=False)


def test_assert_consistent_lists_every_failure(bad_registry) -> None:
    with pytest.raises(ConsistencyFailure, match=r"(?s)checks failed:.*pair hno-test-bad-ignores-y\+euler: check 'depends_on_y'"):
        assert_consistent(step="hno-test-bad-ignores-y", partners=["euler"], registry=bad_registry, processes=False)


def test_a_misspelt_declaration_is_refused_naming_the_known_ones(make_plugin) -> None:
    make_plugin("hno-test-bad-declaration", '''
from hno_framework import hookimpl, UnfoldingStep

class Typo(UnfoldingStep):
    """Identity."""
    name = "typo-step"
    behaviour = frozenset({"stocastic"})
    def forward(self, x, ctx):
        return x

@hookimpl
def register_steps(register):
    register(Typo)
''')
    registry = Registry(strict=False)
    (broken,) = [b for b in registry.broken if b.provider.distribution == "hno-test-bad-declaration"]
    assert "behaviour names unknown declaration 'stocastic' (did you mean 'stochastic'?)" in broken.error
    assert "known: bounded-input-range, ignores-measurements" in broken.error
    with pytest.raises(PluginError, match="must be a frozenset of names"):
        from hno_framework.registry import _check_behaviour

        _check_behaviour(type("X", (), {"behaviour": "stochastic"}), "x")
