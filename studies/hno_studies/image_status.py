"""Where every cell of an image study stands, read from its files alone (``hno experiment inpainting|image-cs --status``).

Nothing is trained or evaluated. A cell is

* ``finished``: its ``result.json`` was made by this config (the mean PSNR over the test images and its training
  seconds are shown);
* ``another config``: its ``result.json`` was made by another config (``--set``/``--images``/``--quick`` differ);
* ``training``: no result yet, a ``last.pt`` (its iteration of the config's total, best validation NMSE, training
  seconds so far and the seconds left at that speed);
* ``not started``: neither (an ISTA baseline keeps no checkpoint: ``not started`` until it is finished).
"""

from __future__ import annotations

import statistics
from typing import Any

from hno_framework.io import read_json

from .checkpoint_progress import checkpoint_progress
from .image_study import RESULT_FILE, ImageCell, ImageStudyConfig


def cell_row(study: ImageStudyConfig, cell: ImageCell) -> dict[str, Any]:
    """Where ``cell`` stands (module docstring): ``{"cell": name, "state": ..., ...}``."""
    row: dict[str, Any] = {"cell": cell.config.name, "state": "not started"}
    result_path, last = cell.run_dir / RESULT_FILE, cell.run_dir / "last.pt"
    if result_path.is_file():
        result = read_json(result_path, "cell result")
        if result.get("fingerprint") != study.cell_fingerprint(cell):
            return {**row, "state": "another config"}
        return {**row, "state": "finished", "psnr_db": statistics.fmean(result["psnr_db"].values()),
                "seconds": result.get("train_seconds")}
    if not last.is_file():  # also an ISTA baseline, which keeps no checkpoint
        return row
    return {**row, **checkpoint_progress(last, cell.config.training.iterations)}


def study_status(study: ImageStudyConfig) -> list[dict[str, Any]]:
    """One row per cell of ``study``, in the order the study trains them (:func:`cell_row`)."""
    return [cell_row(study, cell) for cell in study.cells()]
