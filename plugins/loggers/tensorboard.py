"""``tensorboard``: event files for TensorBoard through ``torch.utils.tensorboard`` (extra ``hno-framework[tensorboard]``).

* metrics: scalars under their names (``train/loss``, ``validation_depth/nmse_db_3``, ``coefficients/alpha/layer_2``)
  with the iteration as step;
* curves: ``per_layer/<tag>`` with the **layer index** as step (TensorBoard draws it as the curve over layers);
* the config: text ``config`` (one ``key = value`` per line); PNG artifacts: images ``figures/<file name>``.

Files go to ``<run folder>/tensorboard`` (option ``log_dir``); view them with ``tensorboard --logdir runs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from hno_framework.loggers import Logger, RunInfo
from hno_framework.options import Options


class TensorBoardOptions(Options):
    log_dir: Path | None = Field(None, description="folder of the event files (default: <run folder>/tensorboard)")
    flush_secs: int = Field(30, gt=0, description="seconds between flushes of the event file")


class TensorBoardLogger(Logger):
    """TensorBoard event files: scalars, per-layer curves, the config as text, figures as images."""

    name = "tensorboard"
    Options = TensorBoardOptions

    def __init__(self, options: TensorBoardOptions, run: RunInfo) -> None:
        super().__init__(options, run)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError(f"{exc}; install it with: pip install 'hno-framework[tensorboard]'") from None
        self.log_dir = Path(options.log_dir) if options.log_dir is not None else run.run_dir / "tensorboard"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=options.flush_secs)

    def log_params(self, params: dict[str, Any]) -> None:
        self.writer.add_text("config", "    " + "\n    ".join(f"{k} = {v}" for k, v in params.items()), 0)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def log_curve(self, tag: str, values: Sequence[float | None], step: int) -> None:
        for t, value in enumerate(values):
            if value is not None:
                self.writer.add_scalar(f"per_layer/{tag}", value, t)

    def log_artifact(self, path: Path) -> None:
        if path.suffix.lower() == ".png":
            import matplotlib.image

            image = matplotlib.image.imread(str(path))[..., :3]  # (H, W, 3) floats in [0, 1]
            self.writer.add_image(f"figures/{path.name}", image, 0, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()
