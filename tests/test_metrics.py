"""NMSE and PSNR against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hno_framework.metrics import nmse_db, nmse_db_per_layer, psnr


@given(scale=st.floats(0.01, 10.0), seed=st.integers(0, 1000))
def test_nmse_of_a_scaled_estimate(scale, seed) -> None:
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    # ‖(1 - s) x − x‖² / ‖x‖² = s², so NMSE = 20 log10 s
    assert nmse_db((1 - scale) * x, x) == pytest.approx(20 * math.log10(scale), abs=1e-9)


def test_nmse_is_a_ratio_of_sums_not_a_mean_of_ratios() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 10.0]])
    x_hat = torch.tensor([[0.0, 0.0], [0.0, 10.0]])  # first sample fully wrong, second exact
    assert nmse_db(x_hat, x) == pytest.approx(10 * math.log10(1 / 101))


def test_per_layer_matches_single_layer() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=g)
    traj = torch.stack([torch.zeros_like(x), 0.5 * x, x + 0.01], dim=1)
    per = nmse_db_per_layer(traj, x)
    assert per[0] == pytest.approx(0.0, abs=1e-9)
    assert per[1] == pytest.approx(nmse_db(0.5 * x, x))
    assert per[2] == pytest.approx(nmse_db(x + 0.01, x), abs=1e-6)


def test_psnr() -> None:
    x = torch.zeros(10)
    assert psnr(x + 0.1, x) == pytest.approx(20.0)
    assert psnr(x, x) == math.inf
    with pytest.raises(ValueError):
        nmse_db(x, x)
