"""Loggers: registered and listed like steps; what TensorBoard and MLflow received, read back with their own
readers, is the run's own numbers; a broken or failing logger never stops training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hno_framework.api import train
from hno_framework.cli import cli
from hno_framework.config import load_config
from hno_framework.inspection import inspect_checkpoint
from hno_framework.loggers import ActiveLogger, Logger, LoggerSet, RunInfo, flatten
from hno_framework.registry import Registry

LOGGING_CONFIG = """
name: {name}
problem: {{kind: lasso, m: 10, n: 20, sparsity: 0.2, seed: 3}}
network: {{step: lista, integrator: 2no, layers: 3}}
training: {{iterations: 20, batch_size: 16, validate_every: 10, validation_size: 32, test_size: 32, lr: 0.01}}
output: {{dir: "{out}"}}
logging: {logging}
"""


def _config(tmp_path: Path, logging: str, name: str = "logged"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(LOGGING_CONFIG.format(name=name, out=tmp_path / "runs", logging=logging))
    return load_config(path)


def test_builtin_loggers_are_registered_and_listed() -> None:
    out = CliRunner().invoke(cli, ["list", "loggers", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert {r["name"] for r in rows if r.get("kind") == "logger"} >= {"console", "tensorboard", "mlflow"}
    assert all(r["plugin"] == "hno-framework" for r in rows if r["name"] in ("console", "tensorboard", "mlflow"))
    plugins = json.loads(CliRunner().invoke(cli, ["list", "plugins", "--json"]).output)
    assert any(p["loggers"] == ["console", "tensorboard", "mlflow"] for p in plugins)


BROKEN_LOGGERS = """
from hno_framework import hookimpl
from hno_framework.loggers import Logger

class Explodes(Logger):
    name = "explodes"
    def log_metrics(self, metrics, step):
        raise RuntimeError("disk on fire")

class CannotStart(Logger):
    name = "cannot-start"
    def __init__(self, options, run):
        import hno_missing_package_for_tests  # noqa: F401

@hookimpl
def register_loggers(register):
    register(Explodes)
    register(CannotStart)
"""


def test_a_broken_logger_plugin_does_not_stop_training(make_plugin, tmp_path: Path, capfd) -> None:
    from hno_framework.registry import get_registry

    make_plugin("broken-loggers", BROKEN_LOGGERS)
    get_registry.cache_clear()
    try:
        assert {"explodes", "cannot-start"} <= set(get_registry().names("logger"))
        cfg = _config(tmp_path, "[explodes, cannot-start, console]")
        result = train(cfg, progress=False)
    finally:
        get_registry.cache_clear()
    assert result.iterations == 20 and (cfg.run_dir / "best.pt").is_file()
    err = capfd.readouterr().err
    assert err.count("logger 'explodes' failed in log_metrics") == 1, err  # reported once, then disabled
    assert err.count("logger 'cannot-start' failed in start") == 1 and "hno_missing_package_for_tests" in err
    assert "validation NMSE" in err  # console went on


def test_a_plugin_registering_a_non_logger_is_broken(make_plugin) -> None:
    make_plugin("bad-logger", """
        from hno_framework import hookimpl

        @hookimpl
        def register_loggers(register):
            register(dict)
    """)
    reg = Registry()
    assert "bad-logger" in [b.provider.distribution for b in reg.broken]
    assert "expected a subclass of Logger" in next(b.error for b in reg.broken if b.provider.distribution == "bad-logger")


def test_unknown_logger_name_is_a_config_error(tmp_path: Path) -> None:
    from hno_framework.errors import UnknownComponentError

    cfg = _config(tmp_path, "[tensorbord]")
    with pytest.raises(UnknownComponentError, match="Did you mean 'tensorboard'"):
        train(cfg, progress=False)


class _Recorder(Logger):
    name = "recorder"

    def __init__(self, options, run) -> None:
        super().__init__(options, run)
        self.steps: list[int] = []

    def log_metrics(self, metrics, step) -> None:
        self.steps.append(step)


def test_train_metrics_reach_each_logger_every_n_iterations() -> None:
    run = RunInfo("r", Path("."))
    every3, every1 = _Recorder(None, run), _Recorder(None, run)
    loggers = LoggerSet([ActiveLogger("a", every3, every=3), ActiveLogger("b", every1, every=1)])
    calls = []
    for it in range(1, 10):
        loggers.log_metrics(lambda: calls.append(1) or {"train/loss": 1.0}, it, thinned=True)
    assert every3.steps == [3, 6, 9] and every1.steps == list(range(1, 10))
    assert len(calls) == 9  # the metrics are computed only once per call, and only when someone is due


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": "x"}) == {
        "a.b": 1, "a.c.d": None, "e": "[1, 2]", "f": "x"}


def test_unwritable_tensorboard_folder_is_reported_and_the_run_goes_on(tmp_path: Path, capfd) -> None:
    pytest.importorskip("tensorboard")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cfg = _config(tmp_path, f"[{{name: tensorboard, options: {{log_dir: '{blocker / 'tb'}'}}}}]")
    result = train(cfg, progress=False)
    assert result.iterations == 20
    assert capfd.readouterr().err.count("logger 'tensorboard' failed in start") == 1


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """One tiny training with TensorBoard (every iteration) and MLflow (every 5) attached."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    tmp = tmp_path_factory.mktemp("logged")
    cfg = _config(tmp, "[{name: tensorboard, every: 1}, {name: mlflow, every: 5}]")
    result = train(cfg, progress=False)
    return cfg, result


def _tb_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]} | {
        "_images": [(0, 0.0)] * len(acc.Tags()["images"])}


def test_tensorboard_holds_the_runs_own_metrics(logged_run) -> None:
    cfg, result = logged_run
    scalars = _tb_scalars(cfg.run_dir)
    assert [s for s, _ in scalars["train/loss"]] == list(range(1, 21))  # every: 1
    validations = [(h["iteration"], h["validation_nmse_db"]) for h in result.history]
    assert [s for s, _ in scalars["validation/nmse_db"]] == [it for it, _ in validations]
    for (_, logged), (_, own) in zip(scalars["validation/nmse_db"], validations, strict=True):
        assert logged == pytest.approx(own, abs=1e-4)
    assert all(f"validation_depth/nmse_db_{t}" in scalars for t in (1, 2, 3))
    # the last validation at full depth is the loop's own validation NMSE
    assert scalars["validation_depth/nmse_db_3"][-1][1] == pytest.approx(validations[-1][1], abs=1e-4)
    curve = sorted(scalars["per_layer/test/nmse_db"])
    assert [t for t, _ in curve] == list(range(4))
    assert [v for _, v in curve] == pytest.approx(result.test_nmse_db, abs=1e-4)
    learned = inspect_checkpoint(cfg.run_dir / "best.pt", test_size=0).coefficients
    for name in ("alpha", "beta"):
        logged = [v for _, v in sorted(scalars[f"per_layer/coefficients/{name}"])]
        assert logged == pytest.approx(learned[name], abs=1e-6)
    assert len(scalars["_images"]) == 2  # nmse-per-layer.png and inspection.png


def test_mlflow_holds_the_runs_own_metrics_params_and_artifacts(logged_run) -> None:
    from mlflow.tracking import MlflowClient

    cfg, result = logged_run
    client = MlflowClient(tracking_uri=(cfg.run_dir / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("hno")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == cfg.name and run.info.status == "FINISHED"
    params = run.data.params
    assert params["training.lr"] == "0.01" and params["network.integrator.name"] == "2no"
    assert params["problem.m"] == "10"
    rid = run.info.run_id
    loss_steps = [m.step for m in client.get_metric_history(rid, "train/loss")]
    assert sorted(loss_steps) == [5, 10, 15, 20]  # every: 5
    history = sorted((m.step, m.value) for m in client.get_metric_history(rid, "validation/nmse_db"))
    assert history == [(h["iteration"], pytest.approx(h["validation_nmse_db"])) for h in result.history]
    curve = sorted((m.step, m.value) for m in client.get_metric_history(rid, "per_layer/test/nmse_db"))
    assert [v for _, v in curve] == pytest.approx(result.test_nmse_db)
    artifacts = {a.path for a in client.list_artifacts(rid)}
    assert {"best.pt", "metrics.json", "nmse-per-layer.png", "inspection.png"} <= artifacts
    saved = client.download_artifacts(rid, "best.pt", str(cfg.run_dir / "download"))
    assert torch.load(saved, weights_only=True)["model"].keys() == torch.load(
        cfg.run_dir / "best.pt", weights_only=True)["model"].keys()


def test_the_csv_logger_of_the_docs_works(make_plugin, tmp_path: Path) -> None:
    """The plugin example of docs/loggers.md, installed through a real entry point, does what the page says."""
    import re

    from hno_framework.config import LoggerSpec
    from hno_framework.registry import get_registry

    page = (Path(__file__).resolve().parent.parent / "docs" / "loggers.md").read_text()
    source = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "class CSVLogger" in b)
    make_plugin("hno-csvlog", source)
    get_registry.cache_clear()
    try:
        assert "csv" in get_registry().names("logger")
        loggers = LoggerSet.from_config([LoggerSpec(name="csv")], RunInfo("t", tmp_path))
        loggers.log_metrics({"train/loss": 0.5}, step=10)
        loggers.log_curve("test/nmse_db", [0.0, -3.0], step=10)
        loggers.close()
    finally:
        get_registry.cache_clear()
    assert not loggers.failed
    assert (tmp_path / "metrics.csv").read_text().splitlines() == [
        "step,name,value", "10,train/loss,0.5", "0,per_layer/test/nmse_db,0.0", "1,per_layer/test/nmse_db,-3.0"]


@pytest.mark.processes
def test_a_run_stopped_early_closes_its_loggers_at_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fit(stop_after=…) never reaches on_train_end; the loggers are closed when the process exits."""
    import os
    import subprocess
    import sys

    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    cfg = _config(tmp_path, "[{name: mlflow, every: 1}]", name="stopped")
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.model_dump(mode="json")))
    code = ("import json, sys; from hno_framework.config import parse_config; from hno_framework.training import Trainer; "
            "from hno_framework.loggers.callback import LoggingCallback; c = parse_config(json.load(open(sys.argv[1]))); "
            "Trainer(c, progress=False, callbacks=[LoggingCallback.from_config(c)]).fit(stop_after=7)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "cfg.json")], check=True, timeout=300,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading a file store back, as the logger does
    client = MlflowClient(tracking_uri=(cfg.run_dir / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("hno").experiment_id])
    assert run.info.status == "KILLED"  # closed, and marked as not finished (RUNNING if never closed)
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "train/loss")) == list(range(1, 8))
