"""Training objectives (``training.loss``), on one batch ``x*`` ``(B, *signal_shape)``, ``y`` and the network's
estimates ``x_1 … x_D`` (D = the phase's depth, T for end-to-end training):

* ``mse``: ``mean((x_D − x*)²)`` (over batch and entries);
* ``sum``: ``½ Σ_b ‖x_D − x*‖²`` (the LISTA-CPSS/ALISTA reference codes' ``l2_loss``);
* ``all-layers``: ``½ Σ_{t=1..D} Σ_b ‖x_t − x*‖²`` (deep supervision);
* ``log-layers``: ``Σ_{t=1..D} log Σ_b ‖x_t − x*‖²``: up to constants the sum over layers of the
  batch NMSE in dB, so every layer's relative error counts alike, as stage-wise training achieves
  by construction. Its gradient does not shrink with the error (Adam's ε never dominates).

Each adds ``aux_loss_weight · Σ aux`` (the steps' auxiliary losses, e.g. ISTA-Net's symmetry loss).
"""

from __future__ import annotations

from typing import get_args

import torch
from torch import nn

from ..config import TrainingConfig
from ..network import UnrolledNetwork
from ..problems.base import SignalBatch

LOSSES: tuple[str, ...] = get_args(TrainingConfig.model_fields["loss"].annotation)  # the names training.loss accepts


def training_loss(net: UnrolledNetwork, batch: SignalBatch, cfg: TrainingConfig, depth: int | None = None) -> torch.Tensor:
    """The ``training.loss`` objective of the network cut at ``depth`` (default: all layers) on ``batch``."""
    if cfg.loss in ("all-layers", "log-layers"):
        out = net.unroll(batch.y, keep_trajectory=True, depth=depth)
        assert out.trajectory is not None
        squared = (out.trajectory[:, 1:] - batch.x.unsqueeze(1)).pow(2).flatten(2)  # (B, D, n)
        per_layer = squared.sum(dim=(0, 2))  # (D,): Σ_b ‖x_t − x*‖²
        data = per_layer.log().sum() if cfg.loss == "log-layers" else 0.5 * per_layer.sum()
    else:
        out = net.unroll(batch.y, depth=depth)
        if cfg.loss == "sum":
            data = 0.5 * (out.estimate - batch.x).pow(2).sum()
        else:
            data = nn.functional.mse_loss(out.estimate, batch.x)
    return data + cfg.aux_loss_weight * out.aux_loss
