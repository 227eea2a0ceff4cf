"""The unrolled network: T layers of a step, combined by one integrator.

Layer ``t`` evaluates ``f_t = f(x_t | Θ_t)`` (or the map ``G(x_t | Θ_t)``), stores it with ``x_t`` in the
:class:`History` and asks the integrator for ``x_{t+1}``. With ``euler`` (h = 1) this is the plain DUN
``x_{t+1} = G(x_t | Θ_t)``; with ``2no`` it is seed eq. 11. ``x_0 = 0``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.modules.module as _module_internals
from torch import Tensor, nn

from .config import ComponentSpec
from .integrator import History, Integrator, build_integrator
from .problems.base import Problem
from .registry import Registry
from .step import ForwardContext, UnfoldingStep


@dataclass
class UnrollResult:
    """``estimate`` ``(batch, *signal_shape)`` = x_T; ``trajectory`` ``(batch, T + 1, *signal_shape)`` = x_0..x_T when kept;
    ``aux_loss``: sum of the steps' auxiliary losses (0 when none)."""

    estimate: Tensor
    trajectory: Tensor | None
    aux_loss: Tensor


class UnrolledNetwork(nn.Module):
    """``forward(y) -> x_T``; :meth:`unroll` also returns the trajectory x_0..x_T.

    ``problem`` holds Φ (and D); ``layers[t]`` is the step of layer t; ``integrator`` the scheme.
    """

    def __init__(self, problem: Problem, layers: Sequence[UnfoldingStep], integrator: Integrator) -> None:
        super().__init__()
        if len(layers) < 1:
            raise ValueError("an unrolled network needs at least one layer")
        self.problem = problem
        self.layers = nn.ModuleList(layers)
        self.integrator = integrator
        self._compile_options: dict[str, Any] | None = None  # enable_compile(): torch.compile options
        self._compiled: Any = None  # the compiled layer loop, built on first use

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def with_integrator(
        self, integrator: str | ComponentSpec | Mapping[str, Any], *, registry: Registry | None = None, **options: Any
    ) -> UnrolledNetwork:
        """The same problem and layers joined by another integrator, as a diffusers pipeline swaps its scheduler.

        ``integrator`` is a registry name (``"2no"``) or a spec ``{"name": ..., "options": {...}}``;
        keyword ``options`` are added to (and override) the spec's options, e.g.
        ``net.with_integrator("2no", alpha_init=1.0, beta_init=0.0)``. The new integrator starts from
        its own initial coefficients, on the device and in the dtype of the problem.

        The problem and the step layers are **shared**, not copied: training either network changes
        both. ``copy.deepcopy(net).with_integrator(...)`` gives an independent one. ``self`` is unchanged.
        """
        new = build_integrator(_merged_spec(integrator, options), self.num_layers, registry)
        new = new.to(device=self.problem.device, dtype=self.problem.dtype)
        return UnrolledNetwork(self.problem, [cast(UnfoldingStep, layer) for layer in self.layers], new)

    def check_measurements(self, y: Tensor) -> None:
        """Raise ``ValueError`` unless ``y`` is a batch of measurements ``(batch, *measurement_shape)`` of this
        problem: a single measurement must be given as ``y.unsqueeze(0)`` (no silent broadcasting)."""
        shape = self.problem.measurement_shape
        if self.problem.has_matrix:
            m = self.problem.m
            if y.ndim != 2:
                hint = f"; for one measurement vector use y.unsqueeze(0) -> (1, {m})" if y.ndim == 1 else ""
                raise ValueError(f"y must be a batch of measurements (batch, m) = (batch, {m}), got shape {tuple(y.shape)}{hint}")
            if y.shape[1] != m:
                raise ValueError(f"y has {y.shape[1]} measurements per sample, but this problem has m = {m} "
                                 f"(Φ is {m}×{self.problem.n}); y must be (batch, {m})")
            return
        if tuple(y.shape[1:]) != shape:
            hint = f"; for one measurement use y.unsqueeze(0) -> (1, {', '.join(map(str, shape))})" \
                if tuple(y.shape) == shape else ""
            raise ValueError(f"y must be a batch of measurements (batch, {', '.join(map(str, shape))}) of problem "
                             f"kind '{self.problem.kind}', got shape {tuple(y.shape)}{hint}")
        if y.is_complex():
            raise ValueError(f"y is complex ({y.dtype}); problem kind '{self.problem.kind}' takes real measurements "
                             "(complex data as a trailing dimension of 2: torch.view_as_real)")

    def check_operator(self, problem: Problem) -> None:
        """Raise ``ValueError`` unless ``problem`` can stand in for the network's own operator at call time: the same
        signal and measurement shapes and dtype, and no layer that reads the network's matrix Φ."""
        own = self.problem
        if (problem.signal_shape, problem.measurement_shape) != (own.signal_shape, own.measurement_shape):
            raise ValueError(
                f"problem kind '{problem.kind}' maps signals {problem.signal_shape} to {problem.measurement_shape}, but "
                f"this network was built for {own.signal_shape} -> {own.measurement_shape}; a call-time operator "
                "must have the same shapes")
        if problem.dtype != own.dtype:
            raise ValueError(f"the call-time problem is {problem.dtype} but the network {own.dtype}; "
                             f"convert it with problem.to({own.dtype})")
        step = cast(UnfoldingStep, self.layers[0])
        if "matrix" in type(step).requires:
            raise ValueError(f"step '{step.name}' reads the network's own matrix Φ, so it cannot run on another "
                             "operator; call-time operators need a step that works through the operator "
                             "(e.g. ista, learned-pg, hqs-cnn)")

    def unroll(
        self, y: Tensor, *, keep_trajectory: bool = False, depth: int | None = None, x0: Tensor | None = None,
        problem: Problem | None = None,
    ) -> UnrollResult:
        """Run the first ``depth`` layers (all by default) on ``y`` ``(batch, *measurement_shape)`` (NaN: unobserved,
        see :meth:`Problem.split_measurements <hno_framework.problems.base.Problem.split_measurements>`), from
        ``x0`` ``(batch, *signal_shape)`` (default 0). A step whose state holds several variables starts from its
        ``initial_state(x0)``; the estimate and the trajectory are read from the states with its ``estimate``."""
        depth = self.num_layers if depth is None else depth
        if not 1 <= depth <= self.num_layers:
            raise ValueError(f"depth must be in [1, {self.num_layers}], got {depth}")
        self.check_measurements(y)
        state_shape = (y.shape[0], *self.problem.signal_shape)
        if x0 is not None and tuple(x0.shape) != state_shape:
            raise ValueError(f"x0 must have shape (batch, *signal_shape) = {state_shape}, got {tuple(x0.shape)}")
        if problem is not None:
            self.check_operator(problem)
        values, mask = (problem or self.problem).split_measurements(y)  # per-sample masks ride in y as NaN
        x = y.new_zeros(state_shape) if x0 is None else x0
        if self._compile_options is None:
            return self._run_layers(values, mask, problem, x, depth, keep_trajectory, direct_calls=True)
        return self._run_compiled(values, mask, problem, x, depth, keep_trajectory)

    def _run_layers(self, values: Tensor, mask: Tensor | None, problem: Problem | None, x0: Tensor, depth: int,
                    keep_trajectory: bool, direct_calls: bool = False) -> UnrollResult:
        """The layer loop of :meth:`unroll` on checked inputs (what :meth:`enable_compile` compiles). With
        ``direct_calls`` (eager only), a layer without hooks runs its ``forward`` without ``nn.Module.__call__``."""
        ctx = ForwardContext(y=values, mask=mask, problem=problem)
        layers = cast(list[UnfoldingStep], list(self.layers)[:depth])
        calls: list[Callable[..., Tensor]] = _layer_calls(layers) if direct_calls else [*layers]
        first = layers[0]  # a state of several variables: the step's own layout
        x = first.initial_state(x0)
        history = History(self.integrator.metadata.past_states)
        advance = self.integrator.advance
        states = [first.estimate(x)] if keep_trajectory else []
        for t, (layer, call) in enumerate(zip(layers, calls, strict=True)):

            def field(z: Tensor, _layer: UnfoldingStep = layer) -> Tensor:
                return _layer.f(z, ctx)

            if type(layer).f is UnfoldingStep.f:  # f = G − x: keep G(x_t) itself, f follows only when a scheme asks
                history.push_map(x, call(x, ctx))
            else:
                history.push(x, field(x))
            x = advance(t, history, field)
            if keep_trajectory:
                states.append(first.estimate(x))
        aux = torch.stack(ctx.aux_losses).sum() if ctx.aux_losses else values.new_zeros(())
        trajectory = torch.stack(states, dim=1) if keep_trajectory else None
        return UnrollResult(first.estimate(x), trajectory, aux)

    # -- torch.compile ----------------------------------------------------------------------------
    def enable_compile(self, **options: Any) -> UnrolledNetwork:
        """Run the layer loop of :meth:`unroll` (and so :meth:`forward`, training and evaluation) through
        ``torch.compile(**options)``; the input checks stay eager. Compilation happens on first use, once per new
        shape, depth or trajectory setting. Where compiling or running the compiled loop fails, the network warns
        once with the reason and runs eagerly from then on (an error the eager loop raises as well is raised). The
        backward graph is compiled on the first backward pass, outside the network: the trainer falls back there too
        (:meth:`fall_back_to_eager`); a training loop of your own gets the compiler's error from ``backward()``.
        Parameters and the ``state_dict`` are the same as without compiling. Returns ``self``."""
        self._compile_options = dict(options)
        self._compiled = None
        return self

    def disable_compile(self) -> UnrolledNetwork:
        """Undo :meth:`enable_compile`. Returns ``self``."""
        self._compile_options = None
        self._compiled = None
        return self

    @property
    def compile_options(self) -> dict[str, Any] | None:
        """The ``torch.compile`` options of :meth:`enable_compile` (a copy), or None when the network runs eagerly."""
        return None if self._compile_options is None else dict(self._compile_options)

    @property
    def compiled(self) -> bool:
        """Whether the layer loop runs through ``torch.compile`` (:meth:`enable_compile`, not fallen back)."""
        return self._compile_options is not None

    def _run_compiled(self, *args: Any) -> UnrollResult:
        if self._compiled is None:
            self._compiled = torch.compile(_private_method(self, "_run_layers"), **(self._compile_options or {}))
        try:
            with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
                return cast(UnrollResult, self._compiled(*args))
        except Exception as error:  # noqa: BLE001 - any compiler failure falls back; a real error recurs eagerly
            result = self._run_layers(*args)
            self.fall_back_to_eager(error, stacklevel=4)
            return result

    def fall_back_to_eager(self, error: BaseException, *, stacklevel: int = 2) -> None:
        """Warn once that ``torch.compile`` failed with ``error`` and run eagerly from now on (:meth:`disable_compile`).
        The network calls it when compiling or running the forward loop fails and the eager loop succeeds; the
        trainer, when the backward pass of a compiled loop fails (its graph is compiled on the first backward) and
        the same step then succeeds eagerly."""
        import warnings

        lines = [line.strip() for line in str(error).splitlines() if line.strip()][:2]  # dynamo: what raised, why
        reason = f"{type(error).__name__}: {' '.join(lines)}"
        warnings.warn(f"torch.compile failed for this network ({reason[:300]}); it runs eagerly instead",
                      RuntimeWarning, stacklevel=stacklevel)
        self.disable_compile()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a compiled function does not copy or pickle: compile again on use
        state["_compiled"] = None
        return state

    def forward(self, y: Tensor, problem: Problem | None = None) -> Tensor:
        """The estimate ``x_T`` ``(batch, *signal_shape)`` for measurements ``y`` ``(batch, *measurement_shape)``, on
        the network's own operator or on ``problem`` (:meth:`unroll`)."""
        return self.unroll(y, problem=problem).estimate

    def trajectory(self, y: Tensor, problem: Problem | None = None) -> Tensor:
        """All states ``x_0..x_T`` as ``(batch, T + 1, *signal_shape)``."""
        result = self.unroll(y, keep_trajectory=True, problem=problem)
        assert result.trajectory is not None
        return result.trajectory


RECOMPILE_LIMIT = 64
"""Graphs one compiled network may build (one per batch-shape family, depth and trajectory setting; a stage-wise
run needs two per stage) before torch.compile runs it eagerly; torch's default of 8 is shared by every network."""


def _layer_calls(layers: Sequence[nn.Module]) -> list[Callable[..., Any]]:
    """What ``layer(...)`` would run, per layer: ``layer.forward`` itself where ``nn.Module.__call__`` would only pass
    the call on (no forward or backward hooks on the layer or registered globally, no ``module.compile()``, no
    ``torch.jit`` tracing), else the layer. That saves a few µs per layer of a network's forward pass; hooks keep
    working, since a layer with any hook is called as usual. Where torch's hook tables are not where this expects
    them, every layer is called as usual."""
    try:
        hooked = torch._C._get_tracing_state() is not None or any(
            len(getattr(_module_internals, name)) for name in _GLOBAL_HOOKS)
        if hooked:
            return list(layers)
        return [layer if layer._compiled_call_impl is not None or layer._forward_hooks or layer._forward_pre_hooks
                or layer._backward_hooks or layer._backward_pre_hooks else layer.forward for layer in layers]
    except (AttributeError, TypeError):  # another torch's internals: the documented call
        return list(layers)


_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _private_method(obj: object, name: str) -> Callable[..., Any]:
    """``obj.name`` bound to a private copy of its code object. torch.compile keeps its compiled graphs and its
    recompile limit per code object, so without a copy every network in a process would share one limit."""
    function = getattr(type(obj), name)
    private = types.FunctionType(function.__code__.replace(), function.__globals__, function.__name__,
                                 function.__defaults__, function.__closure__)
    return types.MethodType(private, obj)


def _merged_spec(integrator: str | ComponentSpec | Mapping[str, Any], options: Mapping[str, Any]) -> ComponentSpec:
    """``integrator`` as a :class:`ComponentSpec` with ``options`` merged over its own options."""
    spec = ComponentSpec.model_validate(integrator)
    return spec.model_copy(update={"options": {**spec.options, **options}}) if options else spec


def count_learnable(module: nn.Module) -> int:
    """Number of distinct learnable scalars (tied parameters counted once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
