"""Uncertainty of NMSE estimates: percentile bootstrap over test samples, spread over seeds.

The NMSE of a test set is a ratio of sums, ``NMSE = Σ_i e_i / Σ_i r_i`` with per-sample squared
error ``e_i = ‖x̂_i − x*_i‖²`` and energy ``r_i = ‖x*_i‖²`` (seed, Sec. Experiments). The bootstrap
resamples the N sample indices with replacement B times, recomputes the ratio each time and
reports the 2.5 % and 97.5 % quantiles of ``10 log10`` of it (a 95 % percentile interval).
A few samples can carry a large share of the error at low NMSE, which is why single 1,000-sample
test sets vary by about ±2 dB: the interval makes that visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class NMSEEstimate:
    """NMSE (dB) of a set with its 95 % bootstrap interval ``[low_db, high_db]``, over ``samples`` samples."""

    nmse_db: float
    low_db: float
    high_db: float
    samples: int

    @property
    def interval(self) -> list[float]:
        return [self.low_db, self.high_db]


def bootstrap_nmse_db(errors: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                      level: float = 0.95) -> NMSEEstimate:
    """Point NMSE dB ``10 log10(Σe/Σr)`` and its percentile-bootstrap interval.

    ``errors`` and ``energies`` are ``(N,)``: per-sample ``‖x̂ − x*‖²`` and ``‖x*‖²``. Resampling is
    seeded (``seed``), so the interval is reproducible; B = ``resamples``.
    """
    e = errors.detach().double().reshape(-1).cpu()
    r = energies.detach().double().reshape(-1).cpu()
    if e.shape != r.shape or e.numel() == 0:
        raise ValueError(f"errors {tuple(e.shape)} and energies {tuple(r.shape)} must be equal, non-empty 1-D")
    n = e.numel()
    point = 10.0 * math.log10(float(e.sum()) / float(r.sum()))
    g = torch.Generator().manual_seed(seed)
    ratios = torch.empty(resamples, dtype=torch.float64)
    for start in range(0, resamples, 200):  # chunks keep memory at 200·N indices
        stop = min(start + 200, resamples)
        idx = torch.randint(0, n, (stop - start, n), generator=g)
        ratios[start:stop] = e[idx].sum(dim=1) / r[idx].sum(dim=1)
    db = 10.0 * torch.log10(ratios)
    alpha = (1.0 - level) / 2.0
    low, high = torch.quantile(db, torch.tensor([alpha, 1.0 - alpha], dtype=torch.float64)).tolist()
    return NMSEEstimate(point, float(low), float(high), n)


def seed_spread(values_db: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one seed), min and max of per-seed NMSE dB values."""
    t = torch.tensor(values_db, dtype=torch.float64)
    std = float(t.std()) if t.numel() > 1 else 0.0
    return {"mean_db": float(t.mean()), "std_db": std, "min_db": float(t.min()), "max_db": float(t.max())}


def _resampled_ratios(errors: Tensor, energies: Tensor, resamples: int, seed: int) -> Tensor:
    """``Σ_i e_{s,i} / Σ_i r_i`` averaged over the rows s of ``errors`` ``(S, N)``, for B resamples of the
    N indices (the same indices for every row: seeds share the test set). ``(B,)`` float64."""
    n = errors.shape[1]
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(resamples, dtype=torch.float64)
    mean_err = errors.mean(dim=0)
    for start in range(0, resamples, 200):
        stop = min(start + 200, resamples)
        idx = torch.randint(0, n, (stop - start, n), generator=g)
        out[start:stop] = mean_err[idx].sum(dim=1) / energies[idx].sum(dim=1)
    return out


def pooled_nmse_db(errors: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                   level: float = 0.95) -> NMSEEstimate:
    """NMSE dB of the seeds' average squared error, ``10 log10(mean_s Σ_i e_{s,i} / Σ_i r_i)``, with a
    percentile-bootstrap interval over test samples; ``errors`` ``(S, N)`` (S seeds), ``energies`` ``(N,)``."""
    e, r = errors.detach().double().cpu(), energies.detach().double().cpu()
    point = 10.0 * math.log10(float(e.mean(dim=0).sum() / r.sum()))
    db = 10.0 * torch.log10(_resampled_ratios(e, r, resamples, seed))
    alpha = (1.0 - level) / 2.0
    low, high = torch.quantile(db, torch.tensor([alpha, 1.0 - alpha], dtype=torch.float64)).tolist()
    return NMSEEstimate(point, float(low), float(high), e.shape[1])


def difference_db(errors_a: Tensor, errors_b: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                  level: float = 0.95) -> tuple[float, float, float]:
    """``NMSE_b − NMSE_a`` in dB (negative: b is better) with a paired percentile-bootstrap interval over test
    samples (the same resampled indices for both); ``errors_*`` ``(S, N)``, ``energies`` ``(N,)``."""
    a, b, r = (t.detach().double().cpu() for t in (errors_a, errors_b, energies))
    point = 10.0 * math.log10(float(b.mean(dim=0).sum() / a.mean(dim=0).sum()))
    ra = _resampled_ratios(a, r, resamples, seed)
    rb = _resampled_ratios(b, r, resamples, seed)  # same generator seed: same indices
    db = 10.0 * torch.log10(rb / ra)
    alpha = (1.0 - level) / 2.0
    low, high = torch.quantile(db, torch.tensor([alpha, 1.0 - alpha], dtype=torch.float64)).tolist()
    return point, float(low), float(high)
