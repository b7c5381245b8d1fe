"""The experiment registry, the runner (resume, shards, atomic files, manifest) and the CLI."""
import json
import os

import pytest

from sgdlab import provenance
from sgdlab.experiments import Experiment, is_fresh, load_results, register, run
from sgdlab.experiments import __main__ as cli
from sgdlab.experiments import registry

CALLS = []


def _grid(cfg):
    return [{"a": a, "b": b} for a in cfg["as"] for b in (0, 1)]


def _run_point(point, cfg, device):
    CALLS.append(dict(point))
    if cfg.get("fail_at") == point:
        raise RuntimeError("simulated crash")
    return {"value": point["a"] * 10 + point["b"] + cfg["offset"], "_arrays": {"x": [point["a"], point["b"]]}}


def _summ(cfg, pairs):
    return {"sum": sum(r["value"] for _, r in pairs)}


@pytest.fixture
def toy():
    exp = register(Experiment(
        name="toy_sweep", description="toy", grid=_grid, run_point=_run_point, summarize=_summ,
        configs={"book": {"as": [1, 2, 3], "offset": 0}, "full": {"as": [1, 2, 3, 4], "offset": 100}},
        inputs=["lib/sgdlab/experiments/_runner.py"],
    ), replace=True)
    CALLS.clear()
    yield exp
    registry.unregister("toy_sweep")


def _quiet(*a, **k):
    pass


def test_run_writes_points_results_and_a_fresh_manifest_entry(toy, tmp_path):
    data = tmp_path / "data"
    out = run("toy_sweep", scale="book", data_dir=data, progress=False, log=_quiet)
    assert out == {"computed": 6, "skipped": 0, "total": 6, "complete": True, "results": str(data / "toy_sweep/book/results.json")}
    res = load_results("toy_sweep", "book", data)
    assert res["summary"] == {"sum": 10 + 11 + 20 + 21 + 30 + 31}
    assert sorted(p["point"]["a"] * 10 + p["point"]["b"] for p in res["points"]) == [10, 11, 20, 21, 30, 31]
    entry = provenance.read_manifest(data / "MANIFEST.json")["toy_sweep/book"]
    assert "tests/test_experiments.py" in entry["inputs"] and entry["n_points"] == 6 and entry["scale"] == "book"
    assert all(k.startswith("data/toy_sweep/book/") for k in entry["outputs"]) and len(entry["outputs"]) == 13
    assert is_fresh("toy_sweep", "book", data) == (True, "")
    # an output edited by hand makes the entry stale
    f = data / "toy_sweep/book/results.json"
    f.write_text(f.read_text().replace('"sum"', '"sum "'))
    assert not is_fresh("toy_sweep", "book", data)[0]
    assert not [p for p in data.rglob("*.tmp")]


def test_finished_points_are_never_recomputed(toy, tmp_path):
    run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    CALLS.clear()
    out = run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    assert CALLS == [] and out["skipped"] == 6 and out["complete"]
    run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet, force=True)
    assert len(CALLS) == 6


def test_an_interrupted_sweep_resumes_without_losing_or_duplicating_points(toy, tmp_path):
    object.__setattr__(toy, "configs", {**toy.configs, "book": {**toy.configs["book"], "fail_at": {"a": 2, "b": 1}}})
    with pytest.raises(RuntimeError, match="simulated crash"):
        run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    pdir = tmp_path / "toy_sweep/book/points"
    assert len(list(pdir.glob("*.json"))) == 3 and not list(pdir.glob(".*"))  # 3 done, nothing half-written
    assert not (tmp_path / "toy_sweep/book/results.json").exists()
    object.__setattr__(toy, "configs", {**toy.configs, "book": {**toy.configs["book"], "fail_at": None}})
    CALLS.clear()
    # the config changed (fail_at), so the inputs hash changed: everything is recomputed once, old points removed
    run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    assert len(CALLS) == 6 and len(list(pdir.glob("*.json"))) == 6


def test_interruption_with_unchanged_config_recomputes_only_missing_points(toy, tmp_path, monkeypatch):
    calls_before_crash = []

    def crashing(point, cfg, device):
        if point == {"a": 3, "b": 0}:
            raise KeyboardInterrupt
        calls_before_crash.append(point)
        return _run_point(point, cfg, device)

    monkeypatch.setattr(toy, "run_point", crashing) if False else object.__setattr__(toy, "run_point", crashing)
    with pytest.raises(KeyboardInterrupt):
        run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    object.__setattr__(toy, "run_point", _run_point)
    CALLS.clear()
    out = run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    assert out["computed"] == 2 and CALLS == [{"a": 3, "b": 0}, {"a": 3, "b": 1}]
    res = load_results("toy_sweep", "book", tmp_path)
    assert len(res["points"]) == 6 and len({json.dumps(p["point"]) for p in res["points"]}) == 6


def test_a_failed_write_leaves_no_half_written_point(toy, tmp_path, monkeypatch):
    real = os.replace
    n = {"i": 0}

    def flaky(a, b):
        n["i"] += 1
        if n["i"] == 4:  # the 2nd point's JSON (1st point: npz + json; 2nd: npz, then json fails)
            raise OSError("disk full")
        return real(a, b)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        run("toy_sweep", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    pdir = tmp_path / "toy_sweep/book/points"
    assert len(list(pdir.glob("*.json"))) == 1 and not list(pdir.glob(".*tmp"))


def test_shards_split_the_sweep_and_the_last_one_assembles(toy, tmp_path):
    a = run("toy_sweep", scale="full", shard="0/3", data_dir=tmp_path, progress=False, log=_quiet)
    b = run("toy_sweep", scale="full", shard="1/3", data_dir=tmp_path, progress=False, log=_quiet)
    assert not a["complete"] and not b["complete"] and a["computed"] + b["computed"] == 6
    c = run("toy_sweep", scale="full", shard="2/3", data_dir=tmp_path, progress=False, log=_quiet)
    assert c["complete"] and len(CALLS) == 8 and len({json.dumps(p, sort_keys=True) for p in CALLS}) == 8
    assert load_results("toy_sweep", "full", tmp_path)["summary"]["sum"] == sum(10 * a + b + 100 for a in range(1, 5) for b in (0, 1))


def test_data_dir_from_the_environment(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("SGDLAB_DATA_OUT", str(tmp_path / "env"))
    run("toy_sweep", scale="book", progress=False, log=_quiet)
    assert (tmp_path / "env/MANIFEST.json").is_file()


@pytest.mark.parametrize("kw,name", [({"name": "no_such_experiment"}, "name"), ({"shard": "3/3"}, "shard"),
                                     ({"shard": "x"}, "shard"), ({"scale": "huge"}, "scale"),
                                     ({"device": "tpu"}, "device")])
def test_bad_input_names_the_parameter(toy, tmp_path, kw, name):
    kw = {"name": "toy_sweep", **kw}
    with pytest.raises(ValueError, match=name):
        run(kw.pop("name"), data_dir=tmp_path, progress=False, log=_quiet, **kw)


def test_registry_validation(toy):
    with pytest.raises(ValueError, match="name"):
        Experiment(name="Bad Name", description="", configs={"book": {}, "full": {}}, grid=_grid, run_point=_run_point)
    with pytest.raises(ValueError, match="full"):
        Experiment(name="x", description="", configs={"book": {}}, grid=_grid, run_point=_run_point)
    with pytest.raises(ValueError, match="already registered"):
        register(Experiment(name="demo_mlp_digits", description="", configs={"book": {}, "full": {}}, grid=_grid,
                            run_point=_run_point))


def test_cli_list_and_run(toy, tmp_path, capsys):
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "demo_mlp_digits" in listed and "toy_sweep" in listed
    assert cli.main(["run", "no_such_experiment", "--data-dir", str(tmp_path)]) == 2
    assert "name='no_such_experiment'" in capsys.readouterr().err
    assert cli.main(["run", "toy_sweep", "--scale", "book", "--data-dir", str(tmp_path), "--no-progress"]) == 0
    assert "complete" in capsys.readouterr().out


def test_demo_experiment_runs_at_book_scale(tmp_path):
    out = run("demo_mlp_digits", scale="book", data_dir=tmp_path, progress=False, log=_quiet)
    assert out["complete"]
    summ = load_results("demo_mlp_digits", "book", tmp_path)["summary"]["final_test_accuracy"]
    assert [s["lr"] for s in summ] == [0.03, 0.1, 0.3]
    assert all(s["test_acc_mean"] > 0.8 and s["n_diverged"] == 0 for s in summ)
    assert is_fresh("demo_mlp_digits", "book", tmp_path)[0]
