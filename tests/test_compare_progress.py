"""``hno compare`` on parallel workers shows progress: one aggregate bar (plain lines off a terminal) fed by the workers'
progress files, and one line per finished network with its final NMSE, how many are done and the time left."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hno_framework.api import train_job
from hno_framework.config import load_config
from hno_framework.job_progress import JobsProgress
from hno_framework.training.result import TrainResult


def test_a_worker_reports_its_iterations_to_its_progress_file(tiny_config, tmp_path: Path) -> None:
    config = load_config(tiny_config("w", iterations=12))
    target = tmp_path / "progress"
    train_job({"config": config.model_dump(mode="json"), "progress_file": str(target)})
    assert target.read_text().split() == ["12", "12"]  # iteration, total
    assert not list(tmp_path.glob(".progress*"))  # written through a temporary file, replaced atomically


def test_the_aggregate_progress_is_plain_lines_off_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with JobsProgress({"a": 100, "b": 100}, poll_s=0.05) as watch:
        folder = watch.folder
        for i in range(0, 101, 10):  # the workers' files, as ProgressReporter writes them
            Path(watch.path("a")).write_text(f"{i} 100\n")
            Path(watch.path("b")).write_text(f"{i // 2} 100\n")
            watch._read()
            watch._refresh()
        watch.finish("a", TrainResult("a", Path("."), -10.0, [0.0, -12.5], 100, 1.0, 10))
        line_a = watch.status("a")
        watch.finish("b", None)
    err = capsys.readouterr().err
    assert "\r" not in err  # no redraws in a log
    lines = err.splitlines()
    assert 5 <= len(lines) <= 12, lines  # a line per tenth, not one per poll
    assert all(re.fullmatch(r"training: \d+/200 it \(\d+%\), \d+\.\d s; 0 of 2 runs done.*", line) for line in lines)
    assert line_a.startswith("final -12.50 dB; 1 of 2 runs done")
    assert watch.total() == 150  # b failed at 50 of its 100 iterations: the rest is no longer waited for
    assert not folder.exists()  # the scratch folder goes with the display


@pytest.mark.processes
def test_parallel_compare_prints_progress_and_a_line_per_finished_network(tiny_config) -> None:
    a, b = tiny_config("a", iterations=30), tiny_config("b", integrator="euler", iterations=30)
    res = subprocess.run([sys.executable, "-m", "hno_framework.cli", "compare", str(a), str(b), "--executor", "local",
                          "--workers", "2"], check=False, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert "\r" not in res.stderr  # stderr is a pipe here: plain lines, never a redrawn bar
    lines = res.stderr.splitlines()
    assert any(re.fullmatch(r"training: \d+/60 it \(\d+%\), \d+\.\d s; \d of 2 runs done.*", line) for line in lines), lines
    for name in ("a", "b"):
        assert any(re.fullmatch(rf"{name}: done \(final -\d+\.\d\d dB; [12] of 2 runs done.*\)", line) for line in lines), lines
