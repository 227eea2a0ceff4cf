"""Learning-rate schedules and optimizers of the training loop, against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from hno_framework.config import TrainingConfig
from hno_framework.training.optim import lr_factor, make_optimizer


@pytest.mark.parametrize("iteration", [0, 1, 37, 99, 100, 250])
def test_constant_schedule_is_one(iteration: int) -> None:
    assert lr_factor("constant", iteration, 100) == 1.0


@pytest.mark.parametrize(
    ("iteration", "expected"),
    [(0, 1.0), (49, 1.0), (50, 0.1), (74, 0.1), (75, 0.01), (99, 0.01), (100, 0.01), (400, 0.01)],
)
def test_step_schedule_drops_tenfold_at_half_and_three_quarters(iteration: int, expected: float) -> None:
    assert lr_factor("step", iteration, 100) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("iteration", "expected"), [(0, 1.0), (50, 0.505), (100, 0.01), (200, 0.01)])
def test_cosine_schedule_end_points(iteration: int, expected: float) -> None:
    assert lr_factor("cosine", iteration, 100) == pytest.approx(expected, rel=1e-12)


def test_unknown_schedule_is_named() -> None:
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        lr_factor("linear", 0, 10)


def _two_steps(optimizer_name: str, lr: float | None = None) -> tuple[torch.optim.Optimizer, list[float]]:
    """Two steps on p = 1 with the constant gradient 2 (loss 2p); returns the optimizer and p after each."""
    p = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    opt = make_optimizer([p], TrainingConfig(optimizer=optimizer_name, lr=0.1), lr=lr)
    values = []
    for _ in range(2):
        opt.zero_grad()
        (2 * p).backward()
        opt.step()
        values.append(p.item())
    return opt, values


def test_sgd_has_momentum_point_nine() -> None:
    opt, values = _two_steps("sgd")
    assert type(opt) is torch.optim.SGD
    # buffer b_1 = g = 2, p_1 = 1 − 0.1·2 = 0.8; b_2 = 0.9·2 + 2 = 3.8, p_2 = 0.8 − 0.1·3.8 = 0.42
    assert values == pytest.approx([0.8, 0.42], abs=1e-12)


def test_adamw_decays_the_weights_decoupled() -> None:
    opt, values = _two_steps("adamw")
    assert type(opt) is torch.optim.AdamW
    # p ← p(1 − lr·0.01), then Adam's first steps move by lr·m̂/(√v̂ + ε) = lr for a constant gradient
    move = 0.1 * 2 / (2 + 1e-8)
    p1 = 1.0 * (1 - 0.1 * 0.01) - move
    p2 = p1 * (1 - 0.1 * 0.01) - move
    assert values == pytest.approx([p1, p2], abs=1e-12)
    _, adam = _two_steps("adam")  # plain Adam: no decay
    assert adam == pytest.approx([1 - move, 1 - 2 * move], abs=1e-12)


def test_an_explicit_lr_overrides_training_lr() -> None:
    opt, values = _two_steps("sgd", lr=0.01)
    assert opt.param_groups[0]["lr"] == 0.01 and values[0] == pytest.approx(1 - 0.01 * 2, abs=1e-12)
