"""Why does LISTA stall near −23.5 dB? Small, targeted training runs, one variable at a time.

Setting: Lasso m = 250, n = 500, T = 16, noiseless, κ = 1, sparsity 0.1, untied LISTA (the
coupled LISTA-CP form ``η_θ(x + W(y − Φx))``). Every variant trains end to end with fresh
batches of 64 for the same number of iterations and is tested on 10,000 fresh samples (NMSE dB
with a 95 % bootstrap interval). Hypotheses, each one variant:

* ``base``: as ``hno train`` (mean-reduced MSE, Adam ε = 1e-8, lr 5e-4, cosine to 1 %, float32);
* ``sum-loss``: the reference code's loss ``½ Σ‖x̂ − x*‖²`` (TF ``l2_loss``) instead of the mean;
* ``eps-1e-20``: mean loss, Adam ε = 1e-20 (if this equals ``sum-loss``, Adam's ε is the cause);
* ``float64``, ``lr-1e-4``, ``lr-1e-3``, ``steps`` (5e-4 → 1e-4 → 1e-5 piecewise), ``tied``.

It also records, at the end of training, ``eps_over_rms``: Adam's ε divided by the median over
W's entries of ``sqrt(v̂)`` (the RMS gradient Adam divides by). Near or above 1, ε dominates and
Adam's steps shrink by that factor.

    OMP_NUM_THREADS=1 python studies/benchmarks/converged_probe.py --iterations 4000 [--variants base sum-loss ...]

Prints a table and writes ``benchmarks/results/converged_probe.json`` (appended per variant).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import time
from pathlib import Path
from typing import Any, cast

import torch

from hno_framework.composer import compose
from hno_framework.config import parse_config
from hno_framework.data import make_splits, make_test_set
from hno_studies.statistics import bootstrap_nmse_db

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "converged_probe.json"

BASE: dict[str, Any] = {"protocol": "end-to-end", "loss": "mean", "eps": 1e-8, "lr": 5e-4, "schedule": "cosine", "dtype": "float32",
                        "tied": False, "step": "lista", "integrator": "euler", "step_options": {}}
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "sum-loss": {"loss": "sum"},
    "eps-1e-20": {"eps": 1e-20},
    "float64": {"dtype": "float64"},
    "lr-1e-4": {"loss": "sum", "lr": 1e-4},
    "lr-1e-3": {"loss": "sum", "lr": 1e-3},
    "steps": {"loss": "sum", "schedule": "steps"},
    "tied": {"loss": "sum", "tied": True},
    "cpss-base": {"step": "lista-cpss"},
    "cpss-sum-loss": {"step": "lista-cpss", "loss": "sum"},
    "alista-base": {"step": "alista", "step_options": {"support_selection": True}},
    "alista-sum-loss": {"step": "alista", "step_options": {"support_selection": True}, "loss": "sum"},
    "alista-lr-5e-3": {"step": "alista", "lr": 5e-3},
    "alista-lr-2e-2": {"step": "alista", "lr": 2e-2},
    "alista-all-layers": {"step": "alista", "lr": 5e-3, "loss": "all-layers"},
    "lista-all-layers": {"loss": "all-layers"},
    "alista-log-layers": {"step": "alista", "lr": 5e-3, "loss": "log-layers"},
    "lista-log-layers": {"loss": "log-layers"},
    "cpss-log-layers": {"step": "lista-cpss", "loss": "log-layers"},
    # stage-wise (LISTA-CPSS protocol, public API hno_framework.train), short patience
    "alista-stagewise": {"step": "alista", "protocol": "stagewise"},
    "lista-stagewise": {"step": "lista", "protocol": "stagewise"},
}
STAGEWISE = {"patience": 200, "max_iterations": 3000, "validate_every": 20, "checkpoint_every": 100000}


def run_stagewise(name: str, v: dict[str, Any], seed: int, test_size: int) -> dict[str, Any]:
    """Train with ``training.protocol: stagewise`` through :func:`hno_framework.train`."""
    import tempfile

    from hno_framework.api import train
    from hno_framework.checkpoint import load_network

    out = Path(tempfile.mkdtemp(prefix="probe-"))
    cfg = parse_config({
        "name": name,
        "problem": {"m": 250, "n": 500, "sparsity": 0.1, "lam": 0.4, "seed": 0},
        "network": {"step": {"name": v["step"], "options": v["step_options"]}, "integrator": v["integrator"],
                    "layers": 16, "tied": v["tied"]},
        "training": {"dtype": v["dtype"], "seed": seed, "validation_size": 1000, "test_size": 1000, "lr": v["lr"],
                     "protocol": "stagewise", "stagewise": STAGEWISE, "threads": 1},
        "output": {"dir": str(out)},
    })
    start = time.perf_counter()
    result = train(cfg, progress=False)
    seconds = time.perf_counter() - start
    net, _ = load_network(out / name / "best.pt")
    test = make_test_set(net.problem, cfg, test_size)
    e, r = per_sample(net, test)
    est = bootstrap_nmse_db(e, r)
    return {"variant": name, "settings": {**v, "stagewise": STAGEWISE}, "iterations": result.iterations, "seed": seed,
            "seconds": seconds, "best_validation_db": result.best_validation_nmse_db, "test_nmse_db": est.nmse_db,
            "ci_db": est.interval, "test_size": test_size, "eps_over_rms_median": None,
            "curve": [[h.get("iteration"), h.get("validation_nmse_db")] for h in result.history][::10]}


def lr_at(v: dict[str, Any], it: int, total: int) -> float:
    p = it / total
    if v["schedule"] == "cosine":
        return v["lr"] * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p)))
    if v["schedule"] == "steps":  # reference-style: lr, then lr/5, then lr/50
        return v["lr"] * (1.0 if p < 0.5 else 0.2 if p < 0.8 else 0.02)
    return v["lr"]


def per_sample(net: torch.nn.Module, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        errs = [(net(data.y[i:i + 1000]) - data.x[i:i + 1000]).double().pow(2).sum(dim=1)
                for i in range(0, len(data), 1000)]
    return torch.cat(errs), data.x.double().pow(2).sum(dim=1)


def run_variant(name: str, iterations: int, seed: int, test_size: int) -> dict[str, Any]:
    v = {**BASE, **VARIANTS[name]}
    if v.get("protocol") == "stagewise":
        return run_stagewise(name, v, seed, test_size)
    cfg = parse_config({
        "problem": {"m": 250, "n": 500, "sparsity": 0.1, "lam": 0.4, "seed": 0},
        "network": {"step": {"name": v["step"], "options": v["step_options"]}, "integrator": v["integrator"],
                    "layers": 16, "tied": v["tied"]},
        "training": {"dtype": v["dtype"], "seed": seed, "validation_size": 1000, "test_size": test_size},
    })
    net = compose(cfg)
    splits = make_splits(net.problem, cfg)
    dtype = net.problem.phi.dtype
    val = splits.validation
    val = type(val)(val.x.to(dtype), val.y.to(dtype))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=v["lr"], eps=v["eps"])
    best, best_state, curve = float("inf"), None, []
    start = time.perf_counter()
    for it in range(iterations):
        for group in opt.param_groups:
            group["lr"] = lr_at(v, it, iterations)
        b = splits.next_batch(64)
        if v["loss"] == "all-layers":  # deep supervision: ½Σ‖x_t − x*‖² summed over every layer t ≥ 1
            traj = net.unroll(b.y.to(dtype), keep_trajectory=True).trajectory
            assert traj is not None  # keep_trajectory=True
            loss = 0.5 * (traj[:, 1:] - b.x.to(dtype).unsqueeze(1)).pow(2).sum()
        elif v["loss"] == "log-layers":  # Σ_t log Σ‖x_t − x*‖²: the sum of the layers' NMSE in dB (up to constants)
            traj = net.unroll(b.y.to(dtype), keep_trajectory=True).trajectory
            assert traj is not None  # keep_trajectory=True
            loss = (traj[:, 1:] - b.x.to(dtype).unsqueeze(1)).pow(2).sum(dim=(0, 2)).log().sum()
        else:
            diff = net(b.y.to(dtype)) - b.x.to(dtype)
            loss = 0.5 * diff.pow(2).sum() if v["loss"] == "sum" else diff.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (it + 1) % 200 == 0 or it + 1 == iterations:
            e, r = per_sample(net, val)
            db = 10 * math.log10(float(e.sum() / r.sum()))
            curve.append([it + 1, db])
            if db < best:
                best, best_state = db, copy.deepcopy(net.state_dict())
    seconds = time.perf_counter() - start
    # Adam's ε against the RMS gradient it divides by (W of the untied layers, or all params)
    ratios = []
    for p in params:
        st = opt.state.get(p)
        if st and "exp_avg_sq" in st:
            bias = 1 - opt.param_groups[0]["betas"][1] ** int(st["step"])
            ratios.append(float(v["eps"] / (st["exp_avg_sq"] / bias).sqrt().median()))
    if best_state is not None:
        net.load_state_dict(best_state)
    test = make_test_set(net.problem, cfg)
    e, r = per_sample(net, type(test)(test.x.to(dtype), test.y.to(dtype)))
    est = bootstrap_nmse_db(e, r)
    worst = e.sort(descending=True).values
    tail = {"top_0.1%": float(worst[: len(e) // 1000].sum() / e.sum()), "top_1%": float(worst[: len(e) // 100].sum() / e.sum())}
    with torch.no_grad():
        traj = net.unroll(test.y[:2000].to(dtype), keep_trajectory=True).trajectory
        assert traj is not None
        layers = [10 * math.log10(float((traj[:, t] - test.x[:2000].to(dtype)).pow(2).sum() / test.x[:2000].pow(2).sum()))
                  for t in range(1, traj.shape[1])]
    scalars = {k: [round(float(x), 5) for x in t.detach().reshape(-1)] for k, t in net.named_parameters()
               if t.numel() <= 16 and "layers." in k} if v["step"] == "alista" else {}
    thetas = [round(float(cast(torch.Tensor, layer.theta).detach()), 5) for layer in net.layers]
    return {"variant": name, "settings": v, "iterations": iterations, "error_share_of_worst": tail,
            "nmse_db_per_layer_first2000": layers, "theta": thetas, "scalars": scalars, "seed": seed, "seconds": seconds,
            "best_validation_db": best, "test_nmse_db": est.nmse_db, "ci_db": est.interval, "test_size": test_size,
            "eps_over_rms_median": (sorted(ratios)[len(ratios) // 2] if ratios else None), "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-size", type=int, default=10000)
    ap.add_argument("--variants", nargs="+", default=["base", "sum-loss", "eps-1e-20", "steps", "lr-1e-4", "float64"])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    print(f"{'variant':<18}{'iters':>7}{'test dB':>9}{'95% CI':>18}{'eps/rms':>10}{'s':>7}", flush=True)
    for name in args.variants:
        res = run_variant(name, args.iterations, args.seed, args.test_size)
        results.append(res)
        ratio = res["eps_over_rms_median"]
        print(f"{name:<18}{res['iterations']:>7}{res['test_nmse_db']:>9.2f}"
              f"{'[{:.2f}, {:.2f}]'.format(*res['ci_db']):>18}{(ratio or float('nan')):>10.3g}{res['seconds']:>7.0f}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                        "torch": torch.__version__, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
