"""training.loss and protocol: phases, pinned against plain loops of their formulas."""

from __future__ import annotations

import math

import pytest
import torch

from hno_framework.composer import compose
from hno_framework.config import load_config, parse_config
from hno_framework.errors import ConfigError
from hno_framework.problems.base import SignalBatch
from hno_framework.training import Trainer, training_loss


def _config(loss: str, layers: int = 3) -> dict:
    return {"problem": {"m": 6, "n": 10, "seed": 1},
            "network": {"step": "lista", "integrator": "2no", "layers": layers},
            "training": {"loss": loss, "aux_loss_weight": 0.0}}


def _reference(net, batch: SignalBatch, loss: str, depth: int) -> float:
    """The losses as written in the docs, one sample and one layer at a time."""
    traj = net.trajectory(batch.y).detach().double()  # (B, T + 1, n)
    x = batch.x.double()
    per_layer = [sum(float(((traj[b, t] - x[b]) ** 2).sum()) for b in range(len(x))) for t in range(1, depth + 1)]
    if loss == "mse":
        return per_layer[-1] / x.numel()
    if loss == "sum":
        return 0.5 * per_layer[-1]
    if loss == "all-layers":
        return 0.5 * sum(per_layer)
    return sum(math.log(e) for e in per_layer)


@pytest.mark.parametrize("loss", ["mse", "sum", "all-layers", "log-layers"])
@pytest.mark.parametrize("depth", [None, 2])
def test_each_loss_matches_its_formula(loss: str, depth: int | None) -> None:
    cfg = parse_config(_config(loss))
    net = compose(cfg)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 10, generator=g) * (torch.rand(5, 10, generator=g) < 0.3)
    batch = SignalBatch(x, net.problem.measure(x))
    value = float(training_loss(net, batch, cfg.training, depth=depth).detach())
    assert value == pytest.approx(_reference(net, batch, loss, depth or 3), rel=1e-5)


def test_phases_protocol_runs_each_phase_at_its_lr_from_the_best_so_far(tiny_config) -> None:
    cfg = load_config(tiny_config("phased", iterations=10), [
        "training.protocol=phases", "training.validate_every=5", "training.loss=log-layers",
        "training.phases=[{iterations: 10, lr: 0.01}, {iterations: 5, lr: 0.002}]"])
    trainer = Trainer(cfg, progress=False)
    lrs: list[float] = []
    original = trainer.train_step

    def spy() -> float:
        loss = original()
        assert trainer.optimizer is not None
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        return loss

    trainer.train_step = spy  # type: ignore[method-assign]
    result = trainer.fit()
    assert result.iterations == 15 and lrs == [0.01] * 10 + [0.002] * 5
    first, second = trainer.summaries
    assert (first.iterations, second.iterations) == (10, 5)
    assert second.start_nmse_db == pytest.approx(first.best_nmse_db, abs=1e-6)  # starts from the best so far
    assert second.best_nmse_db <= first.best_nmse_db


def test_phases_protocol_needs_phases(tiny_config) -> None:
    with pytest.raises(ConfigError, match=r"protocol: phases needs a list training\.phases"):
        load_config(tiny_config("nophases"), ["training.protocol=phases"])


def test_adam_eps_reaches_the_optimizer(tiny_config) -> None:
    cfg = load_config(tiny_config("eps"), ["training.adam_eps=0.001"])
    trainer = Trainer(cfg, progress=False)
    assert trainer.optimizer is not None and trainer.optimizer.param_groups[0]["eps"] == 0.001
