"""Input checks shared by the SDE modules (private): a ValueError that names the parameter."""
from __future__ import annotations

import numpy as np


def float_array(name: str, value) -> np.ndarray:
    """``value`` as a fresh float64 array, or a ValueError naming ``name`` (strings, None, ragged lists)."""
    try:
        a = np.asarray(value)
        if a.dtype.kind not in "iuf":
            raise TypeError
        return np.array(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number or an array of numbers") from None
