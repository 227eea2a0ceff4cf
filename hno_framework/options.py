"""What every plugin component (step, integrator, logger) shares: its options model, name and summary,
and the validation of a config's options block against that model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .config import format_validation_error
from .errors import ConfigError

if TYPE_CHECKING:
    from .registry import ComponentInfo


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


def validate_options(info: ComponentInfo, options: dict[str, Any]) -> ComponentOptions:
    """Validate ``options`` against the component's options model; errors name the component and key."""
    model = info.cls.Options
    try:
        return model.model_validate(options)
    except ValidationError as err:
        known = ", ".join(model.model_fields) or "(none)"
        message = format_validation_error(err, f"for {info.kind} '{info.name}'", what="options", model=model)
        raise ConfigError(f"{message}. Known options: {known}.") from None
