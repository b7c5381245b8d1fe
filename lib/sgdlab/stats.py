"""Small statistics used when a chapter turns simulations into a verdict.

Log–log slopes of scaling laws, binomial confidence intervals for success probabilities (part 3),
and seed summaries. Used across the book; each helper has a unit test in ``tests/test_stats.py``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _st


def _numbers(name: str, value) -> np.ndarray:
    """``value`` as a float array, or a ValueError naming ``name`` (strings, None, ragged or complex input)."""
    try:
        a = np.asarray(value)
        if a.dtype.kind not in "biuf" or a.dtype.kind == "b" and a.ndim == 0:
            raise TypeError
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number or an array of numbers") from None


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Raises
    ------
    ValueError
        If the arrays differ in shape, have fewer than two points, or hold non-positive values.
    """
    x = _numbers("x", x)
    y = _numbers("y", y)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"x and y must be 1-d arrays of equal length >= 2 (got x {x.shape}, y {y.shape})")
    for name, v in (("x", x), ("y", y)):
        if np.any(~(v > 0)) or not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be positive and finite for a log-log slope")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def wilson_interval(successes: int | np.ndarray, trials: int | np.ndarray, confidence: float = 0.95):
    """Wilson score interval for a binomial proportion (vectorised).

    Returns
    -------
    (lo, hi) : tuple of floats or arrays
    """
    k = _numbers("successes", successes)
    n = _numbers("trials", trials)
    if not np.all(np.isfinite(n)) or np.any(n <= 0) or np.any(n != np.round(n)):
        raise ValueError(f"trials={trials!r} must be positive integers")
    if not np.all(np.isfinite(k)) or np.any((k < 0) | (k > n)) or np.any(k != np.round(k)):
        raise ValueError(f"successes={successes!r} must be integers in [0, trials]")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)) or not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must lie in (0, 1)")
    z = _st.norm.ppf(0.5 + confidence / 2)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    lo = np.where(k == 0, 0.0, lo)  # exact at the ends (rounding leaves ~1e-19 otherwise)
    hi = np.where(k == n, 1.0, hi)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def mean_and_sem(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean over ``axis`` (seeds)."""
    v = _numbers("values", values)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -v.ndim <= axis < max(v.ndim, 1):
        raise ValueError(f"axis={axis!r} must be an integer axis of values (ndim {v.ndim})")
    n = v.shape[axis] if v.ndim else 1
    if n < 2:
        raise ValueError("values: need at least two values along axis for a standard error")
    return v.mean(axis=axis), v.std(axis=axis, ddof=1) / np.sqrt(n)
