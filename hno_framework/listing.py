"""What ``hno list`` shows, as JSON-able rows: components, conflicts, plugins and their trouble.

Every row has a ``kind``: a component kind (``step``, ``integrator``, ``logger``) or one of
``conflict`` (a name two plugins register, with the qualified names that resolve it),
``broken-plugin`` and ``disabled-plugin``. Nothing here raises for a bad plugin: the registry
has already refused classes whose ``summary()`` or ``describe()`` fail.
"""

from __future__ import annotations

from typing import Any

from .listing_snapshot import ComponentView
from .registry import (
    DISABLE_ENV,
    KINDS,
    ComponentIndex,
    ComponentInfo,
    Kind,
    entry_point_provider,
    entry_points,
    is_blocked,
    name_matches,
)

Index = ComponentIndex[Any]
"""A loaded :class:`~.registry.Registry` or a :class:`~.listing_snapshot.ListingSnapshot` (what ``hno list`` reads)."""


def component_row(registry: Index, info: ComponentInfo | ComponentView) -> dict[str, Any]:
    """``info.as_dict()`` plus ``conflict``: whether another plugin registers the same name."""
    return {**info.as_dict(), "conflict": (info.kind, info.name) in registry.conflicts}


def conflict_rows(registry: Index, kind: Kind | None = None, pattern: str | None = None) -> list[dict[str, Any]]:
    """One row per conflicting name: its providers with the qualified name that selects each."""
    rows = []
    for (k, name), providers in registry.conflicts.items():
        if (kind and k != kind) or (pattern and not name_matches(name, pattern)):
            continue
        qualified = [f"{p.distribution}:{name}" for p in providers]
        rows.append({
            "kind": "conflict", "component_kind": k, "name": name,
            "providers": [{"qualified_name": q, **p.as_dict()} for q, p in zip(qualified, providers, strict=True)],
            "resolve": f"use {' or '.join(qualified)} in the config, or block a plugin with {DISABLE_ENV}=DIST "
                       "(hno --disable-plugin DIST)",
        })
    return rows


def trouble_rows(registry: Index) -> list[dict[str, Any]]:
    """Plugins that failed to load (``broken-plugin``, with ``error``) or were blocked (``disabled-plugin``)."""
    rows = [{"kind": "broken-plugin", **b.as_dict()} for b in registry.broken]
    rows += [{"kind": "disabled-plugin", **p.as_dict(), "error": None} for p in registry.disabled]
    return rows


def component_rows(registry: Index, kind: Kind | None = None, pattern: str | None = None) -> list[dict[str, Any]]:
    """``hno list --json``: every component (both providers of a conflict), then conflicts and plugin trouble."""
    rows = [component_row(registry, info) for info in registry.components(kind, pattern)]
    return rows + conflict_rows(registry, kind, pattern) + trouble_rows(registry)


def plugin_rows(registry: Index) -> list[dict[str, Any]]:
    """``hno list plugins --json``: one row per entry point with ``status`` ok, warning, conflict, broken or
    disabled; ``error``, ``warnings`` and ``conflicts`` (``"step lista"`` names it shares) explain it."""
    conflicts = registry.conflicts
    empty: dict[str, list[str]] = {f"{k}s": [] for k in KINDS}
    rows = []
    for p in registry.plugins:
        shared = [f"{k} {n}" for k in KINDS for n in p.components[k] if (k, n) in conflicts]
        status = "conflict" if shared else "warning" if p.warnings else "ok"
        rows.append({**p.provider.as_dict(), "module": p.module, **{f"{k}s": list(p.components[k]) for k in KINDS},
                     "commands": p.commands, "status": status, "error": None, "warnings": list(p.warnings),
                     "conflicts": shared})
    for b in registry.broken:
        rows.append({**b.as_dict(), "module": None, **empty, "commands": False, "status": "broken", "warnings": [], "conflicts": []})
    for d in registry.disabled:
        rows.append({**d.as_dict(), "module": None, **empty, "commands": False, "status": "disabled", "error": None, "warnings": [],
                     "conflicts": []})
    return rows


def entry_point_rows() -> list[dict[str, Any]]:
    """``hno list plugins --no-import``: each entry point's ``plugin`` (distribution), ``version``, ``entry_point``,
    ``module`` and ``status`` (``not imported`` or ``disabled``), read from metadata only: no plugin is imported."""
    return [{**entry_point_provider(ep).as_dict(), "module": ep.module,
             "status": "disabled" if is_blocked(ep) else "not imported"} for ep in entry_points()]


def notes(registry: Index) -> list[str]:
    """One line per problem, for under the ``hno list`` tables (rich markup)."""
    lines = [f"[red]broken plugin[/] {b.provider}: {b.error}" for b in registry.broken]
    lines += [f"[yellow]disabled plugin[/] {p} ({DISABLE_ENV} / --disable-plugin)" for p in registry.disabled]
    lines += [f"[yellow]plugin warning[/] {p.provider}: {w}" for p in registry.plugins for w in p.warnings]
    for row in conflict_rows(registry):
        providers = "; ".join(f"{q['plugin']} {q['version']}" for q in row["providers"])
        lines.append(f"[red]conflict[/] {row['component_kind']} '{row['name']}' is provided by {providers}: {row['resolve']}")
    return lines
