"""The :class:`Logger` interface: where a run's numbers, curves and files go (console, TensorBoard, MLflow, …).

A logger is the third kind of plugin, registered through the ``register_loggers`` hook like steps and
integrators, and selected in the config (``logging: [console, tensorboard]``). It receives a few
primitive calls, all optional (no-ops here), from a :class:`~hno_framework.loggers.LoggerSet`:

* :meth:`Logger.log_params`: the whole config, flattened (``training.lr`` → 0.001), once at the start;
* :meth:`Logger.log_metrics`: scalars at an iteration ``step`` (``train/loss``, ``train/lr``,
  ``validation/nmse_db``, ``validation_depth/nmse_db_3``, ``coefficients/alpha/layer_2``, …);
* :meth:`Logger.log_curve`: a curve over the layers, ``values[t]`` for layer t (the NMSE per layer x_0..x_T,
  a coefficient α_t), at an iteration ``step``;
* :meth:`Logger.log_artifact`: a file (the checkpoint, a figure) at the end of the run;
* :meth:`Logger.close`: flush and release.

A logger never has to protect the run: the :class:`~hno_framework.loggers.LoggerSet` catches any
exception, reports it once and disables that logger, and the training goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..options import Component, ComponentOptions


@dataclass(frozen=True)
class RunInfo:
    """The run a logger watches: its ``name``, folder ``run_dir`` and ``config`` (JSON-able dict)."""

    name: str
    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)


class Logger(Component):
    """Receives what a run reports (see the module docstring). Subclasses set ``name`` and ``Options``
    and override the methods they need; ``__init__`` may raise (missing package, unwritable folder):
    the logger is then reported once and left out."""

    def __init__(self, options: ComponentOptions, run: RunInfo) -> None:
        self.options: Any = options  # the subclass's own Options model
        self.run = run

    def log_params(self, params: dict[str, Any]) -> None:
        """The run's configuration, flattened to ``dotted.key -> scalar`` (lists as strings)."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Scalars ``name -> value`` at iteration ``step``."""

    def log_curve(self, tag: str, values: Sequence[float | None], step: int) -> None:
        """A per-layer curve ``values[t]`` (None where undefined) named ``tag`` at iteration ``step``."""

    def log_artifact(self, path: Path) -> None:
        """A file produced by the run (checkpoint, figure, metrics.json)."""

    def close(self) -> None:
        """Flush and release resources; called once at the end (also after a failure elsewhere)."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` → ``{"a.b": 1, "c": "[1, 2]"}``: nested mappings joined by dots,
    scalars kept, lists and other values as strings."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, bool | int | float | str) or data is None:
        out[prefix] = data
    else:
        out[prefix] = str(data)
    return out
