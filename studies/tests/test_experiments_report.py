"""The grid report: Markdown tables written from a hand-made results mapping, and the figures."""

from __future__ import annotations

from pathlib import Path

from hno_framework.plotting import draw_nmse_curves, panels, plot_differences
from hno_studies.report import markdown, summary_markdown, write_report


def _results() -> dict:
    def net(curve: list[float], ref: int | None) -> dict:
        return {"nmse_db": curve, "nmse_db_std": [0.0] * len(curve), "final_nmse_db": curve[-1], "final_nmse_db_std": 0.0,
                "reference_iterations": ref, "iterations_saved": None if ref is None else ref - 2}

    classical = {"solvers": {"ista": {"lam": 0.1, "nmse_db": [0.0, -1.0, -2.0, -3.0]},
                             "fista": {"lam": 0.05, "nmse_db": [0.0, -1.5, -3.5, -6.0]}}}
    return {
        "grid": "g", "protocol": "end-to-end", "layers": 2, "test_size": 10, "seeds": [0], "quick": True,
        "networks": ["A", "B"], "config": {"classical": {"reference": "fista"}},
        "settings": {"s1": {"title": "S1", "classical": classical,
                            "networks": {"A": net([0.0, -2.0, -4.0], 3), "B": net([0.0, -1.0, -9.0], None)}}},
    }


EXPECTED_SUMMARY = """# g: NMSE (dB) on the test set (quick preset)

Protocol: end-to-end; T = 2 layers; test set of 10 samples; seeds [0].

## Final layer (t = 2)

| network | S1 |
|---|---|
| A | -4.00 |
| B | -9.00 |
| ISTA (2 it.) | -2.00 |
| ISTA (3 it.) | -3.00 |
| FISTA (2 it.) | -3.50 |
| FISTA (3 it.) | -6.00 |

λ tuned on the validation set: S1: ISTA 0.1, FISTA 0.05.

## FISTA iterations to reach each network's final NMSE

Iterations saved = that count − T (T = 2); “> 3” when FISTA does not get there in 3 iterations.

| network | S1 |
|---|---|
| A | 3 (saves 1) |
| B | > 3 |
"""

EXPECTED_PER_LAYER = """## NMSE per layer

### S1

| t | A | B |
|---|---|---|
| 0 | 0.00 | 0.00 |
| 1 | -2.00 | -1.00 |
| 2 | -4.00 | -9.00 |
"""


def test_summary_and_full_report_tables() -> None:
    results = _results()
    assert summary_markdown(results) == EXPECTED_SUMMARY
    assert markdown(results) == EXPECTED_SUMMARY + "\n" + EXPECTED_PER_LAYER


def test_write_report_writes_the_files(tmp_path: Path) -> None:
    paths = write_report(_results(), tmp_path)
    assert set(paths) == {"json", "markdown", "nmse_per_layer", "reference_iterations", "classical"}
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    assert (tmp_path / "nmse-per-layer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nmse_curves_are_labelled_with_their_band() -> None:
    plt, fig, axes = panels(1)
    lines = draw_nmse_curves(axes[0], {"a": [0.0, -1.0, -2.0], "b": [0.0, -3.0, -4.0]}, {"a": [0.0, 0.5, 0.5]})
    try:
        assert [line.get_label() for line in lines.values()] == ["a", "b"]
        assert list(lines["b"].get_ydata()) == [0.0, -3.0, -4.0]
        assert len(axes[0].collections) == 1  # the ±std band of "a" only ("b" has no std)
        assert [t.get_text() for t in axes[0].legend().get_texts()] == ["a", "b"]
    finally:
        plt.close(fig)


def test_forest_plot_draws_rows_with_and_without_a_seed_interval(tmp_path: Path) -> None:
    rows = [{"label": "three seeds", "difference_db": -4.0, "ci_db": [-5.0, -3.0], "per_seed_db": [-4.3, -6.8, -1.0],
             "seed_ci_db": [-9.0, 1.0]},
            {"label": "one seed", "difference_db": 2.0, "ci_db": [-1.0, 5.0], "per_seed_db": [2.0], "seed_ci_db": None}]
    path = plot_differences(rows, tmp_path / "differences.png", xlabel="dB")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
