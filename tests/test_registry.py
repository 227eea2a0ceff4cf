"""The registry, exercised through real entry points of fake distributions (no mocks of our code)."""

from __future__ import annotations

import pytest

from hno_framework.errors import DuplicateComponentError, PluginError, UnknownComponentError
from hno_framework.registry import Registry
from hno_framework.testing import Case, check_batch_independence, check_fixed_point, run_consistency_suite

GOOD_STEP = '''
from hno_framework import hookimpl, UnfoldingStep

class Damped(UnfoldingStep):
    """Damped identity G(x) = x/2 + Φᵀy/(2L)."""
    name = "{name}"
    def forward(self, x, ctx):
        return 0.5 * x + 0.5 * self.problem.adjoint(ctx.y) / self.problem.lipschitz

@hookimpl
def register_steps(register):
    register(Damped)
'''

BROKEN_INTEGRATOR = '''
import torch
from hno_framework import hookimpl, Integrator, IntegratorMetadata

class Leaky(Integrator):
    """Inconsistent on purpose: x_{t+1} = 0.9 x_t + f(x_t) + (batch mean of x_t)."""
    name = "hno-test-leaky"
    @classmethod
    def describe(cls, options):
        return IntegratorMetadata(family="one-step")
    def advance(self, t, history, field):
        x = history.x(0)
        return 0.9 * x + history.f(0) + x.mean(dim=0, keepdim=True)

@hookimpl
def register_integrators(register):
    register(Leaky)
'''


def test_fake_plugin_is_discovered_with_its_distribution(make_plugin) -> None:
    make_plugin("hno-test-acme-dun", GOOD_STEP.format(name="hno-test-damped"), version="2.3")
    reg = Registry()
    info = reg.step("hno-test-damped")
    assert info.provider.distribution == "hno-test-acme-dun" and info.provider.version == "2.3"
    assert info.summary.startswith("Damped identity")
    assert {"ista", "lista"} <= set(reg.names("step")), "built-ins must still be registered"
    assert any(p.provider.distribution == "hno-test-acme-dun" and p.steps == ["hno-test-damped"] for p in reg.plugins)
    assert run_consistency_suite(step="hno-test-damped", registry=reg, seeds=(0,)) > 0


def test_broken_plugin_is_reported_and_does_not_break_others(make_plugin) -> None:
    make_plugin("hno-test-broken-dist", "import not_a_real_module_xyz\n", version="0.9")
    reg = Registry(strict=False)
    assert "lista" in reg.names("step")
    (broken,) = [b for b in reg.broken if b.provider.distribution == "hno-test-broken-dist"]
    assert broken.provider.version == "0.9"
    assert "ModuleNotFoundError" in broken.error and "not_a_real_module_xyz" in broken.error


def test_strict_mode_makes_broken_plugins_fatal(make_plugin, monkeypatch) -> None:
    make_plugin("hno-test-broken-dist", "raise RuntimeError('boom at import')\n")
    monkeypatch.setenv("HNO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"broken-dist.*boom at import"):
        Registry()


def test_duplicate_names_name_both_providers(make_plugin) -> None:
    make_plugin("hno-test-first-dist", GOOD_STEP.format(name="hno-test-twin"))
    make_plugin("hno-test-second-dist", GOOD_STEP.format(name="hno-test-twin"))
    reg = Registry()
    with pytest.raises(DuplicateComponentError) as err:
        reg.step("hno-test-twin")
    assert "hno-test-first-dist" in str(err.value) and "hno-test-second-dist" in str(err.value)
    assert "hno-test-twin" not in reg.names("step"), "a conflicting name must never silently resolve"


def test_duplicate_of_a_builtin_is_reported(make_plugin) -> None:
    make_plugin("hno-test-shadow-dist", GOOD_STEP.format(name="lista"))
    reg = Registry()
    with pytest.raises(DuplicateComponentError, match=r"hno-framework.*shadow-dist|shadow-dist.*hno-framework"):
        reg.step("lista")


@pytest.mark.parametrize("bad", ["Bad_Name", "with space", "", "-dash"])
def test_invalid_names_are_rejected(make_plugin, bad) -> None:
    make_plugin("hno-test-naming-dist", GOOD_STEP.format(name=bad))
    reg = Registry()
    (broken,) = [b for b in reg.broken if b.provider.distribution == "hno-test-naming-dist"]
    assert "not a valid name" in broken.error


def test_registering_a_non_component_is_an_error(make_plugin) -> None:
    make_plugin("hno-test-odd-dist", "from hno_framework import hookimpl\n@hookimpl\ndef register_steps(register):\n    register(int)\n")
    reg = Registry()
    (broken,) = [b for b in reg.broken if b.provider.distribution == "hno-test-odd-dist"]
    assert "expected a subclass of UnfoldingStep" in broken.error


def test_unknown_name_suggests_the_closest() -> None:
    reg = Registry()
    with pytest.raises(UnknownComponentError) as err:
        reg.step("lsta")
    assert err.value.suggestion == "lista"
    assert "Did you mean 'lista'?" in str(err.value) and "ista" in str(err.value)
    with pytest.raises(UnknownComponentError, match=r"Registered integrators: .*euler"):
        reg.integrator("runge")


def test_the_suite_catches_a_wrong_integrator(make_plugin) -> None:
    """The consistency checks must be able to fail: an integrator that mixes the batch and
    leaks mass fails batch independence and the fixed-point property."""
    make_plugin("hno-test-leaky-dist", BROKEN_INTEGRATOR)
    reg = Registry()
    case = Case("lista", "hno-test-leaky")
    with pytest.raises(AssertionError, match=r"running the batch in two halves .* changes the outputs"):
        check_batch_independence(case, registry=reg)
    with pytest.raises(AssertionError, match="moves a fixed point"):
        check_fixed_point(case, registry=reg)


def test_suite_options_and_partners_reach_the_components() -> None:
    from hno_framework.errors import ConfigError
    from hno_framework.testing import INTEGRATOR_CHECKS, PAIR_CHECKS, STEP_CHECKS

    # with euler only: every pair check, the euler reduction (not the 2no one), the integrator checks
    one_pair = len(PAIR_CHECKS) + len(STEP_CHECKS) - 1 + len(INTEGRATOR_CHECKS)
    assert run_consistency_suite(step="lista", partners=["euler"], seeds=(0,)) == one_pair
    with pytest.raises(ConfigError, match="threshold_scale"):
        run_consistency_suite(step="lista", step_options={"threshold_scale": -1.0}, partners=["euler"], seeds=(0,))
    with pytest.raises(ConfigError, match="alpha_init"):
        run_consistency_suite(integrator="2no", integrator_options={"alpha_init": "x"}, partners=["lista"], seeds=(0,))


PROBLEM_KIND = '''
from hno_framework import hookimpl
from hno_framework.problems import MatrixProblem, ProblemKind
import torch


class Twin(ProblemKind):
    """A 3 × 4 matrix problem whose Φ entries are all {value}."""
    name = "hno-test-twin-problem"

    def build(self, cfg):
        return MatrixProblem(torch.full((3, 4), {value}), cfg.lam, kind="hno-test-twin-problem")

    def sampler(self, problem, cfg):
        raise NotImplementedError

@hookimpl
def register_problems(register):
    register(Twin)
'''


def test_problem_kinds_clash_qualify_and_disable_like_other_kinds(make_plugin, monkeypatch) -> None:
    from hno_framework.config import ProblemConfig
    from hno_framework.problems import build_problem

    make_plugin("hno-test-first-problems", PROBLEM_KIND.format(value=1.0))
    make_plugin("hno-test-second-problems", PROBLEM_KIND.format(value=2.0))
    reg = Registry()
    with pytest.raises(DuplicateComponentError, match=r"problem 'hno-test-twin-problem' is registered twice.*first-problems.*second-problems"):
        build_problem(ProblemConfig(kind="hno-test-twin-problem"), reg)
    assert float(build_problem(ProblemConfig(kind="hno-test-second-problems:hno-test-twin-problem"), reg).phi[0, 0]) == 2.0
    monkeypatch.setenv("HNO_DISABLE_PLUGINS", "hno-test-first-problems")
    only = Registry()
    assert float(build_problem(ProblemConfig(kind="hno-test-twin-problem"), only).phi[0, 0]) == 2.0
    assert any(p.distribution == "hno-test-first-problems" for p in only.disabled)
