"""Image CS: how each trained network converges over its layers, and how fast it trained.

    OMP_NUM_THREADS=1 python studies/scripts/image_cs_convergence.py runs/images/image-cs \\
        --out docs/results/images/image-cs-full/convergence.json \\
        --plot docs/results/images/image-cs-full/convergence.png

The study reports the PSNR of ``x_T`` after the full training budget only. For every finished cell
``<run>/ratio-*/<network>/`` (``result.json`` present) this script gives

* **over layers** (needs the cell's ``best.pt``): the mean PSNR over the config's test images of ``x_t`` for
  ``t = 1 … T`` (:func:`hno_studies.image_eval.reconstruct` with ``depth``), the layer from which it stays within
  ``--within`` dB of ``x_T``, and the integrator's coefficients per layer (2NO: the learned α_t, β_t);
* **over training** (from the cell's ``metrics.json``): the validation NMSE (dB) at every validation point.

It shows whether a scheme that converges in fewer layers has room to act at depth T, and whether a difference
between two networks is one of final level or of training speed. Prints a table and writes JSON (and a figure
with ``--plot``). The checkpoints are not committed; their SHA-256 are recorded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from hno_framework.checkpoint import load_network
from hno_framework.images.sources import GrayImage
from hno_framework.io import write_json
from hno_framework.machine import machine_info
from hno_framework.network import UnrolledNetwork
from hno_studies.image_eval import reconstruct
from hno_studies.image_study import ImageStudyConfig, load_study, study_images

ROOT = Path(__file__).resolve().parents[2]


def psnr_per_layer(study: ImageStudyConfig, net: UnrolledNetwork, test: list[GrayImage]) -> list[float]:
    """Mean PSNR (dB) over the ``test`` images of ``x_t``, ``t = 1 … T``: one value per layer."""
    return [statistics.fmean(reconstruct(net, image, patch=study.patch, stride=study.stride, missing_ratio=None,
                                         mask_seed=0, depth=depth).psnr_db for image in test)
            for depth in range(1, net.num_layers + 1)]


def settled_layer(psnrs: list[float], within: float) -> int:
    """The first layer (1-based) from which every later PSNR stays within ``within`` dB of the last one."""
    final = psnrs[-1]
    layer = len(psnrs)
    while layer > 1 and abs(psnrs[layer - 2] - final) <= within:
        layer -= 1
    return layer


def validation_curve(metrics: Path) -> dict[str, list[float]]:
    """``{"iteration": [...], "nmse_db": [...]}``: the validation NMSE at every validation point of a run."""
    history = json.loads(metrics.read_text())["history"]
    points = [(int(e["iteration"]), float(e["validation_nmse_db"])) for e in history if "validation_nmse_db" in e]
    return {"iteration": [i for i, _ in points], "nmse_db": [v for _, v in points]}


def coefficients(net: UnrolledNetwork) -> dict[str, list[float]]:
    """The integrator's coefficients per layer (2NO: α_t, β_t; Euler: its fixed step h)."""
    return {name: [float(v) for v in value.detach().flatten()]
            for name, value in net.integrator.inspect_coefficients().items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finished_cells(run: Path) -> list[Path]:
    """The ``ratio-*/<network>/`` folders holding a ``result.json``, by ratio, then network."""
    cells = [p.parent for p in run.glob("ratio-*/*/result.json")]
    return sorted(cells, key=lambda c: (float(c.parent.name.removeprefix("ratio-")), c.name))


def evaluate(study: ImageStudyConfig, run: Path, within: float) -> dict[str, dict[str, dict[str, Any]]]:
    """``{ratio folder: {network folder: {"validation": {...}, and with a best.pt: "psnr_db": [...],
    "settled_layer": k, "coefficients": {...}, "sha256": ...}}}``."""
    cells = finished_cells(run)
    if not cells:
        raise SystemExit(f"no finished cell (ratio-*/<network>/result.json) under {run}: pass the output.dir of an "
                         "image-CS run")
    test = study_images(study)[1]  # loaded once, for every checkpoint
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for cell in cells:
        row: dict[str, Any] = {"validation": validation_curve(cell / "metrics.json")}
        checkpoint = cell / "best.pt"
        if checkpoint.is_file():
            net, config = load_network(checkpoint)
            net.eval()
            psnrs = psnr_per_layer(study, net, test)
            row.update({"step": config.network.step.name, "integrator": config.network.integrator.name,
                        "m": config.problem.m, "psnr_db": psnrs, "settled_layer": settled_layer(psnrs, within),
                        "coefficients": coefficients(net), "sha256": sha256(checkpoint)})
        found.setdefault(cell.parent.name, {})[cell.name] = row
    return found


def plot(found: dict[str, dict[str, dict[str, Any]]], within: float, path: Path) -> None:
    """Top row: PSNR of ``x_t`` per layer; bottom row: validation NMSE over training; one column per ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({network for networks in found.values() for network in networks}, key=lambda n: (len(n), n))
    colour = {network: f"C{k}" for k, network in enumerate(names)}  # the same network, the same colour everywhere
    fig, axes = plt.subplots(2, len(found), figsize=(3.0 * len(found), 5.9), squeeze=False)
    for column, (ratio, networks) in enumerate(found.items()):
        top, bottom = axes[0][column], axes[1][column]
        for network, row in networks.items():
            curve = row["validation"]
            bottom.plot(curve["iteration"], curve["nmse_db"], color=colour[network])
            if "psnr_db" in row:
                top.plot(range(1, len(row["psnr_db"]) + 1), row["psnr_db"], marker="o", markersize=3,
                         color=colour[network])
                top.axvline(row["settled_layer"], color=colour[network], linestyle=":", alpha=0.6)
        top.set_title(f"{ratio.removeprefix('ratio-')} %")
        top.set_xlabel("layer t")
        bottom.set_xlabel("training iteration")
        bottom.set_xscale("log")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean test PSNR of x_t (dB)")
    axes[1][0].set_ylabel("validation NMSE (dB)")
    handles = [plt.Line2D([], [], color=colour[n], marker="o", markersize=3) for n in names]
    fig.legend(handles, names, loc="upper center", ncol=len(names), fontsize=8,
               title=f"dotted line: the layer from which x_t stays within {within} dB of x_T", title_fontsize=8)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.9))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="an image-CS run folder (its output.dir), holding ratio-*/<network>/")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "images" / "image-cs.yaml")
    parser.add_argument("--images", type=Path, default=None,
                        help="the folder with train/ and test/ the run was given with --images (default: the config's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override the run was given with (repeatable), e.g. images.downscale=2")
    parser.add_argument("--within", type=float, default=0.1, help="dB of the final PSNR that counts as settled")
    parser.add_argument("--out", type=Path, default=Path("convergence.json"))
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    study = load_study(args.config, args.overrides, task="image-cs", images=args.images)
    found = evaluate(study, args.run, args.within)
    for ratio, networks in found.items():
        for network, row in networks.items():
            curve = row["validation"]
            layers = (" ".join(f"{v:6.2f}" for v in row["psnr_db"]) + f"  settled at layer {row['settled_layer']}"
                      if "psnr_db" in row else "(no best.pt: validation curve only)")
            print(f"{ratio:<10}{network:<16}validation {curve['nmse_db'][0]:7.2f} → {curve['nmse_db'][-1]:7.2f} dB"
                  f"   PSNR of x_1 … x_T: {layers}")
    config = args.config.resolve()
    write_json(args.out, {
        "command": "python studies/scripts/image_cs_convergence.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
        "test_images": [image.name for image in study_images(study)[1]], "within_db": args.within,
        "cells": found, "machine": machine_info()})
    if args.plot is not None:
        plot(found, args.within, args.plot)
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))


if __name__ == "__main__":
    main()
