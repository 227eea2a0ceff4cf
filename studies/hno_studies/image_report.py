"""Report of an image study: ``results.json``, ``results.md`` (seed Table 1 / Table 2 layout) and a figure.

* inpainting: rows = networks (ISTA first), columns = test images, PSNR (dB); the seed's
  cameraman column (Set11 "C.man") beside our ``camera`` column;
* image-cs: rows = networks, columns = CS ratios, the mean PSNR over the test images; the seed's
  Table 2 rows (LISTA-CS, 2NO-LISTA-CS, Set11 means) beside; per-image PSNR in the JSON and the
  Markdown's detail table;
* every 2NO network is paired with its base network (same step and options, ``euler``): the PSNR
  difference per image with a paired bootstrap interval over blocks, and (image-cs) the mean
  difference over the images with a Student-t interval over images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hno_framework.images.quality import bootstrap_psnr_difference, mean_interval
from hno_framework.io import read_json, write_json

from .image_study import ImageStudyConfig, ratio_name

# Seed paper, Table 1 (Set11, 50 % missing pixels), column C.man.
SEED_TABLE1_CAMERAMAN = {"ISTA": 22.32, "LISTA": 28.34, "GLISTA": 28.44, "2NO-LISTA": 28.91, "2NO-GLISTA": 28.69}
# Seed paper, Table 2 (mean PSNR over Set11, 32 × 32 blocks, DCT basis) at these CS ratios.
SEED_TABLE2_RATIOS = (0.01, 0.04, 0.10, 0.25, 0.30, 0.40, 0.50)
SEED_TABLE2 = {
    "LISTA-CS": (18.83, 22.08, 25.20, 29.96, 31.21, 33.70, 36.01),
    "2NO-LISTA-CS": (19.25, 22.35, 25.60, 30.46, 31.90, 34.60, 37.24),
}


def pairs(study: ImageStudyConfig) -> list[tuple[str, str]]:
    """``(2NO network, base network)`` names: same step (and options) and tying, integrator ``2no`` vs ``euler``."""
    out = []
    for net in study.networks:
        if net.integrator.name != "2no":
            continue
        for base in study.networks:
            if base.integrator.name == "euler" and base.step == net.step and base.tied == net.tied:
                out.append((net.name, base.name))
                break
    return out


def _comparisons(study: ImageStudyConfig, rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    comps = []
    for new, base in pairs(study):
        if new not in rows or base not in rows:
            continue
        a, b = rows[new], rows[base]
        per_image = {}
        for image in a["psnr_db"]:
            ea, eb = torch.tensor(a["block_mse"][image]), torch.tensor(b["block_mse"][image])
            per_image[image] = {
                "difference_db": a["psnr_db"][image] - b["psnr_db"][image],
                "interval_db": bootstrap_psnr_difference(ea, eb, resamples=study.evaluation.bootstrap,
                                                         seed=study.evaluation.seed),
            }
        diffs = [v["difference_db"] for v in per_image.values()]
        comps.append({"network": new, "base": base, "per_image": per_image,
                      "mean_difference_db": sum(diffs) / len(diffs), "mean_interval_db": mean_interval(diffs)})
    return comps


def summarise(study: ImageStudyConfig, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The results mapping: per setting, per network, PSNR per image, intervals, mean; comparisons; seed numbers."""
    settings: dict[str, Any] = {}
    for setting in study.settings():
        rows = {r["network"]: r for r in results if r["setting"] == setting}
        if not rows:
            continue
        networks = {}
        for name, r in rows.items():
            values = list(r["psnr_db"].values())
            kept: dict[str, Any] = {k: r[k] for k in ("lam", "validation_nmse_db", "best_validation_nmse_db", "iterations",
                                                      "train_seconds", "wall_seconds", "learnable_parameters") if k in r}
            networks[name] = {
                "step": r["step"], "integrator": r["integrator"], "layers": r["layers"], "m": r["m"], "n": r["n"],
                "psnr_db": r["psnr_db"], "psnr_interval_db": r["psnr_interval_db"],
                "mean_psnr_db": sum(values) / len(values), "mean_interval_db": mean_interval(values),
                **kept,
            }
        settings[setting] = {"networks": networks, "comparisons": _comparisons(study, rows)}
    seed: dict[str, Any]
    if study.task == "inpainting":
        seed = {"table": "seed Table 1, Set11 column C.man (cameraman), PSNR dB", "values": SEED_TABLE1_CAMERAMAN}
    else:
        seed = {"table": "seed Table 2, mean PSNR dB over Set11", "ratios": list(SEED_TABLE2_RATIOS),
                "values": {k: list(v) for k, v in SEED_TABLE2.items()}}
    return {"study": study.name, "task": study.task, "test_images": _image_names(results), "settings": settings,
            "seed_published": seed}


def _image_names(results: list[dict[str, Any]]) -> list[str]:
    return list(results[0]["psnr_db"]) if results else []


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _ci(lo_hi: Any) -> str:
    return f"[{lo_hi[0]:.2f}, {lo_hi[1]:.2f}]"


def markdown(study: ImageStudyConfig, summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """``results.md``: the table(s), the seed's numbers beside ours, the 2NO comparisons."""
    images = summary["test_images"]
    lines = [f"# {study.name}: {'natural-image inpainting (seed Table 1)' if study.task == 'inpainting' else 'natural-image CS (seed Table 2)'}",
             ""]
    if meta.get("command"):
        lines += [f"Command: `{meta['command']}`" + (" (quick preset)" if meta.get("quick") else ""), ""]
    lines += [(f"Training images: {', '.join(study.images.train)}; test images: {', '.join(images)} "
              f"(downscale {study.images.downscale}); patches {study.patch}×{study.patch}; tiling stride {study.stride}."), ""]
    if study.task == "inpainting":
        s = summary["settings"].get("inpainting")
        if s:
            nets = s["networks"]
            lines += ["## PSNR (dB) per test image", "",
                      "| network | " + " | ".join(images) + " | mean |", "|---|" + "---:|" * (len(images) + 1)]
            for name, e in nets.items():
                lines.append(f"| {name} | " + " | ".join(_fmt(e["psnr_db"][i]) for i in images) + f" | {_fmt(e['mean_psnr_db'])} |")
            lines += ["", "95 % bootstrap intervals over the image's blocks:", "",
                      "| network | " + " | ".join(images) + " |", "|---|" + "---|" * len(images)]
            for name, e in nets.items():
                lines.append(f"| {name} | " + " | ".join(_ci(e["psnr_interval_db"][i]) for i in images) + " |")
            if "camera" in images:
                lines += ["", "## Beside the seed: cameraman", "",
                          "| network | ours: camera (PSNR, 95 % interval) | seed Table 1: C.man (Set11) |", "|---|---:|---:|"]
                for name, e in nets.items():
                    lines.append(f"| {name} | {_fmt(e['psnr_db']['camera'])} {_ci(e['psnr_interval_db']['camera'])} | "
                                 f"{_fmt(SEED_TABLE1_CAMERAMAN.get(name))} |")
            lines += _comparison_lines(s["comparisons"], images)
    else:
        ratios = [r for r in study.ratios if ratio_name(r) in summary["settings"]]
        names = list(dict.fromkeys(n for r in ratios for n in summary["settings"][ratio_name(r)]["networks"]))
        lines += ["## Mean PSNR (dB) over the test images per CS ratio", "",
                  "| network | " + " | ".join(f"{r * 100:g} %" for r in ratios) + " |", "|---|" + "---:|" * len(ratios)]
        for name in names:
            vals = [summary["settings"][ratio_name(r)]["networks"].get(name, {}).get("mean_psnr_db") for r in ratios]
            lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in vals) + " |")
        for name, values in SEED_TABLE2.items():
            vals = [values[SEED_TABLE2_RATIOS.index(r)] if r in SEED_TABLE2_RATIOS else None for r in ratios]
            lines.append(f"| seed Table 2: {name} (Set11) | " + " | ".join(_fmt(v) for v in vals) + " |")
        lines += ["", "## PSNR (dB) per image and ratio (95 % bootstrap interval over blocks)"]
        for r in ratios:
            s = summary["settings"][ratio_name(r)]
            lines += ["", f"### CS ratio {r * 100:g} % (m = {next(iter(s['networks'].values()))['m']})", "",
                      "| network | " + " | ".join(images) + " | mean (95 % t-interval over images) |",
                      "|---|" + "---|" * (len(images) + 1)]
            for name, e in s["networks"].items():
                lines.append(f"| {name} | " + " | ".join(f"{_fmt(e['psnr_db'][i])} {_ci(e['psnr_interval_db'][i])}" for i in images)
                             + f" | {_fmt(e['mean_psnr_db'])} {_ci(e['mean_interval_db'])} |")
            lines += _comparison_lines(s["comparisons"], images, heading="####")
    lines += ["", (f"Wall time of this run: {meta.get('seconds_this_run', 0.0):.0f} s; "
              f"all reported cells: {meta.get('seconds_all_cells', 0.0):.0f} s."), ""]
    return "\n".join(lines)


def _comparison_lines(comparisons: list[dict[str, Any]], images: list[str], heading: str = "##") -> list[str]:
    if not comparisons:
        return []
    lines = ["", f"{heading} 2NO minus its base network (PSNR dB; paired 95 % bootstrap interval over blocks)", "",
             "| comparison | " + " | ".join(images) + " | mean over images (95 % t-interval) |",
             "|---|" + "---|" * (len(images) + 1)]
    for c in comparisons:
        cells = [f"{c['per_image'][i]['difference_db']:+.2f} {_ci(c['per_image'][i]['interval_db'])}" for i in images]
        lines.append(f"| {c['network']} − {c['base']} | " + " | ".join(cells)
                     + f" | {c['mean_difference_db']:+.2f} {_ci(c['mean_interval_db'])} |")
    return lines


def figure(study: ImageStudyConfig, out: Path, image: str) -> Path | None:
    """``reconstructions.png``: original (and masked) ``image`` and every network's reconstruction
    (inpainting), or at three CS ratios (image-cs). None when no reconstruction is on disk."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .image_eval import test_tensor
    from .image_study import RECONSTRUCTIONS_FILE, study_images

    _, test = study_images(study)
    match = [im for im in test if im.name == image]
    if not match:
        return None
    original = test_tensor(match[0], study.patch, study.stride).numpy() * 255.0
    cells = [c for c in study.cells() if (c.run_dir / RECONSTRUCTIONS_FILE).is_file()]
    if not cells:
        return None
    settings = study.settings()
    if study.task == "image-cs":
        present = [s for s in settings if any(c.setting == s for c in cells)]
        settings = sorted({present[0], present[len(present) // 2], present[-1]}, key=present.index)
    nets = list(dict.fromkeys(c.network for c in cells))
    extra = 2 if study.task == "inpainting" else 1
    fig, axes = plt.subplots(len(settings), extra + len(nets), figsize=(2.4 * (extra + len(nets)), 2.6 * len(settings)),
                             squeeze=False)
    for row, setting in enumerate(settings):
        ax = axes[row]
        ax[0].imshow(original, cmap="gray", vmin=0, vmax=255)
        ax[0].set_title("original", fontsize=9)
        if study.task == "inpainting":
            from hno_framework.images.masks import image_mask

            from .image_study import mask_seed

            if study.problem.mask != "fixed":
                mask = image_mask(original.shape, study.problem.missing_ratio or 0.0,
                                  torch.Generator().manual_seed(mask_seed(study, image))).numpy()
                masked = original.copy()
                masked[~mask] = 0.0
                ax[1].imshow(masked, cmap="gray", vmin=0, vmax=255)
                ax[1].set_title(f"{(study.problem.missing_ratio or 0) * 100:g} % missing", fontsize=9)
            else:
                ax[1].set_axis_off()
        for col, name in enumerate(nets, start=extra):
            cell = next((c for c in cells if c.setting == setting and c.network == name), None)
            if cell is None:
                ax[col].set_axis_off()
                continue
            recon = torch.load(cell.run_dir / RECONSTRUCTIONS_FILE, weights_only=True).get(image)
            result = read_json(cell.run_dir / "result.json", "cell result")
            if recon is None:
                ax[col].set_axis_off()
                continue
            ax[col].imshow(recon.numpy(), cmap="gray", vmin=0, vmax=255)
            label = name if study.task == "inpainting" else f"{name}, {setting.removeprefix('ratio-')} %"
            ax[col].set_title(f"{label}\n{result['psnr_db'][image]:.2f} dB", fontsize=9)
        for a in ax:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    path = out / "reconstructions.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_report(study: ImageStudyConfig, results: list[dict[str, Any]], out: Path, *, quick: bool = False,
                 command: str | None = None, seconds_this_run: float = 0.0) -> dict[str, Any]:
    """Write ``results.json``, ``results.md`` and ``reconstructions.png`` into ``out``; return the results mapping."""
    from hno_framework.machine import machine_info

    summary = summarise(study, results)
    meta = {"quick": quick, "command": command, "seconds_this_run": seconds_this_run,
            "seconds_all_cells": sum(r.get("wall_seconds", 0.0) for r in results), "machine": machine_info()}
    payload = {**summary, **meta, "config": study.model_dump(mode="json")}
    write_json(out / "results.json", payload)
    (out / "results.md").write_text(markdown(study, summary, meta), encoding="utf-8")
    images = summary["test_images"]
    if images:
        figure(study, out, "camera" if "camera" in images else images[0])
    return payload
