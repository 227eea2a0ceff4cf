"""Seeded data splits of an experiment: fresh training batches, fixed validation and test sets.

Every random stream has its own seed, so changing one never shifts another:
Φ uses ``problem.seed``; validation ``problem.seed + VALIDATION_OFFSET``; test
``problem.seed + TEST_OFFSET``; training batches ``training.seed + TRAIN_OFFSET``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .config import ExperimentConfig
from .problems import Sampler, fixed_set, make_sampler
from .problems.base import Problem, SignalBatch

VALIDATION_OFFSET = 100_003
TEST_OFFSET = 200_003
TRAIN_OFFSET = 300_007


@dataclass
class DataSplits:
    """``sampler`` for fresh training batches (drawn from ``train_generator``), fixed ``validation``."""

    sampler: Sampler
    validation: SignalBatch
    train_generator: torch.Generator

    def next_batch(self, batch_size: int) -> SignalBatch:
        return self.sampler.sample(batch_size, self.train_generator)


def make_splits(problem: Problem, cfg: ExperimentConfig) -> DataSplits:
    """Training stream and validation set for ``problem`` (which may come from a checkpoint)."""
    sampler = make_sampler(problem, cfg.problem)
    validation = fixed_set(sampler, cfg.training.validation_size, cfg.problem.seed + VALIDATION_OFFSET)
    generator = torch.Generator().manual_seed(cfg.training.seed + TRAIN_OFFSET)
    return DataSplits(sampler, validation, generator)


def make_test_set(problem: Problem, cfg: ExperimentConfig | Mapping[str, Any], size: int | None = None) -> SignalBatch:
    """The experiment's fixed test set (``training.test_size`` samples unless ``size`` is given); ``cfg`` is an
    :class:`ExperimentConfig` or a plain dict of one (as :func:`~hno_framework.compose` accepts)."""
    if not isinstance(cfg, ExperimentConfig):
        from .config import parse_config

        cfg = parse_config(dict(cfg))
    sampler = make_sampler(problem, cfg.problem)
    for_split = getattr(sampler, "for_split", None)  # samplers split by image draw the test set from its own images
    if for_split is not None:
        sampler = for_split("test")
    return fixed_set(sampler, size or cfg.training.test_size, cfg.problem.seed + TEST_OFFSET)
