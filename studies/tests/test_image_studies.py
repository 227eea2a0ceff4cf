"""The image studies (hno experiment inpainting / image-cs): configs parse into cells, a tiny study runs end to
end on a folder of photographs, and the evaluation tiles a fixed patch mask over whole images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hno_framework.composer import compose
from hno_framework.config import ProblemConfig, parse_config
from hno_framework.problems import build_problem

# -- study config and cells -------------------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"


def _write_pngs(folder: Path, count: int, seed: int, shape: tuple[int, int] = (20, 24)) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(count):
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(folder / f"im{seed}-{k}.png")


def _tiny_inpainting(tmp_path: Path, *extra: str) -> list[str]:
    """Write 2 training and 1 test photograph under ``tmp_path/imgs``; the overrides of a tiny inpainting study
    (4 × 4 patches, 2 layers, 3 iterations, ISTA, LISTA and 2NO-LISTA), then ``extra`` (later ones win)."""
    _write_pngs(tmp_path / "imgs" / "train", 2, 7, (24, 24))
    _write_pngs(tmp_path / "imgs" / "test", 1, 8, (16, 16))
    return ["problem.patch_size=4", "layers=2", "training.iterations=3", "training.validate_every=3",
            "training.validation_size=20", "training.test_size=20", "ista.iterations=3", "ista.lambdas=[0.01]",
            "ista.tune_size=10", "evaluation.bootstrap=50",
            "networks=[{name: LISTA, step: lista}, {name: 2NO-LISTA, step: lista, integrator: 2no}]", *extra]


@pytest.mark.parametrize("name, task", [("inpainting.yaml", "inpainting"), ("image-cs.yaml", "image-cs")])
def test_example_studies_parse_into_independent_cells(name: str, task: str) -> None:
    from hno_studies.image_study import load_study

    for quick in (False, True):
        study = load_study(EXAMPLES / name, quick=quick, task=task)  # type: ignore[arg-type]
        cells = study.cells()
        assert len({c.config.name for c in cells}) == len(cells)
        assert all(c.config.problem.patches is not None and c.config.problem.patches.images == study.images.train
                   for c in cells)
    if task == "image-cs":
        assert [c.config.problem.m for c in cells if c.network == "LISTA-CS"] == [3, 10, 26, 64, 77, 102, 128]


def test_images_option_needs_train_and_test_folders(tmp_path: Path) -> None:
    from hno_studies.errors import ExperimentError
    from hno_studies.image_study import load_study

    (tmp_path / "train").mkdir()
    with pytest.raises(ExperimentError, match="test"):
        load_study(EXAMPLES / "inpainting.yaml", images=tmp_path)
    (tmp_path / "test").mkdir()
    study = load_study(EXAMPLES / "inpainting.yaml", images=tmp_path)
    assert study.images.train == [str(tmp_path / "train")] and study.images.downscale == 1
    assert load_study(EXAMPLES / "inpainting.yaml", ["images.downscale=3"], images=tmp_path).images.downscale == 3


def test_a_tiny_study_runs_end_to_end_on_a_folder(tmp_path: Path) -> None:
    from hno_studies.image_runner import run_study
    from hno_studies.image_study import load_study

    overrides = _tiny_inpainting(tmp_path, f"output.dir={tmp_path / 'out'}")
    study = load_study(EXAMPLES / "inpainting.yaml", overrides, images=tmp_path / "imgs")
    run = run_study(study, progress=False)
    assert len(run.computed) == 3
    again = run_study(study, progress=False)
    assert again.computed == [] and len(again.reused) == 3
    text = (tmp_path / "out" / "results.md").read_text()
    assert "2NO-LISTA − LISTA" in text and (tmp_path / "out" / "reconstructions.png").is_file()
    # the same study on two local worker processes: the same PSNR as serially, cell by cell
    from hno_framework.executors import LocalExecutor

    parallel = load_study(EXAMPLES / "inpainting.yaml", [*overrides, f"output.dir={tmp_path / 'out-local'}"],
                          images=tmp_path / "imgs")
    with LocalExecutor(2) as pool:
        local = run_study(parallel, progress=False, executor=pool)
    assert sorted(local.computed) == sorted(run.computed) and not local.failed
    assert [r["psnr_db"] for r in local.results] == [r["psnr_db"] for r in run.results]


def test_report_only_rebuilds_the_report_from_copied_cells(tmp_path: Path) -> None:
    """``--report-only`` on a folder holding only the cells' result.json (what docs/results commits): the same
    results as the run's own report, no training; an empty folder or a cell of another config is one error line."""
    import shutil

    from click.testing import CliRunner

    from hno_framework.cli import cli
    from hno_studies.image_runner import run_study
    from hno_studies.image_study import load_study

    overrides = _tiny_inpainting(tmp_path)
    run = run_study(load_study(EXAMPLES / "inpainting.yaml", [*overrides, f"output.dir={tmp_path / 'run'}"],
                               images=tmp_path / "imgs"), progress=False)
    copy = tmp_path / "copy"
    for result in (tmp_path / "run").rglob("result.json"):  # <setting>/<network>/result.json
        target = copy / result.relative_to(tmp_path / "run")
        target.parent.mkdir(parents=True)
        shutil.copy(result, target)
    assert len(list(copy.rglob("result.json"))) == len(run.computed) == 3

    def report(folder: Path, *extra: str) -> Any:
        args = ["experiment", "inpainting", str(EXAMPLES / "inpainting.yaml"), "--report-only", "--images",
                str(tmp_path / "imgs")]
        for value in [*overrides, *extra, f"output.dir={folder}"]:
            args += ["--set", value]
        return CliRunner().invoke(cli, args)

    result = report(copy)
    assert result.exit_code == 0, result.output
    assert "3 of 3 cells finished" in result.output and not list(copy.rglob("*.pt"))  # nothing trained
    meta = {"command", "seconds_this_run", "machine", "config"}  # the config differs in output.dir only
    ours, theirs = (json.loads((folder / "results.json").read_text()) for folder in (copy, tmp_path / "run"))
    assert {k: v for k, v in ours.items() if k not in meta} == {k: v for k, v in theirs.items() if k not in meta}
    assert "2NO-LISTA − LISTA" in (copy / "results.md").read_text()

    empty = report(tmp_path / "empty")
    assert empty.exit_code != 0 and "no finished cell" in empty.output
    other = report(copy, "layers=3")  # the cells were computed with 2 layers
    assert other.exit_code != 0 and "another config" in other.output and "--set" in other.output


def test_status_says_where_every_cell_stands_from_its_files(tmp_path: Path) -> None:
    """``--status``: finished cells with their mean PSNR; a cell with a last.pt and no result.json is training, at
    its checkpoint's iteration; a folder without files (or the ISTA baseline, which keeps no checkpoint) is not
    started; a result of another config is named as such. Nothing is written; --resume or --report-only with it is
    a usage error."""
    from click.testing import CliRunner

    from hno_framework.cli import cli
    from hno_studies.image_runner import run_study
    from hno_studies.image_status import study_status
    from hno_studies.image_study import load_study

    overrides = _tiny_inpainting(tmp_path, "training.iterations=4", "training.validate_every=2",
                                 f"output.dir={tmp_path / 'run'}")
    study = load_study(EXAMPLES / "inpainting.yaml", overrides, images=tmp_path / "imgs")
    results = {r["network"]: r for r in run_study(study, progress=False).results}
    rows = {r["cell"]: r for r in study_status(study)}
    assert [r["state"] for r in rows.values()] == ["finished"] * 3
    mean = sum(results["LISTA"]["psnr_db"].values()) / len(results["LISTA"]["psnr_db"])
    assert rows["inpainting/lista"]["psnr_db"] == pytest.approx(mean)

    cells = tmp_path / "run" / "inpainting"
    (cells / "lista" / "result.json").unlink()  # trained to the end, not yet evaluated: its last.pt remains
    (cells / "ista" / "result.json").unlink()
    fake = json.loads((cells / "2no-lista" / "result.json").read_text())
    (cells / "2no-lista" / "result.json").write_text(json.dumps({**fake, "fingerprint": "0" * 16}))
    rows = {r["cell"]: r for r in study_status(study)}
    assert rows["inpainting/ista"]["state"] == "not started"
    assert rows["inpainting/2no-lista"]["state"] == "another config"
    training = rows["inpainting/lista"]
    assert training["state"] == "training" and training["iteration"] == training["total"] == 4
    assert training["seconds_left"] == 0.0 and training["best_validation_nmse_db"] is not None

    def status(*extra: str) -> Any:
        args = ["experiment", "inpainting", str(EXAMPLES / "inpainting.yaml"), "--status", *extra,
                "--images", str(tmp_path / "imgs")]
        for value in overrides:
            args += ["--set", value]
        return CliRunner().invoke(cli, args)

    before = sorted(p.name for p in cells.rglob("*"))
    shown = status()
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("inpainting/ista") and "not started" in lines[0]
    assert "training: iteration 4/4" in lines[1] and "another config" in lines[2]
    assert lines[-1].startswith("0 finished, 1 training, 1 not started, 1 another config")
    assert sorted(p.name for p in cells.rglob("*")) == before  # read only
    for extra in ("--resume", "--report-only"):
        refused = status(extra)
        assert refused.exit_code == 2 and extra in refused.output
    (cells / "lista" / "last.pt").write_bytes(b"not a checkpoint")
    damaged = status()
    assert damaged.exit_code == 0 and "unreadable checkpoint" in damaged.output.splitlines()[1]
    assert damaged.output.splitlines()[-1].startswith("0 finished, 0 training, 1 not started, 1 another config, "
                                                      "1 unreadable checkpoint")


def test_the_committed_full_preset_cells_match_the_current_config(tmp_path: Path) -> None:
    """The image-CS cells committed under docs/results were computed at the example config's full preset; each
    carries the fingerprint of its cell config. A change that alters a fingerprint (a new config field, a changed
    default) would turn every committed cell into "another config": this fails first, before the results go stale."""
    pytest.importorskip("skimage")
    import shutil

    from click.testing import CliRunner

    from hno_framework.cli import cli

    committed = EXAMPLES.parents[1] / "docs" / "results" / "images" / "image-cs-full"
    results = sorted(committed.rglob("result.json"))
    assert results, f"no committed cells under {committed}"
    copy = tmp_path / "cells"
    for result in results:  # <ratio>/<network>/result.json: what --report-only reads
        target = copy / result.relative_to(committed)
        target.parent.mkdir(parents=True)
        shutil.copy(result, target)
    networks = "networks=[{name: LISTA-CS, step: lista-cs, integrator: euler}, {name: 2NO-LISTA-CS, step: lista-cs, integrator: 2no}]"
    out = CliRunner().invoke(cli, ["experiment", "image-cs", str(EXAMPLES / "image-cs.yaml"), "--report-only",
                                   "--set", networks, "--set", f"output.dir={copy}"])
    assert out.exit_code == 0, out.output
    assert f"{len(results)} of " in out.output and "cells finished" in out.output


@pytest.mark.slow
@pytest.mark.parametrize("command, config", [("inpainting", "inpainting.yaml"), ("image-cs", "image-cs.yaml")])
def test_quick_presets_run(tmp_path: Path, command: str, config: str) -> None:
    pytest.importorskip("skimage")
    from click.testing import CliRunner

    from hno_framework.cli import cli

    out = tmp_path / command
    result = CliRunner().invoke(cli, ["experiment", command, str(EXAMPLES / config), "--quick", "--no-progress",
                                       "--set", f"output.dir={out}"])
    assert result.exit_code == 0, result.output
    assert (out / "results.json").is_file() and (out / "reconstructions.png").is_file()




def test_fixed_mask_evaluation_tiles_the_patch_mask() -> None:
    from hno_framework.images.sources import GrayImage
    from hno_studies.image_eval import reconstruct

    image = GrayImage("x", "test", np.arange(8 * 12, dtype=np.float64).reshape(8, 12) * 2.0)
    pixel_problem = build_problem(ProblemConfig(kind="inpainting", patch_size=4, missing_ratio=0.5, seed=3))
    kept = [int(row.argmax()) for row in pixel_problem.phi]  # rows of the identity
    expected = np.zeros((8, 12), dtype=bool)
    for r in range(0, 8, 4):
        for c in range(0, 12, 4):
            for k in kept:
                expected[r + k // 4, c + k % 4] = True
    for kind in ("inpainting", "inpainting-dct"):
        cfg = parse_config({"problem": {"kind": kind, "patch_size": 4, "missing_ratio": 0.5, "seed": 3, "lam": 0.01},
                            "network": {"step": "ista", "layers": 2}})
        rec = reconstruct(compose(cfg), image, patch=4, stride=4, missing_ratio=0.5, mask_seed=0)
        assert rec.observed is not None
        assert np.array_equal(~np.isnan(rec.observed.numpy()), expected)
        assert rec.estimate.shape == (8, 12) and float(rec.estimate.min()) >= 0.0 and float(rec.estimate.max()) <= 255.0


def test_reconstruct_at_a_depth_is_that_many_ista_iterations_on_each_tile() -> None:
    """``reconstruct(depth=d)`` on compressive sensing: the image of ``d`` plain ISTA iterations
    ``x ← η_{λ/L}(x + Φᵀ(y − Φx)/L)`` from 0 on every 4 × 4 tile (L from an eigendecomposition here), tiles put back
    by hand, clipped to [0, 255], PSNR by hand. A depth outside 1 … T is refused."""
    import torch

    from hno_framework.images.sources import GrayImage
    from hno_studies.image_eval import reconstruct

    pixels = np.random.default_rng(1).uniform(0, 255, (8, 12))
    image = GrayImage("x", "test", pixels)
    net = compose(parse_config({"problem": {"kind": "cs", "patch_size": 4, "m": 8, "lam": 0.05, "seed": 1},
                                "network": {"step": "ista", "layers": 4}}))
    phi = net.problem.phi.double()
    lipschitz = float(torch.linalg.eigvalsh(phi.T @ phi).max())
    tiles = torch.from_numpy(pixels / 255.0).reshape(2, 4, 3, 4).permute(0, 2, 1, 3).reshape(6, 16)
    y = tiles @ phi.T
    x = torch.zeros_like(tiles)
    for depth in range(1, 5):
        z = x + (y - x @ phi.T) @ phi / lipschitz  # rows: tiles
        x = torch.sign(z) * torch.clamp(z.abs() - 0.05 / lipschitz, min=0.0)
        estimate = (x.reshape(2, 3, 4, 4).permute(0, 2, 1, 3).reshape(8, 12).clamp(0.0, 1.0) * 255.0).numpy()
        expected = 10.0 * np.log10(255.0 ** 2 / np.mean((estimate - pixels) ** 2))
        rec = reconstruct(net, image, patch=4, stride=4, missing_ratio=None, mask_seed=0, depth=depth)
        assert rec.psnr_db == pytest.approx(expected, abs=1e-3)
        np.testing.assert_allclose(rec.estimate.numpy(), estimate, atol=1e-3)
    assert reconstruct(net, image, patch=4, stride=4, missing_ratio=None, mask_seed=0).psnr_db == rec.psnr_db
    for depth in (0, 5):
        with pytest.raises(ValueError, match="depth"):
            reconstruct(net, image, patch=4, stride=4, missing_ratio=None, mask_seed=0, depth=depth)


def test_the_convergence_script_reads_each_finished_cell_layer_by_layer(tmp_path: Path) -> None:
    """``studies/scripts/image_cs_convergence.py`` on a tiny image-CS run: at the last layer its PSNR is the one the
    study reported for the cell; its validation curve is the run's; the settled layer is the first within reach of
    the last; an unfinished cell (no result.json) is left out."""
    from hno_studies.image_runner import run_study
    from hno_studies.image_study import load_study

    _write_pngs(tmp_path / "imgs" / "train", 2, 7, (24, 24))
    _write_pngs(tmp_path / "imgs" / "test", 2, 8, (16, 16))
    overrides = ["problem.patch_size=4", "layers=3", "ratios=[0.5]", "training.iterations=6",
                 "training.validate_every=3", "training.validation_size=20", "training.test_size=20",
                 "evaluation.bootstrap=50", f"output.dir={tmp_path / 'run'}",
                 "networks=[{name: LISTA-CS, step: lista-cs}, {name: 2NO-LISTA-CS, step: lista-cs, integrator: 2no}]"]
    study = load_study(EXAMPLES / "image-cs.yaml", overrides, images=tmp_path / "imgs")
    run_study(study, progress=False)
    unfinished = tmp_path / "run" / "ratio-50" / "unfinished"  # a checkpoint without result.json: still training
    unfinished.mkdir()
    (unfinished / "best.pt").write_bytes((tmp_path / "run" / "ratio-50" / "lista-cs" / "best.pt").read_bytes())
    script = _script("image_cs_convergence")
    found = script.evaluate(study, tmp_path / "run", 0.1)
    assert list(found) == ["ratio-50"] and sorted(found["ratio-50"]) == ["2no-lista-cs", "lista-cs"]
    for network, row in found["ratio-50"].items():
        cell = tmp_path / "run" / "ratio-50" / network
        reported = json.loads((cell / "result.json").read_text())["psnr_db"]
        assert len(row["psnr_db"]) == 3
        assert row["psnr_db"][-1] == pytest.approx(sum(reported.values()) / len(reported), abs=1e-9)
        history = json.loads((cell / "metrics.json").read_text())["history"]
        assert row["validation"]["iteration"] == [e["iteration"] for e in history] == [3, 6]
        assert set(row["coefficients"]) == ({"alpha", "beta"} if network.startswith("2no") else {"h"})
    assert script.settled_layer([10.0, 12.0, 12.95, 12.5, 13.0], 0.1) == 5
    assert script.settled_layer([10.0, 12.0, 12.95, 13.05, 13.0], 0.1) == 3
    assert script.settled_layer([13.0], 0.1) == 1
    script.plot(found, 0.1, tmp_path / "convergence.png")
    assert (tmp_path / "convergence.png").stat().st_size > 0


def test_a_mask_of_your_own_is_what_the_network_observes() -> None:
    """``reconstruct(mask=...)``: the seeded image mask given explicitly reproduces the default; another mask is what
    ``observed`` shows; a wrong shape or a fixed-mask problem is refused. The mask-count script's tiles observe
    exactly k pixels each."""
    import torch

    from hno_framework.images.masks import image_mask
    from hno_framework.images.sources import GrayImage
    from hno_studies.image_eval import reconstruct

    image = GrayImage("x", "test", np.random.default_rng(0).uniform(0, 255, (8, 12)))
    cfg = parse_config({"problem": {"kind": "inpainting-dct", "patch_size": 4, "missing_ratio": 0.5, "mask": "per-sample",
                                    "lam": 0.01}, "network": {"step": "ista", "layers": 3}})
    net = compose(cfg)
    default = reconstruct(net, image, patch=4, stride=4, missing_ratio=0.5, mask_seed=5)
    seeded = image_mask((8, 12), 0.5, torch.Generator().manual_seed(5))
    same = reconstruct(net, image, patch=4, stride=4, missing_ratio=0.5, mask_seed=0, mask=seeded)
    assert torch.equal(same.estimate, default.estimate)
    mine = torch.zeros(8, 12, dtype=torch.bool)
    mine[:, ::3] = True
    other = reconstruct(net, image, patch=4, stride=4, missing_ratio=0.5, mask_seed=5, mask=mine)
    assert other.observed is not None and torch.equal(~torch.isnan(other.observed), mine)
    assert not torch.equal(other.estimate, default.estimate)
    with pytest.raises(ValueError, match="shape"):
        reconstruct(net, image, patch=4, stride=4, missing_ratio=0.5, mask_seed=5, mask=mine[:, :8])
    with pytest.raises(ValueError, match="bool"):
        reconstruct(net, image, patch=4, stride=4, missing_ratio=0.5, mask_seed=5, mask=mine.double())
    with pytest.raises(ValueError, match="missing_ratio"):
        reconstruct(net, image, patch=4, stride=4, missing_ratio=None, mask_seed=5, mask=mine)
    fixed = compose(parse_config({"problem": {"kind": "inpainting-dct", "patch_size": 4, "missing_ratio": 0.5,
                                              "lam": 0.01}, "network": {"step": "ista", "layers": 3}}))
    with pytest.raises(ValueError, match="per-sample"):
        reconstruct(fixed, image, patch=4, stride=4, missing_ratio=0.5, mask_seed=5, mask=mine)

    script = _script("mask_count")
    for k in (0, 5, 16):
        tiles = script.tile_mask((8, 12), 4, k, seed=k).reshape(2, 4, 3, 4).sum(dim=(1, 3))
        assert tiles.tolist() == [[k] * 3] * 2


def _script(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed_script():
    return _script("image_seeds")


def _fake_run(seed: int, base: dict[str, float], hno: dict[str, float], lr: float = 5e-4) -> dict:
    def net(psnr: dict[str, float]) -> dict:
        return {"psnr_db": psnr, "mean_psnr_db": sum(psnr.values()) / len(psnr)}

    return {"config": {"training": {"seed": seed, "lr": lr}, "output": {"dir": f"runs/s{seed}"}},
            "settings": {"inpainting": {"networks": {"LISTA": net(base), "2NO-LISTA": net(hno)}}}}


def test_image_seed_intervals_are_the_paired_t_interval_over_seeds(tmp_path: Path) -> None:
    script = _seed_script()
    gaps = [0.1, 0.3, 0.2]  # per seed, mean over the two images of HNO − base
    runs = [_fake_run(s, {"a": 20.0 + s, "b": 30.0}, {"a": 20.0 + s + g + 0.05, "b": 30.0 + g - 0.05})
            for s, g in enumerate(gaps)]
    paths = []
    for s, run in enumerate(runs):
        paths.append(tmp_path / f"r{s}.json")
        paths[-1].write_text(json.dumps(run))
    summary = script.summarise(script.load_runs(paths), [("LISTA", "2NO-LISTA")])
    pair = summary["settings"]["inpainting"]["pairs"]["2NO-LISTA − LISTA"]
    assert pair["per_seed_db"] == pytest.approx(gaps)
    sd = (sum((g - 0.2) ** 2 for g in gaps) / 2) ** 0.5  # 0.1
    half = 4.302653 * sd / 3 ** 0.5  # t_{0.975, 2}
    assert pair["interval"]["low_db"] == pytest.approx(0.2 - half, abs=1e-4)
    assert pair["interval"]["high_db"] == pytest.approx(0.2 + half, abs=1e-4)
    assert summary["settings"]["inpainting"]["networks"]["LISTA"]["per_seed_db"] == pytest.approx([25.0, 25.5, 26.0])


def test_image_seed_intervals_refuse_runs_of_another_config(tmp_path: Path) -> None:
    script = _seed_script()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_fake_run(0, {"x": 1.0}, {"x": 2.0})))
    b.write_text(json.dumps(_fake_run(1, {"x": 1.0}, {"x": 2.0}, lr=1e-3)))
    with pytest.raises(SystemExit, match="not the same study"):
        script.load_runs([a, b])
    b.write_text(json.dumps(_fake_run(0, {"x": 1.0}, {"x": 2.0})))
    with pytest.raises(SystemExit, match="share a training seed"):
        script.load_runs([a, b])
    partial = _fake_run(1, {"x": 1.0}, {"x": 2.0})
    del partial["settings"]["inpainting"]["networks"]["2NO-LISTA"]
    b.write_text(json.dumps(partial))
    with pytest.raises(SystemExit, match="training seed 1 has no result for 2NO-LISTA at inpainting"):
        script.summarise(script.load_runs([a, b]), [("LISTA", "2NO-LISTA")])
