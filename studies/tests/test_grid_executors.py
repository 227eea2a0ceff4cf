"""The synthetic grid on every executor: serial, a local process pool and a Ray cluster give the same results;
a failing cell is reported and the others finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_experiments_grid import tiny_grid

from hno_framework.executors import LocalExecutor, SerialExecutor
from hno_studies.grid import parse_grid
from hno_studies.runner import run_grid

pytestmark = pytest.mark.processes  # starts worker processes: the CI step `pytest -m processes`


# -- a grid on every executor ---------------------------------------------------------------------
def _final(out: Path) -> dict[str, list[float]]:
    results = json.loads((out / "results.json").read_text())
    return {f"{s}/{n}": e["nmse_db"] for s, v in results["settings"].items() for n, e in v["networks"].items()}


def test_grid_on_two_local_workers_equals_serial(tmp_path: Path) -> None:
    serial = run_grid(parse_grid(tiny_grid(tmp_path / "serial")), progress=False, executor=SerialExecutor())
    with LocalExecutor(2) as ex:
        local = run_grid(parse_grid(tiny_grid(tmp_path / "local")), progress=False, executor=ex)
    assert sorted(serial.trained) == sorted(local.trained) and len(local.trained) == 4
    assert _final(tmp_path / "serial") == _final(tmp_path / "local")  # bit-identical: same seeds, one thread each


def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path: Path) -> None:
    grid = tiny_grid(tmp_path / "g")
    grid["networks"].append({"name": "broken", "step": "lista", "integrator": {"name": "2no", "options": {"nonsense": 1}}})
    run = run_grid(parse_grid(grid), progress=False, executor=SerialExecutor())
    assert len(run.trained) == 4 and len(run.failed) == 2
    assert all("nonsense" in error for error in run.failed.values())
    assert run.results["cells_failed"] == run.failed


def test_ray_cluster_grid_equals_serial(tmp_path: Path) -> None:
    """A two-node local Ray cluster (ray.cluster_utils.Cluster) trains the grid; results equal serial."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from hno_framework.executors.ray_executor import RayExecutor

    serial = run_grid(parse_grid(tiny_grid(tmp_path / "serial")), progress=False, executor=SerialExecutor())
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        with RayExecutor(2, address=cluster.address) as ex:
            run = run_grid(parse_grid(tiny_grid(tmp_path / "ray")), progress=False, executor=ex)
        assert len(run.trained) == 4 and not run.failed
        assert _final(tmp_path / "ray") == _final(tmp_path / "serial")
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert serial.trained
