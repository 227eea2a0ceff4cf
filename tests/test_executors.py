"""Executors: serial, local process pool and Ray give the same results; failures and killed workers
are contained; threads are never oversubscribed; devices resolve to one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from hno_framework.errors import ConfigError
from hno_framework.executors import LocalExecutor, make_executor
from hno_framework.threads import WORKERS_ENV, threads_per_worker
from hno_framework.training import resolve_device, resolve_threads

pytestmark = pytest.mark.processes  # starts worker processes: the CI step `pytest -m processes`


# -- job functions (module level: picklable for worker processes) ---------------------------------
def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def die_once(payload: dict[str, Any]) -> int:
    """Kills its own worker process the first time (a marker file remembers), then succeeds."""
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)
    return int(payload["value"])


def always_die(payload: dict[str, Any]) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def threads_in_worker(_: Any) -> tuple[int, str | None]:
    return torch.get_num_threads(), os.environ.get(WORKERS_ENV)


# -- executor semantics ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["serial", "local"])
def test_every_job_runs_once_and_failures_are_contained(name: str) -> None:
    with make_executor(name, 2) as ex:
        outcomes = {o.key: o for o in ex.map(fail_on_three, [(str(i), i) for i in range(5)])}
    assert sorted(outcomes) == ["0", "1", "2", "3", "4"]
    assert {k: o.result for k, o in outcomes.items() if o.ok} == {"0": 0, "1": 1, "2": 2, "4": 4}
    failure = outcomes["3"].failure
    assert failure is not None and "ValueError: three is not allowed" in failure.error
    assert "fail_on_three" in failure.traceback


def test_local_executor_reruns_the_job_of_a_killed_worker(tmp_path: Path) -> None:
    jobs = [(f"job{i}", {"marker": str(tmp_path / f"m{i}"), "value": i}) for i in range(3)]
    with LocalExecutor(2) as ex:
        outcomes = {o.key: o for o in ex.map(die_once, jobs)}
    assert {k: o.result for k, o in outcomes.items()} == {"job0": 0, "job1": 1, "job2": 2}
    assert all(o.ok for o in outcomes.values())


def test_local_executor_gives_up_on_a_job_that_always_kills_its_worker() -> None:
    with LocalExecutor(1, retries=1) as ex:
        outcomes = list(ex.map(always_die, [("doomed", {})]))
    assert len(outcomes) == 1 and not outcomes[0].ok
    assert outcomes[0].failure is not None and "died 2 times" in outcomes[0].failure.error


def test_workers_get_their_share_of_the_cores() -> None:
    with LocalExecutor(2) as ex:
        seen = [o.result for o in ex.map(threads_in_worker, [("a", None), ("b", None)])]
    for threads, env in seen:
        assert env == "2"
        assert threads == threads_per_worker(2) <= max(1, len(os.sched_getaffinity(0)) // 2)


def test_auto_threads_never_exceed_cores_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert resolve_threads("auto", 1) == cores
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 0.0, 0.0))  # one other job busy: its core is not idle
    assert resolve_threads("auto", 1) == max(1, cores - 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's own limit caps auto
    assert resolve_threads("auto", 1) == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert resolve_threads("auto", cores * 4) == 1
    monkeypatch.setenv(WORKERS_ENV, str(cores))
    assert resolve_threads("auto") == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (float(cores + 5), 0.0, 0.0))  # a machine busy with others
    monkeypatch.delenv(WORKERS_ENV)
    assert resolve_threads("auto") == 1
    assert resolve_threads(3) == min(3, cores) and resolve_threads(None) is None
    assert resolve_threads(100_000) == cores  # never more threads than cores


def test_unknown_executor_and_missing_device_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'threads'"):
        make_executor("threads")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"no usable CUDA device; use training\.device=auto or cpu"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


# -- workers die with their parent (subprocesses) ----------------------------------------------------

LONG_RUN = """name: {name}
problem: {{kind: lasso, m: 6, n: 12, sparsity: 0.2, seed: 3}}
network: {{step: lista, integrator: euler, layers: 2}}
training: {{iterations: 1000000, batch_size: 8, validate_every: 1000, validation_size: 16, test_size: 16, threads: 1}}
output: {{dir: "{out}"}}
"""


def _children(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _killpg(pgid: int) -> None:
    import contextlib

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _start_compare_of_two_long_runs(tmp_path: Path, executor: str) -> subprocess.Popen[bytes]:
    """``hno compare`` of two long runs ``a`` and ``b`` on ``executor`` with 2 workers, in a new session (so the test
    can kill its whole process group)."""
    configs = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(LONG_RUN.format(name=name, out=tmp_path / "runs"))
        configs.append(str(path))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "hno_framework.cli", "compare", *configs, "--executor", executor,
                             "--workers", "2", "--no-progress"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _wait_until_both_train(parent: subprocess.Popen[bytes], tmp_path: Path, seconds: float, poll: float) -> None:
    """Until runs ``a`` and ``b`` both hold their run lock (their workers train); fails if ``parent`` exits first or
    ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not all((tmp_path / "runs" / n / ".lock").exists() for n in ("a", "b")):
        assert parent.poll() is None, parent.stderr.read().decode() if parent.stderr else ""
        assert time.monotonic() < deadline, "the workers never started training"
        time.sleep(poll)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_killing_compare_kills_its_workers(tmp_path: Path) -> None:
    parent = _start_compare_of_two_long_runs(tmp_path, "local")
    try:
        _wait_until_both_train(parent, tmp_path, 90, 0.2)
        children = _children(parent.pid)
        assert len(children) >= 2
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [c for c in children if _alive(c)], "workers outlived the killed hno compare"
    finally:
        _killpg(parent.pid)  # whatever the old code left behind
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_pool_that_fails_to_start_cleans_up(tmp_path: Path) -> None:
    script = (
        "import concurrent.futures.process as p\n"
        "def refuse(self): raise RuntimeError(\"can't start new thread\")\n"
        "p._ExecutorManagerThread.start = refuse\n"
        "from hno_framework.executors import LocalExecutor\n"
        "try:\n"
        "    list(LocalExecutor(2).map(abs, [('a', -1), ('b', -2)]))\n"
        "except RuntimeError as exc:\n"
        "    print('refused:', exc)\n"
        "import multiprocessing\n"
        "print('leftover workers:', len(multiprocessing.active_children()))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        out, err = child.communicate(timeout=60)  # before: the leftover workers kept it from ever exiting
    except subprocess.TimeoutExpired:
        _killpg(child.pid)
        child.communicate()
        pytest.fail("the process never exited: a worker of the pool that failed to start kept it alive")
    assert child.returncode == 0, err
    assert "refused: can't start new thread" in out
    assert "leftover workers: 0" in out, out


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        children = _children(todo.pop())
        found += children
        todo += children
    return found


@pytest.mark.slow  # starts a local Ray (20-30 s on 2 cores)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_compare_on_ray_shuts_its_ray_down(tmp_path: Path, sig: signal.Signals) -> None:
    import contextlib
    pytest.importorskip("ray")
    ray_processes: list[int] = []
    parent = _start_compare_of_two_long_runs(tmp_path, "ray")
    try:
        _wait_until_both_train(parent, tmp_path, 240, 0.5)  # both Ray tasks train
        ray_processes = _descendants(parent.pid)  # Ray's GCS, raylet, agents and the workers training a and b
        assert len(ray_processes) >= 4
        parent.send_signal(sig)
        code = parent.wait(timeout=120)
        err = parent.stderr.read().decode() if parent.stderr else ""
        assert code == (143 if sig == signal.SIGTERM else 1), (code, err[-2000:])
        assert "SIGTERM received" not in err  # Ray's own handler (a stack dump and an abort) did not run
        deadline = time.monotonic() + 60
        while any(_alive(p) for p in ray_processes) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [p for p in ray_processes if _alive(p)], "Ray processes outlived the stopped hno compare"
    finally:
        _killpg(parent.pid)
        for p in ray_processes:  # whatever the old code left behind
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
