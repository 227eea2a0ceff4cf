"""Commands from plugins: every entry point of the ``hno_framework`` group whose module implements
:func:`~hno_framework.hookspecs.register_commands` adds its ``click`` commands to ``hno``.

Only modules whose source defines ``register_commands`` are imported (a plugin of steps and integrators
is not, so ``hno --help`` imports neither torch nor component plugins). A plugin that fails to load or
to register (with any exception, ``BaseException`` included; a real Ctrl-C still interrupts, see
:mod:`.plugin_import`) is reported as broken (one warning line) and the other commands still work. What it
prints while loading is kept off stdout and, with its warnings, reported as one warning line.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import click
import pluggy

from . import hookspecs
from .plugin_import import guarded

HOOK = "register_commands"
DISABLE_ENV = "HNO_DISABLE_PLUGINS"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _source_file(module: str) -> Path | None:
    """The ``.py`` file of ``module``, found without importing it or its parent packages; None if unknown."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    for location in spec.submodule_search_locations or []:
        base = Path(location, *rest)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _defines_hook(module: str) -> bool:
    """Whether the source of ``module`` (read, not imported) mentions the hook; False when there is none to read
    (a plugin that cannot be found is reported by ``hno list plugins``, not on every command)."""
    path = _source_file(module)
    try:
        return path is not None and HOOK in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__


def plugin_commands(taken: Iterable[str], disabled: Iterable[str] = (), *,
                    warn: Callable[[str], None]) -> dict[str, click.Command]:
    """The commands plugins register, by name; names in ``taken`` (the core's) are refused with a warning,
    plugins named in ``disabled`` or ``$HNO_DISABLE_PLUGINS`` are not imported."""
    blocked = {_norm(n.strip()) for n in [*os.environ.get(DISABLE_ENV, "").split(","), *disabled] if n.strip()}
    taken = set(taken)
    found: dict[str, click.Command] = {}
    seen: set[tuple[str, str]] = set()
    for ep in md.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "(unknown distribution)"
        if (dist, ep.value) in seen or {_norm(dist), _norm(ep.name)} & blocked:
            continue
        seen.add((dist, ep.value))
        if not _defines_hook(ep.module):
            continue
        group = click.Group(ep.name)

        def load(ep: md.EntryPoint = ep, dist: str = dist, group: click.Group = group) -> None:
            manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            manager.add_hookspecs(hookspecs)
            manager.register(ep.load(), name=f"{dist}:{ep.name}")
            manager.check_pending()
            manager.hook.register_commands(cli=group)

        outcome = guarded(load)  # a broken plugin must not break the command line (a real Ctrl-C raises)
        if outcome.warnings:
            warn(f"plugin {dist} ({ep.name} = {ep.value}): {'; '.join(outcome.warnings)}")
        if outcome.error is not None:
            warn(f"plugin {dist} ({ep.name} = {ep.value}) is broken: {_error_text(outcome.error)}; "
                 "its commands are not available")
            continue
        for name, command in group.commands.items():
            if name in taken or name in found:
                warn(f"plugin {dist}: command '{name}' is already taken; not added")
            else:
                found[name] = command
    return found
