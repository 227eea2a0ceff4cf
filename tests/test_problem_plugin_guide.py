"""The problem-plugin guide's example, taken from the Markdown, installed through an entry point: listed,
checked, composed with the matrix-free steps under Euler and 2NO, and trained (so the guide stays true)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hno_framework.cli import cli
from hno_framework.composer import compose_network
from hno_framework.config import parse_config
from hno_framework.problems import build_problem
from hno_framework.registry import Registry, get_registry
from hno_framework.testing import Case, registered_pairs, run_consistency_suite, run_problem_checks

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "writing-a-problem.md"
FILES = {"superres.py": "Write `hno_example_sr/superres.py`:", "plugin.py": "`hno_example_sr/plugin.py` is the module"}



@pytest.fixture
def guide_registry(install_guide):
    install_guide(GUIDE, FILES, "hno_example_sr", "hno-example-sr", "example-superres")
    get_registry.cache_clear()
    yield Registry(strict=True)
    get_registry.cache_clear()
    for module in [m for m in sys.modules if m.startswith("hno_example_sr")]:
        del sys.modules[module]


def test_the_guide_problem_is_listed_with_its_provider(guide_registry: Registry) -> None:
    result = CliRunner().invoke(cli, ["list", "problems", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output) if r["kind"] == "problem"}
    assert rows["example-superres"]["plugin"] == "hno-example-sr"
    assert rows["example-superres"]["matrix_free"] is True
    assert {"lasso", "blur", "mri", "image-inpainting"} <= set(rows)


def test_the_guide_problem_passes_the_problem_checks(guide_registry: Registry) -> None:
    assert run_problem_checks("example-superres", registry=guide_registry) > 0
    problem = build_problem(parse_config({"problem": {"kind": "example-superres", "options": {"size": 8}},
                                          "network": {"step": "ista"}}).problem, guide_registry)
    assert problem.lipschitz == pytest.approx(0.25, rel=1e-5)  # ‖avgpool₂‖² = 1/4


def test_matrix_free_steps_compose_and_pass_the_pair_checks_on_it(guide_registry: Registry) -> None:
    steps = [s for s in guide_registry.names("step") if s in ("ista", "learned-pg")]
    assert "ista" in steps
    for step in steps:
        for integrator in ("euler", "2no"):
            case = Case(step, integrator, problem="example-superres", layers=3)
            from hno_framework.testing import PAIR_CHECKS

            for check in PAIR_CHECKS.values():
                check(case, seed=0, batch=2, registry=guide_registry)
    assert any(c.problem == "example-superres" or c.problem for c in registered_pairs(guide_registry))
    assert run_consistency_suite(step="ista", partners=["euler"], registry=guide_registry, seeds=(0,)) > 0


def test_it_trains(guide_registry: Registry, tmp_path: Path) -> None:
    from hno_framework.api import train

    cfg = parse_config({
        "name": "sr", "problem": {"kind": "example-superres", "lam": 0.001, "options": {"size": 8, "noise_sigma": 0.01}},
        "network": {"step": {"name": "ista", "options": {"learn_threshold": True}}, "integrator": "2no", "layers": 4},
        "training": {"iterations": 30, "batch_size": 8, "validate_every": 10, "validation_size": 32, "test_size": 32,
                     "lr": 0.01},
        "output": {"dir": str(tmp_path / "runs")},
    })
    net = compose_network(build_problem(cfg.problem, guide_registry), cfg.network, guide_registry)
    assert net(torch.zeros(1, 1, 4, 4)).shape == (1, 1, 8, 8)
    result = train(cfg, progress=False)
    assert (tmp_path / "runs" / "sr" / "best.pt").is_file()
    assert len(result.test_nmse_db) == 5 and all(v == v for v in result.test_nmse_db)  # x_0..x_4, finite
