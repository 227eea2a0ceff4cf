"""Matrix-free operators ``A`` on whole images ``(batch, C, H, W)``: masks, FFT blur and single-coil MRI.

Each is a :class:`~hno_framework.problems.base.Problem` with ``measure`` (A) and ``adjoint`` (Aᵀ for the real
inner product, ⟨A x, r⟩ = ⟨x, Aᵀ r⟩); none stores a matrix. L = ‖A‖₂² comes from the base class's seeded
power iteration (it is 1 for all three, as masks and unitary FFTs do not amplify).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hno_framework.problems import Problem


class MaskProblem(Problem):
    """Whole-image inpainting: ``A x = μ ⊙ x`` with a 0/1 pixel mask μ ``(C, H, W)``.

    ``per_sample_mask``: a fresh mask per image (it rides in y as NaN, see the base class; ``measure(x, mask)``);
    otherwise one fixed mask (buffer ``mask``) drawn from the problem seed. ``keep``: the share of pixels observed.
    """

    def __init__(self, shape: tuple[int, int, int], lam: float, keep: float, *, per_sample: bool,
                 generator: torch.Generator) -> None:
        super().__init__(shape, shape, lam, kind="image-inpainting", per_sample_mask=per_sample)
        self.keep = keep
        self.register_buffer("mask", None if per_sample else self._draw(1, generator)[0])

    def draw_masks(self, batch: int, generator: torch.Generator) -> Tensor | None:
        """``(batch, C, H, W)`` 0/1 float64: each pixel observed with probability ``keep`` (shared by channels); None
        for a fixed mask (it is part of the operator)."""
        if not self.per_sample_mask and self.mask is not None:
            return None
        return self._draw(batch, generator)

    def _draw(self, batch: int, generator: torch.Generator) -> Tensor:
        c, h, w = self.signal_shape
        observed = torch.rand(batch, 1, h, w, generator=generator, dtype=torch.float64) < self.keep
        return observed.to(torch.float64).expand(batch, c, h, w).contiguous()

    def noise_support(self) -> Tensor | None:
        """The fixed mask ``(1, C, H, W)`` (noise only on observed pixels); None with per-sample masks (the sampler
        hides the unobserved entries as NaN)."""
        return None if self.mask is None else self.mask[None]

    def measure(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        fixed = self.mask
        out = x if fixed is None else x * fixed
        return out if mask is None else out * mask

    def adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.measure(r, mask)  # a diagonal 0/1 operator is self-adjoint


def gaussian_kernel(sigma: float, size: int) -> Tensor:
    """``(size, size)`` float64 isotropic Gaussian, summing to 1 (``size`` odd)."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return k / k.sum()


def motion_kernel(length: float, angle_deg: float, size: int) -> Tensor:
    """``(size, size)`` float64 linear motion blur: a line of ``length`` pixels at ``angle_deg``, supersampled
    ×8 and summed into pixels, summing to 1 (``size`` odd, ≥ length)."""
    k = torch.zeros(size, size, dtype=torch.float64)
    steps = max(2, math.ceil(length * 8))
    t = torch.linspace(-length / 2, length / 2, steps, dtype=torch.float64)
    angle = math.radians(angle_deg)
    centre = (size - 1) / 2
    rows = torch.round(centre - t * math.sin(angle)).long().clamp(0, size - 1)
    cols = torch.round(centre + t * math.cos(angle)).long().clamp(0, size - 1)
    k.index_put_((rows, cols), torch.ones_like(t), accumulate=True)
    return k / k.sum()


class BlurProblem(Problem):
    """Deblurring: ``A x = k ⊛ x``, circular convolution of each channel with a kernel ``k`` through the FFT,
    ``A x = F⁻¹(K · F x)`` with ``K = F k``; ``Aᵀ r = F⁻¹(conj(K) · F r)`` (correlation with k).

    Buffer ``kernel`` ``(H, W)``: k placed with its centre at pixel (0, 0) (wrapped), so A does not shift the image.
    """

    def __init__(self, shape: tuple[int, int, int], lam: float, kernel: Tensor) -> None:
        super().__init__(shape, shape, lam, kind="blur")
        _, h, w = shape
        ks = kernel.shape[0]
        if ks > min(h, w):
            raise ValueError(f"blur kernel of size {ks} does not fit the {h}×{w} image; lower its size or sigma")
        padded = torch.zeros(h, w, dtype=torch.float64)
        padded[:ks, :ks] = kernel
        self.register_buffer("kernel", torch.roll(padded, shifts=(-(ks // 2), -(ks // 2)), dims=(0, 1)))

    def transfer(self, dtype: torch.dtype) -> Tensor:
        """``K = F k`` ``(H, W // 2 + 1)`` complex (the real FFT of the placed kernel)."""
        return torch.fft.rfft2(self.kernel.to(dtype))

    def measure(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        out = self._apply_fft(x, conjugate=False)
        return out if mask is None else out * mask

    def adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:
        return self._apply_fft(r if mask is None else r * mask, conjugate=True)

    def _apply_fft(self, x: Tensor, conjugate: bool) -> Tensor:
        k = self.transfer(x.dtype)
        spectrum = torch.fft.rfft2(x) * (k.conj() if conjugate else k)
        return torch.fft.irfft2(spectrum, s=x.shape[-2:])


def cartesian_mask(width: int, acceleration: float, center_fraction: float, generator: torch.Generator) -> Tensor:
    """``(width,)`` 0/1 float64 over the phase-encoding columns of k-space, in FFT order (frequency 0 first):
    the ``center_fraction`` lowest frequencies always, then random others until ``round(width / acceleration)``."""
    total = max(1, round(width / acceleration))
    centre = min(total, max(1, round(width * center_fraction)))
    shifted = torch.zeros(width, dtype=torch.float64)
    start = width // 2 - centre // 2  # fftshift puts frequency 0 at index width // 2
    shifted[start:start + centre] = 1.0
    others = torch.nonzero(shifted == 0).flatten()
    chosen = others[torch.randperm(len(others), generator=generator)[: total - centre]]
    shifted[chosen] = 1.0
    return torch.fft.ifftshift(shifted)


class MRIProblem(Problem):
    """Single-coil Cartesian MRI: ``A x = M ⊙ F x``, F the orthonormal 2-D FFT, M a mask of k-space columns.

    Signals are real ``(1, H, W)``; k-space is complex, stored as real ``(1, H, W, 2)`` (real and imaginary
    parts, ``torch.view_as_real``), so A is a real-linear map and its adjoint for the real inner product is
    ``Aᵀ r = Re(F⁻¹(M ⊙ r))`` (r read as complex). Buffer ``columns`` ``(W,)``: the sampled columns.
    """

    def __init__(self, shape: tuple[int, int, int], lam: float, columns: Tensor) -> None:
        super().__init__(shape, (*shape, 2), lam, kind="mri")
        self.register_buffer("columns", columns)

    def noise_support(self) -> Tensor:
        """``(1, 1, H, W, 2)`` 0/1: the measured entries, the sampled k-space columns (noise is added there only)."""
        _, h, _ = self.signal_shape
        return self.columns.view(1, 1, 1, -1, 1).expand(1, 1, h, -1, 2).to(self.dtype)

    def measure(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        k = torch.fft.fft2(x, norm="ortho") * self.columns.to(x.dtype)
        out = torch.view_as_real(k)
        return out if mask is None else out * mask

    def adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:
        r = r if mask is None else r * mask
        k = torch.view_as_complex(r.contiguous()) * self.columns.to(r.dtype)
        return torch.fft.ifft2(k, norm="ortho").real
