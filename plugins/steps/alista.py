"""ALISTA, analytic LISTA (Liu, Chen, Wang & Yin 2019): ``G_t(x) = η_θt(x + γ_t W̃ᵀ(y − Φx))``.

The weight ``W̃`` ``(m, n)`` is not learned but computed from Φ alone, as the solution of the
coherence-minimisation problem

    min_W ‖WᵀΦ‖_F²   subject to   diag(WᵀΦ) = 1,

i.e. each column ``w_i`` makes ``w_iᵀφ_i = 1`` while keeping ``w_iᵀφ_j`` (j ≠ i) small. The
problem splits into one strictly convex quadratic per column, ``min w_iᵀ(ΦΦᵀ)w_i`` s.t.
``w_iᵀφ_i = 1``. Two solvers (option ``solver``):

* ``projected-gradient`` (as in the ALISTA paper): accelerated projected gradient (FISTA with
  adaptive restart), gradient ``2ΦΦᵀW``, step ``1/‖ΦΦᵀ‖₂``, projection
  ``w_i ← w_i + (1 − w_iᵀφ_i) φ_i / ‖φ_i‖²`` onto the constraint, started from Φ with rescaled
  columns. Its rate is set by the conditioning of ΦΦᵀ: about 100 s for 250 × 500 on 2 CPU cores.
* ``closed-form`` (default): the same minimiser from the optimality conditions,
  ``w_i = G⁺φ_i / (φ_iᵀG⁺φ_i)`` with ``G = ΦΦᵀ`` (``G⁺`` the pseudo-inverse: the minimum-norm
  minimiser when G is singular); milliseconds, and agreeing with projected gradient to its tolerance.

The solve runs once per distinct Φ in float64 on the CPU (deterministic) and is cached by the
content of Φ and the solver settings, so the T layers of a network (and later networks on the
same Φ) share one solve; each layer keeps a copy as a buffer (saved in checkpoints). Φ must
have no zero column (the constraint is infeasible there, e.g. unobserved pixels of inpainting).

Learnable per layer: the step ``γ_t`` (init ``gamma_init``, 1 by default as in ALISTA: the
constraint gives ``W̃ᵀΦ`` a unit diagonal) and the threshold ``θ_t`` (init ``λ/L``). Support
selection (schedule and percentile rule as ``lista-cpss``) is on by default, as ALISTA is
published (Liu et al. 2019 use the support-selecting threshold in every experiment);
``support_selection: false`` gives the plain soft threshold (the "ALISTA without SS" variant).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from hno_framework import ForwardContext, LayerInfo, Options, Problem, UnfoldingStep
from hno_framework.errors import ProblemMismatchError

from ._lista import lista_threshold
from ._shrinkage import support_percent, support_selection_shrink


class ALISTAOptions(Options):
    gamma_init: float = Field(1.0, gt=0.0, description="initial step γ_t (ALISTA: 1, since diag(W̃ᵀΦ) = 1)")
    threshold_scale: float = Field(1.0, gt=0.0, description="θ_t init = threshold_scale · λ/L")
    support_selection: bool = Field(True, description="support selection as published (schedule of lista-cpss); false: plain soft threshold")
    ss_percent_per_layer: float = Field(1.2, ge=0.0, le=100.0, description="support-selection percent added per layer")
    ss_max_percent: float = Field(13.0, ge=0.0, le=100.0, description="cap of the support-selection percent")
    solver: Literal["closed-form", "projected-gradient"] = Field(
        "closed-form", description="how W̃ is computed (same minimiser; projected gradient is slow for large Φ)"
    )
    solver_iterations: int = Field(3000, ge=1, description="maximum projected-gradient iterations for W̃")
    solver_tolerance: float = Field(1e-10, gt=0.0, description="stop when ‖W_{k+1} − W_k‖_F ≤ tol · ‖W_{k+1}‖_F")


def _project(w: Tensor, phi: Tensor, col_sq: Tensor) -> Tensor:
    """Project each column of ``w`` onto ``{w_i : w_iᵀφ_i = 1}``."""
    return w + phi * ((1.0 - (w * phi).sum(dim=0)) / col_sq)


def _checked(phi: Tensor) -> tuple[Tensor, Tensor]:
    phi = phi.detach().to("cpu", torch.float64)
    col_sq = phi.pow(2).sum(dim=0)
    if bool((col_sq <= 0).any()):
        raise ProblemMismatchError("alista: Φ has a zero column, so diag(W̃ᵀΦ) = 1 is infeasible")
    return phi, col_sq


def closed_form_analytic_weight(phi: Tensor) -> Tensor:
    """``argmin ‖WᵀΦ‖_F² s.t. diag(WᵀΦ) = 1`` as ``w_i = G⁺φ_i / (φ_iᵀG⁺φ_i)``, ``G = ΦΦᵀ``; float64 ``(m, n)``."""
    phi, _ = _checked(phi)
    eigenvalues, vectors = torch.linalg.eigh(phi @ phi.T)  # G = Q Λ Qᵀ
    cutoff = eigenvalues[-1] * eigenvalues.shape[0] * torch.finfo(torch.float64).eps
    inverse = torch.where(eigenvalues > cutoff, 1.0 / eigenvalues, torch.zeros_like(eigenvalues))
    direction = vectors @ (inverse[:, None] * (vectors.T @ phi))  # (m, n): column i is G⁺φ_i
    return direction / (direction * phi).sum(dim=0)


def solve_analytic_weight(phi: Tensor, iterations: int = 3000, tolerance: float = 1e-10) -> Tensor:
    """``argmin ‖WᵀΦ‖_F² s.t. diag(WᵀΦ) = 1`` by accelerated projected gradient; float64 ``(m, n)``."""
    phi, col_sq = _checked(phi)
    gram = phi @ phi.T  # (m, m)
    step = 1.0 / float(torch.linalg.eigvalsh(gram)[-1])

    def objective(w: Tensor) -> float:
        return float((w * (gram @ w)).sum())

    w = _project(phi.clone(), phi, col_sq)
    z, t, f_w = w, 1.0, objective(w)
    for _ in range(iterations):
        w_next = _project(z - step * (gram @ z), phi, col_sq)
        f_next = objective(w_next)
        if f_next > f_w:  # adaptive restart: drop the momentum
            z, t = w, 1.0
            continue
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        z = w_next + ((t - 1.0) / t_next) * (w_next - w)
        change = float((w_next - w).norm())
        w, t, f_w = w_next, t_next, f_next
        if change <= tolerance * float(w.norm()):
            break
    return w


@dataclass
class AnalyticWeightCache:
    """Solved ``W̃`` keyed by the bytes of Φ (float64) and the solver settings; least recently used out."""

    capacity: int = 8
    solves: int = 0

    def __post_init__(self) -> None:
        self._store: OrderedDict[tuple, Tensor] = OrderedDict()

    def get(self, phi: Tensor, solver: str = "closed-form", iterations: int = 3000, tolerance: float = 1e-10) -> Tensor:
        """The analytic weight of ``phi`` (float64, CPU; do not modify it in place)."""
        phi64 = phi.detach().to("cpu", torch.float64).contiguous()
        digest = hashlib.sha256(phi64.numpy().tobytes()).hexdigest()
        key = (digest, tuple(phi64.shape), solver) + ((iterations, tolerance) if solver == "projected-gradient" else ())
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key]
        if solver == "closed-form":
            weight = closed_form_analytic_weight(phi64)
        else:
            weight = solve_analytic_weight(phi64, iterations, tolerance)
        self.solves += 1
        self._store[key] = weight
        while len(self._store) > self.capacity:
            self._store.popitem(last=False)
        return weight

    def clear(self) -> None:
        self._store.clear()


ANALYTIC_WEIGHTS = AnalyticWeightCache()


class ALISTAStep(UnfoldingStep):
    """ALISTA layer η_θt(x + γ_t W̃ᵀ(y − Φx)) with W̃ analytic from Φ (coherence minimisation); learns γ_t, θ_t."""

    name = "alista"
    requires = frozenset({"matrix"})
    Options = ALISTAOptions

    def __init__(self, problem: Problem, options: ALISTAOptions, layer: LayerInfo) -> None:
        super().__init__(problem, options, layer)
        try:
            weight = ANALYTIC_WEIGHTS.get(
                problem.phi, options.solver, options.solver_iterations, options.solver_tolerance
            )
        except ProblemMismatchError:
            raise ProblemMismatchError(
                f"step 'alista' needs every coordinate measured (Φ without zero columns), but problem kind "
                f"'{problem.kind}' has zero columns (e.g. unobserved pixels); use lista or lista-cs on it"
            ) from None
        self.register_buffer("W_analytic", weight.to(problem.phi.dtype).clone())  # (m, n)
        dtype = problem.phi.dtype
        self.gamma = nn.Parameter(torch.tensor(float(options.gamma_init), dtype=dtype))
        self.theta = lista_threshold(problem, options.threshold_scale)  # λ/L · scale
        self.percent = (
            support_percent(layer.index, options.ss_percent_per_layer, options.ss_max_percent)
            if options.support_selection else 0.0
        )

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        residual = ctx.y - self.problem.measure(x)  # (batch, m)
        return support_selection_shrink(x + self.gamma * (residual @ self.W_analytic), self.theta, self.percent)
