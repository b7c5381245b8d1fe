"""Input checks shared by the library's subpackages (private; numpy only, so that the one-dimensional
chapters do not load torch): :mod:`sgdlab.linear`, :mod:`sgdlab.dynamics`, :mod:`sgdlab.rmt`,
:mod:`sgdlab.hessian` and :mod:`sgdlab.landscapes`.

Every check raises a ``ValueError`` that names the parameter and the allowed range, before numpy can
raise its own message or let NaN through.
"""
from __future__ import annotations

import numpy as np


def real_array(value, name: str, *, finite: bool = True, allow_nan: bool = False, ndim: int | None = None,
               nonempty: bool = False, low: float | None = None, low_open: bool = False, high: float | None = None,
               high_open: bool = False, complex_ok: bool = False, copy: bool = True) -> np.ndarray:
    """``value`` as a float64 array (complex128 for complex input with ``complex_ok``, which is for
    values without a range); ``ValueError`` naming ``name`` for non-numeric or ragged input, NaN
    (unless ``allow_nan``), non-finite values (with ``finite``), the wrong ``ndim``, an empty array (with
    ``nonempty``) or values outside ``[low, high]`` (open ends with ``low_open``/``high_open``).
    ``copy=False`` keeps a float64 input's memory (and so BLAS's round-off) as it is."""
    if value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a real number or array, got {value!r}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged sequences
        raise ValueError(f"{name} must be a real number or array: {exc}") from None
    if arr.dtype.kind not in ("biufc" if complex_ok else "biuf"):
        raise ValueError(f"{name} must be {'numeric' if complex_ok else 'real-valued'}, got dtype {arr.dtype}")
    arr = arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64, copy=copy)
    nan = np.isnan(arr)
    if not allow_nan and nan.any():
        raise ValueError(f"{name} must not contain NaN")
    if finite and not np.all(np.isfinite(arr) | nan):
        raise ValueError(f"{name} must be finite")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if nonempty and arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if low is not None and np.any(~nan & ~(arr > low if low_open else arr >= low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}")
    if high is not None and np.any(~nan & ~(arr < high if high_open else arr <= high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}")
    return arr


def real_scalar(value, name: str, *, finite: bool = True, low: float | None = None, low_open: bool = False,
                high: float | None = None, high_open: bool = False) -> float:
    """``value`` as a float (finite unless ``finite=False``, never NaN) in the stated range."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    arr = real_array(value, name, finite=finite, low=low, low_open=low_open, high=high, high_open=high_open)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    return float(arr)


def integer(value, name: str, *, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``; bools, floats and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name}={value!r} must be an integer {rng}")
    return int(value)


def landscape(obj, name: str = "landscape", needs: tuple[str, ...] = ("value", "grad", "hess")):
    """An object with the callables ``needs`` (a 1-d landscape)."""
    missing = [m for m in needs if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(f"{name} must have the methods {', '.join(needs)}; {type(obj).__name__} lacks "
                         f"{', '.join(missing)}")
    return obj


def function(obj, name: str):
    if not callable(obj):
        raise ValueError(f"{name} must be callable, got {type(obj).__name__}")
    return obj
