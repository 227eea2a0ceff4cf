"""Stage-wise (LISTA-CPSS) training: parameter ownership, per-entry learning rates, patience, resume."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hno_framework.composer import compose
from hno_framework.config import StagewiseConfig, parse_config
from hno_framework.data import make_test_set
from hno_framework.evaluation import nmse_per_layer
from hno_framework.training import Trainer, lr_multiplier, parameter_usage


def tiny_config(tmp_path: Path, *, integrator: object = "2no", tied: bool = True, layers: int = 3, **stagewise):
    options = {"patience": 30, "max_iterations": 300, "validate_every": 5, "checkpoint_every": 25, **stagewise}
    return parse_config({
        "name": "stagewise-tiny",
        "problem": {"kind": "lasso", "m": 10, "n": 20, "sparsity": 0.2, "lam": 0.1, "seed": 3},
        "network": {"step": "lista", "integrator": integrator, "layers": layers, "tied": tied},
        "training": {"protocol": "stagewise", "lr": 0.002, "batch_size": 16, "validation_size": 64,
                     "test_size": 64, "threads": 1, "stagewise": options},
        "output": {"dir": str(tmp_path / "runs")},
    })


def usage_by_name(net):
    return {u.name: u for u in parameter_usage(net)}


def test_integrator_coefficients_belong_to_the_layer_that_uses_them(tmp_path: Path) -> None:
    net = compose(tiny_config(tmp_path, layers=4))
    uses = usage_by_name(net)
    # 2NO: α_{i} and β_{i} are applied by layer i + 1 only (layer 0 is Euler).
    for name in ("integrator.alpha", "integrator.beta"):
        assert uses[name].uses.tolist() == [[False] * 3, [True, False, False], [False, True, False], [False, False, True]]
    # a tied W is used by every layer; each θ_t by its own layer
    assert uses["layers.0.W"].uses.tolist() == [True] * 4
    assert uses["layers.2.theta"].uses.tolist() == [False, False, True, False]


def test_usage_of_three_step_schemes(tmp_path: Path) -> None:
    net = compose(tiny_config(tmp_path, integrator="3no", layers=5))
    beta2 = usage_by_name(net)["integrator.beta2"].uses  # β²_i is first used by layer i + 2
    assert beta2.tolist() == [[False] * 3, [False] * 3, [True, False, False], [False, True, False], [False, False, True]]
    lm = compose(tiny_config(tmp_path, integrator={"name": "lm", "options": {"past_states": 3}}, layers=4))
    h = usage_by_name(lm)["integrator.h"].uses
    assert torch.equal(h, torch.eye(4, dtype=torch.bool))  # one step size h_t per layer


@pytest.mark.parametrize("rule", ["newest-layer", "first-layer"])
def test_learning_rate_multipliers(tmp_path: Path, rule: str) -> None:
    net = compose(tiny_config(tmp_path, layers=4))
    cfg = StagewiseConfig(tied_parameters=rule, layer_decay=0.3)
    uses = usage_by_name(net)
    stage = 2
    # phase 0: the new layer's θ and its 2NO coefficients only
    assert lr_multiplier(uses["layers.2.theta"], stage, 0, cfg).item() == 1.0
    assert lr_multiplier(uses["layers.0.theta"], stage, 0, cfg) is None
    assert lr_multiplier(uses["layers.3.theta"], stage, 1, cfg) is None  # not in the network yet
    assert lr_multiplier(uses["integrator.alpha"], stage, 0, cfg).tolist() == [0.0, 1.0, 0.0]
    # fine-tuning phases: layer j scaled by 0.3^(stage − j); layers beyond the stage frozen
    assert lr_multiplier(uses["layers.0.theta"], stage, 1, cfg).item() == pytest.approx(0.09)
    assert lr_multiplier(uses["integrator.beta"], stage, 2, cfg).tolist() == pytest.approx([0.3, 1.0, 0.0])
    w0, w1 = lr_multiplier(uses["layers.0.W"], stage, 0, cfg), lr_multiplier(uses["layers.0.W"], stage, 1, cfg)
    if rule == "newest-layer":  # the tied W trains with every new layer, never decayed
        assert w0.item() == 1.0 and w1.item() == 1.0
    else:  # as in the LISTA-CPSS code: owned by layer 0
        assert w0 is None and w1.item() == pytest.approx(0.09)


def test_phase_zero_updates_only_the_new_layer(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, layers=4, tied=False), progress=False)
    trainer.enter_phase(2 * 3)  # stage 2, phase 0 (3 phases per stage)
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    trainer.train_step()
    after = trainer.net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"layers.2.W", "layers.2.theta", "integrator.alpha", "integrator.beta"}
    for name in ("integrator.alpha", "integrator.beta"):  # per-entry: only the entry of layer 2 moved
        moved = (before[name] != after[name]).tolist()
        assert moved == [False, True, False]


def test_stagewise_training_reduces_nmse_and_respects_patience(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, patience=30, validate_every=5, max_iterations=300)
    initial = compose(config)
    test = make_test_set(initial.problem, config)
    start_nmse = nmse_per_layer(initial, test)[-1]
    trainer = Trainer(config, progress=False)
    result = trainer.fit()
    assert trainer.finished
    assert result.test_nmse_db[-1] < start_nmse - 1.0
    cfg = config.training.stagewise
    assert [(s.stage, s.phase) for s in trainer.summaries] == [(k, p) for k in range(3) for p in range(3)]
    for s in trainer.summaries:
        assert s.iterations <= cfg.max_iterations
        assert s.best_nmse_db <= s.start_nmse_db  # restore_best: a phase never ends worse
        if s.stopped_by == "patience":
            waited = s.iterations - s.best_iteration
            assert cfg.patience <= waited < cfg.patience + cfg.validate_every
        else:
            assert s.stopped_by == "max_iterations" and s.iterations == cfg.max_iterations
    # the next phase of a stage starts where the previous one's best left off
    for prev, nxt in itertools.pairwise(trainer.summaries):
        if prev.stage == nxt.stage:
            assert nxt.start_nmse_db == pytest.approx(prev.best_nmse_db, abs=1e-6)
    assert (tmp_path / "runs" / "stagewise-tiny" / "best.pt").is_file()


def test_max_iterations_caps_a_phase(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, patience=10_000, max_iterations=12, validate_every=5, layers=2),
                               progress=False)
    trainer.fit()
    assert all(s.iterations == 12 and s.stopped_by == "max_iterations" for s in trainer.summaries)
    assert trainer.iteration == 2 * 3 * 12


def test_resume_continues_exactly(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "a", patience=20, max_iterations=80, layers=2)
    full = Trainer(config, progress=False)
    full.fit()
    other = tiny_config(tmp_path / "b", patience=20, max_iterations=80, layers=2)
    first = Trainer(other, progress=False)
    first.fit(stop_after=137)  # killed in the middle of a phase
    assert not first.finished and first.iteration == 137
    second = Trainer(other, progress=False)
    assert second.resume()
    assert second.iteration == 137  # fit() checkpoints where it stops
    second.fit()
    assert second.finished and second.iteration == full.iteration
    for key, value in full.net.state_dict().items():
        torch.testing.assert_close(second.net.state_dict()[key], value)


def test_resume_refuses_another_config(tmp_path: Path) -> None:
    from hno_framework.errors import CheckpointError

    trainer = Trainer(tiny_config(tmp_path, layers=2), progress=False)
    trainer.fit(stop_after=10)
    changed = Trainer(tiny_config(tmp_path, layers=2, patience=7), progress=False)
    with pytest.raises(CheckpointError, match="different config"):
        changed.resume()


def corrupted_after_seven_steps(tmp_path: Path, corrupt: Callable[[Trainer], None]) -> Trainer:
    """A one-layer stage-wise trainer whose ``corrupt(trainer)`` runs after each training step from the 7th on."""
    trainer = Trainer(tiny_config(tmp_path, layers=1, patience=1000, max_iterations=50), progress=False)
    original = trainer.train_step

    def exploding() -> float:
        loss = original()
        if trainer.phase_iteration >= 7:
            with torch.no_grad():
                corrupt(trainer)
        return loss

    trainer.train_step = exploding  # type: ignore[method-assign]
    return trainer


def test_non_finite_validation_ends_the_phase_with_its_best(tmp_path: Path) -> None:
    trainer = corrupted_after_seven_steps(tmp_path, lambda t: t.net.layers[0].theta.fill_(math.nan))
    with pytest.warns(RuntimeWarning, match="non-finite"):
        trainer.fit()
    assert trainer.summaries[0].stopped_by == "non-finite"
    assert torch.isfinite(trainer.net.layers[0].theta)


def test_a_finite_blow_up_ends_the_phase_with_its_best(tmp_path: Path) -> None:
    # finite, but the output is 80 dB off
    trainer = corrupted_after_seven_steps(tmp_path, lambda t: t.net.layers[0].W.mul_(1e4))
    with pytest.warns(RuntimeWarning, match=r"the validation NMSE is \+\d.*first layer above .* is layer 1"):
        trainer.fit()
    assert trainer.summaries[0].stopped_by == "diverged"
    assert trainer.summaries[0].best_nmse_db <= trainer.summaries[0].start_nmse_db
    assert trainer.validate(1) < 0


def test_min_improvement_ends_creeping_phases(tmp_path: Path) -> None:
    # no improvement can beat the best by 100 dB: every phase stops once patience has elapsed,
    # yet the best parameters of each phase are still kept
    trainer = Trainer(tiny_config(tmp_path, layers=2, patience=20, validate_every=5, max_iterations=300,
                                           min_improvement_db=100.0), progress=False)
    trainer.fit()
    assert all(s.iterations == 20 and s.best_iteration == 0 and s.stopped_by == "patience" for s in trainer.summaries)
    assert trainer.summaries[0].best_nmse_db < trainer.summaries[0].start_nmse_db
