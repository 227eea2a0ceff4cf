"""The component registry: entry points -> pluggy -> named steps, integrators, loggers and problem kinds.

Every plugin, our built-ins included, is a module named by an entry point in the
``hno_framework`` group. Each entry point is loaded through :func:`.plugin_import.guarded`: a
plugin that fails to import (with any ``BaseException``: ``sys.exit``, ``GeneratorExit``, a
``KeyboardInterrupt`` it raises itself; a real Ctrl-C still interrupts), names something that is not a module, implements
a hook that does not exist (pluggy's ``check_pending``) or registers an invalid class is
recorded as a :class:`BrokenPlugin` with its distribution and error, and everything else still
works. What a plugin prints while loading is kept off stdout and, with the warnings it raises, becomes
a plugin warning; a plugin's warnings are emitted as one :class:`PluginWarning` per plugin. A plugin
that registers nothing gets a warning. Set ``HNO_STRICT_PLUGINS=1`` to make
all of these raise (useful while writing a plugin).

A name registered by two providers is a conflict: the plain name is refused with
:class:`DuplicateComponentError` naming both (never last-wins), and each provider's component
stays usable under its qualified name ``DIST:NAME`` (e.g. ``hno-framework:lista``). A plugin
can be blocked, i.e. not even imported, with ``HNO_DISABLE_PLUGINS=dist1,dist2`` (distribution
or entry-point names) or ``hno --disable-plugin NAME``.

The kinds of component are listed in :data:`KINDS`; adding one is one entry in :data:`HOOKS`
and :data:`BASES` (and, optionally, a class check in :data:`CLASS_CHECKS`).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata as md
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from types import ModuleType
from typing import Any, Generic, Literal, Protocol, TypeVar

import pluggy

from . import hookspecs
from .errors import DuplicateComponentError, PluginError, PluginWarning, UnknownComponentError
from .plugin_import import guarded

Kind = Literal["step", "integrator", "logger", "problem"]
KINDS: tuple[Kind, ...] = ("step", "integrator", "logger", "problem")
HOOKS: dict[Kind, str] = {"step": "register_steps", "integrator": "register_integrators", "logger": "register_loggers",
                          "problem": "register_problems"}
"""The hook that registers each kind."""
BASES: dict[Kind, str] = {
    "step": "hno_framework.step:UnfoldingStep",
    "integrator": "hno_framework.integrator:Integrator",
    "logger": "hno_framework.loggers.base:Logger",
    "problem": "hno_framework.problems.kind:ProblemKind",
}
"""The base class (``module:attribute``, imported on first use) every registered class of a kind extends."""
NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
STEP_REQUIREMENTS = frozenset({"basis", "patch", "matrix", "image"})
"""What a step's ``requires`` may name (what :meth:`UnfoldingStep.check_problem` understands)."""
STRICT_ENV = "HNO_STRICT_PLUGINS"
DISABLE_ENV = "HNO_DISABLE_PLUGINS"
QUALIFIER = ":"

_disabled_here: set[str] = set()  # names blocked by disable_plugins() (the CLI's --disable-plugin)


def _norm(name: str) -> str:
    """Distribution names compare case-insensitively with ``-``, ``_`` and ``.`` equal (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({exc.code!r}) while being loaded"
    if not isinstance(exc, Exception):
        return f"{type(exc).__name__} raised by the plugin while being loaded" + (f": {exc}" if str(exc) else "")
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Provider:
    """Where a component comes from: ``distribution`` name and ``version``, ``entry_point`` (name = value)."""

    distribution: str
    version: str
    entry_point: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (entry point {self.entry_point})"

    @property
    def entry_point_name(self) -> str:
        return self.entry_point.split("=", 1)[0].strip()

    def as_dict(self) -> dict[str, str]:
        return {"plugin": self.distribution, "version": self.version, "entry_point": self.entry_point}


@dataclass(frozen=True)
class ComponentInfo:
    """A registered component: its ``name``, ``kind``, class and provider."""

    name: str
    kind: Kind
    cls: Any
    provider: Provider

    @property
    def qualified_name(self) -> str:
        """``DIST:NAME``: the name that selects this provider when two register ``name``."""
        return f"{self.provider.distribution}{QUALIFIER}{self.name}"

    @property
    def summary(self) -> str:
        return self.cls.summary()

    def options_schema(self) -> dict[str, Any]:
        return self.cls.Options.model_json_schema()

    def metadata(self) -> dict[str, Any] | None:
        """Integrator metadata with default options (None for other kinds)."""
        if self.kind != "integrator":
            return None
        return self.cls.describe(self.cls.Options()).model_dump()

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": self.name,
            "qualified_name": self.qualified_name,
            "kind": self.kind,
            **self.provider.as_dict(),
            "summary": self.summary,
            "class": f"{self.cls.__module__}.{self.cls.__qualname__}",
            "options_schema": self.options_schema(),
        }
        if self.kind == "integrator":
            row["metadata"] = self.metadata()
            row.update(self.metadata() or {})
        elif self.kind == "step":
            row["tieable"] = list(self.cls.tieable)
            row["requires"] = sorted(self.cls.requires)
        elif self.kind == "problem":
            row["matrix_free"] = bool(self.cls.matrix_free)
            row["signal"] = self.cls.signal
        return row


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded: ``provider``, the ``error`` (``Type: message``) and ``warnings``
    (what it warned or printed before failing)."""

    provider: Provider
    error: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**self.provider.as_dict(), "error": self.error, "warnings": list(self.warnings)}


@dataclass
class PluginRecord:
    """A loaded plugin, the names it registered per kind, and ``warnings`` (e.g. it registers nothing)."""

    provider: Provider
    module: str
    components: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    warnings: list[str] = field(default_factory=list)
    commands: bool = False  # implements register_commands (adds hno commands; see hno_framework.commands)

    @property
    def steps(self) -> list[str]:
        return self.components["step"]

    @property
    def integrators(self) -> list[str]:
        return self.components["integrator"]

    @property
    def loggers(self) -> list[str]:
        return self.components["logger"]

    @property
    def problems(self) -> list[str]:
        return self.components["problem"]


# -- checks of a registered class -------------------------------------------------------------------

def _call(what: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except Exception as exc:
        raise PluginError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _check_behaviour(cls: Any, label: str) -> None:
    from .behaviour import BEHAVIOURS, unknown_behaviours

    declared: object = getattr(cls, "behaviour", frozenset())
    unknown = unknown_behaviours(declared)
    if unknown is None:
        raise PluginError(f"{label}.behaviour = {declared!r} must be a frozenset of names, e.g. frozenset({{'stochastic'}})")
    if unknown:
        hints = [f"'{u}'" + (f" (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(u, BEHAVIOURS, 1)) else "")
                 for u in unknown]
        raise PluginError(f"{label}.behaviour names unknown declaration {', '.join(hints)}; "
                          f"known: {', '.join(sorted(BEHAVIOURS))}")


def _check_step(cls: Any, label: str) -> None:
    _check_behaviour(cls, label)
    requires, tieable = cls.requires, cls.tieable
    if isinstance(requires, str) or not all(isinstance(r, str) for r in requires):
        raise PluginError(f"{label}.requires = {requires!r} must be a frozenset of names, e.g. frozenset({{'basis'}})")
    unknown = sorted(set(requires) - STEP_REQUIREMENTS)
    if unknown:
        hints = [f"'{u}'" + (f" (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(u, STEP_REQUIREMENTS, 1)) else "")
                 for u in unknown]
        raise PluginError(f"{label}.requires names unknown requirement {', '.join(hints)}; "
                          f"known: {', '.join(sorted(STEP_REQUIREMENTS))}")
    if isinstance(tieable, str) or not all(isinstance(t, str) for t in tieable):
        raise PluginError(f"{label}.tieable = {tieable!r} must be a tuple of parameter names, e.g. ('W',)")


def _check_integrator(cls: Any, label: str) -> None:
    from .integrator_metadata import IntegratorMetadata

    _check_behaviour(cls, label)
    options = _call(f"{label}.Options() (integrator options need a default for every field)", cls.Options)
    metadata = _call(f"{label}.describe(default options)", lambda: cls.describe(options))
    if not isinstance(metadata, IntegratorMetadata):
        raise PluginError(f"{label}.describe() returned {type(metadata).__name__}, expected IntegratorMetadata")


CLASS_CHECKS: dict[Kind, Callable[[Any, str], None]] = {"step": _check_step, "integrator": _check_integrator}
"""Extra checks of a registered class per kind (``check(cls, label)`` raises :class:`PluginError`)."""


def _base(kind: Kind) -> type:
    module, _, attr = BASES[kind].partition(":")
    return getattr(importlib.import_module(module), attr)


def check_component_class(kind: Kind, component: object, provider: Provider) -> str:
    """Return ``cls.name`` after checking that ``cls`` can be registered as a ``kind``: a subclass of the
    kind's base with a valid name, a ``summary()`` and an ``Options`` model that work, and the kind's
    own :data:`CLASS_CHECKS`. Raises :class:`PluginError` naming the distribution, class and fix."""
    from pydantic import BaseModel

    base = _base(kind)
    if not (isinstance(component, type) and issubclass(component, base)):
        raise PluginError(f"{provider.distribution} registered {component!r} as a {kind}; expected a subclass of {base.__name__}")
    cls: Any = component
    label = f"{provider.distribution}: {kind} {cls.__qualname__}"
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PluginError(
            f"{provider.distribution}: {cls.__qualname__}.name = {name!r} is not a valid name "
            "(lower-case letters, digits and dashes, e.g. 'my-step')"
        )
    summary = _call(f"{label}.summary()", cls.summary)
    if not isinstance(summary, str):
        raise PluginError(f"{label}.summary() returned {type(summary).__name__}, expected str")
    if not (isinstance(cls.Options, type) and issubclass(cls.Options, BaseModel)):
        raise PluginError(f"{label}.Options must be a subclass of hno_framework.options.Options")
    _call(f"{label}.Options.model_json_schema()", cls.Options.model_json_schema)
    if kind in CLASS_CHECKS:
        CLASS_CHECKS[kind](cls, label)
    return name


def _hook_hints(module: ModuleType) -> list[str]:
    """Functions defined in ``module`` that look like misspelt or unmarked hooks (pluggy only sees ``@hookimpl``)."""
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    hints = []
    for attr, value in vars(module).items():
        if not callable(value) or getattr(value, "__module__", None) != module.__name__ or hasattr(value, marker):
            continue
        if attr in HOOKS.values():
            hints.append(f"{attr}() is not marked with @hookimpl (from hno_framework import hookimpl)")
        elif close := difflib.get_close_matches(attr, HOOKS.values(), 1, 0.8):
            hints.append(f"{attr}() is not a hook: did you mean {close[0]}() (marked with @hookimpl)?")
    return hints


def entry_points(group: str = hookspecs.ENTRY_POINT_GROUP) -> list[md.EntryPoint]:
    """The entry points of ``group``, once each, by distribution and name; read from metadata, nothing imported."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for ep in md.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "?"
        key = (dist, ep.name, ep.value)
        if key not in seen:  # the same distribution found twice on sys.path
            seen.add(key)
            unique.append(ep)
    return sorted(unique, key=lambda e: (e.dist.name if e.dist else "", e.name))


def entry_point_provider(ep: md.EntryPoint) -> Provider:
    """The :class:`Provider` an entry point names (from its distribution's metadata)."""
    return Provider(distribution=ep.dist.name if ep.dist is not None else "(unknown distribution)",
                    version=ep.dist.version if ep.dist is not None else "?", entry_point=f"{ep.name} = {ep.value}")


def blocked_names(disabled: Iterable[str] | None = None) -> frozenset[str]:
    """The normalised names of the blocked plugins: ``disabled``, by default ``HNO_DISABLE_PLUGINS`` and
    :func:`disable_plugins`."""
    names = disabled if disabled is not None else [*os.environ.get(DISABLE_ENV, "").split(","), *_disabled_here]
    return frozenset(_norm(n.strip()) for n in names if n.strip())


def strict_from_environment() -> bool:
    """Whether ``HNO_STRICT_PLUGINS`` asks for strict mode (any value but empty or ``0``)."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def is_blocked(ep: md.EntryPoint, disabled: Iterable[str] | None = None) -> bool:
    """Whether ``ep`` is blocked by ``disabled`` (default: ``HNO_DISABLE_PLUGINS`` and :func:`disable_plugins`)."""
    return bool({_norm(entry_point_provider(ep).distribution), _norm(ep.name)} & blocked_names(disabled))


class _Listed(Protocol):
    """What :class:`ComponentIndex` needs of a component: :class:`ComponentInfo` or a cached view of one."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def provider(self) -> Provider: ...

    @property
    def qualified_name(self) -> str: ...


C = TypeVar("C", bound=_Listed)


class ComponentIndex(Generic[C]):
    """Components by kind and name, with the plugins they came from, and the lookup rules: plain names,
    qualified ``DIST:NAME``, conflicts, unknown names with the closest match. :class:`Registry` fills one by
    importing the plugins; ``hno list`` and ``hno show`` may read one from the listing cache instead."""

    def __init__(self) -> None:
        self._components: dict[Kind, dict[str, list[C]]] = {k: {} for k in KINDS}
        self.plugins: list[PluginRecord] = []
        self.broken: list[BrokenPlugin] = []
        self.disabled: list[Provider] = []

    # -- conflicts -----------------------------------------------------------------------------
    @property
    def conflicts(self) -> dict[tuple[Kind, str], list[Provider]]:
        """``(kind, name) -> providers`` for every name registered more than once."""
        return {(k, n): [i.provider for i in infos] for k in KINDS
                for n, infos in sorted(self._components[k].items()) if len(infos) > 1}

    def _duplicate_error(self, kind: Kind, name: str) -> DuplicateComponentError:
        infos = self._components[kind][name]
        providers = " and by ".join(str(i.provider) for i in infos)
        qualified = " or ".join(f"'{i.qualified_name}'" for i in infos)
        return DuplicateComponentError(
            f"{kind} '{name}' is registered twice: by {providers}. Choose one with its qualified name ({qualified}) "
            f"in the config, or block a plugin with {DISABLE_ENV}=DIST (hno --disable-plugin DIST); "
            "or uninstall one of these distributions."
        )

    # -- lookup ----------------------------------------------------------------------------
    def get(self, kind: Kind, name: str) -> C:
        """The component ``name`` (or ``DIST:NAME``, which picks the provider) of ``kind``."""
        dist, qualified, plain = name.rpartition(QUALIFIER)
        infos = self._components[kind].get(plain, [])
        if qualified:
            chosen = [i for i in infos if _norm(i.provider.distribution) == _norm(dist)]
            if chosen:
                return chosen[0]
        elif len(infos) == 1:
            return infos[0]
        elif infos:
            raise self._duplicate_error(kind, plain)
        raise UnknownComponentError(kind, name, self.names(kind), note=self.trouble_note())

    def trouble_note(self) -> str:
        """`` Note: plugin X failed to load (...); ...`` for error messages, or "" when every plugin loaded."""
        notes = [f"plugin {b.provider.distribution} failed to load ({b.error.splitlines()[0] if b.error else ''})"
                 for b in self.broken]
        notes += [f"plugin {p.distribution} is disabled ({DISABLE_ENV})" for p in self.disabled]
        return (" Note: " + "; ".join(notes) + "; see hno list plugins.") if notes else ""

    def step(self, name: str) -> C:
        return self.get("step", name)

    def integrator(self, name: str) -> C:
        return self.get("integrator", name)

    def names(self, kind: Kind, pattern: str | None = None) -> list[str]:
        """Usable names of ``kind``: each plain name, or ``DIST:NAME`` for each provider of a conflicting
        one; with ``pattern``, those matching it (``fnmatch``: ``"lista*"``, ``"*:lista"``)."""
        out = []
        for name, infos in self._components[kind].items():
            out += [name] if len(infos) == 1 else [i.qualified_name for i in infos]
        return sorted(n for n in out if pattern is None or name_matches(n, pattern))

    def components(self, kind: Kind | None = None, pattern: str | None = None) -> list[C]:
        """Every registered component (both providers of a conflicting name), by kind and name."""
        kinds: tuple[Kind, ...] = (kind,) if kind else KINDS
        return [info for k in kinds for n in sorted(self._components[k]) for info in self._components[k][n]
                if pattern is None or name_matches(info.qualified_name, pattern)]

    def resolve(self, kind: Kind, name: str, distribution: str | None) -> str:
        """``name`` made unambiguous: ``DIST:NAME`` when ``name`` is a conflict and ``distribution`` (e.g.
        recorded in a checkpoint) is one of its providers; otherwise ``name`` unchanged."""
        infos = self._components[kind].get(name, [])
        if distribution and len(infos) > 1 and any(_norm(i.provider.distribution) == _norm(distribution) for i in infos):
            return f"{distribution}{QUALIFIER}{name}"
        return name

    def provider_of(self, kind: Kind, name: str) -> dict[str, str]:
        """What a checkpoint records about the component ``name``: ``name``, ``plugin`` (distribution),
        ``version`` and ``entry_point`` of the provider the name resolves to."""
        info = self.get(kind, name)
        return {"name": info.name, **info.provider.as_dict()}


class Registry(ComponentIndex[ComponentInfo]):
    """Named components of every kind in :data:`KINDS`, gathered from entry points in ``group``.

    Lookup: :meth:`get` (``kind``, ``name`` or ``DIST:NAME``) raises :class:`UnknownComponentError`
    listing the usable names with the closest match, and :class:`DuplicateComponentError` for a
    plain name two plugins register. Listing: :meth:`names`, :meth:`components`, :attr:`plugins`,
    :attr:`broken`, :attr:`disabled`, :attr:`conflicts`.
    """

    def __init__(self, group: str = hookspecs.ENTRY_POINT_GROUP, *, strict: bool | None = None,
                 disabled: Iterable[str] | None = None) -> None:
        self.group = group
        super().__init__()
        self.strict = strict_from_environment() if strict is None else strict
        self._blocked = blocked_names(disabled)
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._load_entry_points()
        if self.strict and self.conflicts:
            raise self._duplicate_error(*next(iter(self.conflicts)))

    # -- loading -------------------------------------------------------------------------
    def _entry_points(self) -> list[md.EntryPoint]:
        return entry_points(self.group)

    def _load_entry_points(self) -> None:
        for ep in self._entry_points():
            provider = entry_point_provider(ep)
            if {_norm(provider.distribution), _norm(ep.name)} & self._blocked:
                self.disabled.append(provider)
                continue
            outcome = guarded(functools.partial(self._load, ep, provider))  # a real Ctrl-C raises
            exc = outcome.error
            if exc is None and outcome.value is not None:
                outcome.value.warnings[:0] = outcome.warnings
                self._warn(outcome.value)
                continue
            if self.strict:  # a broken plugin must not break the others, nor exit, unless asked to
                raise PluginError(f"plugin {provider} failed to load: {_error_text(exc)}") from exc  # type: ignore[arg-type]
            self.broken.append(BrokenPlugin(provider, _error_text(exc), tuple(outcome.warnings)))  # type: ignore[arg-type]

    def _load(self, ep: md.EntryPoint, provider: Provider) -> PluginRecord:
        module = ep.load()
        if not isinstance(module, ModuleType):
            raise PluginError(f"entry point '{provider.entry_point}' names a {type(module).__name__}, not a "
                              "module; point it at the module that holds the @hookimpl functions")
        return self._add_plugin(module, provider)

    def add_plugin(self, module: ModuleType, provider: Provider) -> PluginRecord:
        """Register ``module``'s hook implementations under ``provider`` (what entry points do).

        All or nothing: a plugin with an unknown hook or an invalid class registers nothing.
        """
        return self._warn(self._add_plugin(module, provider))

    def _warn(self, record: PluginRecord) -> PluginRecord:
        """One :class:`PluginWarning` for all of a plugin's warnings (the CLI prints it as one line)."""
        if record.warnings:
            warnings.warn(PluginWarning(f"hno plugin {record.provider}: {'; '.join(record.warnings)}"), stacklevel=3)
        return record

    def _add_plugin(self, module: ModuleType, provider: Provider) -> PluginRecord:
        plugin_name = f"{provider.distribution}:{provider.entry_point}"
        try:
            self._pm.register(module, name=plugin_name)  # pluggy checks each hook's argument names
            self._check_hooks(provider)
            staged = self._collect(plugin_name, provider)
            commands = any(i.plugin_name == plugin_name for i in self._pm.hook.register_commands.get_hookimpls())
            hints = _hook_hints(module)
            if self.strict and (hints or not (staged or commands)):
                raise PluginError(f"{provider.distribution} registers nothing" if not hints else "; ".join(hints))
        except BaseException:
            if self._pm.has_plugin(plugin_name):  # pluggy may have registered some hooks before failing
                self._pm.unregister(name=plugin_name)
            raise
        record = PluginRecord(provider, getattr(module, "__name__", repr(module)))
        for info in staged:
            self._components[info.kind].setdefault(info.name, []).append(info)
            record.components[info.kind].append(info.name)
        record.commands = commands
        if not staged and not commands:
            hooks = ", ".join(f"{h}(register)" for h in HOOKS.values())
            record.warnings.append(f"registers nothing (implement {hooks} with @hookimpl)")
        record.warnings.extend(hints)
        self.plugins.append(record)
        return record

    def _check_hooks(self, provider: Provider) -> None:
        """pluggy's ``check_pending``: every ``@hookimpl`` names a hook of :mod:`hno_framework.hookspecs`."""
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            unknown = re.findall(r"unknown hook '(\w+)'", str(exc))
            known = [*HOOKS.values(), "register_commands"]
            close = difflib.get_close_matches(unknown[0], known, 1) if unknown else []
            hint = f"; did you mean {close[0]}?" if close else f"; the hooks are {', '.join(known)}"
            raise PluginError(f"{provider.distribution} implements unknown hook "
                              f"{unknown[0] if unknown else '?'}{hint}") from exc

    def _collect(self, plugin_name: str, provider: Provider) -> list[ComponentInfo]:
        staged: list[ComponentInfo] = []
        for kind in KINDS:
            for impl in getattr(self._pm.hook, HOOKS[kind]).get_hookimpls():
                if impl.plugin_name == plugin_name:
                    impl.function(register=self._collector(kind, provider, staged))
        return staged

    def _collector(self, kind: Kind, provider: Provider, staged: list[ComponentInfo]) -> Callable[[Any], None]:
        def register(cls: Any) -> None:
            staged.append(ComponentInfo(check_component_class(kind, cls, provider), kind, cls, provider))

        return register


def name_matches(qualified: str, pattern: str) -> bool:
    """``fnmatch`` of a plain or ``DIST:NAME`` name: the pattern may match either form."""
    plain = qualified.rpartition(QUALIFIER)[2]
    return fnmatchcase(plain, pattern) or fnmatchcase(qualified, pattern)


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, loaded on first use (``get_registry.cache_clear()`` reloads)."""
    return Registry()


def registry_loaded() -> bool:
    """Whether this process has loaded the process-wide registry (imported the plugins) already."""
    return get_registry.cache_info().currsize > 0


def disable_plugins(names: Iterable[str]) -> None:
    """Block these plugins (distribution or entry-point names) in the process-wide registry, in
    addition to ``HNO_DISABLE_PLUGINS``; the registry is reloaded on next use."""
    _disabled_here.update(n for n in names if n)
    get_registry.cache_clear()


def component_provider(kind: Kind, name: str, registry: Registry | None = None) -> dict[str, str]:
    """The provider of component ``name`` (plain or ``DIST:NAME``): ``{"name", "plugin", "version",
    "entry_point"}``, for a checkpoint to record."""
    return (registry or get_registry()).provider_of(kind, name)


def network_providers(network: Any, registry: Registry | None = None) -> dict[str, dict[str, str]]:
    """``{"step": ..., "integrator": ...}`` providers (see :func:`component_provider`) of a
    :class:`~hno_framework.config.NetworkConfig`; what a checkpoint stores under ``"providers"``."""
    return {kind: component_provider(kind, getattr(network, kind).name, registry) for kind in ("step", "integrator")}


def list_steps(pattern: str | None = None) -> list[str]:
    """Registered step names, optionally those matching ``pattern`` (like ``timm.list_models("lista*")``)."""
    return get_registry().names("step", pattern)


def list_integrators(pattern: str | None = None) -> list[str]:
    """Registered integrator names, optionally those matching ``pattern``."""
    return get_registry().names("integrator", pattern)


def list_loggers(pattern: str | None = None) -> list[str]:
    """Registered logger names, optionally those matching ``pattern``."""
    return get_registry().names("logger", pattern)


def list_problems(pattern: str | None = None) -> list[str]:
    """Registered problem kinds, optionally those matching ``pattern``."""
    return get_registry().names("problem", pattern)
