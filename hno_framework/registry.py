"""The component registry: entry points -> pluggy -> named steps and integrators.

Every plugin, our built-ins included, is a module named by an entry point in the
``hno_framework`` group. Each entry point is loaded in its own ``try``: a plugin that fails
to import (or to register) is recorded as a :class:`BrokenPlugin` with its distribution and
error, and everything else still works. Set ``HNO_STRICT_PLUGINS=1`` to make such failures
raise (useful while writing a plugin). A name registered by two providers is recorded as a
conflict; looking it up raises :class:`DuplicateComponentError` naming both (never last-wins).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Any, Literal

import pluggy

from . import hookspecs
from .errors import DuplicateComponentError, PluginError, UnknownComponentError

Kind = Literal["step", "integrator", "logger"]
KINDS: tuple[Kind, ...] = ("step", "integrator", "logger")
NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
STRICT_ENV = "HNO_STRICT_PLUGINS"


@dataclass(frozen=True)
class Provider:
    """Where a component comes from: ``distribution`` name and ``version``, ``entry_point`` (name = value)."""

    distribution: str
    version: str
    entry_point: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (entry point {self.entry_point})"


@dataclass(frozen=True)
class ComponentInfo:
    """A registered component: its ``name``, ``kind``, class and provider."""

    name: str
    kind: Kind
    cls: Any
    provider: Provider

    @property
    def summary(self) -> str:
        return self.cls.summary()

    def options_schema(self) -> dict[str, Any]:
        return self.cls.Options.model_json_schema()

    def metadata(self) -> dict[str, Any] | None:
        """Integrator metadata with default options (None for steps)."""
        if self.kind != "integrator":
            return None
        return self.cls.describe(self.cls.Options()).model_dump()

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "plugin": self.provider.distribution,
            "version": self.provider.version,
            "entry_point": self.provider.entry_point,
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
        return row


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded: ``provider`` and the ``error`` (``Type: message``)."""

    provider: Provider
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.provider.distribution,
            "version": self.provider.version,
            "entry_point": self.provider.entry_point,
            "error": self.error,
        }


@dataclass
class PluginRecord:
    """A loaded plugin and the names it registered."""

    provider: Provider
    module: str
    steps: list[str] = field(default_factory=list)
    integrators: list[str] = field(default_factory=list)
    loggers: list[str] = field(default_factory=list)


class Registry:
    """Named steps and integrators gathered from entry points in ``group``.

    Lookup: :meth:`get` (``kind``, ``name``) raises :class:`UnknownComponentError` listing the
    registered names with the closest match. Listing: :meth:`components`, :attr:`plugins`,
    :attr:`broken`, :attr:`conflicts`.
    """

    def __init__(self, group: str = hookspecs.ENTRY_POINT_GROUP, *, strict: bool | None = None) -> None:
        self.group = group
        self.strict = os.environ.get(STRICT_ENV, "") not in ("", "0") if strict is None else strict
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._components: dict[Kind, dict[str, ComponentInfo]] = {k: {} for k in KINDS}
        self.plugins: list[PluginRecord] = []
        self.broken: list[BrokenPlugin] = []
        self.conflicts: dict[tuple[Kind, str], list[Provider]] = {}
        self._load_entry_points()

    # -- loading -------------------------------------------------------------------------
    def _entry_points(self) -> list[md.EntryPoint]:
        seen: set[tuple[str, str, str]] = set()
        unique = []
        for ep in md.entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "?"
            key = (dist, ep.name, ep.value)
            if key not in seen:  # the same distribution found twice on sys.path
                seen.add(key)
                unique.append(ep)
        return sorted(unique, key=lambda e: (e.dist.name if e.dist else "", e.name))

    def _load_entry_points(self) -> None:
        for ep in self._entry_points():
            provider = Provider(
                distribution=ep.dist.name if ep.dist is not None else "(unknown distribution)",
                version=ep.dist.version if ep.dist is not None else "?",
                entry_point=f"{ep.name} = {ep.value}",
            )
            try:
                module = ep.load()
                self.add_plugin(module, provider)
            except Exception as exc:  # a broken plugin must not break the others
                if self.strict:
                    raise PluginError(f"plugin {provider} failed to load: {type(exc).__name__}: {exc}") from exc
                self.broken.append(BrokenPlugin(provider, f"{type(exc).__name__}: {exc}"))

    def add_plugin(self, module: ModuleType, provider: Provider) -> PluginRecord:
        """Register ``module``'s hook implementations under ``provider`` (what entry points do)."""
        plugin_name = f"{provider.distribution}:{provider.entry_point}"
        self._pm.register(module, name=plugin_name)
        record = PluginRecord(provider, getattr(module, "__name__", repr(module)))
        staged: list[ComponentInfo] = []
        try:
            hooks = (("step", self._pm.hook.register_steps), ("integrator", self._pm.hook.register_integrators),
                     ("logger", self._pm.hook.register_loggers))
            for kind, hook in hooks:
                for impl in hook.get_hookimpls():
                    if impl.plugin_name == plugin_name:
                        impl.function(register=self._collector(kind, provider, staged))  # type: ignore[arg-type]
        except Exception:
            self._pm.unregister(name=plugin_name)
            raise
        for info in staged:  # all or nothing: a plugin that fails half-way registers nothing
            self._add(info)
            {"step": record.steps, "integrator": record.integrators, "logger": record.loggers}[info.kind].append(info.name)
        self.plugins.append(record)
        return record

    def _collector(self, kind: Kind, provider: Provider, staged: list[ComponentInfo]):
        from .integrator import Integrator
        from .loggers.base import Logger
        from .step import UnfoldingStep

        base = {"step": UnfoldingStep, "integrator": Integrator, "logger": Logger}[kind]

        def register(cls: Any) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"{provider.distribution} registered {cls!r} as a {kind}; expected a subclass of {base.__name__}")
            name = getattr(cls, "name", "")
            if not NAME_PATTERN.match(name or ""):
                raise PluginError(
                    f"{provider.distribution}: {cls.__qualname__}.name = {name!r} is not a valid name "
                    "(lower-case letters, digits and dashes, e.g. 'my-step')"
                )
            staged.append(ComponentInfo(name, kind, cls, provider))

        return register

    def _add(self, info: ComponentInfo) -> None:
        table = self._components[info.kind]
        existing = table.get(info.name)
        key = (info.kind, info.name)
        if existing is not None or key in self.conflicts:
            providers = self.conflicts.setdefault(key, [existing.provider] if existing else [])
            providers.append(info.provider)
            table.pop(info.name, None)
            if self.strict:
                raise self._duplicate_error(info.kind, info.name)
            return
        table[info.name] = info

    def _duplicate_error(self, kind: Kind, name: str) -> DuplicateComponentError:
        providers = " and by ".join(str(p) for p in self.conflicts[(kind, name)])
        return DuplicateComponentError(
            f"{kind} '{name}' is registered twice: by {providers}. Uninstall one of these distributions "
            "or rename the component in one of them."
        )

    # -- lookup ----------------------------------------------------------------------------
    def get(self, kind: Kind, name: str) -> ComponentInfo:
        if (kind, name) in self.conflicts:
            raise self._duplicate_error(kind, name)
        try:
            return self._components[kind][name]
        except KeyError:
            known = list(self._components[kind]) + [n for k, n in self.conflicts if k == kind]
            raise UnknownComponentError(kind, name, known) from None

    def step(self, name: str) -> ComponentInfo:
        return self.get("step", name)

    def integrator(self, name: str) -> ComponentInfo:
        return self.get("integrator", name)

    def names(self, kind: Kind) -> list[str]:
        return sorted(self._components[kind])

    def components(self, kind: Kind | None = None) -> list[ComponentInfo]:
        kinds: tuple[Kind, ...] = (kind,) if kind else KINDS
        return [self._components[k][n] for k in kinds for n in sorted(self._components[k])]


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, loaded on first use (``get_registry.cache_clear()`` reloads)."""
    return Registry()


def list_steps() -> list[str]:
    """Registered step names (like ``timm.list_models``)."""
    return get_registry().names("step")


def list_integrators() -> list[str]:
    """Registered integrator names."""
    return get_registry().names("integrator")


def list_loggers() -> list[str]:
    """Registered logger names."""
    return get_registry().names("logger")
