"""Stage-wise (layer-wise) training, the protocol of LISTA-CPSS (Chen et al. 2018) that the seed follows.

Layers are added one at a time. *Stage* k trains the network cut at depth k + 1
(``network.unroll(y, depth=k + 1)``) on ``MSE(x_{k+1}, x*)`` (+ the steps' auxiliary losses) in
*phases*:

* phase 0: only the parameters of the new layer k, learning rate ``lr · new_layer_lr_factor``;
* phase i ≥ 1: all layers so far, at ``lr · finetune_lr_factors[i − 1]`` (LISTA-CPSS: 0.2, 0.02),
  the parameters of layer j scaled by a further ``layer_decay^(k − j)`` (LISTA-CPSS: 0.3).

A phase ends when the validation NMSE at the current depth (``validate_every`` iterations apart)
has not improved (by more than ``min_improvement_db``, default 0) for ``patience`` iterations, or
after ``max_iterations``; with ``restore_best``
the best validated parameters of the phase are then restored (a phase never makes the network
worse on the validation set). Each phase has a fresh optimizer (as in LISTA-CPSS).

**Which layer owns a parameter.** A parameter of ``network.layers[t]`` belongs to layer t. A
learnable integrator coefficient belongs to the layers whose update uses it: this is found by
probing ``integrator.advance(t, …)`` for every t with random states and reading which entries get a
gradient, so per-layer coefficients (2NO's α_t, β_t; ``lm``'s ξ_t, γ_t, h_t) are told apart
entry by entry without knowing the scheme. A parameter used by several layers (a tied W, shared
``lm`` coefficients) belongs, with ``tied_parameters: newest-layer`` (default), to the newest
layer using it: it trains in every phase 0 together with the new layer's own parameters and its
learning rate is never decayed. With ``first-layer`` it belongs to the first layer using it, as in
the LISTA-CPSS code (trained in the phase 0 of that layer only, then decayed with it).

**Per-entry learning rates.** Entries of one tensor may belong to different layers, so the
multipliers are applied to the optimizer's *update*: ``p ← p_old + m ⊙ (p_new − p_old)``. For Adam,
AdamW and SGD the update is linear in the learning rate, so this is exactly a per-entry learning
rate ``lr · m`` (LISTA-CPSS scaled the gradients instead, which Adam mostly undoes).

Checkpoints (``last.pt``, atomic) hold the position (stage, phase, iteration), the optimizer, the
RNG state of the training batches and the phase's best parameters, so a killed run resumes where
it stopped. ``best.pt`` holds the finished network.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..checkpoint import load_resume_state, save_checkpoint, write_json
from ..config import ExperimentConfig, StagewiseConfig
from ..data import make_test_set
from ..evaluation import nmse_per_layer
from ..integrator import History, Integrator
from ..network import UnrolledNetwork, count_learnable
from ..problems.base import SignalBatch
from ..training import TrainResult, build_for_training, make_optimizer, training_loss


# -- which layer owns which parameter ---------------------------------------------------------
@dataclass
class ParameterUse:
    """Layers using a learnable parameter: ``uses`` is bool ``(T,)`` (whole tensor) or ``(T, numel)`` (per entry)."""

    name: str
    param: nn.Parameter
    uses: Tensor

    @property
    def per_entry(self) -> bool:
        return self.uses.ndim == 2


def integrator_usage(integrator: Integrator, num_layers: int, *, width: int = 3, batch: int = 2) -> dict[str, Tensor]:
    """For each learnable parameter of ``integrator``: bool ``(T, numel)``, entry e used by layer t.

    Layer t is probed as the network calls it (a :class:`History` holding min(t + 1, r) states)
    with random states and a random nonlinear field; an entry is used when ``advance(t, …)``
    depends on it (non-zero gradient of a random projection of the output).
    """
    params = {name: p for name, p in integrator.named_parameters() if p.requires_grad}
    if not params:
        return {}
    first = next(iter(params.values()))
    dtype, device = first.dtype, first.device
    g = torch.Generator().manual_seed(12345)

    def rand(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(device, dtype)

    a = rand(width, width) / math.sqrt(width)
    bias = rand(width)

    def field(z: Tensor) -> Tensor:
        return torch.tanh(z @ a + bias) - 0.5 * z

    usage = {name: torch.zeros(num_layers, p.numel(), dtype=torch.bool) for name, p in params.items()}
    history = History(integrator.metadata.past_states)
    names, tensors = list(params), list(params.values())
    for t in range(num_layers):
        x = rand(batch, width)
        history.push(x, field(x))
        out = integrator.advance(t, history, field)
        if not out.requires_grad:
            continue
        grads = torch.autograd.grad((out * rand(*out.shape)).sum(), tensors, allow_unused=True)
        for name, grad in zip(names, grads):
            if grad is not None:
                usage[name][t] = grad.detach().reshape(-1).cpu() != 0
    for name, used in usage.items():  # an entry no layer seems to use: let every layer own it
        never = ~used.any(dim=0)
        used[:, never] = True
    return usage


def parameter_usage(net: UnrolledNetwork) -> list[ParameterUse]:
    """Every learnable parameter of ``net`` with the layers using it (tied parameters: several)."""
    T = net.num_layers
    whole: dict[int, Tensor] = {}
    names: dict[int, str] = {}
    for name, p in net.named_parameters():  # deduplicated: a tied W appears once
        names[id(p)] = name
    for t, layer in enumerate(net.layers):
        for p in layer.parameters():
            whole.setdefault(id(p), torch.zeros(T, dtype=torch.bool))[t] = True
    per_entry = integrator_usage(net.integrator, T)
    integ = {id(p): per_entry[n] for n, p in net.integrator.named_parameters() if n in per_entry}
    out = []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if id(p) in integ:
            uses = integ[id(p)]
        else:  # a step parameter, or one outside layers and integrator (then: used by every layer)
            uses = whole.get(id(p), torch.ones(T, dtype=torch.bool))
        out.append(ParameterUse(name, p, uses))
    return out


def lr_multiplier(use: ParameterUse, stage: int, phase: int, cfg: StagewiseConfig) -> Tensor | None:
    """Learning-rate multipliers of ``use.param`` in (stage, phase): per entry (a tensor of the
    parameter's shape) or for the whole tensor (a 0-d tensor); None when it does not train then."""
    uses = use.uses if use.per_entry else use.uses.unsqueeze(1)  # (T, E)
    T, E = uses.shape
    idx = torch.arange(T).unsqueeze(1).expand(T, E)
    upto = uses[: stage + 1]
    present = upto.any(dim=0)
    if not bool(present.any()):
        return None
    first = torch.where(uses, idx, T).min(dim=0).values
    newest = torch.where(upto, idx[: stage + 1], -1).max(dim=0).values
    owner = newest if cfg.tied_parameters == "newest-layer" else first
    if phase == 0:
        mult = ((owner == stage) & present).to(torch.float64)
    else:
        mult = torch.where(present, cfg.layer_decay ** (stage - owner).clamp(min=0).double(), torch.zeros(()).double())
    if not bool((mult > 0).any()):
        return None
    mult = mult.to(use.param.dtype)
    return mult.reshape(use.param.shape) if use.per_entry else mult.reshape(())


# -- the trainer ------------------------------------------------------------------------------
@dataclass
class PhaseSummary:
    """How one phase went: iterations run, best validation NMSE (dB) and the iteration it was reached."""

    stage: int
    phase: int
    lr: float
    iterations: int
    best_iteration: int  # the last iteration that restarted the patience window
    start_nmse_db: float
    best_nmse_db: float
    stopped_by: str
    seconds: float


class StagewiseTrainer:
    """Trains the network of an :class:`ExperimentConfig` layer by layer (see the module docstring)."""

    def __init__(self, config: ExperimentConfig, *, progress: bool = True, log: Callable[[str], None] = print,
                 validation: SignalBatch | None = None) -> None:
        self.config = config
        self.cfg: StagewiseConfig = config.training.stagewise
        self.progress = progress
        self.log = log
        self.run_dir = config.run_dir
        self.net, self.splits, self.device = build_for_training(config)
        self.validation = (validation if validation is not None else self.splits.validation).to(self.device)
        self.uses = parameter_usage(self.net)
        self.phase_factors = [self.cfg.new_layer_lr_factor, *self.cfg.finetune_lr_factors]
        # position
        self.stage, self.phase, self.phase_iteration, self.iteration = 0, 0, 0, 0
        self.phase_best = math.inf
        self.phase_start = math.inf
        self.phase_best_iteration = 0
        self.phase_best_state: dict[str, Tensor] | None = None
        self.phase_seconds = 0.0
        self.seconds = 0.0
        self.summaries: list[PhaseSummary] = []
        self.curve: list[dict[str, float]] = []
        self.finished = False
        self._setup_phase()

    @property
    def num_layers(self) -> int:
        return self.net.num_layers

    @property
    def phases_per_stage(self) -> int:
        return len(self.phase_factors)

    # -- phases ----------------------------------------------------------------------------------
    def _setup_phase(self) -> None:
        """Optimizer and multipliers of the current (stage, phase)."""
        self.multipliers: list[tuple[nn.Parameter, Tensor | None]] = []
        for use in self.uses:
            mult = lr_multiplier(use, self.stage, self.phase, self.cfg)
            if mult is None:
                continue
            uniform = bool((mult == 1).all())
            self.multipliers.append((use.param, None if uniform else mult.to(self.device)))
        self.lr = self.config.training.lr * self.phase_factors[self.phase]
        params = [p for p, _ in self.multipliers]
        self.optimizer = make_optimizer(params, self.config.training) if params else None
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr

    def validate(self) -> float:
        value = nmse_per_layer(self.net, self.validation, depth=self.stage + 1)[-1]
        return value if math.isfinite(value) else math.inf

    def train_step(self) -> float:
        tcfg = self.config.training
        assert self.optimizer is not None
        loss = training_loss(self.net, self.splits.next_batch(tcfg.batch_size).to(self.device), tcfg, depth=self.stage + 1)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg.grad_clip:
            nn.utils.clip_grad_norm_([p for p, _ in self.multipliers], tcfg.grad_clip)
        old = [(p, p.detach().clone(), m) for p, m in self.multipliers if m is not None]
        self.optimizer.step()
        with torch.no_grad():
            for p, before, m in old:
                p.copy_(before + m * (p - before))
        return float(loss.detach())

    def _end_phase(self, stopped_by: str) -> None:
        if self.cfg.restore_best and self.phase_best_state is not None:
            self.net.load_state_dict(self.phase_best_state)
        self.summaries.append(PhaseSummary(
            stage=self.stage, phase=self.phase, lr=self.lr, iterations=self.phase_iteration,
            best_iteration=self.phase_best_iteration, start_nmse_db=self.phase_start,
            best_nmse_db=self.phase_best, stopped_by=stopped_by, seconds=self.phase_seconds,
        ))
        self.phase += 1
        if self.phase == self.phases_per_stage:
            self.phase, self.stage = 0, self.stage + 1
        self.phase_iteration, self.phase_best_iteration, self.phase_seconds = 0, 0, 0.0
        self.phase_best, self.phase_start, self.phase_best_state = math.inf, math.inf, None
        if self.stage == self.num_layers:
            self.finished = True
        else:
            self._setup_phase()
        self._save_last()

    # -- checkpoints -----------------------------------------------------------------------------
    def _config_dict(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def _save_last(self) -> None:
        save_checkpoint(self.run_dir / "last.pt", {
            "config": self._config_dict(),
            "protocol": "stagewise",
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict() if (self.optimizer is not None and not self.finished) else {},
            "position": [self.stage, self.phase, self.phase_iteration, self.iteration],
            "phase_best": [self.phase_best, self.phase_start, self.phase_best_iteration],
            "phase_best_model": self.phase_best_state if self.phase_best_state is not None else {},
            "generator": self.splits.train_generator.get_state(),
            "seconds": [self.seconds, self.phase_seconds],
            "summaries": [s.__dict__ for s in self.summaries],
            "curve": self.curve,
            "finished": self.finished,
        })

    def resume(self) -> bool:
        """Restore the state saved in ``last.pt``; False when there is none."""
        ignore = {"training": {"iterations": True, "stagewise": {"max_iterations": True, "checkpoint_every": True}}}
        state = load_resume_state(self.run_dir / "last.pt", self.config, ignore)
        if state is None:
            return False
        self.net.load_state_dict(state["model"])
        self.stage, self.phase, self.phase_iteration, self.iteration = (int(v) for v in state["position"])
        best, start, best_it = state["phase_best"]
        self.phase_best, self.phase_start, self.phase_best_iteration = float(best), float(start), int(best_it)
        self.phase_best_state = state["phase_best_model"] or None
        self.splits.train_generator.set_state(state["generator"])
        self.seconds, self.phase_seconds = (float(v) for v in state["seconds"])
        self.summaries = [PhaseSummary(**s) for s in state["summaries"]]
        self.curve = list(state["curve"])
        self.finished = bool(state["finished"])
        if not self.finished:
            self._setup_phase()
            if state["optimizer"] and self.optimizer is not None:
                self.optimizer.load_state_dict(state["optimizer"])
        return True

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Train all stages (or stop after ``stop_after`` more iterations in total, leaving a
        resumable ``last.pt``); then evaluate the network on the test set."""
        cfg = self.cfg
        end = math.inf if stop_after is None else self.iteration + stop_after
        bar = tqdm(total=None, disable=not self.progress, desc=self.config.name, unit="it", dynamic_ncols=True,
                   leave=False, initial=self.iteration)
        tick = time.perf_counter()
        while not self.finished and self.iteration < end:
            if self.phase_iteration == 0 and self.phase_start == math.inf:  # entering a phase
                self.phase_start = self.phase_best = self.validate()
                self.phase_best_state = copy.deepcopy(self.net.state_dict())
                if self.optimizer is None:  # nothing to train in this phase
                    self._end_phase("nothing to train")
                    continue
            loss = self.train_step()
            self.iteration += 1
            self.phase_iteration += 1
            bar.update(1)
            now = time.perf_counter()
            self.seconds += now - tick
            self.phase_seconds += now - tick
            tick = now
            stop = None
            if self.phase_iteration % cfg.validate_every == 0:
                val = self.validate()
                if val < self.phase_best - cfg.min_improvement_db:  # restarts the patience window
                    self.phase_best_iteration = self.phase_iteration
                if val < self.phase_best:
                    self.phase_best = val
                    self.phase_best_state = copy.deepcopy(self.net.state_dict())
                if not math.isfinite(val) or not math.isfinite(loss):
                    warnings.warn(f"{self.config.name}: non-finite loss/NMSE in stage {self.stage} phase {self.phase}; "
                                  "ending the phase with its best parameters", RuntimeWarning, stacklevel=2)
                    self.net.load_state_dict(self.phase_best_state)  # type: ignore[arg-type]
                    stop = "non-finite"
                elif self.phase_iteration - self.phase_best_iteration >= cfg.patience:
                    stop = "patience"
                elif self.phase_iteration >= cfg.max_iterations:
                    stop = "max_iterations"
                bar.set_postfix_str(f"layer {self.stage + 1}/{self.num_layers} phase {self.phase} "
                                    f"val {val:.2f} dB best {self.phase_best:.2f} dB", refresh=False)
            elif self.phase_iteration >= cfg.max_iterations:
                stop = "max_iterations"
            if self.iteration % cfg.checkpoint_every == 0:
                self.curve.append({"iteration": self.iteration, "stage": self.stage, "phase": self.phase,
                                   "loss": loss, "best_validation_nmse_db": self.phase_best})
            if stop:
                self._end_phase(stop)
                tick = time.perf_counter()
            elif self.iteration % cfg.checkpoint_every == 0:
                self._save_last()
        bar.close()
        if not self.finished:
            self._save_last()
        return self.result()

    def result(self) -> TrainResult:
        """Evaluate the current network on the test set (and, when finished, write best.pt/metrics.json)."""
        test = make_test_set(self.net.problem, self.config)
        final = nmse_per_layer(self.net, self.validation)[-1] if self.finished else self.phase_best
        result = TrainResult(
            name=self.config.name,
            run_dir=self.run_dir,
            best_validation_nmse_db=final,
            test_nmse_db=nmse_per_layer(self.net, test.to(self.device)),
            iterations=self.iteration,
            seconds=self.seconds,
            learnable_parameters=count_learnable(self.net),
            history=[s.__dict__ for s in self.summaries],
        )
        if self.finished:
            save_checkpoint(self.run_dir / "best.pt", {"config": self._config_dict(), "model": self.net.state_dict(),
                                                       "iteration": self.iteration, "best": final})
            write_json(self.run_dir / "metrics.json", result.as_dict())
        return result


def train_stagewise(config: ExperimentConfig, *, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train ``config``'s network stage-wise (``resume``: continue from ``last.pt``)."""
    trainer = StagewiseTrainer(config, progress=progress)
    if resume:
        trainer.resume()
    return trainer.fit()
