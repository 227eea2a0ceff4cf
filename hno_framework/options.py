"""What every plugin component (step, integrator, logger) shares: its options model, name and summary."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class ComponentOptions(BaseModel):
    """Options of a step, integrator or logger. Unknown keys are rejected (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Options = ComponentOptions
"""The name plugins subclass (``class MyOptions(Options)``); the same class as :class:`ComponentOptions`."""


class Component:
    """Class attributes a registered component sets: ``name`` (registry name, lower case with
    dashes) and ``Options`` (its :class:`ComponentOptions` model); :meth:`summary` for listings."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[ComponentOptions]] = ComponentOptions

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring ("" when there is none)."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""
