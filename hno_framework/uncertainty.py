"""Uncertainty of NMSE estimates: the percentile bootstrap over test samples, in one place.

The NMSE of a test set is a ratio of sums, ``NMSE = Σ_i e_i / Σ_i r_i`` with per-sample squared
error ``e_i = ‖x̂_i − x*_i‖²`` and energy ``r_i = ‖x*_i‖²`` (seed, Sec. Experiments). The bootstrap
resamples the N sample indices with replacement B times, recomputes the ratio each time and
reports the quantiles ``(1 ∓ level)/2`` of ``10 log10`` of it (a percentile interval, 95 % by default).
At low NMSE a few samples carry a large share of the error, which is why single 1,000-sample test
sets vary by about ±2 dB: the interval makes that visible.

:func:`resampled_ratios` is the one resampling loop (seeded, chunked so memory stays at
``chunk · N`` indices); :func:`bootstrap_nmse_db` (one column), :func:`bootstrap_nmse_db_columns` (one
column per layer, ``hno inspect``) and the study statistics of :mod:`hno_studies.statistics`
(seeds pooled, paired differences) are built on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

CHUNK = 200


@dataclass(frozen=True)
class NMSEEstimate:
    """NMSE (dB) of a set with its bootstrap interval ``[low_db, high_db]``, over ``samples`` samples."""

    nmse_db: float
    low_db: float
    high_db: float
    samples: int

    @property
    def interval(self) -> list[float]:
        return [self.low_db, self.high_db]


def resampled_ratios(errors: Tensor, energies: Tensor, *, resamples: int, seed: int) -> Tensor:
    """``Σ_i e_{ik} / Σ_i r_i`` for ``resamples`` bootstrap draws of the N sample indices (the same draw for every
    column k, so columns stay paired). ``errors`` ``(N, K)``, ``energies`` ``(N,)`` → ``(B, K)`` float64.
    Seeded: the same ``seed`` and N give the same indices, whatever K is."""
    e, r = errors.detach().double().cpu(), energies.detach().double().cpu().reshape(-1)
    if e.dim() != 2 or e.shape[0] != r.numel() or r.numel() == 0:
        raise ValueError(f"errors {tuple(e.shape)} must be (N, K) and energies {tuple(r.shape)} (N,), N > 0")
    n = r.numel()
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(resamples, e.shape[1], dtype=torch.float64)
    for start in range(0, resamples, CHUNK):
        stop = min(start + CHUNK, resamples)
        idx = torch.randint(0, n, (stop - start, n), generator=g)
        out[start:stop] = e[idx].sum(dim=1) / r[idx].sum(dim=1, keepdim=True)
    return out


def percentile_interval(values: Tensor, level: float = 0.95) -> tuple[Tensor, Tensor]:
    """The ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of ``values`` ``(B, K)`` along B: ``(low, high)``, ``(K,)``."""
    q = torch.tensor([(1.0 - level) / 2.0, (1.0 + level) / 2.0], dtype=values.dtype)
    low, high = torch.quantile(values, q, dim=0)
    return low, high


def bootstrap_nmse_db_columns(errors: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                              level: float = 0.95) -> tuple[list[float], list[float], list[float]]:
    """Per column k (e.g. layer t = 0..T): NMSE dB ``10 log10(Σ_i e_ik / Σ_i r_i)`` and its percentile-bootstrap
    interval. ``errors`` ``(N, K)``, ``energies`` ``(N,)``; returns ``(nmse, low, high)``, each of length K."""
    e, r = errors.detach().double().cpu(), energies.detach().double().cpu().reshape(-1)
    db = 10.0 * torch.log10(resampled_ratios(e, r, resamples=resamples, seed=seed))
    low, high = percentile_interval(db, level)
    point = 10.0 * torch.log10(e.sum(dim=0) / r.sum())
    return point.tolist(), low.tolist(), high.tolist()


def bootstrap_nmse_db(errors: Tensor, energies: Tensor, *, resamples: int = 2000, seed: int = 0,
                      level: float = 0.95) -> NMSEEstimate:
    """Point NMSE dB ``10 log10(Σe/Σr)`` of one set and its percentile-bootstrap interval; ``errors`` and
    ``energies`` are ``(N,)``: per-sample ``‖x̂ − x*‖²`` and ``‖x*‖²``."""
    e = errors.detach().reshape(-1)
    if e.shape != energies.reshape(-1).shape or e.numel() == 0:
        raise ValueError(f"errors {tuple(errors.shape)} and energies {tuple(energies.shape)} must be equal, non-empty 1-D")
    point, low, high = bootstrap_nmse_db_columns(e[:, None], energies, resamples=resamples, seed=seed, level=level)
    return NMSEEstimate(point[0], low[0], high[0], e.numel())
