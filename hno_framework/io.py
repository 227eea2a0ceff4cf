"""Crash-safe file output: atomic writes, strict JSON, orphaned temporary files.

A file is written to a temporary sibling ``.<name>.<host>-<pid>.<random>.tmp``, flushed and
fsynced, then moved over the target with ``os.replace`` (atomic on POSIX) and the folder is fsynced,
so a reader sees the old file or the new one, never a half-written one, even after a power cut.
A process killed mid-write leaves its temporary file behind; :func:`remove_orphaned_tmp` deletes
those whose writer (same host, PID no longer alive) is gone. New files get the usual
``0o666 & ~umask`` permissions (``tempfile.mkstemp`` alone would make them ``0o600``).
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import HNOError

_TMP = re.compile(r"^\.(?P<target>.+)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^.]+\.tmp$")


class DiskFullError(HNOError, OSError):
    """Writing failed because the device holding the output is full."""


class CorruptFileError(HNOError):
    """A file the framework wrote earlier cannot be parsed any more."""


def host_tag() -> str:
    """This machine's name reduced to ``[A-Za-z0-9_]`` (part of temporary-file and lock names)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine (signal 0 probes without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def current_umask() -> int:
    """The process umask (read by setting and restoring it; there is no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_orphaned_tmp(folder: str | Path, target: str | None = None) -> list[Path]:
    """Delete temporary files in ``folder`` left by writers on this host that are no longer alive
    (only those of ``target`` when given); returns the deleted paths."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    host, removed = host_tag(), []
    for path in folder.glob(f".{target or '*'}.*.tmp"):
        match = _TMP.match(path.name)
        if match and match["host"] == host and not pid_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class _RecordingFile:
    """A file wrapper that remembers the first ``OSError`` of a write, so that the real cause
    (e.g. ENOSPC) is reported even when the caller (``torch.save``) wraps it in its own error."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return int(self._fh.write(data))
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def with_path(exc: OSError, path: Path) -> OSError:
    """``exc`` as it should reach the user: a full device becomes :class:`DiskFullError` naming ``path``."""
    if exc.errno == errno.ENOSPC:
        return DiskFullError(f"No space left on device while writing {path}; free some space or choose another output.dir")
    return exc


def describe_os_error(exc: OSError) -> str:
    """One line for an error of the operating system: ``"No space left on device: path"``, naming both
    paths of a failed rename or link."""
    if isinstance(exc, HNOError):
        return str(exc)
    what = exc.strerror or type(exc).__name__
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    return f"{what}: {paths}" if paths else what


def file_kind(path: str | Path) -> str | None:
    """What ``path`` is when it exists but is not a regular file (``"a FIFO"``, ``"a character device"``, ...,
    following symlinks); None for a regular file or a missing path. Reading a FIFO blocks until someone writes
    to it, so readers check this before opening."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode):
        return None
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


class NotARegularFileError(HNOError, OSError):
    """An output path that exists as something other than a regular file (a symlink, device, FIFO, folder)."""


def check_output_file(path: str | Path) -> Path:
    """``path`` if it is missing or a regular file, else :class:`NotARegularFileError`: the framework never writes
    through a symbolic link and never replaces a device node, FIFO, socket or folder with a file."""
    import stat

    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return path
    if stat.S_ISREG(mode):
        return path
    kind = "a symbolic link" if stat.S_ISLNK(mode) else file_kind(path) or "not a regular file"
    raise NotARegularFileError(f"{path} is {kind}; hno writes only regular files and never replaces anything else: "
                               "remove it or give another path")


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through ``write(fh)`` on a temporary file in the same folder, then ``os.replace`` it.

    Raises :class:`DiskFullError` (one line, naming ``path``) when the device is full, whatever
    error ``write`` turned the failed write into, and :class:`NotARegularFileError` when ``path`` exists as a
    symbolic link, device, FIFO, socket or folder (checked before writing and again before the replace).
    """
    path = check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_tmp(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{host_tag()}-{os.getpid()}.", suffix=".tmp", dir=path.parent)
    recorder: _RecordingFile | None = None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, mode) as fh:
            recorder = _RecordingFile(fh)
            write(recorder)
            fh.flush()
            os.fsync(fh.fileno())
        check_output_file(path)  # nothing put there while writing
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        cause = recorder.error if recorder is not None and recorder.error is not None else exc
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            raise with_path(cause, path) from None
        raise
    return path


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float (NaN, ±inf) replaced by None, recursively through
    dicts, lists and tuples: what strict JSON (RFC 8259) can hold."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data


def dumps(data: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``data`` (non-finite floats become ``null``)."""
    return json.dumps(json_safe(data), allow_nan=False, **kwargs)


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write ``data`` as indented, valid JSON (NaN and ±inf become ``null``)."""
    text = dumps(data, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse the JSON file ``path``; a file that is not valid UTF-8 JSON is a :class:`CorruptFileError`
    naming it (``what`` says what it should hold, e.g. ``"cell result"``)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    raise CorruptFileError(f"{what} {path} is corrupt: {problem}; delete it (or restore it) and rerun")
