"""Orthonormal discrete cosine transforms (DCT-II), built in float64 without scipy.

The 1-D orthonormal DCT-II matrix ``C`` (``p × p``) has entries

    C[k, j] = s_k · cos(π (2j + 1) k / (2p)),   s_0 = √(1/p),  s_k = √(2/p) (k ≥ 1),

so ``C Cᵀ = I``. For a ``p × p`` patch ``X`` flattened row-major into ``x`` (length ``n = p²``),
the 2-D DCT ``C X Cᵀ`` is ``D x`` with ``D = C ⊗ C`` (Kronecker product), also orthonormal.
``D`` is the analysis basis of problem (1) in the seed (``λ‖Dx‖₁``): ``s = Dx`` are the DCT
coefficients and ``x = Dᵀ s`` the patch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def dct_matrix(size: int) -> Tensor:
    """The orthonormal 1-D DCT-II matrix ``(size, size)`` in float64 (rows are frequencies)."""
    if size < 1:
        raise ValueError(f"DCT size must be ≥ 1, got {size}")
    k = torch.arange(size, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(size, dtype=torch.float64).unsqueeze(0)
    c = torch.cos(math.pi * (2.0 * j + 1.0) * k / (2.0 * size))
    scale = torch.full((size, 1), math.sqrt(2.0 / size), dtype=torch.float64)
    scale[0, 0] = math.sqrt(1.0 / size)
    return scale * c


def dct2_basis(height: int, width: int | None = None) -> Tensor:
    """The orthonormal 2-D DCT ``D = C_h ⊗ C_w`` ``(h·w, h·w)`` for row-major flattened patches, float64."""
    width = height if width is None else width
    return torch.kron(dct_matrix(height), dct_matrix(width))
