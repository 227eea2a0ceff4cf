"""The study statistics: pooled NMSE over seeds, paired differences, per-sample quantiles."""

from __future__ import annotations

import math

import pytest
import torch

from hno_studies.statistics import difference_db, pooled_nmse_db


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
    from hno_studies.statistics import sample_quantiles, share_better

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
