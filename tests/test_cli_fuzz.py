"""Bad input through the ``hno`` CLI: a table of hand-picked bad inputs by category, a hypothesis fuzz of
configs, and one real subprocess. Every answer is a network or ``Error: ...`` with exit status 2,
never a traceback (issue 13). A YAML syntax error may add its source line and a caret line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hno_framework.cli import cli

SMALL = {"name": "fz", "problem": {"m": 4, "n": 8}, "network": {"step": "lista", "integrator": "euler", "layers": 2},
         "training": {"iterations": 2, "batch_size": 4, "validate_every": 1, "validation_size": 4, "test_size": 4,
                      "threads": 1}}


def check_answer(res, *, allow_success: bool = False) -> str:
    """``"ok"`` for a built network, ``"error"`` for one ``Error:`` line (or a YAML error with its caret)
    and exit status 2; anything else (a traceback, another exit status) fails the test."""
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    if res.exit_code == 0 and allow_success:
        assert "learnable parameters" in res.output or "best validation NMSE" in res.output, res.output
        return "ok"
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.output.rstrip("\n").splitlines()
    assert lines and lines[0].startswith("Error: "), res.output
    if len(lines) > 1:  # only a YAML syntax error: "Error: cannot parse ..., line L, column C: ..." + source + caret
        assert len(lines) == 3 and "cannot parse" in lines[0] and lines[2].strip() == "^", res.output
    return "error"


def nested(key: str, value) -> dict:
    """``SMALL`` with the dotted ``key`` set to ``value``."""
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    *path, last = key.split(".")
    node = data
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value
    return data


# (category, label, how to build the command line from a scratch folder)
Case = tuple[str, str, Callable[[Path], list[str]]]


def config_file(tmp: Path, data=None, text: str | None = None, raw: bytes | None = None, suffix: str = ".yaml") -> str:
    path = tmp / f"c{len(list(tmp.iterdir()))}{suffix}"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text if text is not None else yaml.safe_dump(data))
    return str(path)


def with_value(key: str, value, command: str = "compose") -> Callable[[Path], list[str]]:
    return lambda tmp: [command, config_file(tmp, nested(key, value)), *(["--no-progress"] if command == "train" else [])]


def with_set(*overrides: str, command: str = "compose") -> Callable[[Path], list[str]]:
    return lambda tmp: [command, config_file(tmp, SMALL), *[a for o in overrides for a in ("--set", o)]]


def with_text(text: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["compose", config_file(tmp, text=text)]


FLOATS = ["training.lr", "problem.snr_db", "problem.lam", "problem.condition_number", "problem.sparsity",
          "training.aux_loss_weight", "training.grad_clip", "problem.missing_ratio", "training.stagewise.layer_decay",
          "training.stagewise.min_improvement_db"]
CASES: list[Case] = [
    *[("non-finite number", f"{k}={v}", with_value(k, v)) for k in FLOATS for v in (float("inf"), float("-inf"), float("nan"))],
    *[("wrong type", f"{k}={v!r}", with_value(k, v)) for k, v in [
        ("network.layers", True), ("network.layers", 2.5), ("network.layers", "3"), ("network.layers", [2]),
        ("network.layers", None), ("problem.m", True), ("problem.n", "eight"), ("network.tied", 1),
        ("network.tied", "yes"), ("problem.seed", 1.5), ("problem.seed", True), ("training.iterations", False),
        ("training.lr", True), ("problem.sparsity", "0.1x"), ("network.step", 5), ("network", 5), ("problem", [1]),
        ("training.stagewise.finetune_lr_factors", "0.2"), ("output.dir", 7), ("name", 3)]],
    *[("out of range", f"{k}={v}", with_value(k, v)) for k, v in [
        ("problem.m", 0), ("problem.n", -1), ("network.layers", 0), ("problem.sparsity", 1.5), ("problem.seed", -1),
        ("problem.seed", 2**64), ("training.seed", 2**70), ("training.lr", 0), ("problem.condition_number", 0.5),
        ("problem.missing_ratio", 1.0), ("training.batch_size", -4), ("problem.patch_size", 0)]],
    *[("unsafe run name", repr(v), with_value("name", v)) for v in
      ["../x", "a/../../b", "/abs", "", " ", ".", "a//b", "a\\b", " padded", "tab\tname"]],
    *[("unknown key", k, with_value(k, 1)) for k in
      ["trainig", "training.lrr", "problem.sparsty", "network.layer", "output.directory", "training.stagewise.patiense"]],
    *[("component", label, with_value(k, v)) for label, k, v in [
        ("unknown step", "network.step", "lsta"), ("unknown integrator", "network.integrator", "eulr"),
        ("bad step option", "network.step", {"name": "lista", "options": {"nope": 1}}),
        ("unknown problem kind", "problem.kind", "lassso")]],
    ("yaml", "duplicate key", with_text("name: a\nname: b\nnetwork: {step: lista}\n")),
    ("yaml", "duplicate nested key", with_text("network:\n  step: lista\n  step: ista\n")),
    ("yaml", "unclosed flow mapping", with_text("network: {step: lista\n")),
    ("yaml", "bad indentation", with_text("network:\n  step: lista\n layers: 2\n")),
    ("yaml", "tab indentation", with_text("network:\n\tstep: lista\n")),
    ("yaml", "python tag", with_text("network: !!python/object/apply:os.system ['true']\n")),
    ("yaml", "top level list", with_text("- 1\n- 2\n")),
    ("yaml", "empty file", with_text("")),
    ("yaml", "not UTF-8", lambda tmp: ["compose", config_file(tmp, raw=b"name: caf\xe9\n")]),
    ("yaml", "TOML syntax error", lambda tmp: ["compose", config_file(tmp, text="[network\nstep='lista'\n", suffix=".toml")]),
    ("--set", "malformed value", with_set("training.lr=[")),
    ("--set", "duplicate key in value", with_set("network.step={name: lista, name: ista}")),
    ("--set", "no '='", with_set("training.lr")),
    ("--set", "empty key part", with_set("training..lr=1")),
    ("--set", "typo in key", with_set("training.lrr=0.1")),
    ("--set", "into a number", with_set("training.lr.x=1")),
    ("--set", "unsafe name", with_set("name=../../etc")),
    ("--set", "seed beyond 64 bits", with_set(f"problem.seed={2**64}")),
    ("files", "missing config", lambda tmp: ["compose", str(tmp / "missing.yaml")]),
    ("files", "a directory as config", lambda tmp: ["train", str(tmp)]),
    ("files", "unsupported suffix", lambda tmp: ["compose", config_file(tmp, SMALL, suffix=".json")]),
    ("files", "eval on a config", lambda tmp: ["eval", config_file(tmp, SMALL)]),
    ("files", "eval on a directory", lambda tmp: ["eval", str(tmp)]),
    ("files", "eval on a missing file", lambda tmp: ["eval", str(tmp / "best.pt")]),
    ("files", "eval on random bytes", lambda tmp: ["eval", config_file(tmp, raw=os.urandom(64), suffix=".pt")]),
    ("huge size", "m, n = 10⁷", with_set("problem.m=10000000", "problem.n=10000000")),
    ("huge size", "layers = 10¹²", with_set("network.layers=1000000000000")),
    # millions of layers passed the memory estimate (4 KiB each, ≤ ≈ 5 × 10⁶ on 22 GiB) and then took minutes and
    # GiBs to compose (≈ 3.3 KB and 80 µs per layer measured); a fuzzed run was OOM-killed in CI. Now a config error.
    ("huge size", "layers = 4 × 10⁶", with_set("network.layers=4000000")),
    ("huge size", "test_size = 10¹²", with_set("training.test_size=1000000000000", command="train")),
    ("huge size", "batch_size = 10¹²", with_set("training.batch_size=1000000000000", command="train")),
    ("huge size", "validation_size = 10¹²", with_set("training.validation_size=1000000000000", command="train")),
    ("run", "unknown device", with_set("training.device=gpu0", command="train")),
    ("run", "output.dir is a file", lambda tmp: ["train", config_file(tmp, nested("output.dir", config_file(tmp, SMALL)))]),
    ("run", "--resume with nothing", lambda tmp: ["train", config_file(tmp, nested("output.dir", str(tmp / "r"))), "--resume"]),
    # nesting deeper than Python's recursion limit: parsers and validators must not overflow the stack
    ("deep nesting", "YAML lists 5,000 deep", with_text("name: " + "[" * 5000 + "]" * 5000 + "\nnetwork: {step: lista}\n")),
    ("deep nesting", "YAML mappings 5,000 deep", with_text("network: {step: lista}\nx: " + "{a: " * 5000 + "1" + "}" * 5000)),
    ("deep nesting", "TOML arrays 5,000 deep",
     lambda tmp: ["compose", config_file(tmp, text="name = " + "[" * 5000 + "]" * 5000 + "\n", suffix=".toml")]),
    ("deep nesting", "YAML 100 deep in options",
     with_value("network.step", {"name": "lista", "options": {"x": yaml.safe_load("[" * 100 + "]" * 100)}})),
    ("deep nesting", "--set value 5,000 deep", with_set("network.step=" + "[" * 5000 + "]" * 5000)),
    *[("run name", label, with_value("name", v)) for label, v in [
        ("1,000 'a/' parts", "a/" * 1000 + "a"), ("a part of 300 bytes", "x" * 300), ("6,000 characters", "/".join(["x" * 200] * 30)),
        ("DEL", "a\x7fb"), ("C1 control", "a\x85b"), ("right-to-left override", "safe\u202egnp.exe"),
        ("zero-width space", "lista\u200b"), ("byte-order mark", "\ufefflista")]],
    *[("extreme value", f"{k}={v}", lambda tmp, k=k, v=v: with_set(f"{k}={v}", f"output.dir={tmp / 'r'}", command="train")(tmp))
      for k, v in [("problem.snr_db", "-1e308"), ("problem.snr_db", "1e308"), ("problem.snr_db", "-101")]],
    *[("component options", label, with_value("network.integrator", {"name": "2no", "options": options})) for label, options in [
        ("alpha_init: 1e308", {"alpha_init": 1e308}), ("alpha_init: -1e308", {"alpha_init": -1e308}),
        ("alpha_init: inf", {"alpha_init": float("inf")}), ("alpha_init: nan", {"alpha_init": float("nan")})]],
    ("component options", "step option nan",
     with_value("network.step", {"name": "lista", "options": {"threshold_scale": float("nan")}})),
    ("component options", "problem option inf", lambda tmp: ["compose", config_file(tmp, nested("problem", {
        "kind": "blur", "lam": 0.01, "options": {"size": 8, "sigma": float("inf")}}))]),
    *[("executor", f"--gpus-per-job {v}", lambda tmp, v=v: ["compare", config_file(tmp, nested("output.dir", str(tmp / "r"))),
                                                            "--gpus-per-job", v, "--no-progress"])
      for v in ("nan", "inf", "1e308")],
]


@pytest.mark.parametrize(("category", "label", "args"), CASES, ids=[f"{c}: {lbl}" for c, lbl, _ in CASES])
def test_bad_input_gets_one_line(category: str, label: str, args, tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    res = CliRunner().invoke(cli, args(tmp_path / "s"))
    assert check_answer(res) == "error"


VALID_NUMBERS = st.one_of(st.integers(1, 4), st.sampled_from([0.1, 0.5, 1.0]))
BAD_VALUES = st.one_of(
    st.sampled_from([0, -1, -0.5, float("inf"), float("-inf"), float("nan"), True, False, None, "", "x", "../..",
                     [], {}, [1, 2], {"a": 1}, 2**64, 10**12, 1e308, -(2**70)]),
    st.text(max_size=8), st.floats(), st.integers(),
)


def fuzz_value(valid):
    return st.one_of(st.just(valid), VALID_NUMBERS, BAD_VALUES) if not isinstance(valid, str) else \
        st.one_of(st.just(valid), st.sampled_from(["lista", "ista", "euler", "2no", "lasso", "cs"]), BAD_VALUES)


@st.composite
def fuzzed_config(draw) -> dict:
    """SMALL with some keys replaced by valid or bad values, a few unknown keys, a section replaced."""
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    keys = [("name", "fz"), ("problem.m", 4), ("problem.n", 8), ("problem.sparsity", 0.2), ("problem.lam", 0.4),
            ("problem.snr_db", 30.0), ("problem.condition_number", 2.0), ("problem.seed", 0), ("problem.kind", "lasso"),
            ("network.layers", 2), ("network.tied", True), ("network.step", "lista"), ("network.integrator", "euler"),
            ("training.lr", 0.01), ("training.seed", 0), ("training.iterations", 2), ("training.device", "cpu")]
    for key, valid in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
        *path, last = key.split(".")
        node = data
        for part in path:
            node = node[part]
        node[last] = draw(fuzz_value(valid) if key != "network.tied" else st.one_of(st.booleans(), BAD_VALUES))
    if draw(st.booleans()):
        section = draw(st.sampled_from(["problem", "network", "training", None]))
        target = data if section is None else data[section]
        target[draw(st.text(min_size=1, max_size=6))] = draw(BAD_VALUES)
    return data


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=fuzzed_config())
def test_fuzzed_configs_build_or_fail_in_one_line(data: dict, tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    check_answer(CliRunner().invoke(cli, ["compose", str(path)]), allow_success=True)


SMALL_TEXT = yaml.safe_dump(SMALL)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=60), st.builds(lambda junk, at: SMALL_TEXT[:at] + junk + SMALL_TEXT[at:],
                                                      st.text(max_size=6), st.integers(0, len(SMALL_TEXT)))),
       overrides=st.lists(st.builds("{}={}".format, st.sampled_from(["name", "training.lr", "network.layers", "x.y",
                                                                     "problem..m", ""]), st.text(max_size=10)),
                          max_size=2))
def test_fuzzed_yaml_text_and_overrides(text: str, overrides: list[str], tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    args = ["compose", str(path), *[a for o in overrides for a in ("--set", o)]]
    check_answer(CliRunner().invoke(cli, args), allow_success=True)


@pytest.mark.processes
def test_bad_config_in_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: ../escape\nnetwork: {step: lista, layers: true}\ntraining: {lr: .inf, lrr: 1}\n")
    res = subprocess.run([sys.executable, "-m", "hno_framework.cli", "compose", str(path)], check=False,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 2 and res.stdout == "" and "Traceback" not in res.stderr
    (line,) = res.stderr.strip().splitlines()
    for part in ("name: the run name '../escape'", "network.layers: Input should be a valid integer, got True",
                 "training.lr: Input should be a finite number", "training.lrr: unknown key (did you mean 'lr'?)"):
        assert part in line
