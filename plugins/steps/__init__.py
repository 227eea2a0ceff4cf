"""Built-in unfolding steps (entry point ``builtin-steps``)."""

from __future__ import annotations

from hno_framework import hookimpl

from .alista import ALISTAStep
from .glista import GLISTAStep
from .ista import ISTAStep
from .ista_net import ISTANetStep
from .lamp import LAMPStep
from .liht import LIHTStep
from .lista import LISTAStep
from .lista_cpss import LISTACPSSStep
from .lista_cs import LISTACSStep

BUILTIN_STEPS = [
    ISTAStep,
    LISTAStep,
    LISTACSStep,
    GLISTAStep,
    ISTANetStep,
    ALISTAStep,
    LIHTStep,
    LAMPStep,
    LISTACPSSStep,
]


@hookimpl
def register_steps(register):
    for cls in BUILTIN_STEPS:
        register(cls)
