"""Structure of the book: the table of contents, the committed notebooks, and the three dependency files."""
from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _toc_entries(node, files, globs):
    if isinstance(node, dict):
        if "root" in node:
            files.append(node["root"])
        if "file" in node:
            files.append(node["file"])
        if "glob" in node:
            globs.append(node["glob"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                _toc_entries(child, files, globs)


def _toc():
    files, globs = [], []
    _toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text()), files, globs)
    return files, globs


def _pages():
    out = set()
    for p in BOOK.rglob("*"):
        rel = p.relative_to(ROOT)
        if p.suffix in (".md", ".ipynb") and not any(part.startswith((".", "_")) for part in rel.parts[1:]):
            out.add(rel.with_suffix("").as_posix())
    return out


def _source(docname: str) -> Path | None:
    for suffix in (".ipynb", ".md"):
        if (ROOT / (docname + suffix)).is_file():
            return ROOT / (docname + suffix)
    return None


def _committed_notebooks():
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = [ROOT / f for f in out.split()]
    except (OSError, subprocess.CalledProcessError):
        files = []
    return sorted(set(files) | set(BOOK.rglob("*.ipynb")) - set(BOOK.rglob(".ipynb_checkpoints/*")))


def test_every_toc_entry_exists():
    files, globs = _toc()
    missing = [f for f in files if _source(f) is None]
    assert not missing, f"_toc.yml names pages that do not exist: {missing}"
    pages = _pages()
    empty = [g for g in globs if not fnmatch.filter(pages, g)]
    assert not empty, f"_toc.yml globs that match no page: {empty}"


def test_every_page_is_in_the_toc():
    files, globs = _toc()
    listed = {str(Path(f).with_suffix("")) if Path(f).suffix in (".md", ".ipynb") else f for f in files}
    orphans = sorted(p for p in _pages() if p not in listed and not any(fnmatch.fnmatch(p, g) for g in globs))
    assert not orphans, f"pages missing from _toc.yml: {orphans}"


@pytest.mark.parametrize("nb", _committed_notebooks(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_committed_without_outputs(nb):
    data = json.loads(nb.read_text())
    dirty = [i for i, c in enumerate(data["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{nb.name}: code cells {dirty} carry outputs or execution counts; strip them"
    assert data["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("nb", _committed_notebooks(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_first_code_cell_imports_sgdlab(nb):
    cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    assert cells and "sgdlab" in "".join(cells[0]["source"]), f"{nb.name}: the first code cell should import sgdlab"


def _requirements():
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"requirements.txt must pin exactly: {line}"
            out[req.name.lower()] = spec.version
    return out


def _pyproject():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return {Requirement(r).name.lower(): Requirement(r) for r in reqs}


CONDA_NAMES = {"torch": "pytorch-cpu"}


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if not line.startswith("-"):
                    r = Requirement(line)
                    out[r.name.lower()] = next(iter(r.specifier)).version
        else:
            m = re.match(r"^([A-Za-z0-9_.-]+)\s*=\s*([^=\s]+)$", dep)
            if m:
                out[m.group(1).lower()] = m.group(2)
    return out


def test_requirements_pins_satisfy_pyproject_ranges():
    pins, ranges = _requirements(), _pyproject()
    assert set(pins) == set(ranges), f"requirements.txt vs pyproject.toml: {set(pins) ^ set(ranges)}"
    bad = [f"{n}=={v} not in {ranges[n].specifier}" for n, v in pins.items() if v not in ranges[n].specifier]
    assert not bad, bad


def test_environment_yml_has_the_same_versions():
    pins, env = _requirements(), _environment()
    for name, version in pins.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in env or name in env, f"environment.yml lacks {name}"
        assert env.get(conda_name, env.get(name)) == version, f"{name}: requirements {version}, environment.yml {env.get(conda_name)}"


def test_torch_is_pinned_to_the_cpu_wheel_version_and_jupyter_book_below_2():
    pins = _requirements()
    assert pins["torch"] == "2.13.0"
    assert Requirement(f"jupyter-book=={pins['jupyter-book']}").specifier.contains(pins["jupyter-book"])
    assert int(pins["jupyter-book"].split(".")[0]) == 1


def test_config_executes_every_notebook_and_excludes_hidden_folders():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "force"
    assert cfg["execute"]["timeout"] > 0
    assert ".*" in cfg["exclude_patterns"] and "**/.*" in cfg["exclude_patterns"]
    assert "sphinx-mathjax-offline" in cfg["sphinx"]["extra_extensions"]
    assert cfg["launch_buttons"]["binderhub_url"] and cfg["launch_buttons"]["colab_url"]


def test_no_binder_folder_shadows_the_root_environment():
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()
    assert (ROOT / "environment.yml").is_file() and (ROOT / "postBuild").is_file()


def test_citations_resolve_to_the_bibliography():
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    cited = set()
    for p in list(BOOK.rglob("*.md")) + list(BOOK.rglob("*.ipynb")):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", p.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, f"cited but not in references.bib: {cited - keys}"
    for paper in ("velikanov2023view", "wang2024marginal", "mohtashami2023special", "dai2021large", "granziol2022learning"):
        assert paper in keys


def _title(path: Path) -> str | None:
    if path.suffix == ".md":
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        cells = json.loads(path.read_text())["cells"]
        lines = [l for c in cells if c["cell_type"] == "markdown" for l in "".join(c["source"]).splitlines()]
    return next((l for l in lines if l.startswith("# ")), None)


@pytest.mark.parametrize("page", sorted(_pages()), ids=str)
def test_page_title_has_no_tex(page):
    """Titles appear in the sidebar and prev/next links of every page, where MathJax may not run."""
    title = _title(_source(page))
    assert title is not None, f"{page} has no '# ' title"
    assert "$" not in title and "\\" not in title, f"{page}: write the title in Unicode, not TeX: {title!r}"
