"""MkDocs hook (see ``hooks:`` in mkdocs.yml): nav entries that tolerate pages written later.

* An entry whose path has a glob pattern (``steps/*.md``) becomes one entry per matching page,
  sorted by file name, each titled by the page's first heading; an ``index.md`` comes first.
* An entry naming a page that does not exist (yet) is left out, with an INFO line naming it,
  so that ``mkdocs build --strict`` keeps passing while other authors' pages are in progress.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.nav")
GLOB_CHARS = set("*?[")


def _expand(entry: Any, docs: Path) -> list[Any]:
    if isinstance(entry, list):
        return [item for child in entry for item in _expand(child, docs)]
    if isinstance(entry, dict):
        out = {}
        for title, value in entry.items():
            expanded = _expand(value, docs)
            if not expanded:
                continue
            # a glob or a single page under a title: keep the title for the single page only
            is_glob = isinstance(value, str) and GLOB_CHARS & set(value)
            out[title] = expanded if is_glob or isinstance(value, list) else expanded[0]
        return [out] if out else []
    if isinstance(entry, str):
        if "://" in entry:
            return [entry]
        if GLOB_CHARS & set(entry):
            pages = sorted(glob.glob(entry, root_dir=docs), key=lambda p: (Path(p).name != "index.md", p))
            if not pages:
                log.info("nav: no page matches '%s' yet; left out", entry)
            return [p.replace("\\", "/") for p in pages]
        if not (docs / entry).is_file():
            log.info("nav: page '%s' does not exist yet; left out", entry)
            return []
        return [entry]
    return [entry]


def on_config(config: Any) -> Any:
    if config.nav:
        config.nav = _expand(config.nav, Path(config.docs_dir))
    return config


# -- Griffe extension (see `extensions:` in mkdocs.yml) -------------------------------------------
# Our docstrings use a few reStructuredText habits that Markdown would print literally. Rewrite
# them when Griffe loads the docstrings; the source files stay as they are.

import re  # noqa: E402

import griffe  # noqa: E402

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    text = target.rsplit(".", 1)[-1] if short else target
    return f"`{text}`"


def rst_to_markdown(text: str) -> str:
    """``:class:`~a.b.C``` -> `` `C` ``; a paragraph ending in ``::`` -> ``:``; a blank line
    before a bullet list that follows a paragraph line (Markdown needs one)."""
    text = _ROLE.sub(_role, text)
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.endswith("::") and not stripped.startswith(("..", ">>>")):
            line = line[:-1]
        is_item = stripped.startswith(("* ", "- "))
        if is_item and out and out[-1].strip() and not out[-1].lstrip().startswith(("* ", "- ")) and not out[-1].startswith(" " * (len(line) - len(stripped) + 2)):
            out.append("")
        out.append(line)
    return "\n".join(out)


class RstHabits(griffe.Extension):
    """Applies :func:`rst_to_markdown` to every docstring Griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
