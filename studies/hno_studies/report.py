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

from hno_framework.io import atomic_write, write_json
from hno_framework.plotting import MARKERS, draw_nmse_curves, label_nmse_axes, panels, save_png


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.2f} ± {std:.2f}" if std else f"{value:.2f}"


def _solver_label(name: str) -> str:
    return name.upper()


def markdown(results: dict[str, Any]) -> str:
    """The Markdown report of a results mapping: :func:`summary_markdown` and the NMSE per layer."""
    return summary_markdown(results) + "\n" + "\n".join(_per_layer_section(results)).rstrip() + "\n"


def summary_markdown(results: dict[str, Any]) -> str:
    """The head of the report (what ``hno experiment`` prints): protocol, final-layer table with the
    classical baselines, the tuned λ and the reference solver's iterations to match each network."""
    settings = results["settings"]
    lines = _header(results) + _final_layer_section(results)
    if _solver_names(settings):
        lines += _lambda_line(settings) + _reference_iterations_section(results)
    return "\n".join(lines).rstrip() + "\n"


def _table_head(results: dict[str, Any], first: str = "network") -> list[str]:
    settings = results["settings"]
    return [f"| {first} | " + " | ".join(s["title"] for s in settings.values()) + " |", "|" + "---|" * (len(settings) + 1)]


def _header(results: dict[str, Any]) -> list[str]:
    seeds = results["seeds"]
    quick = " (quick preset)" if results.get("quick") else ""
    spread = " (mean ± std over seeds)" if len(seeds) > 1 else ""
    lines = [f"# {results['grid']}: NMSE (dB) on the test set{quick}", "",
             (f"Protocol: {results['protocol']}; T = {results['layers']} layers; test set of {results['test_size']} "
             f"samples; seeds {seeds}{spread}.")]
    if results.get("command"):
        lines.append(f"Command: `{results['command']}`.")
    if results.get("skipped_networks"):
        skipped = "; ".join(f"{k} ({v})" for k, v in results["skipped_networks"].items())
        lines.append(f"Skipped (not registered): {skipped}.")
    return lines


def _final_layer_section(results: dict[str, Any]) -> list[str]:
    """Final-layer NMSE of every network, then each classical solver at T and at its full budget."""
    settings, T = results["settings"], results["layers"]
    lines = ["", f"## Final layer (t = {T})", "", *_table_head(results)]
    for net in results["networks"]:
        entries = [s["networks"].get(net) for s in settings.values()]
        cells = [_fmt(e["final_nmse_db"], e["final_nmse_db_std"]) if e else "–" for e in entries]
        lines.append(f"| {net} | " + " | ".join(cells) + " |")
    for solver in _solver_names(settings):
        iters = _iterations(settings, list(settings), solver)
        for k in sorted({min(T, iters), iters}):
            curves = [_curve(s, solver) for s in settings.values()]
            cells = [_fmt(c[k]) if c and k < len(c) else "–" for c in curves]
            lines.append(f"| {_solver_label(solver)} ({k} it.) | " + " | ".join(cells) + " |")
    return lines


def _lambda_line(settings: dict[str, Any]) -> list[str]:
    """"λ tuned on the validation set: <setting>: ISTA λ, FISTA λ; ..."."""
    per_setting = []
    for s in settings.values():
        if s.get("classical"):
            solvers = s["classical"]["solvers"]
            per_setting.append(f"{s['title']}: " + ", ".join(f"{_solver_label(a)} {solvers[a]['lam']:g}" for a in solvers))
    return ["", "λ tuned on the validation set: " + "; ".join(per_setting) + "."]


def _reference_cell(entry: dict[str, Any] | None, iters: int) -> str:
    if not entry or "reference_iterations" not in entry:
        return "–"
    if entry["reference_iterations"] is None:
        return f"> {iters}"
    return f"{entry['reference_iterations']} (saves {entry['iterations_saved']})"


def _reference_iterations_section(results: dict[str, Any]) -> list[str]:
    """Iterations the reference solver needs to reach each network's final NMSE (and iterations saved)."""
    settings, T = results["settings"], results["layers"]
    ref = results["config"]["classical"]["reference"]
    iters = _iterations(settings, list(settings), ref)
    lines = ["", f"## {ref.upper()} iterations to reach each network's final NMSE", "",
             (f"Iterations saved = that count − T (T = {T}); “> {iters}” when {ref.upper()} does not get there "
             f"in {iters} iterations."), "", *_table_head(results)]
    for net in results["networks"]:
        cells = [_reference_cell(s["networks"].get(net), iters) for s in settings.values()]
        lines.append(f"| {net} | " + " | ".join(cells) + " |")
    return lines


def _per_layer_section(results: dict[str, Any]) -> list[str]:
    """Per setting, a table of NMSE at every layer t = 0..T for every network."""
    lines = ["## NMSE per layer", ""]
    for s in results["settings"].values():
        nets = s["networks"]
        lines += [f"### {s['title']}", "", "| t | " + " | ".join(nets) + " |", "|" + "---|" * (len(nets) + 1)]
        for t in range(results["layers"] + 1):
            lines.append(f"| {t} | " + " | ".join(_fmt(nets[n]["nmse_db"][t]) for n in nets) + " |")
        lines.append("")
    return lines


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


def plot_settings_nmse_per_layer(results: dict[str, Any], path: Path) -> Path:
    """Seed Figure 3: NMSE (dB) vs layer, one panel per setting, a line per network (+ ISTA/FISTA dashed)."""
    settings = results["settings"]
    T = results["layers"]
    from matplotlib.ticker import MaxNLocator

    plt, fig, axes = panels(len(settings))
    handles: dict[str, Any] = {}
    for ax, (name, s) in zip(axes, settings.items(), strict=False):
        nets = s["networks"]
        curves = draw_nmse_curves(ax, {n: e["nmse_db"] for n, e in nets.items()}, {n: e["nmse_db_std"] for n, e in nets.items()})
        for net, line in curves.items():
            handles.setdefault(net, line)
        for j, solver in enumerate(_solver_names({name: s})):
            curve = _curve(s, solver)
            if curve:
                (line,) = ax.plot(range(T + 1), curve[: T + 1], color="0.35" if j == 0 else "0.0",
                                  linestyle="--" if j == 0 else ":", linewidth=1.6)
                handles.setdefault(f"{_solver_label(solver)} (λ tuned)", line)
        ax.set_title(s["title"], fontsize=12)
        label_nmse_axes(ax, xlabel="layer / iteration t")
        ax.set_xlim(0, T)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=10)
    _finish(fig, axes[len(settings):], handles, f"NMSE per layer on the test set ({results['protocol']} training)")
    return save_png(plt, fig, path, bbox_inches="tight")


def _finish(fig: Any, unused: Any, handles: dict[str, Any], title: str) -> None:
    """Hide unused panels, add one legend below the panels and the title."""
    for ax in unused:
        ax.axis("off")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(6, len(handles)), fontsize=10,
               frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(handles) / 6)))
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()


def plot_reference_iterations(results: dict[str, Any], path: Path) -> Path:
    """Grouped bars: iterations the reference solver needs to reach each network's final NMSE (log scale)."""
    import numpy as np
    from matplotlib.ticker import ScalarFormatter

    settings = results["settings"]
    names = list(settings)
    nets = results["networks"]
    ref = results["config"]["classical"]["reference"].upper()
    iters = _iterations(settings, names, results["config"]["classical"]["reference"])
    plt, fig, axes = panels(1)
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
        for bar, flag in zip(bars, unreached, strict=True):
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
    return save_png(plt, fig, path, bbox_inches="tight")


def plot_classical(results: dict[str, Any], path: Path) -> Path:
    """ISTA / FISTA NMSE vs iteration (log x), with every network's final NMSE as a marker at t = T."""
    from matplotlib.ticker import ScalarFormatter

    settings = results["settings"]
    T = results["layers"]
    plt, fig, axes = panels(len(settings))
    handles: dict[str, Any] = {}
    for ax, (name, s) in zip(axes, settings.items(), strict=False):
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
    _finish(fig, axes[len(settings):], handles, "Classical solvers (λ tuned on the validation set) against the trained networks")
    return save_png(plt, fig, path, bbox_inches="tight")


def write_report(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and the PNG figures into ``out``; returns their paths."""
    out = Path(out)
    paths = {"json": write_json(out / "results.json", results)}
    paths["markdown"] = atomic_write(out / "results.md", lambda fh: fh.write(markdown(results)), mode="w")
    if any(s["networks"] for s in results["settings"].values()):
        paths["nmse_per_layer"] = plot_settings_nmse_per_layer(results, out / "nmse-per-layer.png")
        if any(s.get("classical") for s in results["settings"].values()):
            paths["reference_iterations"] = plot_reference_iterations(results, out / "fista-iterations.png")
            paths["classical"] = plot_classical(results, out / "classical.png")
    return paths
