"""``mlflow``: an MLflow run with params, metrics and artifacts (extra ``hno-framework[mlflow]``, i.e. ``mlflow-skinny``).

* params: the whole config, flattened (``training.lr``, ``network.integrator.name``, …);
* metrics: under their names with the iteration as step; per-layer curves as ``per_layer/<tag>`` with the
  **layer index** as step (MLflow plots it as the curve over layers);
* artifacts: the checkpoint, ``metrics.json`` and the figures.

The MLflow run ends ``FINISHED``, or ``KILLED`` when the training stopped before its end (``fit(stop_after=…)``,
an error; resuming it starts a new MLflow run).

Tracking store: ``tracking_uri`` if given (``http://…``, ``sqlite:///…``, ``databricks``), else a local
folder ``<run folder>/mlruns``. MLflow ≥ 3 keeps such file stores only behind ``MLFLOW_ALLOW_FILE_STORE``;
for the default folder the logger sets it to ``true`` unless it is already set. Look at the runs with
``mlflow ui --backend-store-uri runs/<name>/mlruns``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from hno_framework.loggers import Logger, RunInfo
from hno_framework.options import Options

BATCH = 100  # params per log_batch call (MLflow's limit); metrics are sent in batches of 10 × this
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_key(name: str) -> str:
    """``name`` with the characters MLflow rejects in metric and param keys replaced by ``_``."""
    return _UNSAFE.sub("_", name)


class MLflowOptions(Options):
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default: a local store <run folder>/mlruns)")
    experiment: str = Field("hno", description="MLflow experiment name (created when missing)")
    run_name: str | None = Field(None, description="MLflow run name (default: the config's name)")


class MLflowLogger(Logger):
    """MLflow: the config as params, metrics with their iteration, the checkpoint and figures as artifacts."""

    name = "mlflow"
    Options = MLflowOptions

    def __init__(self, options: MLflowOptions, run: RunInfo) -> None:
        super().__init__(options, run)
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise ImportError(f"{exc}; install it with: pip install 'hno-framework[mlflow]'") from None
        uri = options.tracking_uri
        if uri is None:
            folder = (run.run_dir / "mlruns").resolve()
            folder.mkdir(parents=True, exist_ok=True)
            uri = folder.as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.tracking_uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(options.experiment)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(options.experiment)
        self.run_id = self.client.create_run(experiment_id, run_name=options.run_name or run.name).info.run_id
        self.finished = False  # set by the end of the run (its artifacts); a run closed before that is KILLED

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(metric_key(k), str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + BATCH])

    def _metrics(self, values: list[tuple[str, float, int]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(metric_key(k), float(v), now, step) for k, v, step in values]
        for start in range(0, len(items), 10 * BATCH):
            self.client.log_batch(self.run_id, metrics=items[start : start + 10 * BATCH])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._metrics([(k, v, step) for k, v in metrics.items()])

    def log_curve(self, tag: str, values: Sequence[float | None], step: int) -> None:
        self._metrics([(f"per_layer/{tag}", v, t) for t, v in enumerate(values) if v is not None])

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))
        self.finished = True

    def close(self) -> None:
        self.client.set_terminated(self.run_id, status="FINISHED" if self.finished else "KILLED")
