"""hno compare as a library (hno_framework.compare): configs and sweeps, refused run folders, and resumable jobs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hno_framework.cli import cli
from hno_framework.compare import check_run_folders, compare, comparison_configs
from hno_framework.errors import ConfigError
from hno_framework.executors import SerialExecutor
from hno_framework.training import Trainer


def test_a_sweep_names_each_value_and_names_must_be_distinct(tiny_config) -> None:
    cfgs = comparison_configs([tiny_config("a")], sweep="network.integrator=euler,heun")
    assert [(c.name, c.network.integrator.name) for c in cfgs] == [("a-euler", "euler"), ("a-heun", "heun")]
    with pytest.raises(ConfigError, match="distinct names"):
        comparison_configs([tiny_config("a"), tiny_config("a")])
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        comparison_configs([tiny_config("a")], sweep="network.integrator")


def test_resume_continues_a_half_trained_run_and_keeps_a_finished_one(tiny_config) -> None:
    cfgs = comparison_configs([tiny_config("half", iterations=20), tiny_config("whole", iterations=20)])
    Trainer(cfgs[0], progress=False).fit(stop_after=5)  # killed after 5 iterations: last.pt only
    first = compare(cfgs[1:], SerialExecutor())
    with pytest.raises(ConfigError, match="--resume"):
        check_run_folders(cfgs)
    with pytest.raises(ConfigError, match="exclude each other"):
        check_run_folders(cfgs, force=True, resume=True)
    check_run_folders(cfgs, resume=True)
    done: list[str] = []
    run = compare(cfgs, SerialExecutor(), resume=True, on_done=lambda name, error: done.append(name))
    assert not run.failed and sorted(done) == ["half", "whole"]
    half, whole = run.results
    assert half.iterations == 20 and whole.iterations == 20
    assert whole.test_nmse_db == first.results[0].test_nmse_db  # finished: evaluated again, not retrained


def test_hno_compare_resume(tiny_config, tmp_path) -> None:
    a, b = tiny_config("a", iterations=10), tiny_config("b", integrator="euler", iterations=10)
    args = ["compare", str(a), str(b), "--no-progress", "--executor", "serial"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "--resume" in refused.output
    res = CliRunner().invoke(cli, [*args, "--resume", "--json", str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads((tmp_path / "c.json").read_text())] == ["a", "b"]
