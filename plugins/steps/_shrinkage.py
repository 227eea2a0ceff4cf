"""Shrinkage helpers shared by the built-in steps (support selection, a hard threshold with a θ-gradient).

* Support selection (Chen et al. 2018, "LISTA-CPSS"): per sample, the cut-off ``c`` is the
  ``(100 − p)``-th percentile of ``|v|`` over the n entries with "nearest" interpolation, i.e. the
  entry at position ``d = round((n − 1)·p/100)`` (0-based, half to even) of ``|v|`` sorted in
  descending order; entries with ``|v| > c`` and ``|v| > θ`` pass unchanged (so, without ties,
  the ``d`` largest), every other entry is soft-thresholded. The selection carries no gradient.
  At n = 500 this passes ``p·n/100`` entries for every p of the default schedule (18 at
  p = 3 × 1.2, which the floor ``⌊p·n/100⌋`` of the float 3.5999… would cut to 17).
* :func:`hard_threshold_st`: ``H_θ(v) = v·1[|v| > θ]`` in the forward pass, with the exact
  (almost-everywhere) gradient ``1[|v| > θ]`` for ``v`` and, for θ, the gradient of the sigmoid
  relaxation ``v·σ((|v| − θ)/τ)`` (a straight-through estimator only for θ).
"""

from __future__ import annotations

import torch
from torch import Tensor

from hno_framework.ops import soft_threshold


def support_percent(layer_index: int, per_layer: float, maximum: float) -> float:
    """The CPSS schedule ``p_t = min((t + 1) · per_layer, maximum)`` in percent."""
    return min((layer_index + 1) * per_layer, maximum)


def support_selection_shrink(v: Tensor, theta: Tensor | float, percent: float) -> Tensor:
    """Soft threshold ``v`` ``(batch, n)`` except, per row, the entries above both θ and the row's
    ``(100 − percent)``-th percentile (nearest rank; module docstring)."""
    position = selection_position(v.shape[-1], percent)
    shrunk = soft_threshold(v, theta)
    if position <= 0:
        return shrunk
    magnitude = v.detach().abs()
    cutoff = torch.topk(magnitude, position + 1, dim=-1).values[..., -1:]  # descending position d
    keep = (magnitude > cutoff) & (magnitude > (theta.detach() if isinstance(theta, Tensor) else theta))
    return torch.where(keep, v, shrunk)


def selection_position(n: int, percent: float) -> int:
    """``d = round((n − 1)·p/100)``: the descending rank of the percentile cut-off (= entries passed, no ties)."""
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"support-selection percent must be in [0, 100], got {percent}")
    return round((n - 1) * percent / 100.0)


def hard_threshold_st(v: Tensor, theta: Tensor, width: float) -> Tensor:
    """``v·1[|v| > θ]`` exactly; θ receives the gradient of ``v·σ((|v| − θ)/width)`` (``width`` > 0)."""
    mask = (v.abs() > theta).to(v.dtype)
    hard = v * mask.detach()
    vd = v.detach()
    relaxed = vd * torch.sigmoid((vd.abs() - theta) / width)
    return hard + (relaxed - relaxed.detach())
