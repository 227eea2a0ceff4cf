"""hno-framework: deep unfolding networks as swappable, learnable ODE solvers.

Importing this package is cheap: torch-backed names are loaded on first access, so that
``hno --help`` stays fast. Public API (see ``docs/``)::

    from hno_framework import compose, load_config, list_steps, list_integrators
    from hno_framework import UnfoldingStep, Integrator, hookimpl
    net, config = load_network("runs/x/best.pt"); net.with_integrator("2no")
    result = train("examples/2no-lista.yaml", init_from="runs/example/lista/best.pt")  # or a dict / ExperimentConfig
"""

from __future__ import annotations

import importlib
from typing import Any

from .hookspecs import ENTRY_POINT_GROUP, hookimpl, hookspec

__version__ = "0.1.0"

_LAZY = {
    "UnfoldingStep": "step",
    "ForwardContext": "step",
    "LayerInfo": "step",
    "Integrator": "integrator",
    "IntegratorMetadata": "integrator",
    "IntegratorLayout": "integrator",
    "History": "integrator",
    "VectorField": "integrator",
    "Options": "options",
    "Problem": "problems.base",
    "SignalBatch": "problems.base",
    "UnrolledNetwork": "network",
    "compose": "composer",
    "compose_network": "composer",
    "Registry": "registry",
    "get_registry": "registry",
    "list_steps": "registry",
    "list_integrators": "registry",
    "ExperimentConfig": "config",
    "load_config": "config",
    "nmse_db": "metrics",
    "train": "api",
    "evaluate": "evaluation",
    "load_checkpoint": "checkpoint",
    "load_network": "checkpoint",
}

__all__ = ["ENTRY_POINT_GROUP", "__version__", "hookimpl", "hookspec"]
__all__ += list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hno_framework' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
