"""Running a plugin's code (its import, its hooks) so that it cannot break the command that loads it.

:func:`guarded` calls ``load()`` and returns what it returned or raised, with what the plugin printed
and the warnings it raised:

* **Any exception is the plugin's**, ``BaseException`` included (``SystemExit``, ``GeneratorExit``, a
  ``KeyboardInterrupt`` the plugin raises itself): the caller records the plugin as broken.
* **Except a real Ctrl-C.** While ``load()`` runs, a SIGINT handler records that the user pressed
  Ctrl-C and then does what the previous handler would (Python's default raises
  ``KeyboardInterrupt``). If a SIGINT arrived during ``load()``, :func:`guarded` raises
  ``KeyboardInterrupt`` once ``load()`` has ended, whatever the plugin did with it (let it through,
  turned it into another exception or swallowed it), so the user's command is interrupted. The
  handler is installed only in the main thread (where Python delivers signals) and only when
  SIGINT is not ignored.
* **stdout stays the command's**: what the plugin writes to ``sys.stdout`` is captured (so
  ``hno list --json`` stays valid JSON) and reported as a plugin warning.
* **Warnings** the plugin raises are captured, one ``Category: message`` line each, for the caller
  to report as one line per plugin.

What cannot be contained in-process: ``os._exit()``, a crash (segmentation fault) in a C extension,
and output a C extension writes straight to file descriptor 1. ``hno list plugins --no-import``
lists the plugins from their metadata without importing any.
"""

from __future__ import annotations

import contextlib
import io
import signal
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_PRINTED_CHARS = 200


@dataclass
class Guarded(Generic[T]):
    """The outcome of :func:`guarded`: ``value`` or ``error``, and ``warnings`` (what the plugin warned or printed)."""

    value: T | None = None
    error: BaseException | None = None
    warnings: list[str] = field(default_factory=list)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _printed(text: str) -> str:
    text = _one_line(text)
    return text if len(text) <= _PRINTED_CHARS else text[:_PRINTED_CHARS] + "..."


@contextlib.contextmanager
def _sigint_recorder(pressed: list[bool]) -> Any:
    """Record a SIGINT in ``pressed`` while the block runs, then hand it to the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield
        return

    def record(signum: int, frame: Any) -> None:
        pressed.append(True)
        if callable(previous):
            previous(signum, frame)
        else:  # SIG_DFL or a handler not installed from Python: interrupt
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, record)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def guarded(load: Callable[[], T]) -> Guarded[T]:
    """Run ``load()`` (a plugin's import or hook): its result or exception, and what it printed or warned.

    Raises ``KeyboardInterrupt`` only when the user pressed Ctrl-C while ``load()`` ran (see the module docs)."""
    outcome: Guarded[T] = Guarded()
    pressed: list[bool] = []
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        try:
            with _sigint_recorder(pressed), contextlib.redirect_stdout(out):
                outcome.value = load()
        except BaseException as exc:  # noqa: BLE001 - anything the plugin raises is the plugin's (but see below)
            outcome.error = exc
    if pressed:  # a real Ctrl-C: the user's command stops, whatever the plugin made of it
        raise KeyboardInterrupt from outcome.error
    outcome.warnings = [f"warns: {w.category.__name__}: {_one_line(str(w.message))}" for w in caught]
    if out.getvalue().strip():
        outcome.warnings.append(f"prints to stdout while loading (kept off stdout): {_printed(out.getvalue())}")
    return outcome
