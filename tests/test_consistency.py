"""The shared property suite over every registered (step, integrator) pair.

Pairs come from the live registry, so installing a plugin extends this file automatically.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_framework.registry import get_registry
from hno_framework.testing import (
    INTEGRATOR_CHECKS,
    PAIR_CHECKS,
    PROBLEM_CHECKS,
    STEP_CHECKS,
    SUITE_CHECKS,
    Case,
    registered_pairs,
)

REGISTRY = get_registry()
PAIRS = registered_pairs(REGISTRY)
SEEDS = st.integers(min_value=0, max_value=2**16)
SUITE = settings(max_examples=3, deadline=None, derandomize=True)
ONCE = settings(max_examples=1, deadline=None, derandomize=True)
SEED_FREE = {"device"}
"""Pair checks whose outcome does not depend on the seed or batch size (one example: the device check
runs on PyTorch's meta device, several times slower than the CPU at these sizes)."""


def test_registry_has_builtins() -> None:
    assert {"ista", "lista"} <= set(REGISTRY.names("step"))
    assert {"euler", "2no"} <= set(REGISTRY.names("integrator"))
    assert not REGISTRY.broken, f"broken plugins: {REGISTRY.broken}"


def _pair_test(check: str):
    """``test_pair_<check>`` over every pair. One function per check: hypothesis (6.155) chains the
    settings of a decorated function once per parametrized case and overflows the recursion limit
    after about 950 cases, and pairs × checks is over 1000."""

    @pytest.mark.parametrize("case", PAIRS, ids=str)
    @(ONCE if check in SEED_FREE else SUITE)
    @given(seed=SEEDS, batch=st.integers(min_value=1, max_value=4))
    def test(case, seed, batch) -> None:
        PAIR_CHECKS[check](case, seed=seed, batch=batch, registry=REGISTRY)

    test.__name__ = test.__qualname__ = f"test_pair_{check}"
    return test


for _check in PAIR_CHECKS:
    globals()[f"test_pair_{_check}"] = _pair_test(_check)


@pytest.mark.parametrize("check", sorted(STEP_CHECKS))
@pytest.mark.parametrize("step", REGISTRY.names("step"))
@SUITE
@given(seed=SEEDS, layers=st.integers(min_value=1, max_value=5))
def test_step(step, check, seed, layers) -> None:
    STEP_CHECKS[check](step, seed=seed, layers=layers, registry=REGISTRY)


@pytest.mark.parametrize("check", sorted(INTEGRATOR_CHECKS) or [pytest.param(None, marks=pytest.mark.skip("no integrator checks"))])
@pytest.mark.parametrize("integrator", REGISTRY.names("integrator"))
def test_integrator(integrator, check) -> None:
    INTEGRATOR_CHECKS[check](integrator, registry=REGISTRY)


@pytest.mark.parametrize("check", sorted(PROBLEM_CHECKS))
@pytest.mark.parametrize("kind", REGISTRY.names("problem"))
@ONCE
@given(seed=SEEDS)
def test_problem(kind, check, seed) -> None:
    PROBLEM_CHECKS[check](kind, seed=seed, registry=REGISTRY)


def test_every_matrix_free_capable_step_meets_every_integrator_on_an_image_problem() -> None:
    image_cases = {(c.step, c.integrator) for c in PAIRS if c.problem is not None}
    assert ("ista", "2no") in image_cases, "ista works through the operator: it must be paired on an image problem"
    for step in {s for s, _ in image_cases}:
        assert {i for s, i in image_cases if s == step} == set(REGISTRY.names("integrator"))
    assert not any(c.step == "lista" and c.problem for c in PAIRS), "lista reads Φ: no matrix-free pairing"


@pytest.mark.processes
def test_same_output_across_fresh_processes() -> None:
    """Every step (with euler, on each problem it is paired on) and every integrator (with ista) gives bit-identical
    outputs in two fresh processes: one run of the suite-level check, two subprocesses side by side."""
    cases = [c for c in PAIRS if c.integrator == "euler"] + [Case("ista", i) for i in REGISTRY.names("integrator")]
    for check in SUITE_CHECKS.values():
        check(cases, registry=REGISTRY)
