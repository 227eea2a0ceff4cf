"""The one checkpoint writer and the one resume path of the training loop.

``last.pt`` (atomic, weights-only loadable) holds ``config``, ``model``, ``protocol`` and
``loop`` (:class:`LoopState` as a dict), the current phase's ``best_model``, the ``optimizer``
state, the ``generator`` state of the training batches, ``history`` and ``phases``
(:class:`~.loop.PhaseSummary` dicts), with ``loop_format`` = :data:`LOOP_FORMAT`.
``best.pt`` holds ``config``, ``model``, ``iteration`` and ``best``.

Checkpoints of the earlier trainers (``loop_format`` absent: the end-to-end ``Trainer`` and the
``StagewiseTrainer`` of hno-framework ≤ 0.1) are read by :func:`upgrade_v1`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor

from ..checkpoint import load_resume_state, load_weights, save_checkpoint
from ..errors import CheckpointError

if TYPE_CHECKING:
    from .loop import Trainer

LOOP_FORMAT = 2
MAY_CHANGE_ON_RESUME = {"device": True, "threads": True}
"""Training fields any run may change when it resumes: where it runs, not what it computes."""


@dataclass
class LoopState:
    """Where a run stands: phase, iterations (in the phase and in total), the phase's best validation
    NMSE (and where the patience window restarted), seconds trained (all processes) and whether it is done;
    for the divergence check, the phase's first loss (0: unknown) and how many validations in a row were far
    above where the phase started."""

    phase_index: int = 0
    phase_iteration: int = 0
    iteration: int = 0
    phase_best: float = math.inf
    phase_start: float = math.inf
    phase_best_iteration: int = 0
    seconds: float = 0.0
    phase_seconds: float = 0.0
    finished: bool = False
    phase_first_loss: float = 0.0
    bad_validations: int = 0


def checked_loop_state(data: Any) -> LoopState:
    """A :class:`LoopState` from a checkpoint's ``loop`` dict; ``TypeError``/``ValueError`` when an entry has
    the wrong type (each must have its default's type; ints count as floats) or a count is negative."""
    loop = LoopState(**data)
    for f in fields(LoopState):
        value, default = getattr(loop, f.name), getattr(LoopState(), f.name)
        kinds: tuple[type, ...] = (bool,) if isinstance(default, bool) else (int,) if isinstance(default, int) else (int, float)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise TypeError(f"loop entry '{f.name}' should be {kinds[-1].__name__}, found {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"loop entry '{f.name}' is negative ({value})")
    return loop


def save_state(trainer: Trainer) -> Path:
    """Write ``last.pt`` from the trainer's loop state."""
    s = trainer.state
    return save_checkpoint(trainer.run_dir / "last.pt", {
        "config": trainer.config.model_dump(mode="json"),
        "providers": trainer.providers,
        "loop_format": LOOP_FORMAT,
        "protocol": trainer.protocol.name,
        "model": trainer.net.state_dict(),
        "loop": asdict(s),
        "best_model": trainer.best_state if trainer.best_state is not None else {},
        "optimizer": trainer.optimizer.state_dict() if trainer.optimizer is not None else {},
        "generator": trainer.splits.train_generator.get_state(),
        "history": trainer.history,
        "phases": [asdict(p) for p in trainer.summaries],
        **({"init_from": trainer.origin} if trainer.origin else {}),
    })


def save_best(trainer: Trainer, model: dict[str, Tensor], best: float | None = None) -> Path:
    """Write ``best.pt``: the network ``model`` with its validation NMSE (default: the phase's best)."""
    value = trainer.state.phase_best if best is None else best
    return save_checkpoint(trainer.run_dir / "best.pt", {
        "config": trainer.config.model_dump(mode="json"), "providers": trainer.providers, "model": model,
        "iteration": trainer.state.iteration,
        "best": value if math.isfinite(value) else None,
        **({"init_from": trainer.origin} if trainer.origin else {}),
    })


def upgrade_v1(state: dict[str, Any], phases_per_stage: int) -> dict[str, Any]:
    """A ``last.pt`` of the ≤ 0.1 trainers in the current layout (see the module docstring)."""
    if "position" in state:  # StagewiseTrainer
        stage, phase, phase_iteration, iteration = (int(v) for v in state["position"])
        best, start, best_it = state["phase_best"]
        seconds, phase_seconds = state["seconds"]
        loop = LoopState(stage * phases_per_stage + phase, phase_iteration, iteration, float(best), float(start),
                         int(best_it), float(seconds), float(phase_seconds), bool(state["finished"]))
        best_model, phases, history = state["phase_best_model"], state["summaries"], state["curve"]
    else:  # end-to-end Trainer: one phase
        iteration = int(state["iteration"])
        loop = LoopState(0, iteration, iteration, float(state["best"]), math.inf, iteration, 0.0, 0.0, False)
        best_model, phases, history = state["best_model"], [], state["history"]
    return {**state, "loop": asdict(loop), "best_model": best_model, "phases": phases, "history": history}


def load_state(trainer: Trainer) -> bool:
    """Restore ``trainer`` from its ``last.pt``; False when there is none. A ``last.pt`` written by another
    config (outside the fields the protocol lets change) is a :class:`CheckpointError`."""
    path = trainer.run_dir / "last.pt"
    ignore = dict(trainer.protocol.resume_ignore)
    ignore["training"] = {**ignore.get("training", {}), **MAY_CHANGE_ON_RESUME}
    ignore["logging"] = True  # loggers watch a run; adding or dropping one does not change it
    state = load_resume_state(path, trainer.config, ignore)
    if state is None:
        return False
    if state.get("loop_format") is None:
        state = upgrade_v1(state, getattr(trainer.protocol, "phases_per_stage", 1))
    elif state["loop_format"] > LOOP_FORMAT:
        raise CheckpointError(f"{path} was written by a newer hno-framework (loop format {state['loop_format']})")
    load_weights(trainer.net, state["model"], path)
    try:  # a crafted or damaged entry is a one-line CheckpointError naming the file, never a traceback
        loop = checked_loop_state(state["loop"])
        trainer.state = loop
        trainer.best_state = state["best_model"] or None
        trainer.splits.train_generator.set_state(state["generator"])
        trainer.history = list(state["history"])
        origin = state.get("init_from")
        trainer.origin = dict(origin) if isinstance(origin, dict) else trainer.origin  # a warm start's source
        from .summary import PhaseSummary

        trainer.summaries = [PhaseSummary(**p) for p in state["phases"]]
        trainer._last_record = trainer.history[-1]["iteration"] if trainer.history else 0
        reopen_last_phase(trainer)
        if not loop.finished:
            trainer.enter_phase(loop.phase_index)
            if state["optimizer"] and trainer.optimizer is not None:
                trainer.optimizer.load_state_dict(state["optimizer"])
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"{path} is damaged: {type(exc).__name__}: {exc}".splitlines()[0]
                              + "; delete it to start over, or restore it") from None
    return True


def reopen_last_phase(trainer: Trainer) -> None:
    """A finished run whose last phase stopped at its iteration cap, resumed with a higher cap (e.g. more
    ``training.iterations``), continues that phase from the network it ended with, its best and its count."""
    loop = trainer.state
    if not (loop.finished and trainer.summaries):
        return
    last = trainer.summaries[-1]
    if last.stopped_by != "max_iterations" or trainer.protocol.phase(loop.phase_index).max_iterations <= last.iterations:
        return
    trainer.summaries.pop()
    loop.finished = False
    loop.phase_iteration, loop.phase_best_iteration, loop.phase_seconds = last.iterations, last.best_iteration, last.seconds
    loop.phase_best, loop.phase_start = last.best_nmse_db, last.start_nmse_db
    trainer.best_state = copy.deepcopy(trainer.net.state_dict())
