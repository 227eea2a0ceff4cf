"""Forward+backward time of every registered integrator relative to Euler, side by side in one run.

    python benchmarks/integrator_cost.py [--step lista] [--m 100] [--n 200] [--layers 16] [--batch 64]

Prints a table (median ms per training step and ratio to euler) and writes JSON
(default ``benchmarks/results/integrator_cost.json``). Multistage schemes (RK) should cost about
``stages ×`` Euler; multistep schemes about 1× (they reuse stored f values).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from hno_framework.composer import compose
from hno_framework.registry import get_registry


def time_training_step(net: torch.nn.Module, y: torch.Tensor, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward + backward pass."""
    times = []
    for _ in range(repeats + 2):
        net.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss = torch.nn.functional.mse_loss(net(y), x)
        if loss.requires_grad:
            loss.backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])  # the first two warm up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step", default="lista")
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "integrator_cost.json")
    args = parser.parse_args()

    reg = get_registry()
    names = sorted(reg.names("integrator"), key=lambda n: (n != "euler", n))
    g = torch.Generator().manual_seed(0)
    y = torch.randn(args.batch, args.m, generator=g)
    x = torch.randn(args.batch, args.n, generator=g)
    rows: list[dict[str, Any]] = []
    for name in names:
        net = compose({"problem": {"m": args.m, "n": args.n},
                       "network": {"step": args.step, "integrator": name, "layers": args.layers}})
        rows.append({"integrator": name, "stages": net.integrator.metadata.stages,
                     "past_states": net.integrator.metadata.past_states,
                     "seconds": time_training_step(net, y, x, args.repeats)})
    base = rows[0]["seconds"]
    print(f"{'integrator':<12} {'stages':>6} {'r':>3} {'ms/step':>9} {'× euler':>8}")
    for r in rows:
        r["ratio_to_euler"] = r["seconds"] / base
        print(f"{r['integrator']:<12} {r['stages']:>6} {r['past_states']:>3} {1e3 * r['seconds']:>9.2f} {r['ratio_to_euler']:>8.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"step": args.step, "m": args.m, "n": args.n, "layers": args.layers, "batch": args.batch,
            "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine()}
    args.out.write_text(json.dumps({"setup": meta, "results": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
