"""How long ``hno list`` and ``hno show`` take with the listing cache, next to ``hno --help`` and ``import torch``.

    python benchmarks/listing_time.py [--rounds 9] [--json benchmarks/results/listing_time.json]

Each command runs as a fresh subprocess, the variants interleaved round-robin (one of each per round, so a
change in the machine's load hits all of them alike); the table gives the median wall time over the rounds with
the min–max range, and ratios to ``import torch`` and to ``hno --help``:

* ``hno --help``: the command line without any plugin;
* ``python -c "import torch"``: what every command that imports the plugins pays at least;
* ``hno list`` cold: the cache folder emptied first, so the plugins (and torch) are imported and the cache written;
* ``hno list`` warm and ``hno show lista`` warm: read from the cache.

The cache lives in a temporary folder (``HNO_CACHE_DIR``); the user's cache is not touched. One extra warm
``hno list`` under ``python -X importtime`` checks that the warm path imports no torch. Writes JSON with the
machine (platform, cores, load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def hno_script() -> str:
    """The ``hno`` console script of this environment."""
    beside = Path(sys.executable).with_name("hno")
    found = str(beside) if beside.exists() else shutil.which("hno")
    if found is None:
        raise SystemExit("the hno command is not installed in this environment (pip install -e .)")
    return found


def variants(hno: str) -> dict[str, list[str]]:
    return {
        "hno --help": [hno, "--help"],
        "import torch": [sys.executable, "-c", "import torch"],
        "hno list (cold)": [hno, "list"],
        "hno list (warm)": [hno, "list"],
        "hno show lista (warm)": [hno, "show", "lista"],
    }


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    return seconds


def clear(cache: Path) -> None:
    for path in cache.glob("*"):
        path.unlink()


def warm_imports_torch(hno: str, env: dict[str, str]) -> bool:
    """Whether a warm ``hno list`` imports torch (``python -X importtime``, which lists every module imported)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", hno, "list"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return "torch" in modules


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="runs of each command (interleaved)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "listing_time.json")
    args = parser.parse_args()

    hno = hno_script()
    commands = variants(hno)
    with tempfile.TemporaryDirectory(prefix="hno-listing-bench-") as folder:
        cache = Path(folder)
        env = {k: v for k, v in os.environ.items() if k not in ("HNO_NO_CACHE", "HNO_DISABLE_PLUGINS")}
        env.update({"HNO_CACHE_DIR": str(cache), "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"), "COLUMNS": "120"})
        load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
        times: dict[str, list[float]] = {name: [] for name in commands}
        timed(commands["hno list (cold)"], env)  # page in the files once, outside the measurement
        for _ in range(args.rounds):
            for name, command in commands.items():
                if name.endswith("(cold)"):
                    clear(cache)
                times[name].append(timed(command, env))
        torch_on_warm_path = warm_imports_torch(hno, env)
        load_after = os.getloadavg() if hasattr(os, "getloadavg") else None

    median = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"{'command':<24}{'median s':>10}{'min-max s':>16}{'/ import torch':>16}{'/ hno --help':>14}")
    for name, ts in times.items():
        print(f"{name:<24}{median[name]:>10.3f}{f'{min(ts):.3f}-{max(ts):.3f}':>16}"
              f"{median[name] / median['import torch']:>16.2f}{median[name] / median['hno --help']:>14.2f}")
    print(f"warm hno list imports torch: {torch_on_warm_path}")
    report = {
        "rounds": args.rounds,
        "machine": {**machine(), "load_average_before": load_before, "load_average_after": load_after},
        "median_s": median,
        "min_s": {name: min(ts) for name, ts in times.items()},
        "max_s": {name: max(ts) for name, ts in times.items()},
        "runs_s": times,
        "ratio_to_import_torch": {name: median[name] / median["import torch"] for name in times},
        "ratio_to_help": {name: median[name] / median["hno --help"] for name in times},
        "warm_list_imports_torch": torch_on_warm_path,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
