"""Where one training iteration of the converged recipe goes: its parts timed side by side in one run.

    OMP_NUM_THREADS=1 python studies/benchmarks/train_step_parts.py [--network LISTA] [--repeats 60] [--rounds 5]

The network and recipe are a cell of ``examples/converged/converged.yaml`` (noiseless, m = 250, n = 500,
T = 16, batch 64, loss log-layers). Parts, each timed as this thread's CPU time (robust to other processes on
the shared machine), median over ``rounds`` interleaved rounds of ``repeats`` calls, with the min–max range:

* ``train_step``: one whole :meth:`Trainer.train_step` (the sum of what follows, plus bookkeeping);
* ``next_batch``: a fresh training batch;
* ``forward+backward``: the loss and its gradient;
* ``finite check: summed`` (what ``train_step`` runs: one sum per gradient, entries scanned only when a sum is
  not finite) against ``finite check: per entry`` (``isfinite(g).all()`` per gradient, the previous check,
  written out here);
* ``adam step`` (PyTorch's default CPU implementation) and, for comparison only, ``adam step, fused``.

Ratios are to ``train_step``. Prints a table and writes JSON (default
``benchmarks/results/train_step_parts.json``).
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

from hno_framework.training.loop import Trainer, nonfinite_name
from hno_framework.training.losses import training_loss
from hno_studies.converged import cell_training_config, experiment_config
from hno_studies.converged_config import load_converged_config


def cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    """Thread CPU milliseconds per call of ``fn`` (two warm-up calls first)."""
    fn()
    fn()
    start = time.thread_time()
    for _ in range(repeats):
        fn()
    return 1000.0 * (time.thread_time() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="examples/converged/converged.yaml")
    parser.add_argument("--network", default="LISTA")
    parser.add_argument("--setting", default="noiseless")
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "train_step_parts.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    cfg = load_converged_config(args.config)
    recipe = cfg.networks[args.network].recipe or cfg.recipe
    with tempfile.TemporaryDirectory() as tmp:
        config = cell_training_config(experiment_config(cfg, args.setting, args.network, 0, recipe), recipe, Path(tmp))
        trainer = Trainer(config, progress=False, log=lambda _: None)
        training = config.training
        batch = trainer.splits.next_batch(training.batch_size)
        assert trainer.optimizer is not None
        optimizer = trainer.optimizer
        fused = torch.optim.Adam(trainer.params, lr=training.lr, eps=training.adam_eps, fused=True)

        def forward_backward() -> None:
            optimizer.zero_grad(set_to_none=True)
            training_loss(trainer.net, batch, training).backward()

        forward_backward()
        grads = [p.grad for p in trainer.params if p.grad is not None]
        parts: dict[str, Callable[[], object]] = {
            "train_step": trainer.train_step,
            "next_batch": lambda: trainer.splits.next_batch(training.batch_size),
            "forward+backward": forward_backward,
            "finite check: summed": lambda: nonfinite_name(trainer.net, trainer.params, grad=True),
            "finite check: per entry": lambda: bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()),
            "adam step": optimizer.step,
            "adam step, fused": fused.step,
        }
        times: dict[str, list[float]] = {name: [] for name in parts}
        for r in range(args.rounds):
            names = list(parts)
            for name in names[r % len(names):] + names[: r % len(names)]:  # rotate: drift hits every part alike
                times[name].append(cpu_ms(parts[name], args.repeats))

    step = statistics.median(times["train_step"])
    rows: list[dict[str, Any]] = [
        {"part": name, "cpu_ms_median": statistics.median(v), "cpu_ms_range": [min(v), max(v)],
         "ratio_to_train_step": statistics.median(v) / step} for name, v in times.items()]
    print(f"{args.network} ({args.setting}, T = {cfg.layers}, batch {recipe.batch_size}, loss {recipe.loss}); "
          f"thread CPU ms per call, median of {args.rounds} rounds × {args.repeats} calls")
    print(f"{'part':26s} {'ms':>8s} {'range':>17s} {'÷ train_step':>13s}")
    for row in rows:
        low, high = row["cpu_ms_range"]
        print(f"{row['part']:26s} {row['cpu_ms_median']:8.2f} {f'{low:.2f} … {high:.2f}':>17s} {row['ratio_to_train_step']:13.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "network": args.network, "setting": args.setting, "layers": cfg.layers, "batch_size": recipe.batch_size,
        "loss": recipe.loss, "learnable_parameters": sum(p.numel() for p in trainer.params),
        "rounds": args.rounds, "repeats": args.repeats, "rows": rows,
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()},
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
