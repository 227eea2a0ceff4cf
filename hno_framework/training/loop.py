"""The one training loop: every protocol (:mod:`.protocols`) runs through :class:`Trainer`.

Per iteration: a fresh batch from the seeded training stream, the loss at the phase's depth
(``training.loss``, :func:`~.losses.training_loss`), one optimizer step whose update is scaled by the phase's
per-entry learning-rate multipliers. Every ``validate_every`` iterations the validation NMSE at
the phase's depth is measured; the phase keeps its best parameters (the network it starts from
counts, so a "best" is never worse than where the phase began). A phase ends after
``max_iterations``, or after ``patience`` iterations without an improvement; its best
parameters are then restored (``restore_best``).

Divergence: a non-finite loss or validation NMSE, or a finite blow-up (the validation NMSE more than
:data:`DIVERGED_DB` above where the phase started, floored at 0 dB, the zero output's NMSE, at
:data:`DIVERGED_VALIDATIONS` validations in a row or at the phase's last one; or the loss more than
:data:`LOSS_GROWTH` times the phase's first loss with the validation NMSE confirming it) either stops the run with
:class:`~hno_framework.errors.TrainingDivergedError` naming the iteration and the first bad
layer (end-to-end; the checkpoints on disk stay the last good ones), or ends the phase with its
best parameters (stage-wise). Validation signals without energy (all zero: the NMSE is undefined) are
refused before training, as a data error rather than a divergence.

No improvement: a run that finishes (after at least :data:`MIN_VALIDATIONS` validations) without any validation beating the network it started from (a learning rate too
large to make progress that never blows up past the limit, or zero gradients) writes ``best.pt`` (that network) and
``metrics.json`` with ``"improved": false``, then raises :class:`~hno_framework.errors.TrainingNotImprovedError`
(``hno train`` exits 2); a warm start (``training.init_from``) that never improved only warns.

Files in ``run_dir``: ``last.pt`` (the whole loop state; atomic; see :mod:`.state`), ``best.pt``
(the finished network, or end-to-end's best so far) and ``metrics.json``.

Under ``torchrun`` the processes train one network on shards of each batch and average the
gradients; only rank 0 writes (:mod:`.distributed`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from ..composer import compose
from ..config import ExperimentConfig
from ..data import make_test_set
from ..errors import DataError, TrainingDivergedError, TrainingNotImprovedError
from ..evaluation import nmse_per_layer
from ..io import write_json
from ..network import UnrolledNetwork, count_learnable
from ..problems.base import SignalBatch
from ..progress import progress_bar
from ..registry import network_providers
from ..resources import check_memory
from .callbacks import Callback, CallbackList
from .distributed import is_main_process, join, leave
from .losses import training_loss
from .optim import lr_factor, make_optimizer
from .prepare import build_for_training
from .protocol_factory import make_protocol
from .protocols import Phase, TrainingProtocol, is_better
from .result import TrainResult
from .rundir import RunAlreadyFinished, RunLock, check_output_dir, check_run_dir, clear_run_dir
from .state import LoopState, load_state, save_best, save_state
from .summary import PhaseSummary

DIVERGED_DB = 20.0
"""A validation NMSE this many dB above where the phase started (at least 0 dB, what the zero output scores) is a
blow-up: the error energy is 100× the signal's. Healthy training never goes there."""
DIVERGED_VALIDATIONS = 2
"""Validations in a row above the limit that stop the run (one at the phase's last validation)."""
MIN_VALIDATIONS = 3
"""A finished run is judged for never having improved (:meth:`Trainer.improved`) only after this many validations."""
LOSS_GROWTH = 1e6
"""The loss this many times the phase's first loss triggers an immediate validation; above the limit, the run stops."""


def first_nonfinite_layer(net: UnrolledNetwork, y: Tensor, depth: int) -> int | None:
    """The first layer t (1-based, x_t) whose output is not finite on ``y``, or None."""
    with torch.no_grad():
        traj = net.unroll(y, keep_trajectory=True, depth=depth).trajectory
    assert traj is not None
    bad = (~torch.isfinite(traj)).flatten(2).any(dim=2).any(dim=0)  # (depth + 1,)
    idx = torch.nonzero(bad)
    return int(idx[0]) if len(idx) else None


def nonfinite_name(net: nn.Module, params: Sequence[nn.Parameter], *, grad: bool = False) -> str | None:
    """The name of the first of ``params`` (or of its gradient, with ``grad``) holding a NaN or ±inf, with
    its layer when it belongs to one (``"layers.3.W (layer 3)"``); None when all are finite (one sync).

    Runs every training step, so the common case is one cheap pass: a tensor whose sum is finite holds no
    NaN or ±inf (either would make the sum NaN or ±inf). Only when some sum is not finite (a non-finite entry,
    or finite entries whose sum overflows) is each tensor checked entry by entry."""
    tensors = [(p.grad if grad else p) for p in params]
    pairs = [(p, t) for p, t in zip(params, tensors, strict=True) if t is not None]
    if not pairs or bool(torch.isfinite(torch.stack([t.sum() for _, t in pairs])).all()):
        return None
    bad = next((p for p, t in pairs if not bool(torch.isfinite(t).all())), None)
    if bad is None:
        return None  # the sums overflowed; every entry is finite
    name = next((n for n, q in net.named_parameters() if q is bad), "a parameter")
    parts = name.split(".")
    return f"{name} (layer {parts[1]})" if parts[0] == "layers" and len(parts) > 1 and parts[1].isdigit() else name


def check_signal_energy(data: SignalBatch, name: str) -> None:
    """Raise :class:`~hno_framework.errors.DataError` when the signals of ``data`` are all zero: their NMSE (error
    energy over signal energy) is undefined, which is a fault of the data, not of the learning rate."""
    if not bool(data.x.abs().sum() > 0):
        raise DataError(f"{name}: the {len(data)} validation signals are all zero (no signal energy), so their NMSE is "
                        "undefined; check the data: problem.sparsity, the images or the problem plugin's signals")


class Trainer:
    """Trains the network an :class:`ExperimentConfig` describes with its ``training.protocol``.

    ``validation`` replaces the config's validation set (an experiment passes its saved one);
    ``callbacks`` watch the run (:mod:`.callbacks`; loggers are callbacks the caller builds, e.g.
    :meth:`hno_framework.loggers.callback.LoggingCallback.from_config`); ``network`` trains that network instead of
    composing the config's; ``origin`` is what the checkpoints record as ``init_from`` (a warm start's source).
    """

    def __init__(self, config: ExperimentConfig, *, progress: bool = True, log: Callable[[str], None] = print,
                 validation: SignalBatch | None = None, callbacks: Sequence[Callback] = (),
                 network: UnrolledNetwork | None = None, origin: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        self.run_dir = config.run_dir
        self.origin = origin
        self.net, self.splits, self.device = build_for_training(config, network)
        self.dist = join(config.training.batch_size, self.device, self.net)  # torchrun: this rank; else SINGLE
        self.progress = progress and self.dist.is_main  # only rank 0 shows progress, logs and writes files
        self.validation = (validation if validation is not None else self.splits.validation).to(self.device)
        self.protocol: TrainingProtocol = make_protocol(config, self.net)
        self.providers = network_providers(config.network)  # which plugin built each component (checkpoints)
        self.callbacks = CallbackList(list(callbacks) if self.dist.is_main else [], log)
        self.state = LoopState()
        self.best_state: dict[str, Tensor] | None = None  # the current phase's best parameters
        self.history: list[dict[str, Any]] = []
        self.summaries: list[PhaseSummary] = []
        self._last_record = 0
        self.nonfinite: str | None = None  # the parameter whose gradient was not finite at the last step
        self._blow_up_checked = -math.inf  # the iteration of the last extra validation a loss blow-up triggered
        check_signal_energy(self.validation, config.name)
        self.enter_phase(0)

    # -- position --------------------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        return self.state.iteration

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def stage(self) -> int:
        return self.phase.stage

    @property
    def phase_iteration(self) -> int:
        return self.state.phase_iteration

    def enter_phase(self, index: int) -> None:
        """Make phase ``index`` current: its parameters, multipliers and a fresh optimizer."""
        self.phase: Phase = self.protocol.phase(index)
        self.state.phase_index = index
        self.params = [p for p, _ in self.phase.multipliers]  # what trains in this phase
        self.scaled = [(p, m.to(self.device)) for p, m in self.phase.multipliers if m is not None]
        self.optimizer = make_optimizer(self.params, self.config.training, self.phase.lr) if self.params else None

    def current_lr(self) -> float:
        p = self.phase
        return p.lr * lr_factor(p.schedule, self.state.phase_iteration, p.schedule_length)

    # -- one step and one validation -------------------------------------------------------------
    def _backward_eagerly(self, batch: SignalBatch, options: dict[str, Any], error: Exception) -> Tensor:
        """The step's forward and backward again, eagerly, after the backward pass of the compiled network failed
        with ``error`` (torch.compile builds the backward graph on the first backward). When the eager step
        succeeds, the failure was the compiler's: warn once and stay eager (:meth:`UnrolledNetwork.fall_back_to_eager`);
        when it fails as well, the error is the network's: compiling is switched back on and the eager error raised.
        Returns the eager loss, gradients computed."""
        assert self.optimizer is not None
        self.net.disable_compile()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            loss = training_loss(self.net, batch, self.config.training, depth=self.phase.depth)
            loss.backward()
        except Exception:
            self.net.enable_compile(**options)
            raise
        self.net.fall_back_to_eager(error, stacklevel=4)
        return loss

    def train_step(self) -> float:
        """One optimizer step of the current phase; returns the loss."""
        tcfg = self.config.training
        assert self.optimizer is not None
        for group in self.optimizer.param_groups:
            group["lr"] = self.current_lr()
        batch = self.dist.shard(self.splits.next_batch(tcfg.batch_size)).to(self.device)
        loss = training_loss(self.net, batch, tcfg, depth=self.phase.depth)
        self.optimizer.zero_grad(set_to_none=True)
        try:
            loss.backward()
        except Exception as error:
            options = self.net.compile_options
            if options is None:
                raise
            del loss  # the compiled graph and, through the traceback's frames, its activations: freed before the retry
            loss = self._backward_eagerly(batch, options, error.with_traceback(None))
        value = self.dist.average_gradients(self.params, loss)  # several processes
        self.nonfinite = nonfinite_name(self.net, self.params, grad=True)
        if math.isfinite(value) and self.nonfinite is not None:
            return math.nan  # no step on a non-finite gradient: the parameters stay the last good ones
        if tcfg.grad_clip:
            nn.utils.clip_grad_norm_(self.params, tcfg.grad_clip)
        before = [(p, p.detach().clone(), m) for p, m in self.scaled]
        self.optimizer.step()
        with torch.no_grad():
            for p, old, m in before:
                p.copy_(old + m * (p - old))
        return value

    def validate(self, depth: int | None = None) -> float:
        """Validation NMSE (dB) at ``depth`` (default: the phase's); inf when not finite. The whole curve
        x_0..x_depth stays in ``last_validation_curve`` (loggers read it instead of a second pass)."""
        self.last_validation_curve = nmse_per_layer(self.net, self.validation, depth=depth or self.phase.depth)
        value = self.dist.from_main(self.last_validation_curve[-1])
        return value if math.isfinite(value) else math.inf

    # -- checkpoints -----------------------------------------------------------------------------
    def save_last(self) -> None:
        if not self.dist.is_main:
            return
        path = save_state(self)
        self.callbacks("on_checkpoint", self, path)

    def resume(self) -> bool:
        """Restore the state saved in ``last.pt`` (any protocol, also older formats); False when there is none."""
        found = load_state(self)
        self.dist.agree("where to resume (found, iteration, phase)", [found, self.state.iteration, self.state.phase_index])
        return found

    # -- phases ----------------------------------------------------------------------------------
    def _start_phase(self) -> None:
        s = self.state
        s.phase_start = s.phase_best = self.validate()
        s.phase_best_iteration = 0
        self.best_state = copy.deepcopy(self.net.state_dict())
        if self.phase.write_best and self.dist.is_main and not (self.run_dir / "best.pt").is_file():  # exists from the start
            self.callbacks("on_checkpoint", self, save_best(self, self.best_state))

    def _end_phase(self, stopped_by: str) -> None:
        s = self.state
        if self.phase.restore_best and self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        summary = PhaseSummary(stage=self.phase.stage, phase=self.phase.step, lr=self.phase.lr,
                               iterations=s.phase_iteration, best_iteration=s.phase_best_iteration,
                               start_nmse_db=s.phase_start, best_nmse_db=s.phase_best, stopped_by=stopped_by,
                               seconds=s.phase_seconds)
        self.summaries.append(summary)
        self.callbacks("on_phase_end", self, summary)
        s.phase_iteration, s.phase_best_iteration, s.phase_seconds = 0, 0, 0.0
        s.phase_best = s.phase_start = math.inf
        s.phase_first_loss, s.bad_validations = 0.0, 0
        self.best_state = None
        if s.phase_index + 1 >= self.protocol.num_phases:
            s.finished = True
        else:
            self.enter_phase(s.phase_index + 1)
        self.save_last()

    def _where(self) -> str:
        return f"iteration {self.state.iteration}" + (f" ({self.phase.label})" if self.phase.label else "")

    def _diverged(self, what: str) -> str | None:
        """Handle a non-finite loss/NMSE: end the phase (returns its stop reason) or raise."""
        layer = first_nonfinite_layer(self.net, self.validation.y[:256], self.phase.depth)
        at_layer = f"; the first non-finite output is layer {layer}" if layer is not None else ""
        return self._stop_diverged(f"{what} is not finite{at_layer}", "non-finite")

    def _stop_diverged(self, problem: str, reason: str) -> str | None:
        """Restore the phase's best parameters, then end the phase (stage-wise; returns ``reason``) or raise."""
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.state.bad_validations = 0
        if self.phase.on_nonfinite == "end-phase":
            warnings.warn(f"{self.config.name}: {problem} at {self._where()}; ending the phase with its best parameters",
                          RuntimeWarning, stacklevel=4)
            return reason
        raise TrainingDivergedError(
            f"{self.config.name}: training diverged at {self._where()}: {problem}. The checkpoints in "
            f"{self.run_dir} are the last good ones; lower training.lr (now {self.phase.lr:g}) or set training.grad_clip"
        )

    def _divergence_limit(self) -> float:
        """The validation NMSE (dB) above which the phase has blown up (see :data:`DIVERGED_DB`)."""
        return max(self.state.phase_start, 0.0) + DIVERGED_DB

    def _blown_up(self, val: float, loss: float) -> str | None:
        """A finite blow-up (validation NMSE ``val`` above the limit): end the phase or raise, naming the first layer
        whose validation NMSE is above the limit and, when it grew by orders of magnitude, the loss."""
        s, limit = self.state, self._divergence_limit()
        curve = self.last_validation_curve
        layer = next((t for t, v in enumerate(curve) if not v <= limit), len(curve) - 1)
        grew = (f"; the loss grew from {s.phase_first_loss:.3g} to {loss:.3g}"
                if s.phase_first_loss > 0 and math.isfinite(loss) and loss > 100 * s.phase_first_loss else "")
        problem = (f"the validation NMSE is {val:+.1f} dB, {val - s.phase_start:.1f} dB above the {s.phase_start:.2f} dB "
                   f"it started from{grew}; the first layer above {limit:.1f} dB is layer {layer}")
        return self._stop_diverged(problem, "diverged")

    def _loss_blew_up(self, loss: float) -> str | None:
        """The loss grew by :data:`LOSS_GROWTH` over the phase's first: validate now (at most every 10 iterations), and
        stop when the validation NMSE confirms a blow-up. The log-layers loss is a logarithm: it is not compared."""
        s = self.state
        if s.phase_iteration == 1:
            s.phase_first_loss = loss if math.isfinite(loss) and loss > 0 else 0.0
        if (self.config.training.loss == "log-layers" or s.phase_first_loss <= 0 or not loss > LOSS_GROWTH * s.phase_first_loss
                or s.iteration - self._blow_up_checked < 10):
            return None
        self._blow_up_checked = s.iteration
        val = self.validate()
        if not math.isfinite(val):
            return self._diverged("validation NMSE")
        return self._blown_up(val, loss) if val > self._divergence_limit() else None

    def _validation_due(self) -> bool:
        p, i = self.phase, self.state.phase_iteration
        return i % p.validate_every == 0 or i >= p.max_iterations

    def _after_validation(self, loss: float) -> str | None:
        """Validate, update the phase's best; the stop reason when the phase ends now."""
        s, p = self.state, self.phase
        val = self.validate()
        if not math.isfinite(val):
            return self._diverged("validation NMSE")
        if val > self._divergence_limit():
            s.bad_validations += 1
            if s.bad_validations >= DIVERGED_VALIDATIONS or s.phase_iteration >= p.max_iterations:
                return self._blown_up(val, loss)
        else:
            s.bad_validations = 0
        if is_better(val, s.phase_best, p.min_improvement_db):
            s.phase_best_iteration = s.phase_iteration
        if is_better(val, s.phase_best):
            s.phase_best = val
            self.best_state = copy.deepcopy(self.net.state_dict())
            if p.write_best and self.dist.is_main:
                self.callbacks("on_checkpoint", self, save_best(self, self.best_state))
        record = {"iteration": s.iteration, "stage": p.stage, "phase": p.step, "depth": p.depth, "loss": loss,
                  "lr": self.current_lr(), "validation_nmse_db": val, "best_validation_nmse_db": s.phase_best,
                  "validation_nmse_db_per_layer": list(self.last_validation_curve)}
        if s.iteration - self._last_record >= p.record_every or s.phase_iteration >= p.max_iterations:
            self.history.append(record)
            self._last_record = s.iteration
        self.callbacks("on_validation", self, record)
        if p.patience is not None and s.phase_iteration - s.phase_best_iteration >= p.patience:
            return "patience"
        if s.phase_iteration >= p.max_iterations:
            return "max_iterations"
        return None

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Run every remaining phase, then evaluate on the test set. ``stop_after``: stop after that many
        more iterations (as if killed), leaving a resumable ``last.pt``."""
        s = self.state
        end = math.inf if stop_after is None else s.iteration + stop_after
        bar = progress_bar(total=self.protocol.progress_total, initial=s.iteration, enabled=self.progress,
                           desc=self.config.name, unit="it", dynamic_ncols=True, leave=False)
        self.callbacks("on_train_start", self)
        tick = time.perf_counter()
        try:
            while not s.finished and s.iteration < end:
                if self.best_state is None:  # entering a phase
                    self._start_phase()
                    if self.optimizer is None:
                        self._end_phase("nothing to train")
                        continue
                loss = self.train_step()
                s.iteration += 1
                s.phase_iteration += 1
                bar.update(1)
                now = time.perf_counter()
                s.seconds += now - tick
                s.phase_seconds += now - tick
                tick = now
                self.callbacks("on_step", self, loss)
                if not math.isfinite(loss):
                    stop = self._diverged(f"the gradient of {self.nonfinite}" if self.nonfinite else "loss")
                else:
                    stop = self._loss_blew_up(loss)
                if stop is None and self._validation_due():
                    stop = self._after_validation(loss)
                    label = f"{self.phase.label} " if self.phase.label else ""
                    bar.set_postfix_str(f"{label}loss {loss:.2e} best {s.phase_best:.2f} dB", refresh=False)
                if stop:
                    self._end_phase(stop)
                    tick = time.perf_counter()
                elif s.phase_iteration % self.phase.checkpoint_every == 0 and not s.bad_validations:
                    bad = nonfinite_name(self.net, self.params)
                    if bad is not None and self._diverged(f"parameter {bad}"):
                        self._end_phase("non-finite")
                        tick = time.perf_counter()
                    else:
                        self.save_last()  # never a checkpoint with non-finite weights
        finally:
            bar.close()
        if not s.finished:
            self.save_last()
            return self.result()
        result = self.result()
        self.callbacks("on_train_end", self, result)
        return result

    def improved(self) -> bool:
        """Whether some phase that trained beat the validation NMSE it started from. False means the finished network
        is the one training started from; True also when there was nothing to judge: no phase trained, or fewer than
        :data:`MIN_VALIDATIONS` validations in all (a few iterations may not improve by chance)."""
        trained = [(i, p) for i, p in enumerate(self.summaries) if p.iterations > 0 and p.stopped_by != "nothing to train"]
        validations = sum(math.ceil(p.iterations / self.protocol.phase(i).validate_every) for i, p in trained)
        return validations < MIN_VALIDATIONS or any(is_better(p.best_nmse_db, p.start_nmse_db) for _, p in trained)

    def never_improved_message(self) -> str:
        """The one line for a finished run that never improved (:meth:`improved` False): where it started, where its
        validations went and the likely cause."""
        first = next(p for p in self.summaries if p.iterations > 0)
        start = first.start_nmse_db
        seen = [h["validation_nmse_db"] for h in self.history]
        worst = max(seen, default=start)
        head = (f"{self.config.name}: the network never improved on its initial validation NMSE ({start:.2f} dB) in "
                f"{self.state.iteration} iterations, so best.pt is the network it started from")
        if worst > start + 1e-6:
            lr = self.config.training.lr
            return (f"{head}; its validations went up to {worst:+.2f} dB, so the learning rate is likely too large: lower "
                    f"training.lr (now {lr:g}; try {lr * 0.1:g}) and rerun with --force")
        return (f"{head}; its validation NMSE never moved, so the gradients are zero: check the network's "
                "initialization (e.g. step options that make every output zero) and rerun with --force")

    def result(self) -> TrainResult:
        """Evaluate the current network on the test set; when finished, write ``best.pt`` and ``metrics.json``."""
        s = self.state
        test = make_test_set(self.net.problem, self.config)
        final = self.validate(self.net.num_layers) if s.finished else s.phase_best
        result = TrainResult(
            name=self.config.name, run_dir=self.run_dir, best_validation_nmse_db=final,
            test_nmse_db=nmse_per_layer(self.net, test.to(self.device)), iterations=s.iteration, seconds=s.seconds,
            learnable_parameters=count_learnable(self.net), protocol=self.protocol.name, history=self.history,
            phases=[asdict(p) for p in self.summaries], improved=self.improved() if s.finished else True,
        )
        if s.finished and self.dist.is_main:
            self.callbacks("on_checkpoint", self, save_best(self, self.net.state_dict(), final))
            write_json(self.run_dir / "metrics.json", result.as_dict())
        return result


def run_training(config: ExperimentConfig, *, resume: bool = False, progress: bool = True,
                 callbacks: Sequence[Callback] = (), overwrite: bool = True, network: UnrolledNetwork | None = None,
                 prepare: Callable[[UnrolledNetwork], dict[str, str] | None] | None = None,
                 skip_finished: bool = False) -> TrainResult:
    """Train (or, with ``resume``, continue training) the experiment ``config`` describes, with its
    ``training.protocol``, watched by ``callbacks`` (the caller builds loggers; :func:`hno_framework.api.train`
    is the public entry point).

    The run folder is locked for the run (:class:`~.rundir.RunLock`: a second run into it fails naming
    this one's PID); ``resume`` without a ``last.pt`` is an error; a folder holding an earlier run is
    refused when ``overwrite`` is False (``hno train`` without ``--force``), else that run's files are
    deleted first. The memory the sizes need is checked before anything is allocated. ``prepare`` (not on resume)
    is called with the network before training starts (a warm start) and returns what the checkpoints record as
    ``init_from``.

    ``resume`` of a finished run (its ``last.pt`` at the config's iteration limits) evaluates it again and rewrites
    ``best.pt`` and ``metrics.json`` (what ``hno compare --resume`` reports); with ``skip_finished`` it raises
    :class:`~.rundir.RunAlreadyFinished` instead, having trained and written nothing (``hno train --resume``). A
    finished run resumed with higher limits (more ``training.iterations``) trains on to them either way.
    """
    main = is_main_process()
    check_memory(config)
    if main:
        check_output_dir(config.run_dir)
    try:
        with RunLock(config.run_dir) if main else contextlib.nullcontext():
            if main:
                check_run_dir(config.run_dir, resume=resume, force=overwrite)
                if not resume:
                    clear_run_dir(config.run_dir)
            net = network
            origin = None
            if prepare is not None and not resume:
                net = net if net is not None else compose(config)
                origin = prepare(net)
            trainer = Trainer(config, progress=progress, callbacks=callbacks, network=net, origin=origin)
            if resume:
                trainer.resume()
                if skip_finished and trainer.finished:
                    if not trainer.improved() and config.training.init_from is None:  # the same verdict as its first end
                        raise TrainingNotImprovedError(trainer.never_improved_message())
                    raise RunAlreadyFinished(config.name, config.run_dir, trainer.iteration)
            result = trainer.fit()
            if trainer.finished and not result.improved:
                if config.training.init_from is None:
                    raise TrainingNotImprovedError(trainer.never_improved_message())
                warnings.warn(f"{trainer.never_improved_message()} (a warm start from {config.training.init_from}: that "
                              "network may already be as good as this training makes it)", RuntimeWarning, stacklevel=2)
            return result
    finally:
        leave()  # the process group join() created under torchrun
