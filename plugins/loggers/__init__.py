"""Built-in loggers (entry point ``builtin-loggers``): ``console``, ``tensorboard``, ``mlflow``.

The TensorBoard and MLflow packages are optional (``pip install "hno-framework[tensorboard]"``,
``"hno-framework[mlflow]"``); they are imported when such a logger starts, so a missing one is reported
for that run only.
"""

from __future__ import annotations

from hno_framework import hookimpl

from .console import ConsoleLogger
from .mlflow import MLflowLogger
from .tensorboard import TensorBoardLogger

BUILTIN_LOGGERS = [ConsoleLogger, TensorBoardLogger, MLflowLogger]


@hookimpl
def register_loggers(register):
    for cls in BUILTIN_LOGGERS:
        register(cls)
