"""The reference pages cover the code: every ``hno`` command, argument and option is in
``docs/cli.md``, every config key of :class:`~hno_framework.config.ExperimentConfig` is in
``docs/configuration.md``, and ``hno --help`` lists every top-level command.

The click command tree and the pydantic models are walked here, so a new command, option or
config key fails these tests until it is documented; each failure lists exactly what is missing
and where it has to go.

Conventions the pages follow (and these tests read):

* ``docs/cli.md`` has one heading per command whose first code span is the command path,
  e.g. ``## `hno train` ``, ``### `hno experiment synthetic` ``. A command's section runs to the next
  heading of the same or a higher level (a group's section holds its subcommands'). Its options
  (every spelling: ``--progress`` and ``--no-progress``), its arguments (as in the usage line:
  ``CONFIG``) and the values of a choice (``all``, ``steps``, ...) must appear in that section.
* ``docs/configuration.md``: a key is documented when its dotted path (``training.stagewise.patience``)
  appears in the text, or when it is a key of a YAML example (```` ```yaml ```` blocks, read as
  nested mappings from the top level). Conversely every key of a YAML example must exist
  (keys below a free-form mapping such as a component's ``options`` are not checked).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from pydantic import BaseModel

from hno_framework.cli import cli
from hno_framework.config import ExperimentConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"
CLI_PAGE = DOCS / "cli.md"
CONFIG_PAGE = DOCS / "configuration.md"

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
FIRST_CODE_SPAN = re.compile(r"`([^`]+)`")


# -- reading the pages ----------------------------------------------------------------------------


@dataclass
class Section:
    """A heading of a Markdown page and the text below it up to the next heading of its level or higher."""

    level: int
    title: str
    text: str


def sections(markdown: str) -> list[Section]:
    """Every heading (outside fenced code) with its section text."""
    lines = markdown.splitlines()
    heads: list[tuple[int, int, str]] = []  # (line index, level, title)
    in_fence = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            heads.append((i, len(match.group(1)), match.group(2)))
    out = []
    for k, (i, level, title) in enumerate(heads):
        end = next((j for j, lev, _ in heads[k + 1 :] if lev <= level), len(lines))
        out.append(Section(level, title, "\n".join(lines[i:end])))
    return out


def command_sections(markdown: str) -> dict[str, Section]:
    """Sections whose heading's first code span is a command path (``hno ...``), by that path."""
    found = {}
    for section in sections(markdown):
        span = FIRST_CODE_SPAN.search(section.title)
        if span and span.group(1).split()[:1] == ["hno"]:
            found[" ".join(span.group(1).split())] = section
    return found


def mentions(text: str, token: str) -> bool:
    """``token`` occurs in ``text`` as a whole word (``--json`` not inside ``--json-out``)."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def yaml_blocks(markdown: str) -> list[Any]:
    """The parsed contents of every ```` ```yaml ```` block of a page."""
    blocks = re.findall(r"^```ya?ml[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    return [yaml.safe_load(b) for b in blocks]


# -- walking the code -----------------------------------------------------------------------------


def walk_commands(cmd: click.Command, path: tuple[str, ...] = ("hno",),
                  parent: click.Context | None = None) -> list[tuple[tuple[str, ...], click.Command]]:
    """``(path, command)`` for ``cmd`` and every command below it, depth first, as the command line finds them:
    through ``list_commands``/``get_command``, so the commands plugins register (``hno experiment``) are walked too."""
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, parent=parent)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                out += walk_commands(sub, (*path, name), ctx)
    return out


def required_words(cmd: click.Command) -> list[str]:
    """What a command's section must name: option spellings, argument names (as in the usage
    line: ``CONFIG``, or the words of an argument's metavar) and the values of choices."""
    words: list[str] = []
    for param in cmd.params:
        if isinstance(param, click.Option):
            words += [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
        elif param.metavar:  # e.g. "[all|steps|integrators]": each word of it
            words += re.findall(r"[\w-]+", param.metavar)
        elif not isinstance(param.type, click.Choice):
            words.append((param.name or "").upper())
        if isinstance(param.type, click.Choice):
            words += [str(c) for c in param.type.choices]
    return words


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models in an annotation (``X``, ``X | None``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted path of every field of ``model`` and of the models below it (``training.stagewise.patience``)."""
    keys = []
    for name, field in model.model_fields.items():
        path = prefix + name
        keys.append(path)
        for sub in _models_in(field.annotation):
            keys += config_keys(sub, path + ".")
    return keys


def yaml_key_paths(data: Any, prefix: str = "") -> list[str]:
    """Dotted path of every mapping key in parsed YAML (list items are looked into, without an index)."""
    paths = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            paths.append(path)
            paths += yaml_key_paths(value, path + ".")
    elif isinstance(data, list):
        for item in data:
            paths += yaml_key_paths(item, prefix)
    return paths


def free_form_prefixes(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Paths of fields holding a free mapping (``network.step.options``): keys below them are not fields."""
    out = []
    for name, field in model.model_fields.items():
        path = prefix + name
        subs = _models_in(field.annotation)
        if subs:
            for sub in subs:
                out += free_form_prefixes(sub, path + ".")
        elif typing.get_origin(field.annotation) is dict or field.annotation is dict:
            out.append(path)
    return out


# -- the tests ------------------------------------------------------------------------------------


def test_cli_page_has_a_section_per_command_naming_its_options_and_arguments() -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    documented = command_sections(page)
    missing_commands: list[str] = []
    missing_words: list[str] = []
    for path, cmd in walk_commands(cli):
        name = " ".join(path)
        if len(path) == 1:  # the root group: its options anywhere on the page
            section_text = page
        elif name in documented:
            section_text = documented[name].text
        else:
            missing_commands.append(name)
            continue
        absent = [w for w in required_words(cmd) if not mentions(section_text, w)]
        if absent:
            missing_words.append(f"{name}: {', '.join(absent)}")
    problems = []
    if missing_commands:
        problems.append("commands without a section (add a heading like '## `hno train`' with usage and options): "
                        + "; ".join(missing_commands))
    if missing_words:
        problems.append("options / arguments / choice values not named in their command's section: "
                        + "; ".join(missing_words))
    assert not problems, f"{CLI_PAGE.relative_to(DOCS.parent)} is incomplete:\n  " + "\n  ".join(problems)


def test_hno_help_summary_lists_every_command() -> None:
    summary = cli.help or ""
    assert isinstance(cli, click.Group)
    absent = [name for name in sorted(cli.commands) if not mentions(summary, f"hno {name}")]
    assert not absent, (
        "the summary in `hno --help` (the docstring of hno_framework.cli.cli) lacks: "
        + ", ".join(f"hno {n}" for n in absent)
    )


@pytest.mark.parametrize("page", [CLI_PAGE, CONFIG_PAGE], ids=lambda p: p.name)
def test_reference_pages_show_no_escaped_pipes(page: Path) -> None:
    # In a table cell, `a\|b` inside a code span renders with the backslash visible.
    bad = [f"line {i}: {line.strip()[:80]}" for i, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
           if "\\|" in line and "$" not in line]
    assert not bad, f"{page.name}: write the alternatives as a list or with ' or ', not '\\|':\n  " + "\n  ".join(bad)


def test_configuration_page_names_every_config_key() -> None:
    page = CONFIG_PAGE.read_text(encoding="utf-8")
    in_examples = {p for block in yaml_blocks(page) for p in yaml_key_paths(block)}
    absent = [k for k in config_keys(ExperimentConfig) if k not in in_examples and not mentions(page, k)]
    assert not absent, (
        f"{CONFIG_PAGE.relative_to(DOCS.parent)} does not name these config keys (add them to the YAML example "
        "with a comment, or describe `the.dotted.path` in the text): " + ", ".join(absent)
    )


def test_configuration_examples_use_only_real_keys() -> None:
    page = CONFIG_PAGE.read_text(encoding="utf-8")
    known = set(config_keys(ExperimentConfig))
    free = tuple(p + "." for p in free_form_prefixes(ExperimentConfig))
    stale = sorted({p for block in yaml_blocks(page) for p in yaml_key_paths(block)
                    if p not in known and not p.startswith(free)})
    assert not stale, f"{CONFIG_PAGE.name}: YAML examples use keys that are not config fields: " + ", ".join(stale)


# -- the checkers can fail ------------------------------------------------------------------------


def test_checkers_find_missing_items() -> None:
    page = "# CLI\n\n## `hno train`\n\n`--set`, `--resume`\n\n### `hno train sub`\n\n```text\n## `hno x`\n```\n\n## `hno eval`\n"
    found = command_sections(page)
    assert sorted(found) == ["hno eval", "hno train", "hno train sub"]
    assert "hno train sub" in found["hno train"].text and "hno eval" not in found["hno train"].text
    assert mentions(found["hno train"].text, "--set") and not mentions(found["hno eval"].text, "--set")
    assert not mentions("--json-out", "--json")

    class Inner(BaseModel):
        a: int = 0

    class Outer(BaseModel):
        inner: Inner | None = None
        opts: dict[str, Any] = {}

    assert config_keys(Outer) == ["inner", "inner.a", "opts"]
    assert free_form_prefixes(Outer) == ["opts"]
    assert yaml_key_paths({"inner": {"a": 1}, "l": [{"b": 2}]}) == ["inner", "inner.a", "l", "l.b"]


def test_every_option_the_cli_page_documents_exists() -> None:
    """The converse of the test above: an option named in a bullet of a command's own section (``* `--force`: ...``)
    is an option of that command, so the page never documents what does not exist."""
    page = CLI_PAGE.read_text(encoding="utf-8")
    documented = command_sections(page)
    ctx = click.Context(cli)
    invented: list[str] = []

    def leaves(cmd: click.Command, path: tuple[str, ...], context: click.Context) -> list[tuple[str, click.Command]]:
        if not isinstance(cmd, click.Group):
            return [(" ".join(path), cmd)]
        sub = click.Context(cmd, parent=context)
        return [leaf for name in cmd.list_commands(sub) if (c := cmd.get_command(sub, name)) is not None
                for leaf in leaves(c, (*path, name), sub)]

    for name, cmd in leaves(cli, ("hno",), ctx):
        section = documented.get(name)
        if section is None:
            continue
        options = {o for p in cmd.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
        for line in section.text.splitlines():
            if re.match(r"^\s*\* `--", line):
                head = line.split("`:", 1)[0]
                invented += [f"{name} {o}" for o in re.findall(r"`(--[\w-]+)", head + "`") if o not in options]
    assert not invented, f"{CLI_PAGE.relative_to(DOCS.parent)} documents options that do not exist: {'; '.join(invented)}"
