"""The :class:`ProblemKind` interface: the fourth kind of plugin component, next to steps, integrators and
loggers. A kind builds a :class:`~hno_framework.problems.base.Problem` (its operator ``A``, λ, D) from the
``problem`` block of a config and draws ``(x*, y)`` batches for it.

A plugin registers kinds through the ``register_problems`` hook::

    @hookimpl
    def register_problems(register):
        register(MyBlurKind)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch

from ..options import Component, ComponentOptions
from .base import Problem, SignalBatch

if TYPE_CHECKING:
    from ..config import ProblemConfig


class Sampler(Protocol):
    """Draws a :class:`SignalBatch` of ``batch`` samples from a seeded generator."""

    def sample(self, batch: int, generator: torch.Generator) -> SignalBatch: ...


class ProblemKind(Component):
    """One kind of inverse problem; a subclass sets ``name``, ``Options`` and implements :meth:`build` and
    :meth:`sampler`.

    Options come from ``problem.options`` in the config and are validated against ``Options`` (unknown keys
    are refused). The shared fields of :class:`~hno_framework.config.ProblemConfig` (``seed``, ``lam``,
    ``snr_db``, and ``m``, ``n``, ``sparsity``, ... for the matrix kinds) are read from ``cfg``.

    Class attributes: ``matrix_free`` (the operator has no matrix Φ: steps that need one are refused),
    ``signal`` (``"vector"`` ``(batch, n)`` or ``"image"`` ``(batch, C, H, W)``).
    """

    matrix_free: ClassVar[bool] = False
    signal: ClassVar[str] = "vector"

    def __init__(self, options: ComponentOptions) -> None:
        self.options = options

    def build(self, cfg: ProblemConfig) -> Problem:  # pragma: no cover - abstract
        """The problem ``cfg`` describes, deterministic in ``cfg.seed``."""
        raise NotImplementedError

    def sampler(self, problem: Problem, cfg: ProblemConfig) -> Sampler:  # pragma: no cover - abstract
        """A sampler of ``(x*, y)`` for ``problem`` (which may have been loaded from a checkpoint)."""
        raise NotImplementedError

    @classmethod
    def small_config(cls) -> dict[str, Any]:
        """A small instance for the consistency suite and the memory estimate: a ``problem`` block (without
        ``kind``), e.g. ``{"m": 8, "n": 16}`` or ``{"options": {"size": 8}}``. Kinds whose small instance
        needs more than the defaults override it."""
        return {"m": 8, "n": 16, "lam": 0.1, "sparsity": 0.25}
