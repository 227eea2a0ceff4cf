"""Experiment configuration: pydantic v2 models, loadable from YAML or TOML.

Unknown keys are rejected everywhere (with a "did you mean"), numbers must be finite, integers and
booleans are strict (``layers: true`` or ``layers: 2.5`` is an error), a key given twice in a YAML
file is an error, and the run ``name`` is a safe relative path inside ``output.dir``. Component
options are validated against the component's own options model when the network is composed
(see :mod:`hno_framework.composer`).
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
import typing
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .io import file_kind


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


PositiveInt = Annotated[int, Strict(), Field(gt=0)]
"""An integer > 0; booleans, floats and strings are rejected (``layers: true`` is not 1 layer)."""
PositiveFloat = Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]
"""A finite float > 0 (finiteness from :class:`StrictModel`); ints are accepted, booleans are not."""
Float = Annotated[float, BeforeValidator(_not_bool)]
"""A finite float; ints are accepted, booleans are not."""
MAX_LAYERS = 10_000
"""The most layers T a network may have. Composing costs ≈ 3.5 KB of Python objects per layer before any weight
(measured for ``lista`` + ``2no``), so millions of layers would exhaust memory and minutes before the first error."""
Layers = Annotated[int, Strict(), Field(gt=0, le=MAX_LAYERS)]
"""The layer count T: an integer in [1, :data:`MAX_LAYERS`]."""
MAX_THREADS = 1024
"""The most torch threads ``training.threads`` may ask for. Above the machine's cores threads only wait on each other
(:func:`hno_framework.threads.resolve_threads` caps them there); far above, thread creation itself fails (100,000
threads crashed OpenMP and filled the process table)."""
Seed = Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]
"""A random seed: an integer in [0, 2⁶³ − 1], so that seed + the data-split offsets fits torch's 64-bit seeds."""


MAX_DEPTH = 64
"""The deepest nesting of mappings and lists a config may have (a real one is 4 or 5 levels deep); thousands of
levels would exhaust Python's recursion in the parsers and validators."""


def check_depth(data: Any, source: str) -> None:
    """Raise :class:`ConfigError` when ``data`` nests mappings or lists deeper than :data:`MAX_DEPTH`."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise ConfigError(f"{source} nests mappings or lists more than {MAX_DEPTH} levels deep; a config is a "
                                  "few levels deep (problem, network, training, ...): check it")
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


TOO_DEEP = ("nests mappings or lists thousands of levels deep, more than the parser can follow; a config is a few "
            "levels deep (problem, network, training, ...): check it")


def _finite_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` unless a float anywhere inside it is NaN or ±inf (a component's own model may not refuse them)."""
    stack: list[tuple[str, Any]] = list(options.items())
    while stack:
        key, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"option '{key}' is {value}; component options must be finite numbers")
        if isinstance(value, dict):
            stack.extend((f"{key}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
    return options


class StrictModel(BaseModel):
    """Unknown keys forbidden, NaN and ±inf rejected in every float field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ComponentSpec(StrictModel):
    """A component by registry ``name`` with its ``options``; a bare string means no options."""

    name: str
    options: Annotated[dict[str, Any], AfterValidator(_finite_options)] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class PatchImagesConfig(StrictModel):
    """Real photographs as the signal source of an image kind (``cs``, ``inpainting``, ``inpainting-dct``):
    training and validation patches are cut at random places of these images (``hno_framework.images``)."""

    images: list[str] = Field(
        min_length=1,
        description="bundled scikit-image photograph names (e.g. chelsea; needs hno-framework[images]), "
        "image files or folders of png/jpg/bmp/tif files",
    )
    downscale: PositiveInt = Field(1, description="average k × k pixel blocks first (k = 1: the images as they are)")


class ProblemConfig(StrictModel):
    """The inverse problem: ``kind`` (``lasso``, ``cs``, ``inpainting``, ``inpainting-dct``), Φ of size ``m × n``,
    sparsity p of x* (of its coefficients Dx* for kinds with a basis), ``snr_db`` (None =
    noiseless), condition number κ of Φ, λ, and the ``seed`` of Φ and of the
    validation/test sets.

    Image kinds (``cs``, ``inpainting``) work on square ``patch_size × patch_size`` patches,
    so ``n = patch_size²``: give ``patch_size`` (``n`` is derived), or a square ``n``
    (``patch_size`` is derived by the kind). ``missing_ratio`` (inpainting) is the fraction
    of pixels not observed; it fixes ``m = n − round(missing_ratio · n)``. ``mask`` (inpainting
    kinds): one ``fixed`` mask for every sample, or a fresh mask ``per-sample`` (then y has n
    entries, NaN where unobserved; see :class:`~hno_framework.problems.base.Problem`) observing exactly m of
    them, or ``per-sample-bernoulli``: each entry observed with probability m/n, so the count varies around m as
    in the tiles of one mask for a whole image.
    ``patches``: cut the signals from real photographs instead of drawing synthetic sparse ones.

    ``kind`` names a registered problem kind (``hno list problems``); ``options`` are that kind's own options
    (validated by the kind, e.g. the image size and blur width of ``blur``), as a step's options are.
    The fields above are shared: matrix-free kinds read ``seed``, ``lam`` and ``snr_db`` and ignore the sizes.
    """

    kind: str = "lasso"
    options: Annotated[dict[str, Any], AfterValidator(_finite_options)] = Field(
        default_factory=dict, description="the problem kind's own options (hno show KIND)")
    m: PositiveInt = 250
    n: PositiveInt = 500
    sparsity: Float = Field(0.1, gt=0.0, le=1.0)
    snr_db: Annotated[Float, Field(ge=-100.0, le=300.0)] | None = None
    condition_number: Float = Field(1.0, ge=1.0)
    lam: PositiveFloat = 0.4
    seed: Seed = 0
    patch_size: PositiveInt | None = Field(
        None, description="side of the square image patch (image kinds); n = patch_size² (derived when n is not given)"
    )
    missing_ratio: Float | None = Field(
        None, ge=0.0, lt=1.0,
        description="inpainting: fraction of missing pixels; sets m = n − round(missing_ratio·n) (derived when m is not given)",
    )
    mask: Literal["fixed", "per-sample", "per-sample-bernoulli"] = Field(
        "fixed", description="inpainting kinds: one fixed mask (from seed), a fresh mask per sample (exactly m observed "
        "of n), or a fresh mask per sample observing each entry with probability m/n (the count varies around m)"
    )
    patches: PatchImagesConfig | None = Field(
        None, description="image kinds: cut signals from these photographs (None: synthetic sparse signals)"
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
    layers: Layers = 16
    tied: Annotated[bool, Strict()] = True


class StagewiseConfig(StrictModel):
    """Options of the stage-wise (layer-wise) protocol of LISTA-CPSS (Chen et al. 2018).

    Layers are added one at a time. Stage k (the network cut at depth k + 1) has phases:
    phase 0 trains only layer k's parameters at ``lr · new_layer_lr_factor``; then one phase per
    entry of ``finetune_lr_factors`` trains all layers so far at ``lr · factor``, the parameters of
    layer j < k at a further ``layer_decay^(k − j)``. A phase ends when the validation NMSE at
    the current depth has not improved for ``patience`` iterations, or after ``max_iterations``.
    See ``docs/experiments.md`` and :mod:`hno_framework.training.stagewise`.
    """

    new_layer_lr_factor: PositiveFloat = Field(1.0, description="lr multiplier of phase 0 (only the new layer trains)")
    finetune_lr_factors: list[PositiveFloat] = Field(
        default_factory=lambda: [0.2, 0.02],
        description="lr multipliers of the phases that train all layers so far (LISTA-CPSS: 0.2, 0.02)",
    )
    layer_decay: Float = Field(
        0.3, gt=0.0, le=1.0, description="lr of layer j at stage k is scaled by layer_decay^(k − j) (LISTA-CPSS: 0.3)"
    )
    patience: PositiveInt = Field(4000, description="end a phase after this many iterations without a better validation NMSE")
    min_improvement_db: Float = Field(
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
    restore_best: Annotated[bool, Strict()] = Field(True, description="at the end of a phase, restore the parameters with the best validation NMSE")
    checkpoint_every: PositiveInt = Field(1000, description="iterations between resumable checkpoints (also at each phase end)")


class LrPhase(StrictModel):
    """One phase of ``protocol: phases``: ``iterations`` steps at the constant learning rate ``lr``."""

    iterations: PositiveInt
    lr: PositiveFloat


TrainingLoss = Literal["mse", "sum", "all-layers", "log-layers"]
"""The objectives ``training.loss`` accepts (:mod:`hno_framework.training.losses`)."""


class TrainingConfig(StrictModel):
    """Training of the unrolled network with fresh batches per iteration.

    ``protocol``: ``end-to-end`` (default: ``iterations`` steps with a ``schedule``), ``phases``
    (constant-lr ``phases`` one after another, each starting from the best network so far with a
    fresh optimizer) or ``stagewise`` (layer by layer as in LISTA-CPSS, options in ``stagewise``;
    :mod:`hno_framework.training.stagewise`; ``iterations`` and ``schedule`` are then unused). All
    run through the one loop of :mod:`hno_framework.training`, by ``hno train``, ``hno compare``
    and ``hno experiment``. ``loss`` picks the objective (:mod:`hno_framework.training.losses`).
    """

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: PositiveFloat = 5e-4
    iterations: PositiveInt = 2000
    batch_size: PositiveInt = 64
    schedule: Literal["constant", "cosine", "step"] = "cosine"
    grad_clip: PositiveFloat | None = None
    aux_loss_weight: Float = Field(1.0, ge=0.0)
    validate_every: PositiveInt = 100
    validation_size: PositiveInt = 1000
    test_size: PositiveInt = 1000
    seed: Seed = 0
    device: str = Field("auto", description="auto (CUDA when available, else CPU), cpu, cuda, cuda:K or mps")
    dtype: Literal["float32", "float64"] = "float32"
    threads: PositiveInt | Literal["auto"] | None = Field(
        "auto",
        description="torch intra-op threads: auto = cores available to the process divided by the training "
        f"processes running beside it (never more threads than cores); an int (at most {MAX_THREADS}, capped at the "
        "available cores); or null to leave torch's default",
    )
    protocol: Literal["end-to-end", "phases", "stagewise"] = Field(
        "end-to-end",
        description="end-to-end, phases (constant-lr phases, each from the best network so far) or stagewise "
        "(layer-wise, LISTA-CPSS); all run by hno train, hno compare and hno experiment",
    )
    phases: list[LrPhase] = Field(default_factory=list, description="protocol: phases: [{iterations, lr}, ...]")
    stagewise: StagewiseConfig = Field(default_factory=StagewiseConfig, description="options of protocol: stagewise")
    loss: TrainingLoss = Field(
        "mse",
        description="mse: mean (x_T − x*)²; sum: ½Σ‖x_T − x*‖²; all-layers: ½Σ_t Σ‖x_t − x*‖²; log-layers: "
        "Σ_t log Σ‖x_t − x*‖² (every layer's NMSE in dB counts alike; reaches published levels much faster)",
    )
    adam_eps: PositiveFloat = Field(1e-8, description="ε of Adam/AdamW")
    init_from: Path | None = Field(
        None, description="warm start: a trained checkpoint (best.pt) whose step and problem tensors are copied into "
        "the new network, e.g. a LISTA into 2NO-LISTA; every key and shape must match (hno train --init-from)",
    )
    compile: Annotated[bool, Strict()] = Field(
        False, description="run the network's layer loop through torch.compile (training, validation and test); "
        "compiles on first use and again for each new batch shape or depth; where compiling fails the run warns once "
        "and goes on eagerly",
    )
    compile_backend: Literal["inductor", "aot_eager", "eager", "cudagraphs"] = Field(
        "inductor", description="with compile: the torch.compile backend (inductor generates fused kernels; "
        "aot_eager only traces, for checking that a network compiles)",
    )
    init_integrator: Literal["own", "euler"] = Field(
        "own", description="with init_from: the integrator's coefficients start at their own initial values (own) or "
        "at the values where the scheme is forward Euler (euler: the warm-started network then computes what the "
        "source network did)",
    )

    @field_validator("threads")
    @classmethod
    def _sane_threads(cls, threads: int | str | None) -> int | str | None:
        if isinstance(threads, int) and threads > MAX_THREADS:
            from .threads import available_cores

            raise ValueError(f"{threads} threads is more than the limit of {MAX_THREADS}; threads beyond the cores "
                             f"only wait on each other (this machine has {available_cores()}): give at most that, "
                             "or auto")
        return threads

    @model_validator(mode="after")
    def _phases_given(self) -> TrainingConfig:
        if self.protocol == "phases" and not self.phases:
            raise ValueError("protocol: phases needs a list training.phases of {iterations, lr}")
        return self


class OutputConfig(StrictModel):
    """Where runs go: ``dir / <experiment name>/`` holds checkpoints and metrics."""

    dir: Path = Path("runs")


class LoggerSpec(ComponentSpec):
    """A logger of the run (``logging:`` list): registry ``name``, its ``options`` and ``every``, the number
    of iterations between train-step metrics it receives (validations and the end are always logged).
    A bare string means defaults: ``logging: [console, tensorboard]``."""

    every: PositiveInt = Field(10, description="iterations between train-step metrics (loss, lr) sent to this logger")


class ExperimentConfig(StrictModel):
    """One experiment: a problem, a network, how to train it, where to write."""

    name: str = Field("experiment", description="the run folder output.dir/name: a relative path without '..'")
    problem: ProblemConfig = Field(default_factory=ProblemConfig)
    network: NetworkConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    logging: list[LoggerSpec] = Field(
        default_factory=list, description="loggers watching the run, e.g. [console, tensorboard, mlflow] (hno list loggers)"
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        check_run_name(name)
        return name

    @property
    def run_dir(self) -> Path:
        return self.output.dir / self.name


MAX_NAME_PARTS = 32
"""The most ``/``-separated parts a run name may have (grid cells use 3: setting/network/seedS)."""
MAX_NAME_LENGTH = 1024
"""The longest run name, in characters (file systems allow 255 bytes per part and about 4096 per path)."""


def check_run_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a safe run folder below ``output.dir``: non-empty, relative
    (POSIX and Windows), no ``.``/``..``/empty component, no backslash, control, format or other non-printable
    character, at most :data:`MAX_NAME_PARTS` parts and :data:`MAX_NAME_LENGTH` characters.
    ``/`` separates sub-folders (grid cells are ``setting/network/seedS``)."""
    if not name.strip():
        raise ValueError("the run name is empty; give a folder name such as 'lista-t16'")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise ValueError(f"the run name '{name}' is an absolute path; give a folder name (runs go to output.dir/name)")
    if "\\" in name or any(not c.isprintable() for c in name):
        raise ValueError(f"the run name {name!a} holds a backslash or a control, format or invisible character "
                         "(such as a right-to-left override or a zero-width space); use letters, digits, - _ .")
    parts = name.split("/")
    if len(parts) > MAX_NAME_PARTS or len(name) > MAX_NAME_LENGTH or any(len(p.encode()) > 255 for p in parts):
        raise ValueError(f"the run name is too long ({len(parts)} parts, {len(name)} characters); give at most "
                         f"{MAX_NAME_PARTS} parts of ≤ 255 bytes, {MAX_NAME_LENGTH} characters in all")
    if any(p in ("", ".", "..") for p in parts) or any(p != p.strip() for p in parts):
        raise ValueError(f"the run name '{name}' must stay inside output.dir: no '..', '.', empty or space-padded parts")


def _field_model(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the keys at ``loc`` below ``model`` (None when not a model)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list of models
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        current = current.model_fields[part].annotation
        while typing.get_origin(current) is not None:  # list[X], X | None: find the model inside
            models = [a for a in typing.get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)]
            nested = [a for a in typing.get_args(current) if typing.get_origin(a) is not None]
            if models:
                current = models[0]
            elif nested:
                current = nested[0]
            else:
                break
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _suggest_key(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    """``"; did you mean 'x'?"`` for a misspelt key at ``loc`` (empty when nothing is close)."""
    if model is None or not loc:
        return ""
    holder = _field_model(model, loc[:-1])
    if holder is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(holder.model_fields), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_validation_error(
    err: ValidationError, source: str, what: str = "config", model: type[BaseModel] | None = None
) -> str:
    """One line naming every invalid key of a pydantic error: ``invalid <what> <source>: loc: msg; ...``;
    an unknown key of ``model`` gets a "did you mean" with the closest known key."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = "unknown key" + (_suggest_key(model, tuple(e["loc"])) or " (not allowed here)")
        else:
            msg = e["msg"].replace("\n", " ").removeprefix("Value error, ")
            if isinstance(e.get("input"), (bool, int, float)) and e["type"] not in ("value_error", "missing"):
                msg += f", got {e['input']!r}"
        parts.append(f"{loc}: {msg}")
    return f"invalid {what} {source}: " + "; ".join(parts)


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps
    the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *anchor' merges; a key given next to it overrides the merged one
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first given at line {first})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class YAMLSyntaxError(ConfigError):
    """A YAML file or ``--set`` value that does not parse; its message keeps the source line and a caret."""

    keeps_lines = True


def _visible(text: str) -> str:
    """``text`` with each control character (tab, CR, ...) shown as ``?``: one character for one, so a caret
    under a column stays aligned."""
    return "".join(c if c.isprintable() else "?" for c in text)


def yaml_error_message(exc: yaml.YAMLError, text: str, source: str) -> str:
    """``source, line L, column C: problem`` plus the offending line and a caret under the column."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"cannot parse {source}: {problem}"
    lines = re.split(r"\r\n|[\n\r\x85\u2028\u2029]", text)  # YAML's line breaks (str.splitlines knows more)
    head = _visible(f"cannot parse {source}, line {mark.line + 1}, column {mark.column + 1}: {problem}")
    if 0 <= mark.line < len(lines):
        number = f"{mark.line + 1} | "
        return f"{head}\n  {number}{_visible(lines[mark.line])}\n  {' ' * len(number)}{' ' * mark.column}^"
    return head


def parse_yaml(text: str, source: str) -> Any:
    """YAML text -> Python data with the safe loader, duplicate keys refused; errors are
    :class:`ConfigError` with line, column and a caret line."""
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass: no tags execute code
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(yaml_error_message(exc, text, source)) from None
    except RecursionError:
        raise ConfigError(f"{source} {TOO_DEEP}") from None
    check_depth(data, source)
    return data


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into a dict."""
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give a config file (.yaml, .yml or .toml), e.g. examples/lista.yaml")
    kind = file_kind(path)
    if kind is not None:
        raise ConfigError(f"{path} is {kind}, not a config file; give a .yaml, .yml or .toml file, e.g. examples/lista.yaml")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"unsupported config format '{path.suffix}' for {path}; use .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start}); save the config as UTF-8") from None
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"cannot parse {path}: {exc}".replace("\n", " ")) from None
        except RecursionError:
            raise ConfigError(f"{path} {TOO_DEEP}") from None
        check_depth(data, str(path))
    else:
        data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must contain a mapping at the top level")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML, e.g. ``0.1``, ``null``, ``[1, 2]``)
    to a nested dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        if any(not p for p in parts):
            raise ConfigError(f"override '{item}': the key '{key}' has an empty part; write it like training.lr=0.001")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}': '{part}' is not a section")
            node = child
        node[parts[-1]] = parse_yaml(raw, f"the value of --set {key}")
    return data


def parse_config(data: dict[str, Any], source: str = "<dict>") -> ExperimentConfig:
    """Validate ``data`` as an :class:`ExperimentConfig`; errors are one :class:`ConfigError` line."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, model=ExperimentConfig)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load and validate an :class:`ExperimentConfig` from YAML or TOML, with optional overrides."""
    path = Path(path)
    data = apply_overrides(read_mapping(path), overrides or [])
    return parse_config(data, str(path))
