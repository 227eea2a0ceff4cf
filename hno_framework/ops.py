"""Proximal operators and the step-size constant shared by steps and solvers (public API for plugin authors)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def soft_threshold(v: Tensor, theta: Tensor | float) -> Tensor:
    """``η_θ(v) = sign(v) · max(|v| − θ, 0)``, the proximal map of ``θ‖·‖₁``; elementwise, any shape."""
    return torch.sign(v) * torch.relu(v.abs() - theta)


def hard_threshold(v: Tensor, theta: Tensor | float) -> Tensor:
    """``H_θ(v) = v · 1[|v| > θ]``; elementwise, any shape."""
    return v * (v.abs() > theta).to(v.dtype)


def lipschitz(phi: Tensor) -> float:
    """``L = ‖Φ‖₂²`` (the largest eigenvalue of ΦᵀΦ), the Lipschitz constant of the gradient of
    ½‖y − Φx‖²; computed in float64 from ``phi`` ``(m, n)``."""
    return float(torch.linalg.matrix_norm(phi.detach().double(), ord=2) ** 2)


def power_iteration(
    normal: Callable[[Tensor], Tensor],
    shape: tuple[int, ...],
    *,
    iterations: int = 100,
    tol: float = 1e-7,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> float:
    """The largest eigenvalue of a symmetric positive semi-definite operator ``N`` (e.g. ``N = AᵀA``, so
    the result is ``L = ‖A‖₂²``) by power iteration ``v ← N v / ‖N v‖`` from a seeded Gaussian ``v``
    of ``shape`` (one signal, batch dimension included, e.g. ``(1, C, H, W)``). Stops when the Rayleigh
    quotient ``⟨v, N v⟩`` changes by less than ``tol`` (relative) or after ``iterations``."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(shape, generator=g, dtype=dtype).to(device) if device is not None else torch.randn(
        shape, generator=g, dtype=dtype)
    v = v / v.norm()
    estimate = 0.0
    for _ in range(iterations):
        w = normal(v)
        new = float((v * w).sum())
        norm = w.norm()
        if float(norm) == 0.0:
            return 0.0
        v = w / norm
        if abs(new - estimate) <= tol * max(abs(new), 1e-30):
            return new
        estimate = new
    return estimate
