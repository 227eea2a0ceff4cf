"""``hno experiment``: reproduce the seed paper's studies (grids of networks × problem settings).

Only click is imported here; torch and the experiment modules are imported inside the commands,
so ``hno --help`` stays fast. Library errors (:class:`~hno_framework.errors.HNOError`) become one
``Error:`` line through the main ``hno`` group.
"""

from __future__ import annotations

import shlex
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hno_framework.cli_options import build_executor, executor_options


@click.group("experiment")
def experiment() -> None:
    """Reproduce the seed's studies: train a grid of networks × settings, compare with ISTA/FISTA.

    \b
      hno experiment synthetic examples/grids/synthetic-grid.yaml --quick     the quick preset (minutes)
      hno experiment synthetic examples/grids/synthetic-grid.yaml --resume    the full grid, continued
    """


@experiment.command("synthetic")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--quick", is_flag=True, help="apply the config's quick: preset (small budgets; a separate output folder)")
@click.option("--resume", is_flag=True, help="skip finished cells, continue unfinished ones from their last checkpoint")
@click.option("--set", "overrides", multiple=True,
              help="override a grid value, e.g. --set training.stagewise.patience=2000 (repeatable; after --quick)")
@click.option("--setting", "settings", multiple=True, help="run only this setting (repeatable)")
@click.option("--network", "networks", multiple=True, help="run only this network, by name or slug (repeatable)")
@click.option("--progress/--no-progress", default=True, show_default=True)
@executor_options
def synthetic_cmd(config: Path, quick: bool, resume: bool, overrides: tuple[str, ...], settings: tuple[str, ...],
                  networks: tuple[str, ...], progress: bool, executor: str | None, workers: int | None,
                  address: str | None, gpus_per_job: float) -> None:
    """Synthetic sparse coding (seed Figure 3): NMSE per layer of every network on every setting.

    Writes, under the grid's output.dir: per setting the saved data (data.pt), ISTA/FISTA baselines
    and one folder per network and seed (checkpoints, result.json); then results.json, results.md,
    nmse-per-layer.png, fista-iterations.png and classical.png.
    """
    from .grid import load_grid
    from .report import summary_markdown
    from .runner import run_grid

    grid = load_grid(config, list(overrides), quick=quick)

    def warn(message: str) -> None:
        click.secho(f"Warning: {message}", fg="yellow", err=True)

    command = "hno " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv and "hno" in Path(sys.argv[0]).name else None
    with build_executor(executor, workers, address, gpus_per_job) as pool:
        run = run_grid(grid, resume=resume, progress=progress, warn=warn, quick=quick, command=command,
                       settings=list(settings) or None, networks=list(networks) or None, executor=pool)
    out = Path(grid.output.dir)
    click.echo(f"{len(run.trained)} cells trained, {len(run.reused)} reused, in {run.seconds:.1f} s")
    click.echo(summary_markdown(run.results).rstrip())
    click.echo(f"\nresults: {out / 'results.json'}, {out / 'results.md'}; figures: {out / 'nmse-per-layer.png'}, "
               f"{out / 'fista-iterations.png'}, {out / 'classical.png'}")
    if run.failed:
        for name, error in run.failed.items():
            click.secho(f"FAILED {name}: {error}", fg="red", err=True)
        raise click.ClickException(f"{len(run.failed)} cell(s) failed (the others are in the results); "
                                   "fix the cause and rerun with --resume to train only those")


# -- natural images (seed Tables 1 and 2) ---------------------------------------------------------
def _image_study(task: str, config: Path, quick: bool, resume: bool, overrides: tuple[str, ...],
                 images: Path | None, progress: bool, executor: dict[str, Any], report_only: bool = False,
                 status: bool = False) -> None:
    """Run an image study (``hno_studies.image_runner``), or only report its finished cells, or only print where
    each cell stands, and print its table."""
    from .image_runner import report_finished, run_study
    from .image_study import load_study

    study = load_study(config, list(overrides), quick=quick, task=task, images=images)  # type: ignore[arg-type]
    command = "hno " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv and "hno" in Path(sys.argv[0]).name else None
    out = Path(study.output.dir)
    for flag, given in (("--report-only", report_only), ("--status", status)):
        if given and resume:
            raise click.UsageError(f"{flag} trains nothing: drop --resume (or {flag})")
    if status and report_only:
        raise click.UsageError("--status only reads the cells and --report-only writes their report: pass one of them")
    if status:
        _echo_image_status(study)
        return
    if report_only:
        run = report_finished(study, quick=quick, command=command)
        click.echo(f"{len(run.reused)} of {len(study.cells())} cells finished under {out}")
    else:
        with build_executor(**executor) as pool:
            run = run_study(study, resume=resume, progress=progress, quick=quick, command=command, executor=pool)
        click.echo(f"{len(run.computed)} cells computed, {len(run.reused)} reused, in {run.seconds:.1f} s")
    click.echo((out / "results.md").read_text().split("95 % bootstrap")[0].split("## PSNR (dB) per image")[0].rstrip())
    figure = out / "reconstructions.png"
    shown = f"; figure: {figure}" if figure.is_file() else " (no figure: no cell has its reconstructions.pt)"
    click.echo(f"\nresults: {out / 'results.json'}, {out / 'results.md'}{shown}")
    if run.failed:
        for name, error in run.failed.items():
            click.secho(f"FAILED {name}: {error}", fg="red", err=True)
        raise click.ClickException(f"{len(run.failed)} cell(s) failed (the others are in the results); "
                                   "fix the cause and rerun with --resume to train only those")


def _echo_image_status(study: Any) -> None:
    """One line per cell of an image study (:func:`~hno_studies.image_status.study_status`), then the counts and the
    training time left: cells in training at their own speed, cells not started at the mean training time of their
    network's finished cells (none finished: unknown)."""
    from .image_status import study_status

    rows = study_status(study)
    width = max((len(r["cell"]) for r in rows), default=0)
    finished: dict[str, list[float]] = {}
    for r in rows:
        if r["state"] == "finished" and r.get("seconds") is not None:
            finished.setdefault(r["cell"].rsplit("/", 1)[-1], []).append(float(r["seconds"]))
    left, unknown = 0.0, 0
    for r in rows:
        if r["state"] == "finished":
            seconds = "" if r.get("seconds") is None else f", trained in {_hours(r['seconds'])}"
            detail = f"finished: {r['psnr_db']:.2f} dB mean PSNR{seconds}"
        elif r["state"] == "training":
            detail = _training_detail(r)
        elif r["state"] == "another config":
            detail = ("finished under another config (pass the --set/--images/--quick it was run with; --resume "
                      "recomputes it)")
        else:
            detail = r["state"]
        click.echo(f"{r['cell']:<{width}}  {detail}")
        if r["state"] == "training":
            left += r["seconds_left"] or 0.0
            unknown += r["seconds_left"] is None
        elif r["state"] == "not started":
            same = finished.get(r["cell"].rsplit("/", 1)[-1])
            left += statistics.fmean(same) if same else 0.0
            unknown += not same
    states = ("finished", "training", "not started", "another config", "unreadable checkpoint")
    counts = {s: sum(r["state"].startswith(s) for r in rows) for s in states}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n or s in states[:3])
               + f"; ≈ {_hours(left)} of training left" + (f" (+ {unknown} cell(s) with no basis for an estimate)"
                                                           if unknown else ""))


def _image_options(fn: Callable[..., None]) -> Callable[..., None]:
    """The options shared by ``hno experiment inpainting`` and ``image-cs``."""
    fn = executor_options(fn)
    fn = click.option("--progress/--no-progress", default=True, show_default=True)(fn)
    fn = click.option("--images", type=click.Path(path_type=Path, file_okay=False),
                      help="your own photographs: a folder with train/ and test/ subfolders (png/jpg/bmp/tif)")(fn)
    fn = click.option("--set", "overrides", multiple=True,
                      help="override a config value, e.g. --set training.iterations=5000 (repeatable; after --quick)")(fn)
    fn = click.option("--resume", is_flag=True, help="continue unfinished cells from their last checkpoint "
                      "(finished cells are always skipped)")(fn)
    fn = click.option("--quick", is_flag=True, help="apply the config's quick: preset (minutes on one core)")(fn)
    fn = click.option("--status", is_flag=True, help="only print where every cell stands (finished with its PSNR; "
                      "training: iteration, best validation NMSE, time left), read from the files")(fn)
    fn = click.option("--report-only", is_flag=True, help="only write results.json, results.md and the figure from "
                      "the cells already finished under output.dir (no training)")(fn)
    return click.argument("config", type=click.Path(path_type=Path))(fn)


@experiment.command("inpainting")
@_image_options
def inpainting_cmd(config: Path, report_only: bool, status: bool, quick: bool, resume: bool,
                   overrides: tuple[str, ...], images: Path | None, progress: bool, **executor: Any) -> None:
    """Natural-image inpainting (seed Table 1): PSNR of ISTA and each network on every test photograph.

    Writes, under the config's output.dir: one folder per network (checkpoints, result.json,
    reconstructions.pt); then results.json, results.md and reconstructions.png. See docs/images.md.
    """
    _image_study("inpainting", config, quick, resume, overrides, images, progress, executor, report_only, status)


@experiment.command("image-cs")
@_image_options
def image_cs_cmd(config: Path, report_only: bool, status: bool, quick: bool, resume: bool,
                 overrides: tuple[str, ...], images: Path | None, progress: bool, **executor: Any) -> None:
    """Natural-image compressive sensing (seed Table 2): mean PSNR per CS ratio of each network.

    Writes, under the config's output.dir: per CS ratio one folder per network (checkpoints,
    result.json, reconstructions.pt); then results.json, results.md and reconstructions.png.
    See docs/images.md.
    """
    _image_study("image-cs", config, quick, resume, overrides, images, progress, executor, report_only, status)


def _hours(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 3600:.2f} h"


def _training_detail(row: dict[str, Any], where: str = "") -> str:
    """A status line's detail for a cell in training: its iteration of the total (``where``: e.g. its phase), the best
    validation NMSE, the time so far and the time left at that speed."""
    best = row["best_validation_nmse_db"]
    return (f"training: iteration {row['iteration']:,}/{row['total']:,}{where}, best validation "
            f"{'?' if best is None else f'{best:.2f}'} dB, {_hours(row['seconds'])} so far, "
            f"≈ {_hours(row['seconds_left'])} left at that speed")


def _echo_status(cfg: Any) -> None:
    """One line per cell of the converged study (:func:`~hno_studies.converged.cell_status`)."""
    from .converged import cell_status

    rows = cell_status(cfg)
    width = max((len(r["cell"]) for r in rows), default=0)
    for r in rows:
        if r["state"] == "finished":
            detail = f"finished: {r['final_nmse_db']:.2f} dB [{r['ci_db'][0]:.2f}, {r['ci_db'][1]:.2f}]"
        elif r["state"] == "training":
            detail = _training_detail(r, f" (phase {r['phase']}/{r['phases']})")
        else:
            detail = r["state"]
        click.echo(f"{r['cell']:<{width}}  {detail}")
    counts = {s: sum(r["state"].startswith(s) for r in rows) for s in ("finished", "training", "not started", "not finished")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "not finished"))


@experiment.command("converged")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="continue a half-trained cell from its checkpoint (finished cells are always skipped)")
@click.option("--set", "overrides", multiple=True, help="override a config value, e.g. --set test_size=20000 (repeatable)")
@click.option("--cell", "cells", multiple=True, help="run only this cell, as SETTING/NETWORK (repeatable)")
@click.option("--max-cells", type=int, default=None, help="stop after training this many cells")
@click.option("--stop-by", "stop_by", metavar="HH:MM|ISO", default=None,
              help="start a cell only if it is expected to end by then (its checkpoint's speed past 5 % of its "
                   "iterations, else the finished cells' time per iteration); for sessions with a hard end")
@click.option("--report-only", is_flag=True, help="only regenerate README.md, results.json and figures from the cell files")
@click.option("--status", "status", is_flag=True,
              help="only print where every cell stands (finished, training: iteration, best validation NMSE, time left)")
@executor_options
def converged_cmd(config: Path, resume: bool, overrides: tuple[str, ...], cells: tuple[str, ...], max_cells: int | None,
                  stop_by: str | None, report_only: bool, status: bool, **executor: Any) -> None:
    """Converged comparison: baselines at their published NMSE, HNO pairs, intervals.

    Trains the config's unfinished cells (one network × setting × seed each; serially in order, or
    several at a time with --executor local --workers 2), writing each finished cell to
    <results>/cells/ at once and regenerating <results>/README.md, results.json and figures after
    each. Every cell trains single-threaded.
    """
    import torch

    from .converged import run_converged
    from .converged_config import load_converged_config
    from .converged_report import write_report
    from .deadline import parse_stop_by

    torch.set_num_threads(1)
    cfg = load_converged_config(config, list(overrides))
    deadline = parse_stop_by(stop_by).timestamp() if stop_by else None
    if report_only:
        click.echo(f"report: {write_report(cfg, str(config))}")
        return
    if status:
        _echo_status(cfg)
        return
    if executor["executor"] is None:
        executor["executor"] = "serial"  # one cell at a time unless asked: cells are long and keep their order
    with build_executor(**executor) as pool:
        written = run_converged(cfg, resume=resume, only=list(cells) or None, max_cells=max_cells,
                                log=lambda m: click.echo(m, err=True), executor=pool, stop_by=deadline)
    write_report(cfg, str(config))
    click.echo(f"{len(written)} cells finished in this run; report: {cfg.output.results / 'README.md'}")


@experiment.command("operators")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="continue a half-trained cell from its last checkpoint (finished cells are always skipped)")
@click.option("--set", "overrides", multiple=True, help="override a config value, e.g. --set training.iterations=500 (repeatable)")
@click.option("--report-only", is_flag=True, help="only regenerate README.md, results.json and figures from the cell files")
@click.option("--progress/--no-progress", default=True, show_default=True)
def operators_cmd(config: Path, resume: bool, overrides: tuple[str, ...], report_only: bool, progress: bool) -> None:
    """Whole-image unfolding through matrix-free operators (deblurring, MRI): one step under several integrators.

    Trains the config's unfinished cells (a network on a task) one at a time, single-threaded, writing each
    finished cell to <results>/cells/ at once and the README, results.json and figures after each.
    """
    import torch

    from .operators import add_missing_transfer, load_operator_study, run_study
    from .operators_report import write_report

    cfg = load_operator_study(config, list(overrides))
    torch.set_num_threads(1)
    add_missing_transfer(cfg, log=click.echo)  # finished cells from before a transfer operator was added
    if not report_only:
        def after(message: str) -> None:
            click.echo(message)
            write_report(cfg, str(config))

        run_study(cfg, resume=resume, progress=progress, log=after)
    click.echo(f"report: {write_report(cfg, str(config))}")
