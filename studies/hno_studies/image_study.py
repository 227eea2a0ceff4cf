"""The natural-image studies of the seed (Table 1: inpainting; Table 2: compressive sensing): config and cells.

A study config (``examples/images/inpainting.yaml``, ``examples/images/image-cs.yaml``)::

    name: inpainting
    task: inpainting                  # or image-cs
    images: {train: [chelsea, ...], test: [camera, ...], downscale: 2}   # names, files or folders
    problem: {kind: inpainting-dct, patch_size: 8, missing_ratio: 0.5, mask: per-sample, lam: 0.05}
    layers: 16
    networks: [{name: LISTA, step: lista, integrator: euler}, ...]
    ista: {enabled: true, iterations: 200, lambdas: [...]}             # inpainting: the ISTA row
    ratios: [0.01, 0.04, 0.10, 0.25, 0.30, 0.40, 0.50]                  # image-cs: one setting per CS ratio
    training: {...}                   # a TrainingConfig (end-to-end)
    evaluation: {stride: null, bootstrap: 2000, seed: 0}
    output: {dir: runs/images/inpainting}
    quick: {...}                      # overrides applied by --quick

A *cell* is one (setting, network): an :class:`ImageCell` holding the
:class:`~hno_framework.config.ExperimentConfig` that trains it (its ``problem.patches`` are the
training images) and nothing else mutable, so cells are independent: :func:`run_cell` trains or
evaluates one of them (an executor may run them in any order or in parallel) and writes its
``result.json``; a cell whose ``result.json`` exists with the same fingerprint is finished.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, ValidationError, field_validator, model_validator

from hno_framework.config import (
    ExperimentConfig,
    Layers,
    NetworkConfig,
    OutputConfig,
    PatchImagesConfig,
    ProblemConfig,
    StrictModel,
    TrainingConfig,
    apply_overrides,
    format_validation_error,
    parse_config,
    read_mapping,
)
from hno_framework.images.sources import GrayImage, check_disjoint, load_images

from .errors import ExperimentError
from .grid import NetworkSpec, deep_merge, fingerprint

Task = Literal["inpainting", "image-cs"]
TASK_KINDS: dict[str, tuple[str, ...]] = {"inpainting": ("inpainting-dct", "inpainting"), "image-cs": ("cs",)}


class ImageSplit(StrictModel):
    """The photographs of a study: ``train`` (patches for training and validation) and ``test`` (whole images).

    Entries are bundled scikit-image names, image files or folders (:mod:`hno_framework.images.sources`);
    no picture may be in both lists. ``downscale`` averages k × k blocks of every image first.
    """

    train: list[str] = Field(min_length=1, description="training images: names, files or folders")
    test: list[str] = Field(min_length=1, description="test images (whole-image PSNR): names, files or folders")
    downscale: PositiveInt = Field(1, description="average k × k pixel blocks of every image first")


class IstaBaseline(StrictModel):
    """The ISTA row of Table 1: ``iterations`` ISTA steps (no learning), λ tuned on validation patches."""

    enabled: bool = True
    iterations: PositiveInt = Field(200, description="ISTA iterations on every patch")
    lambdas: list[PositiveFloat] = Field(default_factory=lambda: [0.003, 0.01, 0.03, 0.1],
                                         description="λ grid; the lowest validation NMSE wins")
    tune_size: PositiveInt = Field(1000, description="validation patches used to tune λ")


class ImageNetworkSpec(NetworkSpec):
    """A network of an image study; ``ratios`` (image-cs) limits it to some CS ratios (None: all)."""

    ratios: list[float] | None = Field(None, description="image-cs: run this network only at these CS ratios")


class EvaluationConfig(StrictModel):
    """Whole-image evaluation: tiling ``stride`` (None = the patch side: non-overlapping tiles;
    smaller = overlapping tiles, estimates averaged), bootstrap resamples of the PSNR intervals, mask seed."""

    stride: PositiveInt | None = None
    bootstrap: PositiveInt = 2000
    seed: int = 0


class ImageStudyConfig(StrictModel):
    """One image study (module docstring)."""

    name: str = "images"
    task: Task
    images: ImageSplit
    problem: ProblemConfig
    layers: Layers = 16
    networks: list[ImageNetworkSpec] = Field(min_length=1)
    ista: IstaBaseline = Field(default_factory=IstaBaseline)
    ratios: list[float] = Field(default_factory=lambda: [0.01, 0.04, 0.10, 0.25, 0.30, 0.40, 0.50],
                                description="image-cs: CS ratios m/n, one setting each")
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    output: OutputConfig = Field(default_factory=lambda: OutputConfig(dir=Path("runs/images")))
    quick: dict[str, Any] | None = Field(None, description="overrides applied by --quick")

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        if not value or any(not 0.0 < r <= 1.0 for r in value):
            raise ValueError(f"CS ratios must be in (0, 1], got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ImageStudyConfig:
        kinds = TASK_KINDS[self.task]
        if self.problem.kind not in kinds:
            raise ValueError(f"task {self.task} needs problem.kind in {list(kinds)}, got '{self.problem.kind}'")
        if self.problem.patch_size is None:
            raise ValueError("image studies need problem.patch_size")
        stride = self.evaluation.stride
        if stride is not None and stride > self.problem.patch_size:
            raise ValueError(f"evaluation.stride={stride} exceeds the patch size {self.problem.patch_size}")
        if self.task == "inpainting" and self.problem.mask == "fixed" and stride not in (None, self.problem.patch_size):
            raise ValueError("a fixed patch mask has no whole-image version for overlapping tiles; use stride = patch size")
        for net in self.networks:
            unknown = sorted(set(net.ratios or []) - set(self.ratios))
            if unknown:
                raise ValueError(f"network {net.name}: ratios {unknown} are not among the study's ratios {self.ratios}")
        slugs = [n.slug for n in self.networks]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"duplicate network names {slugs}")
        return self

    @property
    def patch(self) -> int:
        assert self.problem.patch_size is not None
        return self.problem.patch_size

    @property
    def stride(self) -> int:
        return self.evaluation.stride or self.patch

    def settings(self) -> list[str]:
        """``["inpainting"]``, or one ``ratio-<percent>`` per CS ratio."""
        if self.task == "inpainting":
            return ["inpainting"]
        return [ratio_name(r) for r in self.ratios]

    def problem_for(self, setting: str) -> ProblemConfig:
        """The problem of ``setting`` with the training images as its patch source."""
        data = self.problem.model_dump(mode="json")
        data["patches"] = PatchImagesConfig(images=self.images.train, downscale=self.images.downscale).model_dump(mode="json")
        if self.task == "image-cs":
            ratio = self.ratios[self.settings().index(setting)]
            data["m"] = max(1, round(ratio * self.patch**2))
            data.pop("n", None)
        return ProblemConfig.model_validate(data)

    def cells(self) -> list[ImageCell]:
        """Every cell: per setting, the ISTA baseline (inpainting, when enabled), then each network."""
        out: list[ImageCell] = []
        for setting in self.settings():
            if self.task == "inpainting" and self.ista.enabled:
                out.append(self._cell(setting, NetworkSpec(name="ISTA", step="ista"), baseline=True))
            out.extend(self._cell(setting, net) for net in self.networks if self._runs_at(net, setting))
        return out

    def _runs_at(self, net: ImageNetworkSpec, setting: str) -> bool:
        return net.ratios is None or setting in {ratio_name(r) for r in net.ratios}

    def _cell(self, setting: str, network: NetworkSpec, baseline: bool = False) -> ImageCell:
        training = deep_merge(self.training.model_dump(mode="json"), network.training)
        layers = self.ista.iterations if baseline else self.layers
        data = {
            "name": f"{setting}/{network.slug}",
            "problem": self.problem_for(setting).model_dump(mode="json"),
            "network": NetworkConfig(step=network.step, integrator=network.integrator, layers=layers,
                                     tied=network.tied).model_dump(mode="json"),
            "training": training,
            "output": {"dir": str(self.output.dir)},
        }
        return ImageCell(setting, network.name, baseline, parse_config(data, f"image study cell {data['name']}"))

    def cell_fingerprint(self, cell: ImageCell) -> str:
        """Hash of what a cell's result depends on: its config (without output), the test split, the evaluation."""
        extra: dict[str, Any] = {"test": self.images.test, "evaluation": self.evaluation.model_dump(mode="json")}
        if cell.baseline:
            extra["ista"] = self.ista.model_dump(mode="json")
        return fingerprint({"config": cell.config.model_dump(mode="json", exclude={"output"}), **extra})


def ratio_name(ratio: float) -> str:
    """``0.1 -> "ratio-10"`` (percent, up to one decimal: ``0.125 -> "ratio-12.5"``)."""
    return f"ratio-{round(ratio * 100, 1):g}"


@dataclass(frozen=True)
class ImageCell:
    """One (setting, network) of an image study; ``baseline`` marks the untrained ISTA row (λ tuned)."""

    setting: str
    network: str
    baseline: bool
    config: ExperimentConfig

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir


def parse_study(data: dict[str, Any], source: str = "<dict>", *, quick: bool = False) -> ImageStudyConfig:
    """Validate a study mapping; with ``quick``, first merge its ``quick:`` block over it."""
    if quick:
        preset = data.get("quick")
        if not isinstance(preset, dict) or not preset:
            raise ExperimentError(f"--quick needs a 'quick:' block of overrides in {source}")
        data = deep_merge(data, preset)
    try:
        return ImageStudyConfig.model_validate(data)
    except ValidationError as err:
        raise ExperimentError(format_validation_error(err, source, "image study config")) from None


def load_study(path: str | Path, overrides: list[str] | None = None, *, quick: bool = False,
               task: Task | None = None, images: str | Path | None = None) -> ImageStudyConfig:
    """Load a study config (YAML/TOML). ``overrides`` (``dotted.key=value``) apply after the quick preset;
    ``images`` is a folder with ``train/`` and ``test/`` subfolders replacing the config's split (then
    ``images.downscale`` is 1 unless an override sets it)."""
    path = Path(path)
    data = read_mapping(path)
    if quick:
        data = parse_study(data, str(path), quick=True).model_dump(mode="json")
    data = apply_overrides(data, overrides or [])
    if images is not None:
        folder = Path(images).expanduser()
        missing = [sub for sub in ("train", "test") if not (folder / sub).is_dir()]
        if missing:
            raise ExperimentError(f"--images {folder}: expected subfolders train/ and test/ (missing: {', '.join(missing)}); "
                                  "see docs/images.md")
        split = data.setdefault("images", {})
        split["train"], split["test"] = [str(folder / "train")], [str(folder / "test")]
        if not any(o.strip().startswith("images.downscale") for o in overrides or []):
            split["downscale"] = 1  # your images as they are (Set11 is 256 × 256), unless --set images.downscale=k
    study = parse_study(data, str(path))
    if task is not None and study.task != task:
        raise ExperimentError(f"{path} describes task '{study.task}', not '{task}'; use hno experiment {study.task}")
    return study


RESULT_FILE = "result.json"
RECONSTRUCTIONS_FILE = "reconstructions.pt"


def study_images(study: ImageStudyConfig) -> tuple[list[GrayImage], list[GrayImage]]:
    """The training and test images of ``study``; raises when a picture is in both."""
    train = load_images(study.images.train, study.images.downscale)
    test = load_images(study.images.test, study.images.downscale)
    check_disjoint(train, test)
    return train, test


def mask_seed(study: ImageStudyConfig, name: str) -> int:
    """The seed of a test image's inpainting mask: depends on its name and ``evaluation.seed`` only."""
    return study.evaluation.seed * 1_000_003 + zlib.crc32(name.encode())
