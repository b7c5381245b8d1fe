"""A notebook whose claim fails must make nbval (and so `make test`) fail."""
import os
import subprocess
import sys

import nbformat
import pytest


def _notebook(tmp_path, measured: float):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("from sgdlab.claims import ClaimLog\nlog = ClaimLog('probe')"),
        nbformat.v4.new_code_cell(
            f"log.check('P1.C1', measured={measured}, expected=1.0, rtol=0.01, statement='probe claim')"
        ),
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("measured,should_pass", [(1.001, True), (1.5, False)])
def test_nbval_fails_exactly_when_a_claim_fails(tmp_path, measured, should_pass):
    nb = _notebook(tmp_path, measured)
    env = dict(os.environ, SGDLAB_CLAIMS_DIR=str(tmp_path / "claims"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(nb)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    out = proc.stdout + proc.stderr
    if should_pass:
        assert proc.returncode == 0, out
        assert "2 passed" in out
    else:
        assert proc.returncode == 1, out
        assert "ClaimFailed" in out and "1 failed" in out
