"""Optimizers and learning-rate schedules of the training loop.

Schedules are stateless functions of the iteration (no scheduler object to checkpoint), so a
resumed run may change ``training.iterations`` and still continue on the same curve.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from ..config import TrainingConfig


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: TrainingConfig, lr: float | None = None) -> torch.optim.Optimizer:
    """``training.optimizer`` (adam, adamw with ε = ``training.adam_eps``; sgd with momentum 0.9) over
    ``params`` at ``lr`` (default ``training.lr``)."""
    lr = cfg.lr if lr is None else lr
    params = list(params)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, eps=cfg.adam_eps)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, eps=cfg.adam_eps)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def lr_factor(schedule: str, iteration: int, total: int) -> float:
    """Learning-rate multiplier at ``iteration`` of ``total``: ``constant`` 1; ``cosine`` from 1 down to
    0.01, ``0.01 + 0.99 · ½(1 + cos(π · it/total))``; ``step`` ×0.1 at 50 % and again at 75 %."""
    progress = min(iteration / total, 1.0)
    if schedule == "cosine":
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "step":
        return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule '{schedule}'; use constant, cosine or step")
