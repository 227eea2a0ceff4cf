"""Settings of the study tests: as the framework's (tests/conftest.py) - single-threaded torch, a fixed RNG per test,
Hypothesis without deadlines (derandomised under ``HYPOTHESIS_PROFILE=ci``)."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded_torch() -> None:
    """Every test starts from the same global torch RNG state."""
    torch.manual_seed(0)
