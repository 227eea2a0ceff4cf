"""Everything a run needs before its first step: threads, device, network, data."""

from __future__ import annotations

import os

import torch

from ..composer import compose
from ..config import ExperimentConfig
from ..data import DataSplits, make_splits
from ..errors import ConfigError
from ..network import UnrolledNetwork
from .distributed import rank_device

WORKERS_ENV = "HNO_WORKERS_BESIDE"
"""Environment variable an executor sets in its workers: how many training processes share the cores."""


def available_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where it is missing)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def idle_cores() -> int:
    """Cores not kept busy by other processes: the available cores minus the 1-minute load average
    (rounded, less one for this process itself), at least 1. On a shared machine a thread per core
    that someone else is using makes torch's thread pool wait on itself (measured here: 10-100× slower)."""
    cores = available_cores()
    try:
        busy = max(0, round(os.getloadavg()[0]) - 1)
    except (AttributeError, OSError):
        busy = 0
    return max(1, cores - busy)


def resolve_threads(threads: int | str | None, workers: int | None = None) -> int | None:
    """Intra-op threads for ``training.threads``: an int as given; ``"auto"`` = the idle cores (:func:`idle_cores`) divided by
    the training processes running beside each other (``workers``, default ``$HNO_WORKERS_BESIDE`` or 1, times
    ``$LOCAL_WORLD_SIZE``, the processes ``torchrun`` starts on this machine), at least 1; None leaves torch's
    setting alone."""
    if threads is None:
        return None
    if threads != "auto":
        return int(threads)
    if workers is None:
        workers = int(os.environ.get(WORKERS_ENV, "1") or 1) * int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, idle_cores() // max(1, workers))


def apply_threads(threads: int | str | None, workers: int | None = None) -> int:
    """Set torch's intra-op threads per :func:`resolve_threads`; returns the number in force."""
    n = resolve_threads(threads, workers)
    if n is not None and n != torch.get_num_threads():
        torch.set_num_threads(n)
    return torch.get_num_threads()


def resolve_device(name: str) -> torch.device:
    """``training.device``: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda[:k]``, ``mps``;
    a device this torch cannot use is a :class:`ConfigError` naming the fix, not a traceback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"training.device: unknown device '{name}'; use auto, cpu, cuda, cuda:K or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"training.device={name}, but this torch ({torch.__version__}) has no usable CUDA device; "
                              "use training.device=auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"training.device={name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"training.device={name}, but MPS is not available; use auto or cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"training.device: unsupported device type '{device.type}'; use auto, cpu, cuda or mps")
    return device


def build_for_training(config: ExperimentConfig) -> tuple[UnrolledNetwork, DataSplits, torch.device]:
    """The network (on ``training.device``; under ``torchrun`` ``cuda`` means ``cuda:LOCAL_RANK``), its data splits
    and the device; applies ``training.threads``."""
    tcfg = config.training
    apply_threads(tcfg.threads)
    device = rank_device(resolve_device(tcfg.device))
    net = compose(config).to(device)
    return net, make_splits(net.problem, config), device
