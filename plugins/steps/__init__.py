"""Built-in unfolding steps (entry point ``builtin-steps``)."""

from __future__ import annotations

from hno_framework import hookimpl

from .ista import ISTAStep
from .lista import LISTAStep

BUILTIN_STEPS = [ISTAStep, LISTAStep]


@hookimpl
def register_steps(register):
    for cls in BUILTIN_STEPS:
        register(cls)
