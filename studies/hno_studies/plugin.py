"""The hno-studies plugin: adds ``hno experiment`` to the ``hno`` command line (only click is imported here)."""

from __future__ import annotations

from typing import Any

from hno_framework import hookimpl

from .cli import experiment


@hookimpl
def register_commands(cli: Any) -> None:
    """``hno experiment`` and its studies (synthetic, inpainting, image-cs, converged, operators)."""
    cli.add_command(experiment)
