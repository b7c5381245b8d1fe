"""Analytic test problems shared by the test modules (known gradients, Hessians and GD maps)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quadratic:
    """f(x) = λx²/2: GD is stable exactly for η < 2/λ."""

    lam: float

    def value(self, x):
        return 0.5 * self.lam * np.asarray(x, float) ** 2

    def grad(self, x):
        return self.lam * np.asarray(x, float)

    def hess(self, x):
        return np.full(np.shape(x), self.lam, dtype=float)
