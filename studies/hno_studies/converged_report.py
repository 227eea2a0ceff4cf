"""Report of the converged study, regenerated from the committed cell files alone.

Reads ``<results>/cells/<setting>/<network>/seed<k>.json`` (+ ``.errors.npy``) and writes
``results.json`` (a list ``cells``: one entry per setting × network with ``setting``, ``network``,
``final_nmse_db``, ``ci_db``, ``seeds``, ``iterations``, ``core_hours``, seed spread, the published
level), ``README.md`` (protocol, machine, cost, our numbers beside the published ones, HNO − base
differences with paired intervals, training cost, error by support size, unfinished cells and the command to
resume) and figures per setting: ``nmse-<setting>.png`` (test NMSE per layer), ``training-<setting>.png``
(validation NMSE against training iteration), ``coefficients-<setting>.png`` (learned integrator coefficients)
and ``support-<setting>.png`` (test NMSE by the samples' number of non-zeros, where the support sizes are saved).

Training cost, from the cells' validation curves (1,000 samples, so indicative only): per cell the first
iteration within 3 dB of the published level; per pair the first iteration at which the second network
matched the first one's best validation NMSE (:func:`catch_up`).

Statistics: a cell's NMSE is that of the seeds' mean squared error over the setting's test set
(≥ 10,000 samples), with a 95 % percentile-bootstrap interval over test samples; the spread over
training seeds is reported beside it. A difference is called a gain only when its paired
interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from hno_framework.config import ProblemConfig
from hno_framework.io import read_json, write_json
from hno_framework.plotting import (
    plot_coefficients,
    plot_differences,
    plot_nmse_by_group,
    plot_nmse_per_layer_panels,
    plot_training_curves,
)

from .classical import iterations_to_reach
from .evidence import instance_lines, instance_pairs, tail_metrics, typical_samples, validation_flattery
from .learned_coefficients import coefficient_groups, summary_rows
from .statistics import (
    difference_db,
    nmse_db_by_support,
    pooled_nmse_db,
    sample_quantiles,
    seed_difference_interval,
    seed_spread,
    share_better,
    subset_nmse_db,
    support_bins,
)

if TYPE_CHECKING:
    from .converged_config import ConvergedConfig, Recipe


def cell_results(cfg: ConvergedConfig) -> dict[tuple[str, str], list[dict[str, Any]]]:
    from .converged_config import cell_paths

    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in cfg.cells:
        for seed in cell.seeds:
            path, _ = cell_paths(cfg, cell.setting, cell.network, seed)
            if path.is_file():
                res = read_json(path, "cell result")
                res["_errors"] = path.with_suffix(".errors.npy")
                found.setdefault((cell.setting, cell.network), []).append(res)
    settings, networks = list(cfg.settings), list(cfg.networks)  # report order: the config's, not the queue's
    order = sorted(found, key=lambda key: (settings.index(key[0]), networks.index(key[1])))
    return {key: sorted(found[key], key=lambda r: r["seed"]) for key in order}


def first_iteration_at(curve: list[list[float]], target_db: float) -> int | None:
    """The first validated iteration whose validation NMSE is ≤ ``target_db`` (``curve``: ``[[iteration, nmse_db],
    ...]`` as a cell's ``validation_curve``); None when the run never got there."""
    k = iterations_to_reach([math.inf if v is None else v for _, v in curve], target_db)
    return None if k is None else int(curve[k][0])


def _best(curve: list[list[float]]) -> float:
    return min(v for _, v in curve if v is not None)


def pair_panels(pairs: list[list[str]], present: list[str]) -> dict[str, list[str]]:
    """Panels of a per-setting figure: one per pair with a network in ``present`` (``"base vs hno"`` -> the
    pair's networks that are present), then one per present network in no such pair, in ``present``'s order."""
    panels: dict[str, list[str]] = {}
    for base, hno in pairs:
        if base in present or hno in present:
            panels[f"{base} vs {hno}"] = [n for n in (base, hno) if n in present]
    paired = {n for members in panels.values() for n in members}
    panels.update({n: [n] for n in present if n not in paired})
    return panels


def training_curve_groups(cfg: ConvergedConfig, found: dict[tuple[str, str], list[dict[str, Any]]],
                          setting: str) -> dict[str, dict[str, list[Any]]]:
    """The panels of a setting's training figure (:func:`pair_panels`): panel -> network -> its seeds' validation
    curves, in seed order."""
    curves = {network: [r["validation_curve"] for r in sorted(rs, key=lambda r: r["seed"]) if r.get("validation_curve")]
              for (s, network), rs in found.items() if s == setting}
    curves = {network: cs for network, cs in curves.items() if cs}
    return {panel: {n: curves[n] for n in members} for panel, members in pair_panels(cfg.pairs, list(curves)).items()}


def catch_up(base: list[dict[str, Any]], hno: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per seed trained for both networks: the iteration at which the base network's validation NMSE reached its
    best value, and the first iteration at which the HNO network's validation NMSE was as good (same validation
    set: a cell's validation set depends on the setting and seed only). Training-cost evidence, indicative only:
    validation sets have 1,000 samples."""
    out = []
    for b in base:
        h = next((r for r in hno if r["seed"] == b["seed"]), None)
        if h is None or not b.get("validation_curve") or not h.get("validation_curve"):
            continue
        level = _best(b["validation_curve"])
        out.append({"seed": b["seed"], "base_best_db": level, "base_iteration": first_iteration_at(b["validation_curve"], level),
                    "hno_iteration": first_iteration_at(h["validation_curve"], level)})
    return out


def _errors(results: list[dict[str, Any]]) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.load(r["_errors"]).astype(np.float64) for r in results]))


def summarise(cfg: ConvergedConfig) -> dict[str, Any]:
    """The content of ``results.json``."""
    from .converged_config import energies_path, instance_of, support_sizes_path

    found = cell_results(cfg)
    problem = ProblemConfig.model_validate(cfg.problem)  # the base problem with its defaults (n, sparsity)
    bins = support_bins(problem.n, problem.sparsity)
    energies_of = {s: torch.from_numpy(np.load(energies_path(cfg, s))) for s in dict.fromkeys(s for s, _ in found)}
    sizes_of = {s: torch.from_numpy(np.load(support_sizes_path(cfg, s))) for s in energies_of
                if support_sizes_path(cfg, s).is_file()}
    cells, pairs = [], []
    for (setting, network), results in found.items():
        energies = energies_of[setting]
        errors = _errors(results)
        by_support = ({"nmse_db_by_support": nmse_db_by_support(errors, energies, sizes_of[setting], bins.edges,
                                                                resamples=cfg.bootstrap_resamples)}
                      if setting in sizes_of else {})
        est = pooled_nmse_db(errors, energies, resamples=cfg.bootstrap_resamples)
        per_seed = [r["final_nmse_db"] for r in results]
        layers = np.mean([r["nmse_db_per_layer"] for r in results], axis=0).tolist()
        tail = (tail_metrics(errors, energies, sizes_of[setting], problem.n, problem.sparsity)
                if setting in sizes_of else {})
        cells.append({
            "setting": setting, "instance": instance_of(cfg, setting), "network": network,
            "final_nmse_db": est.nmse_db, "ci_db": est.interval, **tail,
            "validation_minus_test_db": validation_flattery(results),
            "seeds": [r["seed"] for r in results], "per_seed_nmse_db": per_seed,
            "per_seed_ci_db": [r["ci_db"] for r in results], "seed_spread_db": seed_spread(per_seed),
            "iterations": int(np.mean([r["iterations"] for r in results])),
            "core_hours": float(np.mean([r["core_hours"] for r in results])),
            "core_hours_total": float(np.sum([r["core_hours"] for r in results])),
            "test_size": results[0]["test_size"], "published_db": cfg.published.get(setting, {}).get(network),
            "nmse_db_per_layer_mean_over_seeds": layers, "per_sample": sample_quantiles(errors, energies),
            "subset_1000_nmse_db": subset_nmse_db(errors, energies, size=min(1000, errors.shape[1]),
                                                  draws=cfg.bootstrap_resamples),
            **({"lam": results[0]["lam"]} if "lam" in results[0] else {}), **by_support,
        })
        published = cells[-1]["published_db"]
        if published is not None and all(r.get("validation_curve") for r in results):
            # the acceptance level: within 3 dB of the published NMSE
            cells[-1]["iterations_to_published_plus_3db"] = [first_iteration_at(r["validation_curve"], published + 3.0)
                                                             for r in results]
    for c in cells:  # "iterations saved": FISTA (tuned λ) iterations to reach the network's NMSE, minus T
        fista = [r for (s, n), rs in found.items() if s == c["setting"] and cfg.networks[n].algorithm == "fista" for r in rs]
        if fista and cfg.networks[c["network"]].algorithm is None:
            k = iterations_to_reach(fista[0]["nmse_db_per_iteration"], c["final_nmse_db"])
            c["fista_iterations_to_reach"] = k
            c["iterations_saved"] = None if k is None else k - cfg.layers
    for setting in cfg.settings:
        for base, hno in cfg.pairs:
            if (setting, base) in found and (setting, hno) in found:
                ea, eb = _errors(found[(setting, base)]), _errors(found[(setting, hno)])
                point, low, high = difference_db(ea, eb, energies_of[setting], resamples=cfg.bootstrap_resamples)
                a = [r["final_nmse_db"] for r in found[(setting, base)]]
                seeds_b = {r["seed"]: r["final_nmse_db"] for r in found[(setting, hno)]}
                b = list(seeds_b.values())
                same_seed = {r["seed"]: seeds_b[r["seed"]] - r["final_nmse_db"] for r in found[(setting, base)]
                             if r["seed"] in seeds_b}
                seed_level = seed_difference_interval([d for _, d in sorted(same_seed.items())])
                pairs.append({"setting": setting, "base": base, "hno": hno, "difference_db": point, "ci_db": [low, high],
                              "seeds": [len(a), len(b)],
                              "verdict": verdict(base, hno, low, high, a, b, seed_level, list(same_seed.values())),
                              "per_seed_difference_db": {str(s): d for s, d in sorted(same_seed.items())},
                              "seed_level_ci_db": None if seed_level is None else [seed_level["low_db"], seed_level["high_db"]],
                              "share_of_samples_second_better": share_better(ea, eb),
                              "catch_up": catch_up(found[(setting, base)], found[(setting, hno)])})
    todo = [(c.setting, c.network, s) for c in cfg.cells for s in c.seeds
            if not any(r["seed"] == s for r in found.get((c.setting, c.network), []))]
    unfinished = [f"{setting}/{network}/seed{s}" for setting, network, s in todo]
    return {"name": cfg.name, "cells": cells, "pairs": pairs,
            "instance_pairs": instance_pairs(cfg, found, _errors, energies_of,
                                             {s: typical_samples(k, problem.n, problem.sparsity) for s, k in sizes_of.items()}),
            "unfinished": unfinished,
            "unfinished_core_hours_estimate": remaining_core_hours(cfg, found, [n for _, n, _ in todo]),
            "recipe": cfg.recipe.model_dump(), "test_size": cfg.test_size,
            "support_bins": {"n": problem.n, "sparsity": problem.sparsity, "mean": bins.mean, "sd": bins.sd,
                             "edges": list(bins.edges), "dense_above": bins.dense_above},
            "machine": next((r["machine"] for rs in found.values() for r in rs), None)}


def _recipe_key(cfg: ConvergedConfig, network: str) -> str:
    spec = cfg.networks[network]
    return "fista" if spec.algorithm else (spec.recipe or cfg.recipe).model_dump_json(include={"phases", "batch_size"})


def cell_hours(cfg: ConvergedConfig, found: dict[tuple[str, str], list[dict[str, Any]]], network: str,
               measure: Literal["core_hours", "wall_hours"] = "core_hours") -> float | None:
    """Estimated hours (``measure``: CPU core-hours, or wall-clock hours where a cell recorded them, else its
    core-hours) of one unfinished cell of ``network``: a FISTA cell costs what the finished FISTA cells cost on
    average; a network cell its recipe's iterations times the mean hours per iteration of the finished cells
    trained with a recipe of the same kind (same phases and batch size). None without a basis."""
    key = _recipe_key(cfg, network)
    basis = [r.get(measure, r["core_hours"]) / (1 if cfg.networks[n].algorithm else max(1, r["iterations"]))
             for (_, n), results in found.items() if _recipe_key(cfg, n) == key for r in results]
    if not basis:
        return None
    spec = cfg.networks[network]
    return float(np.mean(basis)) * (1 if spec.algorithm else (spec.recipe or cfg.recipe).iterations)


def remaining_core_hours(cfg: ConvergedConfig, found: dict[tuple[str, str], list[dict[str, Any]]],
                         networks: list[str]) -> float | None:
    """Estimated core-hours of the unfinished cells (one per entry of ``networks``; :func:`cell_hours`).
    None when any of them has no basis."""
    hours = [cell_hours(cfg, found, network) for network in networks]
    return None if any(h is None for h in hours) else float(sum(h for h in hours if h is not None))


def seed_count_text(first: int, second: int) -> str:
    """How many seeds a pair's two networks have, in words: "1 seed", "3 seeds", or "3 and 2 seeds"."""
    if first == second:
        return f"{first} seed" + ("" if first == 1 else "s")
    return f"{first} and {second} seeds"


def percent_text(share: float) -> str:
    """``share`` (0 … 1) as a percentage with one decimal, or with as many as it takes (up to 4) not to print a
    share strictly between 0 and 1 as "0.0 %" or "100.0 %" (9,998 of 10,000 samples is 99.98 %, not 100 %)."""
    for decimals in range(1, 5):
        text = f"{100 * share:.{decimals}f}"
        if 0 < share < 1 and float(text) in (0.0, 100.0):
            continue
        return f"{text} %"
    return f"{100 * share:.4f} %"


LOSS_DESCRIPTIONS = {"sum": "½ Σ‖x̂ − x*‖² over the batch (the reference code’s l2_loss)", "mse": "mean squared error",
                     "all-layers": "½ Σ_t Σ‖x_t − x*‖² over the batch and every layer t (deep supervision)",
                     "log-layers": "Σ_t log Σ‖x_t − x*‖² over every layer t (the layers' batch NMSE in dB, summed)"}


def describe_recipe(r: Recipe) -> str:
    """One line: optimiser, batch, loss, dtype, phases (or stage-wise options), validation."""
    phases = ", ".join(f"{p.iterations:,} it at lr {p.lr:g}" for p in r.phases)
    how = (f"stage-wise (LISTA-CPSS protocol through `hno_framework.train`, base lr {r.phases[0].lr:g}, "
           f"options {r.stagewise})" if r.protocol == "stagewise" else
           f"phases {phases} ({r.iterations:,} iterations), each ending by restoring the parameters with the best validation NMSE")
    return (f"Adam (ε = {r.adam_eps:g}), fresh batches of {r.batch_size}, loss {LOSS_DESCRIPTIONS[r.loss]}, {r.dtype}; {how}; "
            f"validation on a fixed {r.validation_size:,}-sample set every {r.validate_every} iterations")


def _saved(c: dict[str, Any]) -> str:
    if "fista_iterations_to_reach" not in c:
        return "–"
    k = c["fista_iterations_to_reach"]
    return "FISTA does not reach it" if k is None else f"{c['iterations_saved']:,} (FISTA needs {k:,})"


def _reached(c: dict[str, Any]) -> str:
    """Per seed, the first validated iteration within 3 dB of the published level ("–" without one)."""
    if "iterations_to_published_plus_3db" not in c:
        return "–"
    return ", ".join("not reached" if k is None else f"{k:,}" for k in c["iterations_to_published_plus_3db"])


def verdict(first: str, second: str, low: float, high: float, first_db: list[float], second_db: list[float],
            seed_interval: dict[str, float] | None = None, same_seed_db: Sequence[float] = ()) -> str:
    """Which network is better. Claimed only when the paired interval of ``second − first`` over test samples
    excludes 0 and, with ≥ 3 seeds each, the seed-level interval over the same-seed differences ``same_seed_db``
    (:func:`~hno_studies.statistics.seed_difference_interval`) excludes 0 on the same side; without
    one (< 2 shared seeds) the unpaired per-seed NMSE ranges must separate instead. Provisional with fewer seeds.
    Overlapping per-seed ranges are named beside a paired claim (an unpaired seed of each may rank the other way)."""
    if low <= 0 <= high:
        return "no difference shown"
    better = second if high < 0 else first
    if min(len(first_db), len(second_db)) < 3:
        covers = "test samples only" if seed_interval is None else f"test samples and {int(seed_interval['seeds'])} seeds"
        return f"{better} better (provisional: < 3 seeds, the intervals cover {covers})"
    second_wins, first_wins = max(second_db) < min(first_db), max(first_db) < min(second_db)
    if seed_interval is None:
        if not (second_wins or first_wins):
            return "no difference shown (per-seed ranges overlap)"
        if second_wins != (better == second):
            return "no difference shown (the per-seed ranges and the test-sample interval disagree)"
        return f"{better} better"
    sign = -1.0 if better == second else 1.0  # the sign of second − first where ``better`` wins
    seed_low, seed_high = sorted((sign * seed_interval["low_db"], sign * seed_interval["high_db"]))
    if seed_high < 0:
        return "no difference shown (the seed-level and the test-sample intervals disagree)"
    if seed_low <= 0:
        every = bool(same_seed_db) and all(sign * d > 0 for d in same_seed_db)
        return (f"{better} better {'in every seed' if every else 'on the test samples'}, not shown at the seed level "
                f"(its interval over {int(seed_interval['seeds'])} seeds covers 0)")
    return f"{better} better" + ("" if second_wins or first_wins else " (paired over seeds; the per-seed ranges overlap)")


def per_seed_text(differences: dict[str, float]) -> str:
    """``s0 −11.9, s1 −12.4``: the seed-by-seed differences of a pair (``–`` when no seed is shared)."""
    return ", ".join(f"s{s} {d:+.1f}" for s, d in differences.items()) or "–"


def interval_text(interval: list[float] | None) -> str:
    """``[−15.28, +0.75]``, or ``–`` without an interval."""
    return "–" if interval is None else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def coefficient_section(cfg: ConvergedConfig, found: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    """README lines: what the HNO networks' integrators learned (:mod:`.learned_coefficients`)."""
    rows = [(setting, row) for setting in cfg.settings for row in summary_rows(coefficient_groups(found, setting))]
    if not rows:
        return []
    lines = ["", "## What the integrators learned", "",
             ("The learned coefficients per layer, over the layers where they are learned (the start-up layers, fixed at "
              "forward Euler's values in every seed, are left out) and over seeds. 2NO reads x_{t+1} = x_t − β_t (x_t − x_{t−1}) "
              "+ α_t f(x_t): β_t < 0 is a heavy-ball momentum term, α_t > 1 a longer step than forward Euler (α = 1, β = 0); "
              "3NO adds − β²_t (x_t − x_{t−2}). Per layer: " + ", ".join(
                  f"[`coefficients-{s}.png`](coefficients-{s}.png)" for s in dict.fromkeys(s for s, _ in rows)) + "."),
             "", "| setting | network | coefficient | entries (layers × seeds) | median | min … max | initial value (median) | below the Euler value |",
             "|---|---|---|---|---|---|---|---|"]
    for setting, r in rows:
        below = "–" if r["share_below_euler"] is None else f"{100 * r['share_below_euler']:.0f} % (Euler {r['euler']:g})"
        lines.append(f"| {setting} | {r['network']} | {r['coefficient']} | {r['entries']} ({r['seeds']} seed"
                     f"{'s' if r['seeds'] > 1 else ''}) | {r['median']:.2f} | {r['min']:.2f} … {r['max']:.2f} | "
                     f"{_fmt(r['init_median'])} | {below} |")
    return lines


def support_label(row: dict[str, Any]) -> str:
    """``≤ 40``, ``41–45``, ``> 70``: the k range of a :func:`nmse_db_by_support` bin."""
    if row["low"] is None:
        return f"≤ {row['high']}"
    if row["high"] is None:
        return f"> {row['low'] - 1}"
    return f"{row['low']}–{row['high']}"


def support_section(summary: dict[str, Any], out: Path) -> list[str]:
    """README lines: per setting with saved support sizes, the NMSE of each network on the test samples grouped by
    their number of non-zeros, and the share of each network's squared error carried by the dense tail
    (``k > dense_above`` of :func:`~hno_studies.statistics.support_bins`)."""
    settings = list(dict.fromkeys(c["setting"] for c in summary["cells"] if "nmse_db_by_support" in c))
    if not settings:
        return []
    spec = summary["support_bins"]
    dense = spec["dense_above"]
    lines = ["", "## Error by support size", "",
             (f"Test NMSE (dB) of the samples grouped by their number of non-zeros k (Bernoulli({spec['sparsity']:g}) on "
              f"{spec['n']} entries: mean {spec['mean']:.3g}, sd {spec['sd']:.2g}). Denser samples are harder; where a "
              "network's error rises steeply with k, its pooled NMSE is set by the few densest samples. The last column "
              "is the share of the network's total squared error carried by the samples with "
              f"k > {dense}. Figures: " + ", ".join(f"[`support-{s}.png`](support-{s}.png)" for s in settings
                                                                if (out / f"support-{s}.png").is_file()) + ".")]
    for setting in settings:
        cells = [c for c in summary["cells"] if c["setting"] == setting and "nmse_db_by_support" in c]
        bins = cells[0]["nmse_db_by_support"]
        lines += ["", f"**{setting}**", "",
                  "| network | " + " | ".join(f"k {support_label(b)}" for b in bins) + f" | error share k > {dense} |",
                  "|---" * (len(bins) + 2) + "|",
                  "| test samples | " + " | ".join(f"{b['samples']:,}" for b in bins) + " | |"]
        for c in cells:
            rows = c["nmse_db_by_support"]
            share = sum(b["error_share"] for b in rows if b["low"] is not None and b["low"] > dense)
            lines.append(f"| {c['network']} | " + " | ".join(f"{b['nmse_db']:.1f}" for b in rows) + f" | {percent_text(share)} |")
    return lines


def write_report(cfg: ConvergedConfig, config_path: str = "examples/converged/converged.yaml") -> Path:
    """Write results.json, README.md and the figures under ``cfg.output.results``."""
    out = cfg.output.results
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(cfg)
    write_json(out / "results.json", summary)
    found = cell_results(cfg)
    for setting in cfg.settings:
        curves = {c["network"]: c["nmse_db_per_layer_mean_over_seeds"] for c in summary["cells"] if c["setting"] == setting}
        if curves:
            label = {n: f"{n} (iterations 0–{cfg.layers})" if cfg.networks[n].algorithm else n for n in curves}
            panels = {panel: {label[n]: curves[n] for n in members}
                      for panel, members in pair_panels(cfg.pairs, list(curves)).items()}
            plot_nmse_per_layer_panels(panels, out / f"nmse-{setting}.png",
                                       title=f"{cfg.settings[setting].title}, T = {cfg.layers}: test NMSE per layer")
        groups = training_curve_groups(cfg, found, setting)
        if groups:
            published = cfg.published.get(setting, {})
            levels = {panel: {f"{n}, published": published[n] for n in networks if n in published}
                      for panel, networks in groups.items()}
            plot_training_curves(groups, out / f"training-{setting}.png", levels=levels,
                                 title=f"{cfg.settings[setting].title}, T = {cfg.layers}: validation NMSE while training")
        by_support = {c["network"]: c["nmse_db_by_support"] for c in summary["cells"]
                      if c["setting"] == setting and "nmse_db_by_support" in c}
        if by_support:
            bins = next(iter(by_support.values()))
            plot_nmse_by_group({n: [b["nmse_db"] for b in rows] for n, rows in by_support.items()},
                               [support_label(b) for b in bins], [int(b["samples"]) for b in bins],
                               out / f"support-{setting}.png", xlabel="non-zeros k = ‖x*‖₀ of the test sample",
                               title=f"{cfg.settings[setting].title}: test NMSE by support size")
        learned = coefficient_groups(found, setting)
        if learned:
            plot_coefficients({n: g.seeds for n, g in learned.items()}, out / f"coefficients-{setting}.png",
                              references={n: g.reference for n, g in learned.items()},
                              title=f"{cfg.settings[setting].title}: learned integrator coefficients per layer")
    if summary["pairs"]:
        plot_differences([{"label": f"{p['setting']}: {p['hno']} − {p['base']} ({seed_count_text(*p['seeds'])})",
                           "difference_db": p["difference_db"], "ci_db": p["ci_db"],
                           "per_seed_db": list(p["per_seed_difference_db"].values()),
                           "seed_ci_db": p["seed_level_ci_db"]} for p in summary["pairs"]],
                         out / "differences.png", xlabel="second − first, test NMSE (dB); negative: the second is better",
                         title=("Paired differences. Thick bar: 95 % bootstrap interval over test samples;\n"
                                "circles: per seed; thin bar: seed-level 95 % t interval (≥ 2 seeds)"))
    r = cfg.recipe
    own = [f"  * {name}: {describe_recipe(spec.recipe)}" for name, spec in cfg.networks.items() if spec.recipe is not None]
    lines = [
        f"# Converged comparison ({cfg.name})",
        "",
        "Generated by `hno experiment converged` from the cell files in `cells/`; do not edit by hand.",
        ("Why the baselines fell short of the published levels, and how the recipes were chosen (measured): "
        "[investigation.md](investigation.md). Published levels: read off the papers' plots (LISTA-CPSS, ALISTA, GLISTA)."),
        "",
        "## Protocol",
        "",
        (f"* Problem: Lasso, Φ {cfg.problem.get('m', 250)} × {cfg.problem.get('n', 500)} (N(0, 1/m), unit-norm columns; κ > 1 as the "
        "LISTA-CPSS generator), x* Bernoulli(0.1) × N(0, 1), λ = "
        f"{cfg.problem.get('lam', 0.4)} (θ init λ/L), T = {cfg.layers}, untied weights unless named otherwise."),
        f"* Training (identical for the two networks of every pair): default recipe {describe_recipe(r)}.",
        *(["* Networks with their own recipe:", *own] if own else []),
        (f"* Test: {cfg.test_size:,} fresh samples per setting, the same for every network. NMSE = 10 log10(Σ‖x̂ − x*‖² / Σ‖x*‖²); "
        "the interval is a 95 % percentile bootstrap over test samples (2,000 resamples). With several seeds the NMSE is that "
        "of the seeds' mean squared error and the seed spread (min … max of the per-seed NMSE) is given beside it."),
        (f"* FISTA: λ tuned on the validation set for its NMSE after {cfg.fista['iterations']:,} iterations (grid "
         f"{', '.join(f'{v:g}' for v in cfg.fista['lambdas'])}); \"iterations saved\" = FISTA iterations to reach a "
         "network's NMSE minus T. A λ tuned for each target level could need fewer iterations (the count is an upper bound)."),
        ("* Differences (HNO − base, dB; negative = HNO better) carry paired bootstrap intervals over test samples; a "
        "difference is only claimed when that interval excludes 0 and, with ≥ 3 seeds per network, the seed-level t "
        "interval over the same-seed differences excludes 0 on the same side (with fewer seeds the verdict is marked "
        "provisional; where the per-seed NMSE ranges of the two networks overlap, the verdict says so)."),
        (f"* Machine: {summary['machine']}; cost = CPU time of the single training thread (core-hours per seed), "
        "measured while other jobs shared the 2-core machine."),
        "",
        "## Results (final layer)",
        "",
        ("| setting | network | NMSE dB | 95 % CI | seeds | seed spread (min … max) | published | iterations "
        "| iterations to published + 3 dB | core-h / seed | FISTA iterations saved |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in summary["cells"]:
        sp = c["seed_spread_db"]
        spread = f"{sp['min_db']:.2f} … {sp['max_db']:.2f}" if len(c["seeds"]) > 1 else "1 seed"
        lines.append(f"| {c['setting']} | {c['network']} | {c['final_nmse_db']:.2f} | [{c['ci_db'][0]:.2f}, {c['ci_db'][1]:.2f}] | "
                     f"{len(c['seeds'])} | {spread} | {_fmt(c['published_db'])} | {c['iterations']:,} | {_reached(c)} | {c['core_hours']:.3f} | "
                     f"{_saved(c)} |")
    oracle = out / "oracle.json"
    if oracle.is_file():
        noisy = [r for r in read_json(oracle, "oracle levels")["settings"]
                 if r["setting"] in cfg.settings and cfg.settings[r["setting"]].snr_db is not None]
        if noisy:
            lines += ["", "Reference level with noise, least squares on the true support of each test sample "
                      "(`python studies/scripts/oracle_level.py`): " + "; ".join(
                          f"{r['setting']} {r['oracle_nmse_db']:.2f} dB [{r['ci_db'][0]:.2f}, {r['ci_db'][1]:.2f}]"
                          for r in noisy) + ". A network that has to find the support is not expected to pass it "
                      "by much (noiseless, the oracle is exact)."]
    if summary["pairs"]:
        figure = (" Figure: [`differences.png`](differences.png) (each difference with its interval; open circles: "
                  "the same seed's difference, seed by seed)." if (out / "differences.png").is_file() else "")
        lines += ["", "## Pairs: second − first (HNO − base, or an ablation of one network; negative: the second is better)", "",
                  ("The 95 % CI resamples test samples (paired). The per-seed differences compare the two networks trained "
                   "from the same seed, each on the whole test set; from ≥ 2 such seeds the seed-level 95 % CI is the paired "
                   "t interval d̄ ± t(0.975, S − 1) · sd / √S over them, which covers the scatter of training runs (with 3 seeds "
                   "t = 4.30: only a difference large against its seed scatter excludes 0)." + figure),
                  "",
                  ("| setting | first | second | difference dB | 95 % CI (test samples) | seeds (first, second) | per-seed differences "
                   "| seed-level 95 % CI | verdict |"),
                  "|---|---|---|---|---|---|---|---|---|"]
        for p in summary["pairs"]:
            lines.append(f"| {p['setting']} | {p['base']} | {p['hno']} | {p['difference_db']:+.2f} | "
                         f"{interval_text(p['ci_db'])} | {p['seeds'][0]}, {p['seeds'][1]} | "
                         f"{per_seed_text(p.get('per_seed_difference_db', {}))} | {interval_text(p.get('seed_level_ci_db'))} | "
                         f"{p['verdict']} |")
    lines += instance_lines(summary)
    lines += ["", "## How the error is spread over the test samples", "",
              ("Per-sample NMSE 10 log10(‖x̂_i − x*_i‖² / ‖x*_i‖²) (with several seeds, of the seeds' mean error): its median, "
               "90th and 99th percentile, and the share of the total squared error carried by the worst 1 % of samples. "
               "When that share is large the pooled NMSE above is set by a few hard samples (in the noiseless "
               "setting, the samples with the most non-zeros: [investigation.md](investigation.md)), and single 1,000-sample test sets scatter by several dB: "
               f"the last column is what a 1,000-sample test set would read (the NMSE of {cfg.bootstrap_resamples:,} random "
               "1,000-sample subsets of the "
               "test set: median [5th, 95th percentile]). Where the median subset reads well below the whole test set, a 1,000-sample "
               "set (such as the validation set) typically misses the hard samples and flatters the network."),
              "",
              ("Beside the pooled NMSE (the papers' definition, the primary number): the NMSE over the typical samples "
               "(k ≤ μ + 2σ non-zeros), the share of the squared error carried by the densest 0.1 % of the test samples "
               "(the 10 with the most non-zeros), and validation − test: the best validation NMSE (1,000 samples, the "
               "checkpoint kept) minus the test NMSE of that checkpoint, per seed (negative: the validation set flatters)."),
              "", ("| setting | network | median dB | 90th percentile dB | 99th percentile dB | worst 1 % carry | whole test set dB "
                   "| typical samples dB | densest 0.1 % carry | a 1,000-sample test set reads | validation − test dB |"),
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in summary["cells"]:
        q, sub = c["per_sample"], c["subset_1000_nmse_db"]
        typical = f"{c['nmse_db_typical']:.1f}" if "nmse_db_typical" in c else "–"
        densest = f"{100 * c['error_share_densest']:.0f} %" if "error_share_densest" in c else "–"
        flattery = ", ".join(f"{v:+.1f}" for v in c.get("validation_minus_test_db", [])) or "–"
        lines.append(f"| {c['setting']} | {c['network']} | {q['q50_db']:.1f} | {q['q90_db']:.1f} | {q['q99_db']:.1f} | "
                     f"{100 * q['worst_1pct_error_share']:.0f} % | {c['final_nmse_db']:.1f} | {typical} | {densest} | "
                     f"{sub['q50_db']:.1f} [{sub['q05_db']:.1f}, {sub['q95_db']:.1f}] | {flattery} |")
    if summary["pairs"]:
        lines += ["", "Share of test samples on which the second network of a pair has the smaller error: " + "; ".join(
            f"{p['hno']} vs {p['base']} ({p['setting']}): {percent_text(p['share_of_samples_second_better'])}"
            for p in summary["pairs"]) + "."]
    lines += support_section(summary, out)
    catch = [p for p in summary["pairs"] if p["catch_up"]]
    if catch:
        lines += ["", "## Training cost: when does the second network reach the first one's best?", "",
                  ("Validation NMSE (1,000 samples, every few hundred iterations: indicative, not a test result) of the same "
                   "seed; the first network's best value, the iteration where it got there, and the first iteration at which "
                   "the second network was as good. Curves: " + ", ".join(f"`training-{s}.png`" for s in cfg.settings
                                                                         if (out / f"training-{s}.png").is_file()) + "."),
                  "", "| setting | first | second | seed | first's best validation dB | first got there at | second got there at |",
                  "|---|---|---|---|---|---|---|"]
        for p in catch:
            for c in p["catch_up"]:
                at = "never" if c["hno_iteration"] is None else f"{c['hno_iteration']:,}"
                lines.append(f"| {p['setting']} | {p['base']} | {p['hno']} | {c['seed']} | {c['base_best_db']:.2f} | "
                             f"{c['base_iteration']:,} | {at} |")
    lines += coefficient_section(cfg, found)
    lines += ["", "## Unfinished cells", ""]
    if summary["unfinished"]:
        estimate = summary["unfinished_core_hours_estimate"]
        cost = "" if estimate is None else (f" (≈ {estimate:.1f} core-hours at the cost per iteration of the finished cells "
                                            f"with the same recipe)")
        lines += [f"{len(summary['unfinished'])} cells not finished yet{cost}: "
                  + ", ".join(f"`{u}`" for u in summary["unfinished"]) + ".",
                  "", ("Resume (skips finished cells, continues a half-trained one from its checkpoint; two cells at a time "
                       "on 2 cores), and see where each cell stands:"), "", "```bash",
                  (f"OMP_NUM_THREADS=1 nohup hno experiment converged {config_path} --resume --executor local --workers 2 "
                   "> converged.log 2>&1 &"),
                  f"hno experiment converged {config_path} --status", "```"]
    else:
        lines.append("none")
    figures = [f"{kind}-{s}.png" for s in cfg.settings for kind in ("nmse", "training", "support", "coefficients") if (out / f"{kind}-{s}.png").is_file()]
    lines += ["", "Figures: " + ", ".join(f"[`{f}`]({f})" for f in figures), ""]
    path = out / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
