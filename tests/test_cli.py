"""The `hno` CLI through click's runner (and one real subprocess for start-up cost)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hno_framework.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_json_has_builtins_with_providers() -> None:
    res = run("list", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output) if r["kind"] in ("step", "integrator")}
    for name, kind in [("ista", "step"), ("lista", "step"), ("euler", "integrator"), ("2no", "integrator")]:
        assert rows[name]["kind"] == kind and rows[name]["plugin"] == "hno-framework"
        assert rows[name]["version"] and rows[name]["summary"] and "properties" in rows[name]["options_schema"]
    assert rows["2no"]["order"] == 1 and rows["2no"]["metadata"]["family"] == "multistep"


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich box table, cells stripped; a cell wrapped over several lines is joined."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if rows and not cells[0]:  # continuation of the row above
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return rows


def test_list_tables() -> None:
    from hno_framework.registry import get_registry

    reg = get_registry()
    steps = {r[0]: r for r in table_rows(run("list", "steps").output)}
    assert set(steps) == set(reg.names("step"))
    assert steps["lista"][1:4] == ["step", "hno-framework", "0.1.0"] and steps["lista"][4] == "tieable: W; requires: matrix"
    assert steps["ista"][4] == "" and steps["lista"][5].startswith("LISTA layer")
    integrators = {r[0]: r for r in table_rows(run("list", "integrators").output)}
    assert set(integrators) == set(reg.names("integrator"))
    assert integrators["2no"][4] == "multistep, past_states=2, stages=1, order=1, learnable"
    assert integrators["euler"][4] == "one-step, past_states=1, stages=1, order=1"
    assert integrators["rk4"][4] == "runge-kutta, past_states=1, stages=4, order=4"
    problems = {r[0]: r for r in table_rows(run("list", "problems").output)}
    assert set(problems) == set(reg.names("problem")) and {"lasso", "blur", "mri", "image-inpainting"} <= set(problems)
    assert problems["lasso"][1:5] == ["problem", "hno-framework", "0.1.0", "matrix Φ, vector"]
    assert problems["blur"][4].startswith("matrix-free, image; options: size, channels")
    everything = {(r[0], r[1]) for r in table_rows(run("list", "all").output)}
    assert {(n, "step") for n in steps} | {(n, "integrator") for n in integrators} <= everything
    plugins = {r[2]: r for r in table_rows(run("list", "plugins").output)}
    builtin = plugins["builtin-steps = hno_plugins.steps"]
    assert builtin[0] == "hno-framework" and builtin[4] == "ok"
    assert set(builtin[3].replace(" ", "").split(",")) == {
        "ista", "lista", "lista-cs", "glista", "ista-net", "alista", "liht", "lamp", "lista-cpss", "learned-pg", "hqs-cnn"}


def test_show() -> None:
    res = run("show", "2no")
    assert res.exit_code == 0 and "alpha_init" in res.output and "seed eq. 11" in res.output
    res = run("show", "lsta")
    assert res.exit_code == 2 and "Did you mean 'lista'" in res.output and "Traceback" not in res.output


def test_compose_and_misspelt_step(tiny_config) -> None:
    path = tiny_config()
    res = run("compose", str(path))
    assert res.exit_code == 0 and "learnable parameters" in res.output and "TwoNO" in res.output
    res = run("compose", str(path), "--set", "network.step=lsta")
    assert res.exit_code == 2
    assert res.output.startswith("Error: unknown step 'lsta'. Did you mean 'lista'?")
    assert len(res.output.strip().splitlines()) == 1


def test_bad_input_is_one_line() -> None:
    for args in (["compose", "missing.yaml"], ["eval", "missing.pt"], ["train", "missing.toml"]):
        res = run(*args)
        assert res.exit_code == 2 and res.output.startswith("Error:") and len(res.output.strip().splitlines()) == 1


@pytest.mark.processes
def test_train_eval_compare(tiny_config, tmp_path) -> None:
    path = tiny_config(iterations=10)
    res = run("train", str(path), "--no-progress")
    assert res.exit_code == 0 and "test NMSE" in res.output
    ckpt = tmp_path / "runs" / "tiny" / "best.pt"
    res = run("eval", str(ckpt), "--json")
    report = json.loads(res.output)
    assert report["integrator"] == "2no" and len(report["nmse_db"]) == 4
    res = run("train", str(path), "--no-progress", "--resume", "--set", "training.iterations=15", "--json")
    assert json.loads(res.output)["iterations"] == 15
    other = tiny_config("euler-tiny", integrator="euler", iterations=10)
    before = ckpt.read_bytes()
    res = run("compare", str(path), str(other), "--no-progress")  # "tiny" holds the run trained above
    assert res.exit_code == 2 and ckpt.read_bytes() == before and not (tmp_path / "runs" / "euler-tiny").exists()
    assert f"{tmp_path / 'runs' / 'tiny'} (last.pt, best.pt, metrics.json)" in res.output and "--force" in res.output
    res = run("compare", str(path), str(other), "--no-progress", "--force", "--json", str(tmp_path / "c.json"),
              "--plot", str(tmp_path / "c.png"))
    assert res.exit_code == 0 and "euler-tiny" in res.output
    assert len(json.loads((tmp_path / "c.json").read_text())) == 2
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    res = run("compare", str(other), "--no-progress", "--sweep", "network.integrator=euler,heun",
              "--set", "training.iterations=3", "--json", str(tmp_path / "s.json"))
    assert res.exit_code == 0, res.output
    swept = json.loads((tmp_path / "s.json").read_text())
    assert [r["name"] for r in swept] == ["euler-tiny-euler", "euler-tiny-heun"]
    assert swept[0]["test_nmse_db"] != swept[1]["test_nmse_db"]


@pytest.mark.processes
def test_help_does_not_import_torch_or_plugins() -> None:
    code = ("import sys; from hno_framework.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('hno_plugins')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
