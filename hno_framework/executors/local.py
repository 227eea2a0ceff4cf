"""The local executor: a pool of worker processes on this machine, one torch thread per core share.

Workers are started with ``spawn`` (no inherited torch thread pools or locks). When a worker
dies (``kill -9``, out of memory) the pool breaks: the jobs that had not finished are submitted
again to a fresh pool (at most ``retries`` times each), and resume from their checkpoints.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .base import Executor, Job, JobFailure, JobOutcome, set_worker_environment, worker_environment


class LocalExecutor(Executor):
    """``workers`` processes on this machine (see the module docstring)."""

    name = "local"

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=set_worker_environment, initargs=(worker_environment(self.workers),))

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Job]) -> Iterator[JobOutcome]:
        pending = dict(jobs)
        attempts = dict.fromkeys(pending, 0)
        while pending:
            pool = self._pool()
            futures: dict[Future[Any], str] = {pool.submit(fn, pending[k]): k for k in pending}
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
            for key in broken:  # a worker died: rerun (the job resumes from its checkpoint)
                attempts[key] += 1
                if attempts[key] > self.retries:
                    del pending[key]
                    yield JobOutcome(key, failure=JobFailure(
                        f"the worker running it died {attempts[key]} times (killed or out of memory); giving up"))
