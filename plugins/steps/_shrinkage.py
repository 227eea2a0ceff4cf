"""Shrinkage helpers shared by the built-in steps (support selection, a hard threshold with a θ-gradient).

* Support selection (Chen et al. 2018, "LISTA-CPSS"): in each sample, the ``k = ⌊p·n/100⌋``
  largest-magnitude entries of the pre-threshold vector ``v`` that also exceed θ pass
  unchanged; every other entry is soft-thresholded. The selection itself carries no gradient.
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
    """Soft threshold ``v`` ``(batch, n)`` except its top ``percent`` % entries per row (those above θ)."""
    n = v.shape[-1]
    k = int(percent * n // 100)
    shrunk = soft_threshold(v, theta)
    if k <= 0:
        return shrunk
    magnitude = v.detach().abs()
    kth = torch.topk(magnitude, k, dim=-1).values[..., -1:]
    keep = (magnitude >= kth) & (magnitude > (theta.detach() if isinstance(theta, Tensor) else theta))
    return torch.where(keep, v, shrunk)


def hard_threshold_st(v: Tensor, theta: Tensor, width: float) -> Tensor:
    """``v·1[|v| > θ]`` exactly; θ receives the gradient of ``v·σ((|v| − θ)/width)`` (``width`` > 0)."""
    mask = (v.abs() > theta).to(v.dtype)
    hard = v * mask.detach()
    vd = v.detach()
    relaxed = vd * torch.sigmoid((vd.abs() - theta) / width)
    return hard + (relaxed - relaxed.detach())
