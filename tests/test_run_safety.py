"""Issue 13: runs never lose work and never lie.

Config validation, one-line CLI errors for bad input, checkpoint checks, crash-safe files, the run
lock, no silent overwrite, divergence. Kills, locks, divergence and a full disk use real
subprocesses (``python -m hno_framework.cli``); the rest runs in process.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from hno_framework.api import train
from hno_framework.checkpoint import load_checkpoint, load_network, save_checkpoint
from hno_framework.cli import cli
from hno_framework.composer import compose
from hno_framework.config import load_config, parse_config
from hno_framework.data import make_test_set
from hno_framework.errors import CheckpointError, ConfigError
from hno_framework.evaluation import nmse_per_layer
from hno_framework.io import CorruptFileError, atomic_write, host_tag, read_json, write_json
from hno_framework.registry import list_steps
from hno_framework.resources import ResourceError, check_memory, weight_count
from hno_framework.training import Trainer
from hno_framework.training.rundir import RunDirError, RunLock

NET = {"step": "lista", "integrator": "euler", "layers": 2}


def cfg(**sections) -> dict:
    base = {"name": "t", "problem": {"m": 6, "n": 12}, "network": dict(NET)}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


def one_line_error(res) -> str:
    """The CLI's answer to bad input: exit status 2, one ``Error:`` line, no traceback."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


def one_error_line_of_process(res: subprocess.CompletedProcess) -> str:
    """A subprocess's answer to bad input: exit status 2, nothing on stdout, one stderr line, no traceback."""
    assert res.returncode == 2 and res.stdout == "" and "Traceback" not in res.stderr, (res.returncode, res.stderr)
    (line,) = res.stderr.strip().splitlines()
    return line


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def hno(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "hno_framework.cli", *args], check=False, capture_output=True,
                          text=True, timeout=timeout, env=env, **kw)


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


# -- configs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("section", "key", "value"), [
    ("training", "lr", float("inf")), ("problem", "snr_db", float("nan")), ("problem", "lam", float("inf")),
    ("problem", "condition_number", float("inf")), ("training", "aux_loss_weight", float("nan")),
])
def test_non_finite_numbers_are_refused(section, key, value) -> None:
    with pytest.raises(ConfigError, match=rf"{section}\.{key}: Input should be a finite number") as err:
        parse_config(cfg(**{section: {key: value}}))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("key", "value"), [("layers", True), ("layers", 2.5), ("layers", "3"), ("tied", 1)])
def test_integers_and_booleans_are_strict(key, value) -> None:
    with pytest.raises(ConfigError, match=rf"network\.{key}: Input should be a valid"):
        parse_config(cfg(network={key: value}))


@pytest.mark.parametrize("seed", [-1, 2**63, 2**70])
def test_seeds_fit_64_bits(seed) -> None:
    with pytest.raises(ConfigError, match=r"problem\.seed"):
        parse_config(cfg(problem={"seed": seed}))


@pytest.mark.parametrize("name", ["../x", "a/../../b", "/abs", "", " ", "a//b", ".", "a\\b", "C:x"])
def test_unsafe_run_names_are_refused(name) -> None:
    with pytest.raises(ConfigError, match="name: the run name"):
        parse_config(cfg(name=name))


def test_safe_names_stay_inside_output_dir(tmp_path: Path) -> None:
    c = parse_config(cfg(name="setting/lista/seed0", output={"dir": str(tmp_path)}))
    assert c.run_dir.resolve().is_relative_to(tmp_path.resolve())


def test_duplicate_yaml_key_names_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: t\nnetwork: {step: lista}\ntraining:\n  lr: 0.1\n  iterations: 3\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match=r"line 6, column 3: duplicate key 'lr' \(first given at line 4\)"):
        load_config(path)


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("base: &net {step: lista, layers: 3}\nnetwork:\n  <<: *net\n  layers: 2\ntraining: {lr: &lr 0.01}\n")
    with pytest.raises(ConfigError, match="base: unknown key"):  # parsed: only the extra top-level key is refused
        load_config(path)
    data = yaml.safe_load(path.read_text())
    del data["base"]
    c = parse_config(data)
    assert c.network.layers == 2 and c.network.step.name == "lista" and c.training.lr == 0.01


def test_yaml_syntax_error_keeps_the_caret_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    text = "name: t\nnetwork: {step: lista, layers: 2\ntraining: {lr: 1}\n"
    path.write_text(text)
    res = run("compose", str(path))
    assert res.exit_code == 2 and "Traceback" not in res.output
    head, source, caret = res.output.rstrip("\n").splitlines()
    line, column = (int(v) for v in head.split(", line ")[1].split(":")[0].split(", column "))
    assert source.endswith(text.splitlines()[line - 1])
    assert caret.index("^") == len(source) - len(text.splitlines()[line - 1]) + column - 1


def test_bad_files_and_overrides_are_one_line(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", cfg())
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in one_line_error(run("compose", str(tmp_path / "latin1.yaml")))
    assert "is a directory" in one_line_error(run("train", str(tmp_path)))
    assert "cannot parse the value of --set training.lr" in run("compose", str(good), "--set", "training.lr=[").output
    assert "did you mean 'lr'" in one_line_error(run("compose", str(good), "--set", "training.lrr=0.1"))
    assert "did you mean 'training'" in one_line_error(run("compose", str(good), "--set", "trainin.lr=0.1"))
    assert "empty part" in one_line_error(run("compose", str(good), "--set", "training..lr=0.1"))
    assert "problem.seed" in one_line_error(run("compose", str(good), "--set", f"problem.seed={2**64}"))


def test_devices_this_torch_cannot_use_are_one_line(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", cfg(training={"iterations": 1, "threads": 1}, output={"dir": str(tmp_path / "runs")}))
    assert "unknown device 'gpu0'" in one_line_error(run("train", str(good), "--set", "training.device=gpu0"))
    if not torch.cuda.is_available():
        assert "no usable CUDA" in one_line_error(run("train", str(good), "--set", "training.device=cuda"))


def test_sizes_beyond_memory_are_refused_before_allocating(tmp_path: Path) -> None:
    c = parse_config(cfg(output={"dir": str(tmp_path)}))
    with pytest.raises(ResourceError, match=r"test set \(training.test_size = 1000\)"):
        check_memory(c, available=10_000)
    good = write(tmp_path / "good.yaml", cfg(output={"dir": str(tmp_path / "runs")}))
    start = time.perf_counter()
    msg = one_line_error(run("train", str(good), "--set", "training.test_size=10000000000"))
    assert "training.test_size = 10000000000" in msg and time.perf_counter() - start < 10
    assert not (tmp_path / "runs").exists()
    assert "problem.m × problem.n" in one_line_error(run("compose", str(good), "--set", "problem.m=10000000",
                                                         "--set", "problem.n=10000000"))


@pytest.mark.parametrize("step", list_steps())
@pytest.mark.parametrize(("tied", "layers"), [(False, 5), (True, 5), (False, 23), (True, 23)])
def test_the_weight_count_matches_the_composed_network_at_a_size_it_never_probed(step: str, tied: bool,
                                                                                 layers: int) -> None:
    from hno_framework.registry import get_registry

    requires = set(get_registry().step(step).cls.requires)
    image = bool({"basis", "patch"} & requires)
    problem = {"kind": "cs", "m": 19, "n": 81} if image else {"m": 17, "n": 40}
    if "image" in requires:  # whole images: a matrix-free problem at a size the count never composes
        problem = {"kind": "blur", "lam": 0.01, "options": {"size": 20, "sigma": 1.0}}
    c = parse_config(cfg(problem=problem, network={"step": step, "integrator": "3no", "layers": layers, "tied": tied}))
    net = compose(c)
    problem_tensors = {id(t) for t in net.problem.state_dict(keep_vars=True).values()}
    params = sum(p.numel() for p in net.parameters() if id(p) not in problem_tensors)  # parameters() skips repeats
    buffers = {b.untyped_storage().data_ptr(): b.numel() for b in net.buffers() if id(b) not in problem_tensors}
    assert weight_count(c) == params + sum(buffers.values())


def test_lista_weights_are_counted_and_can_be_what_does_not_fit() -> None:
    # untied LISTA, 2NO: W_t (n×m) and θ_t per layer, α_t and β_t for layers 2 … T (the first is Euler)
    m, n, layers = 3000, 6000, 16
    network = {"step": "lista", "integrator": "2no", "layers": layers, "tied": False}
    c = parse_config(cfg(problem={"m": m, "n": n}, network=network,
                         training={"test_size": 100, "validation_size": 100, "batch_size": 8}))
    assert weight_count(c) == layers * (n * m + 1) + 2 * (layers - 1)
    tied = c.model_copy(update={"network": c.network.model_copy(update={"tied": True})})
    assert weight_count(tied) == n * m + layers + 2 * (layers - 1)
    phi = m * n * (3 * 8 + 4)  # 0.5 GB; the 16 weights W take 1.15 GB, everything else ≈ 60 MB
    with pytest.raises(ResourceError, match=r"largest part is the weights of 16 'lista' layers"):
        check_memory(c, available=phi + 2**28)


# -- shapes ------------------------------------------------------------------------------------------

def test_measurements_must_be_a_batch_of_m() -> None:
    net = compose(cfg())
    with pytest.raises(ValueError, match=r"y must be a batch of measurements \(batch, m\) = \(batch, 6\), got shape \(100,\)"):
        net(torch.randn(100))
    with pytest.raises(ValueError, match="this problem has m = 6"):
        net(torch.randn(3, 7))
    assert net(torch.randn(3, 6)).shape == (3, 12)


# -- files -------------------------------------------------------------------------------------------

def strict_json(text: str):
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_is_valid_json(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": (2,)})
    assert strict_json(path.read_text()) == {"a": None, "b": [None, None, 1.5], "c": [2]}


def test_new_files_follow_the_umask_and_the_folder_is_synced(tmp_path: Path, monkeypatch) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd)))
    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / "x.bin", lambda fh: fh.write(b"1"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert synced == [False, True]  # the file, then its folder after os.replace


@pytest.mark.processes
def test_orphaned_temporary_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".best.pt.{host_tag()}-{dead.pid}.abc123.tmp"
    alive = tmp_path / f".best.pt.{host_tag()}-{os.getpid()}.def456.tmp"  # a writer still at work
    orphan.write_bytes(b"half")
    alive.write_bytes(b"half")
    atomic_write(tmp_path / "best.pt", lambda fh: fh.write(b"whole"))
    assert not orphan.exists() and alive.exists()


def test_corrupt_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "classical.json"
    path.write_text('{"ista": [1, 2')
    with pytest.raises(CorruptFileError, match=r"classical\.json is corrupt: invalid JSON"):
        read_json(path, "baseline")


@pytest.mark.processes
def test_full_disk_is_one_line(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-r", "-m", "true"], check=False,
                                                                  capture_output=True).returncode:
        pytest.skip("needs unprivileged mount namespaces (unshare -r -m) for a tiny tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    config = write(tmp_path / "c.yaml", cfg(training={"iterations": 2, "validate_every": 1, "validation_size": 8,
                                                      "test_size": 8, "threads": 1}, output={"dir": str(disk / "runs")}))
    script = (f"mount -t tmpfs -o size=64k tmpfs {disk} && mkdir {disk}/runs && "
              f"head -c 57344 /dev/zero > {disk}/fill && "  # 8 KiB left: the lock fits, a checkpoint does not
              f"exec {sys.executable} -m hno_framework.cli train {config} --no-progress")
    res = subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], check=False, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "No space left on device while writing" in res.stderr and ".pt" in res.stderr


# -- checkpoints -------------------------------------------------------------------------------------

def test_non_checkpoints_and_crafted_fields(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", cfg())
    assert "not an hno-framework checkpoint" in one_line_error(run("eval", str(config)))
    c = parse_config(cfg())
    model = compose(c).state_dict()
    crafted = {"format": ("x", "'format' should be int"), "config": (5, "'config' should be dict"),
               "model": ({"a": 5}, "'model' entry 'a' is not a named tensor")}
    for key, (value, message) in crafted.items():
        payload = {"config": c.model_dump(mode="json"), "model": model, key: value}
        save_checkpoint(tmp_path / f"{key}.pt", payload)
        assert message in one_line_error(run("eval", str(tmp_path / f"{key}.pt")))


def test_state_dict_mismatch_lists_keys_and_shapes(tmp_path: Path) -> None:
    c = parse_config(cfg())
    model = dict(compose(c).state_dict())
    dropped = sorted(model)[0]
    reshaped = next(k for k in sorted(model) if model[k].ndim == 2 and k != dropped)
    del model[dropped]
    model[reshaped] = torch.zeros(3, 3)
    model["extra.weight"] = torch.zeros(1)
    save_checkpoint(tmp_path / "bad.pt", {"config": c.model_dump(mode="json"), "model": model})
    with pytest.raises(CheckpointError) as err:
        load_network(tmp_path / "bad.pt")
    msg = str(err.value)
    assert f"missing: {dropped}" in msg and "unexpected: extra.weight" in msg
    assert f"{reshaped}: saved (3, 3) vs network" in msg


def test_crafted_loop_state_in_last_pt(tmp_path: Path) -> None:
    c = parse_config(cfg(training={"iterations": 4, "validate_every": 2, "validation_size": 8, "test_size": 8,
                                   "threads": 1}, output={"dir": str(tmp_path)}))
    train(c, progress=False)
    payload = load_checkpoint(c.run_dir / "last.pt")
    payload["loop"]["iteration"] = "many"
    save_checkpoint(c.run_dir / "last.pt", payload)
    with pytest.raises(CheckpointError, match="loop entry 'iteration' should be int"):
        Trainer(c, progress=False).resume()


# -- runs --------------------------------------------------------------------------------------------

TINY = {"problem": {"m": 6, "n": 12, "seed": 3}, "network": dict(NET),
        "training": {"iterations": 6, "batch_size": 8, "validate_every": 3, "validation_size": 16, "test_size": 16,
                     "threads": 1}}


def test_no_silent_overwrite_and_nothing_to_resume(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    assert run("train", str(config), "--no-progress").exit_code == 0
    best = (tmp_path / "runs" / "t" / "best.pt").read_bytes()
    msg = one_line_error(run("train", str(config), "--no-progress", "--set", "training.lr=0.1"))
    assert "already holds a run" in msg and "--force" in msg
    assert (tmp_path / "runs" / "t" / "best.pt").read_bytes() == best
    assert run("train", str(config), "--no-progress", "--force", "--set", "training.lr=0.1").exit_code == 0
    assert (tmp_path / "runs" / "t" / "best.pt").read_bytes() != best
    assert "nothing to resume" in one_line_error(run("train", str(config), "--resume", "--set", "name=new"))
    (tmp_path / "file").write_text("")
    assert "is a file" in one_line_error(run("train", str(config), "--set", f"output.dir={tmp_path / 'file'}"))


def test_seconds_add_up_across_resumes(tmp_path: Path) -> None:
    c = parse_config({"name": "t", **TINY, "output": {"dir": str(tmp_path)}} | {"training": {**TINY["training"],
                                                                                        "iterations": 41}})
    first = Trainer(c, progress=False)
    first.fit(stop_after=40)
    result = train(c, resume=True, progress=False)  # one more iteration in this process
    assert result.iterations == 41
    assert result.seconds >= first.state.seconds > 0
    assert strict_json((c.run_dir / "metrics.json").read_text())["seconds"] == pytest.approx(result.seconds)


@pytest.mark.processes
def test_lock_refuses_a_second_run_and_a_killed_runs_lock_is_stale(tmp_path: Path) -> None:
    long = {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}}
    long["training"] = {**TINY["training"], "iterations": 10**7, "validate_every": 10**6}
    config = write(tmp_path / "c.yaml", long)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "hno_framework.cli", "train", str(config), "--no-progress"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "runs" / "t" / ".lock"
    try:
        deadline = time.time() + 40
        while not (lock.is_file() and lock.read_text().startswith(f"{first.pid} ")) and time.time() < deadline:
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.1)
        second = run("train", str(config), "--no-progress", "--force")  # this process against the subprocess
        assert f"is in use by PID {first.pid}" in one_line_error(second)
        orphan = lock.parent / f".last.pt.{host_tag()}-{first.pid}.zzz.tmp"
        orphan.write_bytes(b"half")  # as if killed in the middle of a checkpoint
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert lock.is_file()  # the killed run's lock stays behind ...
    third = run("train", str(config), "--no-progress", "--force", "--set", "training.iterations=3")
    assert third.exit_code == 0, third.output  # ... and is recognised as stale
    assert not lock.exists() and not orphan.exists()


def test_lock_in_process(tmp_path: Path) -> None:
    with RunLock(tmp_path / "r") as held:
        assert held.stale is None
        with pytest.raises(RunDirError, match=f"in use by PID {os.getpid()}"):
            RunLock(tmp_path / "r").acquire()
    assert not (tmp_path / "r").exists()  # created by the lock, left empty: removed again


@pytest.mark.processes
def test_divergence_stops_the_run_and_keeps_the_untrained_best(tmp_path: Path) -> None:
    data = {"name": "d", **TINY, "output": {"dir": str(tmp_path / "runs")}}
    data["training"] = {**TINY["training"], "iterations": 50, "lr": 1e6, "optimizer": "sgd", "schedule": "constant"}
    config = write(tmp_path / "c.yaml", data)
    res = hno("train", str(config), "--no-progress", "--json")
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stdout == ""
    msg = res.stderr.strip()
    assert re.search(r"training diverged at iteration \d+: .*layer \d", msg) and len(msg.splitlines()) == 1
    run_dir = tmp_path / "runs" / "d"
    c = parse_config(data)
    untrained = compose(c)
    test = make_test_set(untrained.problem, c)
    best, _ = load_network(run_dir / "best.pt")
    assert all(torch.isfinite(v).all() for v in best.state_dict().values())
    assert nmse_per_layer(best, test)[-1] <= nmse_per_layer(untrained, test)[-1] + 1e-9
    if (run_dir / "last.pt").is_file():
        assert all(torch.isfinite(v).all() for v in load_checkpoint(run_dir / "last.pt")["model"].values())


def test_sweep_names_and_grid_keys_are_validated(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", cfg(output={"dir": str(tmp_path / "runs")}))
    msg = one_line_error(run("compare", str(config), "--sweep", "network.integrator=euler,../../x", "--no-progress"))
    assert "the run name 't-../../x' must stay inside output.dir" in msg and not (tmp_path / "runs").exists()
    (tmp_path / "g.yaml").write_text("name: g\nlayerz: 3\n")
    assert "layerz: unknown key (did you mean 'layers'?)" in one_line_error(run("experiment", "synthetic",
                                                                             str(tmp_path / "g.yaml")))


# -- the machine: threads, working directory, special files -------------------------------------------

def test_threads_far_beyond_the_cores_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"training\.threads: 100000 threads is more than the limit of 1024.*or auto"):
        parse_config(cfg(training={"threads": 100_000}))
    assert parse_config(cfg(training={"threads": 1024})).training.threads == 1024


@pytest.mark.processes
def test_threads_are_capped_at_the_available_cores() -> None:
    # in a fresh process: torch's thread pool is process-wide, and 4096 threads must never be created
    code = ("import os, torch; from hno_framework.threads import apply_threads; "
            "print(apply_threads(1024), len(os.sched_getaffinity(0)))")
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    threads, cores = (int(v) for v in res.stdout.split())
    assert threads == cores


@pytest.mark.processes
def test_a_deleted_working_directory_is_one_line(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", cfg(output={"dir": str(tmp_path / "runs")}))
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && exec {sys.executable} -m hno_framework.cli compose {config}"
    res = subprocess.run(["sh", "-c", script], check=False, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 2 and res.stdout == "", (res.returncode, res.stderr)
    assert res.stderr.strip() == ("Error: the current working directory no longer exists (deleted or moved); cd to an "
                                  "existing folder and run the command again")


@pytest.mark.processes
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "best.pt"
    os.mkfifo(fifo)
    res = hno("eval", str(fifo), timeout=60)  # opening a FIFO to read blocks until a writer comes
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == (f"Error: {fifo} is a FIFO (named pipe), not a checkpoint; give a best.pt or last.pt "
                                  "written by hno train")
    yaml_fifo = tmp_path / "c.yaml"
    os.mkfifo(yaml_fifo)
    assert "is a FIFO (named pipe), not a config file" in one_line_error(run("compose", str(yaml_fifo)))
    assert "is a character device, not a checkpoint" in one_line_error(run("eval", "/dev/null"))


# -- runs that blow up to finite values ----------------------------------------------------------------

@pytest.mark.processes
def test_a_finite_blow_up_stops_the_run_naming_iteration_and_layer(tiny_config) -> None:
    config = tiny_config("blowup", iterations=40)
    msg = one_error_line_of_process(hno("train", str(config), "--no-progress", "--set", "training.lr=10"))
    assert re.fullmatch(r"Error: blowup: training diverged at iteration \d+: the validation NMSE is \+\d+\.\d dB, "
                        r"\d+\.\d dB above the -\d+\.\d\d dB it started from(; the loss grew from \S+ to \S+)?; "
                        r"the first layer above \d+\.\d dB is layer \d+\. The checkpoints in \S+ are the last good "
                        r"ones; lower training\.lr \(now 10\) or set training\.grad_clip", msg), msg
    run_dir = config.parent / "runs" / "blowup"
    assert not (run_dir / "metrics.json").exists()  # no finished run to report
    c = load_config(config)
    untrained = compose(c)
    data = make_test_set(untrained.problem, c)
    for name in ("best.pt", "last.pt"):  # whatever is on disk is a good network, not the blown-up one
        if (run_dir / name).is_file():
            net, _ = load_network(run_dir / name)
            assert nmse_per_layer(net, data)[-1] <= nmse_per_layer(untrained, data)[-1] + 1.0


@pytest.mark.processes
def test_a_run_that_never_improved_says_so_and_exits_2(tiny_config) -> None:
    # adam at lr 0.3 on the tiny problem: every validation is worse than the untrained network's, yet none is 20 dB
    # worse, so no divergence stops it; it used to exit 0 reporting the untrained network's NMSE as its best
    config = tiny_config("stuck", iterations=40)
    msg = one_error_line_of_process(hno("train", str(config), "--no-progress", "--set", "training.lr=0.3", "--set",
                                        "training.schedule=constant"))
    assert re.fullmatch(r"Error: stuck: the network never improved on its initial validation NMSE \(-\d+\.\d\d dB\) in 40 "
                        r"iterations, so best\.pt is the network it started from; its validations went up to [+-]\d+\.\d\d "
                        r"dB, so the learning rate is likely too large: lower training\.lr \(now 0\.3; try 0\.03\) and "
                        r"rerun with --force", msg), msg
    metrics = read_json(config.parent / "runs" / "stuck" / "metrics.json")
    assert metrics["improved"] is False
    (phase,) = metrics["phases"]
    assert phase["best_iteration"] == 0 and metrics["best_validation_nmse_db"] == pytest.approx(phase["start_nmse_db"])
    # --resume of that finished run gives the same verdict, not "already finished" with exit 0
    res = hno("train", str(config), "--no-progress", "--resume", "--set", "training.lr=0.3", "--set",
              "training.schedule=constant")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [msg], (res.returncode, res.stderr)
    # the same run at a sane learning rate improves, exits 0 and says so in metrics.json
    res = hno("train", str(config), "--no-progress", "--force", "--set", "training.schedule=constant")
    assert res.returncode == 0, res.stderr
    assert read_json(config.parent / "runs" / "stuck" / "metrics.json")["improved"] is True


@pytest.mark.processes
def test_a_run_whose_gradients_are_zero_is_not_blamed_on_the_learning_rate(tiny_config) -> None:
    # thresholds so large that every output is zero: the validation NMSE sits at 0 dB and nothing trains
    config = tiny_config("dead", iterations=20)
    res = hno("train", str(config), "--no-progress", "--set", "network.step={name: lista, options: {threshold_scale: 1e4}}")
    msg = res.stderr.strip()
    assert res.returncode == 2 and len(msg.splitlines()) == 1, (res.returncode, msg)
    assert "never improved on its initial validation NMSE" in msg and "never moved, so the gradients are zero" in msg
    assert "training.lr" not in msg


def test_a_healthy_run_is_not_called_diverged(tiny_config) -> None:
    c = load_config(tiny_config("healthy", iterations=20))
    result = train(c, progress=False)
    assert result.best_validation_nmse_db < 0 and (c.run_dir / "metrics.json").is_file()


def test_signals_without_energy_are_a_data_error_not_a_learning_rate(tiny_config) -> None:
    from hno_framework.errors import DataError
    from hno_framework.problems.base import SignalBatch

    c = load_config(tiny_config("zeros"))
    zeros = SignalBatch(torch.zeros(8, c.problem.n), torch.zeros(8, c.problem.m))
    with pytest.raises(DataError, match=r"the 8 validation signals are all zero \(no signal energy\).*check the data") \
            as err:
        Trainer(c, progress=False, validation=zeros)
    assert "training.lr" not in str(err.value)


# -- files and services that are not what they should be ----------------------------------------------

def test_metrics_that_are_not_an_object_name_the_file(tmp_path: Path) -> None:
    c = parse_config(cfg(training={"iterations": 2, "validate_every": 1, "validation_size": 8, "test_size": 8,
                                   "threads": 1}, output={"dir": str(tmp_path)}))
    train(c, progress=False)
    (c.run_dir / "metrics.json").write_text("[1, 2]")
    msg = one_line_error(run("report", str(c.run_dir), "--test-size", "8"))
    assert f"run metrics {c.run_dir / 'metrics.json'} is corrupt: it holds a JSON list, not an object" in msg


@pytest.mark.processes
@pytest.mark.parametrize(("address", "fix"), [("ray://head:10001", "pip install 'ray[client]'"),
                                              ("auto", "ray status"), (None, "--executor local")])
def test_a_ray_that_will_not_start_is_one_line(tmp_path: Path, monkeypatch, address, fix) -> None:
    import types

    fake = types.ModuleType("ray")

    def init(**kwargs):
        if str(kwargs.get("address")).startswith("ray://"):
            raise RuntimeError("Ray Client requires pip package `ray[client]`. If you installed the minimal Ray (e.g. "
                               "`pip install ray`), please reinstall by executing `pip install ray[client]`.")
        raise ConnectionError("Could not find any running Ray instance.\nPlease specify the one to connect to.")

    fake.is_initialized = lambda: False  # type: ignore[attr-defined]
    fake.init = init  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    config = write(tmp_path / "c.yaml", cfg(output={"dir": str(tmp_path / "runs")}))
    args = ["compare", str(config), "--executor", "ray", "--no-progress", *(["--address", address] if address else [])]
    msg = one_line_error(run(*args))
    assert msg.startswith("Error: cannot ") and fix in msg


# -- never through a symlink, never over something that is not a regular file ------------------------

def test_a_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    (tmp_path / "runs" / "t").mkdir(parents=True)
    (tmp_path / "runs" / "t" / ".lock").symlink_to(victim)
    assert "the lock file" in one_line_error(run("train", str(config), "--no-progress"))
    assert victim.read_text() == "precious\n"


def test_atomic_write_never_writes_through_a_symlink(tmp_path: Path) -> None:
    from hno_framework.io import NotARegularFileError

    victim = tmp_path / "victim.json"
    victim.write_text("precious\n")
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    with pytest.raises(NotARegularFileError, match=r"out\.json is a symbolic link; hno writes only regular files"):
        write_json(link, {"a": 1})
    assert link.is_symlink() and victim.read_text() == "precious\n"
    assert not list(tmp_path.glob(".out.json.*.tmp"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_outputs_that_are_fifos_are_refused_before_any_work(tmp_path: Path) -> None:
    c = parse_config(cfg(training={"iterations": 2, "validate_every": 1, "validation_size": 8, "test_size": 8,
                                   "threads": 1}, output={"dir": str(tmp_path / "runs")}))
    train(c, progress=False)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    config = write(tmp_path / "c.yaml", cfg(name="other", output={"dir": str(tmp_path / "runs")}))
    for args in (["compare", str(config), "--json", str(fifo), "--no-progress"],
                 ["compare", str(config), "--plot", str(fifo), "--no-progress"],
                 ["report", str(c.run_dir), "-o", str(fifo)],
                 ["inspect", str(c.run_dir), "--plot", str(fifo)]):
        msg = one_line_error(run(*args))
        assert msg == (f"Error: {fifo} is a FIFO (named pipe); hno writes only regular files and never replaces "
                       "anything else: remove it or give another path"), args
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not (tmp_path / "runs" / "other").exists()  # refused before anything trained


def test_a_checkpoint_whose_weights_changed_is_refused_naming_the_file(tiny_config, tmp_path) -> None:
    import torch

    from hno_framework.api import train
    from hno_framework.checkpoint import load_checkpoint, load_network
    from hno_framework.errors import CheckpointError

    cfg = tiny_config(iterations=5)
    train(str(cfg), progress=False)
    best = next((tmp_path / "runs").rglob("best.pt"))
    payload = torch.load(best, weights_only=True)
    assert len(payload["digest"]) == 64
    key = next(k for k, v in payload["model"].items() if v.numel() > 4 and not k.startswith("problem"))
    flipped = payload["model"][key].clone().contiguous()
    flipped.view(torch.uint8).reshape(-1)[:64] ^= 0xFF  # 64 flipped bytes, as a damaged disk would
    damaged = tmp_path / "damaged.pt"
    torch.save({**payload, "model": {**payload["model"], key: flipped}}, damaged)
    with pytest.raises(CheckpointError, match=r"damaged\.pt is damaged: its config or weights do not match the SHA-256"):
        load_network(damaged)
    config_changed = tmp_path / "config.pt"
    torch.save({**payload, "config": {**payload["config"], "name": "other"}}, config_changed)
    with pytest.raises(CheckpointError, match=r"config\.pt is damaged"):
        load_checkpoint(config_changed)
    old = tmp_path / "old.pt"  # written before checkpoints carried a digest: loads, unverified
    torch.save({k: v for k, v in payload.items() if k != "digest"}, old)
    load_network(old)


def test_resume_of_a_finished_run_says_so_and_trains_nothing(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    assert run("train", str(config), "--no-progress").exit_code == 0
    run_dir = tmp_path / "runs" / "t"
    before = {f: (run_dir / f).read_bytes() for f in ("best.pt", "last.pt", "metrics.json")}
    res = run("train", str(config), "--resume", "--no-progress")
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "already finished after 6 iterations" in lines[0] and "training.iterations" in lines[0]
    assert {f: (run_dir / f).read_bytes() for f in before} == before  # nothing trained, nothing rewritten
    res = run("train", str(config), "--resume", "--no-progress", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["iterations"] == 6
    res = run("train", str(config), "--resume", "--no-progress", "--json", "--set", "training.iterations=9")
    assert res.exit_code == 0 and json.loads(res.stdout)["iterations"] == 9  # raised limits: it trains on
    assert json.loads((run_dir / "metrics.json").read_text())["iterations"] == 9


@pytest.mark.processes
def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    res = hno("train", str(config), "--progress", "--set", "training.iterations=40", "--set", "training.validate_every=5")
    assert res.returncode == 0, res.stderr
    assert "\r" not in res.stderr and "\x1b" not in res.stderr  # no redraws, no cursor movement in a log
    lines = [line for line in res.stderr.splitlines() if line.startswith("t: ")]
    assert len(lines) == 10, res.stderr  # one per tenth
    assert lines[0].startswith("t: 4/40 it (10%)") and lines[-1].startswith("t: 40/40 it (100%)")
    assert "best" in lines[-1] and "dB" in lines[-1]


def test_progress_is_a_bar_on_a_terminal(monkeypatch) -> None:
    from tqdm.auto import tqdm

    from hno_framework import progress

    monkeypatch.setattr(progress, "is_terminal", lambda stream=None: True)
    bar = progress.progress_bar(total=10, enabled=True, desc="x", file=io.StringIO())
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setattr(progress, "is_terminal", lambda stream=None: False)
    assert isinstance(progress.progress_bar(total=10, enabled=True), progress.PlainProgress)
    assert progress.progress_bar(total=10, enabled=False).disable


@pytest.mark.processes
def test_no_thread_to_start_a_pool_is_one_line(tmp_path: Path, monkeypatch) -> None:
    import hno_framework.compare

    def refuse(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(hno_framework.compare, "compare", refuse)
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    res = run("compare", str(config), "--executor", "local", "--workers", "2", "--no-progress")
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "cannot start another thread" in errors[0] and "--workers" in errors[0]


@pytest.mark.processes
def test_a_run_killed_before_its_first_last_pt_is_started_over_by_a_plain_rerun(tmp_path: Path) -> None:
    long = {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}}
    long["training"] = {**TINY["training"], "iterations": 1_000_000, "validate_every": 1_000_000}
    config = write(tmp_path / "c.yaml", long)
    run_dir = tmp_path / "runs" / "t"
    first = subprocess.Popen([sys.executable, "-m", "hno_framework.cli", "train", str(config), "--no-progress"],
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "best.pt").is_file():  # training started; its first last.pt is far away
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        first.kill()
        first.wait()
    assert not (run_dir / "last.pt").exists()
    short = ("--set", "training.iterations=6", "--set", "training.validate_every=3")
    msg = one_line_error(run("train", str(config), "--resume", *short))
    assert "nothing to resume" in msg and "drop --resume" in msg
    res = run("train", str(config), "--no-progress", *short)  # what that message says works
    assert res.exit_code == 0, res.output
    assert (run_dir / "last.pt").is_file()


def test_refusals_never_point_at_an_option_that_is_refused_in_turn(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    assert run("train", str(config), "--no-progress").exit_code == 0
    (tmp_path / "runs" / "t" / "last.pt").unlink()  # a finished run without its resumable state
    plain = one_line_error(run("train", str(config), "--no-progress"))
    assert "already holds a run" in plain and "--force" in plain and "--resume" not in plain
    resume = one_line_error(run("train", str(config), "--no-progress", "--resume"))
    assert "nothing to resume" in resume and "--force" in resume and "drop --resume" not in resume
    assert run("train", str(config), "--no-progress", "--force").exit_code == 0


def test_force_removes_every_output_of_the_old_run_and_nothing_outside_it(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    assert run("train", str(config), "--no-progress").exit_code == 0
    run_dir = tmp_path / "runs" / "t"
    assert run("inspect", str(run_dir), "--test-size", "8").exit_code == 0
    assert run("report", str(run_dir), "--test-size", "8").exit_code == 0
    assert (run_dir / "inspection.png").is_file() and (run_dir / "report.html").is_file()
    (run_dir / "tensorboard").mkdir()
    (run_dir / "tensorboard" / "events.out.tfevents.1").write_bytes(b"old events")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious\n")
    (run_dir / "linked-folder").symlink_to(outside, target_is_directory=True)
    (run_dir / "linked-file").symlink_to(outside / "keep.txt")
    (run_dir / "tensorboard" / "link").symlink_to(outside, target_is_directory=True)
    nested = write(tmp_path / "n.yaml", {"name": "t/sub", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    assert run("train", str(nested), "--no-progress").exit_code == 0  # a run whose name continues this one's
    old_metrics = (run_dir / "metrics.json").read_bytes()

    assert run("train", str(config), "--no-progress", "--force", "--set", "training.lr=0.003").exit_code == 0
    assert sorted(p.name for p in run_dir.iterdir()) == ["best.pt", "last.pt", "metrics.json", "sub"]
    assert (run_dir / "metrics.json").read_bytes() != old_metrics
    assert (outside / "keep.txt").read_text() == "precious\n" and sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert {"best.pt", "last.pt", "metrics.json"} <= {p.name for p in (run_dir / "sub").iterdir()}


def test_a_first_run_into_a_folder_without_a_run_deletes_nothing(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", {"name": "t", **TINY, "output": {"dir": str(tmp_path / "runs")}})
    (tmp_path / "runs" / "t").mkdir(parents=True)
    (tmp_path / "runs" / "t" / "notes.txt").write_text("mine\n")
    assert run("train", str(config), "--no-progress", "--force").exit_code == 0
    assert (tmp_path / "runs" / "t" / "notes.txt").read_text() == "mine\n"
