"""Integrator options (clear ConfigErrors) and metadata (family, r, stages, order, learnable, consistent)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError

from hno_framework.composer import compose, validate_options
from hno_framework.errors import ConfigError
from hno_framework.network import count_learnable
from hno_framework.registry import get_registry

REGISTRY = get_registry()

# name -> (family, past_states, stages, order, learnable) with default options
EXPECTED = {
    "euler": ("one-step", 1, 1, 1, False),
    "2no": ("multistep", 2, 1, 1, True),
    "3no": ("multistep", 3, 1, 1, True),
    "lm": ("multistep", 2, 1, 1, True),
    "ab2": ("multistep", 2, 1, 2, False),
    "ab3": ("multistep", 3, 1, 3, False),
    "ab4": ("multistep", 4, 1, 4, False),
    "heun": ("runge-kutta", 1, 2, 2, False),
    "rk4": ("runge-kutta", 1, 4, 4, False),
    "rk": ("runge-kutta", 1, 4, 4, False),
    "abm2": ("predictor-corrector", 2, 2, 2, False),
}


def metadata(name: str, options: dict[str, Any] | None = None):
    info = REGISTRY.integrator(name)
    return info.cls.describe(validate_options(info, options or {}))


def config_error(name: str, options: dict[str, Any]) -> str:
    """The ConfigError message for ``options``, raised both by validate_options and by compose."""
    with pytest.raises(ConfigError) as direct:
        validate_options(REGISTRY.integrator(name), options)
    config = {
        "problem": {"kind": "lasso", "m": 6, "n": 12},
        "network": {"step": "ista", "integrator": {"name": name, "options": options}, "layers": 2},
    }
    with pytest.raises(ConfigError) as composed:
        compose(config, REGISTRY)
    assert str(composed.value) == str(direct.value)
    message = str(direct.value)
    assert f"integrator '{name}'" in message, message
    return message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_default_metadata(name: str) -> None:
    m = metadata(name)
    assert (m.family, m.past_states, m.stages, m.order, m.learnable) == EXPECTED[name]
    assert m.consistent
    info = REGISTRY.integrator(name)
    assert info.summary and info.metadata() == m.model_dump()
    for field_name, field in info.cls.Options.model_fields.items():
        assert field.description, f"{name}: option '{field_name}' has no description"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_learnable_flag_matches_the_parameters(name: str) -> None:
    """metadata.learnable is True exactly when the built integrator has trainable parameters."""
    from hno_framework.integrator import IntegratorLayout

    info = REGISTRY.integrator(name)
    for opts in ({}, {"learnable_h": True}, {"learnable": False}, {"learnable_b": True}):
        if not set(opts) <= set(info.cls.Options.model_fields):
            continue
        options = validate_options(info, opts)
        integrator = info.cls(options, IntegratorLayout(num_layers=4))
        assert integrator.metadata.learnable == (count_learnable(integrator) > 0), (name, opts)


@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("lm", {"past_states": 4}, {"past_states": 4, "order": 1}),
        ("lm", {"past_states": 1}, {"past_states": 1, "order": 1}),
        ("lm", {"past_states": 2, "gamma_init": [1.5, -0.5], "learnable": False}, {"order": 2, "learnable": False}),
        ("lm", {"past_states": 3, "gamma_init": [23 / 12, -16 / 12, 5 / 12]}, {"order": 2}),  # start-up limits it
        ("lm", {"past_states": 2, "xi_init": [1.5, -0.5]}, {"order": 0}),  # seed 2NO init: inconsistent with step h
        ("lm", {"past_states": 2, "xi_init": [-4, 5], "gamma_init": [4, 2]}, {"order": 0}),  # order 3 but not zero-stable
        ("lm", {"sum_to_one": False}, {"consistent": False}),
        ("lm", {"sum_to_one": False, "learnable": False, "learnable_h": False}, {"consistent": True, "learnable": False}),
        ("lm", {"learnable": False}, {"learnable": False}),
        ("lm", {"learnable": False, "learnable_h": True}, {"learnable": True}),
        ("3no", {"learnable": False}, {"learnable": False}),
        ("ab3", {"learnable_h": True}, {"learnable": True}),
        ("abm2", {"corrections": 3}, {"stages": 4}),
        ("rk", {"tableau": "heun"}, {"stages": 2, "order": 2}),
        ("rk", {"tableau": "kutta3", "learnable_b": True}, {"stages": 3, "order": 3, "learnable": True}),
        ("rk", {"tableau": "euler", "learnable_b": True}, {"stages": 1, "order": 1, "learnable": False}),
        ("rk", {"tableau": {"a": [[0, 0], [1, 0]], "b": [0.9, 0.1]}}, {"order": 1}),
    ],
)
def test_metadata_follows_options(name: str, options: dict[str, Any], expected: dict[str, Any]) -> None:
    m = metadata(name, options).model_dump()
    assert {k: m[k] for k in expected} == expected


@pytest.mark.parametrize(
    "name, options, fragments",
    [
        ("lm", {"past_states": 0}, ["past_states", "greater than or equal to 1"]),
        ("lm", {"past_states": 2, "xi_init": [1.0]}, ["xi_init has 1 entries but past_states = 2"]),
        ("lm", {"past_states": 3, "gamma_init": [1.0, 0.0]}, ["gamma_init has 2 entries but past_states = 3"]),
        ("lm", {"xi_init": [0.5, 0.4]}, ["sums to 0.9", "sum_to_one: false"]),
        ("lm", {"step": 2}, ["step: unknown key", "Known options: past_states"]),
        ("3no", {"beta_init": 0.1}, ["beta_init: unknown key", "beta1_init", "beta2_init"]),
        ("ab2", {"h": 0.0}, ["h: Input should be greater than 0"]),
        ("ab3", {"startup": "euler"}, ["startup", "'lower-order' or 'rk4'"]),
        ("abm2", {"corrections": 0}, ["corrections", "greater than or equal to 1"]),
        ("heun", {"learnable_h": True}, ["learnable_h: unknown key"]),
        ("rk", {"tableau": {"a": [[0, 1], [1, 0]], "b": [0.5, 0.5]}}, ["strictly lower triangular", "a[0][0:]"]),
        ("rk", {"tableau": {"a": [[0, 0], [1, 0]], "b": [0.7, 0.7]}}, ["b must sum to 1", "1.4"]),
        ("rk", {"tableau": {"a": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0, 0.5]}}, ["c[1] = 0.5", "row sum of A (1)"]),
        ("rk", {"tableau": {"a": [[0, 0], [1]], "b": [0.5, 0.5]}}, ["A must be square", "row 1 has 1 entries"]),
        ("rk", {"tableau": {"a": [[0, 0], [1, 0]], "b": [1.0]}}, ["b has 1 entries but A has 2 stages"]),
        ("rk", {"tableau": {"a": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0]}}, ["c has 1 entries"]),
        ("rk", {"tableau": {"a": [], "b": []}}, ["A is empty"]),
        ("rk", {"tableau": {"a": [[0, 0], [1, 0]]}}, ["tableau.b: Field required"]),
        ("rk", {"tableau": {"a": [[0]], "b": [1], "d": [0]}}, ["tableau.d: unknown key"]),
        ("rk", {"tableau": "rk5"}, ["unknown tableau 'rk5'", "rk4", "heun"]),
        ("rk", {"tableau": {"a": [["x"]], "b": [1]}}, ["tableau.a.0.0"]),
    ],
)
def test_bad_options_give_clear_config_errors(name: str, options: dict[str, Any], fragments: list[str]) -> None:
    message = config_error(name, options)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_tableau_presets_and_c_default() -> None:
    from hno_plugins.integrators.butcher import PRESETS, preset

    for name in PRESETS:
        tableau = preset(name)
        assert tableau.nodes == tuple(sum(row) for row in tableau.a)
        assert abs(sum(tableau.b) - 1) < 1e-12


def test_zero_length_parameters_are_not_created() -> None:
    """Shallow networks: 3no's β² (T ≤ 2), lm's derived-only ξ, rk's single weight are not Parameters."""
    from hno_framework.integrator import IntegratorLayout

    cases = [("3no", {}, 1), ("3no", {}, 2), ("lm", {"past_states": 1}, 3), ("lm", {"past_states": 3}, 1),
             ("lm", {"past_states": 1, "shared": True}, 3), ("rk", {"tableau": "euler", "learnable_b": True}, 2)]
    for name, opts, layers in cases:
        info = REGISTRY.integrator(name)
        integrator = info.cls(validate_options(info, opts), IntegratorLayout(num_layers=layers))
        for pname, p in integrator.named_parameters():
            assert p.numel() > 0, f"{name} with {layers} layers: empty parameter {pname}"
    integ = REGISTRY.integrator("3no").cls(validate_options(REGISTRY.integrator("3no"), {}), IntegratorLayout(num_layers=5))
    shapes = {n: tuple(p.shape) for n, p in integ.named_parameters()}
    assert shapes == {"alpha": (4,), "beta1": (4,), "beta2": (3,)}


def test_options_are_frozen() -> None:
    options = validate_options(REGISTRY.integrator("rk"), {"tableau": "heun"})
    with pytest.raises(ValidationError, match="frozen"):
        options.h = 2.0  # type: ignore[misc]
    assert isinstance(options.tableau.a, tuple) and torch.tensor(options.tableau.a).shape == (2, 2)


def test_yaml_snippets_in_the_integrator_docs_compose() -> None:
    """Every ```yaml block of docs/integrators/*.md selects a registered scheme and composes."""
    import re
    from pathlib import Path

    import yaml

    pages = sorted((Path(__file__).parent.parent / "docs" / "integrators").glob("*.md"))
    assert {p.stem for p in pages} >= {"one-step", "multistep", "runge-kutta", "predictor-corrector"}
    seen = set()
    for page in pages:
        for block in re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            config = yaml.safe_load(block)
            config["problem"] = {"kind": "lasso", "m": 6, "n": 12}
            net = compose(config, REGISTRY)
            seen.add(net.integrator.name)
            y = torch.randn(2, 6)
            assert torch.isfinite(net(y)).all(), (page.name, block)
    assert seen >= {"euler", "lm", "ab3", "rk4", "rk", "abm2"}


def test_lm_accepts_the_earlier_option_name_steps() -> None:
    """``past_states`` was called ``steps``: configs and checkpoints that use it still load."""
    info = REGISTRY.integrator("lm")
    assert validate_options(info, {"steps": 3}).past_states == 3
    assert validate_options(info, {"past_states": 3}) == validate_options(info, {"steps": 3})
