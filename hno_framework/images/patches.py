"""Image patches: random patches for training, tiling a whole image and putting it back together.

A ``p × p`` patch is flattened row-major into a vector of length ``n = p²`` (as the image problem
kinds expect). Tiling with stride ``s`` takes the patches whose top-left corners are
``(i·s, j·s)``; ``s = p`` is the non-overlapping tiling, ``s < p`` an overlapping one. Both need
``(H − p)`` and ``(W − p)`` to be multiples of ``s`` (:func:`crop_to_tiling` makes them so).
Reassembly puts every patch back in place and divides each pixel by the number of patches that
cover it (computed as ``ref + Σ(estimate − ref)/count`` with ``ref`` the first estimate of the
pixel), so for patches cut from an image it returns that image bit for bit, and for reconstructed
patches it averages the overlapping estimates.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def tile_starts(size: int, patch: int, stride: int) -> list[int]:
    """Top-left coordinates ``0, s, 2s, …, size − p`` along one axis; ``size − p`` must be a multiple of ``s``."""
    if patch > size:
        raise ValueError(f"a patch of {patch} pixels does not fit an image side of {size}")
    if stride < 1 or stride > patch:
        raise ValueError(f"the stride must be in [1, patch={patch}], got {stride}")
    if (size - patch) % stride:
        raise ValueError(f"image side {size} − patch {patch} is not a multiple of the stride {stride}; crop the image first")
    return list(range(0, size - patch + 1, stride))


def crop_to_tiling(image: Tensor, patch: int, stride: int) -> Tensor:
    """The top-left part of ``image`` ``(H, W)`` whose sides satisfy ``(side − p) % s = 0``."""
    h = image.shape[0] - (image.shape[0] - patch) % stride
    w = image.shape[1] - (image.shape[1] - patch) % stride
    return image[:h, :w]


def extract_patches(image: Tensor, patch: int, stride: int) -> Tensor:
    """All tiling patches of ``image`` ``(H, W)`` as ``(N, p²)``, ordered row of tiles by row of tiles."""
    rows, cols = tile_starts(image.shape[0], patch, stride), tile_starts(image.shape[1], patch, stride)
    tiles = image.unfold(0, patch, stride).unfold(1, patch, stride)  # (len(rows), len(cols), p, p)
    assert tiles.shape[:2] == (len(rows), len(cols))
    return tiles.reshape(len(rows) * len(cols), patch * patch)


def assemble_patches(patches: Tensor, shape: tuple[int, int], patch: int, stride: int) -> Tensor:
    """The image ``(H, W)`` whose tiling (:func:`extract_patches`) is ``patches`` ``(N, p²)``; overlaps averaged."""
    h, w = shape
    rows, cols = tile_starts(h, patch, stride), tile_starts(w, patch, stride)
    if patches.shape != (len(rows) * len(cols), patch * patch):
        raise ValueError(f"expected {len(rows) * len(cols)} patches of {patch * patch} pixels for an image {shape} "
                         f"with stride {stride}, got {tuple(patches.shape)}")
    blocks = patches.reshape(len(rows), len(cols), patch, patch)
    # Average as ref + Σ(estimate − ref)/count with ref = the first estimate of each pixel, so that
    # identical estimates (patches of one image) give that image back bit for bit.
    ref = patches.new_zeros(h, w)
    count = patches.new_zeros(h, w)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            window = (slice(r, r + patch), slice(c, c + patch))
            ref[window] = torch.where(count[window] == 0, blocks[a, b], ref[window])
            count[window] += 1.0
    deviation = patches.new_zeros(h, w)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            deviation[r:r + patch, c:c + patch] += blocks[a, b] - ref[r:r + patch, c:c + patch]
    return ref + deviation / count


def random_patches(images: Sequence[Tensor], batch: int, patch: int, generator: torch.Generator) -> Tensor:
    """``batch`` patches ``(batch, p²)`` at uniformly random positions of the ``images`` (each ``(H, W)``).

    An image is chosen with probability proportional to its number of patch positions, so every
    position of every image is equally likely.
    """
    positions = torch.tensor([(im.shape[0] - patch + 1) * (im.shape[1] - patch + 1) for im in images], dtype=torch.float64)
    if (positions <= 0).any():
        small = [tuple(im.shape) for im in images if im.shape[0] < patch or im.shape[1] < patch]
        raise ValueError(f"images {small} are smaller than the {patch}×{patch} patch")
    which = torch.multinomial(positions / positions.sum(), batch, replacement=True, generator=generator)
    u = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
    out = torch.empty(batch, patch * patch, dtype=images[0].dtype)
    for i in range(batch):
        im = images[int(which[i])]
        r = int(u[i, 0] * (im.shape[0] - patch + 1))
        c = int(u[i, 1] * (im.shape[1] - patch + 1))
        out[i] = im[r:r + patch, c:c + patch].reshape(-1)
    return out
