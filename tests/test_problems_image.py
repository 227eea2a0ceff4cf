"""Image problem kinds (cs, inpainting), the 2-D DCT basis, and the ProblemConfig fields for them."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hno_framework.composer import compose
from hno_framework.config import ProblemConfig, parse_config
from hno_framework.errors import ConfigError
from hno_framework.problems import build_problem, fixed_set, make_sampler
from hno_framework.problems.dct import dct2_basis, dct_matrix
from hno_framework.registry import get_registry

FAST = settings(max_examples=10, deadline=None, derandomize=True)
F64 = torch.float64


# -- DCT -----------------------------------------------------------------------------------------

@FAST
@given(size=st.integers(1, 12))
def test_dct_matrix_is_orthonormal(size: int) -> None:
    c = dct_matrix(size)
    assert c.dtype == F64
    torch.testing.assert_close(c @ c.T, torch.eye(size, dtype=F64), rtol=0, atol=1e-13)


@FAST
@given(size=st.integers(2, 10), k=st.integers(0, 9))
def test_dct_rows_are_sampled_cosines(size: int, k: int) -> None:
    k = k % size
    j = torch.arange(size, dtype=F64)
    row = torch.cos(math.pi * (2 * j + 1) * k / (2 * size))
    row = row / row.norm()
    torch.testing.assert_close(dct_matrix(size)[k], row, rtol=0, atol=1e-13)


@FAST
@given(h=st.integers(1, 6), w=st.integers(1, 6), seed=st.integers(0, 1000))
def test_dct2_basis_is_the_separable_transform_of_row_major_patches(h: int, w: int, seed: int) -> None:
    patch = torch.randn(h, w, generator=torch.Generator().manual_seed(seed), dtype=F64)
    basis = dct2_basis(h, w)
    torch.testing.assert_close(basis @ basis.T, torch.eye(h * w, dtype=F64), rtol=0, atol=1e-13)
    separable = dct_matrix(h) @ patch @ dct_matrix(w).T
    torch.testing.assert_close(basis @ patch.flatten(), separable.flatten(), rtol=0, atol=1e-12)


def test_constant_patch_has_only_a_dc_coefficient() -> None:
    coefficients = dct2_basis(4) @ torch.full((16,), 2.0, dtype=F64)
    assert coefficients[0].item() == pytest.approx(8.0)  # 2 · √16
    torch.testing.assert_close(coefficients[1:], torch.zeros(15, dtype=F64), rtol=0, atol=1e-13)


# -- config fields -------------------------------------------------------------------------------

def test_patch_size_derives_n_and_must_agree_with_it() -> None:
    assert ProblemConfig(kind="cs", patch_size=8).n == 64
    assert ProblemConfig(kind="cs", patch_size=8, n=64).n == 64
    with pytest.raises(ValueError, match="patch_size"):
        ProblemConfig(kind="cs", patch_size=8, n=60)


def test_missing_ratio_derives_m_and_must_agree_with_it() -> None:
    cfg = ProblemConfig(kind="inpainting", patch_size=8, missing_ratio=0.5)
    assert (cfg.n, cfg.m) == (64, 32)
    assert ProblemConfig(kind="inpainting", n=16, missing_ratio=0.25).m == 12
    with pytest.raises(ValueError, match="missing_ratio"):
        ProblemConfig(kind="inpainting", n=16, m=5, missing_ratio=0.5)
    with pytest.raises(ValueError):
        ProblemConfig(kind="inpainting", n=16, missing_ratio=1.0)


def test_config_errors_are_one_line_and_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"problem.*patch_size"):
        parse_config({"problem": {"kind": "cs", "n": 10, "patch_size": 4}, "network": {"step": "lista-cs"}})


def test_non_square_n_is_rejected_with_the_fix() -> None:
    for kind in ("cs", "inpainting"):
        with pytest.raises(ConfigError, match=rf"'{kind}'.*n=500 is not a square.*patch_size"):
            build_problem(ProblemConfig(kind=kind, m=8, n=500))


def test_kind_specific_errors() -> None:
    with pytest.raises(ConfigError, match=r"inpainting.*m=250"):
        build_problem(ProblemConfig(kind="inpainting", patch_size=8))
    with pytest.raises(ConfigError, match="missing_ratio"):
        build_problem(ProblemConfig(kind="cs", patch_size=4, missing_ratio=0.5))
    with pytest.raises(ConfigError, match="condition_number"):
        build_problem(ProblemConfig(kind="inpainting", patch_size=4, m=8, condition_number=10.0))


# -- the kinds -----------------------------------------------------------------------------------

def test_kinds_are_registered_through_the_builtin_entry_point() -> None:
    registry = get_registry()
    assert {"lasso", "cs", "inpainting", "inpainting-dct"} <= set(registry.names("problem"))
    for kind in ("cs", "inpainting"):
        info = registry.get("problem", kind)
        assert info.summary
        assert info.provider.entry_point.startswith("builtin-problems")


@pytest.mark.parametrize("kind", ["cs", "inpainting"])
def test_small_suite_instance_works(kind: str) -> None:
    """What the consistency suite builds for image steps: m = 8, n = 16 at default fields."""
    cfg = ProblemConfig(kind=kind, m=8, n=16, lam=0.1, sparsity=0.25)
    problem = build_problem(cfg)
    assert (problem.m, problem.n, problem.patch_shape, problem.kind) == (8, 16, (4, 4), kind)
    assert problem.basis is not None and problem.phi.dtype == torch.float32
    torch.testing.assert_close(problem.basis.double(), dct2_basis(4), rtol=0, atol=1e-7)


@FAST
@given(seed=st.integers(0, 1000), m=st.integers(4, 30), p=st.integers(2, 6))
def test_cs_problem(seed: int, m: int, p: int) -> None:
    cfg = ProblemConfig(kind="cs", m=m, patch_size=p, seed=seed, condition_number=1.0)
    problem = build_problem(cfg)
    assert problem.phi.shape == (m, p * p) and problem.patch_shape == (p, p)
    torch.testing.assert_close(problem.phi.double().norm(dim=0), torch.ones(p * p, dtype=F64), rtol=1e-5, atol=0)
    again = build_problem(cfg)
    assert torch.equal(again.phi, problem.phi)
    other = build_problem(ProblemConfig(kind="cs", m=m, patch_size=p, seed=seed + 1))
    assert not torch.equal(other.phi, problem.phi)


@FAST
@given(seed=st.integers(0, 1000), ratio=st.sampled_from([0.1, 0.25, 0.5, 0.75]), p=st.integers(2, 8))
def test_inpainting_problem_is_a_seeded_mask(seed: int, ratio: float, p: int) -> None:
    cfg = ProblemConfig(kind="inpainting", patch_size=p, missing_ratio=ratio, seed=seed)
    problem = build_problem(cfg)
    n = p * p
    m = n - round(ratio * n)
    phi = problem.phi.double()
    assert phi.shape == (m, n) and problem.patch_shape == (p, p)
    assert set(phi.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(phi.sum(dim=1), torch.ones(m, dtype=F64))  # one pixel per row
    assert int((phi.sum(dim=0) > 0).sum()) == m  # distinct pixels
    kept = phi.argmax(dim=1)
    assert bool((kept[1:] > kept[:-1]).all())  # increasing pixel order
    assert problem.lipschitz == pytest.approx(1.0)
    x = torch.randn(3, n, dtype=F64)
    torch.testing.assert_close(problem.to(F64).measure(x), x[:, kept])
    assert torch.equal(build_problem(cfg).phi, problem.phi.to(problem.phi.dtype))


def test_inpainting_masks_differ_between_seeds() -> None:
    masks = {tuple(build_problem(ProblemConfig(kind="inpainting", patch_size=8, missing_ratio=0.5, seed=s))
                   .phi.argmax(dim=1).tolist()) for s in range(5)}
    assert len(masks) == 5


@pytest.mark.parametrize("kind, fields", [("cs", {"m": 10}), ("inpainting", {"missing_ratio": 0.5})])
def test_samplers_draw_patches_sparse_in_the_dct(kind: str, fields: dict) -> None:
    cfg = ProblemConfig(kind=kind, patch_size=6, sparsity=0.2, seed=4, **fields)
    problem = build_problem(cfg).to(F64)
    batch = fixed_set(make_sampler(problem, cfg), 400, seed=9)
    assert batch.x.shape == (400, 36) and batch.y.shape == (400, problem.m)
    coefficients = batch.x @ problem.basis.T
    nonzero = (coefficients.abs() > 1e-5).double().mean()  # D is stored in float32
    assert float(nonzero) == pytest.approx(0.2, abs=0.03)
    assert float((batch.x.abs() > 1e-9).double().mean()) > 0.5  # dense in pixels
    torch.testing.assert_close(batch.y, batch.x @ problem.phi.T)  # noiseless by default
    again = fixed_set(make_sampler(problem, cfg), 400, seed=9)
    assert torch.equal(again.x, batch.x)


def test_noise_follows_the_snr() -> None:
    cfg = ProblemConfig(kind="cs", patch_size=8, m=32, snr_db=20.0, sparsity=0.3)
    problem = build_problem(cfg).to(F64)
    batch = fixed_set(make_sampler(problem, cfg), 2000, seed=0)
    clean = batch.x @ problem.phi.T
    snr = 10 * torch.log10(clean.pow(2).sum() / (batch.y - clean).pow(2).sum())
    assert float(snr) == pytest.approx(20.0, abs=0.5)


def test_image_problem_from_a_full_config_composes() -> None:
    net = compose({
        "problem": {"kind": "inpainting", "patch_size": 4, "missing_ratio": 0.5, "lam": 0.1},
        "network": {"step": "lista-cs", "integrator": "2no", "layers": 3},
    })
    assert net.problem.kind == "inpainting" and net.problem.m == 8
    assert net(torch.randn(2, 8)).shape == (2, 16)
