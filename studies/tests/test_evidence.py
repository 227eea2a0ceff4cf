"""Instance-level intervals, tail metrics and validation flattery, against plain computations written here."""

from __future__ import annotations

import math

import pytest
import torch

from hno_studies.evidence import instance_lines, instance_pairs, tail_metrics, typical_samples, validation_flattery


def test_tail_metrics_against_a_plain_loop() -> None:
    g = torch.Generator().manual_seed(0)
    n, p, count = 500, 0.1, 3000
    k = torch.binomial(torch.full((count,), float(n)), torch.full((count,), p), generator=g)
    energies = k + torch.rand(count, generator=g, dtype=torch.float64)
    errors = torch.rand(2, count, generator=g, dtype=torch.float64) * (1 + k.double()) ** 3 * 1e-6
    out = tail_metrics(errors, energies, k, n, p)
    limit = 50 + 2 * math.sqrt(45)
    e_mean = [(float(errors[0, i]) + float(errors[1, i])) / 2 for i in range(count)]
    num = sum(e for e, kk in zip(e_mean, k.tolist(), strict=True) if kk <= limit)
    den = sum(float(r) for r, kk in zip(energies.tolist(), k.tolist(), strict=True) if kk <= limit)
    assert out["nmse_db_typical"] == pytest.approx(10 * math.log10(num / den), abs=1e-9)
    densest = sorted(range(count), key=lambda i: -k[i].item())[:3]  # ceil(0.1 % of 3,000) = 3 samples
    assert out["densest_samples"] == 3
    assert out["error_share_densest"] == pytest.approx(sum(e_mean[i] for i in densest) / sum(e_mean), rel=1e-9)


def test_validation_flattery_is_validation_minus_test() -> None:
    rows = [{"best_validation_nmse_db": -70.0, "final_nmse_db": -60.5}, {"best_validation_nmse_db": -30.0, "final_nmse_db": -31.0}]
    assert validation_flattery(rows) == [-9.5, 1.0]


class _Setting:
    def __init__(self, instance: int) -> None:
        self.instance, self.snr_db, self.condition_number, self.title = instance, None, 1.0, ""


class _Config:
    bootstrap_resamples = 200
    problem: dict = {"seed": 0}  # noqa: RUF012 - a stand-in config

    def __init__(self) -> None:
        self.settings = {f"i{k}": _Setting(k) for k in range(4)}
        self.pairs = [["A", "B"]]


def test_the_instance_level_interval_is_the_paired_t_interval_over_instances() -> None:
    g = torch.Generator().manual_seed(1)
    energies = {f"i{k}": torch.ones(400, dtype=torch.float64) for k in range(4)}
    found, diffs = {}, []
    for k, ratio in enumerate([0.5, 0.3, 0.8, 0.6]):  # B's mean error = ratio × A's, per instance
        a = torch.rand(1, 400, generator=g, dtype=torch.float64)
        found[(f"i{k}", "A")] = [{"seed": 0, "_e": a}]
        found[(f"i{k}", "B")] = [{"seed": 0, "_e": a * ratio}]
        diffs.append(10 * math.log10(ratio))
    rows = instance_pairs(_Config(), found, lambda results: torch.cat([r["_e"] for r in results]), energies)  # type: ignore[arg-type]
    (row,) = rows
    assert [p["instance"] for p in row["instances"]] == [0, 1, 2, 3]
    assert [p["difference_db"] for p in row["instances"]] == pytest.approx(diffs)
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3)
    assert row["instance_level_ci_db"] == pytest.approx([mean - half, mean + half], rel=1e-6)


def test_the_typical_sample_difference_leaves_the_densest_samples_out() -> None:
    """B beats A by a factor of about 0.5 on the typical samples and loses by 100× on the few dense ones: the pooled
    difference says B is worse, the typical one says it is better, each as a plain sum over its samples."""
    n, p, count = 500, 0.1, 400
    limit = 50 + 2 * math.sqrt(45)  # μ + 2σ of Binomial(500, 0.1)
    k = torch.full((count,), 50.0)
    k[:4] = 80.0  # 4 dense samples, above the limit
    energies = {f"i{i}": torch.ones(count, dtype=torch.float64) for i in range(4)}
    found, typical_db = {}, []
    g = torch.Generator().manual_seed(2)
    for i, ratio in enumerate([0.5, 0.4, 0.6, 0.5]):
        a = torch.rand(1, count, generator=g, dtype=torch.float64)
        b = a * ratio * (0.5 + torch.rand(1, count, generator=g, dtype=torch.float64))  # mean factor: ratio
        b[0, :4] = a[0, :4] * 100.0
        found[(f"i{i}", "A")], found[(f"i{i}", "B")] = [{"seed": 0, "_e": a}], [{"seed": 0, "_e": b}]
        keep = [j for j in range(count) if k[j] <= limit]
        typical_db.append(10 * math.log10(sum(float(b[0, j]) for j in keep) / sum(float(a[0, j]) for j in keep)))
    masks = {f"i{i}": typical_samples(k, n, p) for i in range(4)}
    (row,) = instance_pairs(_Config(), found, lambda results: torch.cat([r["_e"] for r in results]), energies,  # type: ignore[arg-type]
                            masks)
    assert all(q["difference_db"] > 0 for q in row["instances"])  # pooled: the dense samples decide
    assert [q["typical_difference_db"] for q in row["instances"]] == pytest.approx(typical_db)
    assert all(q["typical_ci_db"][0] <= q["typical_difference_db"] <= q["typical_ci_db"][1] for q in row["instances"])
    mean = sum(typical_db) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in typical_db) / 3)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3)
    assert row["typical_instance_level_ci_db"] == pytest.approx([mean - half, mean + half], rel=1e-6)
    lines = instance_lines({"instance_pairs": [row]})
    assert any("typical samples: HNO − base" in line for line in lines)
    # without masks the row carries no typical fields and the table keeps its columns
    (plain,) = instance_pairs(_Config(), found, lambda results: torch.cat([r["_e"] for r in results]), energies)  # type: ignore[arg-type]
    assert "typical_instance_level_ci_db" not in plain
    assert not any("typical samples: HNO − base" in line for line in instance_lines({"instance_pairs": [plain]}))
