"""Warm start (training.init_from, hno train --init-from): a trained LISTA into 2NO-LISTA copies every step and
problem tensor; with the integrator at its Euler values the new network computes what the LISTA did; a mismatch
is one Error: line naming the keys; the checkpoints record where the run started from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hno_framework.api import train
from hno_framework.checkpoint import load_checkpoint, load_network
from hno_framework.cli import cli
from hno_framework.composer import compose
from hno_framework.config import parse_config
from hno_framework.errors import ConfigError
from hno_framework.warm_start import set_to_euler, warm_start


def config(tmp_path: Path, name: str, step: str = "lista", integrator: str = "euler", iterations: int = 15,
           **training: object) -> dict:
    return {"name": name, "problem": {"kind": "lasso", "m": 10, "n": 20, "sparsity": 0.2, "seed": 3},
            "network": {"step": step, "integrator": integrator, "layers": 3},
            "training": {"iterations": iterations, "batch_size": 16, "validate_every": 5, "validation_size": 64,
                         "test_size": 64, "lr": 0.01, **training},
            "output": {"dir": str(tmp_path / "runs")}}


@pytest.fixture
def trained_lista(tmp_path: Path) -> Path:
    train(config(tmp_path, "lista"), progress=False)  # train() takes a plain dict
    return tmp_path / "runs" / "lista" / "best.pt"


def test_lista_into_2no_lista_at_euler_values_computes_the_lista(tmp_path: Path, trained_lista: Path) -> None:
    source, _ = load_network(trained_lista)
    net = compose(parse_config(config(tmp_path, "warm", integrator="2no")))
    fresh = {k: v.clone() for k, v in net.state_dict().items()}
    record = warm_start(net, trained_lista, "euler")
    assert record == {"path": str(trained_lista), "sha256": hashlib.sha256(trained_lista.read_bytes()).hexdigest()}
    for key, value in source.state_dict().items():
        if not key.startswith("integrator."):
            assert torch.equal(net.state_dict()[key], value), key
    assert not torch.equal(net.state_dict()["layers.0.W"], fresh["layers.0.W"])  # something was copied
    y = torch.randn(32, 10)
    with torch.no_grad():
        torch.testing.assert_close(net.trajectory(y), source.trajectory(y), rtol=1e-5, atol=1e-6)


def test_own_integrator_init_keeps_the_schemes_initial_coefficients(tmp_path: Path, trained_lista: Path) -> None:
    net = compose(parse_config(config(tmp_path, "warm", integrator="2no")))
    before = {k: v.clone() for k, v in net.integrator.state_dict().items()}
    warm_start(net, trained_lista, "own")
    after = net.integrator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(after["beta"], torch.zeros_like(after["beta"]))  # 2NO's own init is not Euler


def test_mismatched_steps_are_one_error_naming_the_keys(tmp_path: Path, trained_lista: Path) -> None:
    net = compose(parse_config(config(tmp_path, "warm", step="alista", integrator="2no")))
    with pytest.raises(ConfigError) as info:
        warm_start(net, trained_lista)
    message = str(info.value)
    assert "\n" not in message
    assert "layers.0.W_analytic" in message and "layers.0.W" in message and "layers.0.gamma" in message
    res = CliRunner().invoke(cli, ["train", "--no-progress", "--init-from", str(trained_lista),
                                   "--set", "network.step=alista", str(_yaml(tmp_path, "bad", integrator="2no"))])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "layers.0.W_analytic" in errors[0]


def test_a_different_problem_is_an_error_naming_its_tensor(tmp_path: Path, trained_lista: Path) -> None:
    cfg = config(tmp_path, "warm", integrator="2no")
    cfg["problem"]["m"] = 12
    with pytest.raises(ConfigError, match=r"problem\.phi"):
        warm_start(compose(parse_config(cfg)), trained_lista)


def test_a_scheme_without_euler_values_is_a_clear_error(tmp_path: Path) -> None:
    net = compose(parse_config(config(tmp_path, "rk", integrator="rk4")))
    with pytest.raises(ConfigError, match="no forward-Euler reference"):
        set_to_euler(net.integrator)


def test_hno_train_init_from_records_the_source_and_trains(tmp_path: Path, trained_lista: Path) -> None:
    res = CliRunner().invoke(cli, ["train", "--no-progress", "--init-from", str(trained_lista), "--init-integrator",
                                   "euler", str(_yaml(tmp_path, "warm", integrator="2no", iterations=5))])
    assert res.exit_code == 0, res.output
    digest = hashlib.sha256(trained_lista.read_bytes()).hexdigest()
    for name in ("best.pt", "last.pt"):
        payload = load_checkpoint(tmp_path / "runs" / "warm" / name)
        assert payload["init_from"] == {"path": str(trained_lista), "sha256": digest}
        assert payload["config"]["training"]["init_from"] == str(trained_lista)
        assert payload["config"]["training"]["init_integrator"] == "euler"


def test_train_accepts_a_config_a_dict_or_a_path_and_a_network(tmp_path: Path) -> None:
    from hno_framework.config import ExperimentConfig

    as_dict = config(tmp_path, "d", iterations=5)
    path = _yaml(tmp_path, "p", iterations=5)
    results = [train(as_dict, progress=False), train(str(path), progress=False),
               train(parse_config(config(tmp_path, "c", iterations=5)), progress=False)]
    assert [r.name for r in results] == ["d", "p", "c"]
    assert results[0].test_nmse_db == results[2].test_nmse_db  # same problem, seed and budget
    assert isinstance(parse_config(as_dict), ExperimentConfig)
    own = compose(parse_config(config(tmp_path, "mine", integrator="2no")))
    with torch.no_grad():
        own.layers[0].theta.fill_(5.0)  # a network of one's own: trained as given, not recomposed
    assert abs(compose(parse_config(config(tmp_path, "mine", integrator="2no"))).layers[0].theta.item() - 5.0) > 1
    train(config(tmp_path, "mine", integrator="2no", iterations=1), network=own, progress=False)
    saved = load_checkpoint(tmp_path / "runs" / "mine" / "best.pt")["model"]["layers.0.theta"]
    assert abs(saved.item() - 5.0) < 0.1  # one Adam step of lr 0.01 from 5.0


def _yaml(tmp_path: Path, name: str, **kw: object) -> Path:
    import yaml

    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config(tmp_path, name, **kw)))  # type: ignore[arg-type]
    return path
