"""Loggers: the third plugin kind (after steps and integrators). See :mod:`.base` for the interface,
:mod:`.session` for how a run's loggers are called, :mod:`.callback` for the training-loop hook-up."""

from .base import Logger, RunInfo, flatten
from .session import ActiveLogger, LoggerSet

__all__ = ["ActiveLogger", "Logger", "LoggerSet", "RunInfo", "flatten"]
