"""What a training run returns: :class:`TrainResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainResult:
    """Outcome of a run: the final network's best validation NMSE (dB, last layer), its test NMSE per
    layer (index 0 is x_0 = 0, i.e. 0 dB; length T + 1), iterations, training seconds (summed over
    resumed processes), the validation ``history`` (one record per logged validation) and the
    ``phases`` of the protocol (one summary per phase; one entry for end-to-end training). ``improved`` is False
    when no phase that trained ever beat the validation NMSE it started from: the result is the initial network."""

    name: str
    run_dir: Path
    best_validation_nmse_db: float
    test_nmse_db: list[float]
    iterations: int
    seconds: float
    learnable_parameters: int
    protocol: str = "end-to-end"
    history: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    improved: bool = True

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["run_dir"] = str(self.run_dir)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """The inverse of :meth:`as_dict` (results coming back from executor workers)."""
        return cls(**{**data, "run_dir": Path(data["run_dir"])})
