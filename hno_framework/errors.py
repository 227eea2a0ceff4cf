"""Exceptions raised by hno-framework. Every message names the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HNOError(Exception):
    """Base class: a user-facing error the CLI prints as one line (no traceback)."""


class ConfigError(HNOError, ValueError):
    """A configuration file or options block is invalid."""


class UnknownComponentError(HNOError, KeyError):
    """A step or integrator name is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], note: str = "") -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listing = ", ".join(known) if known else "(none: is a plugin installed?)"
        self.kind, self.name, self.known, self.suggestion = kind, name, known, (close[0] if close else None)
        super().__init__(f"unknown {kind} '{name}'.{hint} Registered {kind}s: {listing}.{note}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class DuplicateComponentError(HNOError):
    """Two plugins registered the same component name."""


class PluginError(HNOError):
    """A plugin failed to load or registered something invalid."""


class PluginWarning(UserWarning):
    """A plugin's warnings (it registers nothing, warned or printed while loading), one per plugin; ``hno`` prints
    it as one ``Warning:`` line on stderr."""


class ProblemMismatchError(HNOError):
    """A step needs something (a basis D, an image operator) the problem does not provide."""


class CheckpointError(HNOError):
    """A checkpoint is missing, corrupt or incompatible."""


class TrainingDivergedError(HNOError):
    """Training produced a non-finite loss or validation NMSE, or blew up to a validation NMSE far above where it
    started; the last good checkpoint is kept."""


class TrainingNotImprovedError(TrainingDivergedError):
    """Training finished, but no validation ever beat the network it started from: the "best" network is the
    initial one (a learning rate too large to make progress, or gradients that are zero). ``best.pt`` and
    ``metrics.json`` (``"improved": false``) are written, so the run can be inspected."""


class DataError(HNOError):
    """The data cannot be trained or evaluated on (e.g. signals without energy)."""
