"""Whole-image evaluation of a network on test photographs: tile, measure, reconstruct, reassemble, PSNR.

For a test image ``X`` ``(H, W)`` (cropped so the tiling fits, pixels scaled to [0, 1]):

1. tiles ``x_k`` ``(N, p²)`` with stride s (:func:`~hno_framework.images.patches.extract_patches`);
2. measurements: inpainting — one mask for the whole image (``missing_ratio`` of the pixels,
   seeded per image), each tile observed through its part of it (per-sample masks); with a fixed
   patch mask, the same mask on every tile (s = p). CS — ``y_k = Φ x_k`` per tile;
3. the network's estimate per tile (pixels; ``inpainting-dct`` estimates coefficients ŝ, the tile
   is ``Dᵀŝ``), reassembled with overlaps averaged, clipped to [0, 1];
4. PSNR on the [0, 255] scale, and the squared error per ``p × p`` block for the intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hno_framework.images.masks import hide, image_mask
from hno_framework.images.patches import assemble_patches, crop_to_tiling, extract_patches
from hno_framework.images.quality import block_squared_errors, psnr
from hno_framework.images.sources import GrayImage
from hno_framework.network import UnrolledNetwork
from hno_framework.problems.dct import dct2_basis


@dataclass
class ImageReconstruction:
    """``original``, ``observed`` (inpainting: NaN where missing; CS: None) and ``estimate``, all ``(H, W)`` in [0, 255]."""

    name: str
    original: Tensor
    observed: Tensor | None
    estimate: Tensor
    psnr_db: float
    block_mse: Tensor


def test_tensor(image: GrayImage, patch: int, stride: int) -> Tensor:
    """The image as a float64 tensor in [0, 1], cropped (top-left) so that the tiling fits."""
    return crop_to_tiling(torch.from_numpy(image.pixels / 255.0), patch, stride)


@torch.no_grad()
def reconstruct(net: UnrolledNetwork, image: GrayImage, *, patch: int, stride: int, missing_ratio: float | None,
                mask_seed: int, chunk: int = 4096, mask: Tensor | None = None,
                depth: int | None = None) -> ImageReconstruction:
    """Reconstruct ``image`` tile by tile with ``net`` (module docstring); ``missing_ratio`` None for CS. ``mask``: an
    ``(H, W)`` bool mask of the observed pixels (of the cropped image) to use instead of the seeded image mask, for
    inpainting (``missing_ratio`` given) with per-sample masks. ``depth``: the estimate ``x_depth`` after the first
    ``depth`` layers (1 … T) instead of ``x_T``."""
    if depth is not None and not 1 <= depth <= net.num_layers:
        raise ValueError(f"depth must be between 1 and the network's {net.num_layers} layers, got {depth}")
    if mask is not None and missing_ratio is None:
        raise ValueError("a mask is for inpainting: pass missing_ratio too (compressive sensing observes every tile "
                         "through Φ, without a mask)")
    problem = net.problem
    dtype = problem.phi.dtype
    pixels = test_tensor(image, patch, stride)
    shape = (int(pixels.shape[0]), int(pixels.shape[1]))
    tiles = extract_patches(pixels, patch, stride)  # (N, p²) float64
    coefficients = problem.kind == "inpainting-dct"
    analysis = dct2_basis(patch) if coefficients else None  # D, float64
    signal = tiles @ analysis.T if analysis is not None else tiles
    y = signal @ problem.phi.detach().double().T
    observed = None
    if missing_ratio is not None:
        if problem.per_sample_mask:
            if mask is None:
                mask = image_mask(shape, missing_ratio, torch.Generator().manual_seed(mask_seed))
            elif tuple(mask.shape) != shape or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of the cropped image's shape {shape}, got "
                                 f"{mask.dtype} {tuple(mask.shape)}")
            y = hide(y, extract_patches(mask.double(), patch, stride) > 0.5)
        else:  # the fixed patch mask, tiled (stride = patch)
            if mask is not None:
                raise ValueError("a mask of your own needs a problem with per-sample masks (problem.mask: per-sample or "
                                 "per-sample-bernoulli)")
            phi = problem.phi.detach().double()
            pixel_rows = phi @ analysis if analysis is not None else phi  # rows of I: (Dᵀ)[kept] D = I[kept]
            kept = pixel_rows.abs().argmax(dim=1)
            tile_mask = torch.zeros(patch * patch, dtype=torch.bool)
            tile_mask[kept] = True
            mask = assemble_patches(tile_mask.double().expand(tiles.shape[0], -1), shape, patch, stride) > 0.5
        observed = torch.where(mask, pixels, torch.full_like(pixels, float("nan"))) * 255.0
    was_training = net.training
    net.eval()
    estimates = torch.cat([net.unroll(y[i:i + chunk].to(dtype), depth=depth).estimate.double()
                           for i in range(0, y.shape[0], chunk)])
    net.train(was_training)
    if analysis is not None:
        estimates = estimates @ analysis  # tiles Dᵀŝ in rows
    estimate = assemble_patches(estimates, shape, patch, stride).clamp(0.0, 1.0) * 255.0
    original = pixels * 255.0
    return ImageReconstruction(image.name, original, observed, estimate, psnr(estimate, original),
                               block_squared_errors(estimate, original, patch))
