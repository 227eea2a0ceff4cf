"""Compare several configs: train each (on an executor, resumable) and collect their results side by side
(``hno compare``). The command line only prints what :func:`compare` returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .api import train_job
from .config import ExperimentConfig, load_config, parse_config
from .errors import ConfigError
from .executors import Executor
from .job_progress import JobsProgress
from .training.result import TrainResult
from .training.rundir import check_output_dir, held_run_files


@dataclass
class Comparison:
    """What :func:`compare` did: the results in the configs' order, and the error of each network that failed."""

    results: list[TrainResult] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def comparison_configs(paths: Sequence[str | Path], overrides: Sequence[str] = (),
                       sweep: str | None = None) -> list[ExperimentConfig]:
    """The configs to compare: each file with ``overrides``; with ``sweep`` (``KEY=V1,V2,...``) each file once per
    value, named ``<name>-<value>``. Names must be distinct."""
    if sweep is None:
        cfgs = [load_config(p, list(overrides)) for p in paths]
    else:
        key, _, values = sweep.partition("=")
        if not key or not values:
            raise ConfigError(f"--sweep must look like KEY=V1,V2,..., got '{sweep}'")
        cfgs = []
        for p in paths:
            for v in values.split(","):
                cfg = load_config(p, [*overrides, f"{key}={v}"])
                cfgs.append(parse_config({**cfg.model_dump(mode="json"), "name": f"{cfg.name}-{v}"},
                                         f"{p} with --sweep {key}={v}"))  # the new name is validated too
    names = [c.name for c in cfgs]
    if len(set(names)) != len(names):
        raise ConfigError(f"configs must have distinct names, got {names}")
    return cfgs


def check_run_folders(cfgs: Sequence[ExperimentConfig], *, force: bool = False, resume: bool = False) -> None:
    """Before anything trains: a file in the way of a run folder is an error, and so, unless ``force`` (replace) or
    ``resume`` (continue), is every folder that already holds a run (all named in one message)."""
    if force and resume:
        raise ConfigError("--force (replace the runs) and --resume (continue them) exclude each other")
    held = []
    for cfg in cfgs:
        check_output_dir(cfg.run_dir)
        found = held_run_files(cfg.run_dir)  # a run killed before its first last.pt is started over
        if found:
            held.append(f"{cfg.run_dir} ({', '.join(found)})")
    if held and not (force or resume):
        raise ConfigError(f"already holding a run: {'; '.join(held)}; pass --force to replace "
                          f"{'it' if len(held) == 1 else 'them'}, --resume to continue "
                          f"{'it' if len(held) == 1 else 'them'}, or choose other names or output.dir")


def progress_totals(cfgs: Sequence[ExperimentConfig]) -> dict[str, int | None]:
    """Each config's training iterations when known in advance (None for stage-wise training: patience decides)."""
    totals: dict[str, int | None] = {}
    for c in cfgs:
        t = c.training
        totals[c.name] = (t.iterations if t.protocol == "end-to-end" else
                          sum(p.iterations for p in t.phases) if t.protocol == "phases" else None)
    return totals


def compare(cfgs: Sequence[ExperimentConfig], executor: Executor, *, resume: bool = False, progress: bool = False,
            on_done: Callable[[str, str | None], None] = lambda key, error: None,
            watch: JobsProgress | None = None) -> Comparison:
    """Train every config on ``executor``; ``resume`` continues each run from its ``last.pt`` (a finished run is
    only evaluated again). ``on_done(name, error)`` is called as each network finishes (``error`` None on
    success). A failing network never stops the others. ``progress``: each run's own bar (serial executor only);
    ``watch`` (:class:`~hno_framework.job_progress.JobsProgress` over ``cfgs``, entered): the workers report their
    iterations to it, and it learns of each run's end before ``on_done`` is called."""
    jobs = [(c.name, {"config": c.model_dump(mode="json"), "resume": resume,
                      "progress": progress and executor.name == "serial",
                      **({"progress_file": watch.path(c.name)} if watch is not None else {})}) for c in cfgs]
    done: dict[str, TrainResult] = {}
    out = Comparison()
    for outcome in executor.map(train_job, jobs):
        if outcome.ok:
            done[outcome.key] = TrainResult.from_dict(outcome.result)
            if watch is not None:
                watch.finish(outcome.key, done[outcome.key])
            on_done(outcome.key, None)
        else:
            assert outcome.failure is not None
            out.failed[outcome.key] = outcome.failure.error
            if watch is not None:
                watch.finish(outcome.key, None)
            on_done(outcome.key, outcome.failure.error)
    out.results = [done[c.name] for c in cfgs if c.name in done]
    return out
