"""Recording what a network learned (inspection.learned_values): coefficients, their init, whether learned."""

from __future__ import annotations

import pytest
import torch

from hno_framework.composer import compose
from hno_framework.config import load_config
from hno_framework.inspection import learned_values


def test_learned_values_records_the_coefficients_their_init_and_whether_they_are_learned(tiny_config) -> None:
    cfg = load_config(tiny_config("two", integrator="2no"))
    net, init = compose(cfg), compose(cfg)
    with torch.no_grad():
        for p in net.integrator.parameters():
            p.add_(0.25)
    found = learned_values(net, init=init)
    assert found["integrator_learnable"] is True
    T = cfg.network.layers
    assert set(found["integrator"]) == {"alpha", "beta"} and len(found["integrator"]["beta"]) == T
    # the seed's init: α = 1, β = −0.5 after the Euler start-up layer (α = 1, β = 0)
    assert found["integrator_init"]["beta"][0] == 0.0 and found["integrator_init"]["beta"][1] == pytest.approx(-0.5)
    assert found["integrator"]["beta"][1] == pytest.approx(-0.25)
    assert found["integrator_references"]["euler"]["alpha"] == [1.0] * T
    assert learned_values(compose(load_config(tiny_config("euler", integrator="euler"))))["integrator_learnable"] is False
