"""Torch devices: the default device and a printable report.

Torch is imported lazily, so that numpy-only chapters do not pay its import time. Used by the
status page and by every chapter that trains a network.
"""
from __future__ import annotations

import os
import platform


def default():
    """Return ``torch.device("cuda")`` when a GPU is visible, else ``torch.device("cpu")``."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve(device=None):
    """Return a :class:`torch.device` for ``device`` (``None``: :func:`default`).

    Raises
    ------
    ValueError
        If ``device`` names no device torch knows, or CUDA is asked for and absent.
    """
    import torch

    if device is None:
        return default()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: CUDA is not available on this machine")
    return dev


def info() -> dict:
    """Facts about the compute device as a JSON-serialisable dict."""
    out = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard requirement of the book
        out["torch"] = None
        return out
    out["torch"] = torch.__version__
    out["torch_threads"] = torch.get_num_threads()
    out["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        out["cuda"] = torch.version.cuda
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def report() -> str:
    """A human-readable, multi-line description of :func:`info`."""
    return "\n".join(f"{k:>16}: {v}" for k, v in info().items())


if __name__ == "__main__":  # python -m sgdlab.device
    print(report())
