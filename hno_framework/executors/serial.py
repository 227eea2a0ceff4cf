"""The serial executor: jobs one after another in this process (the reference for the others)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .base import Executor, Job, JobFailure, JobOutcome


class SerialExecutor(Executor):
    """Runs each job in this process; a failing job is reported and the next one runs."""

    name = "serial"

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Job]) -> Iterator[JobOutcome]:
        for key, payload in jobs:
            try:
                yield JobOutcome(key, fn(payload))
            except Exception as exc:  # noqa: BLE001 - reported per job, the others go on
                yield JobOutcome(key, failure=JobFailure.from_exception(exc))
