"""Executors: run independent training jobs (grid cells, compared configs) serially, on a local
process pool, or as Ray tasks on a cluster, with the same semantics (see :mod:`.base`; built by name in :mod:`.factory`).

``make_executor("serial" | "local" | "ray", workers=…)``; :func:`default_executor_name` picks
``local`` when more than one core is free, else ``serial``.
"""

from .base import Executor, JobFailure, JobOutcome
from .factory import default_executor_name, make_executor
from .local import LocalExecutor
from .serial import SerialExecutor

__all__ = [
    "Executor", "JobFailure", "JobOutcome", "LocalExecutor", "SerialExecutor", "default_executor_name", "make_executor",
]
