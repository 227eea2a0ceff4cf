"""Shared fixtures: fake plugin distributions installed through real entry points."""

from __future__ import annotations

import itertools
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import settings

# Property tests: no per-example deadline (timings on a shared 2-core machine are not what these tests check;
# speed lives in benchmarks/). Locally every run draws new examples; CI (`HYPOTHESIS_PROFILE=ci`, set by
# .ci/run) draws the same ones every time, so a landing does not hang on which examples a run happened to draw.
# Reproduce a local failure from the seed Hypothesis prints (`--hypothesis-seed`).
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The suite builds thousands of tiny networks; thread start-up dominates small convolutions
# (ISTA-Net) with several OpenMP threads, so run single-threaded (results do not depend on it).
torch.set_num_threads(1)

_counter = itertools.count()


@pytest.fixture(autouse=True)
def _seeded_torch() -> None:
    """Every test starts from the same global torch RNG state (compose() no longer reseeds it), so an
    unseeded ``torch.randn`` in a test gives the same numbers whatever ran before or was selected."""
    torch.manual_seed(0)


@pytest.fixture
def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Write a distribution ``<dist>-<version>.dist-info`` with an ``hno_framework`` entry point
    pointing at a module with ``source``, put it on ``sys.path`` and return the module name.
    Registries built afterwards find it exactly as they find an installed package."""

    def make(dist: str, source: str, *, version: str = "1.0", ep_name: str | None = None, attr: str | None = None) -> str:
        module = f"_hno_fake_{next(_counter)}"
        root = tmp_path / module
        root.mkdir()
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        target = f"{module}:{attr}" if attr else module  # attr: an entry point naming an object in the module
        (info / "entry_points.txt").write_text(f"[hno_framework]\n{ep_name or dist} = {target}\n")
        monkeypatch.syspath_prepend(str(root))
        return module

    return make


TINY_CONFIG = """
name: {name}
problem: {{kind: lasso, m: 10, n: 20, sparsity: 0.2, seed: 3}}
network: {{step: lista, integrator: {integrator}, layers: 3}}
training: {{iterations: {iterations}, batch_size: 16, validate_every: 5, validation_size: 64, test_size: 64, lr: 0.001}}
output: {{dir: "{out}"}}
"""


@pytest.fixture
def tiny_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a tiny YAML experiment config and return its path."""

    def make(name: str = "tiny", integrator: str = "2no", iterations: int = 20) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(TINY_CONFIG.format(name=name, integrator=integrator, iterations=iterations, out=tmp_path / "runs"))
        return path

    return make


@pytest.fixture
def install_guide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """:func:`install_guide_package` into this test's ``tmp_path`` (taken off ``sys.path`` after the test)."""

    def install(guide: Path, files: dict[str, str], package: str, dist: str, entry_point: str) -> None:
        install_guide_package(guide, files, package, dist, entry_point, tmp_path, monkeypatch)

    return install


def install_guide_package(guide: Path, files: dict[str, str], package: str, dist: str, entry_point: str,
                          root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the package ``package`` from the Python blocks of a Markdown ``guide`` (``files``: file name -> the
    text just before its block), with a ``dist`` distribution whose ``hno_framework`` entry point ``entry_point``
    names ``package.plugin``, and put it on ``sys.path`` (as ``pip install`` of the guide's example would)."""
    import re

    text = guide.read_text()
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    for name, marker in files.items():
        match = re.search(r"```python\n(.*?)```", text[text.index(marker):], re.DOTALL)
        assert match, f"no python block after {marker!r} in {guide}"
        (root / package / name).write_text(match.group(1))
    info = root / f"{package}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[hno_framework]\n{entry_point} = {package}.plugin\n")
    monkeypatch.syspath_prepend(str(root))
