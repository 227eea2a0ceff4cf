"""Training-seed intervals for an image study run once per training seed (same config, ``--set training.seed=S``).

    python studies/scripts/image_seeds.py runs/images/inpainting/results.json runs/images/inpainting-seed1/results.json \
        runs/images/inpainting-seed2/results.json --pair LISTA 2NO-LISTA --pair GLISTA 2NO-GLISTA --out seeds.json

For every setting (inpainting: one; image CS: each ratio) and network: the mean PSNR over the test images per seed.
For every pair (base, HNO), the per-seed difference ``d_s`` = mean over test images of ``PSNR_HNO − PSNR_base`` (the
two networks trained with the same seed), and the paired t interval ``d̄ ± t_{0.975, S−1} · sd(d) / √S`` over the S
seeds (:func:`hno_studies.statistics.seed_difference_interval`): it covers the scatter of training runs, which the
bootstrap over image blocks in each ``results.md`` does not. Prints a table and writes JSON.

The runs must be the same study (same config apart from ``training.seed`` and ``output.dir``); a run whose
config differs otherwise is refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hno_framework.io import write_json
from hno_studies.statistics import seed_difference_interval, seed_spread


def comparable_config(config: dict[str, Any]) -> dict[str, Any]:
    """The study config without what may differ between the seeds' runs: the training seed and the output folder."""
    out = json.loads(json.dumps(config))
    out.get("training", {}).pop("seed", None)
    out.pop("output", None)
    return out


def load_runs(paths: list[Path]) -> list[dict[str, Any]]:
    runs = [json.loads(p.read_text()) for p in paths]
    reference = comparable_config(runs[0]["config"])
    for path, run in zip(paths, runs, strict=True):
        if comparable_config(run["config"]) != reference:
            raise SystemExit(f"{path}: not the same study as {paths[0]} (the configs differ beyond training.seed "
                             "and output.dir); pass the runs of one config")
    seeds = [int(run["config"].get("training", {}).get("seed", 0)) for run in runs]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"two runs share a training seed ({seeds}); pass one run per seed")
    return runs


def cell(run: dict[str, Any], setting: str, network: str) -> dict[str, Any]:
    """The results of ``network`` at ``setting`` in ``run``; a clear error when that run lacks the cell."""
    try:
        return dict(run["settings"][setting]["networks"][network])
    except KeyError:
        raise SystemExit(f"the run of training seed {run['config'].get('training', {}).get('seed', 0)} has no "
                         f"result for {network} at {setting}: finish that run first (--resume)") from None


def mean_psnr(run: dict[str, Any], setting: str, network: str) -> float:
    return float(cell(run, setting, network)["mean_psnr_db"])


def pair_difference(run: dict[str, Any], setting: str, base: str, hno: str) -> float:
    """Mean over the test images of PSNR_HNO − PSNR_base in one run (dB): the difference of the two mean PSNRs."""
    return mean_psnr(run, setting, hno) - mean_psnr(run, setting, base)


def summarise(runs: list[dict[str, Any]], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    seeds = [int(run["config"].get("training", {}).get("seed", 0)) for run in runs]
    out: dict[str, Any] = {"seeds": seeds, "settings": {}}
    for setting in runs[0]["settings"]:
        networks = runs[0]["settings"][setting]["networks"]
        row: dict[str, Any] = {"networks": {}, "pairs": {}}
        for name in networks:
            values = [mean_psnr(run, setting, name) for run in runs]
            row["networks"][name] = {"per_seed_db": values, **seed_spread(values)}
        for base, hno in pairs:
            if base in networks and hno in networks:
                diffs = [pair_difference(run, setting, base, hno) for run in runs]
                row["pairs"][f"{hno} − {base}"] = {"per_seed_db": diffs, "interval": seed_difference_interval(diffs)}
        out["settings"][setting] = row
    return out


def print_table(summary: dict[str, Any]) -> None:
    print(f"training seeds: {summary['seeds']}")
    for setting, row in summary["settings"].items():
        print(f"\n{setting}: mean PSNR over the test images (dB), per seed")
        for name, net in row["networks"].items():
            values = ", ".join(f"{v:.2f}" for v in net["per_seed_db"])
            print(f"  {name:<16} {values}   mean {net['mean_db']:.2f} (sd {net['std_db']:.2f})")
        for name, pair in row["pairs"].items():
            values = ", ".join(f"{v:+.3f}" for v in pair["per_seed_db"])
            ci = pair["interval"]
            interval = f"{ci['mean_db']:+.3f} [{ci['low_db']:+.3f}, {ci['high_db']:+.3f}]" if ci else "one seed"
            print(f"  {name:<28} per seed {values}; over seeds {interval}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="results.json of each seed's run")
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("BASE", "HNO"))
    parser.add_argument("--out", type=Path, default=None, help="write the summary here (JSON)")
    args = parser.parse_args(argv)
    summary = summarise(load_runs(args.results), [tuple(p) for p in args.pair])
    summary["runs"] = [str(p) for p in args.results]
    print_table(summary)
    if args.out is not None:
        write_json(args.out, summary)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
