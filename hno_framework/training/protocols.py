"""Training protocols: strategies that cut one run into *phases* for the one loop in :mod:`.loop`.

A :class:`Phase` says which parameters train (with per-entry learning-rate multipliers), at what
learning rate and schedule, at which depth the loss and the validation are taken, and when the
phase ends (a fixed number of iterations, or ``patience`` iterations without a better validation
NMSE). The loop does everything else the same way for every protocol: batches, steps,
validation, best-so-far, divergence, checkpoints, resume, callbacks.

* ``end-to-end`` (:class:`EndToEnd`): one phase, all parameters, depth T, ``training.iterations``
  steps on ``training.schedule``.
* ``stagewise`` (:class:`~.stagewise.Stagewise`): the layer-wise protocol of LISTA-CPSS.

A new protocol is a subclass of :class:`TrainingProtocol` registered in :data:`PROTOCOLS`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from torch import Tensor, nn

from ..config import ExperimentConfig
from ..network import UnrolledNetwork


@dataclass
class Phase:
    """One phase of a run (see the module docstring).

    ``multipliers``: the parameters that train, each with ``None`` (the phase's learning rate) or a
    tensor of its shape (per-entry multipliers of the learning rate). ``lr`` at phase iteration i is
    ``lr · lr_factor(schedule, i, schedule_length)``.
    """

    index: int
    stage: int
    step: int
    depth: int
    lr: float
    multipliers: list[tuple[nn.Parameter, Tensor | None]]
    max_iterations: int
    validate_every: int
    checkpoint_every: int
    record_every: int
    schedule: str = "constant"
    schedule_length: int = 1
    patience: int | None = None
    min_improvement_db: float = 0.0
    write_best: bool = False
    on_nonfinite: Literal["stop", "end-phase"] = "stop"
    restore_best: bool = True
    label: str = ""


class TrainingProtocol(ABC):
    """A way of training an unrolled network, as a sequence of :class:`Phase` s."""

    name: ClassVar[str]
    resume_ignore: ClassVar[dict[str, Any]] = {}
    """Config fields (a pydantic ``exclude`` mapping) that may differ between a run and its resume."""

    def __init__(self, config: ExperimentConfig, net: UnrolledNetwork) -> None:
        self.config, self.net = config, net

    @property
    @abstractmethod
    def num_phases(self) -> int:
        """How many phases the run has."""

    @abstractmethod
    def phase(self, index: int) -> Phase:
        """The phase with this index (0 ≤ index < :attr:`num_phases`)."""

    @property
    def progress_total(self) -> int | None:
        """Total iterations when known in advance (for the progress bar), else None."""
        return None


class EndToEnd(TrainingProtocol):
    """One phase: every learnable parameter, loss ``MSE(x_T, x*)``, ``training.iterations`` steps."""

    name = "end-to-end"
    resume_ignore: ClassVar[dict[str, Any]] = {"training": {"iterations": True}}

    @property
    def num_phases(self) -> int:
        return 1

    @property
    def progress_total(self) -> int:
        return self.config.training.iterations

    def phase(self, index: int) -> Phase:
        tcfg = self.config.training
        learnable = [p for p in self.net.parameters() if p.requires_grad]
        return Phase(
            index=0, stage=self.net.num_layers - 1, step=0, depth=self.net.num_layers, lr=tcfg.lr,
            multipliers=[(p, None) for p in learnable], max_iterations=tcfg.iterations,
            validate_every=tcfg.validate_every, checkpoint_every=tcfg.validate_every,
            record_every=tcfg.validate_every, schedule=tcfg.schedule, schedule_length=tcfg.iterations,
            write_best=True, on_nonfinite="stop",
        )


class Phases(TrainingProtocol):
    """``training.phases`` one after another: every learnable parameter, depth T, constant learning rate per
    phase, a fresh optimizer per phase, each phase starting from the best network so far (the best of the
    previous phase is restored at its end). E.g. lr, lr/5, lr/50 as the reference codes' fine-tuning."""

    name = "phases"
    resume_ignore: ClassVar[dict[str, Any]] = {"training": {"iterations": True}}

    @property
    def num_phases(self) -> int:
        return len(self.config.training.phases)

    @property
    def progress_total(self) -> int:
        return sum(p.iterations for p in self.config.training.phases)

    def phase(self, index: int) -> Phase:
        tcfg = self.config.training
        spec = tcfg.phases[index]
        learnable = [p for p in self.net.parameters() if p.requires_grad]
        return Phase(
            index=index, stage=self.net.num_layers - 1, step=index, depth=self.net.num_layers, lr=spec.lr,
            multipliers=[(p, None) for p in learnable], max_iterations=spec.iterations,
            validate_every=tcfg.validate_every, checkpoint_every=tcfg.validate_every, record_every=tcfg.validate_every,
            write_best=True, on_nonfinite="stop", label=f"phase {index + 1}/{self.num_phases} lr {spec.lr:g}",
        )


def is_better(value: float, best: float, margin: float = 0.0) -> bool:
    """``value`` beats ``best`` by more than ``margin`` dB (non-finite values never do)."""
    return math.isfinite(value) and value < best - margin
