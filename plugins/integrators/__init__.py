"""Built-in integrators (entry point ``builtin-integrators``)."""

from __future__ import annotations

from hno_framework import hookimpl

from .adams_bashforth import AB2, AB3, AB4
from .euler import Euler
from .linear_multistep import LinearMultistep
from .predictor_corrector import ABM2
from .runge_kutta import RK4, Heun, RungeKutta
from .three_no import ThreeNO
from .two_no import TwoNO

BUILTIN_INTEGRATORS = [Euler, TwoNO, ThreeNO, LinearMultistep, AB2, AB3, AB4, Heun, RK4, RungeKutta, ABM2]


@hookimpl
def register_integrators(register):
    for cls in BUILTIN_INTEGRATORS:
        register(cls)
