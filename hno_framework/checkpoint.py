"""Checkpoints: a state_dict plus the config that built the network, written atomically.

Format (a dict saved with ``torch.save``, loaded with ``torch.load(weights_only=True)`` so that
loading never executes code): ``format``, ``config`` (JSON-able dict), ``model`` (state_dict)
and, for resumable training checkpoints, ``optimizer``, ``scheduler``, ``iteration``,
``generator`` (RNG state of the training batches), ``best`` and ``history``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

FORMAT_VERSION = 1


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through a temporary file in the same folder, then ``os.replace`` it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON."""
    return atomic_write(path, lambda fh: json.dump(data, fh, indent=2, sort_keys=False), mode="w")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Atomically save ``payload`` (must contain ``config`` and ``model``) with the format version."""
    missing = {"config", "model"} - payload.keys()
    if missing:
        raise ValueError(f"checkpoint payload lacks {sorted(missing)}")
    return atomic_write(path, lambda fh: torch.save({"format": FORMAT_VERSION, **payload}, fh))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint without executing code (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, or something that is not a weights-only checkpoint
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CheckpointError(f"{path} is not an hno-framework checkpoint (no 'model'/'config' entries)")
    if payload.get("format", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {payload['format']}; this hno-framework reads ≤ {FORMAT_VERSION}: upgrade it")
    return payload


def load_resume_state(path: str | Path, config: Any, ignore: dict[str, Any]) -> dict[str, Any] | None:
    """The training state in ``path`` (a ``last.pt``) if it exists, None if not.

    Raises :class:`CheckpointError` when it was written by a config that differs from ``config``
    (an :class:`~hno_framework.config.ExperimentConfig`) outside the fields in ``ignore``
    (a pydantic ``exclude`` mapping, e.g. ``{"training": {"iterations": True}}``).
    """
    from .config import parse_config

    path = Path(path)
    if not path.is_file():
        return None
    state = load_checkpoint(path)
    saved = parse_config(state["config"], f"stored in {path}")
    if saved.model_dump(exclude=ignore) != config.model_dump(exclude=ignore):
        raise CheckpointError(
            f"cannot resume: {path} was written by a different config; use another output.dir/name or drop --resume"
        )
    return state


def load_network(path: str | Path):
    """Rebuild the network from a checkpoint's config and load its weights: ``(network, config)``."""
    from .composer import compose
    from .config import parse_config

    payload = load_checkpoint(path)
    config = parse_config(payload["config"], f"stored in {path}")
    net = compose(config)
    try:
        net.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {path} do not fit the network its config builds: {str(exc).splitlines()[0]}") from None
    return net, config
