"""The stage-wise (layer-wise) protocol of LISTA-CPSS (Chen et al. 2018), which the seed follows.

Layers are added one at a time. *Stage* k trains the network cut at depth k + 1
(``network.unroll(y, depth=k + 1)``) on ``MSE(x_{k+1}, x*)`` (+ the steps' auxiliary losses) in
*phases*:

* phase 0: only the parameters of the new layer k, learning rate ``lr · new_layer_lr_factor``;
* phase i ≥ 1: all layers so far, at ``lr · finetune_lr_factors[i − 1]`` (LISTA-CPSS: 0.2, 0.02),
  the parameters of layer j scaled by a further ``layer_decay^(k − j)`` (LISTA-CPSS: 0.3).

A phase ends when the validation NMSE at the current depth (``validate_every`` iterations apart)
has not improved (by more than ``min_improvement_db``) for ``patience`` iterations, or after
``max_iterations``; with ``restore_best`` its best validated parameters are then restored. Each
phase has a fresh optimizer (as in LISTA-CPSS). Which layer owns a parameter, and the per-entry
multipliers, come from :mod:`.ownership`. The multipliers scale the optimizer's *update*
(``p ← p_old + m ⊙ (p_new − p_old)``): for Adam, AdamW and SGD exactly a per-entry learning rate.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from ..config import ExperimentConfig
from ..network import UnrolledNetwork
from .ownership import lr_multiplier, parameter_usage
from .protocols import Phase, TrainingProtocol


class Stagewise(TrainingProtocol):
    """T stages × (1 + len(finetune_lr_factors)) phases; see the module docstring."""

    name = "stagewise"
    resume_ignore: ClassVar[dict[str, Any]] = {
        "training": {"iterations": True, "stagewise": {"max_iterations": True, "checkpoint_every": True}}
    }

    def __init__(self, config: ExperimentConfig, net: UnrolledNetwork) -> None:
        super().__init__(config, net)
        self.cfg = config.training.stagewise
        self.factors = [self.cfg.new_layer_lr_factor, *self.cfg.finetune_lr_factors]
        self.uses = parameter_usage(net)

    @property
    def phases_per_stage(self) -> int:
        return len(self.factors)

    @property
    def num_phases(self) -> int:
        return self.net.num_layers * self.phases_per_stage

    def phase(self, index: int) -> Phase:
        stage, step = divmod(index, self.phases_per_stage)
        multipliers: list[tuple[nn.Parameter, Tensor | None]] = []
        for use in self.uses:
            mult = lr_multiplier(use, stage, step, self.cfg)
            if mult is not None:
                multipliers.append((use.param, None if bool((mult == 1).all()) else mult))
        cfg = self.cfg
        return Phase(
            index=index, stage=stage, step=step, depth=stage + 1, lr=self.config.training.lr * self.factors[step],
            multipliers=multipliers, max_iterations=cfg.max_iterations, validate_every=cfg.validate_every,
            checkpoint_every=cfg.checkpoint_every, record_every=cfg.checkpoint_every, patience=cfg.patience,
            min_improvement_db=cfg.min_improvement_db, write_best=False, on_nonfinite="end-phase",
            restore_best=cfg.restore_best, label=f"layer {stage + 1}/{self.net.num_layers} phase {step}",
        )
