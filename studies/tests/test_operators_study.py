"""The whole-image operator study: a tiny run end to end (cells written, report rebuilt from them), its metrics
against plain formulas, and bad configs as one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hno_studies.errors import ExperimentError
from hno_studies.operators import image_metrics, load_operator_study, run_study
from hno_studies.operators_report import paired_difference, write_report

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "operators" / "operators.yaml"


def tiny(tmp_path: Path, cells: str = "[[deblur, Euler], [deblur, 2NO]]"):
    pytest.importorskip("skimage")
    pytest.importorskip("torchmetrics")
    return load_operator_study(CONFIG, [
        "training.iterations=6", "training.validate_every=3", "training.validation_size=8", "test_crops=6", "crop=24",
        f"output.results={tmp_path / 'results'}", f"output.runs={tmp_path / 'runs'}", f"cells={cells}",
        "step.options.width=4", "seeds=[0, 1]",
        'tasks.deblur.transfer=[{title: "σ = 1.2", options: {sigma: 1.2}}, {title: "same", options: {sigma: 1.6}}]'])


def test_a_tiny_study_writes_each_cell_and_a_report(tmp_path: Path) -> None:
    cfg = tiny(tmp_path)
    results = run_study(cfg, resume=False, progress=False, log=lambda m: None)
    assert [(r["network"], r["seed"]) for r in results] == [("Euler", 0), ("2NO", 0), ("Euler", 1), ("2NO", 1)]
    for r in results:
        assert r["test_crops"] == 6 and math.isfinite(r["psnr_db"]) and 0 < r["ssim"] <= 1
        assert r["psnr_ci_db"][0] <= r["psnr_db"] <= r["psnr_ci_db"][1]
        moved, same = r["transfer"]
        assert moved["title"] == "σ = 1.2" and len(moved["psnr_per_crop"]) == 6 and math.isfinite(moved["psnr_db"])
        # the task's own operator as a "transfer": the same crops and noise, so the same numbers as the cell's
        assert same["psnr_db"] == pytest.approx(r["psnr_db"], abs=1e-4)
    assert run_study(cfg, resume=True, progress=False, log=lambda m: None) == [], "finished cells are skipped"
    readme = write_report(cfg)
    text = readme.read_text()
    assert "| 2NO − Euler |" in text and "reconstructions-deblur.png" in text
    assert (readme.parent / "reconstructions-deblur.png").is_file()
    summary = json.loads((readme.parent / "results.json").read_text())
    (comparison,) = summary["comparisons"]
    cells = tmp_path / "results" / "cells" / "deblur"
    a = [np.load(cells / "euler" / f"seed{s}.metrics.npz")["psnr"].astype(np.float64) for s in (0, 1)]
    b = [np.load(cells / "2no" / f"seed{s}.metrics.npz")["psnr"].astype(np.float64) for s in (0, 1)]
    psnr = comparison["psnr_difference_db"]
    assert psnr["mean"] == pytest.approx(float(np.mean((b[0] + b[1]) / 2 - (a[0] + a[1]) / 2)), abs=1e-6)
    same_seed = [float(b[s].mean() - a[s].mean()) for s in (0, 1)]
    assert list(psnr["per_seed"].values()) == pytest.approx(same_seed, abs=1e-5)
    # paired t over S = 2 seeds: d̄ ± t(0.975, 1) · sd / √2, sd = |d₀ − d₁| / √2
    mean, half = sum(same_seed) / 2, 12.706204736174698 * abs(same_seed[0] - same_seed[1]) / 2
    assert psnr["seed_level_ci"] == pytest.approx([mean - half, mean + half], abs=1e-4)
    assert [r["network"] for r in summary["transfer"]] == ["Euler", "2NO", "Euler", "2NO"]
    assert summary["unfinished"] == []


def test_psnr_is_ten_log_one_over_mse() -> None:
    pytest.importorskip("torchmetrics")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 16, 16, generator=g, dtype=torch.float64)
    est = (x + 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    psnr, ssim = image_metrics(est, x)
    for i in range(3):
        mse = float(((est[i] - x[i]) ** 2).mean())
        assert float(psnr[i]) == pytest.approx(10 * math.log10(1 / mse), rel=1e-6)  # torchmetrics: float32 log
    assert torch.all((ssim > 0) & (ssim < 1))
    assert torch.allclose(image_metrics(x, x)[1], torch.ones(3, dtype=torch.float64))


def test_paired_difference_against_plain_numbers() -> None:
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 3.5, 4.5])  # b − a = 0.5, 0, 0.5, 0.5
    out = paired_difference(a, b, resamples=500)
    assert out["mean"] == pytest.approx(0.375) and out["share_higher"] == pytest.approx(0.75)
    assert 0.0 <= out["ci"][0] <= 0.375 <= out["ci"][1] <= 0.5


def test_bad_study_configs_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match=r"cell task 'debulr' is not in tasks"):
        load_operator_study(CONFIG, ["cells=[[debulr, Euler]]"])
    with pytest.raises(ExperimentError, match=r"sigmaa"):
        load_operator_study(CONFIG, ["tasks.deblur.problem.options.sigmaa=2"])
