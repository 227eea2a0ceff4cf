"""Memory a config will need, estimated before anything is allocated, so that an impossible size
(``m: 10000000``, ``training.test_size: 10**9``) is a one-line error instead of a crash hours later.

The estimate counts only what is surely allocated (a lower bound; the network's own weights
depend on the step and are not counted), in bytes, with ``b`` the bytes per value of
``training.dtype``:

* Φ ``(m, n)``: generated in float64 and kept in ``b`` → ``m·n·(3·8 + b)``; a basis D (image
  kinds) ``n²·(8 + b)``;
* a data set of ``N`` samples ``(x, y)``: ``2·N·(m + n)·b`` (drawn, then kept);
* a training batch through ``T`` layers with autograd: ``4·B·(T + 1)·(m + n)·b``;
* NMSE per layer on chunks of ≤ 1000 samples: ``min(N, 1000)·(T + 1)·n·b``;
* layer objects: ``T · 4 KiB``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import ExperimentConfig
from .errors import HNOError

GIB = 2**30
CHUNK = 1000
"""Samples per chunk of :func:`~hno_framework.evaluation.nmse_per_layer`."""


class ResourceError(HNOError):
    """A config needs more memory than this machine has."""


@dataclass(frozen=True)
class MemoryItem:
    """One part of the estimate: what it is (naming the config keys) and its bytes."""

    what: str
    bytes: int


def estimate_memory(config: ExperimentConfig, *, training: bool = True, test: bool = True,
                    test_size: int | None = None) -> list[MemoryItem]:
    """The parts of the memory estimate (module docstring) of composing ``config``; with ``test``, of
    evaluating it on its test set (``test_size`` overrides ``training.test_size``); with ``training``,
    of training it (validation set, batches)."""
    p, t = config.problem, config.training
    b = 8 if t.dtype == "float64" else 4
    m, n, layers = p.m, p.n, config.network.layers
    size = test_size or t.test_size
    items = [MemoryItem(f"Φ (problem.m × problem.n = {m} × {n})", m * n * (3 * 8 + b))]
    if p.kind != "lasso":
        items.append(MemoryItem(f"basis D (n × n = {n} × {n})", n * n * (8 + b)))
    items.append(MemoryItem(f"{layers} layers (network.layers)", layers * (4096 + n * b)))
    if test:
        items.append(MemoryItem(f"test set (training.test_size = {size})", 2 * size * (m + n) * b))
        items.append(MemoryItem(f"NMSE per layer (min(training.test_size, {CHUNK}) × (network.layers + 1) × n)",
                                min(size, CHUNK) * (layers + 1) * n * b))
    if training:
        items.append(MemoryItem(f"validation set (training.validation_size = {t.validation_size})",
                                2 * t.validation_size * (m + n) * b))
        items.append(MemoryItem(f"a training batch through {layers} layers (training.batch_size = {t.batch_size})",
                                4 * t.batch_size * (layers + 1) * (m + n) * b))
    return items


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of ``/proc/meminfo`` (Linux),
    else the physical memory; None when unknown."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(config: ExperimentConfig, *, training: bool = True, test: bool = True, test_size: int | None = None,
                 available: int | None = None) -> int:
    """Raise :class:`ResourceError` naming the largest part when the estimate exceeds the ``available``
    bytes (default: :func:`available_memory`); returns the estimate in bytes."""
    items = estimate_memory(config, training=training, test=test, test_size=test_size)
    total = sum(i.bytes for i in items)
    limit = available_memory() if available is None else available
    if limit is not None and total > limit:
        largest = max(items, key=lambda i: i.bytes)
        raise ResourceError(
            f"{config.name}: this config needs at least {total / GIB:.3g} GiB of memory, but {limit / GIB:.3g} GiB "
            f"is available; the largest part is the {largest.what}: {largest.bytes / GIB:.3g} GiB; lower the sizes it names"
        )
    return total
