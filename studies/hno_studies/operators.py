"""The whole-image operator study: one DUN step (``learned-pg`` by default) under several integrators, trained
identically on matrix-free problems (deblurring, MRI), evaluated by PSNR and SSIM on crops of held-out photographs.

A *cell* is one network (an integrator) on one task with one training seed. Each finished cell writes
``<results>/cells/<task>/<network slug>/seed<k>.json`` at once: the cost, the training summary and the per-crop
PSNR and SSIM of the test crops (``.metrics.npz``) with the measurement's own PSNR/SSIM as the reference row, and
the same network evaluated at call time on the task's ``transfer`` operators (another blur kernel, another
k-space mask: ``net(y, problem=other)``); a half-trained cell resumes from ``<runs>/<task>/<slug>/seed<k>/last.pt``.
The report (:mod:`.operators_report`) is rebuilt from the cell files alone.

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


class TransferSpec(_Strict):
    """Another operator of the task's kind the trained networks are evaluated on (never trained on)."""

    title: str
    options: dict[str, Any] = Field(default_factory=dict, description="problem options over the task's own")
    seed: int | None = Field(None, ge=0, description="problem seed (e.g. another random mask); None: the task's")


class TaskSpec(_Strict):
    title: str
    problem: dict[str, Any] = Field(description="a problem block: kind, lam, options (images and crop are added)")
    transfer: list[TransferSpec] = Field(default_factory=list)


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
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="training seeds, run seed by seed")
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
            config = experiment_config(cfg, task, network, cfg.seeds[0])
            for spec in cfg.tasks[task].transfer:
                transfer_config(config, spec)
    return cfg


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def cell_paths(cfg: OperatorStudyConfig, task: str, network: str, seed: int) -> tuple[Path, Path]:
    """(result JSON, run folder) of a cell."""
    return (cfg.output.results / "cells" / task / slug(network) / f"seed{seed}.json",
            cfg.output.runs / task / slug(network) / f"seed{seed}")


def experiment_config(cfg: OperatorStudyConfig, task: str, network: str, seed: int) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of a cell: the task's problem on crops of the study's photographs, the study's
    step under the network's integrator (untied), the study's training."""
    spec = cfg.tasks[task]
    problem = dict(spec.problem)
    options = {**problem.get("options", {}), "size": cfg.crop, "train_images": cfg.images.train,
               "test_images": cfg.images.test, "downscale": cfg.images.downscale}
    _, run_dir = cell_paths(cfg, task, network, seed)
    data = {
        "name": run_dir.name,
        "problem": {**problem, "options": options},
        "network": {"step": cfg.step, "integrator": cfg.networks[network], "layers": cfg.layers, "tied": False},
        "training": {**cfg.training, "test_size": cfg.test_crops, "seed": seed},
        "output": {"dir": str(run_dir.parent)},
    }
    from hno_framework.problems import problem_kind

    try:
        config = parse_config(data, f"operator study cell {task}/{network}")
        problem_kind(config.problem)  # the kind exists and its options are valid
    except ConfigError as err:
        raise ExperimentError(f"task '{task}': {err}") from None
    return config


def transfer_config(config: ExperimentConfig, spec: TransferSpec) -> ExperimentConfig:
    """``config`` with the problem of a transfer operator: its options over the task's, its seed if given."""
    from hno_framework.problems import problem_kind

    problem = config.problem.model_copy(update={"options": {**config.problem.options, **spec.options},
                                                **({"seed": spec.seed} if spec.seed is not None else {})})
    try:
        problem_kind(problem)
    except ConfigError as err:
        raise ExperimentError(f"transfer '{spec.title}': {err}") from None
    return config.model_copy(update={"problem": problem})


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
def evaluate_cell(net: Any, test: SignalBatch, chunk: int = 64, problem: Any = None) -> dict[str, Tensor]:
    """Per test crop: the network's PSNR and SSIM, the measurement's, and the estimates ``(N, C, H, W)``; with
    ``problem``, the network runs on that operator at call time (``test`` measured through it)."""
    net.eval()
    estimates = torch.cat([net(test.y[i:i + chunk], problem=problem) for i in range(0, len(test), chunk)])
    shown = measurement_image(problem or net.problem, test.y)
    psnr, ssim = image_metrics(estimates, test.x)
    m_psnr, m_ssim = image_metrics(shown, test.x)
    return {"psnr": psnr, "ssim": ssim, "measurement_psnr": m_psnr, "measurement_ssim": m_ssim,
            "estimates": estimates, "measurement": shown}


def evaluate_transfer(cfg: OperatorStudyConfig, task: str, net: Any, config: ExperimentConfig) -> list[dict[str, Any]]:
    """The trained network on each transfer operator of the task: the task's own test crops (the same images and noise
    draws as the main evaluation) measured through that operator; mean PSNR and SSIM with bootstrap intervals, and
    the per-crop values."""
    from hno_framework.data import make_test_set
    from hno_framework.problems import build_problem

    rows = []
    for spec in cfg.tasks[task].transfer:
        other_cfg = transfer_config(config, spec)
        other = build_problem(other_cfg.problem).to(net.problem.dtype)
        test = make_test_set(other, config)  # the task's own test crops and noise draws, measured through `other`
        metrics = evaluate_cell(net, test, problem=other)
        psnr, ssim = metrics["psnr"].numpy(), metrics["ssim"].numpy()
        rows.append({"title": spec.title, "options": spec.options, "seed": spec.seed,
                     "psnr_db": float(psnr.mean()), "psnr_ci_db": bootstrap_mean(psnr, cfg.bootstrap_resamples),
                     "ssim": float(ssim.mean()), "ssim_ci": bootstrap_mean(ssim, cfg.bootstrap_resamples),
                     "measurement_psnr_db": float(metrics["measurement_psnr"].mean()),
                     "psnr_per_crop": psnr.astype(float).tolist(), "ssim_per_crop": ssim.astype(float).tolist()})
    return rows


def run_cell(cfg: OperatorStudyConfig, task: str, network: str, seed: int = 0, *, resume: bool,
             progress: bool = False) -> dict[str, Any]:
    """Train one cell (resuming from its ``last.pt`` when asked and present), evaluate it on the test crops and on
    the task's transfer operators, and write its result JSON and per-crop metrics; returns the result."""
    from hno_framework.api import train
    from hno_framework.checkpoint import load_network
    from hno_framework.data import make_test_set

    result_path, run_dir = cell_paths(cfg, task, network, seed)
    config = experiment_config(cfg, task, network, seed)
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
        "task": task, "network": network, "seed": seed, "step": cfg.step, "integrator": cfg.networks[network],
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
        "transfer": evaluate_transfer(cfg, task, net, config),
    }
    if not math.isfinite(result["psnr_db"]):
        raise ExperimentError(f"cell {task}/{network}: the test PSNR is not finite")
    write_json(result_path, result)
    return result


def add_missing_transfer(cfg: OperatorStudyConfig, log: Any = print) -> int:
    """Evaluate every finished cell that lacks a transfer operator of its task on it (from the cell's ``best.pt``,
    when it is still in the runs folder) and rewrite its result JSON; returns the number of cells updated."""
    from hno_framework.checkpoint import load_network

    updated = 0
    for (task, network), results in finished_cells(cfg).items():
        for res in results:
            if len(res.get("transfer", [])) == len(cfg.tasks[task].transfer):
                continue
            path, run_dir = cell_paths(cfg, task, network, int(res.get("seed", 0)))
            if not (run_dir / "best.pt").is_file():
                log(f"cell {task}/{network}: no {run_dir / 'best.pt'} to evaluate its transfer operators from")
                continue
            net, config = load_network(run_dir / "best.pt")
            clean = {k: v for k, v in res.items() if not k.startswith("_")}
            write_json(path, {**clean, "transfer": evaluate_transfer(cfg, task, net, config)})
            updated += 1
    return updated


def finished_cells(cfg: OperatorStudyConfig) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every finished cell's result by (task, network), in seed order (each with ``_metrics``: the path of its
    per-crop metrics, ``_examples``: of its example reconstructions)."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for task, network in cfg.cells:
        for seed in cfg.seeds:
            path, _ = cell_paths(cfg, task, network, seed)
            if path.is_file():
                out.setdefault((task, network), []).append({
                    **read_json(path, "operator study cell"), "_metrics": path.with_suffix(".metrics.npz"),
                    "_examples": path.with_suffix(".examples.pt")})
    return out


def run_study(cfg: OperatorStudyConfig, *, resume: bool, progress: bool, log: Any = print) -> list[dict[str, Any]]:
    """Train and evaluate every unfinished cell, seed by seed in the config's cell order, writing each at once;
    returns the new results."""
    results = []
    for seed in cfg.seeds:
        for task, network in cfg.cells:
            if cell_paths(cfg, task, network, seed)[0].is_file():
                continue
            res = run_cell(cfg, task, network, seed, resume=resume, progress=progress)
            log(f"cell {task}/{network}/seed{seed}: PSNR {res['psnr_db']:.2f} dB [{res['psnr_ci_db'][0]:.2f}, "
                f"{res['psnr_ci_db'][1]:.2f}], SSIM {res['ssim']:.4f}, {res['core_hours']:.3f} core-h")
            results.append(res)
    return results
