"""The fixed data of a grid setting, saved with the run: Φ, the validation set and the test set.

``<output.dir>/<setting>/data.pt`` is a dict of tensors (``phi``, ``validation_x``,
``validation_y``, ``test_x``, ``test_y``) plus the problem config as plain values; it is written
once (atomically) and read with ``torch.load(weights_only=True)``. The sets are drawn by
:func:`hno_framework.data.make_splits` / :func:`~hno_framework.data.make_test_set` from
``problem.seed``, so they are exactly the ones a network of that setting is validated on; a later
run checks that the config still generates the saved data, and refuses to mix them otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from hno_framework.composer import DTYPES
from hno_framework.config import ExperimentConfig
from hno_framework.data import make_splits, make_test_set
from hno_framework.io import atomic_write
from hno_framework.problems import build_problem
from hno_framework.problems.base import Problem, SignalBatch

from .errors import ExperimentError

KEYS = ("phi", "validation_x", "validation_y", "test_x", "test_y")


@dataclass
class SettingData:
    """Φ (float32, as the networks hold it), the validation and the test set of one setting."""

    phi: torch.Tensor
    validation: SignalBatch
    test: SignalBatch

    @classmethod
    def load(cls, path: Path) -> SettingData:
        """The data saved at ``path`` by :func:`load_or_create` (which the driver ran first, so it is checked)."""
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            return cls(saved["phi"], SignalBatch(saved["validation_x"], saved["validation_y"]),
                       SignalBatch(saved["test_x"], saved["test_y"]))
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same one-line advice
            raise ExperimentError(f"cannot read the saved data {path}: {type(exc).__name__}; delete it to regenerate it") from None

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {"phi": self.phi, "validation_x": self.validation.x, "validation_y": self.validation.y,
                "test_x": self.test.x, "test_y": self.test.y}


def generate(config: ExperimentConfig) -> tuple[Problem, SettingData]:
    """The problem of ``config`` and its seeded validation and test sets (in the training dtype)."""
    problem = build_problem(config.problem).to(dtype=DTYPES[config.training.dtype])
    validation = make_splits(problem, config).validation
    test = make_test_set(problem, config)
    return problem, SettingData(problem.phi.detach().clone(), validation, test)


def load_or_create(path: Path, config: ExperimentConfig) -> SettingData:
    """The saved data at ``path``; created there first when missing. Raises :class:`ExperimentError`
    when a saved file does not hold what ``config`` generates (a changed setting, or another torch
    random stream): results computed on different data must not be mixed."""
    _, fresh = generate(config)
    if not path.is_file():
        payload = {**fresh.as_dict(), "problem": config.problem.model_dump(mode="json"),
                   "validation_size": len(fresh.validation), "test_size": len(fresh.test)}
        atomic_write(path, lambda fh: torch.save(payload, fh))
        return fresh
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same one-line advice
        raise ExperimentError(f"cannot read the saved data {path}: {type(exc).__name__}; delete it to regenerate it") from None
    missing = [k for k in KEYS if k not in saved]
    if missing:
        raise ExperimentError(f"{path} lacks {missing}; delete it to regenerate it")
    for key, value in fresh.as_dict().items():
        old = saved[key]
        if old.shape != value.shape or not torch.equal(old.to(value.dtype), value):
            raise ExperimentError(
                f"the saved data {path} ('{key}') differs from what the grid config generates now "
                "(changed problem/setting/sizes, or a different torch random stream); "
                "use another output.dir, or delete the setting's folder to start it afresh"
            )
    return fresh
