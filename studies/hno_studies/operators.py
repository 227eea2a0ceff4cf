"""The whole-image operator study: one DUN step (``learned-pg`` by default) under several integrators, trained
identically on matrix-free problems (deblurring, MRI), evaluated by PSNR and SSIM on crops of held-out photographs.

A *cell* is one network (an integrator) on one task. Each finished cell writes
``<results>/cells/<task>/<network slug>.json`` at once: the cost, the training summary and the per-crop PSNR and
SSIM of the test crops (``.metrics.npz``) with the measurement's own PSNR/SSIM as the reference row; a half-trained
cell resumes from ``<runs>/<task>/<slug>/last.pt``. The report (:mod:`.operators_report`) is rebuilt from the
cell files alone.

PSNR and SSIM come from torchmetrics (data range 1, images in [0, 1]; estimates clamped to [0, 1] first).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import Tensor

from hno_framework.config import ExperimentConfig, Layers, parse_config, read_mapping
from hno_framework.errors import ConfigError
from hno_framework.io import read_json, write_json
from hno_framework.problems.base import SignalBatch

from .errors import ExperimentError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImagesSpec(_Strict):
    train: list[str] = Field(min_length=1, description="photographs for training and validation crops")
    test: list[str] = Field(min_length=1, description="photographs for the test crops (none in train)")
    downscale: PositiveInt = 1


class TaskSpec(_Strict):
    title: str
    problem: dict[str, Any] = Field(description="a problem block: kind, lam, options (images and crop are added)")


class Output(_Strict):
    results: Path = Path("docs/results/operators")
    runs: Path = Path("runs/operators")


class OperatorStudyConfig(_Strict):
    """Tasks (matrix-free problems), one step, networks (name -> integrator), identical training, test crops."""

    name: str = "operators"
    layers: Layers = 8
    images: ImagesSpec
    crop: PositiveInt = 48
    tasks: dict[str, TaskSpec]
    step: dict[str, Any] = Field(default_factory=lambda: {"name": "learned-pg"})
    networks: dict[str, str] = Field(description="network name -> integrator name")
    training: dict[str, Any] = Field(default_factory=dict)
    test_crops: PositiveInt = 256
    bootstrap_resamples: PositiveInt = 2000
    cells: list[tuple[str, str]]
    output: Output = Field(default_factory=Output)


def load_operator_study(path: str | Path, overrides: list[str] | None = None) -> OperatorStudyConfig:
    from pydantic import ValidationError

    from hno_framework.config import apply_overrides, format_validation_error

    data = apply_overrides(read_mapping(Path(path)), overrides or [])
    try:
        cfg = OperatorStudyConfig.model_validate(data)
    except ValidationError as err:
        raise ExperimentError(format_validation_error(err, str(path), "operator study config", model=OperatorStudyConfig)) from None
    for task, network in cfg.cells:
        if task not in cfg.tasks:
            raise ExperimentError(f"{path}: cell task '{task}' is not in tasks ({', '.join(cfg.tasks)})")
        if network not in cfg.networks:
            raise ExperimentError(f"{path}: cell network '{network}' is not in networks ({', '.join(cfg.networks)})")
    for task in cfg.tasks:  # every task's experiment config must be valid before anything trains
        for network in cfg.networks:
            experiment_config(cfg, task, network)
    return cfg


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def cell_paths(cfg: OperatorStudyConfig, task: str, network: str) -> tuple[Path, Path]:
    """(result JSON, run folder) of a cell."""
    return cfg.output.results / "cells" / task / f"{slug(network)}.json", cfg.output.runs / task / slug(network)


def experiment_config(cfg: OperatorStudyConfig, task: str, network: str) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of a cell: the task's problem on crops of the study's photographs, the study's
    step under the network's integrator (untied), the study's training."""
    spec = cfg.tasks[task]
    problem = dict(spec.problem)
    options = {**problem.get("options", {}), "size": cfg.crop, "train_images": cfg.images.train,
               "test_images": cfg.images.test, "downscale": cfg.images.downscale}
    _, run_dir = cell_paths(cfg, task, network)
    data = {
        "name": run_dir.name,
        "problem": {**problem, "options": options},
        "network": {"step": cfg.step, "integrator": cfg.networks[network], "layers": cfg.layers, "tied": False},
        "training": {**cfg.training, "test_size": cfg.test_crops},
        "output": {"dir": str(run_dir.parent)},
    }
    from hno_framework.problems import problem_kind

    try:
        config = parse_config(data, f"operator study cell {task}/{network}")
        problem_kind(config.problem)  # the kind exists and its options are valid
    except ConfigError as err:
        raise ExperimentError(f"task '{task}': {err}") from None
    return config


# -- evaluation -------------------------------------------------------------------------------------------------

def image_metrics(estimate: Tensor, truth: Tensor) -> tuple[Tensor, Tensor]:
    """Per image PSNR (dB) and SSIM of ``estimate`` against ``truth``, both ``(N, C, H, W)`` in [0, 1] (the estimate
    clamped to [0, 1]), with torchmetrics (data range 1, Gaussian 11 × 11 window σ = 1.5)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    est, ref = estimate.detach().double().clamp(0.0, 1.0), truth.detach().double()
    psnr = peak_signal_noise_ratio(est, ref, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(est, ref, data_range=1.0, reduction="none")
    assert isinstance(psnr, Tensor) and isinstance(ssim, Tensor)
    return psnr.reshape(-1), ssim.reshape(-1)


def measurement_image(problem: Any, y: Tensor) -> Tensor:
    """What a reader sees of the measurement: ``y`` itself when it is an image of the signal's shape (blur, masks;
    unobserved pixels as 0), else the adjoint ``Aᵀ y`` (MRI: the zero-filled reconstruction)."""
    values, mask = problem.split_measurements(y)
    if tuple(values.shape[1:]) == tuple(problem.signal_shape):
        return values
    with torch.no_grad():
        return problem.adjoint(values, mask)


def bootstrap_mean(values: np.ndarray, resamples: int, seed: int = 0) -> list[float]:
    """95 % percentile-bootstrap interval of the mean of ``values`` (over test crops)."""
    g = np.random.default_rng(seed)
    means = values[g.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


@torch.no_grad()
def evaluate_cell(net: Any, test: SignalBatch, chunk: int = 64) -> dict[str, Tensor]:
    """Per test crop: the network's PSNR and SSIM, the measurement's, and the estimates ``(N, C, H, W)``."""
    net.eval()
    estimates = torch.cat([net(test.y[i:i + chunk]) for i in range(0, len(test), chunk)])
    shown = measurement_image(net.problem, test.y)
    psnr, ssim = image_metrics(estimates, test.x)
    m_psnr, m_ssim = image_metrics(shown, test.x)
    return {"psnr": psnr, "ssim": ssim, "measurement_psnr": m_psnr, "measurement_ssim": m_ssim,
            "estimates": estimates, "measurement": shown}


def run_cell(cfg: OperatorStudyConfig, task: str, network: str, *, resume: bool, progress: bool = False) -> dict[str, Any]:
    """Train one cell (resuming from its ``last.pt`` when asked and present), evaluate it on the test crops and
    write its result JSON and per-crop metrics; returns the result."""
    from hno_framework.api import train
    from hno_framework.checkpoint import load_network
    from hno_framework.data import make_test_set

    result_path, run_dir = cell_paths(cfg, task, network)
    config = experiment_config(cfg, task, network)
    cpu, wall = time.process_time(), time.time()
    resume = resume and (run_dir / "last.pt").is_file()
    trained = train(config, resume=resume, progress=progress)
    net, _ = load_network(run_dir / "best.pt")
    test = make_test_set(net.problem, config)
    metrics = evaluate_cell(net, test)
    result_path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {k: v.numpy().astype(np.float32) for k, v in metrics.items()
                              if k not in ("estimates", "measurement")}
    np.savez_compressed(result_path.with_suffix(".metrics.npz"), **arrays)
    torch.save({"x": test.x[:4].float(), "measurement": metrics["measurement"][:4].float(),
                "estimate": metrics["estimates"][:4].float()}, result_path.with_suffix(".examples.pt"))
    psnr, ssim = metrics["psnr"].numpy(), metrics["ssim"].numpy()
    result: dict[str, Any] = {
        "task": task, "network": network, "step": cfg.step, "integrator": cfg.networks[network],
        "layers": cfg.layers, "test_crops": len(test), "crop": cfg.crop,
        "psnr_db": float(psnr.mean()), "psnr_ci_db": bootstrap_mean(psnr, cfg.bootstrap_resamples),
        "ssim": float(ssim.mean()), "ssim_ci": bootstrap_mean(ssim, cfg.bootstrap_resamples),
        "measurement_shown": "y" if tuple(test.y.shape[1:]) == tuple(net.problem.signal_shape) else "Aᵀy (zero-filled)",
        "measurement_psnr_db": float(metrics["measurement_psnr"].mean()),
        "measurement_ssim": float(metrics["measurement_ssim"].mean()),
        "best_validation_nmse_db": trained.best_validation_nmse_db, "iterations": trained.iterations,
        "learnable_parameters": trained.learnable_parameters,
        "core_hours": (time.process_time() - cpu) / 3600.0, "wall_hours": (time.time() - wall) / 3600.0,
        "resumed": resume, "training": config.training.model_dump(mode="json"),
    }
    if not math.isfinite(result["psnr_db"]):
        raise ExperimentError(f"cell {task}/{network}: the test PSNR is not finite")
    write_json(result_path, result)
    return result


def finished_cells(cfg: OperatorStudyConfig) -> dict[tuple[str, str], dict[str, Any]]:
    """Every finished cell's result (with ``_metrics``: the path of its per-crop metrics)."""
    out = {}
    for task, network in cfg.cells:
        path, _ = cell_paths(cfg, task, network)
        if path.is_file():
            out[(task, network)] = {**read_json(path, "operator study cell"), "_metrics": path.with_suffix(".metrics.npz"),
                                    "_examples": path.with_suffix(".examples.pt")}
    return out


def run_study(cfg: OperatorStudyConfig, *, resume: bool, progress: bool, log: Any = print) -> list[dict[str, Any]]:
    """Train and evaluate every unfinished cell in order, writing each at once; returns the new results."""
    done = finished_cells(cfg)
    results = []
    for task, network in cfg.cells:
        if (task, network) in done:
            continue
        res = run_cell(cfg, task, network, resume=resume, progress=progress)
        log(f"cell {task}/{network}: PSNR {res['psnr_db']:.2f} dB [{res['psnr_ci_db'][0]:.2f}, {res['psnr_ci_db'][1]:.2f}], "
            f"SSIM {res['ssim']:.4f}, {res['core_hours']:.3f} core-h")
        results.append(res)
    return results
