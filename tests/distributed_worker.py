"""One rank of tests/test_distributed.py, started by ``python -m torch.distributed.run``.

``python distributed_worker.py CONFIG OUT STOP_AFTER RESUME``: train CONFIG (``RESUME`` = 1: from its
``last.pt``), stop after ``STOP_AFTER`` iterations (0: run to the end), then save this rank's parameters,
position and every write it made inside the run directory (seen by a ``sys.addaudithook``, not by
patching our code) to ``OUT/rank<RANK>.pt``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from hno_framework.config import load_config
from hno_framework.training import Trainer
from hno_framework.training.distributed import leave

torch.set_num_threads(1)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def main() -> None:
    config_path, out, stop_after, resume = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    config = load_config(Path(config_path))
    run_dir = str(config.run_dir.resolve())
    writes: list[str] = []

    def watch(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(flags, int) and flags & WRITE_FLAGS) or (isinstance(mode, str) and set(mode) & set("wax+"))
        elif event in ("os.rename", "os.mkdir", "os.remove", "os.rmdir"):
            path, writing = args[0], True
        else:
            return
        if writing and isinstance(path, str | Path) and os.path.abspath(path).startswith(run_dir):
            writes.append(f"{event} {path}")

    sys.addaudithook(watch)
    trainer = Trainer(config, progress=False)
    if resume:
        assert trainer.resume(), "nothing to resume"
    trainer.fit(stop_after=stop_after or None)
    rank = int(os.environ["RANK"])
    torch.save({"model": trainer.net.state_dict(), "iteration": trainer.iteration, "finished": trainer.finished,
                "world_size": trainer.dist.world_size, "writes": writes}, out / f"rank{rank}.pt")
    leave()


if __name__ == "__main__":
    main()
