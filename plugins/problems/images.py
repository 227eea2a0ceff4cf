"""Matrix-free whole-image problem kinds: ``image-inpainting``, ``blur`` and ``mri``.

Signals are images ``(batch, C, H, W)`` in [0, 1]: crops of photographs split by image (``train_images`` feed
training and validation, ``test_images`` the test set), or synthetic piecewise-smooth images when none are named
(:mod:`hno_framework.images.crops`). Measurements ``y = A x* + e``: ``e`` Gaussian with standard deviation
``noise_sigma`` (absolute, images in [0, 1]), or set per image by the shared ``problem.snr_db``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from hno_framework import Options
from hno_framework.config import ProblemConfig
from hno_framework.errors import ConfigError
from hno_framework.images.crops import CropSource
from hno_framework.problems import Problem, ProblemKind, Sampler, SignalBatch

from .operators import BlurProblem, MaskProblem, MRIProblem, cartesian_mask, gaussian_kernel, motion_kernel


class WholeImageOptions(Options):
    """Options every whole-image kind shares: the crops and the noise."""

    size: int = Field(64, ge=4, le=2048, description="crop side H = W in pixels")
    channels: int = Field(1, ge=1, le=3, description="image channels (photographs are grayscale: 1)")
    train_images: list[str] | None = Field(
        None, description="photographs for training and validation (scikit-image names, files or folders); "
        "None: synthetic images")
    test_images: list[str] | None = Field(None, description="photographs of the test set (none in train_images)")
    downscale: int = Field(1, ge=1, le=16, description="average k × k pixel blocks of the photographs first")
    noise_sigma: float = Field(0.0, ge=0.0, le=10.0, description="std of the additive Gaussian noise (images in "
                               "[0, 1]); problem.snr_db, when set, replaces it")

    def source(self) -> CropSource:
        return CropSource(self.size, self.channels, tuple(self.train_images) if self.train_images else None,
                          tuple(self.test_images) if self.test_images else None, self.downscale)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


class OperatorSampler:
    """``x*`` from a :class:`CropSource`, ``y = A x* + e`` (``e`` on the measured entries only); with per-sample
    masks, a fresh mask per image and NaN at the unobserved entries of y. ``split``: "train" (training and
    validation) or "test" (:meth:`for_split`)."""

    def __init__(self, problem: Problem, options: WholeImageOptions, snr_db: float | None, split: str = "train") -> None:
        self.problem, self.options, self.snr_db, self.split = problem, options, snr_db, split
        self.source = options.source()

    def for_split(self, split: str) -> OperatorSampler:
        """The same sampler drawing from the images of ``split`` ("train" or "test")."""
        return OperatorSampler(self.problem, self.options, self.snr_db, split)

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch:
        problem = self.problem
        x = self.source.draw(batch, generator, self.split)  # float64, CPU
        mask = problem.draw_masks(batch, generator)  # per-sample masks, or None
        with torch.no_grad():  # A in the problem's own dtype and device
            device_mask = None if mask is None else mask.to(problem.device, problem.dtype)
            clean = problem.measure(x.to(problem.device, problem.dtype), device_mask).cpu().double()
        where = problem.noise_support()
        support = torch.ones_like(clean[:1]) if where is None else where.cpu().double()
        if self.snr_db is not None:  # per image: the mean energy of the measured entries over 10^(SNR/10)
            energy = clean.flatten(1).pow(2).sum(1) / support.flatten().sum().clamp_min(1)
            sigma = energy.sqrt().view(-1, *[1] * (clean.ndim - 1)) * 10.0 ** (-self.snr_db / 20.0)
        else:
            sigma = torch.tensor(self.options.noise_sigma, dtype=torch.float64)
        y = clean + sigma * torch.randn(clean.shape, generator=generator, dtype=torch.float64) * support
        if mask is not None:
            y = torch.where(mask > 0, y, torch.full_like(y, float("nan")))
        return SignalBatch(x, y).to(problem.device, problem.dtype)


class _WholeImageKind(ProblemKind):
    matrix_free = True
    signal = "image"

    @classmethod
    def small_config(cls) -> dict[str, object]:
        return {"lam": 0.01, "options": {"size": 8}}

    def sampler(self, problem: Problem, cfg: ProblemConfig) -> Sampler:
        assert isinstance(self.options, WholeImageOptions)
        return OperatorSampler(problem, self.options, cfg.snr_db)


class ImageInpaintingOptions(WholeImageOptions):
    missing_ratio: float = Field(0.5, ge=0.0, lt=1.0, description="share of the pixels not observed")
    mask: Literal["per-sample", "fixed"] = Field("per-sample", description="a fresh random mask per image (each pixel "
                                                "observed with probability 1 − missing_ratio), or one fixed mask "
                                                "(from problem.seed)")


class ImageInpaintingKind(_WholeImageKind):
    """Whole-image inpainting: A = a random 0/1 pixel mask per image (or one fixed mask), matrix-free."""

    name = "image-inpainting"
    Options = ImageInpaintingOptions

    def build(self, cfg: ProblemConfig) -> Problem:
        o = self.options
        assert isinstance(o, ImageInpaintingOptions)
        g = torch.Generator().manual_seed(cfg.seed)
        return MaskProblem(o.shape, cfg.lam, 1.0 - o.missing_ratio, per_sample=o.mask == "per-sample", generator=g)


class BlurOptions(WholeImageOptions):
    kernel: Literal["gaussian", "motion"] = Field("gaussian", description="blur kernel")
    sigma: float = Field(1.6, gt=0.0, le=50.0, description="gaussian: standard deviation in pixels")
    length: float = Field(7.0, gt=0.0, le=200.0, description="motion: length of the motion in pixels")
    angle: float = Field(0.0, ge=-360.0, le=360.0, description="motion: direction in degrees")
    kernel_size: int | None = Field(None, ge=1, le=401, description="odd side of the kernel (default: "
                                    "2·ceil(3σ) + 1, or the odd size above the motion length)")

    @model_validator(mode="after")
    def _odd(self) -> BlurOptions:
        if self.kernel_size is not None and self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        return self

    def side(self) -> int:
        if self.kernel_size is not None:
            return self.kernel_size
        reach = 3 * self.sigma if self.kernel == "gaussian" else self.length / 2
        return 2 * int(-(-reach // 1)) + 1


class BlurKind(_WholeImageKind):
    """Deblurring: A = circular convolution with a Gaussian or motion kernel through the FFT, matrix-free."""

    name = "blur"
    Options = BlurOptions

    def build(self, cfg: ProblemConfig) -> Problem:
        o = self.options
        assert isinstance(o, BlurOptions)
        side = o.side()
        if side > o.size:
            raise ConfigError(f"problem kind 'blur': a kernel of size {side} does not fit the {o.size}×{o.size} image; "
                              "raise problem.options.size or lower sigma / length / kernel_size")
        kernel = gaussian_kernel(o.sigma, side) if o.kernel == "gaussian" else motion_kernel(o.length, o.angle, side)
        return BlurProblem(o.shape, cfg.lam, kernel)

    @classmethod
    def small_config(cls) -> dict[str, object]:
        return {"lam": 0.01, "options": {"size": 8, "sigma": 0.8}}


class MRIOptions(WholeImageOptions):
    acceleration: float = Field(4.0, ge=1.0, le=64.0, description="k-space columns kept: W / acceleration")
    center_fraction: float = Field(0.08, gt=0.0, le=1.0, description="share of the lowest-frequency columns always kept")

    @model_validator(mode="after")
    def _gray(self) -> MRIOptions:
        if self.channels != 1:
            raise ValueError("single-coil MRI images have one channel: set channels: 1")
        return self


class MRIKind(_WholeImageKind):
    """Single-coil MRI: A = a Cartesian column mask of the orthonormal 2-D FFT (complex k-space as a trailing 2), matrix-free."""

    name = "mri"
    Options = MRIOptions

    def build(self, cfg: ProblemConfig) -> Problem:
        o = self.options
        assert isinstance(o, MRIOptions)
        g = torch.Generator().manual_seed(cfg.seed)
        return MRIProblem(o.shape, cfg.lam, cartesian_mask(o.size, o.acceleration, o.center_fraction, g))
