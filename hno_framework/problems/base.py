"""The linear inverse problem every step is built from.

Problem (1) of the seed paper: ``min_x ½‖y − Φx‖² + λ‖Dx‖₁`` (Lasso when ``D = I``).
Tensors are batch-first: a signal batch is ``(batch, n)``, a measurement batch ``(batch, m)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..ops import lipschitz


class Problem(nn.Module):
    """Operators of ``y = Φx + e`` with the sparsity prior ``λ‖Dx‖₁``.

    Buffers (saved in checkpoints, moved by ``.to()``):
      * ``phi``   ``(m, n)`` the measurement matrix Φ;
      * ``basis`` ``(n, n)`` an orthonormal analysis basis D, or absent (D = I).
    Attributes: ``lam`` (λ), ``lipschitz`` (L = ‖Φ‖₂², the largest eigenvalue of ΦᵀΦ),
    ``kind`` (``"lasso"``, ``"cs"``, ...), ``patch_shape`` (image problems: ``(h, w)``, h·w = n),
    ``per_sample_mask``.

    Per-sample masks (``per_sample_mask=True``, e.g. inpainting with a fresh mask per patch):
    sample i is measured by ``Φ_i = diag(μ_i) Φ`` with a 0/1 mask ``μ_i`` ``(m,)``. Its
    measurement vector marks the unobserved entries with NaN, so ``y`` carries its own operator
    through every data path; :meth:`split_measurements` turns it into ``(y with 0 there, μ)``,
    which the network hands to the steps in ``ForwardContext.mask``.
    """

    phi: Tensor
    basis: Tensor | None

    def __init__(
        self,
        phi: Tensor,
        lam: float,
        *,
        basis: Tensor | None = None,
        kind: str = "lasso",
        patch_shape: tuple[int, int] | None = None,
        per_sample_mask: bool = False,
    ) -> None:
        super().__init__()
        if phi.ndim != 2:
            raise ValueError(f"Φ must be a matrix (m, n), got shape {tuple(phi.shape)}")
        self.register_buffer("phi", phi)
        if basis is not None:
            n = phi.shape[1]
            if basis.shape != (n, n):
                raise ValueError(f"basis D must be ({n}, {n}), got {tuple(basis.shape)}")
            self.register_buffer("basis", basis)
        else:
            self.basis = None
        self.lam = float(lam)
        self.lipschitz = lipschitz(phi)
        self.kind = kind
        self.patch_shape = patch_shape
        self.per_sample_mask = per_sample_mask

    @property
    def m(self) -> int:
        return int(self.phi.shape[0])

    @property
    def n(self) -> int:
        return int(self.phi.shape[1])

    def measure(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``Φx`` for a batch: ``(batch, n) -> (batch, m)``; with a ``mask`` ``(batch, m)``, ``Φ_i x_i = μ_i ⊙ Φx_i``."""
        out = x @ self.phi.T
        return out if mask is None else out * mask

    def adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:
        """``Φᵀr`` for a batch: ``(batch, m) -> (batch, n)``; with a ``mask``, ``Φ_iᵀ r_i = Φᵀ(μ_i ⊙ r_i)``."""
        return (r if mask is None else r * mask) @ self.phi

    def split_measurements(self, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(y, None)`` for a shared Φ; with per-sample masks, ``(y with NaN → 0, μ = 1[y observed])``, both ``(batch, m)``."""
        if not self.per_sample_mask:
            return y, None
        observed = ~torch.isnan(y)
        return torch.where(observed, y, torch.zeros_like(y)), observed.to(y.dtype)

    def extra_repr(self) -> str:
        d = "D" if self.basis is not None else "I"
        masks = ", per-sample masks" if self.per_sample_mask else ""
        return f"kind={self.kind}, m={self.m}, n={self.n}, λ={self.lam:g}, L={self.lipschitz:.4g}, D={d}{masks}"


@dataclass
class SignalBatch:
    """A batch of ground-truth signals ``x`` ``(batch, n)`` and measurements ``y`` ``(batch, m)``."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> SignalBatch:
        return SignalBatch(self.x.to(device, dtype), self.y.to(device, dtype))

    def slice(self, start: int, stop: int) -> SignalBatch:
        return SignalBatch(self.x[start:stop], self.y[start:stop])
