"""Callbacks: how loggers and tools watch a run without touching the loop.

A :class:`Callback` overrides any of the ``on_*`` methods (all no-ops here). The loop calls them in
order; a callback that raises is reported once (through the trainer's ``log``) and dropped, so a
broken logger never stops training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .loop import Trainer
    from .result import TrainResult
    from .summary import PhaseSummary


class Callback:
    """Hooks of a training run; every method is optional."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Before the first step of this process (after a resume: of the resumed run)."""

    def on_step(self, trainer: Trainer, loss: float) -> None:
        """After every optimizer step; ``trainer.iteration`` is the step just taken (1-based)."""

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """After every validation: ``record`` has iteration, stage, phase, depth, loss, lr,
        validation_nmse_db and best_validation_nmse_db."""

    def on_phase_end(self, trainer: Trainer, summary: PhaseSummary) -> None:
        """When a phase ends (end-to-end training has one phase)."""

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        """After ``last.pt`` or ``best.pt`` was written."""

    def on_train_end(self, trainer: Trainer, result: TrainResult) -> None:
        """After the final evaluation on the test set."""


class CallbackList:
    """Dispatches an event to every callback; one that raises is reported once and removed."""

    def __init__(self, callbacks: list[Callback], log: Any) -> None:
        self.callbacks, self.log = list(callbacks), log

    def __call__(self, event: str, *args: Any) -> None:
        for cb in list(self.callbacks):
            try:
                getattr(cb, event)(*args)
            except Exception as exc:  # noqa: BLE001 - a broken callback must not stop training
                self.callbacks.remove(cb)
                self.log(f"callback {type(cb).__name__} failed in {event} and is disabled: {type(exc).__name__}: {exc}")
