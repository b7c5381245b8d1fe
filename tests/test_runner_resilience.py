"""The runner neither loses nor fakes results: kills at every stage, edited files, locks, Ctrl-C.

A tiny experiment registered here (6 points, arrays in an NPZ) stands in for a real one. "Killed"
runs are simulated in-process by raising at a stage hook of the runner, and for real by a
subprocess that SIGKILLs itself there (no ``finally`` runs: locks and temporaries stay behind).
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sgdlab import provenance
from sgdlab.experiments import _runner, is_fresh, load_results, registry, run
from sgdlab.experiments.registry import Experiment, register

NAME = "toy_resilience"
CALLS: list[dict] = []
_CALLS_LOCK = threading.Lock()


def _grid(cfg):
    return [{"a": a, "b": b} for a in (1, 2, 3) for b in (0, 1)]


def _run_point(point, cfg, device):
    with _CALLS_LOCK:
        CALLS.append(dict(point))
    if os.environ.get("TOY_CALLS_FILE"):
        with open(os.environ["TOY_CALLS_FILE"], "a") as fh:
            fh.write(json.dumps(point) + "\n")
    if cfg.get("sleep"):
        time.sleep(cfg["sleep"])
    if os.environ.get("TOY_SIGINT_AT") == json.dumps(point, sort_keys=True):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal arrives first
    return {"value": point["a"] * 10 + point["b"] + cfg["offset"],
            "_arrays": {"x": [point["a"], point["b"], cfg["offset"]]}}


def _summ(cfg, pairs):
    return {"sum": sum(r["value"] for _, r in pairs)}


def register_toy(offset: int = 0, sleep: float = 0.0) -> Experiment:
    """(Re-)register the toy experiment with the ``book`` config ``offset``/``sleep``."""
    return register(Experiment(
        name=NAME, description="toy", grid=_grid, run_point=_run_point, summarize=_summ,
        configs={"book": {"offset": offset, "sleep": sleep}, "full": {"offset": 100, "sleep": 0.0}},
    ), replace=True)


@pytest.fixture
def toy():
    exp = register_toy()
    CALLS.clear()
    yield exp
    registry.unregister(NAME)


def _quiet(*a, **k):
    pass


def _run(data, log=_quiet, **kw):
    return run(NAME, scale="book", data_dir=data, device="cpu", progress=False, log=log, **kw)


def _snapshot(data: Path) -> dict:
    """What must not depend on interruptions: results.json's bytes, the point files, the manifest outputs."""
    pdir = data / NAME / "book" / "points"
    entry = provenance.read_manifest(data / "MANIFEST.json")[f"{NAME}/book"]
    return {"results": (data / NAME / "book" / "results.json").read_bytes(),
            "files": sorted(f.name for f in pdir.iterdir()),
            "outputs": sorted(o.split("/", 1)[1] for o in entry["outputs"]), "n_points": entry["n_points"]}


class Kill(BaseException):
    """A simulated kill: not an ``Exception``, so nothing in the runner catches it."""


def _kill_at(monkeypatch, stage: str, nth: int = 1):
    seen = {"n": 0}

    def hook(s, **info):
        if s == stage:
            seen["n"] += 1
            if seen["n"] == nth:
                raise Kill(stage)

    monkeypatch.setattr(_runner, "_hook", hook)


_REFERENCE: dict = {}


def _reference(tmp_path_factory):
    """The snapshot of an uninterrupted run at offset 0, then at offset 1 (computed once)."""
    if not _REFERENCE:
        ref = tmp_path_factory.mktemp("ref")
        register_toy(offset=0)
        _run(ref)
        register_toy(offset=1)
        _run(ref)
        _REFERENCE.update(_snapshot(ref))
    return dict(_REFERENCE)


@pytest.mark.parametrize("stage,nth", [
    ("point_computed", 2), ("npz_written", 3), ("json_written", 4),
    ("results_written", 1), ("manifest_written", 1), ("stale_removed", 1), ("stale_removed", 7),
])
def test_a_kill_at_any_stage_then_a_rerun_gives_the_uninterrupted_results(toy, tmp_path, tmp_path_factory,
                                                                          monkeypatch, stage, nth):
    ref = _reference(tmp_path_factory)
    data = tmp_path / "data"
    register_toy(offset=0)
    _run(data)  # old results: their 12 point files become stale when the config changes
    register_toy(offset=1)
    _kill_at(monkeypatch, stage, nth)
    CALLS.clear()
    with pytest.raises(Kill):
        _run(data)
    monkeypatch.setattr(_runner, "_hook", lambda s, **i: None)
    out = _run(data)
    assert out["complete"] and is_fresh(NAME, "book", data) == (True, "")
    assert _snapshot(data) == ref
    # nothing is computed twice except a point killed before its JSON was written
    lost = 1 if stage in ("point_computed", "npz_written") else 0
    assert len(CALLS) == 6 + lost
    res = load_results(NAME, "book", data)
    assert [p["result"]["value"] for p in res["points"]] == [11, 12, 21, 22, 31, 32]


_KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    import test_runner_resilience as t
    from sgdlab.experiments import _runner
    t.register_toy(offset=int(sys.argv[4]))
    stage, nth, seen = sys.argv[3], int(sys.argv[5]), [0]
    def hook(s, **info):
        if s == stage:
            seen[0] += 1
            if seen[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
    _runner._hook = hook
    _runner.run(t.NAME, scale="book", data_dir=sys.argv[2], device="cpu", progress=False, log=lambda *a: None)
""")


def _subprocess_run(data: Path, *, stage="none", offset=0, nth=1, env=None, timeout=120):
    script = data.parent / "kill_run.py"
    script.write_text(_KILL_SCRIPT)
    return subprocess.run([sys.executable, str(script), str(Path(__file__).parent), str(data), stage, str(offset),
                           str(nth)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_sigkill_while_a_point_is_written_leaves_a_stale_lock_that_a_rerun_takes_over(toy, tmp_path,
                                                                                    tmp_path_factory):
    ref_dir = tmp_path_factory.mktemp("ref")
    _run(ref_dir)
    data = tmp_path / "data"
    calls = tmp_path / "calls.jsonl"
    proc = _subprocess_run(data, stage="npz_written", nth=2, env={"TOY_CALLS_FILE": str(calls)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pdir = data / NAME / "book" / "points"
    locks = list(pdir.glob(".*.lock"))
    assert len(locks) == 1 and json.loads(locks[0].read_text())["pid"] > 0  # the dead run's lock
    assert len(list(pdir.glob("*.json"))) == 1 and len(list(pdir.glob("*.npz"))) == 2  # an NPZ without JSON
    CALLS.clear()
    lines = []
    out = _run(data, log=lines.append)
    assert out["complete"] and out["computed"] == 5 and len(CALLS) == 5
    assert any("stale lock" in line for line in lines)
    assert not list(pdir.glob(".*"))  # no lock, no temporary left
    assert (data / NAME / "book" / "results.json").read_bytes() == (ref_dir / NAME / "book" / "results.json").read_bytes()


def test_sigkill_during_stale_cleanup_is_finished_by_the_next_run(toy, tmp_path, tmp_path_factory):
    ref = _reference(tmp_path_factory)
    data = tmp_path / "data"
    register_toy(offset=0)
    _run(data)
    proc = _subprocess_run(data, stage="stale_removed", offset=1, nth=3)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pdir = data / NAME / "book" / "points"
    assert len(list(pdir.glob("*.json"))) + len(list(pdir.glob("*.npz"))) == 24 - 3
    register_toy(offset=1)
    CALLS.clear()
    out = _run(data)
    assert out["complete"] and out["computed"] == 0 and CALLS == []
    assert _snapshot(data) == ref and is_fresh(NAME, "book", data)[0]


# ----------------------------------------------------------------------------- edited files
def _point_file(data: Path, point: dict, suffix=".json") -> Path:
    exp = registry.get(NAME)
    in_hash = _runner.inputs_hash(exp, "book")[0]
    return data / NAME / "book" / "points" / (_runner.point_key(point, in_hash) + suffix)


@pytest.mark.parametrize("damage,says", [
    (lambda f: f.write_text(f.read_text().replace('"value": 21', '"value": 99')), "recorded SHA-256"),
    (lambda f: f.write_text(f.read_text()[:40]), "truncated"),
    (lambda f: f.write_text("{}"), "lacks"),
    (lambda f: f.write_text("[1, 2]"), "not a JSON object"),
    (lambda f: f.with_suffix(".npz").unlink(), "missing"),
    (lambda f: f.with_suffix(".npz").write_bytes(b"PK garbage"), "npz, which does not match"),
])
def test_an_edited_or_truncated_point_file_is_recomputed_and_says_so(toy, tmp_path, damage, says):
    _run(tmp_path)
    expected = (tmp_path / NAME / "book" / "results.json").read_bytes()
    f = _point_file(tmp_path, {"a": 2, "b": 1})
    damage(f)
    assert not is_fresh(NAME, "book", tmp_path)[0]
    CALLS.clear()
    lines = []
    out = _run(tmp_path, log=lines.append)
    assert CALLS == [{"a": 2, "b": 1}] and out["computed"] == 1 and out["complete"]
    assert any(str(f) in line and says in line and "recomputing" in line for line in lines), lines
    assert (tmp_path / NAME / "book" / "results.json").read_bytes() == expected  # 21, not 99
    assert is_fresh(NAME, "book", tmp_path) == (True, "")


def test_an_edited_results_file_is_reassembled_from_the_points(toy, tmp_path):
    _run(tmp_path)
    res = tmp_path / NAME / "book" / "results.json"
    expected = res.read_bytes()
    res.write_text(res.read_text().replace('"value": 21', '"value": 99'))
    CALLS.clear()
    lines = []
    _run(tmp_path, log=lines.append)
    assert CALLS == [] and res.read_bytes() == expected
    assert any("reassembling" in line and "does not match" in line for line in lines), lines


@pytest.mark.parametrize("text,says", [
    ("[]", "JSON object"),
    ('{"toy_resilience/book": {"inputs": {}}}', "lacks the key 'outputs'"),
    ('{"toy_resilience/book": {"inputs": {}, "outputs"', "not valid JSON"),
])
def test_a_malformed_manifest_is_an_error_naming_the_file(toy, tmp_path, text, says):
    _run(tmp_path)
    m = tmp_path / "MANIFEST.json"
    m.write_text(text)
    for call in (lambda: _run(tmp_path), lambda: is_fresh(NAME, "book", tmp_path)):
        with pytest.raises(ValueError, match=says) as exc:
            call()
        assert str(m) in str(exc.value)
    assert m.read_text() == text  # left for a person to look at, not overwritten


def test_a_malformed_results_file_is_an_error_naming_the_file(toy, tmp_path):
    _run(tmp_path)
    res = tmp_path / NAME / "book" / "results.json"
    res.write_text('{"points": ')
    with pytest.raises(ValueError, match="not valid JSON") as exc:
        load_results(NAME, "book", tmp_path)
    assert str(res) in str(exc.value)


# ----------------------------------------------------------------------------- concurrency
def test_two_concurrent_runs_compute_each_point_once(tmp_path):
    register_toy(sleep=0.05)
    CALLS.clear()
    outs = []
    try:
        threads = [threading.Thread(target=lambda: outs.append(_run(tmp_path))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        registry.unregister(NAME)
    assert len(outs) == 2
    assert sorted(json.dumps(c, sort_keys=True) for c in CALLS) == sorted(json.dumps(p, sort_keys=True) for p in _grid({}))
    assert sum(o["computed"] for o in outs) == 6 and any(o["complete"] for o in outs)
    register_toy(sleep=0.05)
    try:
        assert len(load_results(NAME, "book", tmp_path)["points"]) == 6 and is_fresh(NAME, "book", tmp_path)[0]
    finally:
        registry.unregister(NAME)


def test_a_live_lock_is_respected_and_a_dead_one_taken_over(toy, tmp_path):
    lock = _point_file(tmp_path, {"a": 1, "b": 0}, ".lock")
    lock = lock.with_name("." + lock.name)
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getpid(), "host": __import__("socket").gethostname(), "token": "other"}))
    lines = []
    out = _run(tmp_path, log=lines.append)
    assert out["computed"] == 5 and not out["complete"] and {"a": 1, "b": 0} not in CALLS
    assert any("being computed by another run" in line for line in lines)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "host": __import__("socket").gethostname(), "token": "other"}))
    CALLS.clear()
    out = _run(tmp_path)
    assert CALLS == [{"a": 1, "b": 0}] and out["complete"] and not lock.exists()


# ----------------------------------------------------------------------------- Ctrl-C, file modes
def test_ctrl_c_prints_one_line_exits_130_and_keeps_finished_points(toy, tmp_path, monkeypatch):
    def interrupted(point, cfg, device):
        if point == {"a": 2, "b": 1}:
            raise KeyboardInterrupt
        return _run_point(point, cfg, device)

    object.__setattr__(toy, "run_point", interrupted)
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        with _runner.exit_on_interrupt(stream=err):
            _run(tmp_path)
    assert exc.value.code == 130
    msg = err.getvalue()
    assert msg.count("\n") == 1 and "interrupted" in msg and "3 newly computed" in msg and "Traceback" not in msg
    pdir = tmp_path / NAME / "book" / "points"
    assert len(list(pdir.glob("*.json"))) == 3 and not list(pdir.glob(".*"))
    object.__setattr__(toy, "run_point", _run_point)
    CALLS.clear()
    assert _run(tmp_path)["computed"] == 3 and len(CALLS) == 3


def test_a_real_sigint_exits_130_with_one_line(toy, tmp_path):
    script = tmp_path / "sigint_run.py"
    script.write_text(textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import test_runner_resilience as t
        from sgdlab.experiments import _runner
        t.register_toy()
        with _runner.exit_on_interrupt():
            _runner.run(t.NAME, scale="book", data_dir=sys.argv[2], device="cpu", progress=False, log=lambda *a: None)
    """))
    env = {**os.environ, "TOY_SIGINT_AT": json.dumps({"a": 2, "b": 0}, sort_keys=True)}
    proc = subprocess.run([sys.executable, str(script), str(Path(__file__).parent), str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "interrupted" in proc.stderr and "Traceback" not in proc.stderr
    pdir = tmp_path / "data" / NAME / "book" / "points"
    assert len(list(pdir.glob("*.json"))) == 2 and not list(pdir.glob(".*"))


def test_result_files_get_the_mode_of_the_umask(toy, tmp_path):
    old = os.umask(0o022)
    try:
        _run(tmp_path)
    finally:
        os.umask(old)
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert files and all(f.stat().st_mode & 0o777 == 0o644 for f in files), \
        {f.name: oct(f.stat().st_mode & 0o777) for f in files}
