"""The error type of the experiment runner (an :class:`~hno_framework.errors.HNOError`: the CLI prints one line)."""

from __future__ import annotations

from hno_framework.errors import HNOError


class ExperimentError(HNOError):
    """A grid cannot run as configured: bad grid config, mismatching saved data or results, missing quick preset."""
