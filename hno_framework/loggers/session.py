"""A run's loggers together: built from the config's ``logging`` list, called as one, never fatal.

:class:`LoggerSet` forwards every call to each logger. A logger that raises, when it is built
(missing package, unwritable folder) or later, is reported once through ``report`` and dropped; the
others and the run go on. Train-step metrics are thinned per logger: only every ``every``-th iteration
(the spec's ``every``) reaches it, so logging costs nothing measurable per step.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Logger, RunInfo


def report_to_stderr(message: str) -> None:
    print(f"hno: {message}", file=sys.stderr, flush=True)


@dataclass
class ActiveLogger:
    """A logger with its config name and how often (``every`` iterations) it receives train-step metrics."""

    name: str
    logger: Logger
    every: int = 1


class LoggerSet:
    """Calls every logger in turn; one that fails is reported once and removed (see the module docstring)."""

    def __init__(self, loggers: Sequence[ActiveLogger] = (), report: Callable[[str], None] = report_to_stderr) -> None:
        self.active = list(loggers)
        self.report = report
        self.failed: dict[str, str] = {}

    @classmethod
    def from_config(cls, specs: Sequence[Any], run: RunInfo, *, registry: Any = None,
                    report: Callable[[str], None] = report_to_stderr) -> LoggerSet:
        """Build the loggers of ``specs`` (``LoggerSpec``: name, options, every) for ``run``.

        An unknown name or invalid options raise (a config error, before anything runs); a logger whose
        construction fails is reported and left out."""
        from ..composer import validate_options
        from ..registry import get_registry

        registry = registry or get_registry()
        found = [(spec, registry.get("logger", spec.name)) for spec in specs]
        options = [validate_options(info, spec.options) for spec, info in found]  # all checked before any starts
        out = cls(report=report)
        for (spec, info), opts in zip(found, options, strict=True):
            try:
                out.active.append(ActiveLogger(spec.name, info.cls(opts, run), spec.every))
            except Exception as exc:  # noqa: BLE001 - a logger that cannot start must not stop the run
                out._fail(spec.name, "start", exc)
        return out

    def __bool__(self) -> bool:
        return bool(self.active)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.active]

    def _fail(self, name: str, call: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.failed[name] = message
        self.report(f"logger '{name}' failed in {call} and is disabled for the rest of the run: {message}")

    def _each(self, call: str, fn: Callable[[Logger], None], active: Sequence[ActiveLogger] | None = None) -> None:
        for entry in list(self.active if active is None else active):
            try:
                fn(entry.logger)
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                self.active.remove(entry)
                self._fail(entry.name, call, exc)
                if call != "close":
                    with contextlib.suppress(Exception):  # already reported
                        entry.logger.close()

    def due(self, iteration: int) -> list[ActiveLogger]:
        """The loggers whose ``every`` divides ``iteration``."""
        return [a for a in self.active if iteration % a.every == 0]

    def log_params(self, params: dict[str, Any]) -> None:
        self._each("log_params", lambda lg: lg.log_params(params))

    def log_metrics(self, metrics: dict[str, float] | Callable[[], dict[str, float]], step: int, *,
                    thinned: bool = False) -> None:
        """Scalars at ``step``; ``thinned``: only to the loggers due at ``step`` (``metrics`` may be a
        function, evaluated only when some logger is due)."""
        targets = self.due(step) if thinned else self.active
        if not targets:
            return
        values = metrics() if callable(metrics) else metrics
        self._each("log_metrics", lambda lg: lg.log_metrics(values, step), targets)

    def log_curve(self, tag: str, values: Sequence[float | None], step: int) -> None:
        self._each("log_curve", lambda lg: lg.log_curve(tag, values, step))

    def log_artifact(self, path: Path) -> None:
        self._each("log_artifact", lambda lg: lg.log_artifact(Path(path)))

    def close(self) -> None:
        self._each("close", lambda lg: lg.close())
        self.active.clear()
