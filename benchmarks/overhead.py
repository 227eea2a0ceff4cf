"""Framework overhead and compiled networks, side by side in one process (one thread).

    OMP_NUM_THREADS=1 python benchmarks/overhead.py [--repeat 30] [--parts overhead,breakdown,compile] [--device cpu]

1. ``overhead``: a composed ``lista`` + ``euler`` / ``lista`` + ``2no`` network (m = 250, n = 500, T = 16, tied W)
   against a hand-written plain-torch loop of the same maths and the same parameters, forward + backward, at
   batch 64 and 1,024, each side clearing its gradients through an optimizer over its own parameters (as the
   trainer does). They are timed **interleaved**, in a fresh random order every round (seeded: every
   function equally likely to follow every other; a fixed rotation ran the network always right after the matmul
   roofline, which read its speed about 1 % low, see ``docs/scaling.md``). The speed is the median over rounds of
   the per-round ratio plain / ours (≥ 1: no overhead), with a 95 % bootstrap interval of that median and the
   interquartile range of the ratios. A bare-matmul roofline of the same FLOPs is timed beside them.
2. ``breakdown``: where the overhead is, forward only (``torch.no_grad``) at batch 1, where Python is what
   costs, ``lista`` + ``euler`` interleaved as above: ``net(y)``; ``net.unroll(y)`` (no ``forward`` wrapper); a loop
   calling the layers (``layer(x, ctx)``: no history, integrator or input checks); a loop calling their
   ``forward`` (no ``nn.Module`` call); a bare loop of the same tensor operations on the network's own
   parameters; the hand-written loop of part 1. Each row: median µs and the extra over the bare loop.
3. ``compile``: the same networks eager against ``torch.compile`` (the default inductor backend), training step
   (forward + backward) and evaluation (forward under ``torch.no_grad``), interleaved; the compile time is
   reported separately.

Prints tables and writes JSON (default ``benchmarks/results/overhead.json``): each part's rows under its name and
the machine it ran on under ``<part>_machine``. Parts not run keep what the file already holds, so the parts can be
run (and rerun) separately.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hno_framework import compose
from hno_framework.io import write_json
from hno_framework.uncertainty import percentile_interval

ROOT = Path(__file__).resolve().parents[1]
M, N, T = 250, 500, 16
Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]
"""Φ, W, θ, α, β: the arguments of :func:`hand_written` before ``y``."""


def hand_written(phi: torch.Tensor, W: torch.Tensor, theta: torch.Tensor, alpha: torch.Tensor | None,
                 beta: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    """T layers of LISTA, ``x_{t+1} = η_θt(x_t + W(y − Φx_t))`` (x_0 = 0), with the 2NO update (seed eq. 11)
    ``x_{t+1} = (1 − β_t)x_t + β_tx_{t−1} + α_t(G(x_t) − x_t)`` for t ≥ 1 when ``alpha``/``beta`` are given."""
    x = y.new_zeros(y.shape[0], phi.shape[1])
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


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int, device: torch.device, seed: int = 0
                ) -> dict[str, list[float]]:
    """Seconds of each function per round: the functions run one after another in every round, in a fresh random
    order each round (seeded; after a warm-up). A fixed rotation would let each function always follow the same one:
    the network would always run after the matmul roofline and the hand-written loop after the network, a bias of
    about 1 % here. A random order makes every function equally likely to follow every other."""
    def once(fn: Callable[[], Any]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    order, shuffle = list(fns), random.Random(seed).shuffle
    for _ in range(repeat):
        shuffle(order)
        for name in order:
            times[name].append(once(fns[name]))
    return times


def median_ratio(slow: list[float], fast: list[float]) -> float:
    """Median over rounds of ``fast / slow`` (the speed of ``slow``'s code relative to ``fast``'s)."""
    return statistics.median(f / s for s, f in zip(slow, fast, strict=True))


def network(integrator: str, device: torch.device) -> torch.nn.Module:
    net = compose({"problem": {"m": M, "n": N},
                   "network": {"step": "lista", "integrator": integrator, "layers": T, "tied": True}})
    return net.to(device)


def overhead_part(repeat: int, device: torch.device, batches: tuple[int, ...] = (64, 1024)) -> list[dict[str, Any]]:
    rows = []
    for integrator in ("euler", "2no"):
        net: Any = network(integrator, device)  # reads its registered W, θ, α, β: nn.Module types them Tensor | Module
        phi = net.problem.phi
        W = net.layers[0].W.detach().clone().requires_grad_(True)
        theta = torch.stack([layer.theta.detach() for layer in net.layers]).clone().requires_grad_(True)
        alpha = beta = None
        if integrator == "2no":
            alpha = net.integrator.alpha.detach().clone().requires_grad_(True)
            beta = net.integrator.beta.detach().clone().requires_grad_(True)
        for batch in batches:
            y = torch.randn(batch, M, generator=torch.Generator().manual_seed(batch)).to(device)
            with torch.no_grad():
                same = bool(torch.allclose(net(y), hand_written(phi, W, theta, alpha, beta, y), atol=1e-5))
            a, b1, b2 = torch.randn(batch, N, device=device), phi.T.contiguous(), W.detach().T.contiguous()

            # each side clears its gradients as a training loop does, through an optimizer over its own parameters
            # (the trainer's optimizer.zero_grad); neither optimizer steps, so the weights stay fixed
            ours_optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
            plain_optimizer = torch.optim.SGD([p for p in (W, theta, alpha, beta) if p is not None], lr=0.0)

            def ours(y: torch.Tensor = y, net: Any = net, optimizer: torch.optim.Optimizer = ours_optimizer) -> None:
                optimizer.zero_grad(set_to_none=True)
                net(y).square().mean().backward()

            def plain(y: torch.Tensor = y, args: Weights = (phi, W, theta, alpha, beta),
                      optimizer: torch.optim.Optimizer = plain_optimizer) -> None:
                optimizer.zero_grad(set_to_none=True)
                hand_written(*args, y).square().mean().backward()

            def matmuls(a: torch.Tensor = a, b1: torch.Tensor = b1, b2: torch.Tensor = b2) -> None:
                for _ in range(3 * T):  # forward Φx, Wr and, in backward, about twice that: 3 pairs per layer
                    (a @ b1) @ b2

            times = interleaved({"ours": ours, "plain": plain, "matmul": matmuls}, repeat, device)
            flops = 3 * T * 2 * (2 * batch * M * N)
            ratios = [p / o for o, p in zip(times["ours"], times["plain"], strict=True)]  # per round
            row: dict[str, Any] = {
                "integrator": integrator, "batch": batch, "ours_ms": 1e3 * statistics.median(times["ours"]),
                "plain_ms": 1e3 * statistics.median(times["plain"]), "relative_speed": statistics.median(ratios),
                "relative_speed_q25_q75": quartiles(ratios), "relative_speed_ci95": median_interval(ratios),
                "ours_gflops": flops / statistics.median(times["ours"]) / 1e9,
                "matmul_gflops": flops / statistics.median(times["matmul"]) / 1e9, "same_output": same}
            rows.append(row)
            print(f"lista+{integrator:<5} batch {batch:>5}: ours {row['ours_ms']:8.2f} ms, plain {row['plain_ms']:8.2f} "
                  f"ms, speed {row['relative_speed']:.3f}× of hand-written (95 % CI of the median "
                  f"{row['relative_speed_ci95'][0]:.3f}–{row['relative_speed_ci95'][1]:.3f}; IQR "
                  f"{row['relative_speed_q25_q75'][0]:.3f}–{row['relative_speed_q25_q75'][1]:.3f}); {row['ours_gflops']:.1f} GFLOP/s vs matmul "
                  f"{row['matmul_gflops']:.1f}", flush=True)
    return rows


def breakdown_part(repeat: int, device: torch.device, batch: int = 1) -> list[dict[str, Any]]:
    from hno_framework import ForwardContext

    net: Any = network("euler", device)
    layers = list(net.layers)
    phi, W = net.problem.phi, layers[0].W
    thetas = [layer.theta for layer in layers]
    theta = torch.stack([t.detach() for t in thetas])
    y = torch.randn(batch, M, generator=torch.Generator().manual_seed(batch)).to(device)

    def layer_loop(call: Callable[[Any], Callable[..., torch.Tensor]]) -> Callable[[], torch.Tensor]:
        """The layers one after another, each called as ``call(layer)(x, ctx)`` (resolved before the timing)."""
        calls = [call(layer) for layer in layers]

        def run() -> torch.Tensor:
            ctx, x = ForwardContext(y=y, mask=None, problem=None), y.new_zeros(batch, N)
            for layer_call in calls:
                x = layer_call(x, ctx)
            return x
        return run

    def bare() -> torch.Tensor:
        x = y.new_zeros(batch, N)
        for t in range(T):
            z = x + (y - x @ phi.T) @ W.T
            x = torch.sign(z) * torch.relu(z.abs() - thetas[t])
        return x

    fns: dict[str, Callable[[], Any]] = {
        "net(y)": lambda: net(y), "net.unroll(y)": lambda: net.unroll(y).estimate, "layer(x, ctx) loop": layer_loop(lambda layer: layer),
        "layer.forward loop": layer_loop(lambda layer: layer.forward), "bare loop": bare,
        "hand-written": lambda: hand_written(phi, W, theta, None, None, y)}
    with torch.no_grad():
        same = all(bool(torch.allclose(fn(), bare(), atol=1e-5)) for fn in fns.values())
        times = interleaved(fns, repeat, device)
    base = statistics.median(times["bare loop"])
    rows = [{"variant": name, "batch": batch, "median_us": 1e6 * statistics.median(t),
             "extra_over_bare_us": 1e6 * (statistics.median(t) - base), "same_output": same}
            for name, t in times.items()]
    for row in rows:
        print(f"{row['variant']:<20} batch {batch}: {row['median_us']:8.1f} µs  (+{row['extra_over_bare_us']:6.1f} µs "
              f"over the bare loop)", flush=True)
    return rows


def median_interval(ratios: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the median of per-round ratios (rounds resampled with replacement)."""
    values = torch.tensor(ratios, dtype=torch.float64)
    index = torch.randint(len(ratios), (resamples, len(ratios)), generator=torch.Generator().manual_seed(seed))
    low, high = percentile_interval(values[index].median(dim=1).values)
    return float(low), float(high)


def quartiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def compile_part(repeat: int, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    for integrator in ("euler", "2no"):
        for batch in (64, 1024):
            eager = network(integrator, device)
            compiled_net = network(integrator, device)
            compiled_net.load_state_dict(eager.state_dict())
            compiled = torch.compile(compiled_net)
            y = torch.randn(batch, M, generator=torch.Generator().manual_seed(batch)).to(device)
            start = time.perf_counter()
            compiled(y).square().mean().backward()
            with torch.no_grad():
                compiled(y)
            compile_s = time.perf_counter() - start
            with torch.no_grad():
                agree = bool(torch.allclose(compiled(y), eager(y), rtol=1e-4, atol=1e-5))

            def train_step(net: Any, y: torch.Tensor = y) -> Callable[[], None]:
                def run() -> None:
                    net.zero_grad(set_to_none=True)
                    net(y).square().mean().backward()
                return run

            def evaluate(net: Any, y: torch.Tensor = y) -> Callable[[], None]:
                def run() -> None:
                    with torch.no_grad():
                        net(y)
                return run

            times = interleaved({"train eager": train_step(eager), "train compiled": train_step(compiled),
                                 "eval eager": evaluate(eager), "eval compiled": evaluate(compiled)}, repeat, device)
            row = {"integrator": integrator, "batch": batch, "compile_seconds": compile_s, "agree": agree,
                   **{f"{k.replace(' ', '_')}_ms": 1e3 * statistics.median(v) for k, v in times.items()},
                   "train_speedup": median_ratio(times["train compiled"], times["train eager"]),
                   "eval_speedup": median_ratio(times["eval compiled"], times["eval eager"])}
            rows.append(row)
            print(f"lista+{integrator:<5} batch {batch:>5}: train {row['train_eager_ms']:8.2f} → "
                  f"{row['train_compiled_ms']:8.2f} ms ({row['train_speedup']:.2f}×), eval {row['eval_eager_ms']:8.2f} → "
                  f"{row['eval_compiled_ms']:8.2f} ms ({row['eval_speedup']:.2f}×); compile {compile_s:.1f} s, "
                  f"agree {agree}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="overhead,breakdown,compile")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 1024], help="batch sizes of the overhead part")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "overhead.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    machine: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor(),
                               "cores": os.cpu_count(), "torch": torch.__version__, "threads": 1,
                               "load_average": os.getloadavg(), "device": str(device), "repeat": args.repeat}
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
    report: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runners: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "overhead": lambda: overhead_part(args.repeat, device, tuple(args.batches)),
        "breakdown": lambda: breakdown_part(args.repeat, device),
        "compile": lambda: compile_part(args.repeat, device),
    }
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(runners))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {sorted(runners)}")
    for part in parts:
        part_machine = dict(machine)
        report[part] = runners[part]()
        part_machine["load_average_after"] = os.getloadavg()
        report[f"{part}_machine"] = part_machine
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
