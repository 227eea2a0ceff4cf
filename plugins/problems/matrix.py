"""The dense-matrix problem kinds of the seed paper: ``lasso``, ``cs``, ``inpainting``, ``inpainting-dct``.

Each reads its sizes from the shared fields of the ``problem`` block (``m``, ``n``, ``sparsity``,
``condition_number``, ``patch_size``, ``missing_ratio``, ``mask``, ``patches``) and has no options of its own.
The maths lives in :mod:`hno_framework.problems.lasso`, ``.cs`` and ``.inpainting`` (library functions that
plugin authors may reuse).
"""

from __future__ import annotations

from collections.abc import Callable

from hno_framework.config import ProblemConfig
from hno_framework.errors import ConfigError
from hno_framework.problems import Problem, ProblemKind, Sampler
from hno_framework.problems.cs import BasisSparseSampler, make_cs_problem
from hno_framework.problems.inpainting import MaskedSampler, make_inpainting_problem
from hno_framework.problems.lasso import SparseSignalSampler, make_lasso_problem


def _image_or(problem: Problem, cfg: ProblemConfig, synthetic: Callable[[], Sampler]) -> Sampler:
    """Patches of photographs when ``cfg.patches`` is set, else ``synthetic()`` (with a fresh mask per sample
    when the problem has per-sample masks)."""
    if cfg.patches is not None:
        from hno_framework.problems.image_sampler import ImagePatchSampler

        return ImagePatchSampler(problem, cfg)
    sampler = synthetic()
    if not problem.per_sample_mask:
        return sampler
    return MaskedSampler(sampler, cfg.m, bernoulli=cfg.mask == "per-sample-bernoulli")


class LassoKind(ProblemKind):
    """Synthetic sparse coding: Gaussian Φ (m×n), Bernoulli-Gaussian x*, D = I."""

    name = "lasso"

    def build(self, cfg: ProblemConfig) -> Problem:
        if cfg.mask != "fixed":
            raise ConfigError("problem kind 'lasso' has no missing entries: remove problem.mask (it is for the "
                              "inpainting kinds)")
        return make_lasso_problem(cfg.m, cfg.n, cfg.lam, cfg.seed, cfg.condition_number)

    def sampler(self, problem: Problem, cfg: ProblemConfig) -> Sampler:
        return SparseSignalSampler(problem, cfg.sparsity, cfg.snr_db)


class CSKind(ProblemKind):
    """Image-patch CS: Gaussian Φ (m×p²), 2-D DCT basis D, patches sparse in D (or of photographs)."""

    name = "cs"

    def build(self, cfg: ProblemConfig) -> Problem:
        return make_cs_problem(cfg)

    def sampler(self, problem: Problem, cfg: ProblemConfig) -> Sampler:
        return _image_or(problem, cfg, lambda: BasisSparseSampler(problem, cfg.sparsity, cfg.snr_db))


class InpaintingKind(ProblemKind):
    """Image-patch inpainting: Φ = observed rows of I (seeded or per-sample mask), 2-D DCT basis D, patches sparse in D (or of photographs)."""

    name = "inpainting"

    def build(self, cfg: ProblemConfig) -> Problem:
        return make_inpainting_problem(cfg)

    def sampler(self, problem: Problem, cfg: ProblemConfig) -> Sampler:
        return _image_or(problem, cfg, lambda: BasisSparseSampler(problem, cfg.sparsity, cfg.snr_db))


class InpaintingDCTKind(ProblemKind):
    """Inpainting of 2-D DCT coefficients s: Φ = M Dᵀ (seeded or per-sample mask M), D = I for the steps; s sparse (or of photographs)."""

    name = "inpainting-dct"

    def build(self, cfg: ProblemConfig) -> Problem:
        return make_inpainting_problem(cfg, coefficients=True)

    def sampler(self, problem: Problem, cfg: ProblemConfig) -> Sampler:
        return _image_or(problem, cfg, lambda: SparseSignalSampler(problem, cfg.sparsity, cfg.snr_db))
