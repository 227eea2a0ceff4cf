"""The grid config of a study: problem settings × networks × seeds, the classical baselines, a quick preset.

A grid is a YAML/TOML file (``examples/grids/synthetic-grid.yaml``)::

    name: synthetic
    problem: {kind: lasso, m: 250, n: 500, sparsity: 0.1, lam: 0.4, seed: 0}   # base problem
    layers: 16
    settings:                       # each overrides snr_db / condition_number of the base problem
      - {name: noiseless, title: "noiseless, κ = 1"}
      - {name: snr40, snr_db: 40}
    networks:                       # step and integrator by registry name, as in a network config
      - {name: LISTA, step: lista, integrator: euler}
      - {name: 2NO-LISTA(u), step: lista, integrator: 2no, tied: false}
    seeds: [0]                      # training seeds (Φ and the data sets depend on problem.seed only)
    training: {...}                 # a TrainingConfig (protocol: stagewise | end-to-end)
    classical: {...}                # ISTA / FISTA baselines
    output: {dir: runs/synthetic}
    quick: {...}                    # overrides applied by --quick (same layout as the grid)

Each (setting, network, seed) is a *cell*: an :class:`~hno_framework.config.ExperimentConfig`
whose run folder is ``output.dir/<setting>/<network slug>/seed<seed>``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, ValidationError, field_validator, model_validator

from hno_framework.config import (
    ComponentSpec,
    ExperimentConfig,
    Layers,
    NetworkConfig,
    OutputConfig,
    ProblemConfig,
    StrictModel,
    TrainingConfig,
    apply_overrides,
    format_validation_error,
    parse_config,
    read_mapping,
)

from .classical import ALGORITHMS, Algorithm
from .errors import ExperimentError

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Keys a network may not override: every network of a setting is judged on the same sets.
SHARED_TRAINING_KEYS = frozenset({"validation_size", "test_size", "dtype", "seed"})


def slugify(label: str) -> str:
    """A folder-safe name: ``"2NO-LISTA(u)"`` -> ``"2no-lista-u"``."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def fingerprint(data: Any) -> str:
    """A short stable hash of JSON-able ``data`` (used to recognise results of the same cell config)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, recursing into mappings (lists and scalars are replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class SettingSpec(StrictModel):
    """One problem setting of the grid: the base problem with this ``snr_db`` (None = noiseless) and κ."""

    name: str = Field(description="folder name of the setting (lower case, dashes)")
    title: str | None = Field(None, description="panel title in the figures (default: derived from snr_db and κ)")
    snr_db: float | None = Field(None, description="measurement SNR in dB; null = noiseless")
    condition_number: float = Field(1.0, ge=1.0, description="condition number κ of Φ")
    problem: dict[str, Any] = Field(default_factory=dict, description="further overrides of the base problem")

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(f"setting name '{value}' must be lower case letters/digits with dashes, e.g. 'snr-40'")
        return value

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        noise = "noiseless" if self.snr_db is None else f"SNR = {self.snr_db:g} dB"
        return f"{noise}, κ = {self.condition_number:g}"


class NetworkSpec(StrictModel):
    """One network of the grid: a display ``name``, step and integrator by registry name, tied or not."""

    name: str = Field(description="display name, e.g. '2NO-LISTA(u)'; its slug names the run folder")
    step: ComponentSpec
    integrator: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="euler"))
    tied: bool = True
    training: dict[str, Any] = Field(default_factory=dict, description="overrides of the grid's training block for this network")

    @field_validator("training")
    @classmethod
    def _not_shared(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(SHARED_TRAINING_KEYS & value.keys())
        if bad:
            raise ValueError(f"a network may not override {bad}: every network of a setting uses the same data and seeds")
        return value

    @property
    def slug(self) -> str:
        return slugify(self.name)


class ClassicalConfig(StrictModel):
    """Classical solvers run on each setting's test set, with λ tuned on its validation set."""

    enabled: bool = True
    algorithms: list[Algorithm] = Field(default_factory=lambda: list(ALGORITHMS))
    iterations: PositiveInt = Field(1000, description="iterations on the test set (NMSE recorded at each)")
    lambdas: list[PositiveFloat] = Field(
        default_factory=lambda: [0.003, 0.01, 0.03, 0.1, 0.3], description="λ grid, tuned on the validation set"
    )
    tune_size: PositiveInt | None = Field(None, description="validation samples used to tune λ (default: all)")
    tune_iterations: PositiveInt | None = Field(
        None, description="iterations when tuning: λ minimising the validation NMSE at this iteration (default: iterations)"
    )
    reference: Literal["ista", "fista"] = Field("fista", description="the solver of the 'iterations saved' count")

    @model_validator(mode="after")
    def _reference_runs(self) -> ClassicalConfig:
        if self.enabled and self.reference not in self.algorithms:
            raise ValueError(f"reference '{self.reference}' must be one of algorithms {self.algorithms}")
        return self


class GridConfig(StrictModel):
    """A study: every network of ``networks`` trained on every setting of ``settings``, once per seed."""

    name: str = "synthetic"
    problem: ProblemConfig = Field(default_factory=ProblemConfig)
    layers: Layers = 16
    settings: list[SettingSpec] = Field(min_length=1)
    networks: list[NetworkSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    classical: ClassicalConfig = Field(default_factory=ClassicalConfig)
    output: OutputConfig = Field(default_factory=lambda: OutputConfig(dir=Path("runs/synthetic")))
    quick: dict[str, Any] | None = Field(None, description="overrides applied by --quick")

    @model_validator(mode="after")
    def _unique(self) -> GridConfig:
        for what, names in (("setting", [s.name for s in self.settings]),
                            ("network", [n.slug for n in self.networks]),
                            ("seed", [str(s) for s in self.seeds])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} names {dupes} (network names are compared by slug)")
        return self

    # -- cells --------------------------------------------------------------------------------
    def problem_for(self, setting: SettingSpec) -> ProblemConfig:
        data = deep_merge(self.problem.model_dump(), setting.problem)
        data.update(snr_db=setting.snr_db, condition_number=setting.condition_number)
        return ProblemConfig.model_validate(data)

    def cell(self, setting: SettingSpec, network: NetworkSpec, seed: int) -> Cell:
        training = deep_merge(self.training.model_dump(mode="json"), network.training)
        training["seed"] = seed
        data = {
            "name": f"{setting.name}/{network.slug}/seed{seed}",
            "problem": self.problem_for(setting).model_dump(mode="json"),
            "network": NetworkConfig(step=network.step, integrator=network.integrator, layers=self.layers,
                                     tied=network.tied).model_dump(mode="json"),
            "training": training,
            "output": {"dir": str(self.output.dir)},
        }
        return Cell(setting, network, seed, parse_config(data, f"grid cell {data['name']}"))

    def cells(self) -> list[Cell]:
        """All cells, setting by setting, then network by network, then seed by seed."""
        return [self.cell(s, n, seed) for s in self.settings for n in self.networks for seed in self.seeds]


@dataclass
class Cell:
    """One (setting, network, seed) of a grid, with the experiment config that trains it."""

    setting: SettingSpec
    network: NetworkSpec
    seed: int
    config: ExperimentConfig

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    @property
    def fingerprint(self) -> str:
        """Hash of the cell's config without ``output`` (a moved grid folder keeps its results)."""
        return fingerprint(self.config.model_dump(mode="json", exclude={"output"}))


def parse_grid(data: dict[str, Any], source: str = "<dict>", *, quick: bool = False) -> GridConfig:
    """Validate a grid mapping; with ``quick``, first merge its ``quick:`` block over it."""
    if quick:
        preset = data.get("quick")
        if not isinstance(preset, dict) or not preset:
            raise ExperimentError(
                f"--quick needs a 'quick:' block of overrides in {source} (see examples/grids/synthetic-grid.yaml)"
            )
        if "quick" in preset:
            raise ExperimentError(f"the quick: block of {source} may not contain another quick: block")
        data = deep_merge(data, preset)
    try:
        return GridConfig.model_validate(data)
    except ValidationError as err:
        raise ExperimentError(format_validation_error(err, source, "grid config", model=GridConfig)) from None


def load_grid(path: str | Path, overrides: list[str] | None = None, *, quick: bool = False) -> GridConfig:
    """Load a grid config (YAML/TOML). ``overrides`` (``dotted.key=value``) apply after the quick preset."""
    path = Path(path)
    data = read_mapping(path)
    if quick:
        data = parse_grid(data, str(path), quick=True).model_dump(mode="json")
    data = apply_overrides(data, overrides or [])
    return parse_grid(data, str(path))
