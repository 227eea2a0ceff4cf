"""Which layer owns which learnable parameter, and the stage-wise learning-rate multipliers.

Used by the stage-wise protocol (:mod:`.stagewise`). A parameter of ``network.layers[t]`` belongs
to layer t. A learnable integrator coefficient belongs to the layers whose update uses it: found
by probing ``integrator.advance(t, …)`` for every t with random states and reading which entries
get a gradient, so per-layer coefficients (2NO's α_t, β_t; ``lm``'s ξ_t, γ_t, h_t) are told apart
entry by entry without knowing the scheme. A parameter used by several layers (a tied W, shared
``lm`` coefficients) belongs, with ``tied_parameters: newest-layer`` (default), to the newest layer
using it; with ``first-layer`` to the first one (as in the LISTA-CPSS code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..config import StagewiseConfig
from ..integrator import History, Integrator
from ..network import UnrolledNetwork


@dataclass
class ParameterUse:
    """Layers using a learnable parameter: ``uses`` is bool ``(T,)`` (whole tensor) or ``(T, numel)`` (per entry)."""

    name: str
    param: nn.Parameter
    uses: Tensor

    @property
    def per_entry(self) -> bool:
        return self.uses.ndim == 2


def integrator_usage(integrator: Integrator, num_layers: int, *, width: int = 3, batch: int = 2) -> dict[str, Tensor]:
    """For each learnable parameter of ``integrator``: bool ``(T, numel)``, entry e used by layer t.

    Layer t is probed as the network calls it (a :class:`History` holding min(t + 1, r) states)
    with random states and a random nonlinear field; an entry is used when ``advance(t, …)``
    depends on it (non-zero gradient of a random projection of the output).
    """
    params = {name: p for name, p in integrator.named_parameters() if p.requires_grad}
    if not params:
        return {}
    first = next(iter(params.values()))
    dtype, device = first.dtype, first.device
    g = torch.Generator().manual_seed(12345)

    def rand(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(device, dtype)

    a = rand(width, width) / math.sqrt(width)
    bias = rand(width)

    def field(z: Tensor) -> Tensor:
        return torch.tanh(z @ a + bias) - 0.5 * z

    usage = {name: torch.zeros(num_layers, p.numel(), dtype=torch.bool) for name, p in params.items()}
    history = History(integrator.metadata.past_states)
    names, tensors = list(params), list(params.values())
    for t in range(num_layers):
        x = rand(batch, width)
        history.push(x, field(x))
        out = integrator.advance(t, history, field)
        if not out.requires_grad:
            continue
        grads = torch.autograd.grad((out * rand(*out.shape)).sum(), tensors, allow_unused=True)
        for name, grad in zip(names, grads, strict=True):
            if grad is not None:
                usage[name][t] = grad.detach().reshape(-1).cpu() != 0
    for used in usage.values():  # an entry no layer seems to use: let every layer own it
        never = ~used.any(dim=0)
        used[:, never] = True
    return usage


def parameter_usage(net: UnrolledNetwork) -> list[ParameterUse]:
    """Every learnable parameter of ``net`` with the layers using it (tied parameters: several)."""
    T = net.num_layers
    whole: dict[int, Tensor] = {}
    names: dict[int, str] = {}
    for name, p in net.named_parameters():  # deduplicated: a tied W appears once
        names[id(p)] = name
    for t, layer in enumerate(net.layers):
        for p in layer.parameters():
            whole.setdefault(id(p), torch.zeros(T, dtype=torch.bool))[t] = True
    per_entry = integrator_usage(net.integrator, T)
    integ = {id(p): per_entry[n] for n, p in net.integrator.named_parameters() if n in per_entry}
    out = []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        # a step parameter, or one outside layers and integrator (then: used by every layer)
        uses = integ[id(p)] if id(p) in integ else whole.get(id(p), torch.ones(T, dtype=torch.bool))
        out.append(ParameterUse(name, p, uses))
    return out


def lr_multiplier(use: ParameterUse, stage: int, phase: int, cfg: StagewiseConfig) -> Tensor | None:
    """Learning-rate multipliers of ``use.param`` in (stage, phase): per entry (a tensor of the
    parameter's shape) or for the whole tensor (a 0-d tensor); None when it does not train then."""
    uses = use.uses if use.per_entry else use.uses.unsqueeze(1)  # (T, E)
    T, E = uses.shape
    idx = torch.arange(T).unsqueeze(1).expand(T, E)
    upto = uses[: stage + 1]
    present = upto.any(dim=0)
    if not bool(present.any()):
        return None
    first = torch.where(uses, idx, T).min(dim=0).values
    newest = torch.where(upto, idx[: stage + 1], -1).max(dim=0).values
    owner = newest if cfg.tied_parameters == "newest-layer" else first
    if phase == 0:
        mult = ((owner == stage) & present).to(torch.float64)
    else:
        mult = torch.where(present, cfg.layer_decay ** (stage - owner).clamp(min=0).double(), torch.zeros(()).double())
    if not bool((mult > 0).any()):
        return None
    mult = mult.to(use.param.dtype)
    return mult.reshape(use.param.shape) if use.per_entry else mult.reshape(())


