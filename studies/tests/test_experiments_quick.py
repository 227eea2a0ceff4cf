"""The quick preset of the synthetic grid, end to end (slow: about 5-10 minutes on 2 CPU cores).

Run with ``pytest -m slow tests/test_experiments_quick.py``. Only robust directions are asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hno_framework.cli import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grids" / "synthetic-grid.yaml"


@pytest.mark.slow
def test_quick_preset_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    res = CliRunner().invoke(cli, ["experiment", "synthetic", str(EXAMPLE), "--quick", "--no-progress",
                                   "--set", f"output.dir={out}"])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] and results["cells_trained_this_run"] == 50
    settings = results["settings"]
    assert set(settings) == {"noiseless", "snr-40", "snr-20", "kappa-5", "kappa-50"}
    noiseless = settings["noiseless"]["networks"]
    # the seed's headline: the 2NO scheme beats plain LISTA at T = 16
    assert noiseless["2NO-LISTA"]["final_nmse_db"] < noiseless["LISTA"]["final_nmse_db"]
    assert noiseless["2NO-GLISTA"]["final_nmse_db"] < noiseless["GLISTA"]["final_nmse_db"]
    for setting in settings.values():
        for entry in setting["networks"].values():
            curve = entry["nmse_db"]
            assert len(curve) == 17 and curve[-1] < curve[0] - 1.0  # every trained network gets below 0 dB
        solvers = setting["classical"]["solvers"]
        # with λ tuned, FISTA ends below ISTA after 1000 iterations; 20 dB of noise is a floor for everyone
        assert solvers["fista"]["nmse_db"][-1] <= solvers["ista"]["nmse_db"][-1] + 0.5
    assert min(e["final_nmse_db"] for e in settings["snr-20"]["networks"].values()) > -30.0
    for name in ("results.md", "nmse-per-layer.png", "fista-iterations.png", "classical.png"):
        assert (out / name).stat().st_size > 0
