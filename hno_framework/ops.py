"""Proximal operators shared by steps (public API for plugin authors)."""

from __future__ import annotations

import torch
from torch import Tensor


def soft_threshold(v: Tensor, theta: Tensor | float) -> Tensor:
    """``η_θ(v) = sign(v) · max(|v| − θ, 0)``, the proximal map of ``θ‖·‖₁``; elementwise, any shape."""
    return torch.sign(v) * torch.relu(v.abs() - theta)


def hard_threshold(v: Tensor, theta: Tensor | float) -> Tensor:
    """``H_θ(v) = v · 1[|v| > θ]``; elementwise, any shape."""
    return v * (v.abs() > theta).to(v.dtype)
