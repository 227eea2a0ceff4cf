"""The executor interface: map a picklable function over jobs, yield outcomes as they finish.

Semantics shared by every executor:

* a job is ``(key, payload)``; ``fn(payload)`` runs it and returns a picklable result;
* outcomes come back as each job finishes (:class:`JobOutcome`: the key and either the result
  or a :class:`JobFailure` with the error and its traceback); a failing job never stops the others;
* a job whose worker process dies (killed, out of memory) is run again, at most ``retries``
  times; jobs are written to resume from their own checkpoints, so a rerun continues where the
  killed one stopped;
* every worker runs torch with :func:`~hno_framework.threads.threads_per_worker` threads (idle cores //
  workers; ``HNO_WORKERS_BESIDE``), so the workers never oversubscribe the cores.

Building one by name is :mod:`.factory`'s job.
"""

from __future__ import annotations

import os
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..threads import WORKERS_ENV, available_cores, threads_per_worker


@dataclass
class JobFailure:
    """Why a job failed: the exception's type and message, and the formatted traceback."""

    error: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> JobFailure:
        return cls(f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc)))


@dataclass
class JobOutcome:
    """The result of one job (``failure`` is None when it succeeded)."""

    key: str
    result: Any = None
    failure: JobFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


Job = tuple[str, Any]


class Executor(ABC):
    """Runs jobs; see the module docstring for the semantics every executor keeps."""

    name: str = ""

    def __init__(self, workers: int = 1, retries: int = 2) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be ≥ 1, got {workers}")
        self.workers, self.retries = workers, retries

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Job]) -> Iterator[JobOutcome]:
        """Run ``fn(payload)`` for every job; yield outcomes in completion order."""

    def close(self) -> None:  # noqa: B027 - optional: an executor without workers has nothing to release
        """Release workers (pools, cluster connections)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_cores() -> int:
    """Cores available to this process."""
    return available_cores()


def worker_environment(workers: int) -> dict[str, str]:
    """Environment of a worker process: how many workers share the cores (``training.threads: auto``)."""
    return {WORKERS_ENV: str(workers), "OMP_NUM_THREADS": str(threads_per_worker(workers))}


def set_worker_environment(env: dict[str, str]) -> None:
    """Apply :func:`worker_environment` in a worker (also torch's thread count, already imported or not)."""
    os.environ.update(env)
    import torch

    torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
