"""What a trained network learned: the integrator's coefficients and the step's parameters per layer.

:func:`inspect_checkpoint` loads a checkpoint (weights only, no code runs), and collects

* ``coefficients``: what :meth:`Integrator.inspect_coefficients` reports, one column per coefficient
  (a ``(T, k)`` coefficient such as LM's ξ becomes columns ``xi[0]``..``xi[k−1]``), value ``t`` for layer t;
* ``references``: the same columns for named reference schemes (:meth:`Integrator.reference_coefficients`,
  e.g. Euler's α = 1, β = 0) and for ``init``, a freshly composed network of the same config (the
  values training started from, e.g. the seed's α = 1, β = −0.5);
* ``step_parameters`` (and their ``init``): :meth:`UnfoldingStep.inspect_parameters` of every layer;
* ``nmse_db``: the test NMSE per layer t = 0..T (seed's metric, :mod:`.metrics`) with a bootstrap 95 %
  interval over the test samples (:func:`~hno_framework.uncertainty.bootstrap_nmse_db_columns`).

Everything is JSON-able (:meth:`Inspection.as_dict`); :func:`plot_inspection` draws it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from .errors import CheckpointError
from .evaluation import per_sample_errors
from .uncertainty import bootstrap_nmse_db_columns

Column = list[float | None]
"""One value per layer (None where a layer does not use the coefficient)."""

CHECKPOINT_NAMES = ("best.pt", "last.pt")


def resolve_checkpoint(path: str | Path) -> Path:
    """``path`` itself if it is a file, else ``best.pt`` (or ``last.pt``) in the run folder ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in CHECKPOINT_NAMES:
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path} holds no checkpoint ({' or '.join(CHECKPOINT_NAMES)}); train it first (hno train)")
    raise CheckpointError(f"no such run folder or checkpoint: {path}")


def _value(v: Tensor) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def columns(coefficients: dict[str, Tensor], layers: int) -> tuple[dict[str, Column], dict[str, list[float]]]:
    """Split ``name -> (T,) | (T, k)`` into per-layer columns, and anything else into ``other`` (flat values)."""
    per_layer: dict[str, Column] = {}
    other: dict[str, list[float]] = {}
    for name, value in coefficients.items():
        value = value.detach().double().cpu()
        if value.dim() == 1 and value.shape[0] == layers:
            per_layer[name] = [_value(v) for v in value]
        elif value.dim() == 2 and value.shape[0] == layers:
            for i in range(value.shape[1]):
                per_layer[f"{name}[{i}]"] = [_value(v) for v in value[:, i]]
        else:
            other[name] = [float(v) for v in value.reshape(-1)]
    return per_layer, other


def step_columns(net: Any) -> dict[str, Column]:
    """``name -> value per layer`` from every layer's :meth:`UnfoldingStep.inspect_parameters`."""
    rows = [layer.inspect_parameters() for layer in net.layers]
    names: list[str] = []
    for row in rows:
        names += [n for n in row if n not in names]
    return {n: [_value(row[n]) if n in row else None for row in rows] for n in names}


def learned_values(net: Any, init: Any = None) -> dict[str, Any]:
    """What ``net`` learned, per layer, JSON-able: ``"integrator"``: the columns of
    :meth:`Integrator.inspect_coefficients` (e.g. 2NO's α_t, β_t); ``"integrator_learnable"``: whether they are
    learned at all (forward Euler's fixed step h is not); ``"integrator_references"``: the integrator's named
    reference schemes (e.g. Euler's values); ``"integrator_init"``: the coefficients of ``init``, the same network
    as composed before training (when given); ``"step"``: :func:`step_columns`."""
    T = len(net.layers)
    out: dict[str, Any] = {
        "integrator": columns(net.integrator.inspect_coefficients(), T)[0],
        "integrator_learnable": bool(net.integrator.metadata.learnable),
        "integrator_references": {name: columns(values, T)[0]
                                  for name, values in net.integrator.reference_coefficients().items()},
        "step": step_columns(net),
    }
    if init is not None:
        out["integrator_init"] = columns(init.integrator.inspect_coefficients(), T)[0]
    return out


@dataclass
class Inspection:
    """What :func:`inspect_checkpoint` found (see the module docstring); ``as_dict`` is the ``--json`` output."""

    name: str
    checkpoint: str
    step: str
    integrator: str
    layers: int
    iteration: int | None
    coefficients: dict[str, Column]
    references: dict[str, dict[str, Column]]
    other_coefficients: dict[str, list[float]]
    step_parameters: dict[str, Column]
    step_init: dict[str, Column]
    test_size: int = 0
    nmse_db: list[float] = field(default_factory=list)
    nmse_low_db: list[float] = field(default_factory=list)
    nmse_high_db: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_network(net: Any, config: Any, *, init: Any = None, test_size: int | None = None,
                    checkpoint: str = "", iteration: int | None = None, resamples: int = 1000) -> Inspection:
    """Inspect ``net`` built from ``config``; ``init`` is the same network as composed (default: composed here).
    ``test_size=0`` skips the NMSE."""
    from .composer import compose
    from .data import make_test_set

    T = config.network.layers
    init = compose(config) if init is None else init
    coefficients, other = columns(net.integrator.inspect_coefficients(), T)
    references = {"init": columns(init.integrator.inspect_coefficients(), T)[0]}
    for ref_name, values in net.integrator.reference_coefficients().items():
        references[ref_name] = columns(values, T)[0]
    result = Inspection(
        name=config.name, checkpoint=checkpoint, step=config.network.step.name,
        integrator=config.network.integrator.name, layers=T, iteration=iteration,
        coefficients=coefficients, references=references, other_coefficients=other,
        step_parameters=step_columns(net), step_init=step_columns(init),
    )
    if test_size != 0:
        data = make_test_set(net.problem, config, test_size).to(net.problem.phi.device)
        errors, reference = per_sample_errors(net, data)
        result.test_size = len(data)
        result.nmse_db, result.nmse_low_db, result.nmse_high_db = bootstrap_nmse_db_columns(errors, reference, resamples=resamples)
    return result


def inspect_checkpoint(path: str | Path, *, test_size: int | None = None, resamples: int = 1000) -> Inspection:
    """Load the checkpoint at ``path`` (or in the run folder ``path``) and inspect it (see the module docstring)."""
    from .checkpoint import load_checkpoint, load_network

    ckpt = resolve_checkpoint(path)
    net, config = load_network(ckpt)
    iteration = load_checkpoint(ckpt).get("iteration")
    return inspect_network(net, config, test_size=test_size, checkpoint=str(ckpt),
                           iteration=int(iteration) if iteration is not None else None, resamples=resamples)


def table_rows(columns_: dict[str, Column], references: dict[str, dict[str, Column]] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per layer) of ``columns_``, each cell ``value`` or ``value (ref: …)``."""
    refs = references or {}
    names = list(columns_)
    header = ["layer", *names]
    depth = max((len(v) for v in columns_.values()), default=0)

    def cell(name: str, t: int) -> str:
        v = columns_[name][t]
        text = "–" if v is None else f"{v:.4g}"
        marks = [f"{r} {vals[name][t]:.3g}" for r, vals in refs.items() if name in vals and vals[name][t] is not None]
        return text + (f"  ({'; '.join(marks)})" if marks else "")

    return header, [[str(t), *(cell(n, t) for n in names)] for t in range(depth)]


def plot_inspection(result: Inspection, path: str | Path | None = None, *, nmse: bool = True):
    """A figure (saved as PNG to ``path`` when given): coefficients per layer with their references dashed,
    the step's parameters per layer, and (``nmse``) the NMSE per layer with its 95 % interval. Returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    wanted = {"coefficients": bool(result.coefficients), "step": True, "nmse": nmse and bool(result.nmse_db)}
    panels = [p for p, keep in wanted.items() if keep]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), dpi=110, squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "coefficients":
            _plot_columns(ax, result.coefficients, result.references, f"{result.integrator}: coefficients")
        elif panel == "step":
            scalars = {k: v for k, v in result.step_parameters.items() if not k.startswith("‖")} or result.step_parameters
            _plot_columns(ax, scalars, {"init": result.step_init}, f"{result.step}: parameters")
        else:
            _plot_nmse(ax, result)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    if path is not None:
        from .io import atomic_write

        atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    return fig


def _plot_columns(ax: Any, cols: dict[str, Column], refs: dict[str, dict[str, Column]], title: str) -> None:
    styles = [":", "--", "-."]
    for i, (name, values) in enumerate(cols.items()):
        (line,) = ax.plot(range(len(values)), [math.nan if v is None else v for v in values], marker="o",
                          markersize=3, label=name)
        for j, (ref_name, ref) in enumerate(refs.items()):
            if name in ref:
                ax.plot(range(len(ref[name])), [math.nan if v is None else v for v in ref[name]],
                        styles[j % len(styles)], color=line.get_color(), alpha=0.6,
                        label=f"{name} ({ref_name})" if i < 4 else None)
    ax.set_xlabel("layer t")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if cols:
        ax.legend(fontsize=7, ncol=2)


def _plot_nmse(ax: Any, result: Inspection) -> None:
    layers = range(len(result.nmse_db))
    ax.plot(layers, result.nmse_db, marker="o", markersize=3, label=result.name)
    if result.nmse_low_db:
        ax.fill_between(layers, result.nmse_low_db, result.nmse_high_db, alpha=0.25, label="95 % bootstrap interval")
    ax.set_xlabel("layer t")
    ax.set_ylabel("NMSE (dB)")
    ax.set_title(f"test NMSE ({result.test_size} samples)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
