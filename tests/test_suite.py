"""The full-scale suite: its plan fits the budget, each experiment's full configuration runs on a CPU
slice through the same code path as on CUDA, and the runner of the suite keeps to its budget."""
from __future__ import annotations

import json
import math
import sys
import tarfile

import pytest

from sgdlab import provenance
from sgdlab.experiments import _cost, registry, suite

NAMES = [n for n, _ in suite.ORDER]
#: Keys that define the model and the arithmetic: a slice must keep them as in the full configuration.
ARCH = ("width", "widths", "channels", "hidden", "cnn_channels", "cnn_hidden", "blocks", "dtype", "model",
        "optimizer", "momentum")


def test_the_suite_covers_every_full_scale_experiment():
    assert set(NAMES) == set(registry.names()) - {"demo_mlp_digits"}


def test_the_planned_suite_fits_eight_minutes_on_one_h100():
    rows = suite.plan("full", "cuda")
    total = sum(r["estimate_s"] for r in rows)
    assert total <= 8 * 60, suite.format_plan(rows, "cuda")
    for r in rows:
        assert r["work"]["flops"] > 0 and r["work"]["seq_steps"] > 0 and r["estimate_s"] > 0, r["name"]


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    rec = suite.run_suite(device="cuda", budget_s=480, data_dir=tmp_path, dry_run=True)
    out = capsys.readouterr().out
    assert "total" in out and all(n in out for n in NAMES)
    assert not any(tmp_path.iterdir()) and "wall_s" not in rec


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True, "480"])
def test_a_bad_budget_is_a_value_error(bad):
    with pytest.raises(ValueError, match="budget_s"):
        suite.run_suite(budget_s=bad, dry_run=True, log=lambda *a: None)


def test_an_unknown_experiment_is_a_value_error():
    with pytest.raises(ValueError, match="names"):
        suite.plan(names=["nope"])


def _slice_points(name, cfg):
    pts = registry.get(name).grid(cfg)
    if name == "p1_network_theory":  # one point of each part: kernel, theory, network, linearised
        seen, out = set(), []
        for p in pts:
            if p["part"] not in seen:
                seen.add(p["part"])
                out.append(p)
        return out
    return pts[:1]


@pytest.mark.parametrize("name", NAMES)
def test_the_full_configuration_runs_on_a_cpu_slice(name):
    """Same model, dtype and code path as the GPU run (device-agnostic tensors), a few steps on a few images."""
    exp = registry.get(name)
    full = exp.config("full")
    cfg = suite.module_of(name).tiny(full)
    for k in ARCH:
        if k in full:
            assert cfg[k] == full[k], f"{name}: the slice changed {k}"
    for p in _slice_points(name, cfg):
        res = exp.run_point(p, cfg, "cpu")
        assert isinstance(res, dict) and res, (name, p)
        provenance.to_json({k: v for k, v in res.items() if k != "_arrays"})  # JSON-able, as the runner stores it


def test_an_experiment_that_would_overrun_is_skipped(tmp_path):
    rec = suite.run_suite(scale="full", device="cuda", budget_s=suite.MARGIN_S + 1.0, data_dir=tmp_path,
                          names=["p1_maps"], log=lambda *a: None)
    r = rec["experiments"][0]
    assert r["status"].startswith("skipped") and r["wall_s"] == 0
    assert json.loads((tmp_path / "SUITE.json").read_text())["experiments"][0]["status"].startswith("skipped")


def test_a_process_past_its_time_is_stopped():
    res = suite.run_process([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1.0)
    assert res["status"].startswith("stopped") and res["wall_s"] < 30


def test_a_failing_process_is_reported():
    assert suite.run_process([sys.executable, "-c", "raise SystemExit(3)"], timeout=30)["status"] == "failed (exit 3)"


def test_pack_holds_manifest_suite_record_and_results(tmp_path):
    (tmp_path / "p1_maps" / "full").mkdir(parents=True)
    (tmp_path / "p1_maps" / "full" / "results.json").write_text("{}")
    (tmp_path / "MANIFEST.json").write_text("{}")
    (tmp_path / "SUITE.json").write_text("{}")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "big.gz").write_text("x")
    out = suite.pack_results(tmp_path, tmp_path / "out" / "suite.tar.gz", ["p1_maps"])
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"MANIFEST.json", "SUITE.json", "p1_maps/full/results.json"} <= names
    assert not any(n.startswith("raw") for n in names)


def test_the_cost_model_is_monotone_and_validates():
    w = _cost.Work(points=1, runs=1, seq_steps=100, flops=1e12, step_s=1e-3)
    w2 = _cost.Work(points=1, runs=1, seq_steps=200, flops=2e12, step_s=1e-3)
    assert _cost.seconds(w2, "cuda") > _cost.seconds(w, "cuda") > 0
    assert _cost.seconds(w, "cpu") > _cost.seconds(w, "cuda")
    with pytest.raises(ValueError, match="precision"):
        _cost.Work(points=1, runs=1, seq_steps=1, flops=1.0, step_s=0.0, precision="fp8")
    assert math.isclose(_cost.resnet_macs([1], [4], side=2), 9 * 4 * 4 + 2 * 9 * 16 * 4)


def test_a_chapter_without_full_scale_data_shows_one_admonition(tmp_path):
    note = suite.full_scale_note("p3_noise_vs_lr", data_dir=tmp_path)
    md = note._repr_markdown_()
    assert not note.any and note.data == {"p3_noise_vs_lr": None}
    assert md.startswith(":::{admonition} Not yet run at full scale") and "suite --scale full --device cuda" in md
    assert "p3_noise_vs_lr" in md and "H100" in md


def test_a_stale_full_scale_result_is_shown_as_stale(tmp_path):
    d = tmp_path / "p1_maps" / "full"
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"points": [], "summary": {}}))
    entry = {"inputs": {}, "outputs": {}, "inputs_sha256": "0" * 64, "device": {"gpu": "NVIDIA H100"},
             "date": "2026-12-01T00:00:00+00:00", "commit": "abcdef1234567", "wall_time_s": 12.0,
             "config": {}, "versions": {}}
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"p1_maps/full": entry}))
    note = suite.full_scale_note("p1_maps", data_dir=tmp_path)
    assert note.any and note.data["p1_maps"]["fresh"] is False
    assert "stale" in note._repr_markdown_() and "decides nothing" in note._repr_markdown_()


def test_an_unknown_experiment_in_a_note_is_a_value_error():
    with pytest.raises(ValueError, match="names"):
        suite.full_scale_note("nope")
