"""The plugin guide's example plugin, taken from the Markdown, installed through an entry point and
run through the consistency suite exactly as the guide says (so the guide's code stays true)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hno_framework.registry import Registry
from hno_framework.testing import ConsistencyFailure, run_consistency_suite

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "writing-a-plugin.md"
FILES = {
    "relaxed_ista.py": "Write `hno_example_relax/relaxed_ista.py`:",
    "midpoint.py": "write `hno_example_relax/midpoint.py`:",
    "plugin.py": "`hno_example_relax/plugin.py` is the module the entry point names:",
}



@pytest.fixture
def guide_registry(install_guide) -> Registry:
    install_guide(GUIDE, FILES, "hno_example_relax", "hno-example-relax", "example-relax")
    yield Registry(strict=True)
    for module in [m for m in sys.modules if m.startswith("hno_example_relax")]:
        del sys.modules[module]


@pytest.mark.processes
def test_the_guide_plugin_registers_and_passes_the_suite(guide_registry: Registry) -> None:
    reg = guide_registry
    assert reg.step("example-relaxed-ista").provider.distribution == "hno-example-relax"
    assert run_consistency_suite(step="example-relaxed-ista", partners=["euler", "2no"], registry=reg, seeds=(0,)) > 0
    for options in ({}, {"learnable_h": True}, {"h": 0.5}):
        run_consistency_suite(integrator="example-midpoint", integrator_options=options, partners=["ista"],
                              registry=reg, seeds=(0,))


def test_the_guide_midpoint_declaring_order_three_is_caught(guide_registry: Registry, monkeypatch) -> None:
    cls = guide_registry.integrator("example-midpoint").cls
    describe = cls.describe.__func__
    monkeypatch.setattr(cls, "describe", classmethod(lambda c, o: describe(c, o).model_copy(update={"order": 3})))
    with pytest.raises(ConsistencyFailure, match=r"declares order 3 .* slope 2\.\d+ in h at its initial"):
        run_consistency_suite(integrator="example-midpoint", integrator_options={"learnable_h": True},
                              partners=["ista"], registry=guide_registry, seeds=(0,))
