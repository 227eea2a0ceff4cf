"""Runs an image study cell by cell: :func:`run_cell` for one cell, :func:`run_study` for all of them.

:func:`run_cell` is self-contained (it takes the study config and one :class:`ImageCell`, loads
the images itself and writes ``<output.dir>/<setting>/<network>/result.json``), so the cells of
:meth:`ImageStudyConfig.cells` can be handed to any executor. A network cell is trained with
:func:`hno_framework.train` (``resume`` continues from its ``last.pt``); the ISTA cell
tunes λ on validation patches. Both then reconstruct every test image
(:func:`~hno_studies.image_eval.reconstruct`) and store the PSNR, its bootstrap
interval over ``p × p`` blocks, the block errors (for paired intervals in the report) and the
reconstructions (``reconstructions.pt``, float32 images in [0, 255]).

:func:`run_study` runs the unfinished cells in order (a finished cell, whose ``result.json`` has
the cell's fingerprint, is skipped; one made with another config is an error, or with ``resume``
recomputed, its training continuing from ``last.pt``: e.g. another ``evaluation.stride`` costs no
training), then writes the report (:mod:`.image_report`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from hno_framework.checkpoint import load_network
from hno_framework.composer import compose
from hno_framework.config import parse_config
from hno_framework.data import VALIDATION_OFFSET
from hno_framework.evaluation import nmse_per_layer
from hno_framework.executors import Executor, SerialExecutor
from hno_framework.images.quality import bootstrap_psnr
from hno_framework.io import atomic_write, read_json, write_json
from hno_framework.network import UnrolledNetwork, count_learnable
from hno_framework.problems import fixed_set, make_sampler
from hno_framework.progress import progress_bar
from hno_framework.training import apply_threads

from .errors import ExperimentError
from .grid import deep_merge
from .image_eval import ImageReconstruction, reconstruct
from .image_study import RECONSTRUCTIONS_FILE, RESULT_FILE, ImageCell, ImageStudyConfig, mask_seed, study_images


def tune_ista(study: ImageStudyConfig, cell: ImageCell) -> tuple[UnrolledNetwork, dict[str, Any]]:
    """ISTA with the λ of ``study.ista.lambdas`` that has the lowest validation NMSE (patches of the training images)."""
    base = cell.config.model_dump(mode="json")
    validation = None
    table: dict[float, float] = {}
    nets: dict[float, UnrolledNetwork] = {}
    for lam in study.ista.lambdas:
        cfg = parse_config(deep_merge(base, {"problem": {"lam": lam}}), f"ISTA λ={lam}")
        net = compose(cfg)
        if validation is None:
            validation = fixed_set(make_sampler(net.problem, cfg.problem), study.ista.tune_size,
                                   cfg.problem.seed + VALIDATION_OFFSET)
        table[lam] = nmse_per_layer(net, validation)[-1]
        nets[lam] = net
    best = min(table, key=lambda lam: table[lam])
    return nets[best], {"lam": best, "validation_nmse_db": {f"{k:g}": v for k, v in table.items()},
                        "iterations": study.ista.iterations}


def run_cell(study: ImageStudyConfig, cell: ImageCell, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train (or tune) and evaluate one cell; writes and returns its result (module docstring)."""
    start = time.perf_counter()
    _, test_images = study_images(study)
    info: dict[str, Any]
    if cell.baseline:
        net, info = tune_ista(study, cell)
        info["learnable_parameters"] = 0
    else:
        from hno_framework.api import train

        fit = train(cell.config, resume=resume and (cell.run_dir / "last.pt").is_file(), progress=progress)
        net, _ = load_network(cell.run_dir / "best.pt")
        info = {"best_validation_nmse_db": fit.best_validation_nmse_db, "iterations": fit.iterations,
                "train_seconds": fit.seconds, "learnable_parameters": count_learnable(net)}
    missing = study.problem.missing_ratio if study.task == "inpainting" else None
    if study.task == "inpainting" and missing is None:
        raise ExperimentError("inpainting needs problem.missing_ratio (the seed: 0.5)")
    recs: list[ImageReconstruction] = [
        reconstruct(net, im, patch=study.patch, stride=study.stride, missing_ratio=missing, mask_seed=mask_seed(study, im.name))
        for im in test_images
    ]
    result = {
        "setting": cell.setting,
        "network": cell.network,
        "baseline": cell.baseline,
        "step": cell.config.network.step.name,
        "integrator": cell.config.network.integrator.name,
        "layers": cell.config.network.layers,
        "m": cell.config.problem.m,
        "n": cell.config.problem.n,
        "psnr_db": {r.name: r.psnr_db for r in recs},
        "psnr_interval_db": {r.name: bootstrap_psnr(r.block_mse, resamples=study.evaluation.bootstrap,
                                                    seed=study.evaluation.seed) for r in recs},
        "image_shapes": {r.name: list(r.original.shape) for r in recs},
        "block_mse": {r.name: [float(f"{v:.6g}") for v in r.block_mse.tolist()] for r in recs},
        **info,
        "wall_seconds": time.perf_counter() - start,
        "fingerprint": study.cell_fingerprint(cell),
    }
    cell.run_dir.mkdir(parents=True, exist_ok=True)
    payload = {r.name: r.estimate.float() for r in recs}
    atomic_write(cell.run_dir / RECONSTRUCTIONS_FILE, lambda fh: torch.save(payload, fh))
    write_json(cell.run_dir / RESULT_FILE, result)
    return result


def finished(study: ImageStudyConfig, cell: ImageCell) -> dict[str, Any] | None:
    """The saved result of ``cell`` (None when it has none); raises when it was made by another config."""
    path = cell.run_dir / RESULT_FILE
    if not path.is_file():
        return None
    result = read_json(path, "cell result")
    if result.get("fingerprint") != study.cell_fingerprint(cell):
        raise ExperimentError(f"{path} was computed with a different config of cell {cell.config.name}; "
                              "pass --resume to recompute it (its training continues from last.pt, so a changed "
                              "evaluation costs no training), use another output.dir, or delete that cell's folder")
    return result


@dataclass
class StudyRun:
    """What :func:`run_study` did: every cell's result, the cells computed now and those reused."""

    results: list[dict[str, Any]]
    computed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run_cell_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Executor job: cell ``payload["index"]`` of the study ``payload["study"]`` (a config dict), via :func:`run_cell`."""
    study = ImageStudyConfig.model_validate(payload["study"])
    return run_cell(study, study.cells()[payload["index"]], resume=payload["resume"], progress=payload["progress"])


def run_study(study: ImageStudyConfig, *, resume: bool = False, progress: bool = True, quick: bool = False,
              command: str | None = None, log: Callable[[str], None] | None = None,
              executor: Executor | None = None) -> StudyRun:
    """Run every unfinished cell of ``study`` on ``executor`` (default: serially, in this process), then write
    the report of every finished cell into ``output.dir``. A failing cell is reported; the others finish."""
    log = log or tqdm.write
    executor = executor or SerialExecutor()
    started = time.perf_counter()
    apply_threads(study.training.threads)
    study_images(study)  # fail early on a bad split
    out = Path(study.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "study.json", study.model_dump(mode="json"))
    cells = study.cells()
    run = StudyRun(results=[])
    results: dict[str, dict[str, Any]] = {}
    jobs = []
    for index, cell in enumerate(cells):
        try:
            done = finished(study, cell)
        except ExperimentError:
            if not resume:
                raise
            done = None  # a result of another config: recompute it (training resumes from last.pt)
        if done is not None:
            run.reused.append(cell.config.name)
            results[cell.config.name] = done
        else:
            jobs.append((cell.config.name, {"study": study.model_dump(mode="json"), "index": index, "resume": resume,
                                            "progress": progress and executor.name == "serial"}))
    bar = progress_bar(total=len(cells), initial=len(run.reused), enabled=progress, desc=study.name, unit="cell",
                       dynamic_ncols=True)
    for outcome in executor.map(run_cell_job, jobs):
        if outcome.ok:
            done = outcome.result
            results[outcome.key] = done
            run.computed.append(outcome.key)
            mean = sum(done["psnr_db"].values()) / len(done["psnr_db"])
            log(f"{outcome.key}: mean PSNR {mean:.2f} dB over {len(done['psnr_db'])} test images "
                f"({done['wall_seconds']:.1f} s)")
        else:
            assert outcome.failure is not None
            run.failed[outcome.key] = outcome.failure.error
            log(f"{outcome.key}: FAILED: {outcome.failure.error}")
        bar.update(1)
    bar.close()
    run.results = [results[c.config.name] for c in cells if c.config.name in results]
    run.seconds = time.perf_counter() - started
    from .image_report import write_report

    write_report(study, run.results, out, quick=quick, command=command, seconds_this_run=run.seconds)
    return run


def report_finished(study: ImageStudyConfig, *, quick: bool = False, command: str | None = None) -> StudyRun:
    """Write the report of the cells of ``study`` already finished under ``output.dir`` (no training): what a
    long study that is still under way, or one whose cells were copied elsewhere, has so far. Raises
    :class:`ExperimentError` when no cell is finished there (a cell of another config raises in :func:`finished`)."""
    out = Path(study.output.dir)
    run = StudyRun(results=[])
    for cell in study.cells():
        try:
            done = finished(study, cell)
        except ExperimentError:
            raise ExperimentError(
                f"{cell.run_dir / RESULT_FILE} was computed with another config of cell {cell.config.name}: pass the "
                "--set, --images and --quick the cells were run with, or run the study without --report-only "
                "(--resume recomputes such a cell)") from None
        if done is not None:
            run.results.append(done)
            run.reused.append(cell.config.name)
    if not run.results:
        raise ExperimentError(f"no finished cell of this config under {out} (each has <setting>/<network>/"
                              f"{RESULT_FILE}); run the study without --report-only first, or point output.dir "
                              "at the folder that holds its cells")
    from .image_report import write_report

    write_report(study, run.results, out, quick=quick, command=command)
    return run
