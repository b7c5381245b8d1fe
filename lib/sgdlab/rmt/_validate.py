"""Input checks shared by :mod:`sgdlab.rmt` (private).

Every check raises a ``ValueError`` that names the parameter and the allowed range, before numpy can
raise its own message (or silently propagate NaN).
"""
from __future__ import annotations

import numpy as np

from .._validate import integer as _integer
from .._validate import real_array, real_scalar

__all__ = ["real_array", "real_scalar", "integer", "integer_array", "seed", "design", "eigs_psd"]


def integer(value, name: str, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (default ``>= 1``); bools, floats and strings are refused."""
    return _integer(value, name, low=low, high=high)


def integer_array(value, name: str, *, low: int = 1, high: int | None = None, ndim: int | None = None) -> np.ndarray:
    """A non-empty array of integer values in ``[low, high]`` (float64 storage, integral values)."""
    arr = real_array(value, name, ndim=ndim, nonempty=True)
    rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
    if np.any(arr != np.round(arr)) or np.any(arr < low) or (high is not None and np.any(arr > high)):
        raise ValueError(f"{name} must hold integers {rng}")
    return arr


def seed(value, name: str = "seed") -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    return integer(value, name, low=0)


def design(x, name: str = "x") -> np.ndarray:
    """A finite 2-d float64 array with at least one row and one column."""
    arr = real_array(x, name, ndim=2)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got shape {arr.shape}")
    return arr


def eigs_psd(eigs, name: str = "eigs", *, one_positive: bool = True) -> np.ndarray:
    """A non-empty finite 1-d array of eigenvalues >= 0 (at least one > 0 with ``one_positive``)."""
    lam = real_array(eigs, name, ndim=1, nonempty=True, low=0.0)
    if one_positive and not np.any(lam > 0):
        raise ValueError(f"{name} must hold at least one eigenvalue > 0")
    return lam
