"""Training: one loop (:mod:`.loop`), protocols as strategies over it (:mod:`.protocols`,
:mod:`.stagewise`), one checkpoint writer and resume path (:mod:`.state`), callbacks for loggers
(:mod:`.callbacks`).

``train(config)`` trains the network a config describes with ``training.protocol``
(``end-to-end`` or ``stagewise``); ``Trainer`` gives step-by-step control (``fit(stop_after=…)``,
``resume()``).
"""

from .callbacks import Callback
from .loop import PhaseSummary, Trainer, first_nonfinite_layer, train, train_job
from .losses import LOSSES, training_loss
from .optim import lr_factor, make_optimizer
from .ownership import ParameterUse, integrator_usage, lr_multiplier, parameter_usage
from .prepare import apply_threads, build_for_training, resolve_device, resolve_threads
from .protocols import EndToEnd, Phase, Phases, TrainingProtocol, make_protocol
from .result import TrainResult
from .stagewise import Stagewise
from .state import LoopState

__all__ = [
    "LOSSES", "Callback", "EndToEnd", "LoopState", "ParameterUse", "Phase", "PhaseSummary", "Phases", "Stagewise", "TrainResult",
    "Trainer", "TrainingProtocol", "apply_threads", "build_for_training", "first_nonfinite_layer",
    "integrator_usage", "lr_factor", "lr_multiplier", "make_optimizer", "make_protocol", "parameter_usage",
    "resolve_device", "resolve_threads", "train", "train_job", "training_loss",
]
