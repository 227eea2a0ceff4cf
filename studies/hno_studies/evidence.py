"""Evidence beyond one problem instance and beyond the pooled NMSE: independent instances, the error tail, and
how much a validation set flatters the checkpoint it picks.

* **Instances.** Settings that differ only in ``instance`` (the problem seed: Φ, validation and test sets) are
  independent problem instances of one setting kind (same ``snr_db`` and ``condition_number``). For each pair the
  per-instance difference ``NMSE_hno − NMSE_base`` (seed-mean errors, dB) gives the instance-level paired t
  interval ``d̄ ± t_{0.975, I−1} · sd(d) / √I`` over the ``I`` instances: it covers what changes with Φ and the
  data, which neither the bootstrap over test samples nor the training seeds do.
* **Tail.** The pooled NMSE (the papers' definition) beside the NMSE over the typical samples, those with
  ``k ≤ μ + 2σ`` non-zeros (k ~ Binomial(n, p)), and the share of the squared error carried by the densest 0.1 %
  of the test samples: when a handful of samples decides a comparison, these two say so.
* **Validation flattery.** The best validation NMSE (the checkpoint a run keeps) minus the test NMSE of that
  checkpoint, per seed: negative means the validation set flatters the network.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .statistics import difference_db, seed_difference_interval, share_better

if TYPE_CHECKING:
    from .converged_config import ConvergedConfig

DENSEST_SHARE = 0.001
"""The densest share of test samples whose part of the squared error is reported (0.1 %)."""


def tail_metrics(errors: Tensor, energies: Tensor, support: Tensor, n: int, sparsity: float) -> dict[str, float]:
    """``errors`` ``(S, N)`` (seeds × test samples), ``energies`` ``(N,)`` = ‖x*_i‖², ``support`` ``(N,)`` = k_i:
    ``nmse_db_typical`` over the samples with ``k ≤ μ + 2σ`` (μ = np, σ = √(np(1 − p))), ``typical_share`` of the
    samples that are, ``error_share_densest`` of Σ e carried by the ``ceil(0.1 % · N)`` samples of largest k."""
    e = errors.detach().double().cpu().mean(dim=0)
    r, k = energies.detach().double().cpu(), support.detach().cpu()
    limit = typical_limit(n, sparsity)
    typical = typical_samples(k, n, sparsity)
    count = max(1, math.ceil(DENSEST_SHARE * e.numel()))
    densest = torch.argsort(k, descending=True, stable=True)[:count]
    return {"nmse_db_typical": 10.0 * math.log10(float(e[typical].sum() / r[typical].sum())),
            "typical_share": float(typical.double().mean()), "typical_k_at_most": limit,
            "error_share_densest": float(e[densest].sum() / e.sum()), "densest_samples": count}


def typical_limit(n: int, sparsity: float) -> float:
    """``μ + 2σ`` of the support size ``k ~ Binomial(n, p)``: ``np + 2·√(np(1 − p))``."""
    return n * sparsity + 2.0 * math.sqrt(n * sparsity * (1.0 - sparsity))


def typical_samples(support: Tensor, n: int, sparsity: float) -> Tensor:
    """``(N,)`` bool: the test samples with ``k ≤ μ + 2σ`` non-zeros (``support`` ``(N,)`` = k_i)."""
    return support.detach().cpu() <= typical_limit(n, sparsity)


def validation_flattery(results: list[dict[str, Any]]) -> list[float]:
    """Per seed: best validation NMSE − test NMSE (dB) of the kept checkpoint (negative: validation flatters)."""
    return [float(r["best_validation_nmse_db"]) - float(r["final_nmse_db"]) for r in results
            if r.get("best_validation_nmse_db") is not None]


def instance_groups(cfg: ConvergedConfig) -> dict[tuple[float | None, float], list[str]]:
    """Settings grouped by what they share apart from the instance: ``(snr_db, condition_number) -> settings``."""
    groups: dict[tuple[float | None, float], list[str]] = {}
    for name, s in cfg.settings.items():
        groups.setdefault((s.snr_db, s.condition_number), []).append(name)
    return groups


def instance_pairs(cfg: ConvergedConfig, found: dict[tuple[str, str], list[dict[str, Any]]],
                   errors_of: Any, energies_of: dict[str, Tensor],
                   typical_of: dict[str, Tensor] | None = None) -> list[dict[str, Any]]:
    """One row per (pair, setting kind) trained on ≥ 2 instances: the per-instance results and the instance-level
    paired t interval of the HNO − base difference. ``errors_of(results)`` gives the ``(S, N)`` errors of a cell.
    Where ``typical_of`` has a setting's ``(N,)`` mask of typical samples (:func:`typical_samples`), the same
    difference over those samples only is added, per instance and at the instance level (``typical_*``), once every
    instance of the row has one."""
    from .converged_config import instance_of

    rows = []
    for settings in instance_groups(cfg).values():
        for base, hno in cfg.pairs:
            per_instance: list[dict[str, Any]] = []
            for setting in settings:
                if (setting, base) not in found or (setting, hno) not in found:
                    continue
                ea, eb = errors_of(found[(setting, base)]), errors_of(found[(setting, hno)])
                point, low, high = difference_db(ea, eb, energies_of[setting], resamples=cfg.bootstrap_resamples)
                energy = float(energies_of[setting].double().sum())
                per_instance.append({
                    "setting": setting, "instance": instance_of(cfg, setting),
                    "seeds": [len(found[(setting, base)]), len(found[(setting, hno)])],
                    "base_nmse_db": 10.0 * math.log10(float(ea.double().mean(0).sum()) / energy),
                    "hno_nmse_db": 10.0 * math.log10(float(eb.double().mean(0).sum()) / energy),
                    "difference_db": point, "ci_db": [low, high], "share_of_samples_hno_better": share_better(ea, eb)})
                if typical_of is not None and setting in typical_of:
                    t = typical_of[setting]
                    point, low, high = difference_db(ea[:, t], eb[:, t], energies_of[setting][t],
                                                     resamples=cfg.bootstrap_resamples)
                    per_instance[-1] |= {"typical_difference_db": point, "typical_ci_db": [low, high]}
            if len(per_instance) < 2:
                continue
            level = seed_difference_interval([p["difference_db"] for p in per_instance])
            assert level is not None
            rows.append({"base": base, "hno": hno, "settings": [p["setting"] for p in per_instance],
                         "instances": per_instance, "mean_difference_db": level["mean_db"],
                         "instance_level_ci_db": [level["low_db"], level["high_db"]], "count": len(per_instance)})
            if all("typical_difference_db" in p for p in per_instance):
                typical = seed_difference_interval([p["typical_difference_db"] for p in per_instance])
                assert typical is not None
                rows[-1] |= {"typical_mean_difference_db": typical["mean_db"],
                             "typical_instance_level_ci_db": [typical["low_db"], typical["high_db"]]}
    return rows


def instance_lines(summary: dict[str, Any]) -> list[str]:
    """The README section of the instance-level results (empty when no pair has ≥ 2 instances)."""
    rows = summary.get("instance_pairs", [])
    if not rows:
        return []
    lines = ["", "## Independent problem instances", "",
             ("Each instance has its own problem seed, so its own Φ, validation set and 10,000-sample test set; the "
             "recipes were frozen before instances 1-3 were drawn. Under *seed*, only the training run varies (the "
             "initial network's random parts and the order of the training batches); under *instance*, Φ and the "
             "validation and test data vary. Per instance: NMSE of the seed-mean errors, the HNO − base difference "
             "with its 95 % bootstrap interval over test samples, where shown the same difference over the typical samples "
             "only (k ≤ μ + 2σ non-zeros, as in the tail table: where it differs from the pooled one, the densest "
             "samples decide the pooled number), and the share of samples on which HNO is better. Last line of each "
             "table: the instance-level paired t interval over the instances (95 %)."), ""]
    for row in rows:
        typical = "typical_instance_level_ci_db" in row
        lines += [f"**{row['hno']} − {row['base']}** ({row['count']} instances)", "",
                  "| instance | seeds (base, HNO) | base | HNO | HNO − base [95 %] |"
                  + (" typical samples: HNO − base [95 %] |" if typical else "") + " HNO better on |",
                  "|---|---|---|---|---|" + ("---|" if typical else "") + "---|"]
        for p in row["instances"]:
            typical_cell = (f" {_difference(p['typical_difference_db'], p['typical_ci_db'])} |" if typical else "")
            lines.append(f"| {p['instance']} | {p['seeds'][0]}, {p['seeds'][1]} | {p['base_nmse_db']:.2f} | "
                         f"{p['hno_nmse_db']:.2f} | {_difference(p['difference_db'], p['ci_db'])} |{typical_cell} "
                         f"{100 * p['share_of_samples_hno_better']:.1f} % |")
        level = f"**{_difference(row['mean_difference_db'], row['instance_level_ci_db'])}**"
        typical_level = (f" **{_difference(row['typical_mean_difference_db'], row['typical_instance_level_ci_db'])}** |"
                         if typical else "")
        lines += [f"| **instance level** | | | | {level} |{typical_level} |", ""]
    return lines


def _difference(point: float, interval: list[float]) -> str:
    low, high = interval
    return f"{point:+.2f} [{low:+.2f}, {high:+.2f}]"
