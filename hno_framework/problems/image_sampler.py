"""Training and validation data of an image problem kind cut from photographs (``problem.patches``).

For each sample: a ``p × p`` patch at a uniformly random place of a training image
(:func:`~hno_framework.images.patches.random_patches`), pixels scaled to [0, 1], flattened row-major.
The signal ``x*`` is that patch (kinds ``cs``, ``inpainting``) or its 2-D DCT coefficients
``s = D x_patch`` (kind ``inpainting-dct``, whose operator ``Φ = M Dᵀ`` acts on coefficients). Then
``y = Φx* + e`` (the ``lasso`` kind's noise model), and with per-sample masks a fresh mask per
patch (exactly ``problem.m``-of-``n`` observed as ``cfg.m``; NaN where unobserved).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..images.masks import hide, per_sample_masks
from ..images.patches import random_patches
from ..images.sources import load_images
from .base import Problem, SignalBatch
from .dct import dct2_basis
from .lasso import add_noise

if TYPE_CHECKING:
    from ..config import ProblemConfig


class ImagePatchSampler:
    """``sample(batch, generator)``: ``(x*, y)`` for random patches of the configured photographs."""

    def __init__(self, problem: Problem, cfg: ProblemConfig) -> None:
        assert cfg.patches is not None
        self.problem, self.snr_db = problem, cfg.snr_db
        self.side = cfg.patch_size or math.isqrt(cfg.n)
        self.images = [torch.from_numpy(im.pixels / 255.0) for im in load_images(cfg.patches.images, cfg.patches.downscale)]
        self.coefficients = problem.kind == "inpainting-dct"
        self.analysis = dct2_basis(self.side) if self.coefficients else None  # D (n, n), float64
        self.observed, self.bernoulli = cfg.m, cfg.mask == "per-sample-bernoulli"

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch:
        phi = self.problem.phi
        pixels = random_patches(self.images, batch, self.side, generator)  # (batch, n) in [0, 1]
        x = pixels @ self.analysis.T if self.analysis is not None else pixels  # s = D x_patch in rows
        y = add_noise(x @ phi.detach().cpu().double().T, self.snr_db, generator)
        if self.problem.per_sample_mask:
            y = hide(y, per_sample_masks(batch, self.problem.m, self.observed, generator, bernoulli=self.bernoulli))
        return SignalBatch(x, y).to(phi.device, phi.dtype)
