"""What the converged HNO networks learned, summarised (hno_studies.learned_coefficients) against hand-made
columns (recording them, inspection.learned_values, is the framework's: tests/test_learned_values.py)."""

from __future__ import annotations

import pytest

from hno_studies.learned_coefficients import CoefficientGroup, coefficient_groups, summary_rows


def test_summary_leaves_out_start_up_layers_and_counts_entries_below_euler() -> None:
    group = CoefficientGroup(
        seeds={"beta": [[0.0, -0.2, 0.1, -0.4], [0.0, -0.3, -0.1, -0.5]],
               "alpha": [[1.0, 1.5, 0.5, 2.0], [1.0, 1.0, 3.0, 1.0]]},
        reference={"beta": [0.0] * 4, "alpha": [1.0] * 4},
        init={"beta": [0.0, -0.5, -0.5, -0.5], "alpha": [1.0] * 4},
    )
    # layer 0 holds the Euler value in both seeds: left out; alpha keeps every layer (seed 0 moved layer 1..3)
    assert sorted(group.learned_entries("beta")) == [-0.5, -0.4, -0.3, -0.2, -0.1, 0.1]
    assert len(group.learned_entries("alpha")) == 6 and group.init_entries("beta") == [-0.5, -0.5, -0.5]
    rows = {r["coefficient"]: r for r in summary_rows({"2NO-X": group})}
    assert rows["beta"]["share_below_euler"] == pytest.approx(5 / 6)
    assert rows["beta"]["median"] == pytest.approx(-0.25) and rows["beta"]["init_median"] == pytest.approx(-0.5)
    assert rows["alpha"]["share_below_euler"] == pytest.approx(1 / 6) and rows["alpha"]["entries"] == 6
    assert (rows["beta"]["min"], rows["beta"]["max"]) == (-0.5, 0.1)


def test_groups_skip_networks_whose_integrator_learns_nothing() -> None:
    def cell(seed: int, learnable: bool, beta: list[float]) -> dict:
        return {"seed": seed, "learned": {"integrator": {"beta": beta}, "integrator_learnable": learnable,
                                          "integrator_references": {"euler": {"beta": [0.0] * len(beta)}}}}

    found = {("s", "LISTA"): [cell(0, False, [1.0, 1.0])],
             ("s", "2NO-LISTA"): [cell(1, True, [0.0, -0.3]), cell(0, True, [0.0, -0.2])],
             ("s", "2NO-UNTRAINED"): [cell(0, True, [0.0, 0.0])],  # every coefficient at Euler's value
             ("t", "2NO-LISTA"): [cell(0, True, [0.0, -0.9])]}
    groups = coefficient_groups(found, "s")
    assert list(groups) == ["2NO-LISTA"] and groups["2NO-LISTA"].seeds["beta"] == [[0.0, -0.2], [0.0, -0.3]]
