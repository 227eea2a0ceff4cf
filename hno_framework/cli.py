"""The ``hno`` command line. Thin: every command calls the library.

Imports of torch and of plugins happen inside the commands, so ``hno --help`` stays fast.
User errors (bad config, unknown name, missing file) exit with status 2 and one ``Error:`` line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .cli_inspect import inspect_cmd, report_cmd
from .cli_options import build_executor, executor_options

SET_HELP = "override a config value, e.g. --set training.iterations=200 (repeatable)"


OUT_OF_MEMORY = "out of memory; lower the sizes in the config (problem.m, problem.n, network.layers, training.*_size)"


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``): an error stays one line
    whatever a config key or value held."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class UserError(click.ClickException):
    exit_code = 2


def check_working_directory() -> None:
    """Refuse to run from a working directory that was deleted: relative paths cannot resolve there, and torch's
    math libraries abort the process while loading (a oneMKL fatal error) instead of raising."""
    import os

    try:
        os.getcwd()
    except OSError:
        raise UserError("the current working directory no longer exists (deleted or moved); cd to an existing "
                        "folder and run the command again") from None


class HNOGroup(click.Group):
    """Turns library errors into one-line messages instead of tracebacks; adds the commands plugins register
    (:mod:`.commands`, loaded on first need)."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        if "hno.plugin_commands" not in ctx.meta:
            from .commands import plugin_commands

            def warn(message: str) -> None:
                click.secho(f"Warning: {one_line(message)}", fg="yellow", err=True)

            disabled = ctx.params.get("disabled_plugins") or ()
            ctx.meta["hno.plugin_commands"] = plugin_commands(self.commands, disabled, warn=warn)
        return ctx.meta["hno.plugin_commands"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugin_commands(ctx).get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section; a group of commands (``hno experiment``) lists its subcommands first, whole,
        as they are registered, then its own short help."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
            text = command.get_short_help_str(limit)
            if isinstance(command, click.Group):
                subs = [n for n in command.list_commands(ctx) if not getattr(command.get_command(ctx, n), "hidden", True)]
                text = f"{', '.join(subs)}: {text}" if subs else text
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        from .errors import HNOError, PluginWarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, PluginWarning):  # one line per plugin, not the raw warning with a source line
                click.secho(f"Warning: {one_line(str(message))}", fg="yellow", err=True)
            else:
                shown(message, category, *args, **kwargs)

        try:
            with warnings.catch_warnings():
                shown, warnings.showwarning = warnings.showwarning, show
                return super().invoke(ctx)
        except HNOError as exc:
            raise UserError(str(exc) if getattr(exc, "keeps_lines", False) else one_line(str(exc))) from None
        except FileNotFoundError as exc:
            raise UserError(f"file not found: {exc.filename}") from None
        except OSError as exc:  # the machine's side (a full disk, permissions, a file where a folder goes)
            from .io import describe_os_error

            raise UserError(describe_os_error(exc)) from None
        except MemoryError:
            raise UserError(OUT_OF_MEMORY) from None
        except RuntimeError as exc:  # torch's allocator reports an impossible allocation as a RuntimeError
            if "can't start new thread" in str(exc):  # the process or user limit on threads is reached
                raise UserError("cannot start another thread (the limit on processes and threads is reached); "
                                "lower --workers or training.threads, or stop other processes") from None
            if "can't allocate memory" not in str(exc) and "out of memory" not in str(exc):
                raise
            raise UserError(OUT_OF_MEMORY) from None


@click.group(cls=HNOGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hno-framework", prog_name="hno")
@click.option("--disable-plugin", "disabled_plugins", multiple=True, metavar="NAME",
              help="do not load this plugin (distribution or entry-point name; repeatable); "
                   "also HNO_DISABLE_PLUGINS=NAME1,NAME2")
def cli(disabled_plugins: tuple[str, ...]) -> None:
    """hno: deep unfolding networks as learnable ODE solvers.

    \b
    Components (steps, integrators) come from plugins registered through entry points.
      hno list                      every registered step, integrator, logger and problem kind
      hno show lista                options and documentation of one component
      hno compose CONFIG            build a network from a YAML/TOML config
      hno train CONFIG              train it, keep the best checkpoint
      hno eval CHECKPOINT           NMSE (dB) per layer on the test set
      hno compare CONFIG CONFIG...  train several configs, print NMSE side by side
      hno inspect RUN               learned coefficients and parameters per layer
      hno report PATH               one HTML page of a run or a folder of runs
      hno check DIST-OR-NAME        run the consistency suite on a plugin or component
    Plugins may add commands (hno experiment, from hno-studies: its studies are listed below).
    """
    check_working_directory()
    if disabled_plugins:
        from .registry import disable_plugins

        disable_plugins(disabled_plugins)


def _echo_json(data: Any) -> None:
    from .io import json_safe

    click.echo(json.dumps(json_safe(data), indent=2, default=str, ensure_ascii=False, allow_nan=False))  # NaN -> null


def _console():
    import shutil

    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=max(120, shutil.get_terminal_size().columns))


LIST_WHAT = ("all", "steps", "integrators", "loggers", "problems", "plugins")


@cli.command("list")
@click.argument("what", default="all", metavar="[all|steps|integrators|loggers|problems|plugins]")
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--no-import", "no_import", is_flag=True,
              help="with plugins: list the entry points from their metadata only, importing no plugin")
def list_cmd(what: str, pattern: str | None, as_json: bool, no_import: bool) -> None:
    """List registered components or plugins; PATTERN keeps the names it matches (fnmatch: 'lista*').

    \b
    hno list "lista*"          like hno list all "lista*"
    hno list plugins           every entry point: ok, warning, conflict, broken or disabled
    hno list plugins --no-import   distribution, version and entry point of each, no plugin
                               imported (for a plugin that exits or crashes the process)
    Broken and disabled plugins and name conflicts (with the qualified names DIST:NAME that
    resolve them) are listed too.
    """
    from .listing import component_rows, entry_point_rows, notes, plugin_rows
    from .listing_cache import listing_index

    if what not in LIST_WHAT:
        if pattern is not None:
            raise UserError(f"hno list {what}: choose one of {', '.join(LIST_WHAT)}, then an optional PATTERN")
        what, pattern = "all", what
    if no_import:
        if what != "plugins":
            raise UserError("--no-import lists plugins only: hno list plugins --no-import")
        rows = entry_point_rows()
        if as_json:
            return _echo_json(rows)
        from rich.table import Table

        table = Table("plugin", "version", "entry point", "status", title="hno plugins (not imported)")
        for r in rows:
            table.add_row(r["plugin"], r["version"], r["entry_point"], r["status"])
        return _console().print(table)
    reg = listing_index()  # from the listing cache while the installed plugins are unchanged
    kind = {"steps": "step", "integrators": "integrator", "loggers": "logger", "problems": "problem"}.get(what)
    rows = plugin_rows(reg) if what == "plugins" else component_rows(reg, kind, pattern)  # type: ignore[arg-type]
    if as_json:
        return _echo_json(rows)
    con = _console()
    if what == "plugins":
        con.print(_plugins_table(rows))
    else:
        table = _components_table(reg, reg.components(kind, pattern))  # type: ignore[arg-type]
        con.print(table)
        if pattern and not table.rows:
            click.echo(f"no component matches '{pattern}'", err=True)
    for line in notes(reg):
        con.print(line)


PLUGIN_STATUS_COLOUR = {"ok": "", "warning": "yellow", "disabled": "yellow", "conflict": "red", "broken": "red"}


def _plugins_table(rows: list[dict[str, Any]]) -> Any:
    """The ``hno list plugins`` table: one row per entry point, its components and status."""
    from rich.table import Table

    table = Table("plugin", "version", "entry point", "provides", "status", title="hno plugins")
    for r in rows:
        provides = ", ".join(r["steps"] + r["integrators"] + r["loggers"] + r["problems"]
                             + (["hno commands"] if r["commands"] else []))
        colour = PLUGIN_STATUS_COLOUR[r["status"]]
        table.add_row(r["plugin"], r["version"], r["entry_point"], provides, f"[{colour}]{r['status']}[/]" if colour else r["status"])
    return table


def _components_table(reg: Any, components: list[Any]) -> Any:
    """The ``hno list [steps|integrators|loggers|problems]`` table; a name two plugins provide is shown qualified, in red."""
    from rich.table import Table

    table = Table("name", "kind", "plugin", "version", "details", "summary", title="hno components")
    for c in components:
        name = f"[red]{c.qualified_name}[/]" if (c.kind, c.name) in reg.conflicts else c.name
        table.add_row(name, c.kind, c.provider.distribution, c.provider.version, c.details, c.summary)
    return table


@cli.command("show")
@click.argument("name")
@click.option("--kind", type=click.Choice(["step", "integrator", "logger", "problem"]), default=None,
              help="when a name is of two kinds")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def show_cmd(name: str, kind: str | None, as_json: bool) -> None:
    """Show one component: provider, documentation, options (with defaults) and metadata."""
    from .errors import UnknownComponentError
    from .listing_cache import listing_index

    reg = listing_index()  # from the listing cache while the installed plugins are unchanged
    found = []
    for k in ([kind] if kind else ["step", "integrator", "logger", "problem"]):
        try:
            found.append(reg.get(k, name))  # type: ignore[arg-type]
        except UnknownComponentError as exc:
            last = exc
    if not found:
        known = reg.names("step") + reg.names("integrator") + reg.names("logger") + reg.names("problem")
        raise UnknownComponentError(kind or "component", name, known, note=reg.trouble_note()) if kind is None else last
    info = found[0]
    if as_json:
        return _echo_json(info.as_dict())
    con = _console()
    con.print(f"[bold]{info.name}[/] ({info.kind}) from {info.provider}")
    con.print(info.doc, markup=False)  # docs hold [brackets]: extras, maths
    if info.module_doc:
        con.print("\n" + info.module_doc, markup=False)
    if info.note:
        con.print("\n" + info.note)
    con.print("\noptions:" if info.options else "\noptions: none")
    for option in info.options:
        con.print(f"  {option.name} = {option.default}  {option.description}")


def _load(config: Path, overrides: tuple[str, ...]):
    from .config import load_config

    return load_config(config, list(overrides))


@cli.command("compose")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
def compose_cmd(config: Path, overrides: tuple[str, ...]) -> None:
    """Build the network a config describes; print its architecture and learnable-parameter count."""
    from .composer import compose
    from .network import count_learnable
    from .resources import check_memory

    cfg = _load(config, overrides)
    check_memory(cfg, training=False, test=False)
    net = compose(cfg)
    click.echo(net)
    click.echo(f"step: {cfg.network.step.name}  integrator: {cfg.network.integrator.name}  "
               f"layers: {cfg.network.layers}  tied: {cfg.network.tied}")
    click.echo(f"learnable parameters: {count_learnable(net):,} "
               f"(steps {count_learnable(net.layers):,}, integrator {count_learnable(net.integrator):,})")


def _nmse_table(columns: dict[str, list[float]], title: str):
    from rich.table import Table

    table = Table("layer", *columns, title=title)
    depth = max(len(v) for v in columns.values())
    for t in range(depth):
        table.add_row(str(t), *(f"{v[t]:.2f}" if t < len(v) else "" for v in columns.values()))
    return table


@cli.command("train")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
@click.option("--resume", is_flag=True, help="continue from <output.dir>/<name>/last.pt (a finished run is left as it "
                                            "is, unless training.iterations was raised)")
@click.option("--force", is_flag=True, help="replace a run already in <output.dir>/<name> (deletes its checkpoints, "
                                           "metrics, figures, report and logger files first)")
@click.option("--init-from", "init_from", type=click.Path(path_type=Path), default=None, metavar="CHECKPOINT",
              help="warm start: copy the step and problem tensors of this trained checkpoint (e.g. a LISTA's best.pt "
                   "into 2NO-LISTA); keys and shapes must match (training.init_from)")
@click.option("--init-integrator", type=click.Choice(["own", "euler"]), default=None,
              help="with --init-from: the integrator starts at its own initial coefficients (own, the default) or at "
                   "its forward-Euler values (euler: the new network starts as the trained one; training.init_integrator)")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def train_cmd(config: Path, overrides: tuple[str, ...], resume: bool, force: bool, init_from: Path | None,
              init_integrator: str | None, progress: bool, as_json: bool) -> None:
    """Train a network; writes best.pt, last.pt and metrics.json under output.dir/name.

    A folder that already holds a run is refused unless --resume (continue it) or --force (replace it);
    a second run into a folder in use is refused with the PID of the first. --resume of a finished run says
    so and trains nothing (exit status 0), unless training.iterations was raised: then it trains on.

    Under torchrun (torchrun --nproc_per_node=N -m hno_framework.cli train CONFIG) the N processes train
    the one network on shards of each batch; only rank 0 writes and prints.

    --init-from CHECKPOINT starts from a trained network (its steps and problem; the integrator may differ)."""
    from .api import train
    from .training.distributed import is_main_process
    from .training.rundir import RunAlreadyFinished

    extra = (f"training.init_integrator={init_integrator}",) if init_integrator else ()
    try:
        result = train(_load(config, (*overrides, *extra)), init_from=init_from, resume=resume, progress=progress,
                       overwrite=force, skip_finished=True)
    except RunAlreadyFinished as done:
        if is_main_process():
            click.echo(one_line(str(done)), err=True)
            if as_json and (done.run_dir / "metrics.json").is_file():
                from .io import read_json

                _echo_json(read_json(done.run_dir / "metrics.json"))
        return None
    if not is_main_process():
        return None
    if as_json:
        return _echo_json(result.as_dict())
    _console().print(_nmse_table({result.name: result.test_nmse_db}, "test NMSE (dB) per layer"))
    click.echo(f"best validation NMSE {result.best_validation_nmse_db:.2f} dB after {result.iterations} iterations "
               f"({result.seconds:.1f} s); checkpoint: {result.run_dir / 'best.pt'}")


@cli.command("eval")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--test-size", type=click.IntRange(min=1), default=None, help="number of test samples")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def eval_cmd(checkpoint: Path, test_size: int | None, as_json: bool) -> None:
    """NMSE (dB) per layer of a checkpoint on its experiment's fixed test set."""
    from .evaluation import evaluate_checkpoint

    report = evaluate_checkpoint(checkpoint, test_size)
    if as_json:
        return _echo_json(report.as_dict())
    title = f"{report.name}: {report.step} + {report.integrator}, test NMSE (dB), {report.test_size} samples"
    _console().print(_nmse_table({report.name: report.nmse_db}, title))


@cli.command("compare")
@click.argument("configs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, help=SET_HELP + "; applied to every config")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="also write results here")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None, help="write an NMSE-per-layer PNG")
@click.option("--sweep", default=None, metavar="KEY=V1,V2,...",
              help="train every config once per value of KEY, e.g. --sweep network.integrator=euler,2no,rk4")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--force", is_flag=True, help="replace runs already in <output.dir>/<name> (deletes their checkpoints, "
                                           "metrics, figures, report and logger files first)")
@click.option("--resume", is_flag=True, help="continue runs already in <output.dir>/<name> from their last.pt")
@executor_options
def compare_cmd(configs: tuple[Path, ...], overrides: tuple[str, ...], json_path: Path | None,
                plot_path: Path | None, sweep: str | None, progress: bool, force: bool, resume: bool,
                executor: str | None, workers: int | None, address: str | None, gpus_per_job: float) -> None:
    """Train several configs and print their test NMSE per layer side by side (LISTA vs 2NO-LISTA, say).

    The networks train in parallel (--executor local, the default when more than one core is free), shown as one
    progress bar over all of them (plain lines when standard error is not a terminal) and one line per finished
    network with its final NMSE and the time left.
    Folders that already hold a run are refused, all named at once, unless --force (replace them) or
    --resume (continue each from its last.pt; a finished run is evaluated again).
    """
    import contextlib

    from .compare import check_run_folders, compare, comparison_configs, progress_totals
    from .io import check_output_file, write_json
    from .job_progress import JobsProgress

    for target in (json_path, plot_path):  # refused before anything trains, not after
        if target is not None:
            check_output_file(target)
    cfgs = comparison_configs(configs, overrides, sweep)
    check_run_folders(cfgs, force=force, resume=resume)
    pool = build_executor(executor, workers, address, gpus_per_job, jobs=len(cfgs))
    for cfg in cfgs:
        click.echo(f"training {cfg.name}: {cfg.network.step.name} + {cfg.network.integrator.name}, "
                   f"T={cfg.network.layers}, {cfg.training.iterations} iterations", err=True)

    watch = JobsProgress(progress_totals(cfgs)) if progress and pool.name != "serial" else None

    def on_done(name: str, error: str | None) -> None:  # with watch: the result, how many are done, the time left
        say = watch.echo if watch is not None else lambda line: click.echo(line, err=True)
        status = f" ({watch.status(name)})" if watch is not None else ""
        if error is None:
            say(f"{name}: done{status}")
        else:
            say(click.style(f"{name}: FAILED: {error}{status}", fg="red"))

    with pool, watch if watch is not None else contextlib.nullcontext():
        if pool.name != "serial":
            click.echo(f"{len(cfgs)} networks on {pool.workers} {pool.name} workers", err=True)
        run = compare(cfgs, pool, resume=resume, progress=progress, on_done=on_done, watch=watch)
    results, failed = run.results, run.failed
    if not results:
        raise UserError("every network failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    _console().print(_nmse_table({r.name: r.test_nmse_db for r in results}, "test NMSE (dB) per layer"))
    for r in results:
        click.echo(f"{r.name}: final {r.test_nmse_db[-1]:.2f} dB, {r.learnable_parameters:,} learnable parameters, "
                   f"{r.seconds:.1f} s")
    if json_path:
        write_json(json_path, [r.as_dict() for r in results])
    if plot_path:
        from .plotting import plot_nmse_per_layer

        plot_nmse_per_layer({r.name: r.test_nmse_db for r in results}, plot_path)
        click.echo(f"plot: {plot_path}")
    if failed:
        raise UserError(f"{len(failed)} of {len(cfgs)} networks failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))


@cli.command("check")
@click.argument("target", metavar="DIST-OR-NAME")
@click.option("--partner", "partners", multiple=True, metavar="NAME",
              help="pair the components only with this step or integrator (repeatable; default: every registered one)")
@click.option("--seed", "seeds", multiple=True, type=int, help="seed of the checks (repeatable; default 0)")
@click.option("--processes/--no-processes", default=True, show_default=True,
              help="also check the same output in two fresh processes (a few seconds)")
@click.option("--failures-only", is_flag=True, help="print only the checks that failed")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (one row per check run)")
def check_cmd(target: str, partners: tuple[str, ...], seeds: tuple[int, ...], processes: bool, failures_only: bool,
              as_json: bool) -> None:
    """Run the consistency suite on one installed distribution or component; exit status 1 if a check fails.

    \b
    hno check hno-example-relax          every step, integrator and problem kind the distribution registers
    hno check example-midpoint           one component (NAME or DIST:NAME), with every registered partner
    hno check my-step --partner euler    only the pairs with euler
    """
    from .registry import get_registry
    from .testing import check_components

    results = check_components(target, registry=get_registry(), partners=partners or None, seeds=seeds or (0,),
                               processes=processes)
    failed = [r for r in results if not r.passed]
    if as_json:
        _echo_json([r.as_dict() for r in results])
    else:
        from rich.table import Table

        table = Table("check", "pair / component", "seed", "result", "cause")
        for r in results:
            if r.passed and failures_only:
                continue
            table.add_row(r.check, r.subject, str(r.seed), "[green]pass[/]" if r.passed else "[red]FAIL[/]", r.cause,
                          )
        con = _console()
        con.print(table)
        con.print(f"{len(results)} checks, {len(failed)} failed" if failed else f"{len(results)} checks, all passed")
    if failed:
        sys.exit(1)


for _command in (inspect_cmd, report_cmd):  # defined in their own modules
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="hno")


if __name__ == "__main__":
    main()
