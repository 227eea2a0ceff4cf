"""Problems: the operator ``A`` of ``y = A x + e`` with its prior, and the kinds that build them.

Problem kinds are plugin components (:class:`~hno_framework.problems.kind.ProblemKind`), registered through
the ``register_problems`` hook like steps and integrators; the built-in kinds (``lasso``, ``cs``,
``inpainting``, ...) come from the ``hno_plugins.problems`` entry point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .base import MatrixProblem, Problem, SignalBatch
from .kind import ProblemKind, Sampler

if TYPE_CHECKING:
    from ..config import ProblemConfig
    from ..registry import Registry


def problem_kind(cfg: ProblemConfig, registry: Registry | None = None) -> ProblemKind:
    """The registered kind ``cfg.kind`` with its options ``cfg.options`` validated (unknown kind: an error
    listing the registered kinds and the closest match)."""
    from ..options import validate_options
    from ..registry import get_registry

    info = (registry or get_registry()).get("problem", cfg.kind)
    return info.cls(validate_options(info, cfg.options))


def build_problem(cfg: ProblemConfig, registry: Registry | None = None) -> Problem:
    """The :class:`Problem` described by ``cfg`` (deterministic in ``cfg.seed``), its ``lipschitz`` computed (a
    seeded power iteration for a matrix-free operator) while it is on the CPU, then cached: moving it later (even to
    PyTorch's ``meta`` device) keeps the value."""
    problem = problem_kind(cfg, registry).build(cfg)
    problem.lipschitz  # noqa: B018 - computed now, cached on the problem
    return problem


def make_sampler(problem: Problem, cfg: ProblemConfig, registry: Registry | None = None) -> Sampler:
    """A sampler of ``(x*, y)`` for ``problem`` (which may come from a checkpoint)."""
    return problem_kind(cfg, registry).sampler(problem, cfg)


def fixed_set(sampler: Sampler, size: int, seed: int) -> SignalBatch:
    """A reproducible set of ``size`` samples (validation / test) drawn from its own seed."""
    return sampler.sample(size, torch.Generator().manual_seed(seed))


__all__ = ["MatrixProblem", "Problem", "ProblemKind", "Sampler", "SignalBatch", "build_problem", "fixed_set",
           "make_sampler", "problem_kind"]
