"""Experiment configuration: pydantic v2 models, loadable from YAML or TOML.

Unknown keys are rejected everywhere. Component options are validated against the
component's own options model when the network is composed (see :mod:`hno_framework.composer`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError, model_validator

from .errors import ConfigError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentSpec(StrictModel):
    """A component by registry ``name`` with its ``options``; a bare string means no options."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class ProblemConfig(StrictModel):
    """The inverse problem: ``kind`` (``lasso``, ``cs``, ``inpainting``), Φ of size ``m × n``,
    sparsity p of x* (of its coefficients Dx* for kinds with a basis), ``snr_db`` (None =
    noiseless), condition number κ of Φ, λ, and the ``seed`` of Φ and of the
    validation/test sets.

    Image kinds (``cs``, ``inpainting``) work on square ``patch_size × patch_size`` patches,
    so ``n = patch_size²``: give ``patch_size`` (``n`` is derived), or a square ``n``
    (``patch_size`` is derived by the kind). ``missing_ratio`` (inpainting) is the fraction
    of pixels not observed; it fixes ``m = n − round(missing_ratio · n)``.
    """

    kind: str = "lasso"
    m: PositiveInt = 250
    n: PositiveInt = 500
    sparsity: float = Field(0.1, gt=0.0, le=1.0)
    snr_db: float | None = None
    condition_number: float = Field(1.0, ge=1.0)
    lam: PositiveFloat = 0.4
    seed: int = 0
    patch_size: PositiveInt | None = Field(
        None, description="side of the square image patch (image kinds); n = patch_size² (derived when n is not given)"
    )
    missing_ratio: float | None = Field(
        None, ge=0.0, lt=1.0,
        description="inpainting: fraction of missing pixels; sets m = n − round(missing_ratio·n) (derived when m is not given)",
    )

    @model_validator(mode="after")
    def _derive_image_sizes(self) -> ProblemConfig:
        given = self.model_fields_set
        if self.patch_size is not None:
            n = self.patch_size**2
            if "n" in given and self.n != n:
                raise ValueError(
                    f"n={self.n} does not match patch_size={self.patch_size} (n must be patch_size² = {n}); "
                    "give only one of them"
                )
            object.__setattr__(self, "n", n)
        if self.missing_ratio is not None:
            m = self.n - round(self.missing_ratio * self.n)
            if m < 1:
                raise ValueError(f"missing_ratio={self.missing_ratio} leaves no observed pixel of n={self.n}")
            if "m" in given and self.m != m:
                raise ValueError(
                    f"m={self.m} does not match missing_ratio={self.missing_ratio} with n={self.n} "
                    f"(m must be n − round(missing_ratio·n) = {m}); give only one of them"
                )
            object.__setattr__(self, "m", m)
        return self


class NetworkConfig(StrictModel):
    """The unrolled network: ``step`` and ``integrator`` by name, ``layers`` T, ``tied`` weights."""

    step: ComponentSpec
    integrator: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="euler"))
    layers: PositiveInt = 16
    tied: bool = True


class StagewiseConfig(StrictModel):
    """Options of the stage-wise (layer-wise) protocol of LISTA-CPSS (Chen et al. 2018).

    Layers are added one at a time. Stage k (the network cut at depth k + 1) has phases:
    phase 0 trains only layer k's parameters at ``lr · new_layer_lr_factor``; then one phase per
    entry of ``finetune_lr_factors`` trains all layers so far at ``lr · factor``, the parameters of
    layer j < k at a further ``layer_decay^(k − j)``. A phase ends when the validation NMSE at
    the current depth has not improved for ``patience`` iterations, or after ``max_iterations``.
    See ``docs/experiments.md`` and :mod:`hno_framework.experiments.stagewise`.
    """

    new_layer_lr_factor: PositiveFloat = Field(1.0, description="lr multiplier of phase 0 (only the new layer trains)")
    finetune_lr_factors: list[PositiveFloat] = Field(
        default_factory=lambda: [0.2, 0.02],
        description="lr multipliers of the phases that train all layers so far (LISTA-CPSS: 0.2, 0.02)",
    )
    layer_decay: float = Field(
        0.3, gt=0.0, le=1.0, description="lr of layer j at stage k is scaled by layer_decay^(k − j) (LISTA-CPSS: 0.3)"
    )
    patience: PositiveInt = Field(4000, description="end a phase after this many iterations without a better validation NMSE")
    min_improvement_db: float = Field(
        0.0, ge=0.0,
        description="a validation NMSE restarts the patience window only when it beats the phase's best by more than "
        "this many dB (0: any improvement, as LISTA-CPSS; e.g. 0.01 ends slowly creeping phases much earlier)",
    )
    max_iterations: PositiveInt = Field(200_000, description="cap on the iterations of one phase")
    validate_every: PositiveInt = Field(10, description="iterations between validations (LISTA-CPSS: 10)")
    tied_parameters: Literal["newest-layer", "first-layer"] = Field(
        "newest-layer",
        description="a parameter shared by several layers (tied W) belongs to the newest layer using it "
        "(trained in every phase 0, never decayed) or to the first one (LISTA-CPSS code: trained in stage 0's "
        "phase 0 only, then decayed like that layer)",
    )
    restore_best: bool = Field(True, description="at the end of a phase, restore the parameters with the best validation NMSE")
    checkpoint_every: PositiveInt = Field(1000, description="iterations between resumable checkpoints (also at each phase end)")


class TrainingConfig(StrictModel):
    """Training of the unrolled network with fresh batches per iteration.

    ``protocol``: ``end-to-end`` (default: the MSE of ``x_T``, ``iterations`` steps with a
    ``schedule``; :mod:`hno_framework.training`) or ``stagewise`` (layer by layer as in
    LISTA-CPSS, options in ``stagewise``; :mod:`hno_framework.experiments.stagewise`, run by
    ``hno train``, ``hno compare`` and ``hno experiment``; ``iterations`` and ``schedule`` are then unused).
    """

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: PositiveFloat = 5e-4
    iterations: PositiveInt = 2000
    batch_size: PositiveInt = 64
    schedule: Literal["constant", "cosine", "step"] = "cosine"
    grad_clip: PositiveFloat | None = None
    aux_loss_weight: float = Field(1.0, ge=0.0)
    validate_every: PositiveInt = 100
    validation_size: PositiveInt = 1000
    test_size: PositiveInt = 1000
    seed: int = 0
    device: str = "cpu"
    dtype: Literal["float32", "float64"] = "float32"
    threads: PositiveInt | None = None
    protocol: Literal["end-to-end", "stagewise"] = Field(
        "end-to-end",
        description="end-to-end or stagewise (layer-wise, LISTA-CPSS); both run by hno train, hno compare and hno experiment",
    )
    stagewise: StagewiseConfig = Field(default_factory=StagewiseConfig, description="options of protocol: stagewise")


class OutputConfig(StrictModel):
    """Where runs go: ``dir / <experiment name>/`` holds checkpoints and metrics."""

    dir: Path = Path("runs")


class ExperimentConfig(StrictModel):
    """One experiment: a problem, a network, how to train it, where to write."""

    name: str = "experiment"
    problem: ProblemConfig = Field(default_factory=ProblemConfig)
    network: NetworkConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @property
    def run_dir(self) -> Path:
        return self.output.dir / self.name


def format_validation_error(err: ValidationError, source: str, what: str = "config") -> str:
    """One line naming every invalid key of a pydantic error: ``invalid <what> <source>: loc: msg; ...``."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key (not allowed here)" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{loc}: {msg}")
    return f"invalid {what} {source}: " + "; ".join(parts)


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into a dict."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"unsupported config format '{path.suffix}' for {path}; use .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must contain a mapping at the top level")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML scalars) to a nested dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}': '{part}' is not a section")
            node = child
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def parse_config(data: dict[str, Any], source: str = "<dict>") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load and validate an :class:`ExperimentConfig` from YAML or TOML, with optional overrides."""
    path = Path(path)
    data = apply_overrides(read_mapping(path), overrides or [])
    return parse_config(data, str(path))
