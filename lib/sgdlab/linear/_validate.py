"""Input checks shared by :mod:`sgdlab.linear` (private)."""
from __future__ import annotations

import numpy as np

from .. import _validate as _shared


def as_modes(eigs, name: str = "eigs", *, positive: bool = True) -> np.ndarray:
    """A 1-d float64 array of mode values; ``ValueError`` naming ``name`` otherwise."""
    arr = real_array(eigs, name, finite=False)
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
    m = real_array(mult, "mult", finite=False)
    if m.shape != (size,):
        raise ValueError(f"mult must have shape ({size},), got {m.shape}")
    if np.any(~(m > 0)) or not np.all(np.isfinite(m)):
        raise ValueError("mult must be finite and > 0")
    return m


def hyper(lr, momentum, noise_factor, tau1=1.0, tau2=1.0):
    """Broadcast the hyper-parameters to one grid shape and validate them."""
    arrs = [real_array(v, n, finite=False) for v, n in
            zip((lr, momentum, noise_factor, tau1, tau2), ("lr", "momentum", "noise_factor", "tau1", "tau2"))]
    try:
        lr, momentum, noise_factor, tau1, tau2 = np.broadcast_arrays(*arrs)
    except ValueError:
        raise ValueError("lr, momentum, noise_factor, tau1 and tau2 must broadcast to one grid shape, got shapes "
                         f"{[a.shape for a in arrs]}") from None
    if np.any(~(lr > 0)) or np.any(~np.isfinite(lr)):
        raise ValueError("lr must be finite and > 0")
    if np.any(~(np.abs(momentum) < 1)):
        raise ValueError("momentum must lie in (-1, 1)")
    if np.any(~(noise_factor >= 0)) or np.any(~np.isfinite(noise_factor)):
        raise ValueError("noise_factor must be finite and >= 0")
    if np.any(~np.isfinite(tau1)):
        raise ValueError("tau1 must be finite")
    if np.any(~np.isfinite(tau2)):
        raise ValueError("tau2 must be finite")
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


_PSD_RTOL = 1e-8   # eigenvalues in [−_PSD_RTOL·λ_max, 0) are round-off of a positive semi-definite matrix


def real_array(value, name: str, *, finite: bool = True, complex_ok: bool = False) -> np.ndarray:
    """``value`` as a float64 array (complex128 with ``complex_ok``); ``ValueError`` naming ``name`` for
    non-numeric, complex (unless allowed) or, with ``finite``, non-finite values. No copy of a float64
    input: the caller's memory layout is kept (BLAS round-off depends on it)."""
    return _shared.real_array(value, name, finite=finite, allow_nan=not finite, complex_ok=complex_ok, copy=False)


def real_scalar(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """``value`` as a float in the stated range; ``ValueError`` naming ``name`` otherwise."""
    arr = real_array(value, name, finite=finite)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    v = float(arr)
    if np.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    if low is not None and not (v > low if low_open else v >= low):
        raise ValueError(f"{name}={value!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and not (v < high if high_open else v <= high):
        raise ValueError(f"{name}={value!r} must be {'<' if high_open else '<='} {high}")
    return v


def as_times(times, steps: int, name: str = "times") -> np.ndarray:
    """Recording steps: a strictly increasing non-empty 1-d array of integers in [0, steps]."""
    t = real_array(times, name)
    if t.ndim != 1 or t.size == 0 or np.any(t != np.round(t)) or np.any(t < 0) or np.any(t > steps) \
            or np.any(np.diff(t) <= 0):
        raise ValueError(f"{name} must be a strictly increasing 1-d array of integers in [0, steps={steps}]")
    return t.astype(np.int64)


def psd_eigs(lam: np.ndarray, name: str, rtol: float = _PSD_RTOL) -> np.ndarray:
    """Clip round-off negatives (≥ −``rtol``·max|λ|) of a positive semi-definite spectrum to 0; reject
    truly negative eigenvalues with a ``ValueError`` naming ``name``."""
    top = float(np.max(np.abs(lam))) if lam.size else 0.0
    if np.any(lam < -rtol * top):
        raise ValueError(f"{name} must be >= 0 (negative eigenvalues beyond round-off, psd_rtol={rtol:g} "
                         f"of the largest, found: min {lam.min():.3g})")
    return np.where(lam < 0, 0.0, lam) if np.any(lam < 0) else lam


def bool_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be True or False")
    return bool(value)


def seed_int(value, name: str = "seed") -> int:
    return positive_int(value, name, 0)
