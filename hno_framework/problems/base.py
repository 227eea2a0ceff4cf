"""The linear inverse problem every step is built from: a measurement operator ``A`` and a prior.

Problem (1) of the seed paper: ``min_x ½‖y − A x‖² + λ‖Dx‖₁`` (Lasso when ``D = I`` and ``A = Φ``).
``A`` is a matrix Φ ``(m, n)`` (:class:`MatrixProblem`) or matrix-free (blur, MRI, masks): any
:class:`Problem` subclass that implements :meth:`Problem.measure` (``A``) and :meth:`Problem.adjoint`
(``Aᵀ``). Tensors are batch-first: a signal batch is ``(batch, *signal_shape)`` — ``(batch, n)`` for
vectors, ``(batch, C, H, W)`` for images — and a measurement batch ``(batch, *measurement_shape)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..ops import lipschitz, power_iteration


class Problem(nn.Module):
    """Operators of ``y = A x + e`` with the sparsity prior ``λ‖Dx‖₁``; subclasses implement ``measure`` and
    ``adjoint``.

    Attributes: ``signal_shape`` and ``measurement_shape`` (one sample, no batch dimension), ``lam`` (λ),
    ``lipschitz`` (L = ‖A‖₂², the largest eigenvalue of AᵀA: exact for a matrix, by seeded power iteration
    otherwise, computed once and cached), ``kind`` (the registered problem kind), ``has_matrix`` (whether
    ``phi`` exists), ``basis`` (an orthonormal analysis basis D ``(n, n)``, or None: D = I), ``patch_shape``
    (image-patch problems: ``(h, w)``, h·w = n), ``per_sample_mask``.

    Per-sample masks (``per_sample_mask=True``, e.g. inpainting with a fresh mask per patch or image):
    sample i is measured by ``A_i = diag(μ_i) A`` with a 0/1 mask ``μ_i`` of the measurement's shape. Its
    measurement marks the unobserved entries with NaN, so ``y`` carries its own operator through every data
    path; :meth:`split_measurements` turns it into ``(y with 0 there, μ)``, which the network hands to the
    steps in ``ForwardContext.mask``.
    """

    phi: Tensor
    """The matrix Φ ``(m, n)``: only on problems with ``has_matrix`` (a step that reads it declares
    ``requires = frozenset({"matrix"})``)."""
    basis: Tensor | None
    has_matrix: bool = False

    def __init__(
        self,
        signal_shape: tuple[int, ...],
        measurement_shape: tuple[int, ...],
        lam: float,
        *,
        kind: str,
        basis: Tensor | None = None,
        patch_shape: tuple[int, int] | None = None,
        per_sample_mask: bool = False,
        lipschitz_seed: int = 0,
    ) -> None:
        super().__init__()
        if not signal_shape or not measurement_shape or min(*signal_shape, *measurement_shape) < 1:
            raise ValueError(f"signal and measurement shapes must be non-empty and positive, got "
                             f"{tuple(signal_shape)} and {tuple(measurement_shape)}")
        self.signal_shape = tuple(int(s) for s in signal_shape)
        self.measurement_shape = tuple(int(s) for s in measurement_shape)
        if basis is not None:
            n = self.n
            if basis.shape != (n, n):
                raise ValueError(f"basis D must be ({n}, {n}), got {tuple(basis.shape)}")
            self.register_buffer("basis", basis)
        else:
            self.basis = None
        # the dtype and device the operator works in: follows .to() (see _apply), not a buffer (no weight, not saved)
        self._anchor = torch.zeros(())
        self.lam = float(lam)
        self.kind = kind
        self.patch_shape = patch_shape
        self.per_sample_mask = per_sample_mask
        self.lipschitz_seed = lipschitz_seed
        self._lipschitz: float | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "phi":
                raise AttributeError(
                    f"problem kind '{self.kind}' is matrix-free: it has no matrix Φ (use problem.measure / "
                    "problem.adjoint; a step that needs Φ declares requires = frozenset({'matrix'}))"
                ) from None
            raise

    def _apply(self, fn: Any, recurse: bool = True) -> Problem:
        """``nn.Module._apply`` (what ``.to()``, ``.double()``, ... run), also on the dtype/device anchor."""
        self._anchor = fn(self._anchor)
        return super()._apply(fn, recurse)

    # -- sizes, dtype ---------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Entries of one signal: ``prod(signal_shape)``."""
        return math.prod(self.signal_shape)

    @property
    def m(self) -> int:
        """Entries of one measurement: ``prod(measurement_shape)``."""
        return math.prod(self.measurement_shape)

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    # -- the operator ---------------------------------------------------------------------------------
    def measure(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        """``A x``: ``(batch, *signal_shape) -> (batch, *measurement_shape)``; with a per-sample ``mask`` of the
        measurement's shape, ``A_i x_i = μ_i ⊙ A x_i``."""
        raise NotImplementedError

    def adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        """``Aᵀ r``: ``(batch, *measurement_shape) -> (batch, *signal_shape)``; with a ``mask``, ``A_iᵀ r_i =
        Aᵀ(μ_i ⊙ r_i)``. The adjoint for the real inner product: ⟨A x, r⟩ = ⟨x, Aᵀ r⟩."""
        raise NotImplementedError

    def A(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The same as :meth:`measure` (deepinv's name)."""
        return self.measure(x, mask)

    def A_adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:
        """The same as :meth:`adjoint` (deepinv's name)."""
        return self.adjoint(r, mask)

    @property
    def lipschitz(self) -> float:
        """``L = ‖A‖₂²``: power iteration on ``AᵀA`` (seeded by ``lipschitz_seed``), computed once and cached."""
        if self._lipschitz is None:
            self._lipschitz = power_iteration(
                lambda v: self.adjoint(self.measure(v)), (1, *self.signal_shape), iterations=500, tol=1e-7,
                seed=self.lipschitz_seed, dtype=self.dtype, device=self.device,
            )
        return self._lipschitz

    def draw_masks(self, batch: int, generator: torch.Generator) -> Tensor | None:
        """Fresh per-sample 0/1 masks ``(batch, *measurement_shape)`` for a problem with ``per_sample_mask`` (what a
        sampler applies before hiding the unobserved entries of ``y`` as NaN); None for a shared operator.
        Optional to override; the default is None."""
        return None

    def noise_support(self) -> Tensor | None:
        """``(1, *measurement_shape)`` 0/1: the entries of a measurement that carry data and so receive noise (e.g.
        the sampled k-space columns); None: every entry. Optional to override; the default is None."""
        return None

    def split_measurements(self, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(y, None)`` for a shared operator; with per-sample masks, ``(y with NaN → 0, μ = 1[y observed])``,
        both ``(batch, *measurement_shape)``."""
        if not self.per_sample_mask:
            return y, None
        observed = ~torch.isnan(y)
        return torch.where(observed, y, torch.zeros_like(y)), observed.to(y.dtype)

    def extra_repr(self) -> str:
        d = "D" if self.basis is not None else "I"
        masks = ", per-sample masks" if self.per_sample_mask else ""
        return (f"kind={self.kind}, signal={self.signal_shape}, measurement={self.measurement_shape}, "
                f"λ={self.lam:g}, D={d}{masks}")


class MatrixProblem(Problem):
    """A problem whose operator is a dense matrix: ``A x = Φ x`` with the buffer ``phi`` ``(m, n)`` (saved in
    checkpoints, moved by ``.to()``); signals ``(batch, n)``, measurements ``(batch, m)``; L = ‖Φ‖₂² exact."""

    has_matrix = True

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
        if phi.ndim != 2:
            raise ValueError(f"Φ must be a matrix (m, n), got shape {tuple(phi.shape)}")
        super().__init__((int(phi.shape[1]),), (int(phi.shape[0]),), lam, kind=kind, basis=basis,
                         patch_shape=patch_shape, per_sample_mask=per_sample_mask)
        self.register_buffer("phi", phi)
        self._anchor = self._anchor.to(phi.dtype)
        self._lipschitz = lipschitz(phi)

    def measure(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``Φx`` for a batch: ``(batch, n) -> (batch, m)``; with a ``mask`` ``(batch, m)``, ``Φ_i x_i = μ_i ⊙ Φx_i``."""
        out = x @ self.phi.T
        return out if mask is None else out * mask

    def adjoint(self, r: Tensor, mask: Tensor | None = None) -> Tensor:
        """``Φᵀr`` for a batch: ``(batch, m) -> (batch, n)``; with a ``mask``, ``Φ_iᵀ r_i = Φᵀ(μ_i ⊙ r_i)``."""
        return (r if mask is None else r * mask) @ self.phi

    def extra_repr(self) -> str:
        d = "D" if self.basis is not None else "I"
        masks = ", per-sample masks" if self.per_sample_mask else ""
        return f"kind={self.kind}, m={self.m}, n={self.n}, λ={self.lam:g}, L={self.lipschitz:.4g}, D={d}{masks}"


@dataclass
class SignalBatch:
    """A batch of ground-truth signals ``x`` ``(batch, *signal_shape)`` and measurements ``y``
    ``(batch, *measurement_shape)``."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> SignalBatch:
        return SignalBatch(self.x.to(device, dtype), self.y.to(device, dtype))

    def slice(self, start: int, stop: int) -> SignalBatch:
        return SignalBatch(self.x[start:stop], self.y[start:stop])
