"""End-to-end training of an unrolled network on fresh synthetic batches.

Loss: ``MSE(x_T, x*) + w · Σ aux`` (aux: the steps' auxiliary losses, e.g. ISTA-Net's symmetry
loss; w = ``training.aux_loss_weight``). Every ``validate_every`` iterations the final-layer
NMSE on the fixed validation set is measured; the best network is saved to ``best.pt`` and
the full training state to ``last.pt`` (atomic writes). ``resume=True`` continues from
``last.pt`` with the same optimizer, schedule, RNG stream and best-so-far.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import load_resume_state, save_checkpoint, write_json
from .composer import compose
from .config import ExperimentConfig, TrainingConfig
from .data import DataSplits, make_splits, make_test_set
from .evaluation import nmse_per_layer
from .network import UnrolledNetwork, count_learnable
from .problems.base import SignalBatch


@dataclass
class TrainResult:
    """Outcome of :func:`train`: best validation NMSE (dB, final layer), test NMSE per layer, paths."""

    name: str
    run_dir: Path
    best_validation_nmse_db: float
    test_nmse_db: list[float]
    iterations: int
    seconds: float
    learnable_parameters: int
    history: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["run_dir"] = str(self.run_dir)
        return d


def make_optimizer(params: Any, cfg: TrainingConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9)


def lr_factor(cfg: TrainingConfig, iteration: int) -> float:
    """Learning-rate multiplier at ``iteration``: ``constant`` 1; ``cosine`` from 1 down to 0.01 over
    ``training.iterations``; ``step`` ×0.1 at 50 % and again at 75 % of the iterations."""
    progress = min(iteration / cfg.iterations, 1.0)
    if cfg.schedule == "cosine":
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.schedule == "step":
        return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
    return 1.0


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainingConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A stateless schedule (:func:`lr_factor`), so a resumed run may change ``training.iterations``."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda it: lr_factor(cfg, it))


def build_for_training(config: ExperimentConfig) -> tuple[UnrolledNetwork, DataSplits, torch.device]:
    """The network (on ``training.device``), its data splits and the device; applies ``training.threads``."""
    tcfg = config.training
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = torch.device(tcfg.device)
    net = compose(config).to(device)
    return net, make_splits(net.problem, config), device


def training_loss(net: UnrolledNetwork, batch: SignalBatch, cfg: TrainingConfig, depth: int | None = None) -> torch.Tensor:
    """``MSE(x_depth, x*) + aux_loss_weight · Σ aux`` on one batch (depth: all layers by default)."""
    out = net.unroll(batch.y, depth=depth)
    return nn.functional.mse_loss(out.estimate, batch.x) + cfg.aux_loss_weight * out.aux_loss


class Trainer:
    """Trains the network an :class:`ExperimentConfig` describes; see the module docstring."""

    def __init__(self, config: ExperimentConfig, *, progress: bool = True, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.progress = progress
        self.log = log
        self.run_dir = config.run_dir
        tcfg = config.training
        self.net, self.splits, self.device = build_for_training(config)
        self.validation = self.splits.validation.to(self.device)
        learnable = [p for p in self.net.parameters() if p.requires_grad]
        # A network with nothing to learn (e.g. plain ISTA) is evaluated as built: zero iterations.
        self.trainable = bool(learnable)
        self.optimizer = make_optimizer(learnable if learnable else [torch.zeros(0, requires_grad=True)], tcfg)
        self.scheduler = make_scheduler(self.optimizer, tcfg)
        self.iteration = 0
        self.best = float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []

    # -- checkpoints -------------------------------------------------------------------------
    def _config_dict(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def _save_last(self) -> None:
        save_checkpoint(self.run_dir / "last.pt", {
            "config": self._config_dict(),
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "iteration": self.iteration,
            "generator": self.splits.train_generator.get_state(),
            "best": self.best,
            "best_model": self.best_state if self.best_state is not None else self.net.state_dict(),
            "history": self.history,
        })

    def resume(self) -> bool:
        """Restore the state saved in ``last.pt``; False when there is none."""
        state = load_resume_state(self.run_dir / "last.pt", self.config, {"training": {"iterations": True}})
        if state is None:
            return False
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.splits.train_generator.set_state(state["generator"])
        self.iteration = int(state["iteration"])
        self.best = float(state["best"])
        self.best_state = state["best_model"]
        self.history = list(state["history"])
        return True

    # -- the loop ------------------------------------------------------------------------------
    def validate(self) -> float:
        return nmse_per_layer(self.net, self.validation)[-1]

    def train_step(self) -> float:
        tcfg = self.config.training
        loss = training_loss(self.net, self.splits.next_batch(tcfg.batch_size).to(self.device), tcfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), tcfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach())

    def fit(self, stop_at: int | None = None) -> TrainResult:
        """Train until ``training.iterations`` (or until ``stop_at``, leaving a resumable ``last.pt``),
        then evaluate the best network on the test set."""
        tcfg = self.config.training
        end = tcfg.iterations if stop_at is None else min(stop_at, tcfg.iterations)
        if not self.trainable:
            self.log(f"{self.config.name}: no learnable parameters; evaluating the network as built")
            end = self.iteration
            self.best = self.validate()
            save_checkpoint(self.run_dir / "best.pt", {"config": self._config_dict(), "model": self.net.state_dict(),
                                                       "iteration": self.iteration, "best": self.best})
        start = time.perf_counter()
        bar = tqdm(total=tcfg.iterations, initial=self.iteration, disable=not self.progress,
                   desc=self.config.name, unit="it", dynamic_ncols=True, leave=False)
        loss = float("nan")
        while self.iteration < end:
            loss = self.train_step()
            self.iteration += 1
            bar.update(1)
            if self.iteration % tcfg.validate_every == 0 or self.iteration == end:
                val = self.validate()
                self.history.append({"iteration": self.iteration, "loss": loss, "validation_nmse_db": val})
                if val < self.best:
                    self.best = val
                    self.best_state = copy.deepcopy(self.net.state_dict())
                    save_checkpoint(self.run_dir / "best.pt", {"config": self._config_dict(), "model": self.best_state,
                                                               "iteration": self.iteration, "best": val})
                self._save_last()
                bar.set_postfix(loss=f"{loss:.2e}", val=f"{val:.2f}dB", best=f"{self.best:.2f}dB")
        bar.close()
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)  # the test set judges the best network
        test = make_test_set(self.net.problem, self.config)
        result = TrainResult(
            name=self.config.name,
            run_dir=self.run_dir,
            best_validation_nmse_db=self.best,
            test_nmse_db=nmse_per_layer(self.net, test.to(self.device)),
            iterations=self.iteration,
            seconds=time.perf_counter() - start,
            learnable_parameters=count_learnable(self.net),
            history=self.history,
        )
        write_json(self.run_dir / "metrics.json", result.as_dict())
        return result


def train(config: ExperimentConfig, *, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train (or, with ``resume``, continue training) the experiment ``config`` describes, with its
    ``training.protocol``: end to end here, or stage-wise (:mod:`hno_framework.experiments.stagewise`)."""
    if config.training.protocol == "stagewise":
        from .experiments.stagewise import train_stagewise

        return train_stagewise(config, resume=resume, progress=progress)
    trainer = Trainer(config, progress=progress)
    if resume:
        trainer.resume()
    return trainer.fit()
