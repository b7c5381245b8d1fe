"""Propagate the repository URL and branch from ``_config.yml`` to every place that needs them.

``_config.yml`` (``repository: url, branch``) is the one place that names the repository: Jupyter
Book's launch buttons (Binder, Colab, Thebe) read it directly. This script writes it into what cannot
read it at run time:

- the badges of ``README.md`` and ``book/intro.md`` (between ``<!-- repository-badges -->`` markers);
- the first cell of every chapter, which installs ``sgdlab`` where it is missing (Colab): it clones the
  repository at that branch and installs it editable, and is a no-op wherever ``sgdlab`` is importable
  (the book build, CI, Binder).

A fork changes the two lines in ``_config.yml`` and runs ``python tools/sync_repository.py``;
``--check`` (run by the tests) exits 1, naming the files, if anything is out of date.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
INSTALL_CELL_ID = "install-sgdlab"
BEGIN, END = "<!-- repository-badges -->", "<!-- /repository-badges -->"


def repository(root: Path = ROOT) -> tuple[str, str, str, str]:
    """``(url, branch, owner, name)`` from ``_config.yml``.

    Raises
    ------
    ValueError
        If the config has no GitHub ``repository.url`` or no ``branch``.
    """
    cfg = yaml.safe_load((root / "_config.yml").read_text())
    repo = cfg.get("repository") or {}
    url, branch = str(repo.get("url", "")).rstrip("/"), repo.get("branch")
    m = re.match(r"^https://github\.com/([^/]+)/([^/]+)$", url)
    if not m or not branch:
        raise ValueError("_config.yml: repository.url must be https://github.com/OWNER/NAME and repository.branch set")
    return url, str(branch), m.group(1), m.group(2)


def install_cell_source(url: str, branch: str) -> str:
    """The first cell of every chapter."""
    return f'''# Colab and other fresh kernels: install the book's library when it is missing (a no-op in the
# book build, in CI and in Binder). SGDLAB_REPO may name a local checkout instead of the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("sgdlab") is None:
    _repo = os.environ.get("SGDLAB_REPO", "{url}")
    _dir = _repo if os.path.isdir(_repo) else os.path.expanduser("~/{url.rsplit('/', 1)[1]}")
    if not os.path.isdir(_dir):
        subprocess.check_call(["git", "clone", "-q", "--depth", "1", "--branch", "{branch}", _repo, _dir])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e", _dir])
    sys.path.insert(0, os.path.join(_dir, "lib"))
    importlib.invalidate_caches()'''


def badges(url: str, branch: str, owner: str, name: str) -> str:
    """The badge line: Binder, Colab-ready book site, CI."""
    pages = f"https://{owner.lower()}.github.io/{name}/"
    return (
        f"[![Book](https://img.shields.io/badge/book-online-1b7837)]({pages}) "
        f"[![CI]({url}/actions/workflows/ci.yml/badge.svg?branch={branch})]({url}/actions/workflows/ci.yml) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/{owner}/{name}/{branch}"
        f"?urlpath=lab/tree/book/notation.ipynb)"
    )


def chapters(book: Path = BOOK) -> list[Path]:
    """Every executed page: the chapters and the report and status pages."""
    return sorted(p for p in book.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts)


def _sync_text(path: Path, block: str, write: bool) -> bool:
    text = path.read_text()
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), BEGIN + "\n" + block + "\n" + END, text, flags=re.S)
    if BEGIN not in text:
        raise ValueError(f"{path}: no {BEGIN} … {END} markers for the badges")
    if new != text and write:
        path.write_text(new)
    return new != text


def _cell(src: str) -> dict:
    lines = src.split("\n")
    return {"cell_type": "code", "execution_count": None, "id": INSTALL_CELL_ID,
            "metadata": {"tags": ["hide-input"]}, "outputs": [],
            "source": [ln + "\n" for ln in lines[:-1]] + [lines[-1]]}


def _sync_notebook(path: Path, src: str, write: bool) -> bool:
    nb = json.loads(path.read_text())
    cell = _cell(src)
    cells = nb["cells"]
    first = cells[0] if cells else None
    if first is not None and first.get("id") == INSTALL_CELL_ID:
        if first == cell:
            return False
        cells[0] = cell
    else:
        cells.insert(0, cell)
    if write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def sync(root: Path = ROOT, write: bool = True) -> list[str]:
    """Bring every file in line with ``_config.yml``; return the paths that changed (or would)."""
    url, branch, owner, name = repository(root)
    changed = []
    block = badges(url, branch, owner, name)
    for p in (root / "README.md", root / "book" / "intro.md"):
        if _sync_text(p, block, write):
            changed.append(str(p.relative_to(root)))
    src = install_cell_source(url, branch)
    for nb in chapters(root / "book"):
        if nb.name in ("reproducibility.ipynb", "status.ipynb"):
            continue
        if _sync_notebook(nb, src, write):
            changed.append(str(nb.relative_to(root)))
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    a = ap.parse_args(argv)
    changed = sync(write=not a.check)
    if changed:
        print(("out of date: " if a.check else "updated: ") + ", ".join(changed))
    return 1 if (a.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
