"""One network on two processes (``python -m torch.distributed.run``, gloo on CPU, 127.0.0.1 only).

The two-process run is killed after 10 iterations and resumed by two fresh processes; it must keep
both ranks' parameters identical, end where one process training the same global batch ends (the
same phase decisions, parameters equal up to float summation order), and leave every file to
rank 0. The ranks run ``tests/distributed_worker.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hno_framework.config import load_config
from hno_framework.errors import ConfigError
from hno_framework.problems.base import SignalBatch
from hno_framework.training import Trainer
from hno_framework.training.distributed import DataParallel, check_batch_size

pytestmark = pytest.mark.processes  # starts worker processes: the CI step `pytest -m processes`

WORKER = Path(__file__).with_name("distributed_worker.py")
CONFIG = """
name: {name}
problem: {{kind: lasso, m: 10, n: 20, sparsity: 0.2, seed: 3}}
network: {{step: lista, integrator: 2no, layers: 2}}
training:
  {{batch_size: 16, validation_size: 64, test_size: 64, lr: 0.003, threads: 1, device: cpu, protocol: stagewise,
   stagewise: {{finetune_lr_factors: [0.2], max_iterations: 8, validate_every: 2, patience: 4, checkpoint_every: 4,
                min_improvement_db: 0.05}}}}
output: {{dir: "{out}"}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(config: Path, out: Path, stop_after: int, resume: bool) -> list[dict]:
    """Run the worker on 2 ranks; the per-rank records it saved."""
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    for _ in range(3):  # the free port can be taken by another process before torchrun binds it: try another
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", str(WORKER), str(config), str(out), str(stop_after), str(int(resume))]
        proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
        log = proc.stdout + proc.stderr
        if proc.returncode == 0 or "address already in use" not in log.lower():
            break
    assert proc.returncode == 0, log[log.find("Traceback"):][:4000] if "Traceback" in log else log[-4000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_two_processes_match_one_process_and_only_rank0_writes(tmp_path: Path) -> None:
    path = tmp_path / "ddp.yaml"
    path.write_text(CONFIG.format(name="ddp", out=tmp_path / "runs"))
    first = launch(path, tmp_path / "first", stop_after=10, resume=False)  # as if killed after iteration 10
    assert [r["iteration"] for r in first] == [10, 10] and not first[0]["finished"]
    second = launch(path, tmp_path / "second", stop_after=0, resume=True)

    # one process, same global batch of 16, uninterrupted
    ref_cfg = load_config(path, ["name=one-process"])
    ref = Trainer(ref_cfg, progress=False)
    ref_result = ref.fit()
    assert all(r["world_size"] == 2 and r["finished"] for r in second)
    assert second[0]["iteration"] == second[1]["iteration"] == ref.iteration

    # (a) the ranks hold bitwise identical parameters: both applied the same all-reduced gradients
    for key, value in second[0]["model"].items():
        assert torch.equal(value, second[1]["model"][key]), key
    # (b) ... equal to one process: shard means averaged = the batch mean, up to float32 summation order
    expected = ref.net.state_dict()
    for key, value in second[0]["model"].items():
        torch.testing.assert_close(value, expected[key], rtol=1e-4, atol=1e-6, msg=key)
    # the same phase decisions (max_iterations, then patience) at the same iterations
    metrics = json.loads((tmp_path / "runs" / "ddp" / "metrics.json").read_text())
    decisions = [(p["iterations"], p["stopped_by"]) for p in metrics["phases"]]
    assert decisions == [(p["iterations"], p["stopped_by"]) for p in ref_result.phases]
    assert {s for _, s in decisions} == {"max_iterations", "patience"}, decisions
    # (c) only rank 0 wrote: the audit hook saw its writes into the run folder, none of rank 1's
    assert any("last.pt" in w for w in first[0]["writes"]) and any("metrics.json" in w for w in second[0]["writes"])
    assert first[1]["writes"] == [] and second[1]["writes"] == []
    assert sorted(p.name for p in (tmp_path / "runs" / "ddp").iterdir()) == ["best.pt", "last.pt", "metrics.json"]


def test_the_shards_tile_the_global_batch() -> None:
    batch = SignalBatch(torch.arange(12.0).reshape(6, 2), torch.arange(18.0).reshape(6, 3))
    shards = [DataParallel(rank=r, world_size=3).shard(batch) for r in range(3)]
    assert [len(s) for s in shards] == [2, 2, 2]
    assert torch.equal(torch.cat([s.x for s in shards]), batch.x) and torch.equal(torch.cat([s.y for s in shards]), batch.y)
    assert torch.equal(shards[1].x, batch.x[2:4])


def test_a_batch_that_does_not_split_is_a_config_error() -> None:
    check_batch_size(16, 4)
    with pytest.raises(ConfigError, match=r"batch_size=15 does not split into 2 processes.*batch_size=14"):
        check_batch_size(15, 2)
