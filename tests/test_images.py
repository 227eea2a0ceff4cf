"""Real-image pipeline: patches and tiling, DCT basis, per-sample mask operators, PSNR, image sources, study cells.

References are written out here as plain loops of the formulas, independent of the implementation.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hno_framework.composer import compose
from hno_framework.config import ProblemConfig, parse_config
from hno_framework.errors import ConfigError, ProblemMismatchError
from hno_framework.images.masks import bernoulli_masks, hide, image_mask, per_sample_masks, random_masks
from hno_framework.images.patches import assemble_patches, crop_to_tiling, extract_patches, random_patches
from hno_framework.images.quality import block_squared_errors, bootstrap_psnr_difference, mean_interval, psnr
from hno_framework.images.sources import check_disjoint, load_images, to_gray
from hno_framework.problems import build_problem, fixed_set, make_sampler
from hno_framework.problems.dct import dct2_basis


# -- patches ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [8, 4, 3, 1])
def test_tiling_round_trip_is_exact(stride: int) -> None:
    g = torch.Generator().manual_seed(0)
    image = crop_to_tiling(torch.rand(29, 38, generator=g, dtype=torch.float64), 8, stride)
    patches = extract_patches(image, 8, stride)
    assert torch.equal(assemble_patches(patches, tuple(image.shape), 8, stride), image)


def test_extract_patches_matches_a_loop_over_positions() -> None:
    image = torch.arange(12 * 20, dtype=torch.float64).reshape(12, 20)
    patches = extract_patches(image, 4, 2)
    expected = [image[r:r + 4, c:c + 4].reshape(-1) for r in range(0, 9, 2) for c in range(0, 17, 2)]
    assert torch.equal(patches, torch.stack(expected))


def test_overlapping_reassembly_averages_the_estimates() -> None:
    # Two 2×2 patches overlapping in one column (image 2×3, stride 1 along columns only through a 2×3 image).
    patches = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0]], dtype=torch.float64)
    out = assemble_patches(patches, (2, 3), 2, 1)
    assert torch.equal(out, torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=torch.float64))


def test_tiling_refuses_a_stride_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="crop"):
        extract_patches(torch.zeros(10, 10), 8, 8)


def test_random_patches_are_patches_of_the_images() -> None:
    images = [torch.arange(100, dtype=torch.float64).reshape(10, 10), 1000 + torch.arange(60, dtype=torch.float64).reshape(6, 10)]
    out = random_patches(images, 50, 3, torch.Generator().manual_seed(1))
    all_patches = {tuple(p.tolist()) for im in images for p in extract_patches(im, 3, 1)}
    assert all(tuple(p.tolist()) in all_patches for p in out)


# -- DCT basis --------------------------------------------------------------------------------------
def test_dct2_basis_is_orthonormal_and_matches_the_formula() -> None:
    p = 4
    D = dct2_basis(p)
    assert torch.allclose(D @ D.T, torch.eye(p * p, dtype=torch.float64), atol=1e-12)
    for u in range(p):
        for v in range(p):
            for i in range(p):
                for j in range(p):
                    cu = math.sqrt((1 if u == 0 else 2) / p)
                    cv = math.sqrt((1 if v == 0 else 2) / p)
                    ref = cu * cv * math.cos(math.pi * (2 * i + 1) * u / (2 * p)) * math.cos(math.pi * (2 * j + 1) * v / (2 * p))
                    assert abs(float(D[u * p + v, i * p + j]) - ref) < 1e-12


# -- mask operators -------------------------------------------------------------------------------
def _masked_problem(kind: str, p: int = 4):
    return build_problem(ProblemConfig(kind=kind, patch_size=p, missing_ratio=0.5, mask="per-sample", lam=0.1))


@pytest.mark.parametrize("kind", ["inpainting", "inpainting-dct"])
def test_per_sample_operator_and_its_adjoint(kind: str) -> None:
    problem = _masked_problem(kind).double()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(5, 16, generator=g, dtype=torch.float64)
    r = torch.randn(5, 16, generator=g, dtype=torch.float64)
    mask = random_masks(5, 16, 8, g).double()
    D = dct2_basis(4)
    for i in range(5):  # Φ_i = M_i (pixels of x): pixels are x itself or Dᵀ s
        pixels = [sum(float(D[k, j]) * float(x[i, k]) for k in range(16)) if kind == "inpainting-dct" else float(x[i, j])
                  for j in range(16)]
        expected = torch.tensor([pixels[j] * float(mask[i, j]) for j in range(16)], dtype=torch.float64)
        assert torch.allclose(problem.measure(x, mask)[i], expected, atol=1e-6)  # Φ is stored in float32
    lhs = (problem.measure(x, mask) * r).sum(dim=1)
    rhs = (x * problem.adjoint(r, mask)).sum(dim=1)
    assert torch.allclose(lhs, rhs, atol=1e-12)


def test_fixed_mask_dct_inpainting_observes_pixels_of_the_coefficients() -> None:
    problem = build_problem(ProblemConfig(kind="inpainting-dct", patch_size=4, missing_ratio=0.5, lam=0.1)).double()
    D = dct2_basis(4)
    s = torch.randn(3, 16, dtype=torch.float64)
    pixels = s @ D  # rows: Dᵀ s
    kept = (problem.phi @ D).abs().argmax(dim=1)
    assert torch.allclose(problem.measure(s), pixels[:, kept], atol=1e-6)
    assert abs(problem.lipschitz - 1.0) < 1e-5


def test_split_measurements_reads_nan_as_unobserved() -> None:
    problem = _masked_problem("inpainting")
    y = torch.tensor([[1.0, float("nan"), 3.0] + [0.0] * 13])
    values, mask = problem.split_measurements(y)
    assert mask is not None and mask[0, :3].tolist() == [1.0, 0.0, 1.0]
    assert values[0, :3].tolist() == [1.0, 0.0, 3.0]


def test_masks_observe_the_requested_count() -> None:
    g = torch.Generator().manual_seed(3)
    assert random_masks(7, 64, 32, g).sum(dim=1).tolist() == [32] * 7
    assert int(image_mask((16, 10), 0.5, g).sum()) == 80


def test_bernoulli_masks_observe_each_entry_independently_with_the_given_probability() -> None:
    g = torch.Generator().manual_seed(4)
    masks = bernoulli_masks(20_000, 64, 0.5, g)
    counts = masks.sum(dim=1).double()
    # binomial(64, 0.5): mean 32, variance 16; a fixed count (the exact draw) has variance 0
    assert abs(float(counts.mean()) - 32.0) < 0.1 and abs(float(counts.var()) - 16.0) < 0.8
    assert float(masks.double().mean(dim=0).sub(0.5).abs().max()) < 0.02  # every entry with probability 1/2
    pair = masks[:, 0].double() * masks[:, 1].double()
    assert abs(float(pair.mean()) - 0.25) < 0.015  # P(both entries) = 1/4 (the variance above is what tells an exact count apart)
    assert per_sample_masks(5, 64, 32, g).sum(dim=1).tolist() == [32] * 5
    assert torch.equal(per_sample_masks(3, 10, 4, torch.Generator().manual_seed(1), bernoulli=True),
                       bernoulli_masks(3, 10, 0.4, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="probability"):
        bernoulli_masks(2, 4, 1.5, g)


@pytest.mark.parametrize("kind, patches", [("inpainting", False), ("inpainting-dct", False), ("inpainting-dct", True)])
def test_per_sample_bernoulli_training_masks_vary_their_count(kind: str, patches: bool) -> None:
    problem_cfg: dict = {"kind": kind, "patch_size": 8, "missing_ratio": 0.25, "lam": 0.05}  # m = 48 observed of 64
    if patches:
        pytest.importorskip("skimage")
        problem_cfg["patches"] = {"images": ["camera"], "downscale": 4}
    counts = {}
    for mask in ("per-sample", "per-sample-bernoulli"):
        cfg = parse_config({"problem": {**problem_cfg, "mask": mask}, "network": {"step": "ista", "layers": 2}})
        problem = build_problem(cfg.problem)
        assert problem.per_sample_mask and problem.m == 64
        data = make_sampler(problem, cfg.problem).sample(400, torch.Generator().manual_seed(0))
        counts[mask] = (~torch.isnan(data.y)).sum(dim=1)
    assert set(counts["per-sample"].tolist()) == {48}
    bernoulli = counts["per-sample-bernoulli"].double()  # binomial(64, 3/4): mean 48, sd √12 ≈ 3.5
    assert len(set(bernoulli.tolist())) > 8 and abs(float(bernoulli.mean()) - 48.0) < 1.0
    assert 6.0 < float(bernoulli.var()) < 24.0


def _ista_loop(phi: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, lam: float, L: float, iterations: int) -> torch.Tensor:
    """Plain ISTA per sample on its own operator Φ_i = rows of Φ where the mask is 1."""
    out = []
    for i in range(y.shape[0]):
        rows = [j for j in range(phi.shape[0]) if mask[i, j] > 0]
        A, b = phi[rows], y[i, rows]
        x = torch.zeros(phi.shape[1], dtype=torch.float64)
        for _ in range(iterations):
            v = x + A.T @ (b - A @ x) / L
            x = torch.sign(v) * torch.clamp(v.abs() - lam / L, min=0.0)
        out.append(x)
    return torch.stack(out)


def test_ista_with_per_sample_masks_matches_a_loop_over_samples() -> None:
    cfg = parse_config({"problem": {"kind": "inpainting-dct", "patch_size": 4, "missing_ratio": 0.5, "mask": "per-sample",
                                    "lam": 0.05}, "network": {"step": "ista", "layers": 7}})
    net = compose(cfg).double()
    data = fixed_set(make_sampler(net.problem, cfg.problem), 6, 0)
    y = data.y.double()
    mask = (~torch.isnan(y)).double()
    expected = _ista_loop(net.problem.phi.double(), torch.nan_to_num(y), mask, 0.05, net.problem.lipschitz, 7)
    assert torch.allclose(net(y), expected, atol=1e-10)


def test_2no_lista_with_per_sample_masks_matches_a_loop_over_samples() -> None:
    cfg = parse_config({"problem": {"kind": "inpainting", "patch_size": 4, "missing_ratio": 0.5, "mask": "per-sample",
                                    "lam": 0.05}, "network": {"step": "lista", "integrator": "2no", "layers": 4}})
    net = compose(cfg).double()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():  # distinct parameters, so that a wrong index would show
        net.layers[0].W.add_(0.05 * torch.randn(net.layers[0].W.shape, generator=g, dtype=torch.float64))
        net.integrator.alpha.copy_(torch.tensor([0.9, 1.1, 0.8], dtype=torch.float64))
        net.integrator.beta.copy_(torch.tensor([-0.4, -0.2, -0.6], dtype=torch.float64))
    data = fixed_set(make_sampler(net.problem, cfg.problem), 5, 1)
    y = data.y.double()
    phi, W = net.problem.phi.double(), net.layers[0].W.detach()
    thetas = [float(layer.theta.detach()) for layer in net.layers]
    alpha, beta = [1.0, *net.integrator.alpha.tolist()], [0.0, *net.integrator.beta.tolist()]
    for i in range(y.shape[0]):
        rows = [j for j in range(16) if not math.isnan(float(y[i, j]))]
        prev = x = torch.zeros(16, dtype=torch.float64)
        for t in range(4):
            r = torch.zeros(16, dtype=torch.float64)
            r[rows] = y[i, rows] - (phi @ x)[rows]
            v = x + W @ r
            f = torch.sign(v) * torch.clamp(v.abs() - thetas[t], min=0.0) - x
            prev, x = x, (1 - beta[t]) * x + beta[t] * prev + alpha[t] * f
        assert torch.allclose(net(y[i:i + 1])[0], x, atol=1e-10)
        assert torch.allclose(net(y)[i], x, atol=1e-10)


def test_steps_without_mask_support_refuse_per_sample_masks() -> None:
    cfg = {"problem": {"kind": "inpainting-dct", "patch_size": 4, "missing_ratio": 0.5, "mask": "per-sample"},
           "network": {"step": "lamp", "layers": 2}}
    with pytest.raises(ProblemMismatchError, match="per-sample masks"):
        compose(parse_config(cfg))


@pytest.mark.parametrize("mask", ["per-sample", "per-sample-bernoulli"])
def test_cs_and_lasso_refuse_a_mask(mask: str) -> None:
    with pytest.raises(ConfigError, match="mask"):
        build_problem(ProblemConfig(kind="cs", patch_size=4, m=8, mask=mask))
    with pytest.raises(ConfigError, match="mask"):
        build_problem(ProblemConfig(kind="lasso", m=8, n=16, mask=mask))


# -- PSNR -------------------------------------------------------------------------------------------
def test_psnr_on_values_computed_by_hand() -> None:
    ref = torch.tensor([[0.0, 100.0], [200.0, 255.0]])
    one_off = ref.clone()
    one_off[0, 0] = 255.0  # MSE = 255²/4  ->  PSNR = 10 log10(4) = 6.0206 dB
    assert psnr(one_off, ref) == pytest.approx(6.020599913, abs=1e-8)
    assert psnr(ref + 1.0, ref) == pytest.approx(48.130803608, abs=1e-8)  # 20 log10(255)
    assert psnr(ref + 10.0, ref) == pytest.approx(28.130803608, abs=1e-8)
    assert psnr(ref, ref) == math.inf


def test_block_errors_and_intervals() -> None:
    ref = torch.zeros(4, 4)
    est = torch.zeros(4, 4)
    est[0, 0] = 2.0  # block (0, 0) of 2×2: MSE 4/4 = 1
    assert block_squared_errors(est, ref, 2).tolist() == [1.0, 0.0, 0.0, 0.0]
    a = torch.full((50,), 1.0)
    lo, hi = bootstrap_psnr_difference(a, 2 * a, resamples=200)
    assert lo == pytest.approx(10 * math.log10(2), abs=1e-9) and hi == pytest.approx(lo)
    lo, hi = mean_interval([1.0, 3.0])  # mean 2, sd √2, t(1) = 12.706: ± 12.706
    assert (lo, hi) == pytest.approx((2 - 12.706, 2 + 12.706))


# -- sources and the data of an image problem -------------------------------------------------------
def _write_pngs(folder: Path, count: int, seed: int, shape: tuple[int, int] = (20, 24)) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(count):
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(folder / f"im{seed}-{k}.png")


def test_folder_images_are_gray_in_0_255(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "train", 2, 0)
    images = load_images([str(tmp_path / "train")])
    assert [im.shape for im in images] == [(20, 24), (20, 24)]
    from PIL import Image

    rgb = np.asarray(Image.open(sorted((tmp_path / "train").iterdir())[0]).convert("RGB")).astype(float)
    luma = np.rint(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    assert np.array_equal(images[0].pixels, luma)
    assert load_images([str(tmp_path / "train")], 2)[0].shape == (10, 12)
    assert to_gray(np.ones((3, 3), dtype=bool)).max() == 255.0


def test_a_picture_in_both_sets_is_refused(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "a", 2, 0)
    _write_pngs(tmp_path / "b", 1, 0)  # same pixels as a's first image, another folder
    with pytest.raises(ConfigError, match="never both"):
        check_disjoint(load_images([str(tmp_path / "a")]), load_images([str(tmp_path / "b")]))
    with pytest.raises(ConfigError, match="neither an existing image"):
        load_images(["no-such-picture"])


def test_image_patch_sampler_for_dct_inpainting(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "train", 2, 3)
    cfg = ProblemConfig(kind="inpainting-dct", patch_size=4, missing_ratio=0.5, mask="per-sample",
                        patches={"images": [str(tmp_path / "train")]})
    problem = build_problem(cfg)
    data = fixed_set(make_sampler(problem, cfg), 9, 0)
    D = dct2_basis(4)
    pixels = data.x.double() @ D  # back to the patches
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    observed = ~torch.isnan(data.y)
    assert observed.sum(dim=1).tolist() == [8] * 9
    assert torch.allclose(data.y[observed].double(), pixels[observed], atol=1e-5)


def test_hide_marks_unobserved_with_nan() -> None:
    y = hide(torch.tensor([1.0, 2.0]), torch.tensor([True, False]))
    assert y[0] == 1.0 and math.isnan(float(y[1]))
