"""An executor by name: ``serial``, ``local`` (a process pool) or ``ray``."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Executor, free_cores
from .local import LocalExecutor
from .serial import SerialExecutor

EXECUTORS = ("serial", "local", "ray")


def default_executor_name() -> str:
    """``local`` when more than one core is available, else ``serial``."""
    return "local" if free_cores() > 1 else "serial"


def make_executor(name: str | None = None, workers: int | None = None, *, address: str | None = None,
                  num_gpus: float = 0.0, retries: int = 2) -> Executor:
    """The executor called ``name`` (default :func:`default_executor_name`) with ``workers`` processes
    (default: the available cores, one thread each). ``address`` and ``num_gpus`` (per job, may be
    fractional) are for ``ray``."""
    name = name or default_executor_name()
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor '{name}'; choose one of {', '.join(EXECUTORS)}")
    if name == "serial":
        return SerialExecutor(1, retries)
    workers = workers or free_cores()
    if name == "local":
        return LocalExecutor(workers, retries)
    from .ray_executor import RayExecutor

    return RayExecutor(workers, retries, address=address, num_gpus=num_gpus)
