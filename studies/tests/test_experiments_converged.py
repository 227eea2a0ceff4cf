"""The converged study: bootstrap intervals, resumable cells, the report's results.json."""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hno_studies.converged import run_converged, train_cell
from hno_studies.converged_config import load_converged_config
from hno_studies.statistics import bootstrap_nmse_db, difference_db, pooled_nmse_db


def test_bootstrap_point_and_interval() -> None:
    g = torch.Generator().manual_seed(0)
    r = torch.rand(5000, generator=g, dtype=torch.float64) + 0.5
    e = 0.01 * r * torch.rand(5000, generator=g, dtype=torch.float64) * 2
    est = bootstrap_nmse_db(e, r, resamples=500)
    assert est.nmse_db == pytest.approx(10 * math.log10(sum(e.tolist()) / sum(r.tolist())), abs=1e-9)
    assert est.low_db < est.nmse_db < est.high_db and est.high_db - est.low_db < 0.2
    # a constant per-sample ratio has no sampling uncertainty
    flat = bootstrap_nmse_db(0.001 * r, r, resamples=200)
    assert flat.low_db == pytest.approx(-30.0) and flat.high_db == pytest.approx(-30.0)


def test_pooled_and_paired_difference() -> None:
    g = torch.Generator().manual_seed(1)
    r = torch.rand(3000, generator=g, dtype=torch.float64) + 0.5
    a = torch.rand(2, 3000, generator=g, dtype=torch.float64) * r * 0.01
    pooled = pooled_nmse_db(a, r, resamples=300)
    assert pooled.nmse_db == pytest.approx(10 * math.log10(float((a[0].sum() + a[1].sum()) / 2 / r.sum())))
    point, low, high = difference_db(a, a / 10, r, resamples=300)  # b is exactly 10 dB better on every sample
    assert (point, low, high) == pytest.approx((-10.0, -10.0, -10.0))
    point, low, high = difference_db(a, a, r, resamples=300)
    assert (point, low, high) == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)


def tiny_config(tmp_path: Path) -> Path:
    data = {
        "name": "tiny",
        "problem": {"kind": "lasso", "m": 10, "n": 20, "sparsity": 0.2, "lam": 0.1, "seed": 0},
        "layers": 3,
        "test_size": 10000,
        "bootstrap_resamples": 100,
        "settings": {"noiseless": {"title": "noiseless"}},
        "recipe": {"phases": [{"iterations": 20, "lr": 1e-3}, {"iterations": 10, "lr": 1e-4}],
                   "validate_every": 5, "validation_size": 100},
        "networks": {"LISTA": {"step": "lista"}, "2NO-LISTA": {"step": "lista", "integrator": "2no"},
                     "FISTA": {"algorithm": "fista"}},
        "fista": {"iterations": 20, "lambdas": [0.01, 0.1]},
        "pairs": [["LISTA", "2NO-LISTA"]],
        "published": {"noiseless": {"LISTA": -35}},
        "cells": [{"setting": "noiseless", "network": "LISTA", "seeds": [0, 1]},
                  {"setting": "noiseless", "network": "2NO-LISTA", "seeds": [0]},
                  {"setting": "noiseless", "network": "FISTA", "seeds": [0]}],
        "output": {"results": str(tmp_path / "results"), "runs": str(tmp_path / "runs")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_runner_writes_cells_skips_finished_and_reports(tmp_path: Path) -> None:
    cfg = load_converged_config(tiny_config(tmp_path))
    written = run_converged(cfg, max_cells=2, log=lambda m: None)
    assert [p.name for p in written] == ["seed0.json", "seed1.json"]
    cell = json.loads(written[0].read_text())
    assert cell["iterations"] == 30 and cell["test_size"] == 10000 and cell["ci_db"][0] <= cell["final_nmse_db"] <= cell["ci_db"][1]
    assert np.load(written[0].with_suffix(".errors.npy")).shape == (10000,)
    mtime = written[0].stat().st_mtime_ns
    rest = run_converged(cfg, resume=True, log=lambda m: None)  # finished cells are not retrained
    assert len(rest) == 2 and written[0].stat().st_mtime_ns == mtime
    results = json.loads((cfg.output.results / "results.json").read_text())
    rows = {c["network"]: c for c in results["cells"]}
    assert set(rows) == {"LISTA", "2NO-LISTA", "FISTA"} and rows["LISTA"]["seeds"] == [0, 1]
    for row in rows.values():
        assert {"setting", "network", "final_nmse_db", "ci_db", "seeds", "iterations", "core_hours"} <= row.keys()
    assert results["pairs"][0]["base"] == "LISTA" and results["unfinished"] == []
    # seed-by-seed differences: only seed 0 trained both networks; its difference is of the two cells' NMSE
    seed0 = {n: json.loads((cfg.output.results / "cells" / "noiseless" / n / "seed0.json").read_text())["final_nmse_db"]
             for n in ("lista", "2no-lista")}
    assert results["pairs"][0]["per_seed_difference_db"] == {"0": pytest.approx(seed0["2no-lista"] - seed0["lista"])}
    assert (cfg.output.results / "differences.png").stat().st_size > 1000
    readme = (cfg.output.results / "README.md").read_text()
    assert f"s0 {seed0['2no-lista'] - seed0['lista']:+.1f}" in readme and "(differences.png)" in readme
    assert "| noiseless | LISTA |" in readme and "-35.00" in readme
    # the training figure and the catch-up table come from the cells' validation curves
    assert (cfg.output.results / "training-noiseless.png").stat().st_size > 1000
    assert (cfg.output.results / "nmse-noiseless.png").stat().st_size > 1000
    catch = results["pairs"][0]["catch_up"]
    assert [c["seed"] for c in catch] == [0]
    curve = json.loads(written[0].read_text())["validation_curve"]
    assert catch[0]["base_best_db"] == min(v for _, v in curve)
    assert "## Training cost" in readme and len(rows["LISTA"]["iterations_to_published_plus_3db"]) == 2
    # what the 2NO integrator learned is recorded per cell, plotted and summarised
    hno = json.loads((cfg.output.results / "cells" / "noiseless" / "2no-lista" / "seed0.json").read_text())["learned"]
    assert hno["integrator_learnable"] and hno["integrator_init"]["beta"][1] == pytest.approx(-0.5)
    assert (cfg.output.results / "coefficients-noiseless.png").stat().st_size > 1000
    assert "## What the integrators learned" in readme and "| noiseless | 2NO-LISTA | beta |" in readme


def test_first_iteration_at_and_catch_up_follow_the_validation_curves() -> None:
    from hno_studies.converged_report import catch_up, first_iteration_at

    curve = [[100, -10.0], [200, None], [300, -25.0], [400, -22.0], [500, -30.0]]
    assert first_iteration_at(curve, -20.0) == 300 and first_iteration_at(curve, -30.0) == 500
    assert first_iteration_at(curve, -31.0) is None
    base = [{"seed": 0, "validation_curve": curve}, {"seed": 1, "validation_curve": [[100, -5.0]]}]
    hno = [{"seed": 0, "validation_curve": [[100, -20.0], [200, -31.0]]}, {"seed": 2, "validation_curve": [[100, -50.0]]}]
    # seed 0: base best −30 first at 500, the HNO curve is as good at 200; seed 1 has no HNO partner
    assert catch_up(base, hno) == [{"seed": 0, "base_best_db": -30.0, "base_iteration": 500, "hno_iteration": 200}]
    assert catch_up(base, [{"seed": 0, "validation_curve": [[100, -29.0]]}])[0]["hno_iteration"] is None


def test_training_figure_has_a_panel_per_pair_and_per_unpaired_network(tmp_path: Path) -> None:
    from hno_studies.converged_report import training_curve_groups

    cfg = load_converged_config(tiny_config(tmp_path))
    a, b, c = [[1, -1.0]], [[1, -2.0]], [[1, -3.0]]
    found = {("noiseless", "LISTA"): [{"seed": 1, "validation_curve": b}, {"seed": 0, "validation_curve": a}],
             ("noiseless", "2NO-LISTA"): [{"seed": 0, "validation_curve": c}],
             ("noiseless", "FISTA"): [{"seed": 0}],  # no curve: no panel
             ("other", "LISTA"): [{"seed": 0, "validation_curve": c}]}
    assert training_curve_groups(cfg, found, "noiseless") == {"LISTA vs 2NO-LISTA": {"LISTA": [a, b], "2NO-LISTA": [c]}}
    del found[("noiseless", "2NO-LISTA")]
    cfg.pairs = [["2NO-LISTA", "3NO-LISTA"]]  # LISTA is in no pair with a curve: a panel of its own
    assert training_curve_groups(cfg, found, "noiseless") == {"LISTA": {"LISTA": [a, b]}}


def test_an_interrupted_cell_resumes_to_the_same_network(tmp_path: Path) -> None:
    from hno_framework.training import Trainer
    from hno_studies.converged import cell_training_config, experiment_config

    cfg = load_converged_config(tiny_config(tmp_path))
    recipe = cfg.recipe
    config = experiment_config(cfg, "noiseless", "LISTA", 0, recipe)
    full, _ = train_cell(config, recipe, tmp_path / "a", resume=False, log=lambda m: None)
    Trainer(cell_training_config(config, recipe, tmp_path / "b"), progress=False).fit(stop_after=10)  # "killed"
    resumed, stats = train_cell(config, recipe, tmp_path / "b", resume=True, log=lambda m: None)
    assert stats["iteration"] == 30
    for key, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value)


def test_a_cell_trains_the_recipe_as_the_phases_protocol(tmp_path: Path) -> None:
    from hno_studies.converged import cell_training_config, experiment_config

    cfg = load_converged_config(tiny_config(tmp_path))
    training = cell_training_config(experiment_config(cfg, "noiseless", "LISTA", 0, cfg.recipe), cfg.recipe,
                                    tmp_path).training
    assert training.protocol == "phases" and training.threads == 1
    assert [(p.iterations, p.lr) for p in training.phases] == [(p.iterations, p.lr) for p in cfg.recipe.phases]
    assert training.adam_eps == cfg.recipe.adam_eps and training.validate_every == cfg.recipe.validate_every
    assert training.loss == cfg.recipe.loss


def test_every_training_loss_is_a_recipe_loss_and_is_described() -> None:
    from hno_framework.training.losses import LOSSES
    from hno_studies.converged import Recipe
    from hno_studies.converged_report import LOSS_DESCRIPTIONS, describe_recipe

    assert set(LOSS_DESCRIPTIONS) == set(LOSSES)
    for loss in LOSSES:
        recipe = Recipe(phases=[{"iterations": 10, "lr": 1e-3}], loss=loss)
        assert LOSS_DESCRIPTIONS[loss] in describe_recipe(recipe)


def test_a_stagewise_recipe_trains_through_the_public_api(tmp_path: Path) -> None:
    from hno_studies.converged import experiment_config, run_network_cell

    cfg = load_converged_config(tiny_config(tmp_path))
    recipe = cfg.recipe.model_copy(update={"protocol": "stagewise", "stagewise": {
        "patience": 5, "max_iterations": 10, "validate_every": 5, "checkpoint_every": 1000}})
    cfg.networks["LISTA"] = cfg.networks["LISTA"].model_copy(update={"recipe": recipe})
    assert experiment_config(cfg, "noiseless", "LISTA", 0, recipe).network.layers == 3
    res = run_network_cell(cfg, "noiseless", "LISTA", 0, resume=False, log=lambda m: None)
    assert res["recipe"]["protocol"] == "stagewise" and 0 < res["iterations"] <= 3 * 3 * 10
    assert res["core_hours"] > 0 and math.isfinite(res["final_nmse_db"])


def test_verdicts_need_an_interval_without_zero_and_a_seed_level_interval() -> None:
    from hno_studies.converged_report import verdict

    assert verdict("A", "B", -1.0, 0.5, [-30.0], [-31.0]) == "no difference shown"
    assert verdict("A", "B", -2.0, -1.0, [-30.0], [-31.5]).startswith("B better (provisional")
    # without a seed-level interval (< 2 shared seeds) the unpaired per-seed ranges decide
    assert verdict("A", "B", 1.0, 2.0, [-30.0] * 3, [-28.0] * 3) == "A better"
    assert verdict("A", "B", -2.0, -1.0, [-30.0, -31.0, -33.0], [-31.5, -32.0, -32.5]) == (
        "no difference shown (per-seed ranges overlap)")
    # the seeds separate the other way than the pooled test-sample interval (a few dense samples can do that)
    assert verdict("A", "B", -9.0, -5.0, [-66.0, -69.0, -75.0], [-60.0, -62.0, -64.0]).endswith("disagree)")
    # every seed agrees, but three seeds scatter too much for the seed-level interval to exclude 0
    wide = {"mean_db": -7.0, "low_db": -15.0, "high_db": 1.0, "seeds": 3}
    assert verdict("A", "B", -9.0, -5.0, [-60.0, -62.0, -64.0], [-66.0, -69.0, -75.0], wide, [-6.0, -7.0, -11.0]).startswith(
        "B better in every seed, not shown at the seed level")
    assert verdict("A", "B", -9.0, -5.0, [-60.0, -62.0, -64.0], [-66.0, -61.0, -75.0], wide, [-6.0, +1.0, -11.0]).startswith(
        "B better on the test samples, not shown at the seed level")
    # A better: the same rule with the signs flipped
    flipped = {"mean_db": 7.0, "low_db": 5.0, "high_db": 9.0, "seeds": 3}
    assert verdict("A", "B", 5.0, 9.0, [-66.0, -69.0, -75.0], [-60.0, -62.0, -64.0], flipped, [6.0, 7.0, 11.0]) == "A better"
    two = {"mean_db": -7.0, "low_db": -9.0, "high_db": -5.0, "seeds": 2}
    assert verdict("A", "B", -9.0, -5.0, [-60.0, -62.0], [-66.0, -69.0], two) == (
        "B better (provisional: < 3 seeds, the intervals cover test samples and 2 seeds)")
    narrow = {"mean_db": -7.0, "low_db": -9.0, "high_db": -5.0, "seeds": 3}
    assert verdict("A", "B", -9.0, -5.0, [-60.0, -62.0, -64.0], [-66.0, -69.0, -75.0], narrow, [-6.0, -7.0, -11.0]) == (
        "B better")
    # paired over seeds the gain holds although one seed of B is worse than another seed of A: claimed, and said
    small = {"mean_db": -1.7, "low_db": -2.5, "high_db": -0.9, "seeds": 3}
    assert verdict("A", "B", -4.0, -1.0, [-60.0, -62.0, -64.0], [-61.0, -64.0, -66.0], small, [-1.0, -2.0, -2.0]) == (
        "B better (paired over seeds; the per-seed ranges overlap)")
    # the seed-level interval excludes 0 on the other side than the test-sample interval
    against = {"mean_db": 3.0, "low_db": 1.0, "high_db": 5.0, "seeds": 3}
    assert verdict("A", "B", -4.0, -1.0, [-60.0, -62.0, -64.0], [-61.0, -64.0, -66.0], against, [1.0, 3.0, 5.0]).endswith(
        "the seed-level and the test-sample intervals disagree)")


@pytest.mark.parametrize(("p", "df"), [(0.975, 1), (0.975, 2), (0.9, 2), (0.995, 1), (0.025, 2), (0.975, 400)])
def test_student_t_quantile_matches_closed_forms(p: float, df: int) -> None:
    from statistics import NormalDist

    from hno_studies.statistics import student_t_quantile

    # independent references: ν = 1 is the Cauchy law, ν = 2 has F⁻¹(p) = (2p − 1) / √(2p(1 − p)),
    # and a large ν approaches the normal quantile (t_{0.975, 400} ≈ 1.9659)
    if df == 1:
        expected = math.tan(math.pi * (p - 0.5))
    elif df == 2:
        expected = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    else:
        z = NormalDist().inv_cdf(p)
        expected = z + (z**3 + z) / (4 * df)  # the first Cornish-Fisher term, error O(1/ν²)
    assert student_t_quantile(p, df) == pytest.approx(expected, rel=1e-6 if df <= 2 else 1e-4)


def test_seed_difference_interval_is_the_paired_t_interval() -> None:
    from hno_studies.statistics import seed_difference_interval

    assert seed_difference_interval([-5.0]) is None
    d = [-4.0, -6.0, -11.0]
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    half = 4.302652729749464 * sd / math.sqrt(3)  # t_{0.975, 2} = 0.95 / √(2 · 0.975 · 0.025)
    got = seed_difference_interval(d)
    assert got is not None and got["seeds"] == 3
    assert (got["low_db"], got["mean_db"], got["high_db"]) == pytest.approx((mean - half, mean, mean + half))


@pytest.mark.processes
def test_cells_on_two_local_workers_equal_serial(tmp_path: Path) -> None:
    from hno_framework.executors import LocalExecutor

    for sub in ("serial", "local"):
        (tmp_path / sub).mkdir()
    serial_cfg = load_converged_config(tiny_config(tmp_path / "serial"))
    serial = run_converged(serial_cfg, max_cells=2, log=lambda m: None)
    local_cfg = load_converged_config(tiny_config(tmp_path / "local"))
    with LocalExecutor(2) as pool:
        local = run_converged(local_cfg, max_cells=2, log=lambda m: None, executor=pool)
    assert sorted(p.name for p in local) == sorted(p.name for p in serial)
    for a, b in zip(sorted(serial), sorted(local), strict=True):
        assert json.loads(a.read_text())["final_nmse_db"] == json.loads(b.read_text())["final_nmse_db"]


def test_status_reports_finished_training_and_waiting_cells(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hno_framework.cli import cli
    from hno_framework.training import Trainer
    from hno_studies.converged import cell_paths, cell_status, cell_training_config, experiment_config

    path = tiny_config(tmp_path)
    cfg = load_converged_config(path)
    run_converged(cfg, max_cells=1, log=lambda m: None)  # LISTA seed 0 finished
    config = experiment_config(cfg, "noiseless", "LISTA", 1, cfg.recipe)
    _, run_dir = cell_paths(cfg, "noiseless", "LISTA", 1)
    Trainer(cell_training_config(config, cfg.recipe, run_dir), progress=False).fit(stop_after=10)  # "killed" at 10 of 30
    rows = {r["cell"]: r for r in cell_status(cfg)}
    finished = json.loads(cell_paths(cfg, "noiseless", "LISTA", 0)[0].read_text())
    assert rows["noiseless/LISTA/seed0"]["final_nmse_db"] == finished["final_nmse_db"]
    training = rows["noiseless/LISTA/seed1"]
    assert training["state"] == "training" and (training["iteration"], training["total"], training["phase"]) == (10, 30, 1)
    assert training["seconds_left"] == pytest.approx(training["seconds"] * 2)
    assert rows["noiseless/2NO-LISTA/seed0"]["state"] == "not started"
    assert rows["noiseless/FISTA/seed0"]["state"].startswith("not finished")
    out = CliRunner().invoke(cli, ["experiment", "converged", str(path), "--status"])
    assert out.exit_code == 0, out.output
    assert "iteration 10/30 (phase 1/2)" in out.output and "1 finished, 1 training, 1 not started, 1 not finished" in out.output


def test_remaining_core_hours_scale_the_finished_cells_cost_per_iteration(tmp_path: Path) -> None:
    from hno_studies.converged_report import remaining_core_hours

    cfg = load_converged_config(tiny_config(tmp_path))  # recipe: 30 iterations
    found = {("noiseless", "LISTA"): [{"seed": 0, "core_hours": 0.3, "iterations": 30},
                                      {"seed": 1, "core_hours": 0.6, "iterations": 60}],
             ("noiseless", "FISTA"): [{"seed": 0, "core_hours": 0.1}]}
    # 2NO-LISTA shares LISTA's recipe: 30 iterations at (0.01 + 0.01) / 2 core-h each; FISTA as the finished FISTA
    assert remaining_core_hours(cfg, found, ["2NO-LISTA", "FISTA"]) == pytest.approx(30 * 0.01 + 0.1)
    assert remaining_core_hours(cfg, {}, ["2NO-LISTA"]) is None and remaining_core_hours(cfg, found, []) == 0.0


def test_a_share_strictly_between_0_and_1_never_prints_as_0_or_100_percent() -> None:
    from hno_studies.converged_report import percent_text

    assert percent_text(9_998 / 10_000) == "99.98 %"
    assert percent_text(1 / 10_000) == "0.01 %"
    assert percent_text(0.905) == "90.5 %"
    assert percent_text(1.0) == "100.0 %" and percent_text(0.0) == "0.0 %"


def test_a_pairs_seed_counts_read_as_english() -> None:
    from hno_studies.converged_report import seed_count_text

    assert seed_count_text(1, 1) == "1 seed"
    assert seed_count_text(3, 3) == "3 seeds"
    assert seed_count_text(3, 2) == "3 and 2 seeds"


def test_subset_nmse_reads_what_smaller_test_sets_would() -> None:
    import itertools

    from hno_studies.statistics import subset_nmse_db

    errors = torch.tensor([[1.0, 2.0, 100.0, 4.0, 1.0, 3.0]], dtype=torch.float64)
    energies = torch.tensor([1.0, 1.0, 1.0, 2.0, 1.0, 1.0], dtype=torch.float64)
    exact = sorted(10 * math.log10(sum(errors[0, i].item() for i in s) / sum(energies[i].item() for i in s))
                   for s in itertools.combinations(range(6), 2))  # all 15 two-sample test sets, by a plain loop
    found = subset_nmse_db(errors, energies, size=2, draws=4000)
    assert exact[0] - 1e-9 <= found["q05_db"] <= found["q50_db"] <= found["q95_db"] <= exact[-1] + 1e-9
    assert exact[6] - 1e-9 <= found["q50_db"] <= exact[8] + 1e-9  # the median of 15 equally likely sets is the 8th
    whole = 10 * math.log10(111 / 7)
    assert found["q50_db"] < whole - 5  # 10 of the 15 sets miss the hard sample: the typical small set flatters
    assert all(v == pytest.approx(whole) for v in subset_nmse_db(errors, energies, size=6, draws=10).values())
    with pytest.raises(ValueError, match="subset size"):
        subset_nmse_db(errors, energies, size=7)


def test_stop_by_reads_a_time_of_day_as_its_next_occurrence_and_iso_as_given() -> None:
    from datetime import datetime, timedelta, timezone

    from hno_studies.deadline import parse_stop_by
    from hno_studies.errors import ExperimentError

    now = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert parse_stop_by("18:50", now) == datetime(2026, 12, 6, 18, 50, tzinfo=UTC)
    assert parse_stop_by("15:59", now) == datetime(2026, 12, 7, 15, 59, tzinfo=UTC)  # passed today
    plus_one = timezone(timedelta(hours=1))
    assert parse_stop_by("2026-12-06T18:50+01:00", now) == datetime(2026, 12, 6, 18, 50, tzinfo=plus_one)
    for bad in ("soon", "25:00", "18:61", "2026-13-01T00:00"):
        with pytest.raises(ExperimentError, match="HH:MM"):
            parse_stop_by(bad, now)


def test_a_deadline_keeps_cells_that_would_not_finish_from_starting(tmp_path: Path) -> None:
    import time

    from hno_studies.converged import cell_paths

    cfg = load_converged_config(tiny_config(tmp_path))
    run_converged(cfg, max_cells=1, log=lambda m: None)  # LISTA seed 0: the basis of the estimate
    first, _ = cell_paths(cfg, "noiseless", "LISTA", 0)
    finished = json.loads(first.read_text())
    finished["wall_hours"] = 10.0  # as if it had taken 10 h: LISTA seed 1 and 2NO-LISTA (same recipe) would too
    first.write_text(json.dumps(finished))
    messages: list[str] = []
    written = run_converged(cfg, log=messages.append, stop_by=time.time() + 3600)
    # FISTA has no finished cell to estimate from and the deadline has not passed: it runs
    assert [p.parent.name for p in written] == ["fista"]
    skipped = [m for m in messages if "not started" in m]
    assert len(skipped) == 2 and all("≈ 10.00 h" in m for m in skipped), messages
    assert not cell_paths(cfg, "noiseless", "LISTA", 1)[0].exists()
    messages.clear()  # a deadline already passed starts nothing, not even a cell of unknown length
    cell_paths(cfg, "noiseless", "FISTA", 0)[0].unlink()
    assert run_converged(cfg, log=messages.append, stop_by=time.time() - 1) == []
    assert sum("not started" in m for m in messages) == 3
    assert len(run_converged(cfg, log=lambda m: None, stop_by=time.time() + 1e6)) == 3  # far deadline: all run


def test_a_barely_started_checkpoint_is_estimated_from_the_finished_cells_not_its_own_speed(tmp_path: Path) -> None:
    from hno_framework.training import Trainer
    from hno_studies.converged import (
        cell_paths,
        cell_row,
        cell_training_config,
        expected_seconds,
        experiment_config,
    )

    cfg = load_converged_config(tiny_config(tmp_path))  # recipe: 30 iterations

    def stop_lista_seed1_at(iteration: int) -> dict:
        config = experiment_config(cfg, "noiseless", "LISTA", 1, cfg.recipe)
        _, run_dir = cell_paths(cfg, "noiseless", "LISTA", 1)
        Trainer(cell_training_config(config, cfg.recipe, run_dir), progress=False).fit(stop_after=iteration)
        return cell_row(cfg, "noiseless", "LISTA", 1)

    early = stop_lista_seed1_at(1)  # 1 of 30 iterations: under the 5 % its own speed needs
    assert early["iteration"] == 1
    # no finished cell yet: the early speed is all there is
    assert expected_seconds(cfg, "noiseless", "LISTA", 1, resume=True) == pytest.approx(early["seconds_left"])
    run_converged(cfg, max_cells=1, log=lambda m: None)  # LISTA seed 0 finished
    first, _ = cell_paths(cfg, "noiseless", "LISTA", 0)
    finished = json.loads(first.read_text())
    finished["wall_hours"] = 3.0  # 3 h for 30 iterations: 0.1 h per iteration
    first.write_text(json.dumps(finished))
    assert expected_seconds(cfg, "noiseless", "LISTA", 1, resume=True) == pytest.approx(3.0 * 3600 * 29 / 30)
    assert expected_seconds(cfg, "noiseless", "LISTA", 1, resume=False) == pytest.approx(3.0 * 3600)
    later = stop_lista_seed1_at(12)  # past 5 %: the checkpoint's own speed counts
    assert later["iteration"] == 12
    assert expected_seconds(cfg, "noiseless", "LISTA", 1, resume=True) == pytest.approx(later["seconds_left"])


def test_the_report_gives_the_oracle_level_of_noisy_settings_only(tmp_path: Path) -> None:
    from hno_studies.converged_report import write_report

    path = tiny_config(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["settings"]["snr-20"] = {"title": "SNR 20 dB", "snr_db": 20.0}  # noisy: its oracle level is printed
    path.write_text(yaml.safe_dump(data))
    cfg = load_converged_config(path)
    run_converged(cfg, max_cells=1, log=lambda m: None)
    (cfg.output.results / "oracle.json").write_text(json.dumps({"settings": [
        {"setting": "noiseless", "oracle_nmse_db": -150.9, "ci_db": [-151.0, -150.8]},
        {"setting": "snr-20", "oracle_nmse_db": -25.92, "ci_db": [-25.94, -25.89]}]}))
    text = write_report(cfg).read_text()
    assert "snr-20 -25.92 dB [-25.94, -25.89]" in text and "-150.9" not in text


def test_nmse_by_support_pools_each_bin_of_non_zeros() -> None:
    from hno_studies.statistics import nmse_db_by_support

    g = torch.Generator().manual_seed(3)
    sizes = torch.randint(30, 80, (4000,), generator=g)
    r = torch.rand(4000, generator=g, dtype=torch.float64) + 0.5
    errors = torch.rand(2, 4000, generator=g, dtype=torch.float64) * r * 1e-3 * sizes  # denser: worse
    edges = (40, 50, 60)
    rows = nmse_db_by_support(errors, r, sizes, edges, resamples=200)
    # independent reference: a plain loop over the samples, bin by bin
    ranges = [(0, 40), (41, 50), (51, 60), (61, 10**9)]
    e_mean = [(errors[0, i].item() + errors[1, i].item()) / 2 for i in range(4000)]
    total = sum(e_mean)
    assert [(row["low"], row["high"]) for row in rows] == [(None, 40), (41, 50), (51, 60), (61, None)]
    for row, (lo, hi) in zip(rows, ranges, strict=True):
        members = [i for i in range(4000) if lo <= int(sizes[i]) <= hi]
        se, sr = sum(e_mean[i] for i in members), sum(r[i].item() for i in members)
        assert row["samples"] == len(members)
        assert row["nmse_db"] == pytest.approx(10 * math.log10(se / sr))
        assert row["error_share"] == pytest.approx(se / total)
        assert row["ci_db"][0] <= row["nmse_db"] <= row["ci_db"][1]
    assert [row["nmse_db"] for row in rows] == sorted(row["nmse_db"] for row in rows)  # the error grows with k here
    # an empty bin is left out
    assert len(nmse_db_by_support(errors, r, sizes.clamp(min=45), edges, resamples=50)) == 3


@pytest.mark.parametrize(("n", "p"), [(500, 0.1), (20, 0.2), (1000, 0.05), (50, 0.9), (3, 0.5)])
def test_support_bins_follow_the_binomial_spread_of_the_support_size(n: int, p: float) -> None:
    from hno_studies.statistics import support_bins

    bins = support_bins(n, p)
    # independent reference: the mean and sd of k ~ Binomial(n, p) by summing its probability mass
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    mean = sum(k * q for k, q in enumerate(pmf))
    sd = math.sqrt(sum((k - mean) ** 2 * q for k, q in enumerate(pmf)))
    assert bins.mean == pytest.approx(mean) and bins.sd == pytest.approx(sd)
    assert list(bins.edges) == sorted(set(bins.edges)) and all(0 <= e < max(n, 1) for e in bins.edges)
    mass_below = sum(q for k, q in enumerate(pmf) if k <= bins.edges[0])
    mass_above = sum(q for k, q in enumerate(pmf) if k > bins.edges[-1])
    if n >= 100:  # enough spread for seven interior edges: both open bins are tails, the bins cover the bulk
        assert len(bins.edges) == 7 and mass_below < 0.2 and mass_above < 0.05
        assert bins.edges[0] < mean < bins.edges[-1] and bins.dense_above > mean + sd
    if (n, p) == (500, 0.1):
        assert bins.edges == (40, 45, 50, 55, 60, 65, 70) and bins.dense_above == 60


def test_support_bins_refuse_an_impossible_sparsity() -> None:
    from hno_studies.statistics import support_bins

    with pytest.raises(ValueError, match="0 < p"):
        support_bins(500, 0.0)


def test_the_report_groups_errors_by_support_size_of_the_saved_test_set(tmp_path: Path) -> None:
    from hno_studies.converged import save_support_sizes, support_sizes_path
    from hno_studies.errors import ExperimentError

    cfg = load_converged_config(tiny_config(tmp_path))
    run_converged(cfg, max_cells=1, log=lambda m: None)
    sizes = np.load(support_sizes_path(cfg, "noiseless"))
    assert sizes.shape == (cfg.test_size,) and 0 < sizes.mean() < 20  # n = 20 entries, Bernoulli(0.2)
    results = json.loads((cfg.output.results / "results.json").read_text())
    rows = results["cells"][0]["nmse_db_by_support"]
    assert sum(row["samples"] for row in rows) == cfg.test_size
    assert len(rows) >= 3  # the bins follow this config's n and p, not the 500-entry study's
    assert results["support_bins"]["n"] == 20 and results["support_bins"]["mean"] == pytest.approx(4.0)
    assert sum(row["error_share"] for row in rows) == pytest.approx(1.0)
    text = (cfg.output.results / "README.md").read_text()
    assert "## Error by support size" in text and (cfg.output.results / "support-noiseless.png").is_file()
    assert f"error share k > {results['support_bins']['dense_above']} |" in text and "on 20 entries" in text
    x = torch.zeros(cfg.test_size, 20)  # another test set (all zero) does not match the saved support sizes
    with pytest.raises(ExperimentError, match="support sizes"):
        save_support_sizes(cfg, "noiseless", x)
