"""Whole-image signals for matrix-free problem kinds: random crops of photographs, or synthetic images.

A :class:`CropSource` draws ``(batch, C, H, W)`` images with values in [0, 1]:

* from photographs (scikit-image names, files or folders; :func:`~hno_framework.images.sources.load_images`),
  split by image: the ``train`` pictures feed training and validation, the ``test`` pictures the test set, and
  no picture is in both (checked on the pixels);
* or, with no photographs named, synthetic piecewise-smooth images (a smooth background, a few discs and
  rectangles of random grey levels), which need no optional dependency (tests, examples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from .sources import GrayImage, check_disjoint, load_images


def synthetic_images(batch: int, channels: int, size: int, generator: torch.Generator) -> Tensor:
    """``(batch, channels, size, size)`` float64 in [0, 1]: a smooth gradient plus 4 discs and 2 rectangles
    with random grey levels (channels share the shapes, with their own levels)."""
    h = w = size
    yy = torch.linspace(0.0, 1.0, h, dtype=torch.float64).view(1, 1, h, 1)
    xx = torch.linspace(0.0, 1.0, w, dtype=torch.float64).view(1, 1, 1, w)

    def uniform(*shape: int) -> Tensor:
        return torch.rand(shape, generator=generator, dtype=torch.float64)

    slope = uniform(batch, channels, 2) - 0.5
    img = 0.5 + 0.3 * (slope[..., 0, None, None] * (yy - 0.5) + slope[..., 1, None, None] * (xx - 0.5))
    for _ in range(4):
        centre, radius, level = uniform(batch, 1, 2), 0.05 + 0.2 * uniform(batch, 1), uniform(batch, channels)
        inside = (yy - centre[..., 0, None, None]) ** 2 + (xx - centre[..., 1, None, None]) ** 2 \
            < radius[..., None, None] ** 2
        img = torch.where(inside, level[..., None, None], img)
    for _ in range(2):
        corner, extent, level = uniform(batch, 1, 2), 0.1 + 0.4 * uniform(batch, 1, 2), uniform(batch, channels)
        y0, x0 = corner[..., 0, None, None], corner[..., 1, None, None]
        inside = (yy >= y0) & (yy < y0 + extent[..., 0, None, None]) & (xx >= x0) & (xx < x0 + extent[..., 1, None, None])
        img = torch.where(inside, level[..., None, None], img)
    return img.clamp(0.0, 1.0)


def random_crops(images: Sequence[GrayImage], batch: int, size: int, generator: torch.Generator) -> Tensor:
    """``(batch, 1, size, size)`` float64 in [0, 1]: each crop from a uniformly drawn image at a uniform place."""
    out = torch.empty(batch, 1, size, size, dtype=torch.float64)
    picks = torch.randint(len(images), (batch,), generator=generator)
    for b, index in enumerate(picks.tolist()):
        pixels = images[index].pixels
        h, w = pixels.shape
        top = int(torch.randint(h - size + 1, (1,), generator=generator))
        left = int(torch.randint(w - size + 1, (1,), generator=generator))
        out[b, 0] = torch.from_numpy(np.ascontiguousarray(pixels[top:top + size, left:left + size])) / 255.0
    return out


@dataclass(frozen=True)
class CropSource:
    """Where whole-image signals come from: ``size`` × ``size`` crops with ``channels`` channels.

    ``train`` / ``test``: photograph references (None: synthetic images); ``downscale`` averages k × k blocks
    first. :meth:`draw` gives images of the ``split`` ("train": training and validation; "test": the test set).
    """

    size: int
    channels: int = 1
    train: tuple[str, ...] | None = None
    test: tuple[str, ...] | None = None
    downscale: int = 1

    def __post_init__(self) -> None:
        if (self.train is None) != (self.test is None):
            raise ConfigError("give both train_images and test_images (a split by image), or neither (synthetic images)")
        if self.train is not None and self.channels != 1:
            raise ConfigError("photographs are read as grayscale: channels must be 1 with train_images/test_images")

    def photographs(self, split: str) -> list[GrayImage]:
        assert self.train is not None and self.test is not None
        train, test = load_images(self.train, self.downscale), load_images(self.test, self.downscale)
        check_disjoint(train, test)
        chosen = train if split == "train" else test
        small = [im.name for im in chosen if min(im.shape) < self.size]
        if small:
            raise ConfigError(f"image(s) {', '.join(small)} are smaller than the crop size {self.size}; "
                              "lower options.size or downscale")
        return chosen

    def draw(self, batch: int, generator: torch.Generator, split: str = "train") -> Tensor:
        """``(batch, channels, size, size)`` float64 in [0, 1]."""
        if self.train is None:
            return synthetic_images(batch, self.channels, self.size, generator)
        return random_crops(self.photographs(split), batch, self.size, generator)
