"""Inpainting masks (True = observed pixel) and the NaN convention for unobserved measurements.

* :func:`random_masks`: one mask per sample, each observing exactly ``observed`` of ``n`` pixels
  (uniform over such masks): the per-sample operators ``Φ_i = diag(μ_i) Φ`` of training;
* :func:`bernoulli_masks`: one mask per sample, each entry observed with probability ``q`` on its own, so the
  count varies (binomial around ``q·n``), as it does in the tiles of a whole-image mask;
* :func:`per_sample_masks`: either of the two, as a problem's ``mask`` setting asks;
* :func:`image_mask`: one mask for a whole image, observing ``round((1 − missing)·H·W)`` pixels;
  its tiles are the per-patch masks of the test (a tile's count varies around the mean);
* :func:`hide`: the measurement vector of a masked sample, NaN where unobserved
  (:meth:`hno_framework.problems.base.Problem.split_measurements` reads it back).
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_masks(batch: int, n: int, observed: int, generator: torch.Generator) -> Tensor:
    """``(batch, n)`` bool masks, each with exactly ``observed`` True entries at uniformly random places."""
    if not 0 <= observed <= n:
        raise ValueError(f"cannot observe {observed} of {n} entries")
    ranks = torch.rand(batch, n, generator=generator).argsort(dim=1).argsort(dim=1)
    return ranks < observed


def bernoulli_masks(batch: int, n: int, probability: float, generator: torch.Generator) -> Tensor:
    """``(batch, n)`` bool masks, every entry True with ``probability`` independently of the others."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"an entry's probability of being observed must be in [0, 1], got {probability}")
    return torch.rand(batch, n, generator=generator) < probability


def per_sample_masks(batch: int, n: int, observed: int, generator: torch.Generator, *, bernoulli: bool = False) -> Tensor:
    """``(batch, n)`` bool masks observing ``observed`` of ``n`` entries: exactly (:func:`random_masks`), or with
    ``bernoulli`` each entry with probability ``observed / n`` (:func:`bernoulli_masks`; ``observed`` on average)."""
    if bernoulli:
        return bernoulli_masks(batch, n, observed / n, generator)
    return random_masks(batch, n, observed, generator)


def image_mask(shape: tuple[int, int], missing_ratio: float, generator: torch.Generator) -> Tensor:
    """``(H, W)`` bool mask observing ``round((1 − missing_ratio)·H·W)`` uniformly chosen pixels."""
    h, w = shape
    observed = round((1.0 - missing_ratio) * h * w)
    return random_masks(1, h * w, observed, generator).reshape(h, w)


def hide(y: Tensor, mask: Tensor) -> Tensor:
    """``y`` with NaN where ``mask`` (same shape, bool) is False."""
    return torch.where(mask, y, torch.full_like(y, float("nan")))
