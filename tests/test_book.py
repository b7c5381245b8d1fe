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


#: conda-forge names of PyPI packages.
CONDA_NAMES = {"torch": "pytorch-cpu", "matplotlib": "matplotlib-base"}
#: Binder packages that pyproject.toml does not declare (the notebook front end and the interpreter).
BINDER_ONLY = {"python", "pip", "jupyterlab"}


def _environment():
    """``{name: SpecifierSet}`` of environment.yml, conda and pip entries (conda names mapped to PyPI's)."""
    from packaging.specifiers import SpecifierSet

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pypi = {v: k for k, v in CONDA_NAMES.items()}
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                r = Requirement(line)
                out[r.name.lower()] = r.specifier
        else:
            m = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", dep)
            name, spec = m.group(1).lower(), m.group(2).strip()
            if spec.startswith("=") and not spec.startswith("=="):
                spec = "==" + spec[1:] + (".*" if spec.count(".") < 2 else "")
            out[pypi.get(name, name)] = SpecifierSet(spec)
    return out


def test_requirements_pins_satisfy_pyproject_ranges():
    pins, ranges = _requirements(), _pyproject()
    assert set(pins) == set(ranges), f"requirements.txt vs pyproject.toml: {set(pins) ^ set(ranges)}"
    bad = [f"{n}=={v} not in {ranges[n].specifier}" for n, v in pins.items() if v not in ranges[n].specifier]
    assert not bad, bad


def test_binder_environment_lies_inside_the_library_ranges():
    """Every Binder spec is within pyproject.toml's range (a compatibility test, not equality with CI's pins)."""
    from packaging.specifiers import SpecifierSet

    env, ranges = _environment(), _pyproject()
    assert not {"pytest", "nbval", "selenium", "pytest-timeout"} & set(env), "Binder needs no test tools"
    for name, spec in env.items():
        if name in BINDER_ONLY:
            continue
        assert name in ranges, f"environment.yml names {name}, which pyproject.toml does not declare"
        lib = ranges[name].specifier
        # spec ⊆ lib: each bound of the Binder spec satisfies the library's range
        for s in spec:
            if s.operator in (">=", "==", "<=") and not s.version.endswith("*"):
                assert s.version in lib, f"{name}: Binder's {s} lies outside pyproject's {lib}"
        assert any(s.operator in ("<", "<=", "==") for s in spec) or not any(
            s.operator in ("<", "<=") for s in lib), f"{name}: Binder's {spec} has no upper bound but pyproject caps {lib}"


def test_each_binder_package_has_a_version_known_to_exist_on_conda_forge():
    """environment.sources.yml documents, per package, a version seen on conda-forge (or PyPI) inside its spec."""
    sources = yaml.safe_load((ROOT / "environment.sources.yml").read_text())
    env = _environment()
    for name, spec in env.items():
        conda = CONDA_NAMES.get(name, name)
        entry = sources.get(conda) or sources.get(name)
        assert entry and entry.get("source"), f"{conda}: no documented version in environment.sources.yml"
        assert str(entry["seen"]) in spec or (name == "python" and str(entry["seen"]).startswith("3.11")), \
            f"{conda}: the documented version {entry['seen']} does not satisfy {spec}"
    assert sources["pytorch-cpu"]["seen"] == "2.12.1", "conda-forge's newest pytorch-cpu seen is 2.12.1"


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
