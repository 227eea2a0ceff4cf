"""The integrator coefficients the converged HNO networks learned (cell files' ``learned``, recorded by
:func:`hno_framework.inspection.learned_values`), grouped per network over seeds and summarised.

Reading 2NO (seed eq. 11) as ``x_{t+1} = x_t − β_t (x_t − x_{t−1}) + α_t f(x_t)``: β_t < 0 adds a heavy-ball
momentum ``|β_t| (x_t − x_{t−1})``, α_t > 1 takes a longer step along f than forward Euler (α = 1, β = 0).
3NO reads alike with ``− β¹_t (x_t − x_{t−1}) − β²_t (x_t − x_{t−2})``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from hno_framework.inspection import Column


@dataclass
class CoefficientGroup:
    """One network's learned coefficients: ``seeds[name]`` = one per-layer column per seed (seed order), the
    forward-Euler values ``reference[name]`` (empty when the integrator names none) and the values training
    started from, ``init[name]`` (empty when the cell files do not say)."""

    seeds: dict[str, list[Column]] = field(default_factory=dict)
    reference: dict[str, Column] = field(default_factory=dict)
    init: dict[str, Column] = field(default_factory=dict)

    def _learned_layers(self, name: str) -> list[int]:
        columns, ref = self.seeds[name], self.reference.get(name)
        return [t for t in range(len(columns[0]))
                if not (ref is not None and ref[t] is not None and all(c[t] == ref[t] for c in columns if c[t] is not None))]

    def learned_entries(self, name: str) -> list[float]:
        """Every (layer, seed) value of coefficient ``name``, leaving out the layers where every seed holds exactly
        the Euler value (the start-up layers, whose coefficients are fixed, e.g. 2NO's first layer)."""
        return [v for t in self._learned_layers(name) for c in self.seeds[name] if (v := c[t]) is not None]

    def init_entries(self, name: str) -> list[float]:
        """The initial values of coefficient ``name`` on the layers :meth:`learned_entries` keeps."""
        column = self.init.get(name)
        return [] if column is None else [v for t in self._learned_layers(name) if (v := column[t]) is not None]


def coefficient_groups(found: dict[tuple[str, str], list[dict[str, Any]]], setting: str) -> dict[str, CoefficientGroup]:
    """The networks of ``setting`` whose integrator learned coefficients (cell files whose ``learned`` says
    ``integrator_learnable``, with some coefficient off forward Euler's value), in the order of ``found``."""
    groups: dict[str, CoefficientGroup] = {}
    for (s, network), results in found.items():
        if s != setting:
            continue
        learned = [r["learned"] for r in sorted(results, key=lambda r: r["seed"]) if r.get("learned")]
        if not learned or not learned[0]["integrator"] or not learned[0].get("integrator_learnable", False):
            continue
        group = CoefficientGroup(reference=learned[0].get("integrator_references", {}).get("euler", {}),
                                 init=learned[0].get("integrator_init", {}))
        for name in learned[0]["integrator"]:
            group.seeds[name] = [entry["integrator"][name] for entry in learned if name in entry["integrator"]]
        if any(group.learned_entries(name) for name in group.seeds):
            groups[network] = group
    return groups


def summary_rows(groups: dict[str, CoefficientGroup]) -> list[dict[str, Any]]:
    """Per network and coefficient: learned entries (layers × seeds), median, min, max, the median of the values
    training started from (None when unknown), and the share of entries below the Euler value (for β: the share
    of layers with a momentum term)."""
    rows = []
    for network, group in groups.items():
        for name in group.seeds:
            values = group.learned_entries(name)
            if not values:
                continue
            ref = [v for v in group.reference.get(name, []) if v is not None]
            below = (sum(v < ref[0] for v in values) / len(values)) if ref and len(set(ref)) == 1 else None
            rows.append({"network": network, "coefficient": name, "entries": len(values),
                         "seeds": len(group.seeds[name]), "median": statistics.median(values), "min": min(values),
                         "max": max(values), "init_median": statistics.median(init) if (init := group.init_entries(name)) else None,
                         "euler": ref[0] if ref and len(set(ref)) == 1 else None,
                         "share_below_euler": below})
    return rows
