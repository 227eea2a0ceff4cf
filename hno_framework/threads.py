"""How many torch threads a training process uses: the one owner of that number.

An executor's workers and ``training.threads: auto`` both take :func:`threads_per_worker`: the idle cores
(:func:`idle_cores`) shared among the training processes that run beside each other. Only the standard library
is imported here (executors import this module before any torch).
"""

from __future__ import annotations

import os

WORKERS_ENV = "HNO_WORKERS_BESIDE"
"""Environment variable an executor sets in its workers: how many training processes share the cores."""


def available_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where it is missing)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def idle_cores() -> int:
    """Cores not kept busy by other processes: the available cores minus the 1-minute load average (rounded), at
    least 1. A process asks before it trains, so the load is the others' (counting one core less for "this process"
    gave a run starting beside one busy job on 2 cores two threads, and it trained 5× slower). On a shared machine a
    thread per core that someone else is using makes torch's thread pool wait on itself (measured here: 10-100×
    slower)."""
    cores = available_cores()
    try:
        busy = max(0, round(os.getloadavg()[0]))
    except (AttributeError, OSError):
        busy = 0
    return max(1, cores - busy)


def omp_limit() -> int | None:
    """``$OMP_NUM_THREADS`` when it is set to a positive integer (the user's own limit), else None."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def workers_beside() -> int:
    """Training processes running beside this one on the machine: ``$HNO_WORKERS_BESIDE`` (set by an executor,
    default 1) times ``$LOCAL_WORLD_SIZE`` (the processes ``torchrun`` starts here, default 1)."""
    return int(os.environ.get(WORKERS_ENV, "1") or 1) * int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)


def threads_per_worker(workers: int | None = None) -> int:
    """Threads for each of ``workers`` training processes (default :func:`workers_beside`): the idle cores divided
    among them, at least 1, and never more than ``$OMP_NUM_THREADS`` when the user set it."""
    share = max(1, idle_cores() // max(1, workers_beside() if workers is None else workers))
    limit = omp_limit()
    return share if limit is None else min(share, limit)


def resolve_threads(threads: int | str | None, workers: int | None = None) -> int | None:
    """Intra-op threads for ``training.threads``: an int as given, capped at :func:`available_cores` (more threads
    than cores only wait on each other, and OpenMP crashes when it cannot create them); ``"auto"`` =
    :func:`threads_per_worker`; None leaves torch's setting alone."""
    if threads is None:
        return None
    if threads != "auto":
        return max(1, min(int(threads), available_cores()))
    return threads_per_worker(workers)


def apply_threads(threads: int | str | None, workers: int | None = None) -> int:
    """Set torch's intra-op threads per :func:`resolve_threads`; returns the number in force."""
    import torch

    n = resolve_threads(threads, workers)
    if n is not None and n != torch.get_num_threads():
        torch.set_num_threads(n)
    return torch.get_num_threads()
