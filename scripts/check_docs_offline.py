"""Check that a built docs site loads nothing from the internet, so it works offline.

A page works offline when everything it loads (stylesheets, scripts, fonts, images, frames) comes from the site
itself. Links a reader may follow (``<a href="https://...">``) are fine. This script reads every ``.html`` and
``.css`` file of a built site and reports each resource it would fetch from another host:

* ``<link>`` with ``rel`` stylesheet, preconnect, preload, dns-prefetch, icon or modulepreload and an ``http(s)://`` or
  ``//`` ``href`` (mkdocs-material's default Google Fonts are two of these: set ``theme.font: false``);
* ``<script src>``, ``<img src>``, ``<iframe src>``, ``<source src>``, ``<video src>``, ``<audio src>``,
  ``<embed src>``, ``<object data>`` pointing elsewhere;
* ``@import`` and ``url(...)`` of another host in a stylesheet or a ``<style>`` block;
* mkdocs-material's repository widget (``data-md-component="source"``), which asks the GitHub API for stars and
  forks (``repo_url``).

Usage::

    NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --site-dir /tmp/site
    python scripts/check_docs_offline.py /tmp/site

Exit status 0 when nothing is fetched from elsewhere, 1 otherwise (each fetch is printed with its file).
"""

from __future__ import annotations

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
FETCHING_RELS = {"stylesheet", "preconnect", "preload", "prefetch", "dns-prefetch", "icon", "modulepreload",
                 "apple-touch-icon", "manifest"}
SRC_TAGS = {"script", "img", "iframe", "source", "video", "audio", "embed", "track", "input"}
CSS_URL = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")\s]+)""", re.IGNORECASE)


class _Fetches(HTMLParser):
    """The external resources one HTML page loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "link" and FETCHING_RELS & set(a.get("rel", "").lower().split()) and EXTERNAL.match(a.get("href", "")):
            self.found.append(f"<link rel={a['rel']}> {a['href']}")
        for attr in ("src", "srcset", "poster"):
            if tag in SRC_TAGS and EXTERNAL.match(a.get(attr, "")):
                self.found.append(f"<{tag} {attr}> {a[attr]}")
        if tag == "object" and EXTERNAL.match(a.get("data", "")):
            self.found.append(f"<object data> {a['data']}")
        if a.get("data-md-component") == "source" and EXTERNAL.match(a.get("href", "")):
            self.found.append(f"repository widget (queries the GitHub API) {a['href']}")
        if EXTERNAL.search(a.get("style", "")) or "url(" in a.get("style", ""):
            self.found += [f"style url() {u}" for u in css_fetches(a.get("style", ""))]
        self.in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.found += [f"<style> {u}" for u in css_fetches(data)]


def css_fetches(text: str) -> list[str]:
    """The other hosts' URLs a stylesheet imports or loads (``@import``, ``url(...)``)."""
    urls = [m.group(1) or m.group(2) for m in CSS_URL.finditer(text)]
    return [u for u in urls if EXTERNAL.match(u)]


def site_fetches(site: Path) -> list[str]:
    """Every external fetch of the built site ``site``, as ``<file>: <what> <url>`` lines."""
    problems = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            parser = _Fetches()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            problems += [f"{path.relative_to(site)}: {f}" for f in parser.found]
        elif path.suffix == ".css":
            text = path.read_text(encoding="utf-8", errors="replace")
            problems += [f"{path.relative_to(site)}: url() {u}" for u in css_fetches(text)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site folder (mkdocs build --site-dir)")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"Error: {args.site} is not a built site (no index.html); build it with mkdocs build --site-dir "
              f"{args.site}", file=sys.stderr)
        return 2
    problems = site_fetches(args.site)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} resources are fetched from the internet; the site must work offline "
              "(theme.font: false in mkdocs.yml, local copies of scripts and stylesheets)", file=sys.stderr)
        return 1
    print(f"{args.site}: every page loads only the site's own files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
