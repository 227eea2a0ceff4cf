"""Everything a run needs before its first step: threads (:mod:`hno_framework.threads`), device, network, data."""

from __future__ import annotations

import torch

from ..composer import compose
from ..config import ExperimentConfig
from ..data import DataSplits, make_splits
from ..errors import ConfigError
from ..network import UnrolledNetwork
from ..threads import apply_threads
from .distributed import rank_device


def resolve_device(name: str) -> torch.device:
    """``training.device``: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda[:k]``, ``mps``;
    a device this torch cannot use is a :class:`ConfigError` naming the fix, not a traceback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"training.device: unknown device '{name}'; use auto, cpu, cuda, cuda:K or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"training.device={name}, but this torch ({torch.__version__}) has no usable CUDA device; "
                              "use training.device=auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"training.device={name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"training.device={name}, but MPS is not available; use auto or cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"training.device: unsupported device type '{device.type}'; use auto, cpu, cuda or mps")
    return device


def build_for_training(config: ExperimentConfig, network: UnrolledNetwork | None = None,
                       ) -> tuple[UnrolledNetwork, DataSplits, torch.device]:
    """The network (``network``, else the config's, composed; on ``training.device``; under ``torchrun`` ``cuda``
    means ``cuda:LOCAL_RANK``), its data splits and the device; applies ``training.threads``."""
    tcfg = config.training
    apply_threads(tcfg.threads)
    device = rank_device(resolve_device(tcfg.device))
    net = (network if network is not None else compose(config)).to(device)
    if config.training.compile:
        net.enable_compile(backend=config.training.compile_backend)
    return net, make_splits(net.problem, config), device
