"""Scaling benchmark: executors side by side, Ray's per-task overhead, framework overhead per layer.

Prints tables and writes JSON (``--out``, default ``benchmarks/results/scaling.json``):

1. ``grid``: wall time of the quick synthetic grid (``--settings`` selects a subset) with
   ``serial``, ``local`` ×W and ``ray`` ×W, run one after another in this process (ratios to serial),
   and whether every executor produced the same NMSE as serial;
2. ``ray_overhead``: seconds per no-op Ray task (N tasks on W workers, after start-up);
3. ``overhead``: a composed ``lista`` + ``euler`` / ``lista`` + ``2no`` network against a hand-written
   plain-torch loop of the same maths and shapes (forward + backward), batch 64 and 1,024, one thread;
4. ``gflops``: GFLOP/s of one LISTA layer's matmuls against a bare matmul of the same shapes.

    python benchmarks/scaling.py                         # all parts
    python benchmarks/scaling.py --parts overhead,gflops --repeat 50
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "examples" / "grids" / "synthetic-grid.yaml"


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``fn`` over ``repeat`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


# -- 3. framework overhead against a hand-written loop ---------------------------------------------
def hand_written(phi: torch.Tensor, W: torch.Tensor, theta: torch.Tensor, alpha: torch.Tensor | None,
                 beta: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    """T layers of LISTA, x_{t+1} = η_θt(x_t + W(y − Φx_t)), with the 2NO update when alpha/beta are given."""
    x = torch.zeros(y.shape[0], phi.shape[1], dtype=y.dtype)
    prev = x
    for t in range(theta.shape[0]):
        z = x + (y - x @ phi.T) @ W.T
        g = torch.sign(z) * torch.relu(z.abs() - theta[t])
        if alpha is None or beta is None or t == 0:
            new = g
        else:
            new = (1 - beta[t - 1]) * x + beta[t - 1] * prev + alpha[t - 1] * (g - x)
        prev, x = x, new
    return x


def overhead_part(repeat: int, m: int, n: int, layers: int) -> list[dict[str, Any]]:
    from hno_framework import compose

    rows = []
    for integrator in ("euler", "2no"):
        net = compose({"problem": {"m": m, "n": n}, "network": {"step": "lista", "integrator": integrator,
                                                              "layers": layers, "tied": True}})
        phi = net.problem.phi
        W = net.layers[0].W.detach().clone().requires_grad_(True)
        theta = torch.stack([layer.theta.detach() for layer in net.layers]).clone().requires_grad_(True)
        alpha = beta = None
        if integrator == "2no":
            alpha = net.integrator.alpha.detach().clone().requires_grad_(True)
            beta = net.integrator.beta.detach().clone().requires_grad_(True)
        for batch in (64, 1024):
            y = torch.randn(batch, m)
            x_ref = hand_written(phi, W, theta, alpha, beta, y)
            same = torch.allclose(net(y), x_ref, atol=1e-5)

            def ours(y: torch.Tensor = y, net: Any = net) -> None:
                net.zero_grad(set_to_none=True)
                net(y).square().mean().backward()

            def plain(y: torch.Tensor = y, args: tuple[Any, ...] = (phi, W, theta, alpha, beta)) -> None:
                hand_written(*args, y).square().mean().backward()

            t_ours, t_plain = timed(ours, repeat), timed(plain, repeat)
            rows.append({"integrator": integrator, "batch": batch, "ours_ms": 1e3 * t_ours, "plain_ms": 1e3 * t_plain,
                         "relative_speed": t_plain / t_ours, "same_output": same})
            print(f"lista+{integrator:<5} batch {batch:>5}: ours {1e3 * t_ours:8.2f} ms, plain {1e3 * t_plain:8.2f} ms, "
                  f"speed {t_plain / t_ours:.2f}× of hand-written", flush=True)
    return rows


# -- 4. GFLOP/s of a layer against a bare matmul ----------------------------------------------------
def gflops_part(repeat: int, m: int, n: int, batch: int) -> dict[str, Any]:
    from hno_framework import compose

    net = compose({"problem": {"m": m, "n": n}, "network": {"step": "lista", "integrator": "euler", "layers": 1}})
    y = torch.randn(batch, m)
    flops = 2 * batch * m * n * 2  # Φx (batch×n · n×m) and W r (batch×m · m×n)
    a, b1, b2 = torch.randn(batch, n), net.problem.phi.T.contiguous(), net.layers[0].W.T.contiguous()
    with torch.no_grad():
        t_layer = timed(lambda: net(y), repeat)
        t_mm = timed(lambda: (a @ b1) @ b2, repeat)
    return {"batch": batch, "m": m, "n": n, "layer_gflops": flops / t_layer / 1e9, "matmul_gflops": flops / t_mm / 1e9,
            "ratio": t_mm / t_layer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="grid,ray_overhead,overhead,gflops")
    parser.add_argument("--settings", default="noiseless", help="grid settings (comma-separated; empty: all)")
    parser.add_argument("--executors", default="serial,local,ray")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
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
    if "overhead" in parts:
        report["overhead"] = overhead_part(args.repeat, 250, 500, 16)
    if "gflops" in parts:
        report["gflops"] = gflops_part(args.repeat, 250, 500, 1024)
        g = report["gflops"]
        print(f"layer {g['layer_gflops']:.1f} GFLOP/s vs matmul {g['matmul_gflops']:.1f} GFLOP/s ({g['ratio']:.2f}×)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
