"""Scaling benchmark: executors side by side and Ray's per-task overhead (the framework's overhead against a
hand-written loop, and compiled networks: ``benchmarks/overhead.py``).

Prints tables and writes JSON (``--out``, default ``benchmarks/results/scaling.json``):

1. ``grid``: wall time of the quick synthetic grid (``--settings`` selects a subset) with
   ``serial``, ``local`` ×W and ``ray`` ×W, run one after another in this process (ratios to serial),
   and whether every executor produced the same NMSE as serial;
2. ``ray_overhead``: seconds per no-op Ray task (N tasks on W workers, after start-up).

    python benchmarks/scaling.py                         # both parts
    python benchmarks/scaling.py --parts grid --settings "" --executors serial,local
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "examples" / "grids" / "synthetic-grid.yaml"


# -- 1. the quick grid on each executor --------------------------------------------------------
def grid_part(settings: list[str], workers: int, executors: list[str]) -> dict[str, Any]:
    from hno_framework.executors import make_executor
    from hno_studies.grid import load_grid
    from hno_studies.runner import run_grid

    out: dict[str, Any] = {"settings": settings, "workers": workers, "runs": {}}
    finals: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in executors:
            grid = load_grid(GRID, [f"output.dir={tmp}/{name}", "training.threads=1"], quick=True)
            start = time.perf_counter()
            with make_executor(name, 1 if name == "serial" else workers) as ex:
                run = run_grid(grid, progress=False, settings=settings or None, executor=ex)
            seconds = time.perf_counter() - start
            finals[name] = {f"{s}/{n}": e["final_nmse_db"] for s, v in run.results["settings"].items()
                            for n, e in v["networks"].items()}
            out["runs"][name] = {"seconds": seconds, "cells": len(run.trained), "failed": len(run.failed)}
            print(f"grid {name:>6}: {seconds:7.1f} s, {len(run.trained)} cells", flush=True)
    base = out["runs"]["serial"]["seconds"] if "serial" in out["runs"] else None
    for name, entry in out["runs"].items():
        entry["speedup_vs_serial"] = base / entry["seconds"] if base else None
        entry["same_nmse_as_serial"] = finals[name] == finals.get("serial", finals[name])
    return out


# -- 2. Ray's per-task overhead --------------------------------------------------------------------
def noop(x: int) -> int:
    return x


def ray_overhead_part(workers: int, tasks: int) -> dict[str, Any]:
    from hno_framework.executors.ray_executor import RayExecutor

    start = time.perf_counter()
    with RayExecutor(workers) as ex:
        started = time.perf_counter()
        list(ex.map(noop, [(str(i), i) for i in range(workers)]))  # warm the workers
        t0 = time.perf_counter()
        list(ex.map(noop, [(str(i), i) for i in range(tasks)]))
        per_task = (time.perf_counter() - t0) / tasks
    return {"startup_seconds": started - start, "tasks": tasks, "workers": workers, "seconds_per_task": per_task}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="grid,ray_overhead")
    parser.add_argument("--settings", default="noiseless", help="grid settings (comma-separated; empty: all)")
    parser.add_argument("--executors", default="serial,local,ray")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scaling.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = args.parts.split(",")
    report: dict[str, Any] = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                                          "torch": torch.__version__, "threads": 1}}
    if "grid" in parts:
        report["grid"] = grid_part([s for s in args.settings.split(",") if s], args.workers, args.executors.split(","))
    if "ray_overhead" in parts:
        report["ray_overhead"] = ray_overhead_part(args.workers, 200)
        print(f"ray: {1e3 * report['ray_overhead']['seconds_per_task']:.2f} ms per task", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
