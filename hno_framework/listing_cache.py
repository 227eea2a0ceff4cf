"""The listing cache: ``hno list`` and ``hno show`` without importing torch or the plugins.

Importing the plugins (and with them torch) takes seconds; what the two commands print only changes when the
installed plugins change. So a :class:`~.listing_snapshot.ListingSnapshot` is written to a cache file, under a
key that describes everything it was taken from, and read back while the key is unchanged:

* the Python interpreter (version, executable, prefix) and the blocked plugins (``HNO_DISABLE_PLUGINS``,
  ``--disable-plugin``);
* every ``sys.path`` entry with its modification time: installing or uninstalling any distribution adds or
  removes a ``*.dist-info`` folder there, which changes the folder's time (``python -m`` and ``python -c`` put
  the working folder on ``sys.path``: run that way, any file added there rebuilds the cache);
* every distribution with an entry point in the ``hno_framework`` group: name, version, the entry point, and
  the path and times of its metadata folder and of its ``entry_points.txt`` and ``METADATA``/``PKG-INFO``;
* the source of every plugin and of ``hno_framework`` itself: the path, time and size of each file below the
  top-level package each entry point names (found with ``importlib.util.find_spec`` on the top-level name, which
  imports nothing), so editing an editable install (a new component in a plugin module) is seen without a
  reinstall.

When the key differs, the plugins are imported as usual and the cache is rewritten. A snapshot with a broken
plugin or a plugin warning is never written (it is looked at afresh each time, and reported as before). What the
key cannot see: a plugin whose components depend on something else (an environment variable, a file it reads, a
package outside its own that changed without any ``sys.path`` folder changing). ``HNO_NO_CACHE=1`` turns the
cache off; ``hno list`` then always imports the plugins.

The cache file lives in ``$HNO_CACHE_DIR``, else ``$XDG_CACHE_HOME/hno-framework``, else
``~/.cache/hno-framework``: one file per Python environment, ``sys.path`` and set of blocked plugins, the
16 most recently written kept. A cache that cannot be read or written (corrupt,
a read-only folder) is ignored: the listing is then built by importing the plugins, as without a cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import __version__, hookspecs, registry
from .errors import HNOError
from .listing_snapshot import ListingSnapshot

FORMAT = 1
"""Bumped whenever what a snapshot holds, or how it is keyed, changes: older cache files are then ignored."""
PREFIX = "listing-"
MAX_FILES = 16
"""Cache files kept in the folder (one per Python environment, ``sys.path`` and blocked plugins); the oldest go."""
NO_CACHE_ENV = "HNO_NO_CACHE"
CACHE_DIR_ENV = "HNO_CACHE_DIR"
MAX_SOURCE_FILES = 20_000
"""A plugin package with more files than this is not watched file by file: the listing is then not cached."""

_SKIPPED_FOLDERS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".ruff_cache", ".pytest_cache"})


def cache_dir() -> Path | None:
    """The folder of the cache file, or None when ``HNO_NO_CACHE`` turns the cache off (or there is no home)."""
    if os.environ.get(NO_CACHE_ENV, "") not in ("", "0"):
        return None
    if explicit := os.environ.get(CACHE_DIR_ENV, ""):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG specification: a relative path is ignored
        return Path(xdg) / "hno-framework"
    try:
        return Path.home() / ".cache" / "hno-framework"
    except RuntimeError:  # no home folder to be found
        return None


def cache_file(directory: Path, blocked: frozenset[str]) -> Path:
    """The cache file in ``directory`` of this Python environment, ``sys.path`` and set of blocked plugins: ``hno``,
    ``python -m hno_framework.cli`` and ``hno --disable-plugin X`` each keep their own, instead of overwriting one."""
    setting = json.dumps([sys.prefix, sys.executable, sys.path, sorted(blocked)])
    return directory / f"{PREFIX}{hashlib.sha256(setting.encode()).hexdigest()[:16]}.json"


def _prune(directory: Path, keep: Path) -> None:
    """Remove the oldest cache files beyond :data:`MAX_FILES` (never ``keep``); what cannot be removed stays."""
    try:
        files = sorted(directory.glob(f"{PREFIX}*.json"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in files[MAX_FILES:]:
            if old != keep:
                old.unlink(missing_ok=True)
    except OSError:
        pass


# -- the key --------------------------------------------------------------------------------------------

def _stamp(path: str | os.PathLike[str]) -> list[int] | None:
    """Modification time, size and inode of ``path``; None if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _distributions(entry_points: list[md.EntryPoint]) -> list[list[Any]]:
    """Each entry point of the group with its distribution's name, version and metadata files, as found on sys.path."""
    found = []
    for ep in entry_points:
        dist = ep.dist
        location = getattr(dist, "_path", None)  # the *.dist-info / *.egg-info folder of a distribution on sys.path
        folder = os.path.abspath(location) if location is not None else None
        files = [_stamp(os.path.join(folder, name)) for name in ("entry_points.txt", "METADATA", "PKG-INFO")] if folder else []
        found.append([dist.name if dist else None, dist.version if dist else None, ep.name, ep.value, folder,
                      _stamp(folder) if folder else None, files])
    return found


def _top_level_locations(module: str) -> list[str]:
    """Where the top-level package (or module) of ``module`` lives, found without importing anything."""
    import importlib.util

    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: no parent package to import
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [os.path.abspath(p) for p in spec.submodule_search_locations]
    return [os.path.abspath(spec.origin)] if spec.origin and os.path.isabs(spec.origin) else []


def _source_roots(entry_points: list[md.EntryPoint]) -> list[str]:
    """The folders (or files) of the plugins' top-level packages and of hno_framework."""
    roots = {os.path.dirname(os.path.abspath(__file__))}
    for ep in entry_points:
        roots.update(_top_level_locations(ep.module))
    return sorted(roots)


def _tree(root: str, budget: list[int]) -> list[Any]:
    """Path, time and size of every file below ``root`` (``__pycache__`` and version-control folders left out);
    ``budget[0]`` counts down the files allowed, and going below zero makes the whole key unusable."""
    if not os.path.isdir(root):
        return [root, _stamp(root)]
    files: list[Any] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS)
        for name in sorted(names):
            budget[0] -= 1
            if budget[0] < 0:
                return files
            files.append([os.path.relpath(os.path.join(folder, name), root), _stamp(os.path.join(folder, name))])
    return [root, _stamp(root), files]


def cache_key(blocked: frozenset[str]) -> str | None:
    """The digest of everything a snapshot depends on (see the module documentation); None when it cannot be
    computed trustworthily (too many files to watch)."""
    budget = [MAX_SOURCE_FILES]
    entry_points = list(md.entry_points(group=hookspecs.ENTRY_POINT_GROUP))  # read from metadata: nothing imported
    parts = {
        "format": FORMAT,
        "hno_framework": __version__,
        "python": [sys.version, sys.executable, sys.prefix],
        "blocked": sorted(blocked),
        "sys.path": [[entry, os.path.abspath(entry), _stamp(os.path.abspath(entry))] for entry in sys.path],
        "distributions": _distributions(entry_points),
        "sources": [_tree(root, budget) for root in _source_roots(entry_points)],
    }
    if budget[0] < 0:
        return None
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# -- reading and writing --------------------------------------------------------------------------------

def read_snapshot(path: Path, key: str) -> ListingSnapshot | None:
    """The snapshot cached in ``path`` under ``key``; None when there is none, it is under another key, or the
    file cannot be read or is not one (corrupt, an older format)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # missing, unreadable, not UTF-8, not JSON
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    try:
        return ListingSnapshot.from_json(data.get("snapshot"))
    except (ValueError, TypeError, KeyError):
        return None


def write_snapshot(path: Path, key: str, snapshot: ListingSnapshot) -> bool:
    """Write ``snapshot`` under ``key`` to ``path`` atomically (a temporary file, then ``os.replace``); False if
    it cannot be written (a read-only folder, a full disk): the listing then simply is not cached."""
    from .io import atomic_write

    text = json.dumps({"format": FORMAT, "key": key, "snapshot": snapshot.to_json()}, ensure_ascii=False)
    try:
        atomic_write(path, lambda fh: fh.write(text), mode="w")
    except (OSError, HNOError):
        return False
    _prune(path.parent, path)
    return True


def listing_index() -> ListingSnapshot:
    """What ``hno list`` and ``hno show`` print from: read from the cache while its key is unchanged, otherwise
    taken from the process-wide registry (importing the plugins) and cached.

    The registry is used directly, and the cache neither read nor written, when the cache is off, in strict mode
    (``HNO_STRICT_PLUGINS``: every problem must raise) or when this process has loaded the registry already
    (it is then free, and it is what this process uses)."""
    directory = cache_dir()
    if directory is None or registry.strict_from_environment() or registry.registry_loaded():
        return ListingSnapshot.of(registry.get_registry())
    blocked = registry.blocked_names()
    key = cache_key(blocked)  # computed before the plugins are imported: an install meanwhile changes the key
    if key is None:
        return ListingSnapshot.of(registry.get_registry())
    path = cache_file(directory, blocked)
    cached = read_snapshot(path, key)
    if cached is not None:
        return cached
    snapshot = ListingSnapshot.of(registry.get_registry())
    if snapshot.cacheable and cache_key(blocked) == key:  # nothing changed while the plugins were imported
        write_snapshot(path, key, snapshot)
    return snapshot
