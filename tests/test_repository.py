"""One place names the repository (``_config.yml``); the Colab install cell; chapters independent of
their working directory."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("sync_repository", ROOT / "tools" / "sync_repository.py")
sync_repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_repository)


def test_every_place_agrees_with_the_config():
    assert sync_repository.sync(write=False) == [], "run `python tools/sync_repository.py`"


def test_launch_buttons_and_thebe_read_the_config():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["launch_buttons"]["thebe"] is True
    assert cfg["launch_buttons"]["binderhub_url"] and cfg["launch_buttons"]["colab_url"]


def test_a_fork_changes_one_line(tmp_path):
    (tmp_path / "book" / "part").mkdir(parents=True)
    for rel in ("_config.yml", "README.md", "book/intro.md"):
        shutil.copy(ROOT / rel, tmp_path / rel)
    shutil.copy(ROOT / "book" / "notation.ipynb", tmp_path / "book" / "part" / "01_x.ipynb")
    cfg = (tmp_path / "_config.yml").read_text()
    url, branch, _, _ = sync_repository.repository()
    (tmp_path / "_config.yml").write_text(cfg.replace(url, "https://github.com/someone/my-fork"))
    changed = sync_repository.sync(tmp_path)
    assert set(changed) == {"README.md", "book/intro.md", "book/part/01_x.ipynb"}
    assert "someone/my-fork" in (tmp_path / "README.md").read_text()
    assert "someone.github.io/my-fork" in (tmp_path / "book" / "intro.md").read_text()
    first = json.loads((tmp_path / "book" / "part" / "01_x.ipynb").read_text())["cells"][0]
    assert "https://github.com/someone/my-fork" in "".join(first["source"])
    assert sync_repository.sync(tmp_path) == []


def test_every_chapter_starts_with_the_install_cell():
    src = sync_repository.install_cell_source(*sync_repository.repository()[:2])
    for nb in sync_repository.chapters():
        if nb.name in ("reproducibility.ipynb", "status.ipynb"):
            continue
        first = json.loads(nb.read_text())["cells"][0]
        assert first.get("id") == sync_repository.INSTALL_CELL_ID and "".join(first["source"]) == src, nb


def test_the_install_cell_is_a_no_op_where_sgdlab_is_installed(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the install cell ran a command although sgdlab is importable")

    monkeypatch.setattr(subprocess, "check_call", refuse)
    exec(sync_repository.install_cell_source("https://github.com/x/y", "main"), {})


def test_the_install_cell_installs_sgdlab_in_a_fresh_environment(tmp_path):
    """A fresh virtual environment without sgdlab runs the cell against the local checkout (offline:
    SGDLAB_REPO names the checkout instead of the repository URL; PIP_NO_DEPS skips the heavy
    dependencies, which Colab has) and then imports the checkout's library."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    cell = sync_repository.install_cell_source(*sync_repository.repository()[:2])
    code = cell + "\nimport sgdlab\nprint(sgdlab.__file__)\n"
    env = {**os.environ, "SGDLAB_REPO": str(ROOT), "PIP_NO_DEPS": "1", "PYTHONPATH": ""}
    before = subprocess.run([str(py), "-c", "import sgdlab"], capture_output=True, env=env, timeout=60)
    assert before.returncode != 0, "the fresh environment already has sgdlab"
    res = subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert Path(res.stdout.strip().splitlines()[-1]).resolve().is_relative_to(ROOT / "lib")


def test_nbval_kernels_start_in_the_repository_root():
    """With the book build (each chapter in its own folder) every chapter runs in both folders."""
    from nbval import kernel

    assert getattr(kernel.RunningKernel.__init__, "_sgdlab_root_cwd", False)
