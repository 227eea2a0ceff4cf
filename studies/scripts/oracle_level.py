"""The support-oracle NMSE of every setting of a converged study, on the study's own test sets.

    python studies/scripts/oracle_level.py examples/converged/converged.yaml

Least squares on the true support of each test sample (:func:`hno_studies.classical.oracle_least_squares`),
NMSE with a 95 % bootstrap interval over the test samples; writes ``<results>/oracle.json``. The test set is rebuilt
exactly as the cells build it and checked against the energies the cells saved; a setting whose cells were saved
before the support sizes were kept gets them here (``test-support-sizes.npy``, for the report's "error by support
size").
"""

from __future__ import annotations

import argparse
import sys

import torch

from hno_framework.composer import compose
from hno_framework.data import make_test_set
from hno_framework.io import write_json
from hno_framework.problems.base import SignalBatch
from hno_studies.classical import oracle_least_squares
from hno_studies.converged import (
    check_energies,
    experiment_config,
    save_support_sizes,
)
from hno_studies.converged_config import load_converged_config
from hno_studies.errors import ExperimentError
from hno_studies.statistics import bootstrap_nmse_db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_converged_config(args.config)
    network = next(name for name, spec in cfg.networks.items() if spec.algorithm is None)
    rows = []
    for setting in cfg.settings:
        config = experiment_config(cfg, setting, network, 0, cfg.recipe)
        problem = compose(config).problem
        test = make_test_set(problem, config, cfg.test_size)
        x, y, phi = test.x.double(), test.y.double(), problem.phi.double()
        energies = x.pow(2).sum(dim=1)
        try:
            if check_energies(cfg, setting, energies):
                save_support_sizes(cfg, setting, test.x)
        except ExperimentError as exc:
            print(exc, file=sys.stderr)
            return 1
        errors = (oracle_least_squares(phi, SignalBatch(x, y)) - x).pow(2).sum(dim=1)
        est = bootstrap_nmse_db(errors, energies, resamples=cfg.bootstrap_resamples)
        rows.append({"setting": setting, "oracle_nmse_db": est.nmse_db, "ci_db": est.interval,
                     "test_size": len(test)})
        print(f"{setting:<12} support-oracle least squares: {est.nmse_db:8.2f} dB "
              f"[{est.interval[0]:.2f}, {est.interval[1]:.2f}]  ({len(test):,} test samples)")
    write_json(cfg.output.results / "oracle.json", {"method": "least squares on the true support", "settings": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
