"""Training: one loop (:mod:`.loop`), protocols as strategies over it (:mod:`.protocols`,
:mod:`.stagewise`), one checkpoint writer and resume path (:mod:`.state`), callbacks for loggers
(:mod:`.callbacks`).

``run_training(config, callbacks=…)`` trains the network a config describes with ``training.protocol``
(``end-to-end``, ``phases`` or ``stagewise``); ``Trainer`` gives step-by-step control (``fit(stop_after=…)``,
``resume()``). The public entry point, which also builds the config's loggers and warm-starts, is
:func:`hno_framework.api.train` (``hno_framework.train``).
"""

from ..threads import apply_threads, resolve_threads
from .callbacks import Callback
from .loop import Trainer, first_nonfinite_layer, run_training
from .losses import LOSSES, training_loss
from .optim import lr_factor, make_optimizer
from .ownership import ParameterUse, integrator_usage, lr_multiplier, parameter_usage
from .prepare import build_for_training, resolve_device
from .protocol_factory import make_protocol
from .protocols import EndToEnd, Phase, Phases, TrainingProtocol
from .result import TrainResult
from .stagewise import Stagewise
from .state import LoopState
from .summary import PhaseSummary

__all__ = [
    "LOSSES", "Callback", "EndToEnd", "LoopState", "ParameterUse", "Phase", "PhaseSummary", "Phases", "Stagewise", "TrainResult",
    "Trainer", "TrainingProtocol", "apply_threads", "build_for_training", "first_nonfinite_layer",
    "integrator_usage", "lr_factor", "lr_multiplier", "make_optimizer", "make_protocol", "parameter_usage",
    "resolve_device", "resolve_threads", "run_training", "training_loss",
]
