"""Progress of runs that train in other processes (``hno compare`` on the local or Ray executor).

Worker processes show no bars of their own (several bars redrawn from several processes would overwrite each
other). Instead each run's worker writes where it stands, ``<iteration> <total>``, to a small file of its own in a
scratch folder of the parent, at most once a second (:class:`ProgressReporter`, a training callback). The parent
polls that folder (:class:`JobsProgress`) and shows one bar over the iterations of all runs through
:func:`~hno_framework.progress.progress_bar`: a redrawn tqdm bar on a terminal, a plain line per tenth of the work
anywhere else (a log file never fills with redraws). As each run finishes, :meth:`JobsProgress.status` says its
final NMSE, how many runs are done and about how long the rest will take.

A worker that cannot write to the scratch folder (a Ray node that does not see the parent's disk) is counted only
when its run finishes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .progress import PlainProgress, progress_bar
from .training.callbacks import Callback

if TYPE_CHECKING:
    from .training.loop import Trainer
    from .training.result import TrainResult

POLL_S = 0.5
"""How often the parent reads the workers' progress files (seconds)."""
REPORT_S = 1.0
"""How often a worker writes its progress file at most (seconds)."""


class ProgressReporter(Callback):
    """In a worker: writes ``<iteration> <total>`` of the run to ``path`` at most every ``every_s`` seconds, at the
    start and at the end (``total`` 0: not known in advance, e.g. stage-wise training). Best effort: a file that
    cannot be written is skipped, never an error of the run."""

    def __init__(self, path: str | Path, every_s: float = REPORT_S) -> None:
        self.path, self.every_s, self.last = Path(path), every_s, -float("inf")

    def _write(self, trainer: Trainer) -> None:
        self.last = time.monotonic()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(f"{trainer.iteration} {trainer.protocol.progress_total or 0}\n")
            os.replace(tmp, self.path)

    def on_train_start(self, trainer: Trainer) -> None:
        self._write(trainer)

    def on_step(self, trainer: Trainer, loss: float) -> None:
        if time.monotonic() - self.last >= self.every_s:
            self._write(trainer)

    def on_train_end(self, trainer: Trainer, result: TrainResult) -> None:
        self._write(trainer)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class JobsProgress:
    """In the parent: one progress display over the runs ``totals`` (name -> iterations, None when not known in
    advance), fed by the workers' :class:`ProgressReporter` files (module docstring). A context manager: the
    polling thread and the scratch folder live as long as the ``with`` block."""

    def __init__(self, totals: Mapping[str, int | None], *, desc: str = "training", poll_s: float = POLL_S) -> None:
        self.totals = dict(totals)
        self.desc, self.poll_s = desc, poll_s
        self.folder = Path(tempfile.mkdtemp(prefix="hno-progress-"))  # private (0700): no one else writes there
        self.done_at: dict[str, int] = dict.fromkeys(self.totals, 0)  # iterations reached, per run
        self.first: dict[str, int] = {}  # where each run stood when first seen (a resumed run starts far along)
        self.finished: dict[str, str] = {}  # run -> its final line part
        self.shown = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.bar: Any = None
        self.start = time.monotonic()
        self.status_text = ""

    # -- files ------------------------------------------------------------------------------------
    def path(self, key: str) -> str:
        """The progress file of the run ``key`` (what its job's :class:`ProgressReporter` writes)."""
        return str(self.folder / f"run{list(self.totals).index(key)}")

    def _read(self) -> None:
        for key in self.totals:
            if key in self.finished:
                continue
            try:
                iteration, total = (int(v) for v in Path(self.path(key)).read_text().split())
            except (OSError, ValueError):
                continue
            self.first.setdefault(key, iteration)
            self.done_at[key] = iteration
            if total > 0:
                self.totals[key] = total

    # -- numbers ----------------------------------------------------------------------------------
    def total(self) -> int | None:
        """All runs' iterations together; None while one run's is not known."""
        return None if any(t is None for t in self.totals.values()) else sum(t or 0 for t in self.totals.values())

    def seconds_left(self) -> float | None:
        """About how long the runs still training need, from the iterations done in this session so far."""
        total = self.total()
        done = sum(self.done_at.values())
        fresh = done - sum(self.first.values())
        elapsed = time.monotonic() - self.start
        if total is None or fresh <= 0 or elapsed <= 0:
            return None
        return max(0.0, total - done) * elapsed / fresh

    def _status(self) -> str:
        return f"{len(self.finished)} of {len(self.totals)} runs done"

    def _refresh(self) -> None:
        """Bring the bar to the iterations done (under the lock)."""
        if self.bar is None:
            return
        total = self.total()
        if total is not None and total != self.bar.total:  # a failed run's share is no longer waited for
            self.bar.total = total
        done = sum(self.done_at.values())
        if done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done
        status = self._status()
        if self.total() is not None:  # plain lines come per tenth of the total: the time left may change every poll
            left = self.seconds_left()
            status += f", about {_duration(left)} left" if left is not None and len(self.finished) < len(self.totals) else ""
        elif status == self.status_text:
            return  # no total: a plain line per status change, never one per poll
        self.status_text = status
        self.bar.set_postfix_str(status, refresh=False)

    # -- what the caller uses -----------------------------------------------------------------------
    def finish(self, key: str, result: TrainResult | None) -> None:
        """The run ``key`` ended (``result`` None: it failed): count all its iterations as done."""
        with self.lock:
            self._read()
            total = self.totals.get(key)
            if result is not None:
                self.done_at[key] = max(self.done_at.get(key, 0), result.iterations)
                self.totals[key] = max(total or 0, result.iterations)
                self.finished[key] = f"final {result.test_nmse_db[-1]:.2f} dB"
            else:
                if total is not None:  # a failed run will train no more: its share is no longer waited for
                    self.totals[key] = self.done_at.get(key, 0)
                self.finished[key] = "failed"
            self._refresh()

    def status(self, key: str) -> str:
        """``final -23.41 dB; 1 of 2 runs done, about 40 s left`` for a finished run ``key``."""
        with self.lock:
            left = self.seconds_left() if len(self.finished) < len(self.totals) else None
            eta = f", about {_duration(left)} left" if left is not None else ""
            own = self.finished.get(key, "")
            return f"{own + '; ' if own and own != 'failed' else ''}{self._status()}{eta}"

    def echo(self, line: str) -> None:
        """Print ``line`` on standard error without breaking the bar."""
        with self.lock:
            if self.bar is not None and not isinstance(self.bar, PlainProgress):
                self.bar.write(line, file=sys.stderr)  # tqdm: above the bar, which is drawn again below
            else:
                print(line, file=sys.stderr, flush=True)

    def _poll(self) -> None:
        while not self.stop.wait(self.poll_s):
            with self.lock:
                self._read()
                self._refresh()

    def __enter__(self) -> JobsProgress:
        self.bar = progress_bar(total=self.total(), desc=self.desc, unit="it", dynamic_ncols=True, leave=False)
        self.thread = threading.Thread(target=self._poll, name="hno-jobs-progress", daemon=True)
        try:
            self.thread.start()
        except RuntimeError:  # no thread to spare: the runs train on, with a line per finished run only
            self.thread = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        with self.lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
        shutil.rmtree(self.folder, ignore_errors=True)
