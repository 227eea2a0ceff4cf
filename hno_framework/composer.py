"""Config -> :class:`UnrolledNetwork`. Knows no concrete step or scheme: names go through the registry."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import ValidationError

from .config import ExperimentConfig, NetworkConfig, format_validation_error
from .errors import ConfigError
from .integrator import IntegratorLayout
from .network import UnrolledNetwork
from .options import ComponentOptions
from .problems import build_problem
from .problems.base import Problem
from .registry import ComponentInfo, Registry, get_registry
from .step import LayerInfo

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def validate_options(info: ComponentInfo, options: dict[str, Any]) -> ComponentOptions:
    """Validate ``options`` against the component's options model; errors name the component and key."""
    model = info.cls.Options
    try:
        return model.model_validate(options)
    except ValidationError as err:
        known = ", ".join(model.model_fields) or "(none)"
        message = format_validation_error(err, f"for {info.kind} '{info.name}'", what="options", model=model)
        raise ConfigError(f"{message}. Known options: {known}.") from None


def compose_network(problem: Problem, network: NetworkConfig, registry: Registry | None = None) -> UnrolledNetwork:
    """Build T layers of ``network.step`` on ``problem`` joined by ``network.integrator``."""
    registry = registry or get_registry()
    step_info = registry.step(network.step.name)
    integ_info = registry.integrator(network.integrator.name)
    step_options = validate_options(step_info, network.step.options)
    integ_options = validate_options(integ_info, network.integrator.options)
    step_info.cls.check_problem(problem)
    shared: dict | None = {} if network.tied else None
    layers = [
        step_info.cls(problem, step_options, LayerInfo(index=t, count=network.layers, shared=shared))
        for t in range(network.layers)
    ]
    integrator = integ_info.cls(integ_options, IntegratorLayout(num_layers=network.layers))
    return UnrolledNetwork(problem, layers, integrator)


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
