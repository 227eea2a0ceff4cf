"""``hno report``: one self-contained HTML page per run folder, or per folder of runs.

The page holds, for every run (a folder with ``best.pt`` or ``last.pt``): the config; the test NMSE per
layer with its 95 % bootstrap interval over the test samples (:func:`~hno_framework.uncertainty.bootstrap_nmse_db_columns`);
the learned integrator coefficients and step parameters per layer with their reference values
(:mod:`~hno_framework.inspection`); the training curves (loss and validation NMSE against iteration,
from ``metrics.json``); timings; and the machine. Figures are PNG embedded as base64 ``data:`` URIs and the
style is inline, so the file works offline and can be mailed as it is (no CDN, no script).
"""

from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CheckpointError
from .inspection import CHECKPOINT_NAMES, Inspection, inspect_checkpoint, plot_inspection, table_rows
from .io import CorruptFileError, read_json

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin-top:1.4rem} .muted{color:#666;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0} th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6rem;font-size:.8rem;overflow-x:auto}
img{max-width:100%;border:1px solid #eee;margin:.4rem 0} details{margin:.5rem 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.warn{background:#fff4e5;border-left:4px solid #e08a00;padding:.4rem .7rem}
"""


def find_runs(path: str | Path) -> list[Path]:
    """The run folders at or under ``path``: folders holding ``best.pt`` or ``last.pt``, sorted."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no such run or experiment folder: {path}")
    found = {p.parent for name in CHECKPOINT_NAMES for p in path.rglob(name)}
    if not found:
        raise CheckpointError(f"{path} holds no run (no {' or '.join(CHECKPOINT_NAMES)} below it); train first (hno train)")
    return sorted(found)


def machine_info() -> dict[str, Any]:
    """Where this report was made: platform, CPU, torch and its threads, GPU if any."""
    import torch

    from .machine import machine_info as base

    info = base()
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


@dataclass
class RunSection:
    """One run of the report: its folder, the inspection, ``metrics.json`` (if any) and its config."""

    run_dir: Path
    inspection: Inspection
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    evaluation_seconds: float = 0.0


def collect(run_dir: Path, *, test_size: int | None = None, resamples: int = 1000) -> RunSection:
    """Inspect the run in ``run_dir`` (evaluating its test set) and read its ``metrics.json``."""
    from .checkpoint import load_checkpoint

    start = time.perf_counter()
    inspection = inspect_checkpoint(run_dir, test_size=test_size, resamples=resamples)
    seconds = time.perf_counter() - start
    metrics_path = run_dir / "metrics.json"
    metrics = read_json(metrics_path, "run metrics") if metrics_path.is_file() else {}
    if not isinstance(metrics, dict):
        raise CorruptFileError(f"run metrics {metrics_path} is corrupt: it holds a JSON {type(metrics).__name__}, not an "
                               "object; delete it (or restore it) and rerun")
    config = load_checkpoint(inspection.checkpoint)["config"]
    return RunSection(run_dir, inspection, metrics, config, seconds)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Any, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{_png(fig)}">'


def _figure(width: float = 6.4, height: float = 4.0, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height), dpi=100)


def nmse_figure(sections: list[RunSection]) -> Any:
    """NMSE (dB) against layer for every run, with the 95 % bootstrap interval as a band."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure()
    for s in sections:
        r = s.inspection
        layers = range(len(r.nmse_db))
        (line,) = ax.plot(layers, r.nmse_db, marker="o", markersize=3, label=r.name)
        ax.fill_between(layers, r.nmse_low_db, r.nmse_high_db, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("layer t")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("test NMSE (dB)")
    ax.set_title("test NMSE per layer (band: 95 % bootstrap interval over test samples)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def training_figure(section: RunSection) -> Any | None:
    """Training loss and validation NMSE against iteration (from ``metrics.json``'s history), or None."""
    history = section.metrics.get("history") or []
    if not history:
        return None
    fig, (left, right) = _figure(10, 3.4, ncols=2)
    its = [h["iteration"] for h in history]
    left.semilogy(its, [h.get("loss", float("nan")) for h in history], marker=".", markersize=3)
    left.set_xlabel("iteration")
    left.set_ylabel("training loss (MSE)")
    right.plot(its, [h.get("validation_nmse_db", float("nan")) for h in history], marker=".", markersize=3)
    right.set_xlabel("iteration")
    right.set_ylabel("validation NMSE (dB)")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(data: dict[str, Any]) -> str:
    return _table(["", "value"], [[str(k), "–" if v is None else str(v)] for k, v in data.items()])


def _fmt(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _improved(metrics: dict[str, Any]) -> str | None:
    """``metrics.json``'s verdict on a finished run: "yes", "no" (never beat its initial validation NMSE), or None
    for a run that has none (unfinished, or written before the verdict was kept)."""
    value = metrics.get("improved")
    return None if value is None else ("yes" if value else "no")


def _run_html(s: RunSection) -> str:
    r, m = s.inspection, s.metrics
    parts = [f'<h2 id="{html.escape(r.name)}">{html.escape(r.name)}</h2>',
             f'<p class="muted">{html.escape(r.step)} + {html.escape(r.integrator)}, T = {r.layers}; '
             f'checkpoint {html.escape(r.checkpoint)}' + (f", iteration {r.iteration}" if r.iteration is not None else "") + "</p>"]
    if _improved(m) == "no":
        warm = (s.config.get("training") or {}).get("init_from") is not None
        why = ("a warm start: the network it started from may already be as good as this training makes it" if warm
               else "training exited with status 2; lower the learning rate, or look for zero gradients")
        parts.append('<p class="warn">This run never improved on its initial validation NMSE: what it saved is the '
                     f"network it started from ({why}).</p>")
    parts.append("<h3>Test NMSE per layer</h3>")
    rows = [[str(t), _fmt(v), f"[{_fmt(lo)}, {_fmt(hi)}]"]
            for t, (v, lo, hi) in enumerate(zip(r.nmse_db, r.nmse_low_db, r.nmse_high_db, strict=True))]
    parts.append(f'<div class="grid"><div>{_img(nmse_figure([s]), "NMSE per layer")}</div><div>'
                 + _table(["layer", "NMSE (dB)", "95 % interval"], rows)
                 + f'<p class="muted">{r.test_size} test samples; interval: percentile bootstrap, 1000 resamples.</p></div></div>')
    parts.append("<h3>What the network learned</h3>")
    parts.append(_img(plot_inspection(r, nmse=False), "learned coefficients"))
    for title, cols, refs in ((f"integrator {r.integrator}: coefficients per layer (reference values in brackets)",
                               r.coefficients, r.references),
                              (f"step {r.step}: parameters per layer (init in brackets)", r.step_parameters,
                               {"init": r.step_init})):
        if cols:
            header, body = table_rows(cols, refs)
            parts.append(f"<details open><summary>{html.escape(title)}</summary>{_table(header, body)}</details>")
    parts.append("<h3>Training</h3>")
    fig = training_figure(s)
    parts.append(_img(fig, "training curves") if fig is not None else '<p class="muted">no metrics.json history</p>')
    timings = {
        "protocol": m.get("protocol"), "iterations": m.get("iterations"),
        "training seconds": _fmt(m.get("seconds"), 1) if m.get("seconds") is not None else None,
        "iterations per second": _fmt(m["iterations"] / m["seconds"], 1) if m.get("seconds") else None,
        "learnable parameters": m.get("learnable_parameters"),
        "best validation NMSE (dB)": _fmt(m.get("best_validation_nmse_db")),
        "improved on the initial network": _improved(m),
        "test evaluation for this report (s)": _fmt(s.evaluation_seconds, 1),
    }
    parts.append("<h3>Timings</h3>" + _kv(timings))
    if isinstance(m.get("machine"), dict):  # where it trained, when metrics.json records it
        parts.append("<details><summary>machine it trained on</summary>" + _kv(m["machine"]) + "</details>")
    phases = m.get("phases") or []
    if len(phases) > 1:
        keys = ["stage", "phase", "iterations", "best_nmse_db", "stopped_by", "seconds"]
        parts.append("<details><summary>phases</summary>" + _table(keys, [[str(p.get(k, "")) for k in keys] for p in phases])
                     + "</details>")
    parts.append("<h3>Config</h3><pre>" + html.escape(yaml.safe_dump(s.config, sort_keys=False)) + "</pre>")
    return "\n".join(parts)


def render(sections: list[RunSection], title: str, machine: dict[str, Any]) -> str:
    """The HTML page for ``sections`` (see the module docstring)."""
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f'<p class="muted">hno report, {made}; {len(sections)} run(s)</p>']
    if len(sections) > 1:
        rows = [[s.inspection.name, s.inspection.step, s.inspection.integrator, _fmt(s.inspection.nmse_db[-1]),
                 f"[{_fmt(s.inspection.nmse_low_db[-1])}, {_fmt(s.inspection.nmse_high_db[-1])}]",
                 str(s.metrics.get("learnable_parameters", "–")), _fmt(s.metrics.get("seconds"), 1),
                 _improved(s.metrics) or "–"] for s in sections]
        parts += ["<h2>Overview</h2>", _img(nmse_figure(sections), "NMSE per layer of every run"),
                  _table(["run", "step", "integrator", "final NMSE (dB)", "95 % interval", "parameters", "training s",
                          "improved"], rows)]
    parts += [_run_html(s) for s in sections]
    parts += ["<h2>Machine</h2>", '<p class="muted">where this report was made (the test evaluation ran here)</p>',
              _kv(machine), "</body></html>"]
    return "\n".join(parts)


def write_report(path: str | Path, output: str | Path | None = None, *, test_size: int | None = None,
                 resamples: int = 1000) -> Path:
    """Write the report of the run or experiment folder ``path`` to ``output`` (default ``path/report.html``)."""
    from .io import atomic_write

    path = Path(path)
    sections = [collect(run, test_size=test_size, resamples=resamples) for run in find_runs(path)]
    title = sections[0].inspection.name if len(sections) == 1 and sections[0].run_dir == path else f"{path.name or path}"
    page = render(sections, f"hno report: {title}", machine_info())
    out = Path(output) if output is not None else path / "report.html"
    return atomic_write(out, lambda fh: fh.write(page), mode="w")
