"""What ``hno list`` and ``hno show`` print, taken out of a loaded registry as plain data.

A :class:`ComponentView` is everything the two commands print about a component (its ``--json`` row, the
details column, its documentation and options), computed once from the class; a :class:`ListingSnapshot` is a
:class:`~hno_framework.registry.ComponentIndex` of views with the plugins, broken and disabled plugins of the
registry it was taken from. Both commands always print from a snapshot, so what they print is the same whether
the snapshot was just taken (plugins imported) or read back from the listing cache (:mod:`.listing_cache`).

:meth:`ListingSnapshot.to_json` and :meth:`ListingSnapshot.from_json` convert to and from JSON-able data;
``from_json`` checks every field and raises ``ValueError`` for anything it does not recognise.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from .registry import KINDS, BrokenPlugin, ComponentIndex, ComponentInfo, Kind, PluginRecord, Provider


def _plain(data: Any) -> Any:
    """``data`` as ``hno list --json`` writes it, read back: non-finite floats are null, tuples are lists,
    anything else that JSON cannot hold is its ``str``."""
    from .io import json_safe

    return json.loads(json.dumps(json_safe(data), default=str, ensure_ascii=False, allow_nan=False))


@dataclass(frozen=True)
class OptionView:
    """One option of a component as ``hno show`` prints it: ``name``, ``default`` (its ``repr``) and ``description``."""

    name: str
    default: str
    description: str


@dataclass(frozen=True, eq=False)
class ComponentView:
    """What ``hno list`` and ``hno show`` print about one component."""

    name: str
    kind: Kind
    provider: Provider
    row: dict[str, Any]
    """The ``--json`` object (:meth:`ComponentInfo.as_dict`, as JSON writes it)."""
    details: str
    """The details column of ``hno list``: an integrator's metadata, a step's tieable parameters and needs, ..."""
    doc: str
    """The class's documentation."""
    module_doc: str
    """The documentation of the module that defines the class."""
    note: str
    """``hno show``'s line about the kind (integrator metadata, tieable parameters, the operator); may be empty."""
    options: tuple[OptionView, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.provider.distribution}:{self.name}"

    @property
    def summary(self) -> str:
        return str(self.row.get("summary", ""))

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object (a copy)."""
        return dict(self.row)


def _details(info: ComponentInfo) -> str:
    cls = info.cls
    if info.kind == "integrator":
        m = info.metadata() or {}
        learnable = ", learnable" if m["learnable"] else ""
        return f"{m['family']}, past_states={m['past_states']}, stages={m['stages']}, order={m['order']}{learnable}"
    if info.kind == "logger":
        fields = cls.Options.model_fields
        return ("options: " + ", ".join(fields)) if fields else ""
    if info.kind == "problem":
        operator = "matrix-free" if cls.matrix_free else "matrix Φ"
        fields = cls.Options.model_fields
        return f"{operator}, {cls.signal}" + (("; options: " + ", ".join(fields)) if fields else "")
    parts = [("tieable: " + ",".join(cls.tieable)) if cls.tieable else "",
             ("requires: " + ",".join(sorted(cls.requires))) if cls.requires else ""]
    return "; ".join(p for p in parts if p)


def _note(info: ComponentInfo) -> str:
    cls = info.cls
    if info.kind == "integrator":
        return "metadata (default options): " + json.dumps(info.metadata())
    if info.kind == "step":
        return f"tieable parameters: {list(cls.tieable) or 'none'}; requires: {sorted(cls.requires) or 'nothing extra'}"
    if info.kind == "problem":
        return (f"operator: {'matrix-free' if cls.matrix_free else 'a matrix Φ'}; signals: {cls.signal}; "
                "set in a config as problem: {kind: " + info.name + ", options: {...}}")
    return ""


def view_of(info: ComponentInfo) -> ComponentView:
    """The :class:`ComponentView` of a registered component (reads its class; imports nothing new)."""
    import inspect
    import sys

    module = sys.modules.get(info.cls.__module__)
    options = tuple(OptionView(name, repr(f.get_default(call_default_factory=True)), f.description or "")
                    for name, f in info.cls.Options.model_fields.items())
    return ComponentView(name=info.name, kind=info.kind, provider=info.provider, row=_plain(info.as_dict()),
                         details=_details(info), doc=inspect.getdoc(info.cls) or "",
                         module_doc=(inspect.getdoc(module) or "") if module is not None else "", note=_note(info),
                         options=options)


class ListingSnapshot(ComponentIndex[ComponentView]):
    """The components (as :class:`ComponentView`), plugins, broken and disabled plugins of a registry."""

    @classmethod
    def of(cls, registry: ComponentIndex[ComponentInfo]) -> ListingSnapshot:
        """The snapshot of a loaded registry."""
        snapshot = cls()
        for info in registry.components():
            snapshot._add(view_of(info))
        snapshot.plugins = list(registry.plugins)
        snapshot.broken = list(registry.broken)
        snapshot.disabled = list(registry.disabled)
        return snapshot

    def _add(self, view: ComponentView) -> None:
        self._components[view.kind].setdefault(view.name, []).append(view)

    @property
    def cacheable(self) -> bool:
        """Whether every plugin loaded cleanly (none broken, none with a warning): only then may the snapshot be
        reused without importing the plugins again. A broken plugin or a warning may depend on things the cache
        does not watch (a missing dependency, an environment variable), so it is looked at afresh every time."""
        return not self.broken and not any(p.warnings for p in self.plugins)

    # -- JSON -------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-able data that :meth:`from_json` reads back."""
        return {
            "components": [{**asdict(v), "options": [asdict(o) for o in v.options]} for v in self.components()],
            "plugins": [{"provider": asdict(p.provider), "module": p.module, "components": p.components,
                         "warnings": p.warnings, "commands": p.commands} for p in self.plugins],
            "broken": [{"provider": asdict(b.provider), "error": b.error, "warnings": list(b.warnings)}
                       for b in self.broken],
            "disabled": [asdict(p) for p in self.disabled],
        }

    @classmethod
    def from_json(cls, data: Any) -> ListingSnapshot:
        """The snapshot :meth:`to_json` wrote; ``ValueError`` if ``data`` is not one."""
        snapshot = cls()
        for item in _list(data, "components"):
            snapshot._add(_view(item))
        for item in _list(data, "plugins"):
            components = _field(item, "components", dict)
            record = PluginRecord(_provider(_field(item, "provider", dict)), _field(item, "module", str),
                                  {k: _strings(components, k) for k in KINDS}, _strings(item, "warnings"),
                                  _field(item, "commands", bool))
            snapshot.plugins.append(record)
        for item in _list(data, "broken"):
            snapshot.broken.append(BrokenPlugin(_provider(_field(item, "provider", dict)), _field(item, "error", str),
                                                tuple(_strings(item, "warnings"))))
        snapshot.disabled = [_provider(item) for item in _list(data, "disabled")]
        return snapshot


def _field(data: Any, key: str, kind: type[Any]) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise ValueError(f"listing snapshot: '{key}' is not a {kind.__name__}")
    return value


def _list(data: Any, key: str) -> list[Any]:
    return list(_field(data, key, list))


def _strings(data: Any, key: str) -> list[str]:
    values = _list(data, key)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"listing snapshot: '{key}' is not a list of strings")
    return values


def _provider(data: Any) -> Provider:
    return Provider(_field(data, "distribution", str), _field(data, "version", str), _field(data, "entry_point", str))


def _view(data: Any) -> ComponentView:
    kind = _field(data, "kind", str)
    if kind not in KINDS:
        raise ValueError(f"listing snapshot: unknown kind {kind!r}")
    options = tuple(OptionView(_field(o, "name", str), _field(o, "default", str), _field(o, "description", str))
                    for o in _list(data, "options"))
    return ComponentView(name=_field(data, "name", str), kind=kind, provider=_provider(_field(data, "provider", dict)),
                         row=_field(data, "row", dict), details=_field(data, "details", str),
                         doc=_field(data, "doc", str), module_doc=_field(data, "module_doc", str),
                         note=_field(data, "note", str), options=options)
