"""``hno inspect``: the reported coefficients and parameters are the checkpoint's, read independently here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hno_framework.checkpoint import save_checkpoint
from hno_framework.cli import cli
from hno_framework.composer import compose
from hno_framework.config import parse_config
from hno_framework.evaluation import evaluate_checkpoint
from hno_framework.inspection import inspect_checkpoint
from hno_framework.integrator import Integrator, IntegratorLayout, IntegratorMetadata
from hno_framework.uncertainty import bootstrap_nmse_db_columns as bootstrap_nmse_db

T = 4


def _config(tmp_path: Path, step: str = "lista", integrator: dict | str = "2no", tied: bool = True):
    return parse_config({
        "name": "insp",
        "problem": {"kind": "lasso", "m": 10, "n": 20, "sparsity": 0.2, "seed": 3},
        "network": {"step": step, "integrator": integrator, "layers": T, "tied": tied},
        "training": {"test_size": 64, "validation_size": 16},
        "output": {"dir": str(tmp_path / "runs")},
    })


def _perturbed_checkpoint(cfg) -> tuple[Path, dict[str, torch.Tensor]]:
    """A checkpoint whose every learnable parameter is moved off its initial value; returns its state_dict."""
    net = compose(cfg)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    path = save_checkpoint(cfg.run_dir / "best.pt", {"config": cfg.model_dump(mode="json"), "model": state, "iteration": 11})
    return path, state


def _close(column: list, expected: list[float]) -> None:
    assert len(column) == len(expected)
    for got, want in zip(column, expected, strict=True):
        if want is None or math.isnan(want):
            assert got is None
        else:
            assert got == pytest.approx(want, abs=1e-6)


def test_2no_coefficients_are_the_checkpoints_with_euler_layer_0(tmp_path: Path) -> None:
    path, state = _perturbed_checkpoint(_config(tmp_path))
    result = inspect_checkpoint(path.parent, test_size=0)
    assert result.iteration == 11 and result.checkpoint == str(path)
    _close(result.coefficients["alpha"], [1.0, *state["integrator.alpha"].tolist()])
    _close(result.coefficients["beta"], [0.0, *state["integrator.beta"].tolist()])
    _close(result.references["init"]["alpha"], [1.0] * T)
    _close(result.references["init"]["beta"], [0.0] + [-0.5] * (T - 1))  # the seed's initialisation
    _close(result.references["euler"]["beta"], [0.0] * T)
    theta = [state[f"layers.{t}.theta"].item() for t in range(T)]
    _close(result.step_parameters["theta"], theta)
    w = state["layers.0.W"]
    _close(result.step_parameters["‖W‖"], [math.sqrt(float((w.double() ** 2).sum()))] * T)  # tied: one W


def test_3no_start_up_layers_show_their_fixed_values(tmp_path: Path) -> None:
    path, state = _perturbed_checkpoint(_config(tmp_path, integrator="3no"))
    result = inspect_checkpoint(path, test_size=0)
    _close(result.coefficients["alpha"], [1.0, *state["integrator.alpha"].tolist()])
    _close(result.coefficients["beta1"], [0.0, *state["integrator.beta1"].tolist()])
    _close(result.coefficients["beta2"], [0.0, 0.0, *state["integrator.beta2"].tolist()])


def test_lm_coefficients_follow_the_start_up_merge_and_the_sum_constraint(tmp_path: Path) -> None:
    r = 3
    path, state = _perturbed_checkpoint(_config(tmp_path, integrator={"name": "lm", "options": {"past_states": r}}))
    result = inspect_checkpoint(path, test_size=0)
    free_xi, gamma, h = state["integrator.xi"].tolist(), state["integrator.gamma"].tolist(), state["integrator.h"].tolist()
    # Layer t stores min(t+1, r) − 1 free ξ (ξ_0 = 1 − their sum) and min(t+1, r) γ, in layer order.
    xi_at = gamma_at = 0
    for t in range(T):
        k = min(t + 1, r)
        free = free_xi[xi_at : xi_at + k - 1]
        xi_row = [1.0 - sum(free), *free] + [math.nan] * (r - k)
        gamma_row = gamma[gamma_at : gamma_at + k] + [math.nan] * (r - k)
        xi_at, gamma_at = xi_at + k - 1, gamma_at + k
        for i in range(r):
            _close([result.coefficients[f"xi[{i}]"][t]], [xi_row[i]])
            _close([result.coefficients[f"gamma[{i}]"][t]], [gamma_row[i]])
    _close(result.coefficients["h"], h)
    _close(result.references["euler"]["xi[0]"], [1.0] * T)
    _close(result.references["euler"]["xi[2]"], [math.nan, math.nan, 0.0, 0.0])


def test_rk_learnable_weights_sum_to_one(tmp_path: Path) -> None:
    integ = {"name": "rk", "options": {"tableau": "heun", "learnable_b": True, "learnable_h": True}}
    path, state = _perturbed_checkpoint(_config(tmp_path, integrator=integ))
    result = inspect_checkpoint(path, test_size=0)
    free_b = state["integrator.free_b"]  # (T, s − 1)
    _close(result.coefficients["b[0]"], [1.0 - float(row.sum()) for row in free_b])
    _close(result.coefficients["b[1]"], free_b[:, 0].tolist())
    _close(result.coefficients["h"], state["integrator.h"].tolist())
    _close(result.references["init"]["b[1]"], [0.5] * T)


@pytest.mark.parametrize("integrator", ["euler", "ab2", "abm2", "heun", "rk4"])
def test_schemes_with_a_step_size_report_h_per_layer(tmp_path: Path, integrator: str) -> None:
    options = {"learnable_h": True} if integrator in ("euler", "ab2", "abm2") else {}
    path, state = _perturbed_checkpoint(_config(tmp_path, integrator={"name": integrator, "options": options}))
    result = inspect_checkpoint(path, test_size=0)
    _close(result.coefficients["h"], state["integrator.h"].tolist())


def test_untied_steps_report_each_layers_parameters(tmp_path: Path) -> None:
    path, state = _perturbed_checkpoint(_config(tmp_path, step="alista", integrator="euler", tied=False))
    result = inspect_checkpoint(path, test_size=0)
    _close(result.step_parameters["gamma"], [state[f"layers.{t}.gamma"].item() for t in range(T)])
    _close(result.step_parameters["theta"], [state[f"layers.{t}.theta"].item() for t in range(T)])


def test_nmse_per_layer_is_the_evaluation_of_the_checkpoint(tmp_path: Path) -> None:
    path, _ = _perturbed_checkpoint(_config(tmp_path))
    result = inspect_checkpoint(path, resamples=200)
    expected = evaluate_checkpoint(path).nmse_db
    assert result.nmse_db == pytest.approx(expected, abs=1e-6)
    assert result.test_size == 64
    for lo, v, hi in zip(result.nmse_low_db[1:], result.nmse_db[1:], result.nmse_high_db[1:], strict=True):
        assert lo < v < hi


def test_bootstrap_point_is_the_ratio_of_sums_and_identical_samples_give_no_spread() -> None:
    gen = torch.Generator().manual_seed(0)
    errors = torch.rand(50, 3, generator=gen, dtype=torch.float64)
    reference = 1 + torch.rand(50, generator=gen, dtype=torch.float64)
    point, low, high = bootstrap_nmse_db(errors, reference, resamples=300)
    for t in range(3):
        ratio = sum(float(errors[i, t]) for i in range(50)) / sum(float(reference[i]) for i in range(50))
        assert point[t] == pytest.approx(10 * math.log10(ratio))
        assert low[t] < point[t] < high[t]
    same = errors[:1].repeat(40, 1), reference[:1].repeat(40)
    point, low, high = bootstrap_nmse_db(*same, resamples=50)
    assert low == pytest.approx(point) and high == pytest.approx(point)


class _PluginScheme(Integrator):
    """A plugin integrator without inspection methods: the defaults find its coefficients."""

    name = "plugin-scheme"

    def __init__(self, options, layout: IntegratorLayout) -> None:
        super().__init__(options, layout)
        self.per_layer = torch.nn.Parameter(torch.arange(float(layout.num_layers)))
        self.shared = torch.nn.Parameter(torch.tensor(0.25))
        self.register_buffer("odd", torch.zeros(layout.num_layers + 1))

    @classmethod
    def describe(cls, options) -> IntegratorMetadata:
        return IntegratorMetadata(family="one-step")


def test_default_inspect_coefficients_of_a_plugin() -> None:
    scheme = _PluginScheme(_PluginScheme.Options(), IntegratorLayout(num_layers=3))
    found = scheme.inspect_coefficients()
    assert found["per_layer"].tolist() == [0.0, 1.0, 2.0]
    assert found["shared"].tolist() == [0.25] * 3
    assert "odd" not in found and scheme.reference_coefficients() == {}


def test_cli_inspect_json_and_figure(tmp_path: Path) -> None:
    path, state = _perturbed_checkpoint(_config(tmp_path))
    figure = tmp_path / "fig.png"
    out = CliRunner().invoke(cli, ["inspect", str(path.parent), "--json", "--test-size", "0", "--plot", str(figure)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["coefficients"]["alpha"][1:] == pytest.approx(state["integrator.alpha"].tolist(), abs=1e-6)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = CliRunner().invoke(cli, ["inspect", str(path), "--test-size", "16", "--no-plot"])
    assert text.exit_code == 0 and "alpha" in text.output and "95 % interval" in text.output
    missing = CliRunner().invoke(cli, ["inspect", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no such run folder" in missing.output


def _every_component() -> list[tuple[str, str]]:
    from hno_framework.registry import get_registry

    reg = get_registry()
    return [(s, "euler") for s in reg.names("step")] + [("lista", i) for i in reg.names("integrator") if i != "euler"]


@pytest.mark.parametrize(("step", "integrator"), _every_component())
def test_every_registered_component_can_be_inspected(step: str, integrator: str) -> None:
    """Built-ins and installed plugins: per-layer columns of length T; an untrained network equals its init."""
    from hno_framework.inspection import inspect_network
    from hno_framework.testing import small_problem_config

    cfg = parse_config({"problem": small_problem_config(step).model_dump(),
                        "network": {"step": step, "integrator": integrator, "layers": T}})
    net = compose(cfg)
    result = inspect_network(net, cfg, test_size=0)
    assert result.step_parameters, "every step has something to show"
    for columns in (result.coefficients, result.step_parameters, *result.references.values()):
        assert all(len(col) == T for col in columns.values())
    assert result.references["init"] == result.coefficients
    assert result.step_init == result.step_parameters
