"""The local executor: a pool of worker processes on this machine, one torch thread per core share.

Workers are started with ``spawn`` (no inherited torch thread pools or locks) and die with the process that
started them: each watches its parent (:func:`watch_parent`) and exits within :data:`PARENT_POLL_S` once that
process is gone (``kill -9`` of ``hno compare``), so no worker trains on for nobody; their run folders stay
resumable. A pool that fails to start, or a caller interrupted while it runs, kills its workers instead of
waiting for them. When a worker
dies (``kill -9``, out of memory) the pool breaks: the jobs that had not finished are submitted
again to a fresh pool and resume from their checkpoints. Only the jobs that were running when the
pool broke (each marks its start in a scratch folder) use up one of their ``retries``; queued jobs
that never started are not charged.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .base import Executor, Job, JobFailure, JobOutcome, set_worker_environment, worker_environment

PARENT_POLL_S = 0.5
"""How often a worker checks that the process that started it is still there (seconds)."""


def watch_parent(parent: int) -> None:
    """Exit this process (at once, no cleanup: checkpoints are atomic, the kernel drops the run locks) as soon as its
    parent is no longer ``parent``: that process died and this one was handed to init."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent:  # died before this worker started
        os._exit(1)
    with contextlib.suppress(RuntimeError):  # no thread to spare: the worker runs unwatched rather than not at all
        threading.Thread(target=watch, name="hno-watch-parent", daemon=True).start()


def _start_worker(env: dict[str, str], parent: int) -> None:
    """Pool initializer: die with ``parent``, then :func:`set_worker_environment`."""
    watch_parent(parent)
    set_worker_environment(env)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes and reap them (a pool that failed to start, or an interrupted caller: the
    workers would otherwise wait on their queue, or train on, and keep this process from exiting)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
            process.join(timeout=5)


def _tracked(fn: Callable[[Any], Any], key: str, payload: Any, started: str) -> Any:
    """Run ``fn(payload)`` in a worker, with a marker file saying the job started (removed when it returns)."""
    marker = Path(started) / key.replace("/", "_")
    marker.touch()
    try:
        return fn(payload)
    finally:
        marker.unlink(missing_ok=True)


class LocalExecutor(Executor):
    """``workers`` processes on this machine (see the module docstring)."""

    name = "local"

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(worker_environment(self.workers), os.getpid()))

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Job]) -> Iterator[JobOutcome]:
        pending = dict(jobs)
        attempts = dict.fromkeys(pending, 0)
        with tempfile.TemporaryDirectory(prefix="hno-started-") as started:
            while pending:
                broken = yield from self._round(fn, pending, started)
                for key in broken:  # running when a worker died: charge it, rerun it (it resumes)
                    marker = Path(started) / key.replace("/", "_")
                    if not marker.exists():
                        continue  # queued, never started: not its fault
                    marker.unlink()
                    attempts[key] += 1
                    if attempts[key] > self.retries:
                        del pending[key]
                        yield JobOutcome(key, failure=JobFailure(
                            f"the worker running it died {attempts[key]} times (killed or out of memory); giving up"))

    def _round(self, fn: Callable[[Any], Any], pending: dict[str, Any],
               started: str) -> Generator[JobOutcome, None, list[str]]:
        """Submit every pending job to a fresh pool; yield outcomes; return the keys lost to a broken pool."""
        pool = self._pool()
        futures: dict[Future[Any], str] = {}
        broken: list[str] = []
        try:
            for k in pending:  # inside the try: a pool that fails to start ("can't start new thread") is cleaned up
                futures[pool.submit(_tracked, fn, k, pending[k], started)] = k
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    key = futures.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken.append(key)
                        continue
                    except Exception as exc:  # noqa: BLE001 - reported per job, the others go on
                        del pending[key]
                        yield JobOutcome(key, failure=JobFailure.from_exception(exc))
                        continue
                    del pending[key]
                    yield JobOutcome(key, result)
        except BaseException:  # failed to start, interrupted (Ctrl-C), or the consumer stopped early: no waiting
            _kill_workers(pool)
            with contextlib.suppress(RuntimeError):  # its manager thread may never have started
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
        return broken
