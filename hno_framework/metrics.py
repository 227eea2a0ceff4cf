"""Reconstruction metrics.

NMSE in dB (seed, Sec. Experiments): ``10 log10(E‖x̂ − x*‖² / E‖x*‖²)``, the expectation being
the mean over the samples of a batch (a ratio of sums, not a mean of per-sample ratios).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def ratio_to_db(ratio: Tensor) -> list[float]:
    """``10 log10(ratio)`` elementwise (clamped at −300 dB), as Python floats."""
    return [float(v) for v in 10.0 * torch.log10(torch.clamp(ratio.double(), min=1e-30)).reshape(-1)]


def nmse_db(x_hat: Tensor, x_true: Tensor) -> float:
    """NMSE in dB of estimates ``x_hat`` against ``x_true``, both ``(batch, n)``."""
    ref = x_true.double().pow(2).sum()
    if ref <= 0:
        raise ValueError("NMSE is undefined for an all-zero reference signal")
    return ratio_to_db((x_hat - x_true).double().pow(2).sum() / ref)[0]


def squared_error_per_layer(trajectory: Tensor, x_true: Tensor) -> Tensor:
    """``Σ_batch ‖x_t − x*‖²`` for each state of a trajectory ``(batch, T + 1, *signal_shape)``: shape ``(T + 1,)``,
    float64."""
    return (trajectory - x_true.unsqueeze(1)).double().pow(2).flatten(2).sum(dim=(0, 2))


def nmse_db_per_layer(trajectory: Tensor, x_true: Tensor) -> list[float]:
    """NMSE in dB of every state ``x_0..x_T`` of a trajectory ``(batch, T + 1, n)``; length T + 1."""
    return ratio_to_db(squared_error_per_layer(trajectory, x_true) / x_true.double().pow(2).sum())


def psnr(x_hat: Tensor, x_true: Tensor, data_range: float = 1.0) -> float:
    """PSNR in dB: ``10 log10(range² / mean((x̂ − x)²))`` over all entries."""
    mse = float((x_hat - x_true).double().pow(2).mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(data_range**2 / mse)
