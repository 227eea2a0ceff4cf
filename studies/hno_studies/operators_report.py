"""Report of the whole-image operator study: ``results.json``, ``README.md`` and ``reconstructions-<task>.png``,
rebuilt from the finished cells alone (:func:`~.operators.finished_cells`).

With several training seeds a network's PSNR (SSIM) is the mean over test crops of the seeds' mean per crop, with a
95 % bootstrap interval over the crops; a difference between two networks gets that paired interval over crops and,
from ≥ 2 seeds trained for both, the paired t interval over the same-seed differences (the seed level).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from hno_framework.io import write_json

from .operators import OperatorStudyConfig, bootstrap_mean, finished_cells
from .statistics import seed_difference_interval


def paired_difference(a: np.ndarray, b: np.ndarray, resamples: int, seed: int = 0) -> dict[str, Any]:
    """Mean of ``b − a`` over the same test crops with its 95 % paired percentile-bootstrap interval, and the
    share of crops on which b is higher."""
    d = b.astype(np.float64) - a.astype(np.float64)
    g = np.random.default_rng(seed)
    means = d[g.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    return {"mean": float(d.mean()), "ci": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
            "share_higher": float((d > 0).mean())}


def _per_crop(results: list[dict[str, Any]], key: str) -> np.ndarray:
    """``(seeds, crops)`` per-crop metric ``key`` ("psnr", "ssim") of a network's seeds."""
    return np.stack([np.load(r["_metrics"])[key].astype(np.float64) for r in results])


def _seeds_of(results: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(r.get("seed", 0)): r for r in results}


def network_row(task: str, network: str, results: list[dict[str, Any]], resamples: int) -> dict[str, Any]:
    psnr, ssim = _per_crop(results, "psnr").mean(axis=0), _per_crop(results, "ssim").mean(axis=0)
    return {"task": task, "network": network, "seeds": [int(r.get("seed", 0)) for r in results],
            "psnr_db": float(psnr.mean()), "psnr_ci_db": bootstrap_mean(psnr, resamples),
            "ssim": float(ssim.mean()), "ssim_ci": bootstrap_mean(ssim, resamples),
            "per_seed_psnr_db": [r["psnr_db"] for r in results], "per_seed_ssim": [r["ssim"] for r in results],
            "core_hours_per_seed": float(np.mean([r["core_hours"] for r in results])),
            "iterations": results[0]["iterations"], "learnable_parameters": results[0]["learnable_parameters"],
            "measurement_psnr_db": results[0]["measurement_psnr_db"], "measurement_ssim": results[0]["measurement_ssim"],
            "measurement_shown": results[0].get("measurement_shown", "y")}


def comparison(task: str, base: str, other: str, a: list[dict[str, Any]], b: list[dict[str, Any]],
               resamples: int) -> dict[str, Any]:
    out: dict[str, Any] = {"task": task, "base": base, "network": other}
    shared = sorted(set(_seeds_of(a)) & set(_seeds_of(b)))  # identical training: the seeds both networks have
    a = [r for r in a if int(r.get("seed", 0)) in shared]
    b = [r for r in b if int(r.get("seed", 0)) in shared]
    out["seeds"] = shared
    for key, unit in (("psnr", "psnr_difference_db"), ("ssim", "ssim_difference")):
        out[unit] = paired_difference(_per_crop(a, key).mean(axis=0), _per_crop(b, key).mean(axis=0), resamples)
        field = "psnr_db" if key == "psnr" else "ssim"
        sa, sb = _seeds_of(a), _seeds_of(b)
        same = {s: sb[s][field] - sa[s][field] for s in sorted(sa) if s in sb}
        level = seed_difference_interval(list(same.values()))
        out[unit]["per_seed"] = {str(s): d for s, d in same.items()}
        out[unit]["seed_level_ci"] = None if level is None else [level["low_db"], level["high_db"]]
    return out


def transfer_rows(task: str, found: dict[tuple[str, str], list[dict[str, Any]]], networks: list[str],
                  resamples: int) -> list[dict[str, Any]]:
    """Per transfer operator and network: PSNR / SSIM of the seeds' mean per crop, and PSNR against the first network."""
    rows = []
    titles = [t["title"] for t in found[(task, networks[0])][0].get("transfer", [])]
    for k, title in enumerate(titles):
        base = np.mean([r["transfer"][k]["psnr_per_crop"] for r in found[(task, networks[0])]], axis=0)
        for n in networks:
            if any(len(r.get("transfer", [])) <= k for r in found[(task, n)]):
                continue
            psnr = np.mean([r["transfer"][k]["psnr_per_crop"] for r in found[(task, n)]], axis=0)
            ssim = np.mean([r["transfer"][k]["ssim_per_crop"] for r in found[(task, n)]], axis=0)
            rows.append({"task": task, "transfer": title, "network": n, "seeds": len(found[(task, n)]),
                         "psnr_db": float(psnr.mean()), "psnr_ci_db": bootstrap_mean(psnr, resamples),
                         "ssim": float(ssim.mean()),
                         "measurement_psnr_db": found[(task, n)][0]["transfer"][k]["measurement_psnr_db"],
                         "psnr_minus_base": None if n == networks[0] else paired_difference(base, psnr, resamples)})
    return rows


def summarise(cfg: OperatorStudyConfig) -> dict[str, Any]:
    """The content of ``results.json``: every finished cell, per network its seeds pooled, per task each network
    against the first one, and the networks on the transfer operators."""
    found = finished_cells(cfg)
    cells = [{k: v for k, v in r.items() if not k.startswith("_") and k != "transfer"} for rs in found.values() for r in rs]
    networks, comparisons, transfer = [], [], []
    for task in cfg.tasks:
        names = [n for n in cfg.networks if (task, n) in found]
        networks += [network_row(task, n, found[(task, n)], cfg.bootstrap_resamples) for n in names]
        comparisons += [comparison(task, names[0], n, found[(task, names[0])], found[(task, n)], cfg.bootstrap_resamples)
                        for n in names[1:]]
        if names:
            transfer += transfer_rows(task, found, names, cfg.bootstrap_resamples)
    todo = [f"{t}/{n}/seed{s}" for s in cfg.seeds for t, n in cfg.cells
            if not any(int(r.get("seed", 0)) == s for r in found.get((t, n), []))]
    return {"name": cfg.name, "networks": networks, "comparisons": comparisons, "transfer": transfer, "cells": cells,
            "unfinished": todo, "config": cfg.model_dump(mode="json")}


def plot_reconstructions(cfg: OperatorStudyConfig, task: str, found: dict[tuple[str, str], list[dict[str, Any]]],
                         path: Path, rows: int = 2) -> bool:
    """Ground truth, measurement and every network's estimate (its first seed) of the first ``rows`` test crops."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in cfg.networks if (task, n) in found]
    if not names:
        return False
    examples = {n: torch.load(found[(task, n)][0]["_examples"], weights_only=True) for n in names}
    first = examples[names[0]]
    shown = found[(task, names[0])][0].get("measurement_shown", "measurement")
    columns = [("ground truth", first["x"]), (f"measurement: {shown}", first["measurement"])]
    columns += [(n, examples[n]["estimate"]) for n in names]
    fig, axes = plt.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.3 * rows), squeeze=False)
    for r in range(rows):
        for c, (label, images) in enumerate(columns):
            ax = axes[r][c]
            ax.imshow(images[r, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(label, fontsize=9)
    fig.suptitle(cfg.tasks[task].title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _ci(values: list[float] | None, digits: int) -> str:
    return "–" if values is None else f"[{values[0]:+.{digits}f}, {values[1]:+.{digits}f}]"


def _per_seed(d: dict[str, float], digits: int) -> str:
    return ", ".join(f"s{s} {v:+.{digits}f}" for s, v in d.items()) or "–"


def write_report(cfg: OperatorStudyConfig, config_path: str = "examples/operators/operators.yaml") -> Path:
    """Write results.json, README.md and the figures under ``cfg.output.results``; returns the README's path."""
    out = cfg.output.results
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(cfg)
    write_json(out / "results.json", summary)
    found = finished_cells(cfg)
    figures = [f"reconstructions-{t}.png" for t in cfg.tasks if plot_reconstructions(cfg, t, found, out / f"reconstructions-{t}.png")]
    t = cfg.training
    lines = [
        "# Whole-image unfolding through matrix-free operators: one DUN step, several integrators", "",
        f"Generated by `hno experiment operators {config_path} --report-only` from the cell files in `cells/`.", "",
        (f"* Network: `{cfg.step.get('name')}` {cfg.step.get('options', {})}, T = {cfg.layers} layers, untied; the "
         f"integrators {', '.join(f'{n} (`{i}`)' for n, i in cfg.networks.items())}, each from its own initial "
         "coefficients. Every network of a task is trained identically, with the same training seeds."),
        (f"* Data: {cfg.crop} × {cfg.crop} crops (grayscale, values in [0, 1]) of scikit-image photographs, "
         f"{cfg.images.downscale} × {cfg.images.downscale} block averages; training and validation crops from "
         f"{', '.join(cfg.images.train)}; {cfg.test_crops} test crops from {', '.join(cfg.images.test)} (split by image, "
         "checked on the pixels)."),
        (f"* Training: {t.get('iterations')} iterations of Adam, lr {t.get('lr')} ({t.get('schedule', 'cosine')}), batches of "
         f"{t.get('batch_size')} fresh crops, loss {t.get('loss', 'mse')}, the best of the validations on "
         f"{t.get('validation_size')} crops kept; training seeds {', '.join(map(str, cfg.seeds))}."),
        ("* Metrics: PSNR (dB) and SSIM (torchmetrics, data range 1, Gaussian window) per test crop, the estimate "
         "clamped to [0, 1]; with several seeds, of the seeds' mean per crop. Intervals: 95 % percentile bootstrap over "
         f"the test crops; they come from {len(cfg.images.test)} pictures, so these cover the choice of crops, not of "
         "pictures. The seed-level interval (paired t over the same-seed differences, ≥ 2 seeds) covers training runs."),
        "",
    ]
    for task, spec in cfg.tasks.items():
        rows = [r for r in summary["networks"] if r["task"] == task]
        if not rows:
            continue
        lines += [f"## {spec.title}", "", f"Problem: `{spec.problem}`.", "",
                  "| network | seeds | PSNR dB [95 %] | per seed | SSIM [95 %] | iterations | parameters | core-h / seed |",
                  "|---|---|---|---|---|---|---|---|",
                  (f"| measurement: {rows[0]['measurement_shown']} | – | {rows[0]['measurement_psnr_db']:.2f} | – | "
                   f"{rows[0]['measurement_ssim']:.4f} | – | – | – |")]
        for r in rows:
            lines.append(f"| {r['network']} | {len(r['seeds'])} | {r['psnr_db']:.2f} [{r['psnr_ci_db'][0]:.2f}, "
                         f"{r['psnr_ci_db'][1]:.2f}] | {', '.join(f'{v:.2f}' for v in r['per_seed_psnr_db'])} | "
                         f"{r['ssim']:.4f} [{r['ssim_ci'][0]:.4f}, {r['ssim_ci'][1]:.4f}] | {r['iterations']:,} | "
                         f"{r['learnable_parameters']:,} | {r['core_hours_per_seed']:.3f} |")
        comps = [c for c in summary["comparisons"] if c["task"] == task]
        if comps:
            lines += ["", ("Against the first network, over the training seeds both have (paired over the same test crops; "
                       "then the seed level):"), "",
                      ("| network − base | PSNR dB [crops] | higher on | same-seed PSNR differences | seed level | "
                       "SSIM [crops] | seed level |"), "|---|---|---|---|---|---|---|"]
            for c in comps:
                p, s = c["psnr_difference_db"], c["ssim_difference"]
                lines.append(f"| {c['network']} − {c['base']} | {p['mean']:+.3f} {_ci(p['ci'], 3)} | "
                             f"{100 * p['share_higher']:.1f} % | {_per_seed(p['per_seed'], 3)} | {_ci(p['seed_level_ci'], 3)} | "
                             f"{s['mean']:+.4f} {_ci(s['ci'], 4)} | {_ci(s['seed_level_ci'], 4)} |")
        moved = [r for r in summary["transfer"] if r["task"] == task]
        if moved:
            lines += ["", ("The same trained networks on operators they were not trained on (called with "
                           "`net(y, problem=other)`; the same test crops and noise draws, measured through that "
                           "operator):"), "",
                      "| operator | network | PSNR dB [95 %] | − first network [crops] | SSIM | measurement PSNR |",
                      "|---|---|---|---|---|---|"]
            for r in moved:
                d = r["psnr_minus_base"]
                against = "–" if d is None else f"{d['mean']:+.3f} {_ci(d['ci'], 3)}"
                lines.append(f"| {r['transfer']} | {r['network']} | {r['psnr_db']:.2f} [{r['psnr_ci_db'][0]:.2f}, "
                             f"{r['psnr_ci_db'][1]:.2f}] | {against} | {r['ssim']:.4f} | {r['measurement_psnr_db']:.2f} |")
        if f"reconstructions-{task}.png" in figures:
            lines += ["", f"![ground truth, measurement and reconstructions](reconstructions-{task}.png)"]
        lines.append("")
    if summary["unfinished"]:
        lines += ["## Unfinished cells", "", ", ".join(f"`{c}`" for c in summary["unfinished"]), ""]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
    return out / "README.md"
