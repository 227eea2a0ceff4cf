"""Command-line options shared by every command that trains several networks (``--executor``,
``--workers``, ``--address``, ``--gpus-per-job``). Only click is imported here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .executors import Executor


MAX_GPUS_PER_JOB = 1024
"""The most GPUs one network may ask Ray for."""


def executor_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the executor options to a click command (they arrive as ``executor``, ``workers``,
    ``address``, ``gpus_per_job``)."""
    options = [
        click.option("--executor", type=click.Choice(["serial", "local", "ray"]), default=None,
                     help="where the networks train: serial (this process), local (a process pool; the default when "
                     "more than one core is free) or ray (Ray tasks, on this machine or a cluster)"),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="parallel training processes (default: the available cores; each gets idle cores / workers threads)"),
        click.option("--address", default=None, metavar="auto|ray://HOST:PORT",
                     help="ray: join this cluster (default: start Ray on this machine)"),
        click.option("--gpus-per-job", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
                     help="ray: GPUs each network asks for (fractional values pack several on one card)"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_executor(executor: str | None, workers: int | None, address: str | None, gpus_per_job: float,
                   jobs: int | None = None) -> Executor:
    """The executor the options ask for; never more workers than ``jobs``."""
    import math

    from .errors import ConfigError
    from .executors import make_executor

    if not math.isfinite(gpus_per_job) or gpus_per_job > MAX_GPUS_PER_JOB:
        raise ConfigError(f"--gpus-per-job {gpus_per_job}: give the GPUs each network asks for, a finite number from 0 to "
                          f"{MAX_GPUS_PER_JOB} (fractions pack several networks on one card), e.g. --gpus-per-job 0.5")

    if executor is None and jobs is not None and jobs < 2:
        executor = "serial"
    if workers is None and jobs is not None:
        from .executors.base import free_cores

        workers = max(1, min(free_cores(), jobs))
    return make_executor(executor, workers, address=address, num_gpus=gpus_per_job)
