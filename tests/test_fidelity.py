"""Fidelity to the published methods (issue 11), each pinned against a computation written out here.

* Φ for κ > 1 as the LISTA-CPSS reference generator: singular values logspace(0, −log10 κ)
  rescaled by √n/‖s‖, then unit-norm columns (numpy, independent of problems/lasso.py).
* Support selection: Chen et al.'s per-sample percentile rule (18 entries at p = 3 × 1.2, n = 500).
* Layer recurrences of 3NO, GLISTA (with and without support selection), LAMP, ALISTA and LISTA-CPSS with perturbed parameters against
  plain loops of the formulas (a 3NO with β² on x_{t−1}, or a GLISTA residual at x instead of g(x),
  fails here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from hno_framework.composer import compose_network
from hno_framework.config import ComponentSpec, NetworkConfig, ProblemConfig
from hno_framework.network import UnrolledNetwork
from hno_framework.problems import build_problem, make_sampler
from hno_framework.problems.base import Problem
from hno_framework.problems.lasso import gaussian_matrix
from hno_framework.testing import perturb_
from hno_plugins.steps._shrinkage import support_selection_shrink

F64 = torch.float64


# -- Φ -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kappa", [5.0, 50.0])
def test_ill_conditioned_matrix_follows_the_reference_generator(kappa: float) -> None:
    m, n = 40, 80
    phi = gaussian_matrix(m, n, torch.Generator().manual_seed(3), kappa)
    # the same Gaussian draw, then the reference recipe in numpy
    a = (torch.randn(m, n, generator=torch.Generator().manual_seed(3), dtype=F64) / math.sqrt(m)).numpy()
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    s = np.logspace(0, np.log10(1 / kappa), m)
    a = (u * (s * np.sqrt(n) / np.linalg.norm(s))) @ vt
    a = a / np.sqrt((a**2).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(phi.numpy(), a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(phi.numpy(), axis=0), 1.0, rtol=1e-12)
    sv = np.linalg.svd(phi.numpy(), compute_uv=False)
    assert 0.7 * kappa < sv[0] / sv[-1] < 1.3 * kappa  # renormalising moves κ(Φ) a little


def test_well_conditioned_matrix_is_unchanged_gaussian_with_unit_columns() -> None:
    phi = gaussian_matrix(30, 60, torch.Generator().manual_seed(0), 1.0)
    raw = torch.randn(30, 60, generator=torch.Generator().manual_seed(0), dtype=F64) / math.sqrt(30)
    torch.testing.assert_close(phi, raw / raw.norm(dim=0, keepdim=True))


# -- support selection ---------------------------------------------------------------------------

def ss_reference(v: Tensor, theta: float, percent: float) -> Tensor:
    """Chen et al.: per sample, entries above θ and above the (100 − p)-th percentile (nearest rank) pass."""
    out = torch.sign(v) * torch.clamp(v.abs() - theta, min=0)
    n = v.shape[1]
    for row in range(v.shape[0]):
        mags = [abs(float(a)) for a in v[row]]
        d = round((n - 1) * percent / 100)
        if d == 0:
            continue
        cutoff = sorted(mags, reverse=True)[d]
        for i in range(n):
            if mags[i] > cutoff and mags[i] > theta:
                out[row, i] = v[row, i]
    return out


def test_support_selection_passes_eighteen_entries_at_layer_three_of_500() -> None:
    v = torch.randn(4, 500, generator=torch.Generator().manual_seed(0), dtype=F64)
    percent = 3 * 1.2  # 3.5999999999999996 in floating point
    out = support_selection_shrink(v, torch.tensor(0.5, dtype=F64), percent)
    passed = ((out == v) & (v.abs() > 0.5)).sum(dim=1)
    assert passed.tolist() == [18, 18, 18, 18]
    torch.testing.assert_close(out, ss_reference(v, 0.5, percent), rtol=0, atol=0)


# -- independent layer recurrences ---------------------------------------------------------------

def setup(step: str, options: dict | None = None, *, integrator: str = "euler", layers: int = 6,
          tied: bool = False, n: int = 100, m: int = 50, seed: int = 0) -> tuple[UnrolledNetwork, Tensor, Problem]:
    cfg = ProblemConfig(kind="lasso", m=m, n=n, lam=0.1, seed=seed)
    problem = build_problem(cfg).to(F64)
    torch.manual_seed(seed)
    net = compose_network(problem, NetworkConfig(step=ComponentSpec(name=step, options=options or {}),
                                                 integrator=ComponentSpec(name=integrator), layers=layers, tied=tied))
    net = net.to(F64)
    perturb_(net, seed + 7, scale=0.02)
    y = make_sampler(problem, cfg).sample(5, torch.Generator().manual_seed(seed + 1)).y.to(F64)
    return net, y, net.problem


def soft(v: Tensor, theta: Tensor | float) -> Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)


def lista_layer(net: UnrolledNetwork, t: int, x: Tensor, y: Tensor) -> Tensor:
    layer, phi = net.layers[t], net.problem.phi
    return soft(x + (y - x @ phi.T) @ layer.W.detach().T, float(layer.theta.detach()))


def test_three_no_recurrence() -> None:
    net, y, _ = setup("lista", integrator="3no", layers=6)
    a, b1, b2 = (getattr(net.integrator, k).detach() for k in ("alpha", "beta1", "beta2"))
    assert float(b2.abs().min()) > 0  # perturbed: β² matters
    xs = [torch.zeros(y.shape[0], net.problem.n, dtype=F64)]
    for t in range(6):
        x = xs[-1]
        f = lista_layer(net, t, x, y) - x
        if t == 0:
            nxt = x + f
        elif t == 1:
            nxt = (1 - b1[0]) * x + b1[0] * xs[-2] + a[0] * f
        else:  # seed eq. 12 corrected: β² multiplies x_{t−2}
            nxt = (1 - b1[t - 1] - b2[t - 2]) * x + b1[t - 1] * xs[-2] + b2[t - 2] * xs[-3] + a[t - 1] * f
        xs.append(nxt)
    with torch.no_grad():
        torch.testing.assert_close(net.trajectory(y), torch.stack(xs, dim=1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("overshoot", "selection"), [(False, False), (True, False), (False, True)])
def test_glista_recurrence(overshoot: bool, selection: bool) -> None:
    options = {"gain_init": 0.3, "gain_eps": 0.5, "overshoot": overshoot, "overshoot_init": 0.2, "overshoot_eps": 0.7,
               "support_selection": selection, "ss_percent_per_layer": 2.0}
    net, y, problem = setup("glista", options, layers=5)
    x = torch.zeros(y.shape[0], problem.n, dtype=F64)
    states = [x]
    for t, layer in enumerate(net.layers):
        mu, nu, theta, w = float(layer.gain_mu.detach()), layer.gain_nu.detach(), float(layer.theta.detach()), layer.W.detach()
        gx = (1 + mu / (0.5 + nu.abs() * x.abs())) * x
        v = gx + (y - gx @ problem.phi.T) @ w.T  # residual taken at g(x)
        x_tilde = ss_reference(v, theta, min((t + 1) * 2.0, 13.0)) if selection else soft(v, theta)
        if overshoot:
            a = float(layer.overshoot_a.detach())
            x = x + (1 + a / (0.7 + (x_tilde - x).abs())) * (x_tilde - x)
        else:
            x = x_tilde
        states.append(x)
    with torch.no_grad():
        torch.testing.assert_close(net.trajectory(y), torch.stack(states, dim=1), rtol=1e-10, atol=1e-12)


def test_lamp_recurrence() -> None:
    net, y, problem = setup("lamp", layers=5)
    x = torch.zeros(y.shape[0], problem.n, dtype=F64)
    v_prev = torch.zeros_like(y)
    states = [x]
    for layer in net.layers:
        b = (x != 0).sum(dim=1, keepdim=True).to(F64) / problem.m
        v = y - x @ problem.phi.T + b * v_prev
        sigma = v.norm(dim=1, keepdim=True) / math.sqrt(problem.m)
        x = soft(x + v @ layer.B.detach().T, float(layer.theta.detach()) * sigma)
        v_prev = v
        states.append(x)
    with torch.no_grad():
        torch.testing.assert_close(net.trajectory(y), torch.stack(states, dim=1), rtol=1e-10, atol=1e-12)


def test_alista_recurrence_with_default_support_selection() -> None:
    net, y, problem = setup("alista", layers=6)
    x = torch.zeros(y.shape[0], problem.n, dtype=F64)
    states = [x]
    for t, layer in enumerate(net.layers):
        w = layer.W_analytic  # (m, n); its defining property: diag(W̃ᵀΦ) = 1
        torch.testing.assert_close(torch.diagonal(w.T @ problem.phi), torch.ones(problem.n, dtype=F64))
        v = x + float(layer.gamma.detach()) * ((y - x @ problem.phi.T) @ w)
        x = ss_reference(v, float(layer.theta.detach()), min((t + 1) * 1.2, 13.0))
        states.append(x)
    with torch.no_grad():
        torch.testing.assert_close(net.trajectory(y), torch.stack(states, dim=1), rtol=1e-10, atol=1e-12)
    plain, _, _ = setup("alista", {"support_selection": False}, layers=6)
    with torch.no_grad():
        assert not torch.allclose(plain(y), net(y))


def test_lista_cpss_recurrence() -> None:
    net, y, problem = setup("lista-cpss", layers=6)
    x = torch.zeros(y.shape[0], problem.n, dtype=F64)
    states = [x]
    for t, layer in enumerate(net.layers):
        v = x + (y - x @ problem.phi.T) @ layer.W.detach().T
        x = ss_reference(v, float(layer.theta.detach()), min((t + 1) * 1.2, 13.0))
        states.append(x)
    with torch.no_grad():
        torch.testing.assert_close(net.trajectory(y), torch.stack(states, dim=1), rtol=1e-10, atol=1e-12)
