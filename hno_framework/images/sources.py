"""Grayscale photographs in [0, 255]: bundled scikit-image images by name, or image files and folders.

An image reference is resolved in this order:

1. an existing file (``.png``, ``.jpg``/``.jpeg``, ``.bmp``, ``.tif``/``.tiff``), read with Pillow
   (a dependency of matplotlib, so of the core);
2. an existing folder: every such file in it (not recursive), sorted by name;
3. the name of a photograph bundled with scikit-image (:data:`SKIMAGE_PHOTOGRAPHS`; needs the
   optional extra ``pip install "hno-framework[images]"``), e.g. ``camera`` (the cameraman of Set11).

Colour images become luma ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601), rounded to integers
as an 8-bit grayscale file would hold them; ``downscale = k`` then averages ``k × k`` blocks
(dropping the last rows/columns that do not fill a block). Arrays are ``float64`` ``(H, W)``.

:func:`check_disjoint` refuses a split that puts the same picture (equal pixels) in both sets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
LUMA = (0.299, 0.587, 0.114)


def _skimage_loader(name: str, index: int | None = None) -> Callable[[], Any]:
    def load() -> Any:
        try:
            from skimage import data
        except ImportError:
            raise ConfigError(
                f"the bundled photograph '{name}' comes with scikit-image, which is not installed; "
                'run pip install "hno-framework[images]", or point to your own image files/folders'
            ) from None
        image = getattr(data, name.split(":")[0])()
        return image if index is None else image[index]

    return load


# Natural photographs bundled with scikit-image 0.19+ (no download needed). ``cat`` is ``chelsea``
# (one picture, one name here); ``motorcycle_left``/``_right`` are the two views of ``stereo_motorcycle``.
SKIMAGE_PHOTOGRAPHS: dict[str, Callable[[], Any]] = {
    "astronaut": _skimage_loader("astronaut"),
    "brick": _skimage_loader("brick"),
    "camera": _skimage_loader("camera"),
    "chelsea": _skimage_loader("chelsea"),
    "clock": _skimage_loader("clock"),
    "coffee": _skimage_loader("coffee"),
    "coins": _skimage_loader("coins"),
    "grass": _skimage_loader("grass"),
    "gravel": _skimage_loader("gravel"),
    "hubble_deep_field": _skimage_loader("hubble_deep_field"),
    "moon": _skimage_loader("moon"),
    "motorcycle_left": _skimage_loader("stereo_motorcycle", 0),
    "motorcycle_right": _skimage_loader("stereo_motorcycle", 1),
    "page": _skimage_loader("page"),
    "rocket": _skimage_loader("rocket"),
    "text": _skimage_loader("text"),
}


@dataclass(frozen=True)
class GrayImage:
    """A named grayscale image ``pixels`` ``(H, W)`` float64 in [0, 255]; ``source`` says where it came from."""

    name: str
    source: str
    pixels: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))

    def digest(self) -> str:
        """A hash of the pixel values (equal pictures have equal digests, whatever their names)."""
        return hashlib.sha256(np.ascontiguousarray(self.pixels).tobytes()).hexdigest()[:16]


def to_gray(array: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3|4)`` of any integer/float type in [0, 255] → rounded luma ``(H, W)`` float64."""
    a = np.asarray(array)
    if a.dtype == bool:
        a = a.astype(np.float64) * 255.0
    a = a.astype(np.float64)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = np.rint(a[..., 0] * LUMA[0] + a[..., 1] * LUMA[1] + a[..., 2] * LUMA[2])
    if a.ndim != 2:
        raise ConfigError(f"expected a grayscale or RGB image, got an array of shape {a.shape}")
    return np.clip(a, 0.0, 255.0)


def downscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """The mean of every ``factor × factor`` block ``(H // factor, W // factor)``; the image itself for 1."""
    if factor == 1:
        return pixels
    h, w = pixels.shape[0] // factor, pixels.shape[1] // factor
    if h < 1 or w < 1:
        raise ConfigError(f"downscale={factor} leaves nothing of an image of shape {pixels.shape}")
    return pixels[: h * factor, : w * factor].reshape(h, factor, w, factor).mean(axis=(1, 3))


def read_file(path: Path) -> np.ndarray:
    """An image file as grayscale ``(H, W)`` float64 in [0, 255] (8-bit grayscale, palette, RGB or RGBA)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode in ("1", "L", "P", "LA", "RGB", "RGBA", "CMYK", "YCbCr"):
                array = np.asarray(im.convert("L") if im.mode in ("1", "L", "LA") else im.convert("RGB"))
            elif im.mode.startswith("I;16"):
                array = np.asarray(im, dtype=np.float64) / 257.0
            else:
                raise ConfigError(f"{path}: unsupported image mode {im.mode}; save it as 8-bit grayscale or RGB")
    except OSError as exc:
        raise ConfigError(f"cannot read the image {path}: {exc}") from None
    return to_gray(array)


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder {folder}")
    return files


@lru_cache(maxsize=64)
def _load_cached(reference: str, factor: int) -> tuple[GrayImage, ...]:
    path = Path(reference).expanduser()
    if path.is_file():
        return (GrayImage(path.stem, str(path), downscale(read_file(path), factor)),)
    if path.is_dir():
        return tuple(GrayImage(f.stem, str(f), downscale(read_file(f), factor)) for f in image_files(path))
    if reference in SKIMAGE_PHOTOGRAPHS:
        pixels = to_gray(SKIMAGE_PHOTOGRAPHS[reference]())
        return (GrayImage(reference, f"scikit-image:{reference}", downscale(pixels, factor)),)
    raise ConfigError(
        f"image '{reference}' is neither an existing image file or folder nor a photograph bundled with "
        f"scikit-image (known: {', '.join(sorted(SKIMAGE_PHOTOGRAPHS))})"
    )


def load_images(references: Sequence[str], factor: int = 1) -> list[GrayImage]:
    """Every image the ``references`` name (files, folders, scikit-image names), downscaled by ``factor``.

    Cached per (reference, factor); callers must not modify the arrays.
    """
    if factor < 1:
        raise ConfigError(f"downscale must be ≥ 1, got {factor}")
    out: list[GrayImage] = []
    for ref in references:
        out.extend(_load_cached(str(ref), int(factor)))
    if not out:
        raise ConfigError("no images given")
    return out


def check_disjoint(train: Sequence[GrayImage], test: Sequence[GrayImage]) -> None:
    """Raise :class:`ConfigError` when a test image is also a training image (equal pixel values)."""
    digests = {im.digest(): im for im in train}
    for im in test:
        other = digests.get(im.digest())
        if other is not None:
            raise ConfigError(
                f"test image '{im.name}' ({im.source}) is also a training image ('{other.name}', {other.source}); "
                "an image may be in the training set or the test set, never both"
            )
