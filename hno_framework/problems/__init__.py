"""Problem kinds: each builds a :class:`Problem` from a config and samples ``(x*, y)`` batches for it.

A kind is a :class:`ProblemKind` in :data:`PROBLEM_KINDS` (core code: problems are data, not plugins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from ..errors import ConfigError
from .base import Problem, SignalBatch
from .cs import BasisSparseSampler, make_cs_problem
from .inpainting import MaskedSampler, make_inpainting_problem
from .lasso import SparseSignalSampler, make_lasso_problem

if TYPE_CHECKING:
    from ..config import ProblemConfig


class Sampler(Protocol):
    """Draws a :class:`SignalBatch` of ``batch`` samples from a seeded generator."""

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch: ...


@dataclass(frozen=True)
class ProblemKind:
    """How to build one kind of problem (``build``) and draw data for it (``sampler``)."""

    build: Callable[[ProblemConfig], Problem]
    sampler: Callable[[Problem, ProblemConfig], Sampler]
    summary: str = ""


def image_or(synthetic: Callable[[Problem, ProblemConfig], Sampler]) -> Callable[[Problem, ProblemConfig], Sampler]:
    """The sampler of an image kind: patches of photographs when ``cfg.patches`` is set, else ``synthetic``
    (with a fresh mask per sample when the problem has per-sample masks)."""

    def make(problem: Problem, cfg: ProblemConfig) -> Sampler:
        if cfg.patches is not None:
            from .image_sampler import ImagePatchSampler

            return ImagePatchSampler(problem, cfg)
        sampler = synthetic(problem, cfg)
        return MaskedSampler(sampler, cfg.m) if problem.per_sample_mask else sampler

    return make


PROBLEM_KINDS: dict[str, ProblemKind] = {
    "lasso": ProblemKind(
        build=lambda c: make_lasso_problem(c.m, c.n, c.lam, c.seed, c.condition_number),
        sampler=lambda p, c: SparseSignalSampler(p, c.sparsity, c.snr_db),
        summary="synthetic sparse coding: Gaussian Φ (m×n), Bernoulli-Gaussian x*, D = I",
    ),
    "cs": ProblemKind(
        build=make_cs_problem,
        sampler=image_or(lambda p, c: BasisSparseSampler(p, c.sparsity, c.snr_db)),
        summary="image-patch CS: Gaussian Φ (m×p²), 2-D DCT basis D, patches sparse in D (or of photographs)",
    ),
    "inpainting": ProblemKind(
        build=make_inpainting_problem,
        sampler=image_or(lambda p, c: BasisSparseSampler(p, c.sparsity, c.snr_db)),
        summary="image-patch inpainting: Φ = observed rows of I (seeded or per-sample mask), 2-D DCT basis D, "
        "patches sparse in D (or of photographs)",
    ),
    "inpainting-dct": ProblemKind(
        build=lambda c: make_inpainting_problem(c, coefficients=True),
        sampler=image_or(lambda p, c: SparseSignalSampler(p, c.sparsity, c.snr_db)),
        summary="inpainting of 2-D DCT coefficients s: Φ = M Dᵀ (seeded or per-sample mask M), D = I for the steps; "
        "s sparse (or of photographs)",
    ),
}


def problem_kind(name: str) -> ProblemKind:
    try:
        return PROBLEM_KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown problem kind '{name}'; known kinds: {', '.join(sorted(PROBLEM_KINDS))}") from None


def build_problem(cfg: ProblemConfig) -> Problem:
    """The :class:`Problem` described by ``cfg`` (deterministic in ``cfg.seed``)."""
    return problem_kind(cfg.kind).build(cfg)


def make_sampler(problem: Problem, cfg: ProblemConfig) -> Sampler:
    """A sampler of ``(x*, y)`` for ``problem`` (which may come from a checkpoint)."""
    return problem_kind(cfg.kind).sampler(problem, cfg)


def fixed_set(sampler: Sampler, size: int, seed: int) -> SignalBatch:
    """A reproducible set of ``size`` samples (validation / test) drawn from its own seed."""
    return sampler.sample(size, torch.Generator().manual_seed(seed))


__all__ = ["PROBLEM_KINDS", "Problem", "ProblemKind", "Sampler", "SignalBatch", "build_problem", "fixed_set", "make_sampler"]
