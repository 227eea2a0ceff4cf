"""The hooks a plugin implements.

A plugin is a module exposed through an entry point in the ``hno_framework`` group.
It implements any of the hooks below with the :data:`hookimpl` marker; each hook
receives a ``register`` callback and calls it once per component class::

    from hno_framework import hookimpl

    @hookimpl
    def register_steps(register):
        register(MyStep)

The project name ``hno_framework`` is shared by the hook markers, the pluggy plugin
manager and the entry-point group, as in pluggy/pytest practice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "hno_framework"
ENTRY_POINT_GROUP = "hno_framework"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[type[Any]], None]


@hookspec
def register_steps(register: Register) -> None:
    """Register :class:`~hno_framework.step.UnfoldingStep` subclasses, one ``register(cls)`` each."""


@hookspec
def register_integrators(register: Register) -> None:
    """Register :class:`~hno_framework.integrator.Integrator` subclasses, one ``register(cls)`` each."""


@hookspec
def register_loggers(register: Register) -> None:
    """Register :class:`~hno_framework.loggers.Logger` subclasses, one ``register(cls)`` each."""


@hookspec
def register_problems(register: Register) -> None:
    """Register :class:`~hno_framework.problems.kind.ProblemKind` subclasses (problem kinds: an operator ``A``
    with its data), one ``register(cls)`` each."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add ``click`` commands or groups to the ``hno`` command line: ``cli.add_command(my_group)``.

    ``cli`` is a :class:`click.Group`. A name the core already uses is refused (the core's command stays).
    The CLI imports a plugin module for its commands only when its source defines ``register_commands``,
    so ``hno --help`` stays fast; keep the module light (click only) and import heavy code inside commands.
    """
