"""Training, checkpoints (weights-only, atomic), resume and evaluation on a tiny problem."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from hno_framework.api import train
from hno_framework.checkpoint import load_checkpoint, load_network, save_checkpoint
from hno_framework.composer import compose
from hno_framework.config import load_config
from hno_framework.data import make_test_set
from hno_framework.errors import CheckpointError
from hno_framework.evaluation import evaluate_checkpoint, nmse_per_layer
from hno_framework.training import Trainer


def test_training_improves_on_the_initial_network(tiny_config) -> None:
    cfg = load_config(tiny_config(iterations=100), ["training.lr=0.01"])
    net = compose(cfg)
    before = nmse_per_layer(net, make_test_set(net.problem, cfg))[-1]
    result = train(cfg, progress=False)
    assert result.test_nmse_db[-1] < before - 0.5, (before, result.test_nmse_db)
    assert len(result.test_nmse_db) == cfg.network.layers + 1
    assert (cfg.run_dir / "metrics.json").is_file()
    assert not list(cfg.run_dir.glob(".*.tmp")), "atomic writes must not leave temporary files"


def test_checkpoint_carries_config_and_loads_weights_only(tiny_config) -> None:
    cfg = load_config(tiny_config(iterations=10))
    result = train(cfg, progress=False)
    payload = load_checkpoint(cfg.run_dir / "best.pt")
    assert payload["config"]["network"]["integrator"]["name"] == "2no"
    for path in ("best.pt", "last.pt"):  # which distribution provided each component
        providers = load_checkpoint(cfg.run_dir / path)["providers"]
        assert providers["step"]["name"] == "lista" and providers["integrator"]["name"] == "2no"
        assert providers["step"]["plugin"] == providers["integrator"]["plugin"] == "hno-framework"
    _, cfg2 = load_network(cfg.run_dir / "best.pt")
    assert cfg2 == cfg
    report = evaluate_checkpoint(cfg.run_dir / "best.pt")
    assert report.nmse_db == pytest.approx(result.test_nmse_db, abs=1e-6)


def test_resume_continues_exactly(tiny_config, tmp_path: Path) -> None:
    straight = load_config(tiny_config("straight", iterations=20))
    a = train(straight, progress=False)
    split = load_config(tiny_config("split", iterations=20))
    Trainer(split, progress=False).fit(stop_after=10)  # as if killed after iteration 10
    resumed = Trainer(split, progress=False)
    assert resumed.resume() and resumed.iteration == 10
    b = resumed.fit()
    assert b.iterations == 20
    assert b.test_nmse_db == pytest.approx(a.test_nmse_db, abs=1e-5)


def test_resume_refuses_a_different_config(tiny_config) -> None:
    cfg = load_config(tiny_config(iterations=5))
    train(cfg, progress=False)
    other = load_config(tiny_config(iterations=5), ["network.layers=4"])
    with pytest.raises(CheckpointError, match="different config"):
        Trainer(other, progress=False).resume()


def test_checkpoints_that_would_run_code_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"config": {}, "model": Evil()}, fh)
    with pytest.raises(CheckpointError, match=r"not an hno-framework checkpoint|cannot read checkpoint"):
        load_checkpoint(path)
    torch.save({"config": {}, "model": Evil()}, tmp_path / "evil-zip.pt")  # a real torch archive with a payload
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "evil-zip.pt")
    assert "pwned" not in capsys.readouterr().out
    torch.save({"nothing": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an hno-framework checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"config": {"a": 1}, "model": {"w": torch.ones(2)}})
    # pickle refuses a lambda: PicklingError, or AttributeError for a local object before Python 3.14
    with pytest.raises((pickle.PicklingError, AttributeError), match=r"(?i)can't pickle"):
        save_checkpoint(path, {"config": {"a": 2}, "model": {"w": lambda: None}})
    assert load_checkpoint(path)["config"] == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_a_network_without_parameters_is_evaluated_not_trained(tiny_config) -> None:
    cfg = load_config(tiny_config(integrator="euler", iterations=10), ["network.step=ista"])
    result = train(cfg, progress=False)
    assert result.iterations == 0 and result.learnable_parameters == 0
    net = compose(cfg)
    assert result.test_nmse_db == pytest.approx(nmse_per_layer(net, make_test_set(net.problem, cfg)))
    assert evaluate_checkpoint(cfg.run_dir / "best.pt").nmse_db == pytest.approx(result.test_nmse_db)


def test_train_dispatches_the_stagewise_protocol(tiny_config) -> None:
    stagewise = ["training.protocol=stagewise", "training.stagewise.patience=10",
                 "training.stagewise.max_iterations=20", "training.stagewise.validate_every=5"]
    a = train(load_config(tiny_config("via-train"), stagewise), progress=False)
    trainer = Trainer(load_config(tiny_config("direct"), stagewise), progress=False)
    b = trainer.fit()
    assert trainer.protocol.name == "stagewise"
    assert a.iterations == b.iterations > 0
    assert a.test_nmse_db == pytest.approx(b.test_nmse_db)


def test_a_last_pt_of_the_earlier_trainer_still_resumes(tiny_config) -> None:
    """Checkpoints written before the training package (flat keys: iteration, best, best_model, ...) resume."""
    from hno_framework.checkpoint import save_checkpoint as save

    straight = train(load_config(tiny_config("straight-v1", iterations=20)), progress=False)
    cfg = load_config(tiny_config("old-format", iterations=20))
    Trainer(cfg, progress=False).fit(stop_after=10)
    new = load_checkpoint(cfg.run_dir / "last.pt")
    save(cfg.run_dir / "last.pt", {  # the ≤ 0.1 end-to-end layout, written by hand
        "config": new["config"], "model": new["model"], "optimizer": new["optimizer"], "scheduler": {},
        "iteration": 10, "generator": new["generator"], "best": new["loop"]["phase_best"],
        "best_model": new["best_model"], "history": new["history"],
    })
    resumed = Trainer(cfg, progress=False)
    assert resumed.resume() and resumed.iteration == 10
    assert resumed.fit().test_nmse_db == pytest.approx(straight.test_nmse_db, abs=1e-5)


def test_nonfinite_name_finds_nan_and_inf_and_passes_finite_entries_whose_sum_overflows(tiny_config) -> None:
    from hno_framework.training.loop import nonfinite_name

    net = compose(load_config(tiny_config("nonfinite")))
    params = [p for p in net.parameters() if p.dtype.is_floating_point]
    for p in params:
        p.grad = torch.ones_like(p)
    assert nonfinite_name(net, params, grad=True) is None
    last = max(params, key=lambda p: p.numel())
    assert last.numel() > 1
    last.grad = torch.full_like(last, torch.finfo(last.dtype).max)  # every entry finite; the sum overflows to inf
    assert nonfinite_name(net, params, grad=True) is None
    names = {id(p): n for n, p in net.named_parameters()}
    for bad in (float("nan"), float("inf"), float("-inf")):
        last.grad = torch.ones_like(last)
        last.grad[tuple(size - 1 for size in last.shape)] = bad
        found = nonfinite_name(net, params, grad=True)
        assert found is not None and found.startswith(names[id(last)]), (bad, found)
    assert nonfinite_name(net, params) is None  # the parameters themselves are finite


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config) -> None:
    from hno_framework.errors import TrainingDivergedError

    cfg = load_config(tiny_config("diverge", iterations=40), ["training.lr=1e6", "training.validate_every=5"])
    with pytest.raises(TrainingDivergedError, match=r"diverged at iteration \d+.*not finite"):
        train(cfg, progress=False)
    best = load_checkpoint(cfg.run_dir / "best.pt")
    assert all(torch.isfinite(v).all() for v in best["model"].values())
    assert best["best"] is not None
