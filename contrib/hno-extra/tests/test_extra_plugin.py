"""hno-extra as a user sees it: registered with its distribution, listed, composable by name.

The default tests use the environment this package is installed in (``pip install -e
contrib/hno-extra``). The slow test does the whole round trip in a fresh virtual environment:
``pip install`` hno-framework and hno-extra, list, compose, ``pip uninstall``, list again.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import hno_extra
from hno_framework import compose, get_registry, list_integrators, list_steps, load_config

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_ROOT.parents[1]
OURS = {"step": "mlp-prox", "integrator": "ssprk3"}


def test_registered_under_its_distribution_and_version():
    reg = get_registry()
    version = md.version("hno-extra")
    assert hno_extra.__version__ == version
    for kind, name in OURS.items():
        provider = reg.get(kind, name).provider
        assert (provider.distribution, provider.version) == ("hno-extra", version)
        assert provider.entry_point == "extra = hno_extra.plugin"
    assert not [b for b in reg.broken if b.provider.distribution == "hno-extra"]
    record = next(p for p in reg.plugins if p.provider.distribution == "hno-extra")
    assert (record.steps, record.integrators) == (["mlp-prox"], ["ssprk3"])


def test_listed_next_to_the_builtins():
    assert {"mlp-prox", "ista", "lista"} <= set(list_steps())
    assert {"ssprk3", "euler", "2no"} <= set(list_integrators())


def test_summaries_are_the_first_docstring_lines():
    reg = get_registry()
    for kind, name in OURS.items():
        info = reg.get(kind, name)
        assert info.summary and info.summary == info.cls.__doc__.strip().splitlines()[0]


@pytest.mark.parametrize("step,integrator", [("mlp-prox", "2no"), ("lista", "ssprk3"), ("mlp-prox", "ssprk3")])
def test_composable_from_a_yaml_config_with_builtins(tmp_path, step, integrator):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: extra
        problem: {{kind: lasso, m: 10, n: 20, sparsity: 0.2, lam: 0.1}}
        network:
          step: {{name: {step}, options: {{}}}}
          integrator: {integrator}
          layers: 3
          tied: false
        """))
    net = compose(load_config(path))
    y = torch.randn(4, 10)
    out = net(y)
    assert out.shape == (4, 20) and torch.isfinite(out).all()
    assert net.layers[0].name == step and net.integrator.name == integrator


def _run(*args: str, python: str = sys.executable) -> str:
    proc = subprocess.run([python, *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.processes
def test_fresh_interpreter_sees_the_plugin():
    out = _run("-c", "import hno_framework as h; print(h.list_steps(), h.list_integrators())")
    assert "'mlp-prox'" in out and "'ssprk3'" in out


@pytest.mark.processes
@pytest.mark.skipif(importlib.util.find_spec("hno_framework.cli") is None, reason="the hno CLI is not installed")
def test_hno_list_and_show_report_the_plugin():
    rows = json.loads(_run("-m", "hno_framework.cli", "list", "--json"))
    by_name = {(r["kind"], r.get("name")): r for r in rows}
    for kind, name in OURS.items():
        row = by_name[(kind, name)]
        assert (row["plugin"], row["version"]) == ("hno-extra", md.version("hno-extra"))
    plugins = json.loads(_run("-m", "hno_framework.cli", "list", "plugins", "--json"))
    ours = [p for p in plugins if p["plugin"] == "hno-extra"]
    assert len(ours) == 1 and ours[0]["error"] is None
    assert ours[0]["steps"] == ["mlp-prox"] and ours[0]["integrators"] == ["ssprk3"]
    shown = json.loads(_run("-m", "hno_framework.cli", "show", "ssprk3", "--json"))
    assert shown["order"] == 3 and shown["plugin"] == "hno-extra"


# -- the real thing: a fresh virtual environment -------------------------------------------------

LIST_SCRIPT = (
    "import json, hno_framework as h; r = h.get_registry(); "
    "print(json.dumps({'steps': h.list_steps(), 'integrators': h.list_integrators(), "
    "'plugins': sorted({p.provider.distribution + ' ' + p.provider.version for p in r.plugins}), "
    "'broken': [b.error for b in r.broken]}))"
)


@pytest.mark.processes
@pytest.mark.slow
def test_pip_install_list_compose_uninstall_in_a_fresh_venv(tmp_path):
    """pip install hno-framework + hno-extra into a new venv; the components appear; uninstall removes them."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def pip(*args: str) -> None:
        proc = subprocess.run([py, "-m", "pip", "install", "-q", *args], capture_output=True, text=True,
                              timeout=900, env=env, check=False)
        assert proc.returncode == 0, f"pip install {args} failed:\n{proc.stdout}\n{proc.stderr}"

    pip("torch==2.13.0")  # pinned: the CPU build, never an unpinned (CUDA) one
    pip(str(REPO_ROOT))
    before = json.loads(_run("-c", LIST_SCRIPT, python=py))
    assert "mlp-prox" not in before["steps"] and "ssprk3" not in before["integrators"]

    pip(str(PLUGIN_ROOT))
    after = json.loads(_run("-c", LIST_SCRIPT, python=py))
    assert "mlp-prox" in after["steps"] and "ssprk3" in after["integrators"], after
    assert f"hno-extra {md.version('hno-extra')}" in after["plugins"] and not after["broken"]
    listed = subprocess.run([str(venv / "bin" / "hno"), "list", "plugins", "--json"], capture_output=True,
                            text=True, timeout=300, env=env, check=False)
    assert listed.returncode == 0, listed.stderr
    assert any(p["plugin"] == "hno-extra" for p in json.loads(listed.stdout))

    config = tmp_path / "config.toml"
    config.write_text(textwrap.dedent("""\
        [problem]
        m = 10
        n = 20
        [network]
        step = "mlp-prox"
        integrator = "2no"
        layers = 2
        """))
    shape = _run("-c", f"import hno_framework as h, torch; net = h.compose(h.load_config({str(config)!r})); "
                 "print(tuple(net(torch.randn(3, 10)).shape))", python=py)
    assert shape.strip() == "(3, 20)"

    proc = subprocess.run([py, "-m", "pip", "uninstall", "-y", "hno-extra"], capture_output=True, text=True,
                          timeout=300, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    gone = json.loads(_run("-c", LIST_SCRIPT, python=py))
    assert gone["steps"] == before["steps"] and gone["integrators"] == before["integrators"]
    assert gone["plugins"] == before["plugins"] and not gone["broken"]
