"""The core bootstrap (hno_framework.uncertainty): point values against plain sums, paired columns, and the
interval's coverage of a known true NMSE."""

from __future__ import annotations

import math

import pytest
import torch

from hno_framework.uncertainty import bootstrap_nmse_db, bootstrap_nmse_db_columns, resampled_ratios


def test_columns_share_one_draw_so_each_column_equals_its_own_bootstrap() -> None:
    g = torch.Generator().manual_seed(3)
    errors = torch.rand(300, 4, generator=g, dtype=torch.float64)
    energies = 1 + torch.rand(300, generator=g, dtype=torch.float64)
    point, low, high = bootstrap_nmse_db_columns(errors, energies, resamples=450, seed=7)  # 450: chunks of 200 + 50
    for k in range(4):
        alone = bootstrap_nmse_db(errors[:, k], energies, resamples=450, seed=7)
        total_e = sum(float(errors[i, k]) for i in range(300))
        total_r = sum(float(energies[i]) for i in range(300))
        assert point[k] == pytest.approx(10 * math.log10(total_e / total_r))
        assert (alone.nmse_db, alone.low_db, alone.high_db) == pytest.approx((point[k], low[k], high[k]))


def test_a_resample_is_a_ratio_of_sums_over_drawn_indices() -> None:
    # one sample carries all the error: each resampled ratio is (count of that index) · e₀ / Σ r over the draw
    errors = torch.zeros(5, 1, dtype=torch.float64)
    errors[0, 0] = 1.0
    energies = torch.ones(5, dtype=torch.float64)
    ratios = resampled_ratios(errors, energies, resamples=2000, seed=0)[:, 0]
    allowed = {k / 5 for k in range(6)}
    assert set(ratios.tolist()) <= allowed
    assert float(ratios.mean()) == pytest.approx(1 / 5, abs=0.01)  # E[count]/5 = 1/5


def coverage(level: float, sets: int = 1000) -> float:
    """Share of ``sets`` independent data sets whose ``level`` interval covers the true NMSE.

    e_i = r_i · u_i² with u ~ N(0, 0.1²) independent of r: the true NMSE is E[e]/E[r] = 0.01 (−20 dB)."""
    g = torch.Generator().manual_seed(11)
    covered = 0
    for k in range(sets):
        r = 1 + torch.rand(400, generator=g, dtype=torch.float64)
        e = r * (0.1 * torch.randn(400, generator=g, dtype=torch.float64)) ** 2
        est = bootstrap_nmse_db(e, r, resamples=400, seed=k, level=level)
        covered += est.low_db <= -20.0 <= est.high_db
    return covered / sets


# With 1,000 sets the coverage estimate has a standard error of 0.7 points at 95 %. The percentile bootstrap of a
# ratio of sums undercovers slightly at N = 400 (measured: 0.932 for the 95 % interval, 0.884 for a 90 % one, these
# seeds); the band [0.92, 0.975] holds the 95 % interval and refuses a 90 % one (coverage ≈ 0.89-0.90, ≥ 3 SE below)
# or a 99 % one.
BAND = (0.92, 0.975)


def test_the_95_percent_interval_covers_the_true_nmse_about_95_percent_of_the_time() -> None:
    assert BAND[0] <= coverage(0.95) <= BAND[1]


def test_the_coverage_band_refuses_a_90_percent_interval_passed_off_as_95() -> None:
    assert not BAND[0] <= coverage(0.90) <= BAND[1]
