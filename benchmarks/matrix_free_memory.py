"""Peak memory of composing and training whole-image networks on matrix-free operators, against the dense Φ
they replace.

    python benchmarks/matrix_free_memory.py [--size 256] [--layers 8] [--batch 4] [--iterations 3]

Each row runs in a fresh process (so its peak resident memory is its own): compose the network on a
``size × size`` problem and take ``iterations`` Adam steps on batches of synthetic images. Prints a table (peak
RSS in MB, the framework's own memory estimate, what a dense Φ of that size would take, seconds per training
step) and writes JSON (default ``benchmarks/results/matrix_free_memory.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

CASES = [("blur", {"sigma": 1.6}, "learned-pg"), ("blur", {"sigma": 1.6}, "ista"), ("mri", {"acceleration": 4.0}, "learned-pg"),
         ("image-inpainting", {"missing_ratio": 0.5}, "learned-pg"), ("blur", {"sigma": 1.6}, "hqs-cnn")]


def run_case(kind: str, options: dict, step: str, size: int, layers: int, batch: int, iterations: int) -> dict:
    """In this process: compose, train ``iterations`` steps, return peak RSS and timings."""
    import resource

    import torch

    from hno_framework.composer import compose
    from hno_framework.config import parse_config
    from hno_framework.problems import make_sampler
    from hno_framework.resources import estimate_memory

    torch.set_num_threads(1)
    cfg = parse_config({"problem": {"kind": kind, "lam": 0.01, "options": {"size": size, **options}},
                        "network": {"step": step, "integrator": "2no", "layers": layers, "tied": False},
                        "training": {"batch_size": batch, "validation_size": batch, "test_size": batch}})
    estimate = sum(item.bytes for item in estimate_memory(cfg))
    net = compose(cfg)
    sampler = make_sampler(net.problem, cfg.problem)
    g = torch.Generator().manual_seed(0)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, 1e-3) if params else None
    times = []
    for _ in range(iterations):
        data = sampler.sample(batch, g)
        start = time.perf_counter()
        loss = torch.nn.functional.mse_loss(net(data.y), data.x)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    n = size * size
    return {"kind": kind, "step": step, "size": size, "layers": layers, "batch": batch,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "estimate_mb": estimate / 2**20, "dense_phi_mb": n * n * 4 / 2**20,
            "seconds_per_step": min(times), "learnable_parameters": sum(p.numel() for p in params)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/matrix_free_memory.json"))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.case:
        kind, options, step = json.loads(args.case)
        print(json.dumps(run_case(kind, options, step, args.size, args.layers, args.batch, args.iterations)))
        return
    rows = []
    for case in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", json.dumps(case), "--size", str(args.size),
                              "--layers", str(args.layers), "--batch", str(args.batch), "--iterations", str(args.iterations)],
                             capture_output=True, text=True, check=True, env={"OMP_NUM_THREADS": "1", **_env()})
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'problem':<18}{'step':<12}{'size':>6}{'peak RSS MB':>13}{'estimate MB':>13}{'dense Φ MB':>12}{'s / step':>10}")
    for r in rows:
        print(f"{r['kind']:<18}{r['step']:<12}{r['size']:>6}{r['peak_rss_mb']:>13.0f}{r['estimate_mb']:>13.0f}"
              f"{r['dense_phi_mb']:>12.0f}{r['seconds_per_step']:>10.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "machine": platform.platform(), "python": platform.python_version()},
                                    indent=2) + "\n")
    print(f"wrote {args.json}")


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}


if __name__ == "__main__":
    main()
