"""Warm start on the converged LISTA: fine-tune it as 2NO-LISTA for a few thousand iterations, against 2NO-LISTA
trained from scratch (the converged study's cells, instance 0, seed 0).

    OMP_NUM_THREADS=1 python studies/scripts/warm_start.py [--budgets 2000 5000 10000] [--base-only]

1. Retrains the converged LISTA (noiseless, instance 0, seed 0) with the study's recipe into ``runs/warm-start/``
   (resumable; CPU training is deterministic, so its test NMSE is compared with the committed cell to show it is
   the same network) and keeps its ``best.pt``.
2. For each budget N: 2NO-LISTA whose steps start from that checkpoint (``training.init_from``; the integrator at its
   own initial coefficients, α = 1, β = −0.5 after layer 0), trained with the study's three constant-lr phases
   scaled to N iterations (50 : 25 : 15).
3. Test NMSE on the study's 10,000-sample test set with a 95 % bootstrap interval, the paired difference against the
   committed 2NO-LISTA trained from scratch (seed 0, 90,000 iterations) and against LISTA, and the core-hours.

Writes ``docs/results/converged/warm-start.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from hno_framework.data import make_test_set
from hno_framework.evaluation import per_sample_errors
from hno_framework.problems.base import SignalBatch
from hno_framework.uncertainty import bootstrap_nmse_db
from hno_studies.converged import experiment_config, run_network_cell, train_cell
from hno_studies.converged_config import Phase, load_converged_config
from hno_studies.statistics import difference_db, share_better

CONFIG = "examples/converged/converged.yaml"
SETTING, SEED = "noiseless", 0


def scaled_recipe(recipe, iterations: int):
    """The recipe's phases scaled to ``iterations`` in total, in the same proportions."""
    total = sum(p.iterations for p in recipe.phases)
    phases = [Phase(iterations=max(1, round(p.iterations * iterations / total)), lr=p.lr) for p in recipe.phases]
    return recipe.model_copy(update={"phases": phases, "validate_every": min(recipe.validate_every, max(50, iterations // 40))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=int, nargs="+", default=[2000, 5000, 10000])
    parser.add_argument("--base-only", action="store_true", help="only (re)train the base LISTA")
    parser.add_argument("--out", type=Path, default=Path("docs/results/converged/warm-start.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    study = load_converged_config(CONFIG)
    work = study.model_copy(update={"output": study.output.model_copy(update={
        "results": Path("runs/warm-start/results"), "runs": Path("runs/warm-start/runs")})})
    base_json = work.output.results / "cells" / SETTING / "lista" / f"seed{SEED}.json"
    if base_json.is_file():
        base = json.loads(base_json.read_text())
    else:
        base = run_network_cell(work, SETTING, "LISTA", SEED, resume=True, log=print)
    committed = json.loads((study.output.results / "cells" / SETTING / "lista" / f"seed{SEED}.json").read_text())
    print(f"base LISTA retrained: {base['final_nmse_db']:.3f} dB (committed cell: {committed['final_nmse_db']:.3f} dB), "
          f"{base['core_hours']:.2f} core-h")
    if args.base_only:
        return
    recipe = study.networks["LISTA"].recipe or study.recipe
    checkpoint = work.output.runs / SETTING / "lista" / f"seed{SEED}" / recipe.protocol / "best.pt"
    scratch = np.load(study.output.results / "cells" / SETTING / "2no-lista" / f"seed{SEED}.errors.npy").astype(np.float64)
    lista_errors = np.load(study.output.results / "cells" / SETTING / "lista" / f"seed{SEED}.errors.npy").astype(np.float64)
    energies = torch.from_numpy(np.load(study.output.results / "cells" / SETTING / "test-energies.npy"))
    scratch_json = json.loads((study.output.results / "cells" / SETTING / "2no-lista" / f"seed{SEED}.json").read_text())
    rows = []
    for budget in args.budgets:
        fine = scaled_recipe(recipe, budget)
        config = experiment_config(study, SETTING, "2NO-LISTA", SEED, fine)
        config = config.model_copy(update={"training": config.training.model_copy(update={"init_from": str(checkpoint)})})
        run_dir = work.output.runs / SETTING / f"2no-lista-from-lista-{budget}" / f"seed{SEED}"
        net, stats = train_cell(config, fine, run_dir, resume=True, log=print)
        test = make_test_set(net.problem, config, study.test_size)
        dtype = net.problem.phi.dtype
        errors, _ = per_sample_errors(net, SignalBatch(test.x.to(dtype), test.y.to(dtype)))
        e = errors[:, -1]
        est = bootstrap_nmse_db(e, energies, resamples=study.bootstrap_resamples, seed=SEED)
        vs_scratch = difference_db(torch.from_numpy(scratch)[None], e[None], energies, resamples=study.bootstrap_resamples)
        vs_lista = difference_db(torch.from_numpy(lista_errors)[None], e[None], energies, resamples=study.bootstrap_resamples)
        rows.append({"iterations": budget, "final_nmse_db": est.nmse_db, "ci_db": est.interval,
                     "minus_scratch_db": vs_scratch[0], "minus_scratch_ci_db": list(vs_scratch[1:]),
                     "share_better_than_scratch": share_better(torch.from_numpy(scratch)[None], e[None]),
                     "minus_lista_db": vs_lista[0], "minus_lista_ci_db": list(vs_lista[1:]),
                     "core_hours": stats["cpu_seconds"] / 3600.0, "best_validation_nmse_db": stats["best"]})
        print(f"2NO-LISTA from LISTA, {budget} it: {est.nmse_db:.2f} dB [{est.interval[0]:.2f}, {est.interval[1]:.2f}], "
              f"− scratch {vs_scratch[0]:+.2f} [{vs_scratch[1]:+.2f}, {vs_scratch[2]:+.2f}], {rows[-1]['core_hours']:.3f} core-h")
    out = {"setting": SETTING, "instance": 0, "seed": SEED, "test_size": study.test_size,
           "base": {"network": "LISTA", "final_nmse_db": base["final_nmse_db"], "ci_db": base["ci_db"],
                    "committed_final_nmse_db": committed["final_nmse_db"], "core_hours": base["core_hours"],
                    "checkpoint": str(checkpoint)},
           "scratch": {"network": "2NO-LISTA", "final_nmse_db": scratch_json["final_nmse_db"],
                       "ci_db": scratch_json["ci_db"], "iterations": scratch_json["iterations"],
                       "core_hours": scratch_json["core_hours"]},
           "fine_tuned": rows, "integrator_start": "own initial coefficients (2NO: α = 1, β = −0.5 after layer 0)"}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
