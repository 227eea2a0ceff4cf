"""Study statistics on top of the core bootstrap (:mod:`hno_framework.uncertainty`): several training seeds
pooled on one test set, paired HNO − base differences, and the spread over seeds.

Seeds share the test set, so a study's NMSE is that of the seeds' mean squared error,
``10 log10(mean_s Σ_i e_{s,i} / Σ_i r_i)``; its interval resamples test samples (the same indices for
every seed and, in a difference, for both networks: the interval is paired).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import torch
from torch import Tensor

from hno_framework.uncertainty import NMSEEstimate, bootstrap_nmse_db, percentile_interval, resampled_ratios

__all__ = ["NMSEEstimate", "SupportBins", "bootstrap_nmse_db", "difference_db", "nmse_db_by_support", "pooled_nmse_db",
           "sample_quantiles", "seed_difference_interval", "seed_spread", "share_better", "student_t_quantile",
           "subset_nmse_db", "support_bins"]


@dataclass(frozen=True)
class SupportBins:
    """Bins of the support size ``k = ‖x*‖₀`` of Bernoulli(p) sparse vectors of length n (k ~ Binomial(n, p)).

    ``edges`` feed :func:`nmse_db_by_support`; ``dense_above`` marks the dense tail (``k > dense_above``, about
    1.5 standard deviations above the mean); ``mean`` = np and ``sd`` = √(np(1 − p))."""

    edges: tuple[int, ...]
    dense_above: int
    mean: float
    sd: float


def support_bins(n: int, sparsity: float) -> SupportBins:
    """Bins for k ~ Binomial(n, p): width ``w = max(1, round(0.75 σ))``, edges ``round(μ) + j w`` for j = −2 … 4
    (kept inside 0 … n − 1), dense tail ``k > round(μ) + 2w``. At n = 500, p = 0.1 (μ = 50, σ ≈ 6.7):
    edges 40, 45, …, 70 and dense tail k > 60."""
    if n < 1 or not 0.0 < sparsity <= 1.0:
        raise ValueError(f"support bins need n ≥ 1 and 0 < p ≤ 1, got n = {n}, p = {sparsity}")
    mean, sd = n * sparsity, math.sqrt(n * sparsity * (1.0 - sparsity))
    width, centre = max(1, round(0.75 * sd)), round(mean)
    edges = tuple(sorted({min(max(centre + j * width, 0), max(n - 1, 0)) for j in range(-2, 5)}))
    return SupportBins(edges=edges, dense_above=centre + 2 * width, mean=mean, sd=sd)


def seed_spread(values_db: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one seed), min and max of per-seed NMSE dB values."""
    t = torch.tensor(values_db, dtype=torch.float64)
    std = float(t.std()) if t.numel() > 1 else 0.0
    return {"mean_db": float(t.mean()), "std_db": std, "min_db": float(t.min()), "max_db": float(t.max())}


def student_t_quantile(p: float, df: int) -> float:
    """The quantile ``t_{p,ν}`` of Student's t distribution with ``ν = df`` degrees of freedom: bisection on
    ``F(t) = ½ + ∫₀ᵗ f(u) du``, ``f(u) = Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) · (1 + u²/ν)^{−(ν+1)/2}`` (composite
    Simpson rule on ``[0, t]``). For intervals over a few seeds (ν = seeds − 1)."""
    if df < 1 or not 0.0 < p < 1.0:
        raise ValueError(f"Student t quantile needs ν ≥ 1 and 0 < p < 1, got ν = {df}, p = {p}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(t: float) -> float:
        u = torch.linspace(0.0, t, 4001, dtype=torch.float64)  # an even number of intervals
        f = torch.exp(log_c - (df + 1) / 2 * torch.log1p(u * u / df))
        weights = torch.ones_like(u)
        weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
        return 0.5 + float((weights * f).sum()) * t / (3 * (u.numel() - 1))

    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, 2.0 * high
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return 0.5 * (low + high)


def seed_difference_interval(differences_db: list[float], level: float = 0.95) -> dict[str, float] | None:
    """Seed-level uncertainty of a pair: the per-seed differences ``d_s`` (the two networks trained from the same
    seed, each on the whole test set) give the paired t interval ``d̄ ± t_{(1+level)/2, S−1} · sd(d) / √S``.
    None below 2 seeds. It covers the training seeds' scatter, which the bootstrap over test samples does not."""
    count = len(differences_db)
    if count < 2:
        return None
    spread = seed_spread(differences_db)
    half = student_t_quantile((1.0 + level) / 2.0, count - 1) * spread["std_db"] / math.sqrt(count)
    mean = spread["mean_db"]
    return {"mean_db": mean, "low_db": mean - half, "high_db": mean + half, "seeds": count}


def _seed_mean(errors: Tensor) -> Tensor:
    """``(S, N)`` per-seed errors → ``(N,)`` their mean over seeds, float64."""
    return errors.detach().double().cpu().mean(dim=0)


def pooled_nmse_db(errors: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                   level: float = 0.95) -> NMSEEstimate:
    """NMSE dB of the seeds' average squared error, ``10 log10(mean_s Σ_i e_{s,i} / Σ_i r_i)``, with a
    percentile-bootstrap interval over test samples; ``errors`` ``(S, N)`` (S seeds), ``energies`` ``(N,)``."""
    e, r = _seed_mean(errors), energies.detach().double().cpu()
    point = 10.0 * math.log10(float(e.sum() / r.sum()))
    db = 10.0 * torch.log10(resampled_ratios(e[:, None], r, resamples=resamples, seed=seed))
    low, high = percentile_interval(db, level)
    return NMSEEstimate(point, float(low[0]), float(high[0]), e.numel())


def difference_db(errors_a: Tensor, errors_b: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                  level: float = 0.95) -> tuple[float, float, float]:
    """``NMSE_b − NMSE_a`` in dB (negative: b is better) with a paired percentile-bootstrap interval over test
    samples (the same resampled indices for both); ``errors_*`` ``(S, N)``, ``energies`` ``(N,)``."""
    a, b = _seed_mean(errors_a), _seed_mean(errors_b)
    point = 10.0 * math.log10(float(b.sum() / a.sum()))
    ratios = resampled_ratios(torch.stack([a, b], dim=1), energies, resamples=resamples, seed=seed)  # (B, 2), paired
    low, high = percentile_interval((10.0 * torch.log10(ratios[:, 1] / ratios[:, 0]))[:, None], level)
    return point, float(low[0]), float(high[0])


def sample_quantiles(errors: Tensor, energies: Tensor, quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)) -> dict[str, float]:
    """How the error is spread over test samples: quantiles of the per-sample NMSE ``10 log10(e_i / r_i)`` (dB;
    the seeds' mean error per sample, ``errors`` ``(S, N)``) and the share of the total squared error carried by
    the worst 1 % of samples (the pooled NMSE is dominated by them when that share is large)."""
    e, r = _seed_mean(errors), energies.detach().double().cpu()
    per_sample = 10.0 * torch.log10(e.clamp_min(1e-300) / r)
    values = torch.quantile(per_sample, torch.tensor(quantiles, dtype=torch.float64)).tolist()
    out = {f"q{round(100 * q):02d}_db": v for q, v in zip(quantiles, values, strict=True)}
    worst = max(1, e.numel() // 100)
    out["worst_1pct_error_share"] = float(e.topk(worst).values.sum() / e.sum())
    return out


def share_better(errors_a: Tensor, errors_b: Tensor) -> float:
    """Fraction of test samples on which b's squared error (seed mean) is below a's; ``errors_*`` ``(S, N)``."""
    return float((_seed_mean(errors_b) < _seed_mean(errors_a)).double().mean())


def subset_nmse_db(errors: Tensor, energies: Tensor, *, size: int = 1000, draws: int = 2000, seed: int = 0,
                   quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)) -> dict[str, float]:
    """What a smaller test set of ``size`` samples would read: the NMSE ``10 log10(Σ_{i∈S} e_i / Σ_{i∈S} r_i)`` of
    ``draws`` random subsets S (without replacement) of the test set, at ``quantiles`` (keys ``q05_db`` …).
    ``errors`` ``(S, N)`` (the seeds' mean per sample), ``energies`` ``(N,)``. With heavy-tailed per-sample errors
    the median subset reads better than the whole set (the rare hard samples are often missing from it)."""
    e, r = _seed_mean(errors), energies.detach().double().cpu()
    if not 0 < size <= e.numel():
        raise ValueError(f"subset size {size} must be in 1..{e.numel()} (the test set's size)")
    generator = torch.Generator().manual_seed(seed)
    index = torch.rand(draws, e.numel(), generator=generator).topk(size, dim=1).indices  # (draws, size), no repeats
    db = 10.0 * torch.log10(e[index].sum(dim=1) / r[index].sum(dim=1))
    values = torch.quantile(db, torch.tensor(quantiles, dtype=torch.float64)).tolist()
    return {f"q{round(100 * q):02d}_db": v for q, v in zip(quantiles, values, strict=True)}


def nmse_db_by_support(errors: Tensor, energies: Tensor, sizes: Tensor, edges: tuple[int, ...], *,
                       resamples: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    """The pooled NMSE of the test samples grouped by support size ``k_i = ‖x*_i‖₀`` (``sizes`` ``(N,)``): bins
    ``k ≤ edges[0]``, ``edges[j−1] < k ≤ edges[j]`` and ``k > edges[−1]`` (empty bins left out). Per bin: ``low``
    and ``high`` (the k range; None: open), ``samples``, ``nmse_db`` ``10 log10(Σ_{i∈bin} e_i / Σ_{i∈bin} r_i)`` of
    the seeds' mean error (``errors`` ``(S, N)``) with its 95 % bootstrap interval ``ci_db``, and ``error_share``,
    the bin's share of the whole test set's squared error (where the pooled NMSE comes from)."""
    e, r, k = _seed_mean(errors), energies.detach().double().cpu(), sizes.detach().cpu().long()
    bounds: list[tuple[int | None, int | None]] = [(None, edges[0])]
    bounds += [(lo + 1, hi) for lo, hi in pairwise(edges)] + [(edges[-1] + 1, None)]
    rows: list[dict[str, Any]] = []
    for low, high in bounds:
        inside = torch.ones_like(k, dtype=torch.bool)
        if low is not None:
            inside &= k >= low
        if high is not None:
            inside &= k <= high
        if not bool(inside.any()):
            continue
        est = pooled_nmse_db(e[inside][None, :], r[inside], resamples=resamples, seed=seed)
        rows.append({"low": low, "high": high, "samples": int(inside.sum()), "nmse_db": est.nmse_db,
                     "ci_db": list(est.interval), "error_share": float(e[inside].sum() / e.sum())})
    return rows
