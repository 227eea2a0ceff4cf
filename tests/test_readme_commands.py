"""The README's commands, in the order a newcomer runs them: the demo (``scripts/demo.sh``), then every command of
"Using it". Each must parse (its command and options exist), and none may be refused because an earlier one already
wrote its run folder (``--force`` / ``--resume`` where it does), point at a checkpoint no earlier one wrote, or resume
a run that does not exist. The slow test runs them all for real in a copy of ``examples/``."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hno_framework.cli import cli
from hno_framework.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> list[list[str]]:
    """The ``hno`` command lines of a shell text: continuations joined, comments dropped, split as the shell would."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "hno":
            out.append([w for w in words[1:] if w != "$@"])
    return out


def readme_commands() -> list[list[str]]:
    """The commands of the README's "Using it" section (its first bash block), in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Using it"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no bash block under 'Using it'"
    return _commands(block.group(1))


def demo_commands() -> list[list[str]]:
    """The ``hno`` commands of ``scripts/demo.sh`` (the README's first command)."""
    return _commands((ROOT / "scripts" / "demo.sh").read_text())


def newcomer_commands() -> list[list[str]]:
    return [*demo_commands(), *readme_commands()]


def _options(args: list[str]) -> tuple[list[str], list[str], dict[str, list[str]], set[str]]:
    """(command words, positional arguments, options with values, flags) of one command line (args after ``hno``)."""
    words, positional, values, flags = [args[0]], [], {}, set()
    takes_value = {"--set", "--init-from", "--init-integrator", "--json", "--plot", "--executor", "--workers",
                   "--sweep", "--address", "--gpus-per-job", "--test-size", "-o", "--output"}
    i = 1
    if args[0] in ("experiment", "list"):
        words.append(args[1]) if len(args) > 1 and not args[1].startswith("-") else None
        i = len(words)
    while i < len(args):
        a = args[i]
        if a in takes_value:
            values.setdefault(a, []).append(args[i + 1])
            i += 2
        elif a.startswith("-"):
            flags.add(a)
            i += 1
        else:
            positional.append(a)
            i += 1
    return words, positional, values, flags


def test_the_readme_lists_the_commands_a_newcomer_runs() -> None:
    commands = readme_commands()
    assert len(commands) >= 10 and any(c[0] == "train" for c in commands) and demo_commands()


@pytest.mark.parametrize("args", newcomer_commands(), ids=lambda a: " ".join(a)[:60])
def test_every_readme_command_parses(args: list[str]) -> None:
    # click reads every option before it acts on --help: an unknown command or option is refused (exit 2)
    res = CliRunner().invoke(cli, [*args, "--help"])
    assert res.exit_code == 0, res.output


def test_no_readme_command_is_refused_for_what_an_earlier_one_wrote() -> None:
    written: set[Path] = set()
    problems = []
    for args in newcomer_commands():
        (command, *_), positional, values, flags = _options(args)
        line = "hno " + " ".join(args)
        overrides = values.get("--set", [])
        if command in ("train", "compare"):
            init = values.get("--init-from", [])
            if init and Path(init[0]).parent not in written:
                problems.append(f"{line}: --init-from {init[0]}: no earlier command trained that run")
            dirs = [load_config(ROOT / p, overrides).run_dir for p in positional]
            for run_dir in dirs:
                if "--resume" in flags and run_dir not in written:
                    problems.append(f"{line}: --resume, but no earlier command trained {run_dir}")
                if run_dir in written and not flags & {"--force", "--resume"}:
                    problems.append(f"{line}: refused: an earlier command already wrote {run_dir}")
            written.update(dirs)
        elif command == "eval" and Path(positional[0]).parent not in written:
            problems.append(f"{line}: no earlier command wrote {positional[0]}")
        elif command == "inspect" and Path(positional[0]) not in written:
            problems.append(f"{line}: no earlier command wrote the run {positional[0]}")
        elif command == "report" and not any(Path(positional[0]) in (d, *d.parents) for d in written):
            problems.append(f"{line}: no earlier command wrote a run below {positional[0]}")
    assert not problems, "\n".join(problems)


@pytest.mark.processes
@pytest.mark.slow
def test_the_readme_commands_run_in_order(tmp_path: Path) -> None:
    """Every command for real, in a fresh folder holding a copy of ``examples/`` (minutes). A command whose optional
    extra is not installed runs without it (tensorboard) or is left out (the photographs of scikit-image)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for args in newcomer_commands():
        if importlib.util.find_spec("tensorboard") is None:
            args = [a.replace("logging=[console, tensorboard]", "logging=[console]") for a in args]
        if importlib.util.find_spec("skimage") is None and any("deblur" in a for a in args):
            continue
        res = subprocess.run([sys.executable, "-m", "hno_framework.cli", *args], cwd=tmp_path, check=False,
                             capture_output=True, text=True, timeout=900, env=env)
        assert res.returncode == 0, f"hno {' '.join(args)}:\n{res.stderr[-3000:]}"
