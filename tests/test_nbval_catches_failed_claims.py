"""A chapter whose check fails, or that stops before its checks, fails nbval and the book build, and the
report still renders what did not run."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

REGISTRY = textwrap.dedent("""
    headlines:
      - id: P1.H1
        claim: a probe claim
        where: nowhere
        source: reconstructed
        source_note: made up for this test
    checks:
      - id: P1.C1
        chapter: part/ch
        kind: paper
        headline: P1.H1
        bears: supports
        grade: C
        statement: the probe is one
        methods: {measured: the probe, expected: the number one}
        tolerance: {rtol: 0.01, origin: here, reason: a probe}
      - id: P1.C2
        chapter: part/ch
        kind: software
        statement: a second probe
        tolerance: {atol: 0, origin: here, reason: a probe}
""")


def _book(tmp_path: Path, body: list[str]) -> Path:
    """A book folder with the registry and one chapter ``part/ch`` made of the code cells ``body``."""
    book = tmp_path / "book"
    (book / "claims").mkdir(parents=True)
    (book / "claims" / "probe.yml").write_text(REGISTRY)
    (book / "part").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    setup = ("from pathlib import Path\nfrom sgdlab import ledger\nfrom sgdlab.claims import ClaimLog\n"
             f"log = ClaimLog('part/ch', registry=ledger.load_registry(Path({str(book)!r})))")
    nb.cells = [nbformat.v4.new_markdown_cell("# Probe chapter"), nbformat.v4.new_code_cell(setup)]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in body]
    nbformat.write(nb, book / "part" / "ch.ipynb")
    return book


def _nbval(path: Path, claims_dir: Path):
    env = dict(os.environ, SGDLAB_CLAIMS_DIR=str(claims_dir))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "--rootdir", str(path.parent), "-c", os.devnull, str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("measured,should_pass", [(1.001, True), (1.5, False)])
def test_nbval_fails_exactly_when_a_check_fails(tmp_path, measured, should_pass):
    book = _book(tmp_path, [f"log.check('P1.C1', measured={measured}, expected=1.0)",
                            "log.check('P1.C2', measured=0.0, expected=0.0)", "log.summary()"])
    proc = _nbval(book / "part" / "ch.ipynb", tmp_path / "claims")
    out = proc.stdout + proc.stderr
    if should_pass:
        assert proc.returncode == 0, out
    else:
        assert proc.returncode == 1, out
        assert "ClaimFailed" in out and "1 failed" in out


def test_a_chapter_that_raises_fails_nbval(tmp_path):
    """nbval runs every cell even after an error (each cell is a test); the error alone fails the run.
    (The book build stops at the error: the next test shows the checks it never reached as not run.)"""
    book = _book(tmp_path, ["log.check('P1.C1', measured=1.0, expected=1.0)",
                            "raise RuntimeError('the chapter breaks here')",
                            "log.check('P1.C2', measured=0.0, expected=0.0)", "log.summary()"])
    proc = _nbval(book / "part" / "ch.ipynb", tmp_path / "claims")
    assert proc.returncode == 1 and "RuntimeError" in proc.stdout + proc.stderr


REPORT_PAGE = """
from pathlib import Path
from IPython.display import HTML
from sgdlab import claims, ledger
rows = claims.unfinished(claims.load(), claims.chapter_status())
HTML(claims.HeadlineTable(rows, ledger.load_registry(Path('{book}')))._repr_html_() + claims.report_html(rows))
"""


@pytest.mark.slow
def test_a_failing_chapter_fails_the_book_build_and_the_report_still_renders(tmp_path):
    """The whole path: Jupyter Book with the book's extension, a chapter that raises, the report page last."""
    jb = Path(sys.executable).parent / "jupyter-book"
    if not jb.is_file():
        pytest.skip("jupyter-book is not installed")
    book = _book(tmp_path, ["log.check('P1.C1', measured=1.0, expected=1.0)",
                            "raise RuntimeError('the chapter breaks here')",
                            "log.check('P1.C2', measured=0.0, expected=0.0)", "log.summary()"])
    shutil.copytree(ROOT / "book" / "_ext", book / "_ext")
    (book / "intro.md").write_text("# Probe book\n")
    report = nbformat.v4.new_notebook()
    report.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    report.cells = [nbformat.v4.new_markdown_cell("# Reproducibility report"),
                    nbformat.v4.new_code_cell(REPORT_PAGE.format(book=book))]
    nbformat.write(report, book / "reproducibility.ipynb")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/part/ch\n"
                                       "  - file: book/reproducibility\n")
    (tmp_path / "_config.yml").write_text(textwrap.dedent("""
        title: probe
        only_build_toc_files: true
        exclude_patterns: ["_build", "book/_ext"]
        execute: {execute_notebooks: force, timeout: 120, allow_errors: false}
        sphinx:
          local_extensions: {sgdlab_book: book/_ext}
    """))
    env = dict(os.environ, SGDLAB_CLAIMS_DIR=str(tmp_path / "_build" / "claims"))
    proc = subprocess.run([str(jb), "build", str(tmp_path), "--all", "-W", "-n", "--keep-going"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, "a chapter that raised must fail the build"
    from sgdlab import claims

    recs = {r["id"]: r["verdict"] for r in claims.load(tmp_path / "_build" / "claims")}
    assert recs == {"P1.C1": "supports", "P1.C2": claims.NOT_RUN}, "the check after the error did not run"
    html = (tmp_path / "_build" / "html" / "book" / "reproducibility.html").read_text()
    assert "not run (chapter failed)" in html and "P1.H1" in html
