"""Built-in integrators (entry point ``builtin-integrators``)."""

from __future__ import annotations

from hno_framework import hookimpl

from .euler import Euler
from .two_no import TwoNO

BUILTIN_INTEGRATORS = [Euler, TwoNO]


@hookimpl
def register_integrators(register):
    for cls in BUILTIN_INTEGRATORS:
        register(cls)
