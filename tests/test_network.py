"""The unrolled loop: trajectory, depth, tying, and the problem data."""

from __future__ import annotations

import pytest
import torch

from hno_framework.composer import compose
from hno_framework.network import count_learnable
from hno_framework.problems.lasso import gaussian_matrix


def net_for(tied: bool = True, integrator: str = "euler", layers: int = 4):
    return compose({"problem": {"m": 10, "n": 20}, "network": {"step": "lista", "integrator": integrator,
                                                             "layers": layers, "tied": tied}})


def test_tied_shares_one_w_untied_has_one_per_layer() -> None:
    tied, untied = net_for(True), net_for(False)
    assert tied.layers[0].W is tied.layers[3].W
    assert untied.layers[0].W is not untied.layers[3].W
    w, layers = 20 * 10, 4
    assert count_learnable(tied) == w + layers
    assert count_learnable(untied) == layers * w + layers


def test_depth_and_trajectory() -> None:
    net = net_for(layers=5)
    y = torch.randn(3, 10)
    full = net.trajectory(y)
    assert full.shape == (3, 6, 20) and torch.equal(full[:, 0], torch.zeros(3, 20))
    part = net.unroll(y, keep_trajectory=True, depth=2).trajectory
    torch.testing.assert_close(part, full[:, :3])
    with pytest.raises(ValueError, match="depth"):
        net.unroll(y, depth=6)


def test_float64_conversion_reaches_the_problem() -> None:
    net = net_for().to(torch.float64)
    assert net.problem.phi.dtype == torch.float64 and net.layers[2].problem is net.problem
    assert net(torch.randn(2, 10, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("kappa", [1.0, 5.0, 50.0])
def test_gaussian_matrix(kappa: float) -> None:
    phi = gaussian_matrix(30, 60, torch.Generator().manual_seed(0), kappa)
    s = torch.linalg.svdvals(phi)
    torch.testing.assert_close(phi.norm(dim=0), torch.ones(60, dtype=torch.float64))  # unit columns at every κ
    if kappa > 1.0:  # columns renormalised after the singular values are set: κ(Φ) close to κ (tests/test_fidelity.py)
        assert float(s[0] / s[-1]) == pytest.approx(kappa, rel=0.3)
