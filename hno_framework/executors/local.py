"""The local executor: a pool of worker processes on this machine, one torch thread per core share.

Workers are started with ``spawn`` (no inherited torch thread pools or locks). When a worker
dies (``kill -9``, out of memory) the pool breaks: the jobs that had not finished are submitted
again to a fresh pool and resume from their checkpoints. Only the jobs that were running when the
pool broke (each marks its start in a scratch folder) use up one of their ``retries``; queued jobs
that never started are not charged.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .base import Executor, Job, JobFailure, JobOutcome, set_worker_environment, worker_environment


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
                                   initializer=set_worker_environment, initargs=(worker_environment(self.workers),))

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
        futures: dict[Future[Any], str] = {pool.submit(_tracked, fn, k, pending[k], started): k for k in pending}
        broken: list[str] = []
        try:
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
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return broken
