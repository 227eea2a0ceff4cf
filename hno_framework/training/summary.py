"""How one phase of a training protocol went (:class:`PhaseSummary`), kept in checkpoints and results."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PhaseSummary:
    """How one phase went: iterations run, best validation NMSE (dB) and the iteration it was reached."""

    stage: int
    phase: int
    lr: float
    iterations: int
    best_iteration: int  # the last iteration that restarted the patience window
    start_nmse_db: float
    best_nmse_db: float
    stopped_by: str
    seconds: float
