"""The :class:`UnfoldingStep` interface: one layer ``G(x | y, Θ_t)`` of a deep unfolding network.

A DUN iterates ``x_{t+1} = G(x_t | y, Θ_t)`` (seed eq. 7). Read as an ODE, that is one
forward-Euler step of ``dx/dt = f(x) = G(x) − x`` (seed eq. 8); an
:class:`~hno_framework.integrator.Integrator` decides how the ``f`` evaluations are combined.

A step knows nothing about integrators. It is built once per layer ``t`` from the problem
(Φ, optional basis D, λ, L = ‖Φ‖₂²) and its options. Parameters listed in ``tieable`` are
shared across layers when the network is *tied* (one ``W``) and are per layer when *untied*
(``W_t``); every other parameter is per layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor, nn

from .errors import ProblemMismatchError
from .options import Component, ComponentOptions
from .problems.base import Problem


@dataclass
class ForwardContext:
    """What one forward pass shares between its layers.

    * ``y`` ``(batch, m)``: the measurements (0 where a per-sample mask hides an entry);
    * ``mask`` ``(batch, m)`` or None: the per-sample 0/1 mask μ_i of a problem with
      ``per_sample_mask`` (sample i is measured by ``diag(μ_i) Φ``); steps pass it on as
      ``problem.measure(x, ctx.mask)`` / ``problem.adjoint(r, ctx.mask)``;
    * ``state``: per-pass memory for steps that need it (e.g. LAMP's residual), keyed by the step;
    * ``aux_losses``: extra training losses steps add (e.g. ISTA-Net's symmetry loss);
    * ``problem``: the operator of this pass when the network is called with another one than it was built on
      (``net(y, problem=other)``, e.g. another blur kernel or mask); None: the network's own. Steps that work
      through the operator read it with :meth:`UnfoldingStep.operator`.
    """

    y: Tensor
    mask: Tensor | None = None
    state: dict[str, Any] = field(default_factory=dict)
    aux_losses: list[Tensor] = field(default_factory=list)
    problem: Problem | None = None


@dataclass
class LayerInfo:
    """Where a step sits: layer ``index`` of ``count``; ``shared`` holds tied parameters (None: untied)."""

    index: int
    count: int
    shared: dict[str, nn.Parameter] | None = None

    @property
    def tied(self) -> bool:
        return self.shared is not None


class UnfoldingStep(Component, nn.Module):
    """One DUN layer ``G(x | y, Θ_t)``; subclasses implement :meth:`forward`.

    Class attributes a subclass sets:
      * ``name``: registry name, lower case with dashes (``"lista"``);
      * ``Options``: a pydantic :class:`~hno_framework.options.ComponentOptions` model;
      * ``tieable``: names of parameters that tying shares across layers;
      * ``requires``: what the problem must provide: ``"matrix"`` (a dense Φ: the step reads ``problem.phi``),
        ``"basis"`` (D), ``"patch"`` (image patches), ``"image"`` (signals ``(batch, C, H, W)``); a step
        without ``"matrix"`` works through ``problem.measure`` / ``problem.adjoint`` on any operator;
      * ``supports_mask``: True when :meth:`forward` applies ``ctx.mask`` (per-sample operators);
      * ``behaviour``: declarations that relax named behavioural checks of the consistency suite, e.g.
        ``frozenset({"stochastic"})`` (the known ones: :data:`hno_framework.behaviour.BEHAVIOURS`).

    Shapes: ``x`` ``(batch, *signal_shape)``, ``ctx.y`` ``(batch, *measurement_shape)``; :meth:`forward` returns
    the shape of ``x`` (``(batch, n)`` on a matrix problem).
    """

    tieable: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[frozenset[str]] = frozenset()
    supports_mask: ClassVar[bool] = False
    behaviour: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, problem: Problem, options: ComponentOptions, layer: LayerInfo) -> None:
        super().__init__()
        self.check_problem(problem)
        # The network owns the problem (one copy of Φ in the state_dict); layers keep a plain
        # reference, so ``network.to(...)`` converts Φ once and every layer sees it.
        object.__setattr__(self, "problem", problem)
        self.options = options
        self.layer = layer

    @classmethod
    def check_problem(cls, problem: Problem) -> None:
        """Raise :class:`ProblemMismatchError` when ``problem`` lacks what this step needs."""
        if "matrix" in cls.requires and not problem.has_matrix:
            raise ProblemMismatchError(
                f"step '{cls.name}' needs a matrix Φ, but problem kind '{problem.kind}' is matrix-free; "
                "use a step that works through the operator (e.g. ista, learned-pg) or a matrix problem kind"
            )
        if "image" in cls.requires and len(problem.signal_shape) != 3:
            raise ProblemMismatchError(
                f"step '{cls.name}' works on whole images (batch, C, H, W), but problem kind '{problem.kind}' has "
                f"signals of shape {problem.signal_shape}; use an image problem kind (e.g. blur, image-inpainting)"
            )
        if "basis" in cls.requires and problem.basis is None:
            raise ProblemMismatchError(
                f"step '{cls.name}' needs a basis D, but problem kind '{problem.kind}' has none; "
                "use a problem kind with a basis (e.g. kind: cs)"
            )
        if "patch" in cls.requires and problem.patch_shape is None:
            raise ProblemMismatchError(
                f"step '{cls.name}' works on image patches, but problem kind '{problem.kind}' is not an image problem"
            )
        if problem.per_sample_mask and not cls.supports_mask:
            raise ProblemMismatchError(
                f"step '{cls.name}' does not apply per-sample masks, but problem kind '{problem.kind}' draws one per "
                "sample; use problem.mask: fixed, or a step that does (ista, lista, glista, lista-cs, ista-net)"
            )

    def operator(self, ctx: ForwardContext) -> Problem:
        """The operator ``A`` of this forward pass: the one the network was called with (``ctx.problem``), else the
        problem the network was built on. A step that works through ``measure`` / ``adjoint`` uses it, so a trained
        network runs on another operator of the same shapes (``net(y, problem=other)``)."""
        own: Problem = self.problem  # type: ignore[assignment]  # a plain attribute (object.__setattr__)
        return ctx.problem if ctx.problem is not None else own

    def tieable_parameter(self, name: str, init: Callable[[], Tensor]) -> nn.Parameter:
        """Register parameter ``name``: shared by all layers when tied, this layer's own when untied.

        ``init`` is called once per distinct parameter (so only once when tied).
        """
        if name not in self.tieable:
            raise TypeError(f"{type(self).__name__}: '{name}' is not declared in tieable={self.tieable}")
        shared = self.layer.shared
        if shared is None:
            param = nn.Parameter(init())
        else:
            if name not in shared:
                shared[name] = nn.Parameter(init())
            param = shared[name]
        self.register_parameter(name, param)
        return param

    def forward(self, x: Tensor, ctx: ForwardContext) -> Tensor:  # pragma: no cover - abstract
        """``G(x | y, Θ_t)``: ``(batch, *signal_shape) -> (batch, *signal_shape)`` (a state of several variables:
        see :meth:`initial_state`)."""
        raise NotImplementedError

    def initial_state(self, x0: Tensor) -> Tensor:
        """The state the network starts from, built from the initial estimate ``x0`` ``(batch, *signal_shape)``.

        Optional to override; the default is ``x0`` itself (the state is the estimate). A step whose state has
        several variables (a splitting method's ``(x, z)``) stacks them along a new dimension after the batch,
        ``(batch, k, *signal_shape)``; :meth:`forward` then maps a state to a state of the same shape, every
        integrator combines whole states entry-wise, and :meth:`estimate` reads the estimate back.
        """
        return x0

    def estimate(self, state: Tensor) -> Tensor:
        """The estimate ``(batch, *signal_shape)`` a state holds (what the network returns and the trajectory
        records). Optional to override; the default is the state itself."""
        return state

    def inspect_parameters(self) -> dict[str, Tensor]:
        """This layer's parameters as scalars, for ``hno inspect`` (e.g. ``theta`` θ_t, ``gamma`` γ_t).

        Optional to override. The default: every parameter (learnable or not) and scalar buffer; a scalar
        as it is, a larger tensor ``W`` as its Frobenius norm under ``‖W‖`` (tied ones are the same in every layer).
        """
        out: dict[str, Tensor] = {}
        named = [*self.named_parameters(), *((n, b) for n, b in self.named_buffers() if b.numel() == 1)]
        for name, value in named:
            value = value.detach()
            out[name if value.numel() == 1 else f"‖{name}‖"] = value.reshape(()) if value.numel() == 1 else value.norm()
        return out

    def f(self, x: Tensor, ctx: ForwardContext) -> Tensor:
        """The ODE right-hand side ``f(x | Θ_t) = G(x | Θ_t) − x`` (seed eq. 8)."""
        return self(x, ctx) - x
