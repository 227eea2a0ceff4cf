"""The protocol ``training.protocol`` names (end-to-end, phases, stage-wise), built for a network."""

from __future__ import annotations

from ..config import ExperimentConfig
from ..network import UnrolledNetwork
from .protocols import EndToEnd, Phases, TrainingProtocol
from .stagewise import Stagewise


def make_protocol(config: ExperimentConfig, net: UnrolledNetwork) -> TrainingProtocol:
    """The protocol ``training.protocol`` names, for ``net``."""
    protocols: dict[str, type[TrainingProtocol]] = {EndToEnd.name: EndToEnd, Phases.name: Phases, Stagewise.name: Stagewise}
    return protocols[config.training.protocol](config, net)
