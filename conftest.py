"""Settings of every test folder (tests/, studies/tests/, contrib/hno-extra/tests/): ``hno list`` and ``hno show``
cache in a folder of this test session (inherited by the subprocesses tests start), never in the user's cache."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_CACHE_ENV = "HNO_CACHE_DIR"
_session: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    _session["previous"] = os.environ.get(_CACHE_ENV)
    _session["folder"] = os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix="hno-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if folder := _session.get("folder"):
        shutil.rmtree(folder, ignore_errors=True)
    previous = _session.get("previous")
    if previous is None:
        os.environ.pop(_CACHE_ENV, None)
    else:
        os.environ[_CACHE_ENV] = previous
