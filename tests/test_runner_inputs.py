"""An experiment's inputs are the sgdlab modules it imports (transitively), not a hand-written list."""
from __future__ import annotations

import textwrap

import pytest

from sgdlab import provenance
from sgdlab.experiments import _runner, registry
from sgdlab.experiments.registry import module_imports


def _write(root, files: dict[str, str]):
    for rel, text in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))


@pytest.fixture
def fakepkg(tmp_path):
    """A package ``fakepkg`` with absolute, relative, function-level and ``from pkg import module`` imports."""
    _write(tmp_path, {
        "fakepkg/__init__.py": "",
        "fakepkg/a.py": """
            import numpy as np

            def f():
                from . import b          # inside a function, relative
                return b.g()
        """,
        "fakepkg/b.py": "from .sub import c\nfrom fakepkg.sub.d import h\n",
        "fakepkg/sub/__init__.py": "",
        "fakepkg/sub/c.py": "X = 1\n",
        "fakepkg/sub/d.py": "def h():\n    return 2\n",
        "fakepkg/unused.py": "Y = 1\n",
        "exp.py": "from fakepkg.a import f\n",
    })
    return tmp_path


def test_imports_are_followed_transitively_within_the_package(fakepkg):
    files = module_imports(fakepkg / "exp.py", package="fakepkg", package_dir=fakepkg / "fakepkg")
    rel = sorted(f.relative_to(fakepkg).as_posix() for f in files)
    assert rel == ["fakepkg/__init__.py", "fakepkg/a.py", "fakepkg/b.py", "fakepkg/sub/__init__.py",
                   "fakepkg/sub/c.py", "fakepkg/sub/d.py"]


def test_an_unlisted_imported_module_changes_the_inputs_hash(fakepkg):
    def digest():
        files = module_imports(fakepkg / "exp.py", package="fakepkg", package_dir=fakepkg / "fakepkg")
        return provenance.combined_hash(provenance.hash_inputs(files, fakepkg), {"n": 1})

    before = digest()
    (fakepkg / "fakepkg/unused.py").write_text("Y = 2\n")
    assert digest() == before  # not imported: no dependency
    (fakepkg / "fakepkg/sub/d.py").write_text("def h():\n    return 3\n")  # two imports away
    assert digest() != before


def test_a_syntax_error_names_the_file(fakepkg):
    (fakepkg / "fakepkg/sub/c.py").write_text("def (:\n")
    with pytest.raises(ValueError, match="c.py"):
        module_imports(fakepkg / "exp.py", package="fakepkg", package_dir=fakepkg / "fakepkg")


RUNNER = ["lib/sgdlab/device.py", "lib/sgdlab/experiments/_runner.py", "lib/sgdlab/provenance.py"]


@pytest.mark.parametrize("name,needs", [
    ("demo_mlp_digits", ["lib/sgdlab/train/ensemble.py"] + RUNNER),
    ("p1_maps", RUNNER + ["lib/sgdlab/linear/_validate.py"]),
    ("p1_network_theory", RUNNER + ["lib/sgdlab/linear/_validate.py"]),
    ("p4_sharpness", RUNNER + ["lib/sgdlab/hessian/flat.py"]),
])
def test_registered_experiments_depend_on_what_they_import(name, needs, monkeypatch):
    exp = registry.get(name)
    files = exp.input_files()
    assert files[0] == f"lib/sgdlab/experiments/{name}.py" and len(set(files)) == len(files)
    assert set(needs) <= set(files)
    # a change of one of these files (none of them listed by hand) changes the inputs hash
    before = _runner.inputs_hash(exp, "book")[0]
    real = provenance.sha256_file
    edited = needs[-1]
    monkeypatch.setattr(provenance, "sha256_file",
                        lambda p: "0" * 64 if str(p).endswith(edited) else real(p))
    assert edited not in exp.inputs
    assert _runner.inputs_hash(exp, "book")[0] != before


def test_the_answer_does_not_depend_on_what_was_imported_before():
    exp = registry.get("demo_mlp_digits")
    assert exp.input_files() == exp.input_files()
    assert "lib/sgdlab/experiments/p4_sharpness.py" not in exp.input_files()
