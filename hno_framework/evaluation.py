"""Evaluation: NMSE (dB) per layer of an unrolled network on a fixed set."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .metrics import ratio_to_db, squared_error_per_layer
from .network import UnrolledNetwork
from .problems.base import SignalBatch


@torch.no_grad()
def nmse_per_layer(net: UnrolledNetwork, data: SignalBatch, *, chunk: int = 1000, depth: int | None = None) -> list[float]:
    """NMSE dB of x_0..x_depth on ``data`` (``(N, *signal_shape)``, ``(N, *measurement_shape)``), processed in
    chunks; length depth + 1."""
    was_training = net.training
    net.eval()
    err = None
    for start in range(0, len(data), chunk):
        part = data.slice(start, start + chunk)
        traj = net.unroll(part.y, keep_trajectory=True, depth=depth).trajectory
        assert traj is not None
        e = squared_error_per_layer(traj, part.x)
        err = e if err is None else err + e
    net.train(was_training)
    assert err is not None
    return ratio_to_db(err / data.x.double().pow(2).sum())


@torch.no_grad()
def per_sample_errors(net: UnrolledNetwork, data: SignalBatch, chunk: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """``‖x_t − x*‖²`` per sample and layer ``(N, T + 1)`` and ``‖x*‖²`` per sample ``(N,)``, float64: what a
    bootstrap over test samples resamples (the NMSE is the ratio of their sums)."""
    was_training = net.training
    net.eval()
    errors = []
    for start in range(0, len(data), chunk):
        part = data.slice(start, start + chunk)
        traj = net.unroll(part.y, keep_trajectory=True).trajectory  # (batch, T + 1, *signal_shape)
        assert traj is not None
        errors.append((traj - part.x.unsqueeze(1)).double().pow(2).flatten(2).sum(dim=2))
    net.train(was_training)
    return torch.cat(errors), data.x.double().pow(2).flatten(1).sum(dim=1)


@dataclass
class EvaluationReport:
    """NMSE dB per layer (index 0 is x_0 = 0, i.e. 0 dB) of a checkpoint on its test set."""

    name: str
    step: str
    integrator: str
    layers: int
    test_size: int
    nmse_db: list[float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_checkpoint(path: str | Path, test_size: int | None = None) -> EvaluationReport:
    """Rebuild a network from its checkpoint and evaluate it on the experiment's test set."""
    from .checkpoint import load_network
    from .data import make_test_set
    from .resources import check_memory

    net, cfg = load_network(path)
    check_memory(cfg, training=False, test_size=test_size)  # a huge --test-size is refused before allocating
    data = make_test_set(net.problem, cfg, test_size)
    return EvaluationReport(
        name=cfg.name,
        step=cfg.network.step.name,
        integrator=cfg.network.integrator.name,
        layers=cfg.network.layers,
        test_size=len(data),
        nmse_db=nmse_per_layer(net, data),
    )


evaluate = evaluate_checkpoint
