"""``hno list`` and ``hno show`` read the listing cache: the second run prints the same without importing torch or a
plugin, and anything that changes what they would print (a distribution installed or uninstalled, a plugin's source
edited, a plugin blocked, a broken plugin) is seen. Every case runs the real command in fresh processes, with its own
cache folder and a ``site`` folder on ``PYTHONPATH`` into which fake distributions are installed and from which
they are removed, as ``pip`` does in ``site-packages``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from hno_framework.listing_cache import cache_dir
from hno_framework.listing_snapshot import ListingSnapshot
from hno_framework.registry import get_registry

pytestmark = pytest.mark.processes  # every test runs hno in fresh processes: the CI step `pytest -m processes`

PROBE = """
import json, sys
from hno_framework.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith(("hno_plugins", "_hno_cached_")))
print("LOADED " + json.dumps(loaded), file=sys.stderr)
"""

STEP = '''
"""A fake plugin of the listing-cache tests."""
from hno_framework import hookimpl, UnfoldingStep
{classes}
@hookimpl
def register_steps(register):
{registers}
'''

CLASS = '''
class Step{i}(UnfoldingStep):
    """x/2 ({name})."""
    name = "{name}"
    def forward(self, x, ctx):
        return 0.5 * x
'''


def step_source(*names: str) -> str:
    classes = "".join(CLASS.format(i=i, name=n) for i, n in enumerate(names))
    registers = "".join(f"    register(Step{i})\n" for i in range(len(names)))
    return STEP.format(classes=classes, registers=registers)


@dataclass
class Run:
    stdout: str
    stderr: str
    loaded: list[str]

    @property
    def imported_torch(self) -> bool:
        return "torch" in self.loaded

    def rows(self) -> list[dict]:
        return json.loads(self.stdout)

    def names(self, kind: str = "step") -> set[str]:
        return {r["name"] for r in self.rows() if r["kind"] == kind}


class Hno:
    """``hno ARGS`` in fresh processes sharing one cache folder and one ``site`` folder of installed fakes."""

    def __init__(self, root: Path) -> None:
        self.site = root / "site"
        self.cache = root / "cache"
        self.cwd = root / "cwd"  # python -c puts the working folder on sys.path: one nothing writes to
        self.site.mkdir()
        self.cwd.mkdir()
        self.env: dict[str, str] = {}

    def __call__(self, *args: str) -> Run:
        base = {k: v for k, v in os.environ.items()
                if k not in ("HNO_NO_CACHE", "HNO_DISABLE_PLUGINS", "HNO_STRICT_PLUGINS", "PYTHONPATH")}
        paths = [str(self.site), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
        env = {**base, "PYTHONPATH": os.pathsep.join(paths), "HNO_CACHE_DIR": str(self.cache), "OMP_NUM_THREADS": "1",
               "COLUMNS": "200", **self.env}
        proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=self.cwd, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        lines = proc.stderr.splitlines()
        assert lines and lines[-1].startswith("LOADED "), proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        return Run(proc.stdout, "\n".join(lines[:-1]), json.loads(lines[-1][len("LOADED "):]))

    def install(self, dist: str, source: str, *, version: str = "1.0") -> None:
        """What ``pip install`` does: the module and a ``*.dist-info`` with the entry point, in ``site``."""
        module = self.module(dist)
        (self.site / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[hno_framework]\n{dist} = {module}\n")

    def uninstall(self, dist: str) -> None:
        module = self.module(dist)
        (self.site / f"{module}.py").unlink()
        for info in self.site.glob(f"{module}-*.dist-info"):
            shutil.rmtree(info)

    def edit(self, dist: str, source: str) -> None:
        """Change an installed plugin's source in place (an editable install), no reinstall."""
        path = self.site / f"{self.module(dist)}.py"
        before = path.stat().st_mtime_ns
        path.write_text(textwrap.dedent(source))
        os.utime(path, ns=(before + 10**9, before + 10**9))  # a later time even on a coarse clock

    @staticmethod
    def module(dist: str) -> str:
        return "_hno_cached_" + dist.replace("-", "_")


@pytest.fixture
def hno(tmp_path: Path) -> Hno:
    return Hno(tmp_path)


def test_the_second_listing_is_the_same_and_imports_neither_torch_nor_a_plugin(hno) -> None:
    hno.install("hno-test-cached", step_source("test-cached-a"))
    first, second = hno("list", "--json"), hno("list", "--json")
    assert first.imported_torch and "_hno_cached_hno_test_cached" in first.loaded  # the cache was empty
    assert second.stdout == first.stdout and second.loaded == [], second.loaded
    assert {"lista", "test-cached-a"} <= second.names()
    assert len(list(hno.cache.glob("listing-*.json"))) == 1
    for args in (["list"], ["list", "plugins", "--json"], ["show", "lista"], ["show", "2no", "--json"]):
        cached = hno(*args)
        assert cached.loaded == [], (args, cached.loaded)
        hno.env = {"HNO_NO_CACHE": "1"}
        fresh = hno(*args)
        hno.env = {}
        assert fresh.imported_torch and cached.stdout == fresh.stdout and cached.stderr == fresh.stderr, args


def test_an_unknown_name_is_the_same_error_from_the_cache(hno) -> None:
    hno("list", "--json")
    cached = hno("show", "lsta")
    assert cached.loaded == [] and "Did you mean 'lista'" in cached.stderr and cached.stdout == ""


def test_installing_and_uninstalling_a_distribution_is_seen(hno) -> None:
    hno.install("hno-test-first", step_source("test-first"))
    assert "test-first" in hno("list", "--json").names()
    assert hno("list", "--json").loaded == []
    hno.install("hno-test-second", step_source("test-second"))
    added = hno("list", "--json")
    assert added.imported_torch and {"test-first", "test-second"} <= added.names()
    hno.uninstall("hno-test-first")
    removed = hno("list", "--json")
    assert removed.imported_torch and "test-first" not in removed.names() and "test-second" in removed.names()
    assert "test-first" not in hno("list").stdout and "test-first" not in hno("list", "plugins").stdout
    assert hno("show", "test-first").stdout == ""
    again = hno("list", "--json")
    assert again.loaded == [] and again.stdout == removed.stdout


def test_a_new_version_and_a_component_added_to_the_source_are_seen(hno) -> None:
    hno.install("hno-test-edited", step_source("test-edited-a"))
    hno("list", "--json")
    hno.edit("hno-test-edited", step_source("test-edited-a", "test-edited-b"))
    edited = hno("list", "--json")
    assert edited.imported_torch and {"test-edited-a", "test-edited-b"} <= edited.names()
    hno.uninstall("hno-test-edited")
    hno.install("hno-test-edited", step_source("test-edited-a"), version="2.0")
    upgraded = hno("list", "--json")
    assert "test-edited-b" not in upgraded.names()
    assert {r["version"] for r in upgraded.rows() if r.get("plugin") == "hno-test-edited"} == {"2.0"}


def test_a_broken_plugin_is_reported_every_time_and_never_cached(hno) -> None:
    hno.install("hno-test-broken", "import not_a_module_anywhere\n")
    for _ in range(2):
        run = hno("list", "--json")
        (row,) = [r for r in run.rows() if r.get("plugin") == "hno-test-broken"]
        assert row["kind"] == "broken-plugin" and "No module named 'not_a_module_anywhere'" in row["error"]
        assert run.imported_torch  # the plugins were imported again
    assert not list(hno.cache.glob("listing-*.json"))
    table = hno("list")
    assert "broken plugin" in table.stdout and "hno-test-broken" in table.stdout
    hno.edit("hno-test-broken", step_source("test-mended"))
    assert "test-mended" in hno("list", "--json").names()
    assert hno("list", "--json").loaded == []


def test_a_plugin_warning_is_printed_every_time(hno) -> None:
    hno.install("hno-test-warns", "import warnings\nwarnings.warn('old api')\n" + step_source("test-warns"))
    for _ in range(2):
        run = hno("list", "--json")
        assert run.imported_torch and "test-warns" in run.names()
        assert any("hno-test-warns" in line and "old api" in line for line in run.stderr.splitlines()), run.stderr


def test_blocked_plugins_and_conflicts_come_back_from_the_cache(hno) -> None:
    hno.install("hno-test-shadow", step_source("lista", "test-shadowed"))
    blocked = [hno("--disable-plugin", "hno-test-shadow", "list", "--json") for _ in range(2)]
    assert blocked[1].loaded == [] and blocked[1].stdout == blocked[0].stdout
    rows = blocked[1].rows()
    assert [r["kind"] for r in rows if r.get("plugin") == "hno-test-shadow"] == ["disabled-plugin"]
    assert "test-shadowed" not in blocked[1].names()
    clashing = [hno("list", "--json") for _ in range(2)]
    assert clashing[0].imported_torch and clashing[1].loaded == [] and clashing[1].stdout == clashing[0].stdout
    (conflict,) = [r for r in clashing[1].rows() if r["kind"] == "conflict"]
    assert conflict["name"] == "lista" and {p["plugin"] for p in conflict["providers"]} == {"hno-framework", "hno-test-shadow"}
    shown = hno("show", "lista")
    assert shown.loaded == [] and "registered twice" in shown.stderr
    hno.env = {"HNO_DISABLE_PLUGINS": "hno-test-shadow"}
    assert hno("list", "--json").stdout == blocked[0].stdout


def test_a_corrupt_cache_is_rebuilt(hno) -> None:
    good = hno("list", "--json")
    (path,) = hno.cache.glob("listing-*.json")
    valid = json.loads(path.read_text())
    for broken in ("{not json", "\xff\xfe",
                   json.dumps({**valid, "snapshot": {**valid["snapshot"], "components": 5}}),
                   json.dumps({**valid, "snapshot": {**valid["snapshot"], "components": [{"kind": "step"}]}})):
        path.write_text(broken, encoding="latin-1")
        rebuilt = hno("list", "--json")
        assert rebuilt.imported_torch and rebuilt.stdout == good.stdout
        assert json.loads(path.read_text()) == valid
    assert hno("list", "--json").loaded == []


def test_hno_no_cache_bypasses_the_cache(hno) -> None:
    hno.env = {"HNO_NO_CACHE": "1"}
    runs = [hno("list", "--json") for _ in range(2)]
    assert all(r.imported_torch for r in runs) and runs[0].stdout == runs[1].stdout
    assert not hno.cache.exists()


def test_an_unwritable_cache_folder_is_no_error(hno, tmp_path) -> None:
    (tmp_path / "a-file").write_text("")
    hno.cache = tmp_path / "a-file" / "cache"  # cannot be created, whoever runs the test
    runs = [hno("list", "--json") for _ in range(2)]
    assert all(r.imported_torch for r in runs) and runs[0].stdout == runs[1].stdout
    assert "lista" in runs[1].names() and runs[1].stderr == ""


def test_the_cache_folder(monkeypatch, tmp_path) -> None:
    for name in ("HNO_CACHE_DIR", "HNO_NO_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "hno-framework"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/xdg")  # ignored, as the XDG specification says
    assert cache_dir() == tmp_path / "home" / ".cache" / "hno-framework"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "hno-framework"
    monkeypatch.setenv("HNO_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("HNO_NO_CACHE", "1")
    assert cache_dir() is None


def test_a_snapshot_reads_back_what_it_wrote() -> None:
    snapshot = ListingSnapshot.of(get_registry())
    data = json.loads(json.dumps(snapshot.to_json()))
    again = ListingSnapshot.from_json(data)
    assert again.to_json() == snapshot.to_json()
    assert again.names("step") == get_registry().names("step")
    assert again.get("integrator", "2no").as_dict() == json.loads(json.dumps(get_registry().get("integrator", "2no").as_dict()))
    with pytest.raises(ValueError, match="kind"):
        ListingSnapshot.from_json({**data, "components": [{**data["components"][0], "kind": "stepp"}]})
