"""Runs a grid cell by cell, resumably, and collects the results.

For each setting: the fixed data (saved in ``<setting>/data.pt``), the classical baselines
(``<setting>/classical.json``), then every (network, seed) cell in ``<setting>/<network>/seed<s>/``
(trained with the config's protocol; the test NMSE per layer on the saved test set goes to
``result.json``). A cell is *finished* when its ``result.json`` exists; with ``resume`` finished
cells are skipped and unfinished ones continue from their ``last.pt``. Without ``resume`` a folder
that already holds results is refused (nothing is overwritten by accident). Networks whose step or
integrator is not registered are skipped with a warning. Finally :mod:`.report` writes
``results.json``, ``results.md`` and the figures into ``output.dir``.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hno_framework.evaluation import nmse_per_layer
from hno_framework.executors import Executor, SerialExecutor
from hno_framework.io import read_json, write_json
from hno_framework.machine import machine_info
from hno_framework.network import count_learnable
from hno_framework.progress import progress_bar
from hno_framework.registry import Registry, get_registry
from hno_framework.training import Trainer, apply_threads
from hno_framework.training.rundir import RunLock

from .classical import TunedSolver, iterations_to_reach, solve, tune_lambda
from .data import SettingData, load_or_create
from .errors import ExperimentError
from .grid import Cell, ClassicalConfig, GridConfig, NetworkSpec, SettingSpec, fingerprint

RESULT_FILE = "result.json"
CLASSICAL_FILE = "classical.json"
DATA_FILE = "data.pt"


class SkippedNetworkWarning(UserWarning):
    """A network of the grid is skipped because its step or integrator is not registered."""


def partition_networks(grid: GridConfig, registry: Registry | None = None) -> tuple[list[NetworkSpec], dict[str, str]]:
    """The networks whose step and integrator are registered, and ``{name: reason}`` for the others."""
    registry = registry or get_registry()
    steps, integrators = set(registry.names("step")), set(registry.names("integrator"))
    runnable, skipped = [], {}
    for net in grid.networks:
        missing = [f"{kind} '{name}'" for kind, name, known in
                   (("step", net.step.name, steps), ("integrator", net.integrator.name, integrators)) if name not in known]
        if missing:
            skipped[net.name] = " and ".join(missing) + " not registered"
        else:
            runnable.append(net)
    return runnable, skipped


@dataclass
class GridRun:
    """What :func:`run_grid` did: the results mapping and counts of cells trained / skipped."""

    results: dict[str, Any]
    trained: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped_networks: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class GridRunner:
    """Runs one :class:`GridConfig` (see the module docstring)."""

    def __init__(self, grid: GridConfig, *, resume: bool = False, progress: bool = True,
                 log: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None,
                 settings: Sequence[str] | None = None, networks: Sequence[str] | None = None,
                 registry: Registry | None = None, command: str | None = None, quick: bool = False,
                 executor: Executor | None = None) -> None:
        self.grid = grid
        self.executor = executor or SerialExecutor()
        self.resume = resume
        self.progress = progress
        self.log = log or tqdm.write
        self.warn = warn or (lambda msg: warnings.warn(msg, SkippedNetworkWarning, stacklevel=3))
        self.out = Path(grid.output.dir)
        self.command = command
        self.quick = quick
        self.settings = self._select("setting", grid.settings, settings, lambda s: s.name)
        chosen = self._select("network", grid.networks, networks, lambda n: n.name, alt=lambda n: n.slug)
        runnable, self.skipped = partition_networks(grid, registry)
        self.runnable = runnable
        for name, reason in self.skipped.items():
            if any(n.name == name for n in chosen):
                self.warn(f"skipping network '{name}': {reason} (install the plugin that provides it)")
        self.networks = [n for n in chosen if n in runnable]

    @staticmethod
    def _select(what: str, items: list, names: Sequence[str] | None, key: Callable, alt: Callable | None = None) -> list:
        if not names:
            return list(items)
        known = {key(i) for i in items} | ({alt(i) for i in items} if alt else set())
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ExperimentError(f"unknown {what}(s) {unknown}; the grid has: {', '.join(key(i) for i in items)}")
        return [i for i in items if key(i) in names or (alt and alt(i) in names)]

    # -- cells -----------------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        return [self.grid.cell(s, n, seed) for s in self.settings for n in self.networks for seed in self.grid.seeds]

    def _check_fresh(self, cells: list[Cell]) -> None:
        if self.resume:
            return
        found = [c.config.name for c in cells if (c.run_dir / RESULT_FILE).is_file() or (c.run_dir / "last.pt").is_file()]
        baselines = [s.name + "/" + CLASSICAL_FILE for s in self.settings if (self.out / s.name / CLASSICAL_FILE).is_file()]
        if found or baselines:
            what = [f"{len(found)} cell(s)"] if found else []
            what += [f"{len(baselines)} classical baseline(s)"] if baselines else []
            raise ExperimentError(
                f"{self.out} already holds results of this grid ({' and '.join(what)}, e.g. {(found or baselines)[0]}); "
                "pass --resume to continue it, or choose another output.dir"
            )

    def _finished(self, cell: Cell) -> dict[str, Any] | None:
        path = cell.run_dir / RESULT_FILE
        if not path.is_file():
            return None
        result = read_json(path, "cell result")
        if result.get("fingerprint") != cell.fingerprint:
            raise ExperimentError(
                f"{path} was computed with a different config of cell {cell.config.name}; "
                "use another output.dir, or delete that cell's folder to retrain it"
            )
        return result

    def cell_job(self, cell: Cell) -> tuple[str, dict[str, Any]]:
        """The executor job of ``cell``: its key (the cell's name) and a picklable payload for :func:`run_cell_job`."""
        payload = {
            "config": cell.config.model_dump(mode="json"),
            "data": str(self.out / cell.setting.name / DATA_FILE),
            "meta": {"setting": cell.setting.name, "network": cell.network.name, "seed": cell.seed,
                     "step": cell.network.step.name, "integrator": cell.network.integrator.name,
                     "tied": cell.network.tied},
            "fingerprint": cell.fingerprint,
            "progress": self.progress and self.executor.name == "serial",
        }
        return cell.config.name, payload

    # -- classical -------------------------------------------------------------------------------
    def classical_job(self, setting: SettingSpec, data: SettingData) -> tuple[str, dict[str, Any]] | None:
        """The executor job computing ``setting``'s ISTA/FISTA baselines, or None when a saved
        ``classical.json`` of the same config exists (a different one is refused without ``resume``)."""
        ccfg = self.grid.classical
        path = self.out / setting.name / CLASSICAL_FILE
        key = fingerprint({"classical": ccfg.model_dump(mode="json"), "problem": self.grid.problem_for(setting).model_dump(mode="json"),
                           "sizes": [len(data.validation), len(data.test)]})
        if path.is_file():
            saved = read_json(path, "classical baseline")
            if saved.get("fingerprint") == key:
                return None
            if not self.resume:
                raise ExperimentError(f"{path} exists; pass --resume or choose another output.dir")
        return f"{setting.name}/{CLASSICAL_FILE}", {
            "kind": "classical", "classical": ccfg.model_dump(mode="json"), "fingerprint": key, "path": str(path),
            "data": str(self.out / setting.name / DATA_FILE), "setting": setting.name,
            "progress": self.progress and self.executor.name == "serial"}

    # -- the grid --------------------------------------------------------------------------------
    def run(self) -> GridRun:
        """Train the selected cells (skipping finished ones with ``resume``), then report every finished
        cell of the grid found on disk (so runs of separate ``--setting`` subsets add up)."""
        started = time.perf_counter()
        apply_threads(self.grid.training.threads)
        cells = self.cells()
        self._check_fresh(cells)
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "grid.json", self.grid.model_dump(mode="json"))
        run = GridRun(results={}, skipped_networks=dict(self.skipped))
        jobs: list[tuple[str, dict[str, Any]]] = []
        for setting in self.settings:  # the data in this process; classical baselines and cells as jobs
            setting_cells = [c for c in cells if c.setting.name == setting.name]
            reference = setting_cells[0] if setting_cells else self.grid.cell(setting, self.grid.networks[0], self.grid.seeds[0])
            data = load_or_create(self.out / setting.name / DATA_FILE, reference.config)
            baseline = self.classical_job(setting, data) if self.grid.classical.enabled else None
            if baseline is not None:
                jobs.insert(0, baseline)  # the longest jobs first
            for cell in setting_cells:
                if self._finished(cell) is not None:
                    run.reused.append(cell.config.name)
                else:
                    jobs.append(self.cell_job(cell))
        outer = progress_bar(total=len(cells), initial=len(run.reused), enabled=self.progress, desc=self.grid.name,
                             unit="cell", dynamic_ncols=True)
        for outcome in self.executor.map(run_grid_job, jobs):
            if outcome.ok and outcome.key.endswith(CLASSICAL_FILE):
                self.log(f"{outcome.key}: ISTA/FISTA tuned ({outcome.result['seconds']:.1f} s)")
                continue
            if outcome.ok:
                done = outcome.result
                run.trained.append(outcome.key)
                self.log(f"{outcome.key}: {done['nmse_db'][-1]:.2f} dB at layer {len(done['nmse_db']) - 1} "
                         f"({done['wall_seconds']:.1f} s)")
            else:
                assert outcome.failure is not None
                run.failed[outcome.key] = outcome.failure.error
                self.log(f"{outcome.key}: FAILED: {outcome.failure.error}")
            outer.update(1)
        outer.close()
        run.seconds = time.perf_counter() - started
        run.results = self.collect(run)
        from .report import write_report

        write_report(run.results, self.out)
        return run

    def collect(self, run: GridRun) -> dict[str, Any]:
        """The results mapping of every finished cell and classical baseline of the grid on disk."""
        networks = self.runnable
        per_setting: dict[str, dict[str, Any]] = {}
        for setting in self.grid.settings:
            classical_path = self.out / setting.name / CLASSICAL_FILE
            classical = read_json(classical_path, "classical baseline") if classical_path.is_file() else None
            rows = []
            for net in networks:
                for seed in self.grid.seeds:
                    cell = self.grid.cell(setting, net, seed)
                    path = cell.run_dir / RESULT_FILE
                    if not path.is_file():
                        continue
                    result = read_json(path, "cell result")
                    if result.get("fingerprint") != cell.fingerprint:
                        self.warn(f"leaving {path} out of the report: it was computed with a different config")
                        continue
                    rows.append(result)
            if rows or classical:
                per_setting[setting.name] = self.summarize_setting(setting, networks, classical, rows)
        present = [n.name for n in networks if any(n.name in s["networks"] for s in per_setting.values())]
        cell_seconds = sum(sum(e["wall_seconds"]) for s in per_setting.values() for e in s["networks"].values())
        classical_seconds = sum(s["classical"]["seconds"] for s in per_setting.values() if s.get("classical"))
        return {
            "grid": self.grid.name,
            "quick": self.quick,
            "command": self.command,
            "layers": self.grid.layers,
            "seeds": list(self.grid.seeds),
            "protocol": self.grid.training.protocol,
            "test_size": self.grid.training.test_size,
            "validation_size": self.grid.training.validation_size,
            "machine": machine_info(),
            "seconds_this_run": run.seconds,
            "seconds_all_cells": cell_seconds,  # wall time of every reported cell, summed over the runs that made them
            "seconds_all_classical": classical_seconds,
            "cells_trained_this_run": len(run.trained),
            "cells_reused": len(run.reused),
            "cells_failed": run.failed,
            "skipped_networks": run.skipped_networks,
            "networks": present,
            "settings": per_setting,
            "config": self.grid.model_dump(mode="json"),
        }

    def summarize_setting(self, setting: SettingSpec, networks: list[NetworkSpec], classical: dict[str, Any] | None,
                 cell_results: list[dict[str, Any]]) -> dict[str, Any]:
        T = self.grid.layers
        ref_curve = None
        if classical is not None:
            ref_curve = classical["solvers"][self.grid.classical.reference]["nmse_db"]
        entries: dict[str, Any] = {}
        for net in networks:
            rows = [r for r in cell_results if r["network"] == net.name]
            if not rows:
                continue
            curves = [r["nmse_db"] for r in rows]
            mean = [statistics.fmean(v) for v in zip(*curves, strict=True)]
            std = [statistics.pstdev(v) if len(v) > 1 else 0.0 for v in zip(*curves, strict=True)]
            entry: dict[str, Any] = {
                "step": net.step.name, "integrator": net.integrator.name, "tied": net.tied,
                "nmse_db": mean, "nmse_db_std": std, "final_nmse_db": mean[-1], "final_nmse_db_std": std[-1],
                "per_seed": {str(r["seed"]): r["nmse_db"] for r in rows},
                "learnable_parameters": rows[0]["learnable_parameters"],
                "train_seconds": [r["train_seconds"] for r in rows],
                "wall_seconds": [r["wall_seconds"] for r in rows],
                "iterations": [r["iterations"] for r in rows],
            }
            if ref_curve is not None:
                k = iterations_to_reach(ref_curve, mean[-1])
                entry["reference_iterations"] = k
                entry["iterations_saved"] = None if k is None else k - T
                entry["reference_iterations_per_seed"] = {str(r["seed"]): iterations_to_reach(ref_curve, r["nmse_db"][-1])
                                                          for r in rows}
            entries[net.name] = entry
        return {
            "title": setting.label,
            "snr_db": setting.snr_db,
            "condition_number": setting.condition_number,
            "data": f"{setting.name}/{DATA_FILE}",
            "networks": entries,
            "classical": classical,
        }


def run_grid_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Executor job of a grid: a setting's classical baselines or one cell."""
    return run_classical_job(payload) if payload.get("kind") == "classical" else run_cell_job(payload)


def run_classical_job(payload: dict[str, Any]) -> dict[str, Any]:
    """ISTA/FISTA with λ tuned on (part of) the validation set, run on the test set; writes and returns
    the setting's ``classical.json``."""
    ccfg = ClassicalConfig.model_validate(payload["classical"])
    data = SettingData.load(Path(payload["data"]))
    tune_set = data.validation.slice(0, ccfg.tune_size or len(data.validation))
    tune_iterations = ccfg.tune_iterations or ccfg.iterations
    solvers: dict[str, Any] = {}
    bar = progress_bar(total=len(ccfg.algorithms) * (len(ccfg.lambdas) + 1), enabled=bool(payload["progress"]),
                       leave=False, desc=f"{payload['setting']}: ISTA/FISTA", unit="run", dynamic_ncols=True)
    start = time.perf_counter()
    for algorithm in ccfg.algorithms:
        table: dict[float, float] = {}
        for lam in ccfg.lambdas:
            tuned = tune_lambda(data.phi, tune_set, [lam], tune_iterations, algorithm)
            table.update(tuned.validation_nmse_db)
            bar.update(1)
        best = min(table, key=lambda lam: table[lam])
        run = solve(data.phi, data.test, best, ccfg.iterations, algorithm)
        bar.update(1)
        solvers[algorithm] = TunedSolver(algorithm, best, table, run).as_dict()
    bar.close()
    result = {"solvers": solvers, "iterations": ccfg.iterations, "tune_size": len(tune_set),
              "tune_iterations": tune_iterations, "seconds": time.perf_counter() - start,
              "fingerprint": payload["fingerprint"]}
    write_json(Path(payload["path"]), result)
    return result


def run_cell_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Train one grid cell (resuming from its ``last.pt`` when a killed attempt left one) and evaluate it on
    the setting's saved test set; writes and returns ``result.json``. Runs in any executor's worker."""
    from hno_framework.config import parse_config

    start = time.perf_counter()
    config = parse_config(payload["config"], "of a grid cell")
    data = SettingData.load(Path(payload["data"]))
    with RunLock(config.run_dir):  # two grids on one folder never train the same cell at once
        trainer = Trainer(config, progress=payload["progress"], log=tqdm.write, validation=data.validation)
        resumed = trainer.resume()  # the grid refused to start over results without --resume: a last.pt here is ours
        fit = trainer.fit()
    device = next(iter(trainer.net.buffers())).device
    result = {
        **payload["meta"],
        "protocol": config.training.protocol,
        "nmse_db": nmse_per_layer(trainer.net, data.test.to(device)),
        "test_size": len(data.test),
        "best_validation_nmse_db": fit.best_validation_nmse_db,
        "iterations": fit.iterations,
        "train_seconds": fit.seconds,
        "wall_seconds": time.perf_counter() - start,
        "resumed": bool(resumed),
        "learnable_parameters": count_learnable(trainer.net),
        "history": fit.phases if config.training.protocol == "stagewise" else [],
        "fingerprint": payload["fingerprint"],
    }
    write_json(config.run_dir / RESULT_FILE, result)
    return result


def run_grid(grid: GridConfig, **kwargs: Any) -> GridRun:
    """Run (or, with ``resume=True``, continue) ``grid``; see :class:`GridRunner` for the options."""
    return GridRunner(grid, **kwargs).run()
