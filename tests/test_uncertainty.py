"""The core bootstrap (hno_framework.uncertainty): point values against plain sums, paired columns, and the
interval's coverage of a known true NMSE."""

from __future__ import annotations

import math

import pytest
import torch

from hno_framework.experiments.statistics import difference_db, pooled_nmse_db
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


def test_the_95_percent_interval_covers_the_true_nmse_about_95_percent_of_the_time() -> None:
    # e_i = r_i · u_i² with u ~ N(0, 0.1²) independent of r: the true NMSE is E[e]/E[r] = 0.01 (−20 dB)
    g = torch.Generator().manual_seed(11)
    covered, sets = 0, 200
    for k in range(sets):
        r = 1 + torch.rand(400, generator=g, dtype=torch.float64)
        e = r * (0.1 * torch.randn(400, generator=g, dtype=torch.float64)) ** 2
        est = bootstrap_nmse_db(e, r, resamples=400, seed=k)
        covered += est.low_db <= -20.0 <= est.high_db
    assert 0.88 <= covered / sets <= 0.995


def test_pooled_and_difference_use_paired_draws() -> None:
    g = torch.Generator().manual_seed(5)
    r = 1 + torch.rand(500, generator=g, dtype=torch.float64)
    a = torch.rand(3, 500, generator=g, dtype=torch.float64) * r
    pooled = pooled_nmse_db(a, r, resamples=300)
    mean_e = [sum(float(a[s, i]) for s in range(3)) / 3 for i in range(500)]
    assert pooled.nmse_db == pytest.approx(10 * math.log10(sum(mean_e) / float(r.sum())))
    # b = a scaled per sample by a random factor: the paired interval is narrower than the two unpaired ones together
    b = a * (0.5 + 0.1 * torch.rand(500, generator=g, dtype=torch.float64))
    point, low, high = difference_db(a, b, r, resamples=300)
    pb = pooled_nmse_db(b, r, resamples=300)
    assert point == pytest.approx(pb.nmse_db - pooled.nmse_db)
    assert low < point < high and high - low < (pooled.high_db - pooled.low_db) + (pb.high_db - pb.low_db)


def test_sample_quantiles_and_share_better_against_plain_computations() -> None:
    from hno_framework.experiments.statistics import sample_quantiles, share_better

    g = torch.Generator().manual_seed(9)
    r = 1 + torch.rand(1000, generator=g, dtype=torch.float64)
    a = torch.rand(2, 1000, generator=g, dtype=torch.float64) * r
    a[:, :10] *= 1000  # ten hard samples
    q = sample_quantiles(a, r)
    mean = [(float(a[0, i]) + float(a[1, i])) / 2 for i in range(1000)]
    per_sample = sorted(10 * math.log10(mean[i] / float(r[i])) for i in range(1000))
    assert q["q50_db"] == pytest.approx((per_sample[499] + per_sample[500]) / 2)
    assert q["worst_1pct_error_share"] == pytest.approx(sum(sorted(mean)[-10:]) / sum(mean))
    assert q["worst_1pct_error_share"] > 0.8  # the ten hard samples (×1000 error) dominate
    b = a.clone()
    b[:, :250] /= 2  # better on the first 250 samples, equal elsewhere (equal is not better)
    assert share_better(a, b) == pytest.approx(0.25) and share_better(b, a) == 0.0
