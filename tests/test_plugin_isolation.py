"""A plugin cannot break ``hno``: each case runs the real command in a subprocess with a fake plugin
distribution on ``PYTHONPATH`` (exceptions that are not ``Exception``, output on stdout, warnings, and a
plugin that ends the process, which ``hno list plugins --no-import`` still lists)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REGISTERS_A_STEP = '''
from hno_framework import hookimpl, UnfoldingStep

class Halved(UnfoldingStep):
    """x/2."""
    name = "{name}"
    def forward(self, x, ctx):
        return 0.5 * x

@hookimpl
def register_steps(register):
    register(Halved)
'''


def hno(tmp_path: Path, modules: list[str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``hno ARGS`` in a fresh process with the fake plugins ``modules`` (from ``make_plugin``) installed."""
    return subprocess.run([sys.executable, "-m", "hno_framework.cli", *args], env=_env(tmp_path, modules),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _env(tmp_path: Path, modules: list[str]) -> dict[str, str]:
    paths = [str(tmp_path / m) for m in modules] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}


def rows_of(result: subprocess.CompletedProcess[str], dist: str) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [r for r in json.loads(result.stdout) if r.get("plugin") == dist]  # stdout must be valid JSON


@pytest.mark.processes
@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "GeneratorExit"])
def test_a_base_exception_at_import_is_a_broken_plugin(make_plugin, tmp_path, raised) -> None:
    module = make_plugin("hno-test-raising", f"raise {raised}('at import')\n")
    (row,) = rows_of(hno(tmp_path, [module], "list", "--json"), "hno-test-raising")
    assert row["kind"] == "broken-plugin" and raised in row["error"] and "at import" in row["error"]


@pytest.mark.processes
@pytest.mark.parametrize("swallows", [False, True], ids=["lets-it-through", "swallows-it"])
def test_a_real_ctrl_c_during_plugin_import_still_interrupts(make_plugin, tmp_path, swallows) -> None:
    marker = tmp_path / "importing"
    wait = f"open({str(marker)!r}, 'w').close()\nimport time\ntime.sleep(60)\n"
    source = ("try:\n" + "".join(f"    {line}\n" for line in wait.splitlines()) + "except KeyboardInterrupt:\n    pass\n"
              if swallows else wait)
    module = make_plugin("hno-test-slow", source)
    process = subprocess.Popen([sys.executable, "-m", "hno_framework.cli", "list", "--json"], env=_env(tmp_path, [module]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the plugin was never imported"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode != 0 and "Aborted" in err, (process.returncode, err)
    assert "hno-test-slow" not in out, "the command went on as if nothing had been pressed"


@pytest.mark.processes
def test_printing_at_import_keeps_json_valid_and_is_a_plugin_warning(make_plugin, tmp_path) -> None:
    module = make_plugin("hno-test-printing", "print('hello from the plugin')\n" + REGISTERS_A_STEP.format(name="test-halved"))
    result = hno(tmp_path, [module], "list", "--json")
    (row,) = rows_of(result, "hno-test-printing")
    assert row["name"] == "test-halved"
    assert "hello from the plugin" not in result.stdout
    assert any("hno-test-printing" in line and "hello from the plugin" in line for line in result.stderr.splitlines())
    (plugin,) = rows_of(hno(tmp_path, [module], "list", "plugins", "--json"), "hno-test-printing")
    assert plugin["status"] == "warning" and any("hello from the plugin" in w for w in plugin["warnings"])


@pytest.mark.processes
def test_a_plugins_warnings_are_one_formatted_line(make_plugin, tmp_path) -> None:
    module = make_plugin("hno-test-warning", "import warnings\nwarnings.warn('old api')\nwarnings.warn('another')\n"
                         + REGISTERS_A_STEP.format(name="test-warned"))
    result = hno(tmp_path, [module], "list")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "hno-test-warning" in line or "warn" in line.lower()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Warning: hno plugin hno-test-warning") and "old api" in lines[0] and "another" in lines[0]
    assert "warnings.warn(" not in result.stderr, "no raw warning with its source line"


@pytest.mark.processes
def test_plugins_can_be_listed_without_importing_them(make_plugin, tmp_path) -> None:
    module = make_plugin("hno-test-exiting", "import os\nos._exit(0)\n", version="2.5", ep_name="exits")
    assert hno(tmp_path, [module], "list", "plugins", "--json").stdout == "", "os._exit cannot be contained in-process"
    (row,) = rows_of(hno(tmp_path, [module], "list", "plugins", "--no-import", "--json"), "hno-test-exiting")
    assert row == {"plugin": "hno-test-exiting", "version": "2.5", "entry_point": f"exits = {module}", "module": module,
                   "status": "not imported"}
    table = hno(tmp_path, [module], "list", "plugins", "--no-import")
    assert table.returncode == 0 and "hno-test-exiting" in table.stdout and "hno-framework" in table.stdout


@pytest.mark.processes
def test_a_command_plugin_that_prints_or_raises_keyboard_interrupt_does_not_break_hno(make_plugin, tmp_path) -> None:
    loud = make_plugin("hno-test-loud-commands", "print('hello from the plugin')\n"
                       "from hno_framework import hookimpl\n@hookimpl\ndef register_commands(cli):\n    pass\n")
    raising = make_plugin("hno-test-raising-commands", "raise KeyboardInterrupt('at import')  # register_commands\n")
    result = hno(tmp_path, [loud, raising], "--help")
    assert result.returncode == 0 and "list" in result.stdout, result.stderr
    assert "hello from the plugin" not in result.stdout
    assert any("hno-test-loud-commands" in line and "hello from the plugin" in line for line in result.stderr.splitlines())
    assert any("hno-test-raising-commands" in line and "KeyboardInterrupt" in line and "broken" in line
               for line in result.stderr.splitlines()), result.stderr
