"""``console``: one line per validation (and every ``every`` iterations) on stderr, above the progress bar."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field
from tqdm.auto import tqdm

from hno_framework.loggers import Logger, RunInfo
from hno_framework.options import Options


class ConsoleOptions(Options):
    stream: Literal["stderr", "stdout"] = Field("stderr", description="where the lines go")
    layers: bool = Field(False, description="also print the validation NMSE at every depth")


class ConsoleLogger(Logger):
    """Progress lines on the terminal: loss and lr, validation NMSE, the test NMSE per layer and files written."""

    name = "console"
    Options = ConsoleOptions

    def __init__(self, options: ConsoleOptions, run: RunInfo) -> None:
        super().__init__(options, run)
        self.file = sys.stderr if options.stream == "stderr" else sys.stdout

    def _write(self, text: str) -> None:
        tqdm.write(f"[{self.run.name}] {text}", file=self.file)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        parts = []
        if "train/loss" in metrics:
            parts.append(f"loss {metrics['train/loss']:.3e}  lr {metrics.get('train/lr', float('nan')):.2e}")
        if "validation/nmse_db" in metrics:
            parts.append(f"validation NMSE {metrics['validation/nmse_db']:.2f} dB")
            depths = [v for k, v in metrics.items() if k.startswith("validation_depth/nmse_db_")]
            if self.options.layers and depths:
                parts.append("per depth " + " ".join(f"{v:.1f}" for v in depths))
        if "test/nmse_db" in metrics:
            parts.append(f"test NMSE {metrics['test/nmse_db']:.2f} dB")
        if parts:
            self._write(f"iteration {step}: " + "; ".join(parts))

    def log_curve(self, tag: str, values: Sequence[float | None], step: int) -> None:
        if tag == "test/nmse_db":
            self._write("test NMSE per layer (dB): " + " ".join("–" if v is None else f"{v:.2f}" for v in values))

    def log_artifact(self, path: Path) -> None:
        self._write(f"wrote {path}")
