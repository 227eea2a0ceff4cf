"""Progress output: a redrawn tqdm bar on a terminal, plain lines anywhere else.

A bar redraws itself with carriage returns many times a second; written to a log file or a pipe, every redraw
stays, and a run fills its log with them. :func:`progress_bar` therefore returns a tqdm bar only when its stream
(standard error) is a terminal; otherwise a :class:`PlainProgress`, which writes one line each time another tenth
of the total is done (with the last status the caller set, e.g. the loss and the best validation NMSE), and when
the total is unknown one line per status update.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any


class PlainProgress:
    """The part of tqdm's interface the bars here use (``update``, ``set_postfix_str``, ``close``), as plain lines:
    ``<desc>: 300/3000 it (10%), 4.1 s; <status>``."""

    def __init__(self, total: int | None = None, initial: int = 0, desc: str = "", unit: str = "it",
                 file: IO[str] | None = None, parts: int = 10) -> None:
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.file = file
        self.postfix = ""
        self.start = time.monotonic()
        self.step = max(1, math.ceil(total / parts)) if total else 0
        self.next_mark = (initial // self.step + 1) * self.step if self.step else 0
        self.closed = False
        self.pending = False

    def _line(self) -> None:
        done = f"{self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)" if self.total else f"{self.n} {self.unit}"
        status = f"; {self.postfix}" if self.postfix else ""
        file = self.file if self.file is not None else sys.stderr
        print(f"{self.desc}: {done}, {time.monotonic() - self.start:.1f} s{status}", file=file, flush=True)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps; a line is due when they cross the next tenth (written once the caller had the chance
        to set this step's status: at ``set_postfix_str``, the next ``update`` or ``close``)."""
        self._flush()
        self.n += n
        if self.step and self.n >= self.next_mark:
            self.pending = True
            self.next_mark = (self.n // self.step + 1) * self.step

    def _flush(self) -> None:
        if self.pending:
            self.pending = False
            self._line()

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = text
        if self.pending or not self.total:
            self.pending = False
            self._line()

    def close(self) -> None:
        self._flush()
        self.closed = True


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: standard error, where progress goes) is a terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress_bar(*, total: int | None, initial: int = 0, enabled: bool = True, desc: str = "", unit: str = "it",
                 **tqdm_options: Any) -> Any:
    """A progress display for ``total`` steps (module docstring): tqdm on a terminal (``tqdm_options`` passed on),
    :class:`PlainProgress` lines elsewhere, a disabled tqdm (prints nothing) when not ``enabled``."""
    from tqdm.auto import tqdm

    if enabled and not is_terminal():
        return PlainProgress(total=total, initial=initial, desc=desc, unit=unit)
    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit=unit, **tqdm_options)
