"""The Ray executor: each job is a Ray task with ``num_cpus`` / ``num_gpus`` resources.

``address=None`` starts Ray on this machine (``ray.init()``); ``"auto"`` joins the cluster this
machine belongs to; ``"ray://HOST:PORT"`` connects through Ray Client. Each task asks for
``cores_per_job`` CPUs (so Ray packs ``workers`` jobs per ``workers · cores_per_job`` cores) and
``num_gpus`` GPUs (fractional values pack several small jobs on one card). A task whose worker
dies is retried by Ray (``max_retries``) and resumes from its checkpoint. The run directory must
be on storage every node sees (jobs write their checkpoints and results there).

A Ray this process started (no ``address``) is shut down with it: on a normal end, an error or Ctrl-C by
:meth:`RayExecutor.close` (``with`` block), on SIGTERM too (the executor turns it into an exit that unwinds through
``close``), and on ``kill -9`` by Ray itself (its processes share the driver's fate; checked by hand: none is left).
The run folders stay resumable (``--resume``).

Ray is optional: ``pip install 'hno-framework[ray]'``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import ConfigError
from .base import Executor, Job, JobFailure, JobOutcome, set_worker_environment, worker_environment


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'hno-framework[ray]' (or pip install ray)") from None
    return ray


def _init_failure(address: str | None, exc: BaseException) -> str:
    """One line for a Ray that would not start or connect, with the fix for the usual causes."""
    cause = (str(exc).strip().splitlines() or [""])[0][:300]
    where = f"join Ray at {address}" if address else "start Ray on this machine"
    if address and address.startswith("ray://"):
        fix = ("a ray:// address needs Ray Client: pip install 'ray[client]' (the same Ray version as the cluster), "
               "and the cluster's head must listen there")
    elif address:
        fix = "check that a Ray cluster runs there (ray status), or leave --address out to start Ray here"
    else:
        fix = "check the Ray installation (ray --version), or use --executor local"
    return f"cannot {where}: {type(exc).__name__}: {cause}; {fix}"


_terminated: list[int] = []  # the SIGTERM received, if any (see _exit_on_sigterm)


def _exit_on_sigterm() -> Any:
    """Make SIGTERM leave like an interrupt, unwinding through :meth:`RayExecutor.close` (which shuts down the Ray this
    process started) with exit status 143, instead of Ray's handler, which aborts the process and leaves the shutdown
    to Ray's processes noticing it is gone. A ``KeyboardInterrupt`` is what a blocking ``ray.wait`` passes on from a
    signal handler; :meth:`RayExecutor.map` turns it into ``SystemExit(143)``. Returns the handler to restore (None:
    not the main thread, nothing changed)."""

    def terminate(signum: int, frame: Any) -> None:
        _terminated.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # signal handlers can only be set in the main thread
        return None
    return previous if previous is not None else signal.SIG_DFL  # None: Ray's own (C) handler, not needed after


def _run_in_worker(fn: Callable[[Any], Any], payload: Any, env: dict[str, str]) -> Any:
    set_worker_environment(env)
    return fn(payload)


class RayExecutor(Executor):
    """Jobs as Ray tasks (see the module docstring)."""

    name = "ray"

    def __init__(self, workers: int = 1, retries: int = 2, *, address: str | None = None, num_gpus: float = 0.0,
                 cores_per_job: float = 1.0) -> None:
        super().__init__(workers, retries)
        self.ray = _import_ray()
        self.address, self.num_gpus, self.cores_per_job = address, num_gpus, cores_per_job
        self._started = False
        if not self.ray.is_initialized():
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = max(1, int(workers * cores_per_job))
            try:
                self.ray.init(**kwargs)
            except Exception as exc:  # noqa: BLE001 -- Ray raises many kinds (no ray[client], no cluster, a bad address)
                raise ConfigError(_init_failure(address, exc)) from None
            self._started = True
            self._on_sigterm = _exit_on_sigterm()

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Job]) -> Iterator[JobOutcome]:
        ray = self.ray
        remote = ray.remote(num_cpus=self.cores_per_job, num_gpus=self.num_gpus, max_retries=self.retries,
                            retry_exceptions=False)(_run_in_worker)
        env = worker_environment(self.workers)
        refs = {remote.remote(fn, payload, env): key for key, payload in jobs}
        while refs:
            try:
                done, _ = ray.wait(list(refs), num_returns=1)
            except KeyboardInterrupt:
                if _terminated:  # SIGTERM, not Ctrl-C: leave with its conventional status, through close()
                    raise SystemExit(128 + _terminated[-1]) from None
                raise
            for ref in done:
                key = refs.pop(ref)
                try:
                    yield JobOutcome(key, ray.get(ref))
                except ray.exceptions.RayTaskError as exc:  # the job raised: report its own error
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    yield JobOutcome(key, failure=JobFailure.from_exception(cause))
                except ray.exceptions.RayError as exc:  # the worker died more often than retries allow
                    yield JobOutcome(key, failure=JobFailure(f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False
        if getattr(self, "_on_sigterm", None) is not None:
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(signal.SIGTERM, self._on_sigterm)
            self._on_sigterm = None
