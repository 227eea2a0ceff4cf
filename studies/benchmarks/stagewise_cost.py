"""Cost of the faithful stage-wise protocol per (network, setting): measured briefly, then extrapolated.

    python studies/benchmarks/stagewise_cost.py [--grid examples/grids/synthetic-grid.yaml] [--setting noiseless]
        [--network LISTA ...] [--probe-stages 2] [--json out.json]

For each network of the grid: the time of one training iteration ``c_train(d)`` and of one
validation ``c_val(d)`` at depths d = 1, 4, 8, 12, 16 (the grid's thread count; a linear fit in d
fills the other depths). A phase of N iterations at depth d costs
``N · c_train(d) + (N / validate_every) · c_val(d)``; a cell has T stages × (1 + len(finetune)) phases.

* lower bound: every phase stops at its first chance, N = patience (+ validate_every);
* estimate: N = the mean phase length measured by ``--probe-stages k`` (the real protocol run for
  the first k stages of the first network), when given.

With ``--probe-stages`` it also prints the measured phase lengths and times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from hno_framework.evaluation import nmse_per_layer
from hno_framework.training import Trainer, apply_threads
from hno_studies.data import generate
from hno_studies.grid import load_grid
from hno_studies.runner import partition_networks

DEPTHS = (1, 4, 8, 12, 16)


def timed(fn: Callable[..., object], repeat: int) -> float:
    """Mean seconds per call of ``fn()`` over ``repeat`` calls (after one warm-up call)."""
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Callable[[float], float]:
    """The least-squares line through ``(xs, ys)``, as a function of x."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return lambda d: my + slope * (d - mx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="examples/grids/synthetic-grid.yaml")
    parser.add_argument("--setting", default="noiseless")
    parser.add_argument("--network", action="append", default=None)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--probe-stages", type=int, default=0)
    parser.add_argument("--output-dir", default="/tmp/hno-stagewise-cost")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    grid = load_grid(args.grid, [f"output.dir={args.output_dir}"])
    apply_threads(grid.training.threads)
    setting = next(s for s in grid.settings if s.name == args.setting)
    runnable, _ = partition_networks(grid)
    networks = [n for n in runnable if not args.network or n.name in args.network]
    scfg = grid.training.stagewise
    phases = 1 + len(scfg.finetune_lr_factors)
    T = grid.layers
    report: dict[str, Any] = {"setting": setting.name, "threads": torch.get_num_threads(), "networks": {}}

    probe = None
    if args.probe_stages:
        cell = grid.cell(setting, networks[0], grid.seeds[0])
        trainer = Trainer(cell.config, progress=True)
        start = time.perf_counter()
        while trainer.stage < args.probe_stages and not trainer.finished:
            trainer.fit(stop_after=1000)
        probe = {
            "network": networks[0].name,
            "stages": args.probe_stages,
            "seconds": time.perf_counter() - start,
            "phases": [{k: s.__dict__[k] for k in ("stage", "phase", "iterations", "best_iteration", "best_nmse_db", "seconds")}
                       for s in trainer.summaries],
        }
        report["probe"] = probe
        print(json.dumps(probe, indent=1))

    for net in networks:
        cell = grid.cell(setting, net, grid.seeds[0])
        trainer = Trainer(cell.config, progress=False)
        _, data = generate(cell.config)
        validation = data.validation
        c_train, c_val = [], []
        for d in DEPTHS:
            trainer.enter_phase((d - 1) * phases + 1)  # stage d − 1, phase 1: all layers so far train (costliest)
            c_train.append(timed(trainer.train_step, args.repeat))
            c_val.append(timed(lambda d=d, t=trainer, v=validation: nmse_per_layer(t.net, v, depth=d), max(2, args.repeat // 4)))
        ft, fv = linear_fit(DEPTHS, c_train), linear_fit(DEPTHS, c_val)

        def cell_seconds(n_phase: float, ft: Callable[[float], float] = ft, fv: Callable[[float], float] = fv) -> float:
            return sum(phases * (n_phase * ft(d) + n_phase / scfg.validate_every * fv(d)) for d in range(1, T + 1))

        entry = {
            "train_ms": {d: round(1e3 * c, 2) for d, c in zip(DEPTHS, c_train, strict=True)},
            "validation_ms": {d: round(1e3 * c, 1) for d, c in zip(DEPTHS, c_val, strict=True)},
            "lower_bound_hours": cell_seconds(scfg.patience + scfg.validate_every) / 3600,
        }
        if probe:
            mean_phase = statistics.fmean(p["iterations"] for p in probe["phases"])
            entry["mean_probe_phase_iterations"] = mean_phase
            entry["estimate_hours"] = cell_seconds(mean_phase) / 3600
        entry["cap_hours"] = cell_seconds(scfg.max_iterations) / 3600
        report["networks"][net.name] = entry
        print(f"{net.name:16s} train ms {entry['train_ms']}  val ms {entry['validation_ms']}  "
              f"lower bound {entry['lower_bound_hours']:.1f} h" +
              (f"  estimate {entry['estimate_hours']:.1f} h" if probe else ""), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
