"""What loggers cost a training run: the same training with no logger and with each built-in, side by side.

    python benchmarks/logger_overhead.py [--iterations 200] [--rounds 3] [--layers 8] [--every 10]

Per variant (median over ``rounds`` interleaved runs, with the min–max range):

* **step**: the median interval between consecutive training steps, validation steps excluded, i.e. one
  optimizer step plus what the loggers do per step (train metrics every ``every`` iterations), as CPU
  time of the training thread (robust to other processes on the machine) and as wall time;
* **in the loggers**: the time spent inside the logging callback, measured around each of its calls:
  per training step (averaged over all steps), per validation (the NMSE at every depth, the
  coefficients, the writes), at the end (figures, artifacts, closing), and to start them;
* **run**: the wall time of the whole ``train()`` call.

Ratios are to the run without loggers. Prints a table and writes JSON
(default ``benchmarks/results/logger_overhead.json``). Packages that are missing are skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from hno_framework.api import train
from hno_framework.config import parse_config
from hno_framework.loggers.callback import LoggingCallback
from hno_framework.training import Callback, Trainer


class StepClock(Callback):
    """Records the wall and thread-CPU time of every ``on_step`` (it runs before the loggers' callback)."""

    def __init__(self) -> None:
        self.times: list[tuple[int, float]] = []
        self.cpu: list[tuple[int, float]] = []

    def on_step(self, trainer: Any, loss: float) -> None:
        self.times.append((trainer.iteration, time.perf_counter()))
        self.cpu.append((trainer.iteration, time.thread_time()))


def time_calls(callback: Any, spent: dict[str, float]) -> None:
    """Wrap the ``on_*`` methods of ``callback`` to add their wall time to ``spent[event]`` and their CPU time
    (this thread's) to ``spent[event + "_cpu"]``."""
    for event in ("on_train_start", "on_step", "on_validation", "on_train_end"):
        inner = getattr(callback, event)

        def timed(*args: Any, _inner: Any = inner, _event: str = event) -> None:
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                _inner(*args)
            finally:
                spent[_event] = spent.get(_event, 0.0) + time.perf_counter() - start
                spent[_event + "_cpu"] = spent.get(_event + "_cpu", 0.0) + time.thread_time() - cpu

        setattr(callback, event, timed)


def step_interval(times: list[tuple[int, float]], validate_every: int) -> float:
    """Median seconds between consecutive steps, leaving out intervals that contain a validation."""
    gaps = [t1 - t0 for (i0, t0), (_, t1) in itertools.pairwise(times) if i0 % validate_every != 0]
    return statistics.median(gaps)


def variants(every: int) -> dict[str, list[Any]]:
    have_tb = importlib.util.find_spec("tensorboard") is not None
    have_mlflow = importlib.util.find_spec("mlflow") is not None
    out: dict[str, list[Any]] = {"none": [], "console": [{"name": "console", "every": every}]}
    if have_tb:
        out["tensorboard"] = [{"name": "tensorboard", "every": every}]
        out["tensorboard every=1"] = [{"name": "tensorboard", "every": 1}]
    if have_mlflow:
        out["mlflow"] = [{"name": "mlflow", "every": every}]
    if have_tb and have_mlflow:
        out["all three"] = [{"name": n, "every": every} for n in ("console", "tensorboard", "mlflow")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--validate-every", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--every", type=int, default=10, help="train metrics every N iterations")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "logger_overhead.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    cases = variants(args.every)
    keys = ("step_cpu", "step_wall", "run", "start", "per_step", "per_step_cpu", "per_validation", "end")
    m: dict[str, dict[str, list[float]]] = {k: {name: [] for name in cases} for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        warm = {"name": "warm-up", "problem": {"m": 100, "n": 200}, "network": {"step": "lista", "integrator": "2no",
                "layers": args.layers}, "training": {"iterations": 20, "validate_every": 10, "validation_size": 100,
                "test_size": 100, "threads": 1}, "output": {"dir": tmp}, "logging": cases[list(cases)[-1]]}
        train(parse_config(warm), progress=False)  # imports and first-call costs stay out of the rounds
        for r in range(args.rounds):
            names = list(cases)
            names = names[r % len(names):] + names[: r % len(names)]  # rotate the order: drift hits all alike
            for name in names:
                cfg = parse_config({
                    "name": f"{name.replace(' ', '-').replace('=', '')}-{r}",
                    "problem": {"m": 100, "n": 200, "sparsity": 0.1},
                    "network": {"step": "lista", "integrator": "2no", "layers": args.layers},
                    "training": {"iterations": args.iterations, "validate_every": args.validate_every,
                                 "validation_size": 500, "test_size": 500, "batch_size": 64, "threads": 1},
                    "output": {"dir": tmp}, "logging": cases[name],
                })
                clock = StepClock()
                spent: dict[str, float] = {}  # event -> seconds, filled by time_calls
                start = time.perf_counter()
                loggers = LoggingCallback.from_config(cfg)
                trainer = Trainer(cfg, progress=False, callbacks=[clock, *([loggers] if loggers else [])])
                built = time.perf_counter() - start
                for cb in trainer.callbacks.callbacks:
                    if cb is not clock:
                        time_calls(cb, spent)
                trainer.fit()
                m["run"][name].append(time.perf_counter() - start)
                m["start"][name].append(built)
                m["step_wall"][name].append(step_interval(clock.times, args.validate_every))
                m["step_cpu"][name].append(step_interval(clock.cpu, args.validate_every))
                m["per_step"][name].append(spent.get("on_step", 0.0) / args.iterations)
                m["per_step_cpu"][name].append(spent.get("on_step_cpu", 0.0) / args.iterations)
                m["per_validation"][name].append(spent.get("on_validation", 0.0) / (args.iterations // args.validate_every))
                m["end"][name].append(spent.get("on_train_end", 0.0))

    med = {k: {name: statistics.median(v) for name, v in m[k].items()} for k in keys}
    rows: list[dict[str, Any]] = []
    for name in cases:
        rows.append({"variant": name, "loggers": cases[name]}
                    | {f"{k}_median": med[k][name] for k in keys}
                    | {f"{k}_range": [min(m[k][name]), max(m[k][name])] for k in keys}
                    | {f"{k}_ratio": med[k][name] / med[k]["none"] for k in ("step_cpu", "step_wall", "run")})
    print(f"LISTA + 2NO, T = {args.layers}, m = 100, n = 200, batch 64, {args.iterations} iterations, validation "
          f"every {args.validate_every}; median of {args.rounds} interleaved rounds [min, max]; ratio to 'none'")
    print(f"{'variant':<21}{'step CPU ms':>22}{'ratio':>7}{'step wall ms':>22}{'ratio':>7}"
          f"{'loggers µs/step CPU':>22}{'wall':>16}{'/valid. ms':>11}{'end s':>7}{'run s':>7}{'ratio':>7}")
    for row in rows:
        def cell(k: str, scale: float, fmt: str, row: dict[str, Any] = row) -> str:
            lo, hi = row[f"{k}_range"]
            return f"{format(scale * row[f'{k}_median'], fmt)} [{format(scale * lo, fmt)}, {format(scale * hi, fmt)}]"

        print(f"{row['variant']:<21}{cell('step_cpu', 1e3, '.2f'):>22}{row['step_cpu_ratio']:>7.3f}"
              f"{cell('step_wall', 1e3, '.2f'):>22}{row['step_wall_ratio']:>7.3f}"
              f"{cell('per_step_cpu', 1e6, '.0f'):>22}{cell('per_step', 1e6, '.0f'):>16}"
              f"{1e3 * row['per_validation_median']:>11.1f}{row['end_median']:>7.2f}"
              f"{row['run_median']:>7.2f}{row['run_ratio']:>7.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "note": "step_* and per_* in seconds; step_cpu is the training thread's CPU time (time.thread_time)",
        "command": "python benchmarks/logger_overhead.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "torch": torch.__version__, "threads": torch.get_num_threads()},
        "rows": rows,
    }, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
