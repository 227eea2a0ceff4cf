"""A deadline for long studies: start a cell only if it is expected to end before ``--stop-by``.

Sessions on a shared machine end at a known time and take their processes with them; a cell
that cannot finish before then is training that will be thrown away. The runner therefore
checks, when a worker is about to start a cell, whether *now + expected duration* lies before
the deadline (:func:`fits`); cells already training run on.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .errors import ExperimentError

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_stop_by(text: str, now: datetime | None = None) -> datetime:
    """The deadline written as ``HH:MM`` (its next occurrence after ``now``, in ``now``'s time zone; default: now,
    local time) or as an ISO 8601 date and time (``2026-12-06T18:50``, optionally with a UTC offset; without
    one, local time); returned timezone-aware."""
    now = now if now is not None and now.tzinfo is not None else (now or datetime.now()).astimezone()
    clock = _CLOCK.match(text.strip())
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise ExperimentError(f"--stop-by {text!r}: no such time of day; write HH:MM between 00:00 and 23:59")
        at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return at if at > now else at + timedelta(days=1)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ExperimentError(f"--stop-by {text!r}: write a time of day HH:MM (e.g. 18:50) or an ISO 8601 "
                              "date and time (e.g. 2026-12-06T18:50 or 2026-12-06T18:50+00:00)") from None
    return at if at.tzinfo else at.astimezone()


def fits(expected_seconds: float | None, stop_by: float | None, now: float) -> bool:
    """Whether a cell expected to take ``expected_seconds`` (None: unknown) and started at ``now`` (epoch
    seconds) ends by ``stop_by`` (epoch seconds; None: no deadline). A cell of unknown length starts
    whenever the deadline has not passed."""
    if stop_by is None:
        return True
    return now + (expected_seconds or 0.0) <= stop_by
