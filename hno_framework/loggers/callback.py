"""The training-loop side of logging: a :class:`~hno_framework.training.Callback` feeding a :class:`LoggerSet`.

What goes where (``step`` is the training iteration):

* start: the config, flattened (:func:`~hno_framework.loggers.base.flatten`), as params;
* every ``every``-th iteration (per logger): ``train/loss`` and ``train/lr``;
* every validation: ``validation/nmse_db`` (the loop's value at the phase's depth), ``validation_depth/nmse_db_t``
  for every depth t = 1..depth (NMSE of x_t on the validation set), the integrator's coefficients per
  layer ``coefficients/<name>/layer_t`` and the step's scalar parameters ``step/<name>/layer_t``
  (:meth:`Integrator.inspect_coefficients`, :meth:`UnfoldingStep.inspect_parameters`);
* the end: the test NMSE per layer as the curve ``test/nmse_db`` and ``test/nmse_db`` (final layer), the
  learned coefficients as curves ``coefficients/<name>``, and as artifacts ``best.pt``, ``metrics.json`` and
  the figures ``nmse-per-layer.png`` and ``inspection.png`` (written to the run folder); then the loggers close
  (a run that stops early, e.g. ``fit(stop_after=…)`` or an error, closes them when the process exits).
"""

from __future__ import annotations

import atexit
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..training.callbacks import Callback
from .base import RunInfo, flatten
from .session import LoggerSet

if TYPE_CHECKING:
    from ..training import Trainer, TrainResult


def layer_metrics(prefix: str, columns: dict[str, list[float | None]]) -> dict[str, float]:
    """``{prefix/name/layer_t: value}`` for every finite value of every column."""
    return {f"{prefix}/{name}/layer_{t}": v for name, col in columns.items() for t, v in enumerate(col)
            if v is not None and math.isfinite(v)}


def learned_columns(net: Any) -> tuple[dict[str, list[float | None]], dict[str, list[float | None]]]:
    """The integrator's coefficients and the step's scalar parameters per layer (see :mod:`..inspection`)."""
    from ..inspection import columns, step_columns

    coefficients, _ = columns(net.integrator.inspect_coefficients(), net.num_layers)
    step = {k: v for k, v in step_columns(net).items() if not k.startswith("‖")}
    return coefficients, step


class LoggingCallback(Callback):
    """Sends a training run to ``loggers`` (see the module docstring)."""

    def __init__(self, loggers: LoggerSet, *, figures: bool = True) -> None:
        self.loggers = loggers
        self.figures = figures

    @classmethod
    def from_config(cls, config: Any, report: Any = None) -> LoggingCallback | None:
        """The callback for ``config.logging`` (None when it is empty)."""
        if not config.logging:
            return None
        run = RunInfo(config.name, Path(config.run_dir), config.model_dump(mode="json"))
        kwargs = {"report": report} if report is not None else {}
        callback = cls(LoggerSet.from_config(config.logging, run, **kwargs))
        # A run stopped early (fit(stop_after=…), an error) never reaches on_train_end: close at exit then.
        atexit.register(callback.loggers.close)
        return callback

    def on_train_start(self, trainer: Trainer) -> None:
        self.loggers.log_params(flatten(trainer.config.model_dump(mode="json")))

    def on_step(self, trainer: Trainer, loss: float) -> None:
        self.loggers.log_metrics(lambda: {"train/loss": loss, "train/lr": trainer.current_lr()}, trainer.iteration,
                                 thinned=True)

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if not self.loggers:
            return
        from ..evaluation import nmse_per_layer

        per_depth = record.get("validation_nmse_db_per_layer")  # when the loop records it, no second pass
        if per_depth is None:
            per_depth = nmse_per_layer(trainer.net, trainer.validation, depth=record.get("depth"))
        metrics = {"validation/nmse_db": record["validation_nmse_db"]}
        metrics.update({f"validation_depth/nmse_db_{t}": v for t, v in enumerate(per_depth) if t > 0})
        coefficients, step = learned_columns(trainer.net)
        metrics.update(layer_metrics("coefficients", coefficients))
        metrics.update(layer_metrics("step", step))
        self.loggers.log_metrics(metrics, trainer.iteration)

    def on_train_end(self, trainer: Trainer, result: TrainResult) -> None:
        try:
            if not self.loggers:
                return
            step = trainer.iteration
            self.loggers.log_curve("test/nmse_db", result.test_nmse_db, step)
            self.loggers.log_metrics({"test/nmse_db": result.test_nmse_db[-1],
                                      "best_validation_nmse_db": result.best_validation_nmse_db}, step)
            coefficients, params = learned_columns(trainer.net)
            for name, col in {**coefficients, **{f"step/{k}": v for k, v in params.items()}}.items():
                self.loggers.log_curve(name if name.startswith("step/") else f"coefficients/{name}", col, step)
            for path in self._files(trainer, result):
                self.loggers.log_artifact(path)
        finally:
            self.loggers.close()
            atexit.unregister(self.loggers.close)

    def _files(self, trainer: Trainer, result: TrainResult) -> list[Path]:
        run_dir = Path(trainer.run_dir)
        files = [p for p in (run_dir / "best.pt", run_dir / "metrics.json") if p.is_file()]
        if not self.figures:
            return files
        try:
            import matplotlib.pyplot as plt

            from ..inspection import inspect_network, plot_inspection
            from ..plotting import plot_nmse_per_layer

            files.append(plot_nmse_per_layer({result.name: result.test_nmse_db}, run_dir / "nmse-per-layer.png"))
            inspection = inspect_network(trainer.net, trainer.config, test_size=0)
            plt.close(plot_inspection(inspection, run_dir / "inspection.png"))
            files.append(run_dir / "inspection.png")
        except Exception as exc:  # noqa: BLE001 - figures are a convenience; the loggers still get the rest
            self.loggers.report(f"figures for the loggers not written: {type(exc).__name__}: {exc}")
        return files
