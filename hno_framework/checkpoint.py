"""Checkpoints: a state_dict plus the config that built the network, written atomically.

Format (a dict saved with ``torch.save``, loaded with ``torch.load(weights_only=True)`` so that
loading never executes code): ``format``, ``config`` (JSON-able dict), ``model`` (state_dict),
``digest`` (SHA-256 of the config and every model tensor, verified on load: a damaged file is refused, not
evaluated; checkpoints written before it existed load unverified) and, for resumable training checkpoints, ``optimizer``, ``scheduler``, ``iteration``,
``generator`` (RNG state of the training batches), ``best`` and ``history``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .errors import CheckpointError, UnknownComponentError
from .io import atomic_write, file_kind

if TYPE_CHECKING:
    from .config import ExperimentConfig
    from .network import UnrolledNetwork

__all__ = [
    "FORMAT_VERSION", "load_checkpoint", "load_network", "load_resume_state", "load_weights", "pin_providers",
    "save_checkpoint",
]

FORMAT_VERSION = 1


def content_digest(config: Mapping[str, Any], model: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the config (canonical JSON) and every model tensor: name, dtype, shape and raw bytes."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name in sorted(model):
        tensor = model[name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Atomically save ``payload`` (must contain ``config`` and ``model``) with the format version and the content
    digest of its config and weights."""
    missing = {"config", "model"} - payload.keys()
    if missing:
        raise ValueError(f"checkpoint payload lacks {sorted(missing)}")
    model = payload["model"]
    sealed = isinstance(model, Mapping) and all(isinstance(v, torch.Tensor) for v in model.values())
    digest = {"digest": content_digest(payload["config"], model)} if sealed else {}  # else refused on load anyway
    return atomic_write(path, lambda fh: torch.save({"format": FORMAT_VERSION, **payload, **digest}, fh))


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def check_fields(path: Path, payload: Mapping[str, Any], fields: Mapping[str, type | tuple[type, ...]]) -> None:
    """Raise :class:`CheckpointError` unless every present key of ``fields`` has the expected type
    (a crafted or damaged checkpoint is refused with the key named, never a traceback)."""
    for key, kind in fields.items():
        if key not in payload:
            continue
        kinds = kind if isinstance(kind, tuple) else (kind,)
        value = payload[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise CheckpointError(f"{path} is damaged: '{key}' should be {names}, found {_describe(value)}")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint without executing code (``weights_only=True``) and check its top-level fields:
    ``config`` a dict, ``model`` a state_dict (str -> Tensor), ``format`` an int ≤ :data:`FORMAT_VERSION`."""
    path = Path(path)
    if path.is_dir():
        hint = f"; did you mean {path / 'best.pt'}?" if (path / "best.pt").is_file() else "; give a .pt file"
        raise CheckpointError(f"{path} is a directory, not a checkpoint{hint}")
    kind = file_kind(path)
    if kind is not None:
        raise CheckpointError(f"{path} is {kind}, not a checkpoint; give a best.pt or last.pt written by hno train")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not an hno-framework checkpoint (not a torch.save archive); "
                              "give a best.pt or last.pt written by hno train")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- corrupt file, or something that is not a weights-only checkpoint
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CheckpointError(f"{path} is not an hno-framework checkpoint (no 'model'/'config' entries)")
    check_fields(path, payload, {"format": int, "config": dict, "model": dict})
    if payload.get("format", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {payload['format']}; this hno-framework reads ≤ {FORMAT_VERSION}: upgrade it")
    bad = [k for k, v in payload["model"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path} is damaged: 'model' entry {bad[0]!r} is not a named tensor")
    check_fields(path, payload, {"digest": str})
    if "digest" in payload and content_digest(payload["config"], payload["model"]) != payload["digest"]:
        raise CheckpointError(f"{path} is damaged: its config or weights do not match the SHA-256 it was saved with; "
                              "restore the file or train again")
    return payload


def load_weights(module: nn.Module, state: Mapping[str, Any], source: str | Path) -> None:
    """``module.load_state_dict(state)`` (strict); a mismatch is a :class:`CheckpointError` listing every
    missing and unexpected key and every shape that differs (``key: saved (a, b) vs network (c, d)``)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: saved {tuple(state[k].shape)} vs network {tuple(own[k].shape)}"
        for k in own
        if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != own[k].shape
    ]
    not_tensors = [k for k in own if k in state and not isinstance(state[k], torch.Tensor)]
    parts = [f"{label}: {', '.join(items)}" for label, items in
             (("missing", missing), ("unexpected", unexpected), ("shapes differ", shapes), ("not tensors", not_tensors))
             if items]
    if parts:
        raise CheckpointError(f"weights in {source} do not fit the network its config builds; " + "; ".join(parts))
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"weights in {source} do not fit the network: {str(exc).splitlines()[0]}") from None


RESUME_FIELDS: dict[str, type | tuple[type, ...]] = {"optimizer": dict, "generator": torch.Tensor}
"""Types of the training-state entries every resumable ``last.pt`` has (checked before use)."""


def load_resume_state(
    path: str | Path, config: Any, ignore: dict[str, Any], fields: Mapping[str, type | tuple[type, ...]] | None = None
) -> dict[str, Any] | None:
    """The training state in ``path`` (a ``last.pt``) if it exists, None if not; its entries are
    type-checked against :data:`RESUME_FIELDS` and the trainer's own ``fields``.

    Raises :class:`CheckpointError` when it was written by a config that differs from ``config``
    (an :class:`~hno_framework.config.ExperimentConfig`) outside the fields in ``ignore``
    (a pydantic ``exclude`` mapping, e.g. ``{"training": {"iterations": True}}``).
    """
    from .config import parse_config

    path = Path(path)
    if not path.is_file():
        return None
    state = load_checkpoint(path)
    check_fields(path, state, {**RESUME_FIELDS, **(fields or {})})
    saved = parse_config(state["config"], f"stored in {path}")
    if saved.model_dump(exclude=ignore) != config.model_dump(exclude=ignore):
        raise CheckpointError(
            f"cannot resume: {path} was written by a different config; use another output.dir/name or drop --resume"
        )
    return state


def pin_providers(config: Any, providers: Any) -> Any:
    """``config`` with its step and integrator names qualified (``DIST:NAME``) where two installed plugins
    register the name and ``providers`` (a checkpoint's ``{"step": {"plugin": ...}, ...}``, see
    :func:`hno_framework.registry.network_providers`) records which one built the network."""
    from .registry import get_registry

    if not isinstance(providers, Mapping):
        return config
    network = config.network
    for kind in ("step", "integrator"):
        recorded = providers.get(kind)
        spec = getattr(network, kind)
        plugin = recorded.get("plugin") if isinstance(recorded, Mapping) else None
        name = get_registry().resolve(kind, spec.name, plugin if isinstance(plugin, str) else None)
        if name != spec.name:
            network = network.model_copy(update={kind: spec.model_copy(update={"name": name})})
    return config.model_copy(update={"network": network})


def load_network(path: str | Path) -> tuple[UnrolledNetwork, ExperimentConfig]:
    """Rebuild the network from a checkpoint's config and load its weights: ``(network, config)``.

    When the checkpoint records the ``providers`` of its step and integrator, a name that two
    installed plugins register resolves to the recorded plugin (see :func:`pin_providers`).
    """
    from .composer import compose
    from .config import parse_config

    payload = load_checkpoint(path)
    config = pin_providers(parse_config(payload["config"], f"stored in {path}"), payload.get("providers"))
    try:
        net = compose(config)
    except UnknownComponentError as exc:
        raise _with_recorded_provider(exc, payload.get("providers"), path) from None
    load_weights(net, payload["model"], path)
    return net, config


def _with_recorded_provider(exc: UnknownComponentError, providers: Any, path: str | Path) -> UnknownComponentError:
    """``exc`` with the distribution and version the checkpoint records for the missing component, if it does."""
    recorded = providers.get(exc.kind) if isinstance(providers, Mapping) else None
    if not isinstance(recorded, Mapping) or recorded.get("name") != exc.name.rpartition(":")[2]:
        return exc
    dist, version = recorded.get("plugin"), recorded.get("version")
    note = (f" {path} was written with {exc.kind} '{exc.name}' from plugin {dist} {version}"
            f" (entry point {recorded.get('entry_point', '?')}), which is not installed here: pip install '{dist}=={version}'.")
    trouble = str(exc).partition(" Note:")  # broken or disabled plugins, as the registry noted them
    return UnknownComponentError(exc.kind, exc.name, exc.known, note=note + trouble[1] + trouble[2])
