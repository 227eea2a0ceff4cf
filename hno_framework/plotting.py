"""Figures: NMSE (dB) against layer, one line per network (like the seed's Figure 3).

The building blocks (:func:`panels`, :func:`draw_nmse_curves`, :func:`save_png`) are shared by the
one-panel :func:`plot_nmse_per_layer` (``hno compare --plot``, run reports) and the grid reports of
:mod:`hno_studies.report` (one panel per setting). The converged study draws one panel per
compared pair: :func:`plot_nmse_per_layer_panels`, :func:`plot_training_curves` (validation NMSE against
training iteration), :func:`plot_coefficients` (learned integrator coefficients per layer),
:func:`plot_nmse_by_group` (NMSE per group of test samples) and :func:`plot_differences` (paired differences with
their intervals).
matplotlib is imported on first use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

from .io import atomic_write

MARKERS = "osD^v<>pPXh*"


def panels(count: int, *, width: float = 5.2, height: float = 4.2, dpi: int = 110) -> tuple[Any, Any, Any]:
    """``(pyplot, figure, axes)`` with ``count`` panels, at most 3 per row; ``axes`` is flat (unused ones included)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), dpi=dpi, squeeze=False)
    return plt, fig, axes.ravel()


def save_png(plt: Any, fig: Any, path: str | Path, **savefig: Any) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically and close it."""
    path = Path(path)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", **savefig))
    plt.close(fig)
    return path


def draw_nmse_curves(
    ax: Any, curves: Mapping[str, Sequence[float]], stds: Mapping[str, Sequence[float]] | None = None
) -> dict[str, Any]:
    """One line per curve, ``values[t]`` at layer t, with a marker and colour per position (a ±std band where
    ``stds`` has a non-zero entry); returns ``name -> line`` for a legend."""
    lines: dict[str, Any] = {}
    for i, (name, values) in enumerate(curves.items()):
        xs = list(range(len(values)))
        (line,) = ax.plot(xs, values, marker=MARKERS[i % len(MARKERS)], markersize=3.5, linewidth=1.4,
                          color=f"C{i % 10}", linestyle="-" if i < 10 else "-.", label=name)
        std = (stds or {}).get(name)
        if std is not None and any(std):
            lo = [m - d for m, d in zip(values, std, strict=True)]
            hi = [m + d for m, d in zip(values, std, strict=True)]
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        lines[name] = line
    return lines


def label_nmse_axes(ax: Any, *, xlabel: str = "layer t") -> None:
    """Axis labels and grid of an NMSE-per-layer panel."""
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel("NMSE (dB)", fontsize=11)
    ax.grid(True, alpha=0.3)


def plot_nmse_per_layer(curves: Mapping[str, Sequence[float]], path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG of NMSE dB vs layer t = 0..T for each named curve."""
    plt, fig, axes = panels(1, width=6.4, height=4.2, dpi=120)
    ax = axes[0]
    draw_nmse_curves(ax, curves)
    label_nmse_axes(ax)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_png(plt, fig, path)


def plot_nmse_per_layer_panels(groups: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path, *,
                               title: str | None = None) -> Path:
    """Write a PNG of NMSE dB vs layer t = 0..T, one panel per entry of ``groups`` (panel title -> network ->
    its curve), all panels on one NMSE scale, one colour and marker per network in every panel."""
    plt, fig, axes = panels(len(groups), width=4.6, height=3.6, dpi=110)
    order = list(dict.fromkeys(name for curves in groups.values() for name in curves))
    values = [v for curves in groups.values() for curve in curves.values() for v in curve if math.isfinite(v)]
    for ax, (panel, curves) in zip(axes, groups.items(), strict=False):
        for name, curve in curves.items():
            i = order.index(name)
            ax.plot(range(len(curve)), curve, marker=MARKERS[i % len(MARKERS)], markersize=3.5, linewidth=1.4,
                    color=f"C{i % 10}", label=name)
        label_nmse_axes(ax)
        ax.set_title(panel, fontsize=10)
        ax.legend(fontsize=8)
        if values:
            ax.set_ylim(min(values) - 3, max(values) + 3)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_png(plt, fig, path)


def plot_nmse_by_group(curves: Mapping[str, Sequence[float]], labels: Sequence[str], counts: Sequence[int],
                       path: str | Path, *, xlabel: str, title: str | None = None) -> Path:
    """Write a PNG of NMSE dB per group of test samples (``labels``, e.g. support-size bins), one line per network
    (``curves``: network -> one value per group), above a bar chart of the number of samples in each group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.0, 5.6), dpi=110, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    xs = list(range(len(labels)))
    for i, (name, values) in enumerate(curves.items()):
        top.plot(xs, values, marker=MARKERS[i % len(MARKERS)], markersize=4, linewidth=1.4, color=f"C{i % 10}",
                 linestyle="-" if i < 10 else "-.", label=name)
    top.set_ylabel("NMSE (dB)", fontsize=10)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: lines cross the whole panel
    bottom.bar(xs, counts, color="0.6")
    bottom.set_ylabel("test samples", fontsize=9)
    bottom.set_xticks(xs, list(labels))
    bottom.set_xlabel(xlabel, fontsize=10)
    if title:
        top.set_title(title, fontsize=11)
    fig.tight_layout()
    return save_png(plt, fig, path)


def _interval_colour(low: float, high: float) -> str:
    """Red for an interval below 0, blue above 0, grey when it covers 0."""
    return "C3" if high < 0 else "C0" if low > 0 else "0.5"


def plot_differences(rows: Sequence[Mapping[str, Any]], path: str | Path, *, xlabel: str, title: str | None = None) -> Path:
    """Write a PNG forest plot: one row per comparison (top to bottom in the given order), its point estimate
    ``difference_db`` with the interval ``ci_db`` ``[low, high]`` as a horizontal bar, the optional per-seed
    values ``per_seed_db`` as open circles and the optional seed-level interval ``seed_ci_db`` ``[low, high]`` as a
    thin bar under them, a vertical line at 0. A bar whose interval excludes 0 is drawn in colour (red below 0,
    blue above), otherwise grey. Each row is labelled by ``label``."""
    plt, fig, axes = panels(1, width=11.0, height=0.45 * len(rows) + 1.4)
    ax = axes[0]
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        low, high = row["ci_db"]
        color = _interval_colour(low, high)
        ax.plot([low, high], [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
        ax.plot([row["difference_db"]], [y], marker="D", markersize=5, color=color)
        seeds = row.get("per_seed_db") or []
        ax.plot(seeds, [y + 0.22] * len(seeds), linestyle="none", marker="o", markersize=4, markerfacecolor="none",
                markeredgecolor="0.25", markeredgewidth=0.8)
        if row.get("seed_ci_db"):
            seed_low, seed_high = row["seed_ci_db"]
            ax.plot([seed_low, seed_high], [y - 0.22] * 2, color=_interval_colour(seed_low, seed_high), linewidth=0.9,
                    marker="|", markersize=6)
    ax.axvline(0.0, color="k", linewidth=0.8)
    ax.set_yticks(list(range(len(rows))), [row["label"] for row in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return save_png(plt, fig, path)


Curve = Sequence[Sequence[float]]
"""A validation curve ``[(iteration, nmse_db), ...]`` (``nmse_db`` may be None or non-finite: skipped)."""


def plot_training_curves(groups: Mapping[str, Mapping[str, Sequence[Curve]]], path: str | Path, *,
                         levels: Mapping[str, Mapping[str, float]] | None = None, title: str | None = None) -> Path:
    """Write a PNG of validation NMSE dB against training iteration (log axis), one panel per entry of ``groups``
    (panel title -> network -> the curves of its seeds), all panels on one NMSE scale, one colour per network
    in every panel. Per network: the best so far (what a best-checkpoint run keeps) bold for the first seed and
    dashed for the others, the raw values of the first seed thin; ``levels[panel]`` (name -> dB) adds dashed
    reference lines (e.g. published NMSE)."""
    plt, fig, axes = panels(len(groups), width=5.0, height=3.8, dpi=110)
    low, high = math.inf, -math.inf
    order = list(dict.fromkeys(name for networks in groups.values() for name in networks))  # one colour per network
    for ax, (panel, networks) in zip(axes, groups.items(), strict=False):
        for name, seeds in networks.items():
            color = f"C{order.index(name) % 10}"
            for k, points in enumerate(seeds):
                kept = [(p[0], p[1]) for p in points if p[1] is not None and math.isfinite(p[1])]
                if not kept:
                    continue
                xs, ys = [p[0] for p in kept], [p[1] for p in kept]
                best = list(accumulate(ys, min))
                low, high = min(low, *best), max(high, best[0])
                if k == 0:
                    ax.plot(xs, ys, linewidth=0.6, alpha=0.3, color=color)
                label = f"{name} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})" if k == 0 else None
                ax.plot(xs, best, linewidth=1.6 if k == 0 else 1.0, color=color, linestyle="-" if k == 0 else "--",
                        label=label)
        for j, (name, level) in enumerate((levels or {}).get(panel, {}).items()):
            low = min(low, level)
            ax.axhline(level, color="0.35", linestyle=(0, (4, 2 + j)), linewidth=0.9)
            ax.annotate(name, (1.0, level), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                        textcoords="offset points", ha="right", va="bottom", fontsize=7, color="0.3")
        ax.set_xscale("log")
        label_nmse_axes(ax, xlabel="training iteration")
        ax.set_ylabel("validation NMSE (dB), best so far", fontsize=9)
        ax.set_title(panel, fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    if math.isfinite(low) and math.isfinite(high):
        for ax in axes[: len(groups)]:
            ax.set_ylim(low - 3, high + 3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_png(plt, fig, path)


def plot_coefficients(groups: Mapping[str, Mapping[str, Sequence[Sequence[float | None]]]], path: str | Path, *,
                      references: Mapping[str, Mapping[str, Sequence[float | None]]] | None = None,
                      title: str | None = None) -> Path:
    """Write a PNG of learned coefficients against layer t, one panel per network (``groups``: network ->
    coefficient -> one per-layer column per seed); a colour per coefficient, the first seed solid, the others
    dashed; ``references[network][coefficient]`` (e.g. forward Euler's values) dotted grey."""
    plt, fig, axes = panels(len(groups), width=5.0, height=3.6, dpi=110)
    for ax, (network, coefficients) in zip(axes, groups.items(), strict=False):
        for i, (name, seeds) in enumerate(coefficients.items()):
            for k, column in enumerate(seeds):
                points = [(t, v) for t, v in enumerate(column) if v is not None]
                ax.plot([p[0] for p in points], [p[1] for p in points], color=f"C{i % 10}", marker=MARKERS[i % len(MARKERS)],
                        markersize=3, linewidth=1.4 if k == 0 else 0.9, linestyle="-" if k == 0 else "--",
                        label=f"{name} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})" if k == 0 else None)
        for column in (references or {}).get(network, {}).values():
            points = [(t, v) for t, v in enumerate(column) if v is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], color="0.5", linestyle=":", linewidth=1.0)
        ax.set_xlabel("layer t", fontsize=10)
        ax.set_ylabel("learned value (Euler: dotted)", fontsize=9)
        ax.set_title(network, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_png(plt, fig, path)
