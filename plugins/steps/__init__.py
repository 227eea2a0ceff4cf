"""Built-in unfolding steps (entry point ``builtin-steps``)."""

from __future__ import annotations

from hno_framework import hookimpl

from .alista import ALISTAStep
from .glista import GLISTAStep
from .hqs_cnn import HQSCNNStep
from .ista import ISTAStep
from .ista_net import ISTANetStep
from .lamp import LAMPStep
from .learned_pg import LearnedPGStep
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
    LearnedPGStep,
    HQSCNNStep,
]


@hookimpl
def register_steps(register):
    for cls in BUILTIN_STEPS:
        register(cls)
