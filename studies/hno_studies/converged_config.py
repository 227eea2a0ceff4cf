"""The converged study's config (``examples/converged/converged.yaml``) and where its files go: settings, networks,
recipes, cells, and the paths of a cell's result, the test energies and support sizes (no training here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from hno_framework.config import Layers, TrainingLoss, format_validation_error, read_mapping

from .errors import ExperimentError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Phase(_Strict):
    """``iterations`` Adam steps at the constant learning rate ``lr``."""

    iterations: PositiveInt
    lr: PositiveFloat


class Recipe(_Strict):
    """How every network cell is trained (see the module docstring).

    ``protocol: phases`` (default) runs the constant-lr ``phases`` here; ``protocol: stagewise`` trains
    through the public API :func:`hno_framework.train` with ``training.protocol: stagewise``
    (LISTA-CPSS layer-wise training; ``stagewise`` holds its options, base lr = ``phases[0].lr``).
    """

    protocol: Literal["phases", "stagewise"] = "phases"
    stagewise: dict[str, Any] = Field(default_factory=dict, description="training.stagewise options (protocol: stagewise)")
    phases: list[Phase]
    loss: TrainingLoss = "sum"
    adam_eps: PositiveFloat = 1e-8
    batch_size: PositiveInt = 64
    validate_every: PositiveInt = 250
    validation_size: PositiveInt = 1000
    dtype: Literal["float32", "float64"] = "float32"

    @property
    def iterations(self) -> int:
        return sum(p.iterations for p in self.phases)


class Setting(_Strict):
    """A problem setting: overrides of the base problem (``snr_db``, ``condition_number``) and its instance.

    ``instance`` is the problem seed: it draws Φ, the validation set and the test set (``hno_framework.data``),
    so two settings that differ only in ``instance`` are independent problem instances of the same kind;
    ``None`` keeps the base problem's seed. A cell's training ``seed`` varies only the initial network's
    random parts and the order of the training batches, never Φ or the evaluation sets.
    """

    title: str
    snr_db: float | None = None
    condition_number: float = Field(1.0, ge=1.0)
    instance: int | None = Field(None, ge=0, description="problem seed (Φ, validation and test sets); None: the base problem's")


class NetworkSpec(_Strict):
    """A network (step, integrator, tied, options) or a classical solver (``algorithm: fista``)."""

    step: str | None = None
    step_options: dict[str, Any] = Field(default_factory=dict)
    integrator: str = "euler"
    integrator_options: dict[str, Any] = Field(default_factory=dict)
    tied: bool = False
    algorithm: Literal["fista"] | None = None
    recipe: Recipe | None = Field(None, description="this network's own recipe (default: the config's)")


class CellSpec(_Strict):
    setting: str
    network: str
    seeds: list[int] = Field(default_factory=lambda: [0])


class Output(_Strict):
    results: Path = Path("docs/results/converged")
    runs: Path = Path("runs/converged")


class ConvergedConfig(_Strict):
    """The converged study: base problem, settings, networks, recipe, cells in run order, published levels."""

    name: str = "converged"
    problem: dict[str, Any]
    layers: Layers = 16
    test_size: int = Field(10_000, ge=10_000, description="test samples (≥ 10,000 for reported numbers)")
    bootstrap_resamples: PositiveInt = 2000
    settings: dict[str, Setting]
    networks: dict[str, NetworkSpec]
    recipe: Recipe
    recipes: dict[str, Recipe] = Field(default_factory=dict, description="further named recipes (YAML anchors for networks' recipe)")
    fista: dict[str, Any] = Field(default_factory=lambda: {"iterations": 1000, "lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]})
    cells: list[CellSpec]
    pairs: list[list[str]] = Field(default_factory=list, description="[base, hno] network names compared per setting")
    published: dict[str, dict[str, float]] = Field(default_factory=dict, description="setting -> network -> dB")
    output: Output = Field(default_factory=Output)


def load_converged_config(path: str | Path, overrides: list[str] | None = None) -> ConvergedConfig:
    from pydantic import ValidationError

    from hno_framework.config import apply_overrides

    data = apply_overrides(read_mapping(Path(path)), overrides or [])
    try:
        cfg = ConvergedConfig.model_validate(data)
    except ValidationError as err:
        raise ExperimentError(format_validation_error(err, str(path), "converged config", model=ConvergedConfig)) from None
    for cell in cfg.cells:
        if cell.setting not in cfg.settings:
            raise ExperimentError(f"{path}: cell setting '{cell.setting}' is not in settings ({', '.join(cfg.settings)})")
        if cell.network not in cfg.networks:
            raise ExperimentError(f"{path}: cell network '{cell.network}' is not in networks ({', '.join(cfg.networks)})")
    return cfg


def slug(name: str) -> str:
    """``2NO-LISTA(u)`` -> ``2no-lista-u``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def cell_paths(cfg: ConvergedConfig, setting: str, network: str, seed: int) -> tuple[Path, Path]:
    """(result JSON, checkpoint folder) of a cell."""
    result = cfg.output.results / "cells" / setting / slug(network) / f"seed{seed}.json"
    return result, cfg.output.runs / setting / slug(network) / f"seed{seed}"


def instance_of(cfg: ConvergedConfig, setting: str) -> int:
    """The problem seed (instance) of a setting: its own ``instance`` or the base problem's ``seed``."""
    own = cfg.settings[setting].instance
    return int(cfg.problem.get("seed", 0)) if own is None else own


def energies_path(cfg: ConvergedConfig, setting: str) -> Path:
    """``‖x*_i‖²`` of the setting's test set (shared by every cell of the setting), float64 ``.npy``."""
    return cfg.output.results / "cells" / setting / "test-energies.npy"


def support_sizes_path(cfg: ConvergedConfig, setting: str) -> Path:
    """``k_i = ‖x*_i‖₀`` of the setting's test set (the report groups errors by it), int ``.npy``."""
    return cfg.output.results / "cells" / setting / "test-support-sizes.npy"
