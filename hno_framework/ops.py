"""Proximal operators and the step-size constant shared by steps and solvers (public API for plugin authors)."""

from __future__ import annotations

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
