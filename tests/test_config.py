"""Config loading and validation: YAML and TOML, strict keys, overrides, component options."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hno_framework.composer import compose
from hno_framework.config import ExperimentConfig, load_config, parse_config
from hno_framework.errors import ConfigError, UnknownComponentError

YAML = """
name: y
problem: {m: 12, n: 24, snr_db: 30}
network:
  step: {name: lista, options: {threshold_scale: 0.5}}
  integrator: 2no
  layers: 5
  tied: false
"""

TOML = """
name = "t"
[problem]
m = 12
n = 24
snr_db = 30
[network]
layers = 5
tied = false
integrator = "2no"
[network.step]
name = "lista"
options = { threshold_scale = 0.5 }
"""


def test_yaml_and_toml_give_the_same_config(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(YAML)
    (tmp_path / "a.toml").write_text(TOML)
    a, b = load_config(tmp_path / "a.yaml"), load_config(tmp_path / "a.toml")
    assert a.model_dump(exclude={"name"}) == b.model_dump(exclude={"name"})
    assert a.network.step.options == {"threshold_scale": 0.5} and a.network.integrator.name == "2no"
    assert a.problem.snr_db == 30 and a.network.tied is False


@pytest.mark.parametrize(
    "data, where",
    [
        ({"network": {"step": "lista"}, "problm": {}}, "problm"),
        ({"network": {"step": "lista", "depth": 3}}, "network.depth"),
        ({"network": {"step": "lista"}, "training": {"lr": -1}}, "training.lr"),
        ({"network": {"step": "lista"}, "problem": {"sparsity": 1.5}}, "problem.sparsity"),
        ({"network": {"step": "lista"}, "problem": {"condition_number": 0.5}}, "problem.condition_number"),
        ({}, "network"),
        ({"network": {"step": "lista", "layers": 10_001}}, "network.layers: Input should be less than or equal to 10000"),
    ],
)
def test_invalid_configs_name_the_key(data, where) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        parse_config(data)


def test_unknown_component_names_and_options_are_reported() -> None:
    with pytest.raises(UnknownComponentError, match="Did you mean 'lista'"):
        compose({"problem": {"m": 6, "n": 12}, "network": {"step": "listaa"}})
    with pytest.raises(ConfigError, match=r"step 'lista'.*thresh: unknown key.*Known options: threshold_scale"):
        compose({"problem": {"m": 6, "n": 12}, "network": {"step": {"name": "lista", "options": {"thresh": 1}}}})
    with pytest.raises(ConfigError, match=r"threshold_scal: unknown key \(did you mean 'threshold_scale'\?\)"):
        compose({"problem": {"m": 6, "n": 12}, "network": {"step": {"name": "lista", "options": {"threshold_scal": 1}}}})
    with pytest.raises(ConfigError, match=r"integrator '2no'.*alpha_init"):
        compose({"problem": {"m": 6, "n": 12}, "network": {"step": "lista", "integrator": {"name": "2no", "options": {"alpha_init": "x"}}}})


def test_overrides_and_file_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(YAML)
    cfg = load_config(tmp_path / "a.yaml", ["training.iterations=7", "network.tied=true", "problem.snr_db=null"])
    assert cfg.training.iterations == 7 and cfg.network.tied is True and cfg.problem.snr_db is None
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(tmp_path / "a.yaml", ["nonsense"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(ConfigError, match="unsupported config format"):
        load_config(tmp_path / "b.json")
    (tmp_path / "c.yaml").write_text("network: [unclosed")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(tmp_path / "c.yaml")


def test_examples_are_valid_and_compose() -> None:
    examples = sorted(Path(__file__).parents[1].joinpath("examples").glob("*.y*ml"))
    assert examples, "examples/ must hold configs"
    for path in examples:
        cfg = load_config(path)
        net = compose(cfg.model_copy(update={"problem": cfg.problem.model_copy(update={"m": 8, "n": 16})}))
        assert net.num_layers == cfg.network.layers


@given(layers=st.integers(1, 40), tied=st.booleans(), seed=st.integers(0, 10**6))
def test_config_round_trips_through_json(layers, tied, seed) -> None:
    cfg = parse_config({"network": {"step": "lista", "layers": layers, "tied": tied}, "training": {"seed": seed}})
    again = ExperimentConfig.model_validate(cfg.model_dump(mode="json"))
    assert again == cfg


def test_compose_leaves_the_global_rng_untouched() -> None:
    """compose() seeds its own (forked) RNG: the caller's next random number is the same as without it,
    and two composes with the same seed give the same random initial weights."""
    config = {"problem": {"m": 6, "n": 16, "kind": "cs"}, "network": {"step": "ista-net", "layers": 2}}
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    first = compose(config)
    torch.testing.assert_close(torch.rand(3), expected)
    second = compose(config)
    assert any(p.numel() > 1 for p in first.parameters())
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b)
