"""Check that the maths of every docs page is typeset in a real (headless) browser.

``mkdocs build --strict`` cannot see a formula that stays raw text: the maths is typeset by
KaTeX in the browser (see ``docs/assets/javascripts/katex-render.js``). This script serves a
built site on 127.0.0.1, loads every page in headless Chromium (``--dump-dom``, after the
scripts ran) and reports, per page:

* text outside code that still holds a maths delimiter (``$``, ``\\(``, ``\\[``): maths that
  ``pymdownx.arithmatex`` did not pick up (e.g. a ``$`` eaten by a table) or KaTeX did not render;
* KaTeX errors (formulas KaTeX could not parse, shown in red on the page);
* how many formulas were rendered.

Usage (needs Chromium: ``apt-get install chromium``)::

    NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --site-dir /tmp/site
    python scripts/check_docs_render.py /tmp/site [--only concepts steps/lista]

Exit status 0 when every page is clean, 1 otherwise (each problem is printed with its page).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

SKIP_TAGS = {"code", "pre", "script", "style", "textarea"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
RAW_MATH = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]")


@dataclass
class PageReport:
    """What one rendered page holds: raw-maths text snippets, KaTeX errors, rendered formulas."""

    raw: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rendered: int = 0


class _Scanner(HTMLParser):
    """Collects visible text outside code and KaTeX output, KaTeX errors and rendered formulas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, skip text, is katex error)
        self.report = PageReport()
        self._error_text: list[str] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip, _ in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in VOID_TAGS:
            return
        if "katex" in classes or "katex-display" in classes:
            self.report.rendered += "katex" in classes
        is_error = "katex-error" in classes
        skip = tag in SKIP_TAGS or "katex" in classes or "katex-display" in classes or is_error
        self.stack.append((tag, skip, is_error))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, _, is_error = self.stack.pop()
            if is_error:
                self.report.errors.append("".join(self._error_text).strip()[:120])
                self._error_text = []
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if any(err for _, _, err in self.stack):
            self._error_text.append(data)
        elif not self._skipping():
            for match in RAW_MATH.finditer(data):
                start = max(0, match.start() - 40)
                self.report.raw.append(data[start : match.end() + 40].replace("\n", " ").strip())


def scan(html: str) -> PageReport:
    """Scan the DOM of one page (as Chromium dumped it) for raw maths and KaTeX errors."""
    scanner = _Scanner()
    scanner.feed(html)
    return scanner.report


def dump_dom(chromium: str, url: str, budget_ms: int) -> str:
    """The page's DOM after its scripts ran, from headless Chromium."""
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"chromium failed on {url} (exit {done.returncode}): {done.stderr[-500:]}")
    return done.stdout


def pages(site: Path, only: list[str]) -> list[str]:
    """Site-relative URLs of the HTML pages (``concepts/``), or of the ``only`` ones."""
    if only:
        return [p.strip("/") + "/" if p.strip("/") else "" for p in only]
    found = []
    for path in sorted(site.rglob("index.html")):
        rel = path.parent.relative_to(site).as_posix()
        if rel.startswith(("assets", "search")):
            continue
        found.append("" if rel == "." else rel + "/")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="a built site (mkdocs build --site-dir SITE)")
    parser.add_argument("--only", nargs="*", default=[], help="page paths, e.g. concepts steps/lista")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--budget-ms", type=int, default=5000, help="virtual time for scripts to run")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        parser.error(f"{args.site} is not a built site (no index.html); run mkdocs build --site-dir {args.site}")

    handler = functools.partial(_QuietHandler, directory=str(args.site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    bad = 0
    total = 0
    try:
        for page in pages(args.site, args.only):
            report = scan(dump_dom(args.chromium, base + page, args.budget_ms))
            total += report.rendered
            problems = [f"raw maths: …{s}…" for s in dict.fromkeys(report.raw)] + [f"KaTeX error: {e}" for e in report.errors]
            status = "ok" if not problems else "FAIL"
            print(f"{status:4} {report.rendered:4d} formulas  /{page}")
            for line in problems:
                print(f"       {line}")
            bad += bool(problems)
    finally:
        server.shutdown()
    print(f"{total} formulas rendered; {bad} page(s) with problems")
    return 1 if bad else 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
