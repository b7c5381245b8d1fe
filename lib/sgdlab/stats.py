"""Small statistics used when a chapter turns simulations into a verdict.

Log–log slopes of scaling laws, binomial confidence intervals for success probabilities (part 3),
and seed summaries. Used across the book; each helper has a unit test in ``tests/test_stats.py``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _st


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Raises
    ------
    ValueError
        If the arrays differ in shape, have fewer than two points, or hold non-positive values.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("x and y must be 1-d arrays of equal length >= 2")
    if np.any(~(x > 0)) or np.any(~(y > 0)):
        raise ValueError("x and y must be positive and finite for a log-log slope")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def wilson_interval(successes: int | np.ndarray, trials: int | np.ndarray, confidence: float = 0.95):
    """Wilson score interval for a binomial proportion (vectorised).

    Returns
    -------
    (lo, hi) : tuple of floats or arrays
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n <= 0):
        raise ValueError("trials must be > 0")
    if np.any((k < 0) | (k > n)):
        raise ValueError("successes must lie in [0, trials]")
    if not 0 < confidence < 1:
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
    v = np.asarray(values, dtype=float)
    n = v.shape[axis]
    if n < 2:
        raise ValueError("need at least two values along axis for a standard error")
    return v.mean(axis=axis), v.std(axis=axis, ddof=1) / np.sqrt(n)
