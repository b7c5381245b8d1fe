"""Input checks shared by :mod:`sgdlab.linear` (private)."""
from __future__ import annotations

import numpy as np


def as_modes(eigs, name: str = "eigs", *, positive: bool = True) -> np.ndarray:
    """A 1-d float64 array of mode values; ``ValueError`` naming ``name`` otherwise."""
    arr = np.asarray(eigs, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0")
    if not positive and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0")
    return arr


def multiplicities(mult, size: int) -> np.ndarray:
    """Multiplicities of binned modes (default: all ones)."""
    if mult is None:
        return np.ones(size)
    m = np.asarray(mult, dtype=np.float64)
    if m.shape != (size,):
        raise ValueError(f"mult must have shape ({size},), got {m.shape}")
    if np.any(~(m > 0)):
        raise ValueError("mult must be > 0")
    return m


def hyper(lr, momentum, noise_factor, tau1=1.0, tau2=1.0):
    """Broadcast the hyper-parameters to one grid shape and validate them."""
    lr, momentum, noise_factor, tau1, tau2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lr, momentum, noise_factor, tau1, tau2))
    )
    if np.any(~(lr > 0)) or np.any(~np.isfinite(lr)):
        raise ValueError("lr must be finite and > 0")
    if np.any(~(np.abs(momentum) < 1)):
        raise ValueError("momentum must lie in (-1, 1)")
    if np.any(~(noise_factor >= 0)) or np.any(~np.isfinite(noise_factor)):
        raise ValueError("noise_factor must be finite and >= 0")
    if np.any(~np.isfinite(tau1)) or np.any(~np.isfinite(tau2)):
        raise ValueError("tau1 and tau2 must be finite")
    return lr, momentum, noise_factor, tau1, tau2


def positive_int(value, name: str, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def single_thread():
    """Context manager limiting BLAS to one thread (no-op without threadpoolctl).

    Small dense products (N ≲ 1000) gain nothing from two BLAS threads, and on a loaded 2-core machine
    OpenBLAS's spinning threads made the N×N recursion 50× slower (measured).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
