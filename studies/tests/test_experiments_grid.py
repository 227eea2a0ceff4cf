"""The grid: config and quick preset, saved data, resume (finished cells skipped), unregistered networks, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from hno_framework.cli import cli
from hno_framework.training import Trainer
from hno_studies import ExperimentError
from hno_studies.grid import load_grid, parse_grid, slugify
from hno_studies.runner import SkippedNetworkWarning, run_grid

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grids" / "synthetic-grid.yaml"



def tiny_grid(out: Path, **changes) -> dict:
    grid = {
        "name": "tiny-grid",
        "problem": {"kind": "lasso", "m": 10, "n": 20, "sparsity": 0.2, "lam": 0.1, "seed": 5},
        "layers": 3,
        "settings": [{"name": "noiseless"}, {"name": "snr-20", "snr_db": 20, "title": "SNR 20"}],
        "networks": [
            {"name": "LISTA", "step": "lista", "integrator": "euler"},
            {"name": "2NO-LISTA(u)", "step": "lista", "integrator": "2no", "tied": False},
        ],
        "seeds": [0],
        "training": {"protocol": "end-to-end", "iterations": 12, "validate_every": 6, "batch_size": 16,
                     "validation_size": 40, "test_size": 50, "lr": 0.002, "threads": 1},
        "classical": {"iterations": 30, "lambdas": [0.01, 0.1]},
        "output": {"dir": str(out)},
        "quick": {"training": {"iterations": 4}, "output": {"dir": str(out) + "-quick"}},
    }
    grid.update(changes)
    return grid


def test_example_grid_loads_in_both_modes() -> None:
    full = load_grid(EXAMPLE)
    quick = load_grid(EXAMPLE, quick=True)
    assert full.training.protocol == "stagewise" and quick.training.protocol == "end-to-end"
    assert quick.training.stagewise == full.training.stagewise  # untouched parts are kept
    assert len(full.cells()) == len(full.settings) * len(full.networks) == 50
    assert [s.name for s in full.settings] == ["noiseless", "snr-40", "snr-20", "kappa-5", "kappa-50"]
    kappa = full.problem_for(full.settings[4])
    assert (kappa.condition_number, kappa.snr_db, kappa.m, kappa.n) == (50, None, 250, 500)
    assert full.problem_for(full.settings[2]).snr_db == 20
    assert quick.output.dir != full.output.dir


def test_cells_carry_the_network_and_seed(tmp_path: Path) -> None:
    grid = parse_grid(tiny_grid(tmp_path, seeds=[3, 4]))
    cells = grid.cells()
    assert len(cells) == 2 * 2 * 2
    cell = cells[3]
    assert cell.config.name == "noiseless/2no-lista-u/seed4"
    assert cell.config.training.seed == 4 and cell.config.network.tied is False
    assert cell.config.network.layers == 3
    assert cell.run_dir == tmp_path / "noiseless" / "2no-lista-u" / "seed4"
    assert slugify("HNO-LISTA (lm, r=3)") == "hno-lista-lm-r-3"


@pytest.mark.parametrize("change, message", [
    ({"networks": [{"name": "A", "step": "lista"}, {"name": "a", "step": "lista"}]}, "duplicate network"),
    ({"settings": [{"name": "Bad Name"}]}, "lower case"),
    ({"networks": [{"name": "A", "step": "lista", "training": {"validation_size": 5}}]}, "may not override"),
    ({"classical": {"algorithms": ["ista"], "reference": "fista"}}, "reference"),
    ({"bogus": 1}, "unknown key"),
])
def test_bad_grids_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        parse_grid(tiny_grid(tmp_path, **change))


def test_quick_needs_a_quick_block(tmp_path: Path) -> None:
    data = tiny_grid(tmp_path)
    del data["quick"]
    with pytest.raises(ExperimentError, match="quick"):
        parse_grid(data, quick=True)
    assert parse_grid(tiny_grid(tmp_path), quick=True).training.iterations == 4


def test_grid_runs_saves_data_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    grid = parse_grid(tiny_grid(out, seeds=[0, 1]))
    first = run_grid(grid, progress=False)
    assert len(first.trained) == 8 and not first.reused
    results = json.loads((out / "results.json").read_text())
    setting = results["settings"]["noiseless"]
    lista = setting["networks"]["LISTA"]
    assert len(lista["nmse_db"]) == 4 and set(lista["per_seed"]) == {"0", "1"}
    assert lista["final_nmse_db"] == pytest.approx(sum(v[-1] for v in lista["per_seed"].values()) / 2)
    assert len(setting["classical"]["solvers"]["fista"]["nmse_db"]) == 31
    k = lista["reference_iterations"]
    curve = setting["classical"]["solvers"]["fista"]["nmse_db"]
    assert k is None or (curve[k] <= lista["final_nmse_db"] and lista["iterations_saved"] == k - 3)
    for name in ("results.md", "nmse-per-layer.png", "fista-iterations.png", "classical.png"):
        assert (out / name).is_file()
    assert (out / "nmse-per-layer.png").read_bytes()[:4] == b"\x89PNG"
    assert "| LISTA |" in (out / "results.md").read_text()

    # the saved data are tensors loadable without executing code, and are the sets the cells used
    saved = torch.load(out / "noiseless" / "data.pt", weights_only=True)
    assert saved["test_x"].shape == (50, 20) and saved["validation_y"].shape == (40, 10)
    from hno_framework.data import make_test_set
    from hno_framework.problems import build_problem

    cell = grid.cells()[0]
    assert torch.equal(make_test_set(build_problem(cell.config.problem), cell.config).x, saved["test_x"])

    # a second run without --resume refuses to overwrite
    with pytest.raises(ExperimentError, match="--resume"):
        run_grid(grid, progress=False)
    # --resume skips finished cells and retrains only the unfinished one
    (out / "snr-20" / "lista" / "seed1" / "result.json").unlink()
    before = (out / "noiseless" / "lista" / "seed0" / "result.json").read_text()
    again = run_grid(grid, progress=False, resume=True)
    assert again.trained == ["snr-20/lista/seed1"] and len(again.reused) == 7
    assert (out / "noiseless" / "lista" / "seed0" / "result.json").read_text() == before
    # a changed cell config is refused instead of being mixed into the results
    changed = parse_grid(tiny_grid(out, seeds=[0, 1], training={**tiny_grid(out)["training"], "lr": 0.01}))
    with pytest.raises(ExperimentError, match="different config"):
        run_grid(changed, progress=False, resume=True)


def test_killed_stagewise_cell_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    stagewise = {"protocol": "stagewise", "batch_size": 16, "validation_size": 40, "test_size": 50, "lr": 0.002,
                 "threads": 1, "stagewise": {"patience": 10, "max_iterations": 30, "validate_every": 5,
                                             "checkpoint_every": 10}}
    grid = parse_grid(tiny_grid(out, training=stagewise, settings=[{"name": "noiseless"}],
                                networks=[{"name": "2NO-LISTA", "step": "lista", "integrator": "2no"}]))
    cell = grid.cells()[0]
    Trainer(cell.config, progress=False).fit(stop_after=23)  # "killed" after 23 iterations
    run = run_grid(grid, progress=False, resume=True)
    assert run.trained == [cell.config.name]
    result = json.loads((cell.run_dir / "result.json").read_text())
    assert result["resumed"] and result["protocol"] == "stagewise"
    uninterrupted = Trainer(grid.cells()[0].config.model_copy(update={"output": grid.output.model_copy(
        update={"dir": tmp_path / "ref"})}), progress=False)
    uninterrupted.fit()
    assert result["iterations"] == uninterrupted.iteration
    assert [s["stage"] for s in result["history"]] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_unregistered_networks_are_skipped_with_a_warning(tmp_path: Path) -> None:
    networks = [{"name": "LISTA", "step": "lista", "integrator": "euler"},
                {"name": "Future", "step": "no-such-step", "integrator": "euler"},
                {"name": "Later", "step": "lista", "integrator": "no-such-scheme"}]
    grid = parse_grid(tiny_grid(tmp_path / "g", networks=networks, settings=[{"name": "noiseless"}],
                                classical={"enabled": False}))
    with pytest.warns(SkippedNetworkWarning) as record:
        run = run_grid(grid, progress=False)
    messages = " ".join(str(w.message) for w in record)
    assert "'Future'" in messages and "step 'no-such-step' not registered" in messages
    assert "integrator 'no-such-scheme' not registered" in messages
    assert run.trained == ["noiseless/lista/seed0"]
    assert set(run.results["skipped_networks"]) == {"Future", "Later"}
    assert list(run.results["settings"]["noiseless"]["networks"]) == ["LISTA"]


def test_tampered_saved_data_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "g"
    grid = parse_grid(tiny_grid(out, settings=[{"name": "noiseless"}], networks=[tiny_grid(out)["networks"][0]],
                                classical={"enabled": False}))
    run_grid(grid, progress=False)
    path = out / "noiseless" / "data.pt"
    data = torch.load(path, weights_only=True)
    data["test_x"] = data["test_x"] + 1
    torch.save(data, path)
    with pytest.raises(ExperimentError, match="differs"):
        run_grid(grid, progress=False, resume=True)


@pytest.mark.processes
def test_cli_runs_a_grid_and_reports_errors_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(tiny_grid(tmp_path / "out", settings=[{"name": "noiseless"}])))
    runner = CliRunner()
    res = runner.invoke(cli, ["experiment", "synthetic", str(path), "--quick", "--no-progress",
                              "--network", "LISTA"])
    assert res.exit_code == 0, res.output
    assert "1 cells trained" in res.output and "| LISTA |" in res.output
    assert (tmp_path / "out-quick" / "results.json").is_file()  # the quick preset's own folder
    res = runner.invoke(cli, ["experiment", "synthetic", str(path), "--quick", "--no-progress"])
    assert res.exit_code == 2 and "--resume" in res.output and "Traceback" not in res.output
    res = runner.invoke(cli, ["experiment", "synthetic", str(path), "--set", "layers=0"])
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "layers" in res.output
    res = runner.invoke(cli, ["experiment", "synthetic", str(path), "--network", "nope"])
    assert res.exit_code == 2 and "unknown network" in res.output


def test_a_corrupt_cell_result_or_baseline_is_named(tmp_path: Path) -> None:
    from hno_framework.io import CorruptFileError

    grid = parse_grid(tiny_grid(tmp_path / "g", settings=[{"name": "noiseless"}]))
    run_grid(grid, progress=False)
    result = next((tmp_path / "g").rglob("result.json"))
    result.write_bytes(b"\xff{not json")
    with pytest.raises(CorruptFileError, match=r"cell result .*result\.json is corrupt: not UTF-8"):
        run_grid(grid, progress=False, resume=True)
    result.unlink()  # the cell is trained again; now break the baseline
    classical = tmp_path / "g" / "noiseless" / "classical.json"
    classical.write_text("{")
    with pytest.raises(CorruptFileError, match=r"classical baseline .*classical\.json is corrupt: invalid JSON"):
        run_grid(grid, progress=False, resume=True)


def test_fresh_check_counts_cells_and_baselines_apart(tmp_path: Path) -> None:
    grid = parse_grid(tiny_grid(tmp_path / "g", settings=[{"name": "noiseless"}]))
    run_grid(grid, progress=False)
    with pytest.raises(ExperimentError, match=r"2 cell\(s\) and 1 classical baseline\(s\)"):
        run_grid(grid, progress=False)
