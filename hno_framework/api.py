"""The library's training entry point: :func:`train` a config (an :class:`~hno_framework.config.ExperimentConfig`,
a plain dict, or a YAML/TOML file), optionally a network of your own or one warm-started from a trained checkpoint;
:func:`train_job` is the same for an executor's worker. ``hno_framework.train`` is :func:`train`.

This module builds the config's loggers (``logging: [...]``) and hands them to the loop as callbacks
(:func:`hno_framework.training.run_training`); the loop itself builds none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import ExperimentConfig, load_config, parse_config
from .loggers.callback import LoggingCallback
from .network import UnrolledNetwork
from .training.callbacks import Callback
from .training.distributed import is_main_process
from .training.loop import run_training
from .training.result import TrainResult
from .warm_start import warm_start

ConfigLike = ExperimentConfig | Mapping[str, Any] | str | Path


def as_config(config: ConfigLike) -> ExperimentConfig:
    """``config`` as an :class:`ExperimentConfig`: as given, parsed from a dict, or loaded from a YAML/TOML file."""
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, Mapping):
        return parse_config(dict(config), "given to train()")
    return load_config(config)


def with_init_from(config: ExperimentConfig, init_from: str | Path | None) -> ExperimentConfig:
    """``config`` with ``training.init_from`` set to ``init_from`` (unchanged when None)."""
    if init_from is None:
        return config
    return config.model_copy(update={"training": config.training.model_copy(update={"init_from": Path(init_from)})})


def train(config: ConfigLike, network: UnrolledNetwork | None = None, init_from: str | Path | None = None, *,
          resume: bool = False, progress: bool = True, callbacks: Sequence[Callback] = (),
          overwrite: bool = True, skip_finished: bool = False) -> TrainResult:
    """Train the network ``config`` describes (or ``network``, a network you built, with the config's training,
    data and output settings) and return its :class:`~hno_framework.training.result.TrainResult`.

    ``init_from`` (or ``training.init_from``): a trained checkpoint whose step and problem tensors the new network
    starts from (:mod:`hno_framework.warm_start`; ``training.init_integrator`` says where the integrator starts);
    the checkpoints record its path and SHA-256 as ``init_from``. ``resume`` continues from ``last.pt`` (a warm
    start is not repeated); ``overwrite`` False refuses a folder that already holds a run. The config's loggers
    run beside ``callbacks``. ``skip_finished`` with ``resume``: a run already at its iteration limits raises
    :class:`~hno_framework.training.rundir.RunAlreadyFinished` instead of being evaluated again.
    """
    cfg = with_init_from(as_config(config), init_from)
    loggers = LoggingCallback.from_config(cfg) if is_main_process() else None
    source, how = cfg.training.init_from, cfg.training.init_integrator

    def prepare(net: UnrolledNetwork) -> dict[str, str] | None:
        return warm_start(net, source, how) if source is not None else None

    return run_training(cfg, resume=resume, progress=progress, overwrite=overwrite, network=network,
                        skip_finished=skip_finished,
                        callbacks=[*callbacks, *([loggers] if loggers else [])],
                        prepare=prepare if source is not None else None)


def train_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Executor job: train ``payload["config"]`` (a config dict), resuming from a ``last.pt`` a killed attempt
    left when ``payload["resume"]``, reporting its iterations to ``payload["progress_file"]`` when given
    (:class:`~hno_framework.job_progress.ProgressReporter`); returns :meth:`TrainResult.as_dict`."""
    config = parse_config(payload["config"], f"of job {payload['config'].get('name', '?')}")
    resume = bool(payload.get("resume")) and (config.run_dir / "last.pt").is_file()  # killed before a checkpoint
    callbacks: list[Callback] = []
    if payload.get("progress_file"):  # the parent shows one bar over all jobs (hno_framework.job_progress)
        from .job_progress import ProgressReporter

        callbacks.append(ProgressReporter(payload["progress_file"]))
    return train(config, resume=resume, progress=bool(payload.get("progress")), callbacks=callbacks).as_dict()
