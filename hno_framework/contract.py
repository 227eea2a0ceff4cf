"""The per-layer contract of steps and integrators, checked on a live network.

Inside :func:`guarded`, the network runs its own loop (:meth:`UnrolledNetwork.unroll`), but

* every step call ``G_t(x)`` must return a tensor of the shape ``(batch, n)``, dtype and device
  of its input ``x`` and (with ``mutation``) leave ``x`` and the measurements ``ctx.y`` unchanged;
* every integrator call ``advance(t, history, field)`` must return ``x_{t+1}`` with the shape,
  dtype and device of ``x_t = history.x(0)`` and (with ``mutation``) leave every stored
  ``history.x(i)``, ``history.f(i)`` unchanged.

In-place changes are seen directly: by the tensor's version counter (bumped by every in-place
op) and by comparing with a copy taken before the call (which also catches writes through
``.data``). A violation, or any exception a component raises, becomes a
:class:`ContractViolation` naming the component, the layer and the cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .integrator import History, VectorField
from .network import UnrolledNetwork
from .step import ForwardContext


class ContractViolation(AssertionError):
    """A step or integrator broke the layer contract; the message names it, the layer and the cause."""


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (torch errors can be pages long)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@dataclass(frozen=True)
class _Entry:
    label: str
    tensor: Tensor
    version: int
    copy: Tensor


class Snapshot:
    """Versions and copies of named tensors, to tell later which were modified in place."""

    def __init__(self, named: Iterable[tuple[str, Tensor]]) -> None:
        self._entries = [_Entry(label, t, t._version, t.detach().clone()) for label, t in named if isinstance(t, Tensor)]

    def modified(self) -> list[str]:
        """Labels of the tensors whose version counter or values changed since the snapshot."""
        return [e.label for e in self._entries if e.tensor._version != e.version or not _same(e.tensor, e.copy)]


def _same(a: Tensor, b: Tensor) -> bool:
    if a.device.type == "meta":
        return True  # no values on the meta device: the version counter decides
    a = a.detach()
    return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())


def expect_like(out: Any, ref: Tensor, what: str) -> None:
    """Raise :class:`ContractViolation` unless ``out`` is a tensor with ``ref``'s shape, dtype and device."""
    if not isinstance(out, Tensor):
        raise ContractViolation(f"{what} returned {type(out).__name__}, expected a tensor {tuple(ref.shape)}")
    if out.shape != ref.shape:
        raise ContractViolation(f"{what} returned shape {tuple(out.shape)}, expected {tuple(ref.shape)} (batch, n)")
    if out.dtype != ref.dtype:
        change = "downcast" if torch.finfo(out.dtype).bits < torch.finfo(ref.dtype).bits else "upcast"
        raise ContractViolation(
            f"{what} returned {out.dtype} for a {ref.dtype} input ({change}); keep the input's dtype: build "
            "tensors from x or the problem, and register constants as buffers so that .to() converts them"
        )
    if out.device != ref.device:
        raise ContractViolation(
            f"{what} returned a tensor on {out.device} for an input on {ref.device}; keep the input's device "
            "(no .cpu()/.cuda(); create tensors with device=x.device or register them as buffers)"
        )


def _mutation_error(who: str, labels: list[str], advice: str) -> ContractViolation:
    return ContractViolation(f"{who} modified {', '.join(labels)} in place; {advice}")


def _guard_step(layer: Any, name: str, mutation: bool) -> Any:
    original = layer.forward
    t = getattr(getattr(layer, "layer", None), "index", "?")
    who = f"step '{name}' at layer {t}"

    def forward(x: Tensor, ctx: ForwardContext, *args: Any, **kwargs: Any) -> Tensor:
        snapshot = Snapshot([("its input x", x), ("the measurements ctx.y", ctx.y)]) if mutation else None
        try:
            out = original(x, ctx, *args, **kwargs)
        except ContractViolation:
            raise
        except Exception as exc:
            raise ContractViolation(f"{who} raised {first_line(exc)}") from exc
        if snapshot is not None and (changed := snapshot.modified()):
            raise _mutation_error(who, changed, "return a new tensor (x = x + ..., not x += ... or x.add_(...))")
        expect_like(out, x, f"{who}: G(x)")
        return out

    return forward


def _guard_integrator(integrator: Any, name: str, mutation: bool) -> Any:
    original = integrator.advance

    def advance(t: int, history: History, field: VectorField) -> Tensor:
        who = f"integrator '{name}' at layer {t}"
        stored = [(f"history.x({i})", history.x(i)) for i in range(len(history))]
        stored += [(f"history.f({i})", history.f(i)) for i in range(len(history))]
        snapshot = Snapshot(stored) if mutation else None
        try:
            out = original(t, history, field)
        except ContractViolation:
            raise
        except Exception as exc:
            raise ContractViolation(f"{who} raised {first_line(exc)}") from exc
        if snapshot is not None and (changed := snapshot.modified()):
            raise _mutation_error(
                who, changed, "the history holds the network's states x_0..x_t (the trajectory and later layers "
                "read them): compute x_{t+1} as a new tensor")
        expect_like(out, history.x(0), f"{who}: x_{{t+1}}")
        return out

    return advance


@contextmanager
def guarded(net: UnrolledNetwork, *, step: str, integrator: str, mutation: bool = False) -> Iterator[UnrolledNetwork]:
    """Check the layer contract on every call while inside; ``step``/``integrator`` name the components."""
    patched: list[tuple[Any, str]] = []
    try:
        for layer in net.layers:
            object.__setattr__(layer, "forward", _guard_step(layer, step, mutation))
            patched.append((layer, "forward"))
        object.__setattr__(net.integrator, "advance", _guard_integrator(net.integrator, integrator, mutation))
        patched.append((net.integrator, "advance"))
        yield net
    finally:
        for obj, attr in patched:
            obj.__dict__.pop(attr, None)
