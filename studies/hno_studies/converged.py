"""Converged comparison: baselines trained to their published NMSE, HNO pairs on top.

A *cell* is one network trained on one setting with one seed. The runner trains the cells of a
config (``examples/converged/converged.yaml``) in the listed order, one at a time:

* each finished cell writes ``<results>/cells/<setting>/<network slug>/seed<k>.json`` (NMSE per
  layer on a ≥ 10,000-sample test set, 95 % bootstrap interval, iterations, CPU core-hours) and
  the per-sample squared errors of the final layer (``seed<k>.errors.npy``, float32), at once;
* a cell trains through the one training loop (:func:`hno_framework.train`) into
  ``<runs>/<setting>/<slug>/seed<k>/<protocol>/`` (``last.pt`` at every validation, ``best.pt``);
  with ``resume`` it continues from its ``last.pt``;
* finished cells are never retrained; after every cell the report (README.md, results.json,
  figures) is regenerated from the cell files alone (:mod:`.converged_report`).

The recipe (``recipe``) is a sequence of constant-lr phases of Adam on fresh batches
(``training.protocol: phases``), with its ``loss`` (``training.loss``: ``sum`` is the reference
code's ``l2_loss``, ``mse`` the mean-reduced MSE, ``log-layers`` the recipe's default objective)
and Adam's ε. At the end of each phase the parameters with the best validation NMSE are restored and
the next phase starts with a fresh Adam state. ``protocol: stagewise`` trains layer by layer instead.
``FISTA`` cells (``algorithm: fista``) tune λ on the validation set and report "iterations saved".
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hno_framework.composer import compose
from hno_framework.config import (
    ExperimentConfig,
    parse_config,
)
from hno_framework.data import make_splits, make_test_set
from hno_framework.evaluation import per_sample_errors
from hno_framework.executors import Executor, SerialExecutor
from hno_framework.inspection import learned_values
from hno_framework.io import read_json, write_json
from hno_framework.metrics import ratio_to_db
from hno_framework.network import UnrolledNetwork, count_learnable
from hno_framework.problems.base import SignalBatch

from .checkpoint_progress import checkpoint_progress
from .converged_config import (
    ConvergedConfig,
    Recipe,
    cell_paths,
    energies_path,
    instance_of,
    slug,
    support_sizes_path,
)
from .deadline import fits
from .errors import ExperimentError
from .statistics import bootstrap_nmse_db


def experiment_config(cfg: ConvergedConfig, setting: str, network: str, seed: int, recipe: Recipe) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of a network cell (problem of the setting, network, seed, dtype)."""
    s, spec = cfg.settings[setting], cfg.networks[network]
    problem = {**cfg.problem, "snr_db": s.snr_db, "condition_number": s.condition_number,
               "seed": instance_of(cfg, setting)}
    return parse_config({
        "name": f"{setting}/{slug(network)}/seed{seed}",
        "problem": problem,
        "network": {"step": {"name": spec.step, "options": spec.step_options},
                    "integrator": {"name": spec.integrator, "options": spec.integrator_options},
                    "layers": cfg.layers, "tied": spec.tied},
        "training": {"seed": seed, "dtype": recipe.dtype, "validation_size": recipe.validation_size,
                     "test_size": cfg.test_size, "batch_size": recipe.batch_size},
    }, f"converged cell {setting}/{network}/seed{seed}")


# -- evaluation -------------------------------------------------------------------------------------

# -- training ---------------------------------------------------------------------------------------

class CpuMeter:
    """CPU seconds of this process spent on a cell, added to those of earlier (killed) sessions, which
    are kept in ``path`` (rewritten every ``every`` seconds by a daemon thread)."""

    def __init__(self, path: Path, every: float = 30.0) -> None:
        import threading

        self.path = path
        self.before = float(read_json(path, "cpu meter")["cpu_seconds"]) if path.is_file() else 0.0
        self.start = time.process_time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    def total(self) -> float:
        return self.before + time.process_time() - self.start

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self.path, {"cpu_seconds": self.total()})

    def stop(self) -> float:
        self._stop.set()
        total = self.total()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, {"cpu_seconds": total})
        return total


def cell_training_config(config: ExperimentConfig, recipe: Recipe, run_dir: Path) -> ExperimentConfig:
    """The config the one training loop runs for a cell: ``protocol: phases`` with the recipe's constant-lr
    phases (or ``stagewise`` with its options, base lr = ``phases[0].lr``), its loss, Adam ε and intervals."""
    data = config.model_dump(mode="json")
    data["name"] = recipe.protocol
    data["output"] = {**data.get("output", {}), "dir": str(run_dir)}
    training: dict[str, Any] = {"threads": 1, "loss": recipe.loss, "adam_eps": recipe.adam_eps,
                                "validate_every": recipe.validate_every, "lr": recipe.phases[0].lr}
    if recipe.protocol == "stagewise":
        training.update(protocol="stagewise", stagewise={**data["training"].get("stagewise", {}), **recipe.stagewise})
    else:
        training.update(protocol="phases", phases=[p.model_dump() for p in recipe.phases],
                        iterations=recipe.iterations)
    data["training"].update(training)
    return parse_config(data, f"converged cell {config.name}")


def train_cell(config: ExperimentConfig, recipe: Recipe, run_dir: Path, *, resume: bool,
               log: Callable[[str], None] = print) -> tuple[UnrolledNetwork, dict[str, Any]]:
    """Train one network cell with ``recipe`` through :func:`hno_framework.train` (resumable from its
    ``last.pt``); return the best network and stats. Cost is this process's CPU time summed over resumed
    sessions (:class:`CpuMeter`): with one thread, core-seconds."""
    from hno_framework.api import train
    from hno_framework.checkpoint import load_network

    cfg = cell_training_config(config, recipe, run_dir)
    meter = CpuMeter(run_dir / "cpu.json")
    start = time.perf_counter()
    try:
        result = train(cfg, resume=resume and (cfg.run_dir / "last.pt").is_file(), progress=False)
    finally:
        cpu = meter.stop()
    net, _ = load_network(cfg.run_dir / "best.pt")
    history = [[h.get("iteration"), h.get("validation_nmse_db")] for h in result.history]
    log(f"{config.name}: {recipe.protocol} done, {result.iterations} iterations, "
        f"best validation {result.best_validation_nmse_db:.2f} dB")
    return net, {"iteration": result.iterations, "best": result.best_validation_nmse_db, "cpu_seconds": cpu,
                 "wall_seconds": time.perf_counter() - start, "history": history[:: max(1, len(history) // 400)]}


# -- cells ------------------------------------------------------------------------------------------

def check_energies(cfg: ConvergedConfig, setting: str, energies: torch.Tensor) -> bool:
    """Whether the setting's test energies are saved already; raises when they differ from ``energies`` (the test
    set changed, so results would not be comparable)."""
    path = energies_path(cfg, setting)
    if not path.is_file():
        return False
    if not np.allclose(np.load(path), energies.double().numpy(), rtol=1e-6):
        raise ExperimentError(f"{path}: the test set of setting '{setting}' changed (Φ or data generation); "
                              "results of different test sets cannot be compared; move the old results away")
    return True


def save_energies(cfg: ConvergedConfig, setting: str, energies: torch.Tensor) -> None:
    if check_energies(cfg, setting, energies):
        return
    path = energies_path(cfg, setting)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, energies.double().numpy())


def save_support_sizes(cfg: ConvergedConfig, setting: str, x: torch.Tensor) -> None:
    """Save (or check against the saved ones) the support sizes ``‖x*_i‖₀`` of the setting's test signals ``x``
    ``(N, n)``; a setting whose cells were saved before support sizes were kept gets them with its next cell."""
    sizes = (x != 0).sum(dim=1).cpu().numpy().astype(np.int32)
    path = support_sizes_path(cfg, setting)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, sizes)
    elif not np.array_equal(np.load(path), sizes):
        raise ExperimentError(f"{path}: the support sizes of setting '{setting}' changed; the test set is not the "
                              "one the saved results were computed on; move the old results away")


def _machine() -> str:
    """CPU model (from /proc/cpuinfo where there is one), torch threads and version."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        model = f"{names[0]} ({len(names)} logical CPUs)" if names else model
    return f"{model}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"


def run_network_cell(cfg: ConvergedConfig, setting: str, network: str, seed: int, *, resume: bool,
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    spec = cfg.networks[network]
    recipe = spec.recipe or cfg.recipe
    result_path, run_dir = cell_paths(cfg, setting, network, seed)
    config = experiment_config(cfg, setting, network, seed, recipe)
    net, stats = train_cell(config, recipe, run_dir, resume=resume, log=log)
    test = make_test_set(net.problem, config, cfg.test_size)
    dtype = net.problem.phi.dtype
    errors, energies = per_sample_errors(net, SignalBatch(test.x.to(dtype), test.y.to(dtype)))
    est = bootstrap_nmse_db(errors[:, -1], energies, resamples=cfg.bootstrap_resamples, seed=seed)
    per_layer = ratio_to_db(errors.sum(dim=0) / energies.sum())
    result_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(result_path.with_suffix(".errors.npy"), errors[:, -1].float().numpy())
    save_energies(cfg, setting, energies)
    save_support_sizes(cfg, setting, test.x)
    result = {
        "setting": setting, "instance": instance_of(cfg, setting), "network": network, "seed": seed,
        "step": spec.step, "integrator": spec.integrator, "tied": spec.tied,
        "final_nmse_db": est.nmse_db, "ci_db": est.interval, "nmse_db_per_layer": per_layer,
        "best_validation_nmse_db": stats["best"], "test_size": len(test),
        "iterations": stats["iteration"], "core_hours": stats["cpu_seconds"] / 3600.0,
        "wall_hours": stats["wall_seconds"] / 3600.0, "learnable_parameters": count_learnable(net),
        "recipe": recipe.model_dump(), "validation_curve": stats["history"], "machine": _machine(),
        "learned": learned_values(net, init=compose(config)),
    }
    write_json(result_path, result)
    return result


def run_fista_cell(cfg: ConvergedConfig, setting: str, network: str, seed: int) -> dict[str, Any]:
    """FISTA with λ tuned on the validation set; NMSE per iteration on the test set (seed only names the file)."""
    from .classical import solve, tune_lambda

    result_path, _ = cell_paths(cfg, setting, network, seed)
    config = experiment_config(cfg, setting, network, seed, cfg.recipe) if cfg.networks[network].step else None
    base = config or parse_config({"problem": {**cfg.problem, "snr_db": cfg.settings[setting].snr_db,
                                               "condition_number": cfg.settings[setting].condition_number,
                                               "seed": instance_of(cfg, setting)},
                                   "network": {"step": "lista", "layers": cfg.layers},
                                   "training": {"validation_size": cfg.recipe.validation_size}})
    start = time.process_time()
    net = compose(base)
    splits = make_splits(net.problem, base)
    phi = net.problem.phi.double()
    val = SignalBatch(splits.validation.x.double(), splits.validation.y.double())
    iterations = int(cfg.fista["iterations"])
    tuned = tune_lambda(phi, val, [float(v) for v in cfg.fista["lambdas"]], iterations, "fista")
    test = make_test_set(net.problem, base, cfg.test_size)
    test = SignalBatch(test.x.double(), test.y.double())
    run = solve(phi, test, tuned.lam, iterations, "fista")
    e = (run.x - test.x).pow(2).sum(dim=1)
    r = test.x.pow(2).sum(dim=1)
    est = bootstrap_nmse_db(e, r, resamples=cfg.bootstrap_resamples, seed=seed)
    result_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(result_path.with_suffix(".errors.npy"), e.float().numpy())
    save_energies(cfg, setting, r)
    save_support_sizes(cfg, setting, test.x)
    result = {"setting": setting, "instance": instance_of(cfg, setting), "network": network, "seed": seed,
              "algorithm": "fista", "lam": tuned.lam,
              "final_nmse_db": est.nmse_db, "ci_db": est.interval, "nmse_db_per_iteration": run.nmse_db,
              "nmse_db_per_layer": run.nmse_db[: cfg.layers + 1], "test_size": len(test), "iterations": iterations,
              "core_hours": (time.process_time() - start) / 3600.0, "machine": _machine()}
    write_json(result_path, result)
    return result


def cell_row(cfg: ConvergedConfig, setting: str, network: str, seed: int) -> dict[str, Any]:
    """Where one cell stands (see :func:`cell_status`), read from its files alone."""
    spec = cfg.networks[network]
    recipe = spec.recipe or cfg.recipe
    result_path, run_dir = cell_paths(cfg, setting, network, seed)
    row: dict[str, Any] = {"cell": f"{setting}/{network}/seed{seed}", "state": "not started"}
    last = run_dir / recipe.protocol / "last.pt"
    if result_path.is_file():
        res = read_json(result_path, "cell result")
        row.update(state="finished", final_nmse_db=res["final_nmse_db"], ci_db=res["ci_db"],
                   iterations=res.get("iterations"), core_hours=res.get("core_hours"))
    elif spec.algorithm is not None:
        row.update(state="not finished (a classical solver keeps no checkpoint: waiting or running)")
    elif last.is_file():
        row.update(checkpoint_progress(last, recipe.iterations))
        if row["state"] == "training":
            row["phases"] = len(recipe.phases)
            if recipe.protocol != "phases":  # stage-wise: stages end on a plateau, the total is not known ahead
                row["seconds_left"] = None
    return row


def cell_status(cfg: ConvergedConfig) -> list[dict[str, Any]]:
    """Where every cell of the study stands, read from the files alone (nothing is trained or evaluated):
    ``state`` finished (with its test NMSE), training (iteration of the recipe's total, phase, best validation
    NMSE, training seconds so far and an estimate of the seconds left at the same speed), not started, or, for a
    classical solver (no checkpoint), not finished."""
    return [cell_row(cfg, cell.setting, cell.network, seed) for cell in cfg.cells for seed in cell.seeds]


def run_cell_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Executor job: one cell (``setting``, ``network``, ``seed``) of the study ``payload["config"]`` (a dict).
    With a deadline (``stop_by``, epoch seconds) a cell expected (:func:`expected_seconds`, estimated when the
    job starts, so from every cell finished by then) to end after it is not started: the result is
    ``{"not_started": reason}``."""
    cfg = ConvergedConfig.model_validate(payload["config"])
    setting, network, seed = payload["setting"], payload["network"], payload["seed"]
    stop_by = payload.get("stop_by")
    if stop_by is not None:
        expected = expected_seconds(cfg, setting, network, seed, resume=payload["resume"])
        if not fits(expected, stop_by, time.time()):
            need = "an unknown time" if expected is None else f"≈ {expected / 3600:.2f} h"
            left = max(0.0, stop_by - time.time())
            return {"not_started": f"needs {need}, {left / 3600:.2f} h left before the --stop-by deadline"}
    if cfg.networks[network].algorithm == "fista":
        return run_fista_cell(cfg, setting, network, seed)
    return run_network_cell(cfg, setting, network, seed, resume=payload["resume"], log=lambda message: None)


#: A checkpoint's own speed is trusted for the time left only after this share of its iterations: the first few
#: hundred iterations include start-up and run at whatever the machine's load was then (a cell 250 iterations into
#: 90,000 was once estimated at 2.6 h where finished cells of its recipe took 1.2 h).
MIN_SHARE_FOR_SPEED = 0.05


def expected_seconds(cfg: ConvergedConfig, setting: str, network: str, seed: int, *, resume: bool) -> float | None:
    """Wall-clock seconds a cell is expected to take. Resuming a checkpoint past :data:`MIN_SHARE_FOR_SPEED` of its
    iterations: what its own speed leaves. Otherwise the finished cells' wall time per iteration with the same
    recipe (:func:`.converged_report.cell_hours`) times the share of iterations left, falling back on the early
    checkpoint's speed; None without a basis."""
    from .converged_report import cell_hours, cell_results

    row = cell_row(cfg, setting, network, seed) if resume else {}
    left = row.get("seconds_left")
    share_done = row["iteration"] / row["total"] if left is not None and row.get("total") else 0.0
    if left is not None and share_done >= MIN_SHARE_FOR_SPEED:
        return float(left)
    hours = cell_hours(cfg, cell_results(cfg), network, "wall_hours")
    if hours is not None:
        return hours * 3600.0 * (1.0 - share_done)
    return None if left is None else float(left)


def run_converged(cfg: ConvergedConfig, *, resume: bool = False, only: list[str] | None = None,
                  max_cells: int | None = None, log: Callable[[str], None] = print,
                  executor: Executor | None = None, stop_by: float | None = None) -> list[Path]:
    """Train every unfinished cell (``only``: ``setting/network`` names; at most ``max_cells``) on ``executor``
    (default: serially, in order), regenerating the report after each finished cell; returns the result files
    written in this call. A failing cell is logged and the others go on. With ``stop_by`` (epoch seconds) a cell
    is started only if it is expected to end by then (:mod:`.deadline`)."""
    from .converged_report import write_report

    executor = executor or SerialExecutor()
    jobs: list[tuple[str, dict[str, Any]]] = []
    paths: dict[str, Path] = {}
    for cell in cfg.cells:
        if only and f"{cell.setting}/{cell.network}" not in only:
            continue
        for seed in cell.seeds:
            result_path, _ = cell_paths(cfg, cell.setting, cell.network, seed)
            if result_path.is_file():
                read_json(result_path, "cell result")  # a corrupt file is reported, not silently retrained
                continue
            key = f"{cell.setting}/{cell.network}/seed{seed}"
            jobs.append((key, {"config": cfg.model_dump(mode="json"), "setting": cell.setting,
                               "network": cell.network, "seed": seed, "resume": resume, "stop_by": stop_by}))
            paths[key] = result_path
    jobs = jobs[:max_cells] if max_cells is not None else jobs
    written: list[Path] = []
    log(f"{len(jobs)} cell(s) to train on the {executor.name} executor: " + ", ".join(k for k, _ in jobs[:4])
        + (", ..." if len(jobs) > 4 else ""))
    for outcome in executor.map(run_cell_job, jobs):
        if not outcome.ok:
            assert outcome.failure is not None
            log(f"cell {outcome.key}: FAILED: {outcome.failure.error}")
            continue
        res = outcome.result
        if "not_started" in res:
            log(f"cell {outcome.key}: not started: {res['not_started']}")
            continue
        log(f"cell {outcome.key}: {res['final_nmse_db']:.2f} dB [{res['ci_db'][0]:.2f}, {res['ci_db'][1]:.2f}], "
            f"{res['core_hours']:.3f} core-h")
        written.append(paths[outcome.key])
        write_report(cfg)
    write_report(cfg)
    return written
