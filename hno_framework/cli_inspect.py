"""``hno inspect`` and ``hno report``: what a run learned, and a self-contained HTML page of it. Thin."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("inspect")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--test-size", type=click.IntRange(min=0), default=None,
              help="test samples for the NMSE per layer (default: the config's; 0 skips it)")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="where to write the figure (default: inspection.png next to the checkpoint)")
@click.option("--no-plot", is_flag=True, help="do not write a figure")
@click.option("--json", "as_json", is_flag=True, help="print everything as JSON (no figure unless --plot)")
def inspect_cmd(run: Path, test_size: int | None, plot_path: Path | None, no_plot: bool, as_json: bool) -> None:
    """Learned coefficients and step parameters per layer of RUN (a run folder or a checkpoint), with
    reference values (init, and e.g. Euler), and the test NMSE per layer with a 95 % bootstrap interval."""
    from rich.console import Console
    from rich.table import Table

    from .inspection import inspect_checkpoint, plot_inspection, table_rows
    from .io import check_output_file

    if plot_path is not None and not no_plot:
        check_output_file(plot_path)  # before the evaluation, not after
    result = inspect_checkpoint(run, test_size=test_size)
    if plot_path is None and not no_plot and not as_json:
        plot_path = Path(result.checkpoint).parent / "inspection.png"
    if plot_path is not None and not no_plot:
        import matplotlib.pyplot as plt

        plt.close(plot_inspection(result, plot_path))
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    con = Console(highlight=False, width=160)
    con.print(f"[bold]{result.name}[/]: {result.step} + {result.integrator}, T = {result.layers}, "
              f"{result.checkpoint}" + (f" (iteration {result.iteration})" if result.iteration is not None else ""))
    for title, cols, refs in (
        (f"integrator '{result.integrator}': coefficients per layer (reference values in brackets)",
         result.coefficients, result.references),
        (f"step '{result.step}': parameters per layer (init in brackets)", result.step_parameters,
         {"init": result.step_init}),
    ):
        if not cols:
            con.print(f"{title.split(':')[0]}: no per-layer coefficients")
            continue
        header, rows = table_rows(cols, refs)
        table = Table(*header, title=title)
        for row in rows:
            table.add_row(*row)
        con.print(table)
    for name, values in result.other_coefficients.items():
        con.print(f"{name} (not per layer): {values}")
    if result.nmse_db:
        table = Table("layer", "NMSE (dB)", "95 % interval", title=f"test NMSE per layer ({result.test_size} samples)")
        for t, (v, lo, hi) in enumerate(zip(result.nmse_db, result.nmse_low_db, result.nmse_high_db, strict=True)):
            table.add_row(str(t), f"{v:.2f}", f"[{lo:.2f}, {hi:.2f}]")
        con.print(table)
    if plot_path is not None and not no_plot:
        con.print(f"figure: {plot_path}")


@click.command("report")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="the HTML file to write (default: PATH/report.html)")
@click.option("--test-size", type=click.IntRange(min=1), default=None,
              help="test samples for the NMSE per layer (default: each config's)")
def report_cmd(path: Path, output: Path | None, test_size: int | None) -> None:
    """Write one self-contained HTML page (figures embedded, works offline) for PATH, a run folder or a
    folder of runs: config, test NMSE per layer with its 95 % interval, learned coefficients, training
    curves, timings and the machine."""
    from .io import check_output_file
    from .run_report import write_report

    if output is not None:
        check_output_file(output)  # before every run is evaluated, not after
    click.echo(f"report: {write_report(path, output, test_size=test_size)}")
