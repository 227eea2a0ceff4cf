"""What a scheme is (:class:`IntegratorMetadata`): a leaf module, so the registry checks a plugin's integrator
without importing :mod:`hno_framework.integrator` (which looks integrators up in the registry)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Family = Literal["one-step", "multistep", "runge-kutta", "predictor-corrector"]


class IntegratorMetadata(BaseModel):
    """What a scheme is: ``family``; ``past_states`` r (states it looks back on, ≥ 1);
    ``stages`` (f evaluations per layer); ``order`` of accuracy with its fixed/reference
    coefficients; ``learnable`` (has trainable coefficients); ``consistent`` (a constant
    history at a fixed point of G is mapped to itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: Family
    past_states: int = 1
    stages: int = 1
    order: int = 1
    learnable: bool = False
    consistent: bool = True


__all__ = ["Family", "IntegratorMetadata"]
