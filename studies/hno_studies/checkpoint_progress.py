"""How far a half-trained run has come, read from its ``last.pt`` alone (the studies' ``--status``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def checkpoint_progress(last: Path, total: int) -> dict[str, Any]:
    """``{"state": "training", iteration, total, phase (1-based), seconds, best_validation_nmse_db, seconds_left}``
    from the checkpoint ``last`` of a run of ``total`` iterations; ``seconds_left`` assumes the speed so far
    (``seconds / iteration``; None before the first iteration). A checkpoint that cannot be read gives
    ``{"state": "unreadable checkpoint <path>: <error>"}``, a row rather than a crash."""
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
        loop, history = state["loop"], state["history"]
        done, seconds, phase = int(loop["iteration"]), float(loop["seconds"]), int(loop["phase_index"]) + 1
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is a row, not a crash
        return {"state": f"unreadable checkpoint {last}: {type(exc).__name__}: {exc}"}
    return {"state": "training", "iteration": done, "total": total, "phase": phase, "seconds": seconds,
            "best_validation_nmse_db": history[-1].get("best_validation_nmse_db") if history else None,
            "seconds_left": seconds / done * max(total - done, 0) if done else None}
