"""Figures reach the notebook even when the kernel inherits ``MPLBACKEND=Agg``.

With Agg in the environment (pytest's conftest, build scripts) an ipykernel keeps the non-interactive
backend and ``plt.show()`` draws nothing: the book was once built without a single figure. The
chapters call :func:`sgdlab.plotting.use_style` first, which switches a kernel to the inline backend.
"""
from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient


def _run(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


def _images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


@pytest.fixture
def agg_env(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")      # inherited by the kernel, as under `make test` / `make book` once
    assert os.environ["MPLBACKEND"] == "Agg"


def test_use_style_draws_inline_in_a_kernel_started_with_agg(agg_env):
    nb = _run(["from sgdlab import plotting\nfrom matplotlib import pyplot as plt\nplotting.use_style()",
               "plt.plot([0, 1], [1, 0])\nplt.show()"])
    assert _images(nb) == 1


def test_without_use_style_agg_draws_nothing(agg_env):
    # the failure mode the fix addresses: if this starts drawing, the guard above no longer tests anything
    nb = _run(["from matplotlib import pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"])
    assert _images(nb) == 0


def test_use_style_leaves_a_plain_script_alone():
    import matplotlib

    from sgdlab import plotting

    before = matplotlib.get_backend()
    plotting.use_style()
    assert matplotlib.get_backend() == before
