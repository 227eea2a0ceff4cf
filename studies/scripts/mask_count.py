"""Inpainting networks against the number of observed pixels per tile: a test the patch validation cannot make.

    OMP_NUM_THREADS=1 python studies/scripts/mask_count.py docs/results/images/inpainting-full/checkpoints/seed*/ \
        --out docs/results/images/inpainting-full/mask-count.json --plot docs/results/images/inpainting-full/mask-count.png

Training and validation draw one mask per 8 × 8 patch with exactly ``m = round((1 − missing_ratio)·p²)`` observed
pixels (32 of 64 at 50 % missing). The test images are measured through one mask per image with 50 % missing in
all, so a tile's count varies around 32 (hypergeometric: 19–45 on the four test images). This script reconstructs
every test image with every checkpoint given (``<folder>/<network>.pt`` files; a folder per training seed) through
masks that observe exactly ``k`` pixels in every tile, for each ``k`` of ``--counts`` (the masks seeded by ``--seed``,
the image and ``k``, the same for every network), and reports the mean PSNR over the test images per network and
``k`` (mean and range over the seeds' checkpoints). It also counts the tiles of the study's own test masks per ``k``.
Prints a table and writes JSON (and a figure with ``--plot``).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import zlib
from pathlib import Path
from typing import Any

import torch

from hno_framework.checkpoint import load_network
from hno_framework.images.masks import image_mask, random_masks
from hno_framework.images.patches import assemble_patches, extract_patches
from hno_framework.io import write_json
from hno_framework.machine import machine_info
from hno_studies.image_eval import reconstruct, test_tensor
from hno_studies.image_study import ImageStudyConfig, load_study, mask_seed, study_images

ROOT = Path(__file__).resolve().parents[2]


def tile_mask(shape: tuple[int, int], patch: int, observed: int, seed: int) -> torch.Tensor:
    """``(H, W)`` bool mask observing exactly ``observed`` uniformly chosen pixels in every ``patch × patch`` tile."""
    tiles = (shape[0] // patch) * (shape[1] // patch)
    masks = random_masks(tiles, patch * patch, observed, torch.Generator().manual_seed(seed))
    return assemble_patches(masks.double(), shape, patch, patch) > 0.5


def test_mask_counts(study: ImageStudyConfig) -> dict[int, int]:
    """How many tiles of the study's own test masks (all test images) observe each number of pixels."""
    counts: dict[int, int] = {}
    for image in study_images(study)[1]:
        pixels = test_tensor(image, study.patch, study.patch)
        shape = (int(pixels.shape[0]), int(pixels.shape[1]))
        mask = image_mask(shape, study.problem.missing_ratio or 0.5,
                          torch.Generator().manual_seed(mask_seed(study, image.name)))
        for k in extract_patches(mask.double(), study.patch, study.patch).sum(dim=1).round().int().tolist():
            counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items()))


def evaluate(study: ImageStudyConfig, folders: list[Path], counts: list[int], seed: int) -> dict[str, Any]:
    """``{"psnr_db": {network: {k: [mean PSNR over the test images, one per folder]}}, "training_masks": [the
    checkpoints' problem.mask settings]}``."""
    test = study_images(study)[1]
    missing = study.problem.missing_ratio or 0.5  # only says "inpainting": the mask given decides what is observed
    masks: dict[tuple[str, int], torch.Tensor] = {}  # the same for every checkpoint: drawn once
    for image in test:
        pixels = test_tensor(image, study.patch, study.patch)
        shape = (int(pixels.shape[0]), int(pixels.shape[1]))
        for k in counts:
            masks[image.name, k] = tile_mask(shape, study.patch, k, seed * 1_000_003 + zlib.crc32(image.name.encode()) + k)
    results: dict[str, dict[int, list[float]]] = {}
    training_masks: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.pt")):
            net, config = load_network(path)
            training_masks.add(config.problem.mask)
            per_k = results.setdefault(path.stem, {})
            for k in counts:
                psnrs = [reconstruct(net, image, patch=study.patch, stride=study.patch, missing_ratio=missing,
                                     mask_seed=0, mask=masks[image.name, k]).psnr_db for image in test]
                per_k.setdefault(k, []).append(statistics.fmean(psnrs))
    return {"psnr_db": results, "training_masks": sorted(training_masks)}


def plot(table: dict[str, dict[int, list[float]]], tiles: dict[int, int], training: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.0), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for network, per_k in table.items():
        ks = sorted(per_k)
        means = [statistics.fmean(per_k[k]) for k in ks]
        line = top.plot(ks, means, marker="o", label=network)[0]
        top.fill_between(ks, [min(per_k[k]) for k in ks], [max(per_k[k]) for k in ks], color=line.get_color(),
                         alpha=0.2)
    top.set_ylabel("mean PSNR over the test images (dB)")
    top.legend(title="line: mean over seeds; band: range", fontsize=8)
    top.grid(alpha=0.3)
    bottom.bar(list(tiles), list(tiles.values()), color="gray")
    bottom.set_xlabel(f"observed pixels per tile (training: {training})")
    bottom.set_ylabel("test tiles")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+", help="folders of <network>.pt checkpoints, one per seed")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "images" / "inpainting.yaml")
    parser.add_argument("--counts", type=int, nargs="+", default=[20, 24, 28, 32, 36, 40, 44])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("mask-count.json"))
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    study = load_study(args.config, task="inpainting")
    tiles = test_mask_counts(study)
    result = evaluate(study, args.folders, args.counts, args.seed)
    table: dict[str, dict[int, list[float]]] = result["psnr_db"]
    print(f"{'network':<12}" + "".join(f"{f'k = {k}':>16}" for k in args.counts))
    for network, per_k in table.items():
        cells = [f"{statistics.fmean(v):6.2f} [{min(v):.1f}–{max(v):.1f}]" for v in (per_k[k] for k in args.counts)]
        print(f"{network:<12}" + "".join(f"{c:>16}" for c in cells))
    print("test tiles per observed count:", tiles)
    config = args.config.resolve()
    payload = {"command": "python studies/scripts/mask_count.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
               "config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
               "counts": args.counts, "seed": args.seed,
               "folders": [str(f) for f in args.folders], "training_masks": result["training_masks"],
               "test_tiles_per_count": tiles,
               "psnr_db": {n: {str(k): v for k, v in per_k.items()} for n, per_k in table.items()},
               "machine": machine_info()}
    write_json(args.out, payload)
    if args.plot is not None:
        m = study.problem.m
        draws = {"per-sample": f"exactly {m}", "per-sample-bernoulli": f"binomial around {m}"}
        plot(table, tiles, ", ".join(draws.get(mask, mask) for mask in result["training_masks"]), args.plot)
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))


if __name__ == "__main__":
    main()
