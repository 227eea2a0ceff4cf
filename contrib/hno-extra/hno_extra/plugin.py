"""Hook implementations of hno-extra: the module the ``hno_framework`` entry point names.

hno-framework loads this module through the entry point ``extra = "hno_extra.plugin"``
(see ``pyproject.toml``) and calls each hook with a ``register`` callback.
"""

from __future__ import annotations

from hno_framework import hookimpl

from .mlp_prox import MLPProxStep
from .ssprk3 import SSPRK3

STEPS = [MLPProxStep]
INTEGRATORS = [SSPRK3]


@hookimpl
def register_steps(register):
    for cls in STEPS:
        register(cls)


@hookimpl
def register_integrators(register):
    for cls in INTEGRATORS:
        register(cls)
