"""Config -> :class:`UnrolledNetwork`. Knows no concrete step or scheme: names go through the registry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from .config import ComponentSpec, ExperimentConfig, NetworkConfig
from .errors import ConfigError
from .integrator import build_integrator
from .network import UnrolledNetwork
from .options import validate_options
from .problems import build_problem
from .problems.base import Problem
from .registry import Registry, get_registry
from .step import LayerInfo

DTYPES = {"float32": torch.float32, "float64": torch.float64}

__all__ = ["DTYPES", "compose", "compose_network", "validate_options"]


def compose_network(problem: Problem, network: NetworkConfig, registry: Registry | None = None) -> UnrolledNetwork:
    """Build T layers of ``network.step`` on ``problem`` joined by ``network.integrator``."""
    registry = registry or get_registry()
    step_info = registry.step(network.step.name)
    step_options = validate_options(step_info, network.step.options)
    step_info.cls.check_problem(problem)
    shared: dict | None = {} if network.tied else None
    with _out_of_range("step", network.step):
        layers = [
            step_info.cls(problem, step_options, LayerInfo(index=t, count=network.layers, shared=shared))
            for t in range(network.layers)
        ]
    with _out_of_range("integrator", network.integrator):
        integrator = build_integrator(network.integrator, network.layers, registry)
    for kind, module, spec in (("step", nn.ModuleList(layers), network.step), ("integrator", integrator, network.integrator)):
        bad = next((name for name, p in module.named_parameters() if not bool(torch.isfinite(p).all())), None)
        if bad is not None:
            raise ConfigError(f"the {kind} '{spec.name}' starts with a parameter that is not finite ({bad}) from its "
                              f"options {spec.options}; give smaller values")
    return UnrolledNetwork(problem, layers, integrator)


@contextlib.contextmanager
def _out_of_range(kind: str, spec: ComponentSpec) -> Iterator[None]:
    """Turn the overflow of an option too large for the parameters' dtype (``alpha_init: 1e308`` in float32) into a
    :class:`ConfigError` naming the component and its options."""
    try:
        yield
    except (OverflowError, RuntimeError) as exc:
        if not isinstance(exc, OverflowError) and "overflow" not in str(exc):
            raise
        raise ConfigError(f"the options {spec.options} of {kind} '{spec.name}' hold a value out of range for its "
                          f"parameters ({str(exc).splitlines()[0]}); give smaller values") from None


def compose(config: ExperimentConfig | dict[str, Any], registry: Registry | None = None) -> UnrolledNetwork:
    """The unrolled network an experiment config describes, in the config's dtype.

    Steps with random initial weights draw them from torch's global RNG seeded with
    ``training.seed``, inside :func:`torch.random.fork_rng`: the result is reproducible and the
    caller's global RNG state is left as it was. Accepts a validated config or a plain dict.
    """
    from .config import parse_config

    cfg = config if isinstance(config, ExperimentConfig) else parse_config(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.training.seed)
        problem = build_problem(cfg.problem)
        net = compose_network(problem, cfg.network, registry)
    return net.to(dtype=DTYPES[cfg.training.dtype])
