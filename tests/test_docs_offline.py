"""The documentation site works offline: mkdocs.yml turns mkdocs-material's Google Fonts off, and
``scripts/check_docs_offline.py`` (run by ``.ci/run`` on the built site) finds any page that loads from another host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "scripts" / "check_docs_offline.py"


class _AnyTag(yaml.SafeLoader):
    """mkdocs.yml may hold ``!!python/name:`` tags: read them as plain values."""


_AnyTag.add_multi_constructor("", lambda loader, suffix, node: None)


def check(site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(site)], check=False, capture_output=True, text=True,
                          timeout=120)


def test_mkdocs_yml_fetches_no_fonts_and_ci_checks_the_built_site() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_AnyTag)  # a SafeLoader subclass
    assert config["theme"]["font"] is False
    assert not [u for u in [*config.get("extra_javascript", []), *config.get("extra_css", [])]
                if str(u).startswith(("http:", "https:", "//"))]
    ci = (ROOT / ".ci" / "run").read_text()
    build = ci.index("mkdocs build --strict --site-dir \"$site_dir\"")
    assert ci.index("scripts/check_docs_offline.py \"$site_dir\"") > build


@pytest.mark.processes
def test_the_check_finds_every_kind_of_fetch_and_passes_a_local_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "page").mkdir(parents=True)
    (site / "index.html").write_text('<html><head><link rel="stylesheet" href="assets/main.css">'
                                     '<script src="assets/katex.min.js"></script></head><body>'
                                     '<a href="https://github.com/x/y">a link is not a fetch</a></body></html>')
    (site / "main.css").write_text("@font-face { src: url(fonts/KaTeX.woff2) }")
    res = check(site)
    assert res.returncode == 0, res.stdout + res.stderr
    (site / "page" / "index.html").write_text(
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        '<script src="//cdn.example.org/x.js"></script><img src="http://example.org/a.png">'
        '<style>@import url("https://fonts.googleapis.com/css2?family=Inter");</style>')
    (site / "extra.css").write_text("body { background: url('https://cdn.example.org/bg.png') }")
    res = check(site)
    assert res.returncode == 1
    found = res.stdout.splitlines()
    assert len(found) == 6, found
    assert sum("fonts.googleapis.com" in line for line in found) == 2 and any("fonts.gstatic" in f for f in found)
    assert any(line.startswith("extra.css: ") for line in found)
    assert check(tmp_path / "nothing").returncode == 2


@pytest.mark.processes
def test_the_built_site_loads_nothing_from_the_internet(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site), "--quiet"], cwd=ROOT,
                           check=False, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, build.stderr[-3000:]
    assert "fonts.googleapis" not in (site / "index.html").read_text()
    res = check(site)
    assert res.returncode == 0, res.stdout[-3000:]
