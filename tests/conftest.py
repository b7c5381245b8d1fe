"""Shared test configuration: isolated claim records, float64 by default, device parametrisation."""
from __future__ import annotations

import os
import tempfile

# Before anything imports torch: the OpenMP spin-wait makes torch ~10x slower on small shared CPUs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest


def pytest_configure(config):
    # Notebooks run under nbval record their claims here, not into the book's _build/claims.
    # Set before any kernel starts, so kernels inherit it.
    if "SGDLAB_CLAIMS_DIR" not in os.environ:
        os.environ["SGDLAB_CLAIMS_DIR"] = tempfile.mkdtemp(prefix="sgdlab-claims-")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("MPLBACKEND", "Agg")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _kernels_start_in_the_repository_root():
    """nbval starts each notebook's kernel in the notebook's folder; the book build does too. Starting
    nbval's kernels in the repository root instead (as Thebe and Binder do) makes the two runs of every
    chapter cover both working directories: a chapter that depends on its folder fails one of them."""
    try:
        from nbval import kernel as _nbk
    except ImportError:  # pragma: no cover - nbval is a test dependency
        return
    init = _nbk.RunningKernel.__init__
    if getattr(init, "_sgdlab_root_cwd", False):
        return

    def __init__(self, kernel_name, cwd=None, *args, **kwargs):
        init(self, kernel_name, ROOT, *args, **kwargs)

    __init__._sgdlab_root_cwd = True
    _nbk.RunningKernel.__init__ = __init__


_kernels_start_in_the_repository_root()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Unit tests use tiny problems: one torch thread is faster than two on a small shared CPU."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _devices():
    devs = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            devs.append("cuda")
    except ImportError:  # pragma: no cover
        pass
    return devs


@pytest.fixture(params=_devices())
def device(request):
    """Each available torch device: ``cpu``, plus ``cuda`` where present."""
    return request.param


def pytest_terminal_summary(terminalreporter):
    """Say how many public functions and cases the property-based checks covered."""
    import sys

    mod = sys.modules.get("prop_harness")
    if mod is not None and mod.COVERAGE:
        terminalreporter.write_sep("-", "property-based checks")
        terminalreporter.write_line(mod.report())
