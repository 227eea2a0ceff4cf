"""The operator interface and the matrix-free built-in kinds (blur, mri, image-inpainting), pinned against
independent references written here: a dense convolution loop, numpy's FFT, and explicit masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hno_framework import compose
from hno_framework.config import ProblemConfig
from hno_framework.errors import ConfigError, ProblemMismatchError, UnknownComponentError
from hno_framework.problems import MatrixProblem, build_problem, make_sampler
from hno_framework.testing import ConsistencyFailure, check_adjoint, check_lipschitz

F64 = torch.float64


def blur_problem(size: int = 12, **options):
    return build_problem(ProblemConfig(kind="blur", lam=0.01, options={"size": size, **options})).to(F64)


def test_blur_is_circular_convolution_with_the_centred_kernel() -> None:
    problem = blur_problem(10, sigma=0.9, kernel_size=5)
    r = torch.arange(5, dtype=F64) - 2
    g = torch.exp(-(r**2) / (2 * 0.9**2))
    k = g[:, None] * g[None, :]
    k = k / k.sum()
    x = torch.randn(1, 1, 10, 10, dtype=F64)
    ref = torch.zeros_like(x)
    for i in range(10):  # (k ⊛ x)[i, j] = Σ_{a,b} k[a, b] x[i − (a − 2), j − (b − 2)] (wrapped)
        for j in range(10):
            for a in range(5):
                for b in range(5):
                    ref[0, 0, i, j] += k[a, b] * x[0, 0, (i - (a - 2)) % 10, (j - (b - 2)) % 10]
    assert torch.allclose(problem.measure(x), ref, atol=1e-12)


def test_mri_measures_the_masked_orthonormal_fft_as_real_and_imaginary_parts() -> None:
    problem = build_problem(ProblemConfig(kind="mri", options={"size": 16, "acceleration": 4})).to(F64)
    x = torch.randn(2, 1, 16, 16, dtype=F64)
    y = problem.measure(x)
    assert y.shape == (2, 1, 16, 16, 2)
    k = np.fft.fft2(x.numpy(), norm="ortho") * problem.columns.numpy()[None, None, None, :]
    assert np.allclose(y[..., 0].numpy(), k.real) and np.allclose(y[..., 1].numpy(), k.imag)
    columns = problem.columns
    assert int(columns.sum()) == 4 and columns[0] == 1, "W / R columns, frequency 0 among them"
    # the real adjoint: Re(F⁻¹(M r)), from numpy
    r = torch.randn(2, 1, 16, 16, 2, dtype=F64)
    rc = (r[..., 0] + 1j * r[..., 1]).numpy() * columns.numpy()
    assert np.allclose(problem.adjoint(r).numpy(), np.fft.ifft2(rc, norm="ortho").real)


def test_image_inpainting_hides_unobserved_pixels_as_nan_with_a_fresh_mask_per_image() -> None:
    cfg = ProblemConfig(kind="image-inpainting", options={"size": 16, "missing_ratio": 0.5})
    problem = build_problem(cfg)
    data = make_sampler(problem, cfg).sample(6, torch.Generator().manual_seed(1))
    hidden = torch.isnan(data.y)
    assert 0.4 < float(hidden.double().mean()) < 0.6
    assert not torch.equal(hidden[0], hidden[1]), "each image gets its own mask"
    assert torch.equal(data.y[~hidden], data.x[~hidden]), "noiseless: observed pixels are the image"


def test_noise_sigma_and_snr_set_the_noise_level() -> None:
    for options, snr, want in (({"noise_sigma": 0.05}, None, 0.05), ({}, 20.0, None)):
        cfg = ProblemConfig(kind="blur", snr_db=snr, options={"size": 32, **options})
        problem = build_problem(cfg).to(F64)
        data = make_sampler(problem, cfg).sample(8, torch.Generator().manual_seed(0))
        noise = data.y - problem.measure(data.x)
        if want is not None:
            assert float(noise.std()) == pytest.approx(want, rel=0.05)
        else:
            ratio = problem.measure(data.x).pow(2).mean() / noise.pow(2).mean()
            assert float(10 * torch.log10(ratio)) == pytest.approx(20.0, abs=0.3)


def test_a_matrix_step_on_a_matrix_free_problem_is_one_line_naming_both() -> None:
    with pytest.raises(ProblemMismatchError, match=r"step 'lista' needs a matrix Φ, but problem kind 'blur' is matrix-free"):
        compose({"problem": {"kind": "blur", "options": {"size": 8, "sigma": 0.8}}, "network": {"step": "lista", "layers": 2}})


def test_ista_composes_on_every_matrix_free_kind_with_image_states() -> None:
    for kind, options in (("blur", {"sigma": 0.8}), ("mri", {}), ("image-inpainting", {})):
        net = compose({"problem": {"kind": kind, "lam": 0.01, "options": {"size": 8, **options}},
                       "network": {"step": "ista", "integrator": "2no", "layers": 3}})
        y = torch.randn(2, *net.problem.measurement_shape)
        x = net(y)
        assert x.shape == (2, 1, 8, 8) and torch.isfinite(x).all()
        assert net.trajectory(y).shape == (2, 4, 1, 8, 8)


def test_bad_problem_input_is_one_line() -> None:
    with pytest.raises(UnknownComponentError, match=r"unknown problem 'blurr'.*Did you mean 'blur'"):
        build_problem(ProblemConfig(kind="blurr"))
    with pytest.raises(ConfigError, match=r"sigmaa"):
        build_problem(ProblemConfig(kind="blur", options={"sigmaa": 1.0}))
    with pytest.raises(ConfigError, match=r"kernel_size must be odd"):
        build_problem(ProblemConfig(kind="blur", options={"kernel_size": 4}))
    net = compose({"problem": {"kind": "blur", "options": {"size": 8, "sigma": 0.8}}, "network": {"step": "ista", "layers": 2}})
    with pytest.raises(ConfigError, match=r"problem kind 'blur': a kernel of size 11 does not fit the 8×8 image"):
        build_problem(ProblemConfig(kind="blur", options={"size": 8}))
    with pytest.raises(ValueError, match=r"y must be a batch of measurements \(batch, 1, 8, 8\) of problem kind 'blur'"):
        net(torch.randn(1, 8, 8))
    mri = compose({"problem": {"kind": "mri", "options": {"size": 8}}, "network": {"step": "ista", "layers": 2}})
    with pytest.raises(ValueError, match=r"complex"):
        mri.check_measurements(torch.randn(1, 1, 8, 8, 2, dtype=torch.complex64))


class _NotAdjoint(MatrixProblem):
    def adjoint(self, r, mask=None):
        return 1.01 * super().adjoint(r, mask)


def test_the_suite_catches_a_wrong_adjoint_and_a_wrong_lipschitz(monkeypatch) -> None:
    import hno_plugins.problems.matrix as matrix

    original = matrix.make_lasso_problem

    def wrong(*args, **kwargs):
        p = original(*args, **kwargs)
        return _NotAdjoint(p.phi, p.lam)

    monkeypatch.setattr(matrix, "make_lasso_problem", wrong)
    with pytest.raises(ConsistencyFailure, match=r"problem 'lasso': check 'adjoint' failed: adjoint is not the adjoint"):
        check_adjoint("lasso")
    monkeypatch.setattr(matrix, "make_lasso_problem", original)
    monkeypatch.setattr(MatrixProblem, "lipschitz", property(lambda self: 0.5))
    with pytest.raises(ConsistencyFailure, match=r"check 'lipschitz' failed: lipschitz = 0.5"):
        check_lipschitz("lasso")


def test_lipschitz_of_a_matrix_free_problem_is_power_iteration_cached() -> None:
    problem = blur_problem(16, sigma=1.0)
    K = torch.fft.rfft2(problem.kernel)
    exact = float(K.abs().max() ** 2)  # a circular convolution's ‖A‖² is max |K|²
    assert problem.lipschitz == pytest.approx(exact, rel=1e-6)
    problem._lipschitz = 123.0
    assert problem.lipschitz == 123.0, "computed once, then cached"


def test_whole_image_crops_are_split_by_image_and_checked() -> None:
    pytest.importorskip("skimage")
    from hno_framework.images.crops import CropSource
    from hno_framework.images.sources import load_images

    with pytest.raises(ConfigError, match=r"camera"):
        CropSource(32, train=("camera", "coins"), test=("camera",), downscale=4).draw(1, torch.Generator().manual_seed(0))
    source = CropSource(32, train=("coins",), test=("camera",), downscale=4)
    g = torch.Generator().manual_seed(0)
    train, test = source.draw(4, g, "train"), source.draw(4, g, "test")
    assert train.shape == test.shape == (4, 1, 32, 32)
    assert float(train.min()) >= 0.0 and float(train.max()) <= 1.0
    camera = torch.from_numpy(load_images(["camera"], 4)[0].pixels) / 255.0  # every test crop is a window of camera
    windows = camera.unfold(0, 32, 1).unfold(1, 32, 1)  # (H − 31, W − 31, 32, 32)
    for crop in test[:, 0]:
        assert bool(((windows - crop).abs().amax(dim=(-1, -2)) < 1e-12).any())
    cfg = ProblemConfig(kind="blur", options={"size": 32, "train_images": ["coins"], "test_images": ["camera"],
                                              "downscale": 4})
    problem = build_problem(cfg)
    from hno_framework.config import parse_config
    from hno_framework.data import make_test_set

    exp = parse_config({"problem": cfg.model_dump(), "network": {"step": "ista"}, "training": {"test_size": 3}})
    data = make_test_set(problem, exp)
    for crop in data.x[:, 0].double():
        assert bool(((windows - crop).abs().amax(dim=(-1, -2)) < 1e-6).any()), "the test set comes from the test images"


def test_synthetic_images_are_seeded_and_in_range() -> None:
    from hno_framework.images.crops import synthetic_images

    a = synthetic_images(3, 2, 16, torch.Generator().manual_seed(5))
    b = synthetic_images(3, 2, 16, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (3, 2, 16, 16)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 and float(a.std()) > 0.05


def test_a_trained_network_runs_on_another_operator_of_the_same_kind_at_call_time() -> None:
    cfg = {"problem": {"kind": "blur", "lam": 0.01, "options": {"size": 12, "sigma": 1.0}},
           "network": {"step": "ista", "integrator": "2no", "layers": 4}, "training": {"dtype": "float64"}}
    net = compose(cfg)
    other = build_problem(ProblemConfig(kind="blur", lam=0.01, options={"size": 12, "sigma": 1.8, "kernel_size": 9})).to(F64)
    y = torch.randn(2, 1, 12, 12, dtype=F64)
    # reference: ISTA layers written out on the other operator, 2NO (α = 1, β = −0.5 … as initialised) by hand
    theta = 0.01 / net.problem.lipschitz
    step = 1.0 / net.problem.lipschitz

    def G(x):
        v = x + step * other.adjoint(y - other.measure(x))
        return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)

    alpha, beta = net.integrator.inspect_coefficients()["alpha"], net.integrator.inspect_coefficients()["beta"]
    xs = [torch.zeros_like(y)]
    for t in range(4):
        f = G(xs[-1]) - xs[-1]
        prev = xs[-2] if t > 0 else xs[-1]
        xs.append((1 - beta[t]) * xs[-1] + beta[t] * prev + alpha[t] * f)
    with torch.no_grad():
        assert torch.allclose(net(y, problem=other), xs[-1], atol=1e-12)
        assert not torch.allclose(net(y), xs[-1], atol=1e-6), "the network's own operator gives another result"
    wrong = build_problem(ProblemConfig(kind="blur", options={"size": 16, "sigma": 1.0})).to(F64)
    with pytest.raises(ValueError, match=r"must have the same shapes"):
        net(y, problem=wrong)
    lista = compose({"problem": {"kind": "lasso", "m": 8, "n": 16}, "network": {"step": "lista", "layers": 2}})
    with pytest.raises(ValueError, match=r"step 'lista' reads the network's own matrix Φ"):
        lista(torch.randn(1, 8), problem=lista.problem)


def test_noise_lands_only_on_measured_entries() -> None:
    for kind, options in (("mri", {"size": 16, "noise_sigma": 0.1}), ("image-inpainting", {"size": 16, "mask": "fixed",
                                                                                            "noise_sigma": 0.1})):
        cfg = ProblemConfig(kind=kind, options=options)
        problem = build_problem(cfg).to(F64)
        data = make_sampler(problem, cfg).sample(3, torch.Generator().manual_seed(0))
        noise = data.y - problem.measure(data.x)
        support = problem.noise_support()
        assert support is not None and support.shape == (1, *problem.measurement_shape)
        assert float(noise[(support == 0).expand_as(noise)].abs().max()) == 0.0, kind
        assert float(noise[(support == 1).expand_as(noise)].std()) == pytest.approx(0.1, rel=0.1), kind
