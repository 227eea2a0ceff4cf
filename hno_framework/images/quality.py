"""PSNR of reconstructed images and bootstrap intervals over image blocks.

``PSNR = 10 log10(255² / MSE)`` with ``MSE`` the mean squared error over all pixels of images in
[0, 255] (reconstructions are clipped to [0, 255] first, as an image file would hold them).

Uncertainty: the error image is cut into non-overlapping ``b × b`` blocks (b = the patch side);
resampling blocks with replacement (``resamples`` times, seeded) gives a percentile interval of
the PSNR, and of the PSNR difference of two reconstructions of the same image (paired: both use
the same resampled blocks). The interval says how much the number depends on which parts of the
image were tested; it says nothing about the training seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

PEAK = 255.0


def psnr(estimate: Tensor, reference: Tensor, peak: float = PEAK) -> float:
    """``10 log10(peak² / mean((x̂ − x)²))`` in dB (``inf`` for identical images); same shapes."""
    mse = float((estimate.double() - reference.double()).pow(2).mean())
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)


def block_squared_errors(estimate: Tensor, reference: Tensor, block: int) -> Tensor:
    """Mean squared error of every full ``block × block`` block of two ``(H, W)`` images: ``(N,)`` float64."""
    err = (estimate.double() - reference.double()).pow(2)
    h, w = (err.shape[0] // block) * block, (err.shape[1] // block) * block
    blocks = err[:h, :w].reshape(h // block, block, w // block, block)
    return blocks.mean(dim=(1, 3)).reshape(-1)


def _to_db(mse: Tensor, peak: float) -> Tensor:
    return 10.0 * torch.log10(peak * peak / mse.clamp_min(1e-30))


def bootstrap_psnr(block_mse: Tensor, *, resamples: int = 2000, level: float = 0.95, seed: int = 0,
                   peak: float = PEAK) -> tuple[float, float]:
    """Percentile interval ``(low, high)`` of the PSNR when the blocks (``(N,)`` block MSEs) are resampled."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, block_mse.numel(), (resamples, block_mse.numel()), generator=g)
    stats = _to_db(block_mse.double()[idx].mean(dim=1), peak)
    return _quantiles(stats, level)


def bootstrap_psnr_difference(block_mse_a: Tensor, block_mse_b: Tensor, *, resamples: int = 2000, level: float = 0.95,
                              seed: int = 0) -> tuple[float, float]:
    """Paired interval of ``PSNR(a) − PSNR(b)`` over resampled blocks (same blocks for both)."""
    if block_mse_a.shape != block_mse_b.shape:
        raise ValueError("paired bootstrap needs block errors of the same image, same blocks")
    a, b = block_mse_a.double(), block_mse_b.double()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, a.numel(), (resamples, a.numel()), generator=g)
    diff = 10.0 * torch.log10(b[idx].mean(dim=1).clamp_min(1e-30) / a[idx].mean(dim=1).clamp_min(1e-30))
    return _quantiles(diff, level)


# Student-t 97.5 % quantiles for 1..10 degrees of freedom (beyond: the normal 1.96 is within 4 %).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """95 % Student-t interval ``mean ± t·sd/√k`` of the mean of ``k`` values (``(mean, mean)`` for k = 1)."""
    k = len(values)
    mean = sum(values) / k
    if k < 2:
        return (mean, mean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    t = _T975[k - 2] if k - 1 <= len(_T975) else 1.96
    return (mean - t * sd / math.sqrt(k), mean + t * sd / math.sqrt(k))


def _quantiles(stats: Tensor, level: float) -> tuple[float, float]:
    lo, hi = torch.quantile(stats.double(), torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return (float(lo), float(hi))
