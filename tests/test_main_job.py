"""The README's main job, shortened: 2NO-LISTA must beat LISTA at the last layer (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hno_framework.api import train
from hno_framework.config import load_config

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.slow
def test_2no_lista_beats_lista_on_the_example(tmp_path: Path) -> None:
    overrides = ["training.iterations=1500", f"output.dir={tmp_path}"]
    lista = train(load_config(EXAMPLES / "lista.yaml", overrides), progress=False)
    two = train(load_config(EXAMPLES / "2no-lista.yaml", overrides), progress=False)
    assert two.test_nmse_db[-1] < lista.test_nmse_db[-1] - 3.0, (lista.test_nmse_db, two.test_nmse_db)
