"""Memory a config will need, estimated before anything is allocated, so that an impossible size
(``m: 10000000``, ``training.test_size: 10**9``) is a one-line error instead of a crash hours later.

The estimate counts only what is surely allocated (a lower bound), in bytes, with ``b`` the bytes
per value of ``training.dtype``:

* Φ ``(m, n)``: generated in float64 and kept in ``b`` → ``m·n·(3·8 + b)``; a basis D (image
  kinds) ``n²·(8 + b)``; none for a matrix-free problem kind, whose ``m`` and ``n`` (entries of one
  measurement and one signal) are read off the problem built from the config (it holds no matrix);
* a data set of ``N`` samples ``(x, y)``: ``2·N·(m + n)·b`` (drawn, then kept);
* a training batch through ``T`` layers with autograd: ``4·B·(T + 1)·(m + n)·b``;
* NMSE per layer on chunks of ≤ 1000 samples: ``min(N, 1000)·(T + 1)·n·b``;
* layer objects: ``T · 4 KiB``;
* the network's own weights (parameters and buffers other than Φ, e.g. LISTA's ``W`` (n×m) per layer):
  counted on the same network composed on small problems and fitted as a quadratic in ``(m, n)``
  (:func:`weight_count`; ``A(m, n) + T·B(m, n)`` for deep networks), times ``b``; left out where the
  count is not of that form.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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


#: Small ``(m, n)`` on which :func:`weight_count` composes the network: 7 sizes for 6 unknowns, so that the fit is
#: also a check. Square n, so that steps on image patches (n = p²) can be probed too.
PROBE_SIZES = ((3, 4), (5, 9), (11, 16), (13, 25), (20, 36), (30, 49), (41, 64))


def _quadratic_terms(m: float, n: float) -> list[float]:
    return [m * n, n * n, m * m, n, m, 1.0]


def _composed_count(config: ExperimentConfig, m: int, n: int, layers: int) -> int:
    """Values in the network's own tensors (unique storages; the problem's Φ, D, … left out) when ``config``'s
    network is composed with ``layers`` layers on a small problem of size ``m × n`` (Lasso, or image-patch CS
    for steps that need a basis or patches)."""
    from .composer import compose
    from .registry import get_registry

    step = get_registry().step(config.network.step.name).cls
    image = bool({"basis", "patch"} & set(step.requires))
    problem = {"kind": "cs" if image else "lasso", "m": m, "n": n, "seed": config.problem.seed, "lam": config.problem.lam,
               "sparsity": config.problem.sparsity, "condition_number": config.problem.condition_number}
    probe = config.model_copy(update={
        "problem": type(config.problem).model_validate(problem),
        "network": config.network.model_copy(update={"layers": layers}),
    })
    return own_tensor_count(compose(probe))


def own_tensor_count(net: Any) -> int:
    """Values in a network's own tensors, by storage: a tied W is one tensor in every layer, and the problem's
    tensors (Φ, D, a kernel; also a step's view of them) are left out."""
    seen = {t.untyped_storage().data_ptr() for t in net.problem.state_dict(keep_vars=True).values()}
    count = 0
    for tensor in net.state_dict(keep_vars=True).values():
        key = tensor.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            count += tensor.numel()
    return count


#: Networks up to this many layers are probed with their own T; deeper ones as ``A + T·B`` from this T and the next
#: (a multistep scheme's first layers, which lack the older terms, all come before it).
PROBE_LAYERS = 16


def _quadratic_fit(counts: Sequence[float]) -> np.ndarray | None:
    """Coefficients of the quadratic in ``(m, n)`` (:func:`_quadratic_terms`) through ``counts`` at the
    :data:`PROBE_SIZES`; None unless it passes through all 7 exactly (to the nearest integer)."""
    design = np.array([_quadratic_terms(m, n) for m, n in PROBE_SIZES])
    coef, *_ = np.linalg.lstsq(design, np.asarray(counts, dtype=float), rcond=None)
    return coef if np.max(np.abs(design @ coef - counts)) <= 0.5 else None


def problem_size(config: ExperimentConfig) -> tuple[int, int, bool]:
    """``(m, n, matrix_free)``: the config's ``problem.m``, ``problem.n`` for a matrix kind; for a matrix-free kind,
    the entries of one measurement and one signal of the problem built from the config (cheap: no matrix)."""
    from .problems import build_problem
    from .registry import get_registry

    if not get_registry().get("problem", config.problem.kind).cls.matrix_free:
        return config.problem.m, config.problem.n, False
    problem = build_problem(config.problem)
    return problem.m, problem.n, True


def _matrix_free_weight_count(config: ExperimentConfig) -> int | None:
    """The network's own weights on the small instance of its matrix-free problem kind (convolution and scalar
    weights do not grow with the image); None when it cannot be composed there."""
    from .composer import compose
    from .registry import get_registry

    info = get_registry().get("problem", config.problem.kind)
    block = info.cls.small_config()
    small = {**block, "kind": config.problem.kind, "seed": config.problem.seed,
             "options": {**config.problem.options, **block.get("options", {})}}
    try:
        return own_tensor_count(compose(config.model_copy(update={"problem": type(config.problem).model_validate(small)})))
    except Exception:  # noqa: BLE001 - a plugin that cannot be built small: its weights are not counted
        return None


def weight_count(config: ExperimentConfig) -> int | None:
    """Values in the weights of ``config``'s network (parameters and buffers other than the problem's), without
    composing it at its size: the same network is composed on the small :data:`PROBE_SIZES` and the counts fitted
    as a quadratic in ``(m, n)`` (W is n×m, S n×n, θ_t 1), evaluated at the config's size. With more than
    :data:`PROBE_LAYERS` layers, as ``A(m, n) + T·B(m, n)`` (``A`` shared, e.g. a tied W; ``B`` per layer) from
    :data:`PROBE_LAYERS` and one more layer, checked on two more. None when a probe cannot be composed or the
    counts are not exactly of that form."""
    if problem_size(config)[2]:
        return _matrix_free_weight_count(config)
    layers = config.network.layers
    deep = layers > PROBE_LAYERS
    try:
        first = [_composed_count(config, m, n, PROBE_LAYERS if deep else layers) for m, n in PROBE_SIZES]
        second = [_composed_count(config, m, n, PROBE_LAYERS + 1) for m, n in PROBE_SIZES] if deep else []
        check = _composed_count(config, *PROBE_SIZES[0], PROBE_LAYERS + 2) if deep else 0
    except Exception:  # noqa: BLE001 - any plugin's failure at these sizes: its weights are not counted
        return None
    terms = np.array(_quadratic_terms(config.problem.m, config.problem.n))
    if not deep:
        fit = _quadratic_fit(first)
        return None if fit is None else max(0, round(float(terms @ fit)))
    per_layer = np.subtract(second, first, dtype=float)
    shared = np.asarray(first, dtype=float) - PROBE_LAYERS * per_layer
    if abs(shared[0] + (PROBE_LAYERS + 2) * per_layer[0] - check) > 0.5:
        return None
    fits = [_quadratic_fit(shared.tolist()), _quadratic_fit(per_layer.tolist())]
    if fits[0] is None or fits[1] is None:
        return None
    return max(0, round(float(terms @ fits[0] + layers * (terms @ fits[1]))))


def estimate_memory(config: ExperimentConfig, *, training: bool = True, test: bool = True,
                    test_size: int | None = None) -> list[MemoryItem]:
    """The parts of the memory estimate (module docstring) of composing ``config``; with ``test``, of
    evaluating it on its test set (``test_size`` overrides ``training.test_size``); with ``training``,
    of training it (validation set, batches)."""
    p, t = config.problem, config.training
    b = 8 if t.dtype == "float64" else 4
    m, n, matrix_free = problem_size(config)
    layers = config.network.layers
    size = test_size or t.test_size
    items = [] if matrix_free else [MemoryItem(f"Φ (problem.m × problem.n = {m} × {n})", m * n * (3 * 8 + b))]
    if p.kind != "lasso" and not matrix_free:
        items.append(MemoryItem(f"basis D (n × n = {n} × {n})", n * n * (8 + b)))
    items.append(MemoryItem(f"{layers} layers (network.layers)", layers * (4096 + n * b)))
    weights = weight_count(config)
    if weights:
        items.append(MemoryItem(f"weights of {layers} '{config.network.step.name}' layers "
                                f"(network.layers, problem.m × problem.n)", weights * b))
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
