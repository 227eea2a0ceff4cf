"""Commands from plugins (the ``register_commands`` hook): added to ``hno``, listed by ``hno --help``; a broken
plugin is one warning line and the other commands still work; a plugin cannot replace a core command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hno_framework.cli import cli

HELLO = """
import click
from hno_framework import hookimpl

@click.command("{name}")
def hello():
    '''Say hello.'''
    click.echo("hello from a plugin")

@hookimpl
def register_commands(cli):
    cli.add_command(hello)
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_plugin_command_is_listed_and_runs(make_plugin) -> None:
    make_plugin("acme-cmds", HELLO.format(name="hello"))
    assert "hello" in run("--help").output
    res = run("hello")
    assert res.exit_code == 0 and res.output.strip() == "hello from a plugin"


def test_a_disabled_plugin_adds_no_command(make_plugin) -> None:
    make_plugin("acme-cmds", HELLO.format(name="hello"))
    res = run("--disable-plugin", "acme-cmds", "hello")
    assert res.exit_code == 2 and "No such command 'hello'" in res.output


@pytest.mark.parametrize("source", [
    "from hno_framework import hookimpl\nraise RuntimeError('boom at import')\ndef register_commands(cli): ...\n",
    "from hno_framework import hookimpl\n@hookimpl\ndef register_commands(cli):\n    raise ValueError('boom in hook')\n",
], ids=["import", "hook"])
def test_a_broken_command_plugin_is_one_warning_and_the_rest_works(make_plugin, source: str) -> None:
    make_plugin("acme-broken", source)
    make_plugin("acme-cmds", HELLO.format(name="hello"))
    res = run("hello")
    assert res.exit_code == 0 and "hello from a plugin" in res.output
    warnings = [line for line in res.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "acme-broken" in warnings[0] and "boom" in warnings[0]


def test_a_plugin_cannot_replace_a_core_command(make_plugin) -> None:
    make_plugin("acme-cmds", HELLO.format(name="train"))
    res = run("--help")
    assert res.exit_code == 0 and "command 'train' is already taken" in res.output
    assert "Train a network" in run("train", "--help").output


def test_the_studies_package_adds_hno_experiment() -> None:
    pytest.importorskip("hno_studies")
    assert "experiment" in run("--help").output
    res = run("experiment", "converged", "--help")
    assert res.exit_code == 0 and "Converged comparison" in res.output
    assert "issue" not in res.output.lower()


def test_hno_help_lists_every_registered_experiment() -> None:
    pytest.importorskip("hno_studies")
    from hno_framework.commands import plugin_commands

    group = plugin_commands(cli.commands, warn=lambda message: None)["experiment"]
    registered = set(group.commands)  # what the studies package registered, whatever it is
    assert {"synthetic", "inpainting", "image-cs", "converged", "operators"} <= registered
    out = run("--help").output
    row = out[out.index("\n  experiment "):].split("\n  inspect ")[0]  # the experiment row, wrapped or not
    words = set(row.replace(",", " ").replace(":", " ").split())
    assert registered <= words, (registered - words, row)
    res = run("experiment", "--help")
    assert res.exit_code == 0 and all(f"\n  {name} " in res.output for name in registered)
