"""The run folder ``output.dir/name``: one run at a time, no silent overwrite, nothing lost to a kill.

* :class:`RunLock` — ``.lock`` in the run folder holds ``pid host start-time`` of the run using it and
  an exclusive ``fcntl.flock`` for as long as that process lives. A second run finds the flock taken
  and refuses, naming the holder's PID and host. A run that was killed (``kill -9``, a crash, a
  power cut) leaves the file but not the flock (the kernel drops it with the process), so the next
  run detects the lock as stale and takes it over. Where ``flock`` is not supported the PID is
  checked instead (same host: stale when that PID is gone).
* :func:`check_run_dir` — before a run: ``output.dir`` must be a folder (not a file); a folder that
  already holds a run is refused unless it is resumed (``--resume``) or overwritten (``--force``);
  ``--resume`` with no ``last.pt`` is an error, not a silent fresh start. A run killed before its first
  ``last.pt`` left nothing to resume or keep: a plain rerun starts it over (:func:`held_run_files`).
* :func:`clear_run_dir` — a run that replaces another (``--force``) first deletes all of the old run's outputs
  (figures, report, logger folders too), never following a symbolic link and never outside the run folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import stat
import time
from pathlib import Path
from types import TracebackType

from ..errors import HNOError
from ..io import pid_alive, remove_orphaned_tmp, with_path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
RUN_FILES = ("last.pt", "best.pt", "metrics.json")
"""Files that make a folder hold a run (before a new run, ``--force`` deletes them and the rest of that run's
outputs: :func:`clear_run_dir`)."""


class RunDirError(HNOError):
    """The run folder cannot be used as asked: locked by another run, holds a run, nothing to resume."""


class RunAlreadyFinished(Exception):  # not an error: the run is done, there is nothing to train
    """``--resume`` of a run that already reached its iteration limits (:func:`~.loop.run_training` with
    ``skip_finished``): nothing was trained or written; ``iterations`` is where the run stopped."""

    def __init__(self, name: str, run_dir: Path, iterations: int) -> None:
        self.name, self.run_dir, self.iterations = name, run_dir, iterations
        super().__init__(f"{name}: already finished after {iterations} iterations ({run_dir / 'best.pt'}); nothing "
                         "to train. Raise training.iterations to train on, or pass --force to start over")


def _holder(path: Path) -> tuple[int, str, str]:
    """``(pid, host, since)`` written in a lock file (``(0, "?", "?")`` when unreadable)."""
    try:
        pid, host, since = path.read_text().split(maxsplit=2)
        return int(pid), host, since.strip()
    except (OSError, ValueError):
        return 0, "?", "?"


class RunLock:
    """Exclusive use of a run folder by this process (module docstring); a context manager.

    ``acquire`` raises :class:`RunDirError` ``"... is in use by PID <pid> on <host> ..."`` while another
    live process holds it; ``stale`` tells, after acquiring, whether a killed run's lock was taken over.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.fd: int | None = None
        self.created = False
        self.stale: tuple[int, str] | None = None

    def acquire(self) -> RunLock:
        self.created = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(20):  # retried only when a holder released (unlinked) the file under us
            try:  # never through a symlink (its target would be overwritten), never block on a FIFO
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o666)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    raise
                raise RunDirError(f"the lock file {self.path} is not a regular file; delete it and rerun") from None
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise RunDirError(f"the lock file {self.path} is not a regular file; delete it and rerun")
                if not self._lock(fd):
                    pid, host, since = _holder(self.path)
                    raise RunDirError(
                        f"run folder {self.run_dir} is in use by PID {pid} on {host} (since {since}); wait for that "
                        "run to finish, or choose another name or output.dir"
                    )
                if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                    raise FileNotFoundError  # released and unlinked between open and flock: try again
            except FileNotFoundError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            pid, host, _ = _holder(self.path)
            if pid:
                self.stale = (pid, host)  # a lock file whose holder is gone: a killed run
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                raise with_path(exc, self.path) from None
            self.fd = fd
            remove_orphaned_tmp(self.run_dir)  # temporary files of the killed run
            return self
        raise RunDirError(f"cannot lock run folder {self.run_dir}: its lock file keeps changing")

    def _lock(self, fd: int) -> bool:
        """Take the flock without waiting; where flock is unsupported, judge the recorded holder by its PID."""
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
        pid, host, _ = _holder(self.path)
        return not pid or pid == os.getpid() or (host == socket.gethostname() and not pid_alive(pid))

    def release(self) -> None:
        """Delete the lock file and drop the flock (unlink first, so no one locks a file about to vanish);
        remove the run folder again when acquiring created it and it stayed empty."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = None
        if self.created:  # a run that stopped before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                self.run_dir.rmdir()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def check_output_dir(run_dir: Path) -> None:
    """Raise :class:`RunDirError` when a part of ``run_dir`` that exists is a file, not a folder."""
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise RunDirError(f"{parent} is a file, but the run folder {run_dir} must go below it; "
                                  "set output.dir (or name) to a folder")
            return


def held_run_files(run_dir: str | Path) -> list[str]:
    """The files of an earlier run in ``run_dir`` that a new run must not silently replace (:data:`RUN_FILES`), or
    ``[]`` when there is nothing to keep: no ``last.pt`` and no ``metrics.json`` is a run killed before its first
    resumable checkpoint, whose ``best.pt`` (if any) is the network it started from; such a folder is started over."""
    run_dir = Path(run_dir)
    found = [f for f in RUN_FILES if (run_dir / f).is_file()]
    return found if {"last.pt", "metrics.json"} & set(found) else []


def check_run_dir(run_dir: str | Path, *, resume: bool, force: bool) -> None:
    """Before a run in ``run_dir``: refuse a file in the way, ``resume`` without ``last.pt``, and a folder
    that holds a run (:func:`held_run_files`) unless ``resume`` or ``force`` (module docstring). Each refusal names
    the option that works for that folder, never one that is refused in turn."""
    run_dir = Path(run_dir)
    check_output_dir(run_dir)
    held = held_run_files(run_dir)
    if resume:
        if not (run_dir / "last.pt").is_file():
            fix = (f"pass --force instead of --resume to replace the run there ({', '.join(held)})" if held
                   else "drop --resume to start a new run")
            raise RunDirError(f"nothing to resume: {run_dir / 'last.pt'} does not exist; {fix}")
        return
    if held and not force:
        how = "pass --resume to continue it, --force to replace it" if "last.pt" in held else \
            "it cannot be resumed (no last.pt); pass --force to replace it"
        raise RunDirError(f"{run_dir} already holds a run ({', '.join(held)}); {how}, or choose another name or output.dir")


def holds_run(folder: str | Path) -> bool:
    """Whether ``folder`` or a folder below it (symbolic links not followed) holds a run's files (:data:`RUN_FILES`
    or a lock): another run whose name continues this one's (``a`` and ``a/b``)."""
    marks = {*RUN_FILES, LOCK_FILE}
    return any(marks & set(files) for _, _, files in os.walk(folder, followlinks=False))


def clear_run_dir(run_dir: str | Path) -> list[Path]:
    """Before a new run in ``run_dir`` (``--force``, or a killed run started over): delete the earlier run's outputs;
    returns what was deleted.

    When ``run_dir`` held a run (any of :data:`RUN_FILES`), everything the run and its tools wrote there goes: every
    file and symbolic link directly in it (a link is deleted itself, never followed) and every subfolder (a logger's
    ``tensorboard/``), except the lock and a subfolder holding a run of its own (:func:`holds_run`); so no figure,
    report or log of the old run is left beside the new one. Nothing outside ``run_dir`` is touched. A folder that
    held no run is left as it is."""
    run_dir = Path(run_dir)
    if not any((run_dir / name).is_file() for name in RUN_FILES):
        return []
    removed = []
    with os.scandir(run_dir) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            path = Path(entry.path)
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir(follow_symlinks=False):
                if holds_run(path):
                    continue
                shutil.rmtree(path)  # removes links inside, never follows them
            else:
                path.unlink()  # a file, or a symbolic link itself (never its target)
            removed.append(path)
    return removed
