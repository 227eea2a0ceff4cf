"""Reports of a grid: ``results.json``, a Markdown table and figures like the seed's Figure 3.

* ``results.json``: everything (config, machine, per setting: NMSE per layer of each network, mean
  and std over seeds and per seed; the tuned ISTA/FISTA curves; iterations to match).
* ``results.md``: final-layer NMSE per network and setting, the classical baselines, the
  iterations the reference solver (FISTA) needs to match each network, and NMSE per layer.
* ``nmse-per-layer.png``: NMSE (dB) against layer, one panel per setting (seed Figure 3), with ISTA
  and FISTA over the same number of iterations for reference.
* ``fista-iterations.png``: iterations FISTA needs to reach each network's final-layer NMSE.
* ``classical.png``: ISTA / FISTA NMSE against iteration, with each network's final NMSE marked at T.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..checkpoint import atomic_write, write_json

MARKERS = "osD^v<>pPXh*"


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.2f} ± {std:.2f}" if std else f"{value:.2f}"


def _solver_label(name: str) -> str:
    return name.upper()


def markdown(results: dict[str, Any]) -> str:
    """The Markdown report of a results mapping (see the module docstring)."""
    settings: dict[str, Any] = results["settings"]
    names = list(settings)
    T = results["layers"]
    seeds = results["seeds"]
    lines = [f"# {results['grid']}: NMSE (dB) on the test set" + (" (quick preset)" if results.get("quick") else ""), ""]
    lines.append(f"Protocol: {results['protocol']}; T = {T} layers; test set of {results['test_size']} samples; "
                 f"seeds {seeds}" + (" (mean ± std over seeds)" if len(seeds) > 1 else "") + ".")
    if results.get("command"):
        lines.append(f"Command: `{results['command']}`.")
    if results.get("skipped_networks"):
        lines.append("Skipped (not registered): " + "; ".join(f"{k} ({v})" for k, v in results["skipped_networks"].items()) + ".")
    lines += ["", f"## Final layer (t = {T})", ""]
    header = "| network | " + " | ".join(settings[s]["title"] for s in names) + " |"
    lines += [header, "|" + "---|" * (len(names) + 1)]
    for net in results["networks"]:
        cells = []
        for s in names:
            entry = settings[s]["networks"].get(net)
            cells.append(_fmt(entry["final_nmse_db"], entry["final_nmse_db_std"]) if entry else "–")
        lines.append(f"| {net} | " + " | ".join(cells) + " |")
    solvers = _solver_names(settings)
    for solver in solvers:
        iters = _iterations(settings, names, solver)
        for k in sorted({min(T, iters), iters}):
            cells = []
            for s in names:
                curve = _curve(settings[s], solver)
                cells.append(_fmt(curve[k]) if curve and k < len(curve) else "–")
            lines.append(f"| {_solver_label(solver)} ({k} it.) | " + " | ".join(cells) + " |")
    if solvers:
        lines += ["", "λ tuned on the validation set: " + "; ".join(
            f"{settings[s]['title']}: " + ", ".join(f"{_solver_label(a)} {settings[s]['classical']['solvers'][a]['lam']:g}"
                                                for a in settings[s]["classical"]["solvers"])
            for s in names if settings[s].get("classical")) + "."]
        ref = results["config"]["classical"]["reference"]
        iters = _iterations(settings, names, ref)
        lines += ["", f"## {ref.upper()} iterations to reach each network's final NMSE", "",
                  f"Iterations saved = that count − T (T = {T}); “> {iters}” when {ref.upper()} does not get there "
                  f"in {iters} iterations.", "", header, "|" + "---|" * (len(names) + 1)]
        for net in results["networks"]:
            cells = []
            for s in names:
                entry = settings[s]["networks"].get(net)
                if not entry or "reference_iterations" not in entry:
                    cells.append("–")
                elif entry["reference_iterations"] is None:
                    cells.append(f"> {iters}")
                else:
                    cells.append(f"{entry['reference_iterations']} (saves {entry['iterations_saved']})")
            lines.append(f"| {net} | " + " | ".join(cells) + " |")
    lines += ["", "## NMSE per layer", ""]
    for s in names:
        nets = settings[s]["networks"]
        lines += [f"### {settings[s]['title']}", "", "| t | " + " | ".join(nets) + " |", "|" + "---|" * (len(nets) + 1)]
        for t in range(T + 1):
            lines.append(f"| {t} | " + " | ".join(_fmt(nets[n]["nmse_db"][t]) for n in nets) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _solver_names(settings: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for s in settings.values():
        for name in (s.get("classical") or {}).get("solvers", {}):
            if name not in out:
                out.append(name)
    return out


def _curve(setting: dict[str, Any], solver: str) -> list[float] | None:
    classical = setting.get("classical") or {}
    entry = classical.get("solvers", {}).get(solver)
    return entry["nmse_db"] if entry else None


def _iterations(settings: dict[str, Any], names: list[str], solver: str) -> int:
    for s in names:
        curve = _curve(settings[s], solver)
        if curve:
            return len(curve) - 1
    return 0


def _panels(count: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), dpi=110, squeeze=False)
    return plt, fig, axes.ravel()


def _save(plt: Any, fig: Any, path: Path) -> Path:
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", bbox_inches="tight"))
    plt.close(fig)
    return path


def plot_nmse_per_layer(results: dict[str, Any], path: Path) -> Path:
    """Seed Figure 3: NMSE (dB) vs layer, one panel per setting, a line per network (+ ISTA/FISTA dashed)."""
    settings = results["settings"]
    T = results["layers"]
    from matplotlib.ticker import MaxNLocator

    plt, fig, axes = _panels(len(settings))
    handles: dict[str, Any] = {}
    for ax, (name, s) in zip(axes, settings.items()):
        for i, (net, entry) in enumerate(s["networks"].items()):
            xs = list(range(len(entry["nmse_db"])))
            (line,) = ax.plot(xs, entry["nmse_db"], marker=MARKERS[i % len(MARKERS)], markersize=3.5, linewidth=1.4,
                              color=f"C{i % 10}", linestyle="-" if i < 10 else "-.")
            if any(entry["nmse_db_std"]):
                lo = [m - d for m, d in zip(entry["nmse_db"], entry["nmse_db_std"])]
                hi = [m + d for m, d in zip(entry["nmse_db"], entry["nmse_db_std"])]
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
            handles.setdefault(net, line)
        for j, solver in enumerate(_solver_names({name: s})):
            curve = _curve(s, solver)
            if curve:
                (line,) = ax.plot(range(T + 1), curve[: T + 1], color="0.35" if j == 0 else "0.0",
                                  linestyle="--" if j == 0 else ":", linewidth=1.6)
                handles.setdefault(f"{_solver_label(solver)} (λ tuned)", line)
        ax.set_title(s["title"], fontsize=12)
        ax.set_xlabel("layer / iteration t", fontsize=11)
        ax.set_ylabel("NMSE (dB)", fontsize=11)
        ax.set_xlim(0, T)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=10)
    for ax in axes[len(settings):]:
        ax.axis("off")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(6, len(handles)), fontsize=10,
               frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(handles) / 6)))
    fig.suptitle(f"NMSE per layer on the test set ({results['protocol']} training)", fontsize=13)
    fig.tight_layout()
    return _save(plt, fig, path)


def plot_reference_iterations(results: dict[str, Any], path: Path) -> Path:
    """Grouped bars: iterations the reference solver needs to reach each network's final NMSE (log scale)."""
    import numpy as np
    from matplotlib.ticker import ScalarFormatter

    settings = results["settings"]
    names = list(settings)
    nets = results["networks"]
    ref = results["config"]["classical"]["reference"].upper()
    iters = _iterations(settings, names, results["config"]["classical"]["reference"])
    plt, fig, axes = _panels(1)
    ax = axes[0]
    fig.set_size_inches(max(8.0, 1.6 * len(names) + 3), 5.0)
    width = 0.8 / max(1, len(nets))
    for i, net in enumerate(nets):
        values, unreached = [], []
        for s in names:
            entry = settings[s]["networks"].get(net) or {}
            k = entry.get("reference_iterations")
            values.append(k if k is not None else (iters if entry else np.nan))
            unreached.append(bool(entry) and k is None)
        x = np.arange(len(names)) + (i - (len(nets) - 1) / 2) * width
        bars = ax.bar(x, values, width, label=net, color=f"C{i % 10}", edgecolor="black", linewidth=0.4)
        for bar, flag in zip(bars, unreached):
            if flag:
                bar.set_hatch("//")
                bar.set_alpha(0.55)
    ax.axhline(results["layers"], color="black", linestyle="--", linewidth=1, label=f"T = {results['layers']} layers")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    low, high = ax.get_ylim()
    if high / max(low, 1e-9) < 30:  # label the minor ticks too when less than ~1.5 decades are shown
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.tick_params(axis="y", which="minor", labelsize=8)
    ax.set_xticks(np.arange(len(names)), [settings[s]["title"] for s in names], fontsize=10)
    ax.set_ylabel(f"{ref} iterations to reach the network's NMSE", fontsize=11)
    ax.set_title(f"{ref} iterations matching each network's final-layer NMSE (hatched: not reached in {iters})", fontsize=12)
    ax.grid(True, axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=9, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return _save(plt, fig, path)


def plot_classical(results: dict[str, Any], path: Path) -> Path:
    """ISTA / FISTA NMSE vs iteration (log x), with every network's final NMSE as a marker at t = T."""
    from matplotlib.ticker import ScalarFormatter

    settings = results["settings"]
    T = results["layers"]
    plt, fig, axes = _panels(len(settings))
    handles: dict[str, Any] = {}
    for ax, (name, s) in zip(axes, settings.items()):
        for j, solver in enumerate(_solver_names({name: s})):
            curve = _curve(s, solver)
            if curve:
                lam = s["classical"]["solvers"][solver]["lam"]
                (line,) = ax.plot(range(1, len(curve)), curve[1:], color="0.35" if j == 0 else "0.0",
                                  linestyle="--" if j == 0 else "-", linewidth=1.6)
                handles.setdefault(_solver_label(solver), line)
                ax.annotate(f"λ={lam:g}", (len(curve) - 1, curve[-1]), fontsize=8, ha="right", va="bottom")
        for i, (net, entry) in enumerate(s["networks"].items()):
            point = ax.scatter([T], [entry["final_nmse_db"]], marker=MARKERS[i % len(MARKERS)], color=f"C{i % 10}", zorder=3, s=30)
            handles.setdefault(f"{net} (t = T)", point)
        ax.axvline(T, color="0.7", linewidth=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_title(s["title"], fontsize=12)
        ax.set_xlabel("iteration (log scale)", fontsize=11)
        ax.set_ylabel("NMSE (dB)", fontsize=11)
        ax.grid(True, alpha=0.3, which="both")
    for ax in axes[len(settings):]:
        ax.axis("off")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(6, len(handles)), fontsize=10,
               frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(handles) / 6)))
    fig.suptitle("Classical solvers (λ tuned on the validation set) against the trained networks", fontsize=13)
    fig.tight_layout()
    return _save(plt, fig, path)


def write_report(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and the PNG figures into ``out``; returns their paths."""
    out = Path(out)
    paths = {"json": write_json(out / "results.json", results)}
    paths["markdown"] = atomic_write(out / "results.md", lambda fh: fh.write(markdown(results)), mode="w")
    if any(s["networks"] for s in results["settings"].values()):
        paths["nmse_per_layer"] = plot_nmse_per_layer(results, out / "nmse-per-layer.png")
        if any(s.get("classical") for s in results["settings"].values()):
            paths["reference_iterations"] = plot_reference_iterations(results, out / "fista-iterations.png")
            paths["classical"] = plot_classical(results, out / "classical.png")
    return paths
