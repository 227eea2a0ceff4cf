"""``hno check DIST-OR-NAME``: the consistency suite on one installed distribution or component."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hno_framework.cli import cli
from hno_framework.registry import get_registry

IGNORES_Y = '''
from hno_framework import hookimpl, UnfoldingStep


class IgnoresY(UnfoldingStep):
    """Shrinks x towards 0; never reads the measurements."""
    name = "hno-test-check-ignores-y"
    def forward(self, x, ctx):
        return 0.5 * x


@hookimpl
def register_steps(register):
    register(IgnoresY)
'''


@pytest.fixture
def fresh_registry():
    get_registry.cache_clear()
    yield
    get_registry.cache_clear()


def _run(*args: str):
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def test_a_wrong_distribution_fails_with_a_row_per_check(make_plugin, fresh_registry) -> None:
    make_plugin("hno-test-check-dist", IGNORES_Y)
    get_registry.cache_clear()
    result = _run("hno-test-check-dist", "--partner", "euler", "--no-processes", "--json")
    assert result.exit_code == 1, result.output
    rows = json.loads(result.output)
    failed = [r for r in rows if not r["passed"]]
    assert {r["check"] for r in failed} == {"depends_on_y"}
    assert failed[0]["subject"] == "pair hno-test-check-ignores-y+euler"
    assert "does not depend on y" in failed[0]["cause"]
    assert any(r["check"] == "shape_and_dtype" and r["passed"] for r in rows)

    table = _run("hno-test-check-dist", "--partner", "euler", "--no-processes", "--failures-only")
    assert table.exit_code == 1
    assert "depends_on_y" in table.output and "FAIL" in table.output and "shape_and_dtype" not in table.output
    assert "failed" in table.output.splitlines()[-1]


@pytest.mark.processes
def test_a_component_passes_with_exit_status_0(fresh_registry) -> None:
    result = _run("euler", "--partner", "ista", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "reduces_to_euler" in result.output and "same_output_across_processes" in result.output
    assert result.output.strip().splitlines()[-1].endswith("all passed")


def test_an_unknown_target_is_a_user_error(fresh_registry) -> None:
    result = CliRunner().invoke(cli, ["check", "eulr"])
    assert result.exit_code == 2
    assert "Did you mean 'euler'?" in result.output
