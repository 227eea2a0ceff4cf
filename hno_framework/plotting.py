"""Figures: NMSE (dB) against layer, one line per network (like the seed's Figure 3)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .checkpoint import atomic_write


def plot_nmse_per_layer(curves: dict[str, Sequence[float]], path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG of NMSE dB vs layer t = 0..T for each named curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    markers = "osD^v<>px*"
    for i, (name, values) in enumerate(curves.items()):
        ax.plot(range(len(values)), values, marker=markers[i % len(markers)], markersize=4, label=name)
    ax.set_xlabel("layer t")
    ax.set_ylabel("NMSE (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    plt.close(fig)
    return path
