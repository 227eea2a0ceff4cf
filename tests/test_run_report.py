"""``hno report``: one self-contained HTML page (embedded figures, nothing fetched) with the run's own numbers."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hno_framework.checkpoint import save_checkpoint
from hno_framework.cli import cli
from hno_framework.composer import compose
from hno_framework.config import parse_config
from hno_framework.inspection import inspect_checkpoint
from hno_framework.run_report import find_runs, write_report


def _run(tmp_path: Path, name: str, integrator: str = "2no") -> Path:
    """A run folder with a perturbed checkpoint and a metrics.json history, as training leaves them."""
    cfg = parse_config({
        "name": name, "problem": {"kind": "lasso", "m": 10, "n": 20, "sparsity": 0.2, "seed": 3},
        "network": {"step": "lista", "integrator": integrator, "layers": 3},
        "training": {"test_size": 48, "validation_size": 16}, "output": {"dir": str(tmp_path / "exp")},
    })
    net = compose(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.05)
    save_checkpoint(cfg.run_dir / "best.pt", {"config": cfg.model_dump(mode="json"), "model": net.state_dict()})
    history = [{"iteration": i, "loss": 1.0 / i, "validation_nmse_db": -float(i)} for i in (10, 20, 30)]
    (cfg.run_dir / "metrics.json").write_text(json.dumps({
        "name": name, "iterations": 30, "seconds": 1.5, "learnable_parameters": 123, "protocol": "end-to-end",
        "best_validation_nmse_db": -30.0, "history": history}))
    return cfg.run_dir


def _self_contained(page: str) -> list[bytes]:
    """The decoded embedded PNGs; fails on any resource the page would fetch."""
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page), "the page must not fetch anything"
    assert "<script" not in page and "@import" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    decoded = [base64.b64decode(i) for i in images]
    assert all(d.startswith(b"\x89PNG\r\n\x1a\n") for d in decoded)
    return decoded


def test_report_of_a_run(tmp_path: Path) -> None:
    run = _run(tmp_path, "one")
    out = write_report(run, resamples=100)
    assert out == run / "report.html"
    page = out.read_text()
    assert len(_self_contained(page)) == 3  # NMSE, learned coefficients, training curves
    inspection = inspect_checkpoint(run, resamples=100)
    for v in inspection.nmse_db[1:]:
        assert f"<td>{v:.2f}</td>" in page
    assert f"{inspection.coefficients['alpha'][1]:.4g}" in page and "euler" in page
    assert "<td>iterations per second</td><td>20.0</td>" in page  # 30 iterations in 1.5 s
    assert "integrator:" in page and "name: 2no" in page  # the config
    assert "torch_threads" in page  # the machine


def test_report_of_an_experiment_folder(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "a"), _run(tmp_path, "b", integrator="euler")]
    assert find_runs(tmp_path / "exp") == runs
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "exp"), "-o", str(tmp_path / "r.html"), "--test-size", "32"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "<h2>Overview</h2>" in page and 'id="a"' in page and 'id="b"' in page
    assert len(_self_contained(page)) == 1 + 2 * 3
    missing = CliRunner().invoke(cli, ["report", str(tmp_path)  + "/nothing"])
    assert missing.exit_code == 2


@pytest.mark.processes
@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    """The page renders with its figures in a real browser (needs chromium; apt-get install chromium)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no chromium on PATH")
    import matplotlib.image

    page = write_report(_run(tmp_path, "shown"), resamples=100)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1600", page.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(str(shot))[..., :3]  # (1600, 1200, 3)
    # the figures are drawn: many pixels of the plot lines' colours (matplotlib's blue), not a blank page
    blue = (abs(pixels[..., 0] - 0.12) < 0.08) & (abs(pixels[..., 1] - 0.47) < 0.08) & (abs(pixels[..., 2] - 0.71) < 0.08)
    assert blue.sum() > 500, blue.sum()


def test_report_says_when_a_run_never_improved(tmp_path: Path) -> None:
    good, bad = _run(tmp_path, "good"), _run(tmp_path, "bad")
    for run, improved in ((good, True), (bad, False)):
        metrics = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**metrics, "improved": improved}))
    page = write_report(tmp_path / "exp", resamples=100).read_text()
    good_part, bad_part = page.split('<h2 id="good">')[1], page.split('<h2 id="bad">')[1].split('<h2 id="good">')[0]
    assert "never improved on its initial validation NMSE" in bad_part and "exited with status 2" in bad_part
    assert "never improved" not in good_part.split("<h2")[0]
    assert re.search(r"<td>improved on the initial network</td><td>no</td>", bad_part)
    assert re.search(r"<td>improved on the initial network</td><td>yes</td>", good_part)
    overview = page.split("<h2>Overview</h2>")[1].split('<h2 id=')[0]
    assert re.search(r"<td>bad</td>(<td>[^<]*</td>){6}<td>no</td>", overview)


def test_report_of_a_warm_start_that_never_improved_does_not_claim_an_exit_status(tmp_path: Path) -> None:
    run = _run(tmp_path, "warm")
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "improved": False}))
    checkpoint = torch.load(run / "best.pt", weights_only=True)  # the report reads the config from the checkpoint
    checkpoint["config"]["training"]["init_from"] = "runs/base/best.pt"
    save_checkpoint(run / "best.pt", checkpoint)
    page = write_report(run, resamples=100).read_text()
    assert "never improved on its initial validation NMSE" in page and "a warm start" in page
    assert "exited with status 2" not in page
