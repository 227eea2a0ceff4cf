"""Small things a plugin author meets: misspelt partners, a checkpoint of an uninstalled plugin, ``make_test_set``
with a dict, the project's own test plugins under namespaced names."""

from __future__ import annotations

from pathlib import Path

import pytest

from hno_framework import compose
from hno_framework.checkpoint import load_network, save_checkpoint
from hno_framework.data import make_test_set
from hno_framework.errors import UnknownComponentError
from hno_framework.registry import network_providers
from hno_framework.testing import check_components, run_consistency_suite


def test_a_misspelt_partner_is_an_error_naming_the_closest() -> None:
    with pytest.raises(UnknownComponentError, match=r"unknown partner integrator 'eulr'\. Did you mean 'euler'\?"):
        run_consistency_suite(step="ista", partners=["eulr"], seeds=(0,))
    with pytest.raises(UnknownComponentError, match=r"unknown partner step 'lsta'\. Did you mean 'lista'\?"):
        run_consistency_suite(integrator="euler", partners=["ista", "lsta"], seeds=(0,))
    with pytest.raises(UnknownComponentError, match=r"unknown partner 'eulr'"):
        check_components("ista", partners=["eulr"], processes=False)


def test_a_checkpoint_of_an_uninstalled_plugin_names_its_distribution_and_version(tmp_path: Path) -> None:
    config = {"problem": {"m": 10, "n": 20}, "network": {"step": "ista", "integrator": "euler", "layers": 2}}
    net = compose(config)
    from hno_framework.config import parse_config

    cfg = parse_config(config)
    providers = network_providers(cfg.network)
    stored = cfg.model_dump(mode="json")
    stored["network"]["integrator"] = {"name": "gone-scheme", "options": {}}
    providers["integrator"] = {"name": "gone-scheme", "plugin": "hno-test-gone", "version": "0.3.1",
                               "entry_point": "gone = hno_test_gone.plugin"}
    path = save_checkpoint(tmp_path / "best.pt", {"config": stored, "model": net.state_dict(), "providers": providers})
    with pytest.raises(UnknownComponentError) as err:
        load_network(path)
    message = str(err.value)
    assert "unknown integrator 'gone-scheme'" in message
    assert "from plugin hno-test-gone 0.3.1 (entry point gone = hno_test_gone.plugin), which is not installed" in message
    assert "pip install 'hno-test-gone==0.3.1'" in message


def test_make_test_set_accepts_a_dict_as_compose_does() -> None:
    config = {"problem": {"m": 10, "n": 20}, "network": {"step": "ista", "layers": 2}}
    net = compose(config)
    test = make_test_set(net.problem, config, size=7)
    assert tuple(test.x.shape) == (7, 20) and tuple(test.y.shape) == (7, 10)
