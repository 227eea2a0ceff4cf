"""Warm start: a new network starts from a trained one (``training.init_from``, ``hno train --init-from``).

Every step and problem tensor of the new network (state-dict keys outside ``integrator.``) is copied from the
source checkpoint; the keys and shapes must match exactly, or nothing is copied and one error names the ones that
differ. The integrator keeps its own initial coefficients, or, with ``init_integrator: euler``, starts where the
scheme is forward Euler (:meth:`~hno_framework.integrator.Integrator.reference_coefficients`), so that a LISTA
warm-started into 2NO-LISTA computes exactly what the LISTA did. The checkpoint is loaded without running code
(:func:`~hno_framework.checkpoint.load_checkpoint`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from .checkpoint import load_checkpoint
from .errors import CheckpointError, ConfigError
from .integrator import Integrator
from .network import UnrolledNetwork

INTEGRATOR_PREFIX = "integrator."
EULER_NAMES = ("euler", "plain DUN")  # the names under which a scheme gives its forward-Euler coefficients


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _names(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def transferable(target: dict[str, Tensor], source: dict[str, Tensor]) -> list[str]:
    """The keys copied by a warm start (every non-integrator key of ``target``); raises :class:`ConfigError` in
    one line naming the keys missing on either side and those whose shapes differ."""
    want = [k for k in target if not k.startswith(INTEGRATOR_PREFIX)]
    have = [k for k in source if not k.startswith(INTEGRATOR_PREFIX)]
    missing = [k for k in want if k not in source]
    extra = [k for k in have if k not in target]
    shapes = [f"{k} {tuple(source[k].shape)} vs {tuple(target[k].shape)}" for k in want
              if k in source and tuple(source[k].shape) != tuple(target[k].shape)]
    problems = []
    if missing:
        problems.append(f"not in the checkpoint: {_names(missing)}")
    if extra:
        problems.append(f"not in the new network: {_names(extra)}")
    if shapes:
        problems.append(f"different shapes (checkpoint vs new): {_names(shapes)}")
    if problems:
        raise ConfigError("cannot warm start: " + "; ".join(problems) + " (the step and the problem must be those of "
                          "the trained network; only the integrator may differ)")
    return want


def set_to_euler(integrator: Integrator) -> None:
    """Set ``integrator``'s coefficients to its forward-Euler values (its ``reference_coefficients()``, in the
    per-layer layout of ``inspect_coefficients()``: a parameter takes the trailing entries of its size, the leading
    layers being fixed). Checked afterwards against ``inspect_coefficients()``; a scheme without Euler reference
    values, or whose parameters do not map onto them, is a :class:`ConfigError`."""
    refs = integrator.reference_coefficients()
    ref = next((refs[n] for n in EULER_NAMES if n in refs), None)
    name = getattr(integrator, "name", type(integrator).__name__)
    if ref is None:
        raise ConfigError(f"integrator {name} has no forward-Euler reference coefficients; use init_integrator: own")
    params = dict(integrator.named_parameters())
    with torch.no_grad():
        for key, values in ref.items():
            if key not in params:
                continue
            p, flat = params[key], values.reshape(-1)
            if values.shape == p.shape:
                p.copy_(values)
            elif flat.numel() >= p.numel() and bool(torch.isfinite(flat[-p.numel():]).all()):
                p.copy_(flat[-p.numel():].reshape(p.shape))
    now = integrator.inspect_coefficients()
    for key, values in ref.items():
        got = now.get(key)
        finite = torch.isfinite(values)
        if got is None or got.shape != values.shape or not torch.allclose(got[finite].float(), values[finite].float()):
            raise ConfigError(f"integrator {name}: its coefficients cannot be set to the forward-Euler values "
                              f"({key} does not map onto them); use init_integrator: own")


def warm_start(net: UnrolledNetwork, checkpoint: str | Path,
               integrator: Literal["own", "euler"] = "own") -> dict[str, str]:
    """Copy the step and problem tensors of ``checkpoint`` into ``net`` (see the module docstring); returns what the
    new run records: ``{"path", "sha256"}`` of the source checkpoint."""
    path = Path(checkpoint)
    payload = load_checkpoint(path)
    source = payload.get("model")
    if not isinstance(source, dict):
        raise CheckpointError(f"{path} holds no network weights (model)")
    target = net.state_dict()
    keys = transferable(target, source)
    with torch.no_grad():
        for k in keys:
            target[k].copy_(source[k].to(target[k].device, target[k].dtype))
    if integrator == "euler":
        set_to_euler(net.integrator)
    return {"path": str(path), "sha256": file_sha256(path)}
