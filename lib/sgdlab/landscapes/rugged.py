"""One-dimensional landscapes whose spurious minima are sharper than the global one (part 3).

Two test functions with exact first and second derivatives, vectorised over any array of points:

- :class:`RuggedBowl` — a smooth bowl ``x²/2`` with sharp ripples ``a s(|x|) sin²(πx/p)`` switched
  on outside a ball ``|x| < r`` by a C¹ smoothstep ``s``. Every spurious minimum is a ripple trough
  of curvature about ``2a(π/p)² + 1``, far above the global minimum's ``f''(0) = 1``.
- :class:`GaussianDip` — a bowl ``x²/2`` with one narrow Gaussian well
  ``−a exp(−(x−c)²/(2w²))``: a single sharp spurious minimum near ``c``.
- :class:`QuarticWell` — the symmetric double well ``x⁴/4 − x²/2`` (minima ±1 with ``f'' = 2``), the
  polynomial on which the period-doubling of the GD map is computed exactly.

Both are *our* constructions, consistent with the claims of Mohtashami, Jaggi & Stich (ICML 2023);
the paper's own function class could not be read (see ``book/large_lr/index.md``).

Used by the chapters ``book/large_lr/01_gd_map``, ``02_rugged_bowl``, ``03_noise_vs_step`` and
``04_instability_trap``. The GD map and the simulations over many starts live in
:mod:`sgdlab.dynamics.gd_map`.

References
----------
Mohtashami, Jaggi, Stich, *Special Properties of Gradient Descent with Large Learning Rates*,
ICML 2023 (arXiv 2205.15142), Sec. 1 (claims); the construction follows the multiscale picture of
Kong & Tao, NeurIPS 2020, and the "parabola + spikes" example of Kleinberg, Li & Yuan, ICML 2018.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import real_array

__all__ = ["RuggedBowl", "GaussianDip", "QuarticWell"]


def _positive(name: str, value: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def _points(x) -> np.ndarray:
    """Evaluation points as a float array; ``ValueError`` naming ``x`` for non-numeric or non-finite input."""
    return real_array(x, "x")


@dataclass(frozen=True)
class RuggedBowl:
    r"""The rugged bowl :math:`f(x) = x^2/2 + a\, s(|x|)\, \sin^2(\pi x/p)`.

    Here :math:`s(u) = t^2(3-2t)` with :math:`t = \operatorname{clip}((u-r)/d, 0, 1)` is the C¹
    smoothstep from 0 at :math:`|x|=r` to 1 at :math:`|x|=r+d`. Inside :math:`|x|<r` the function
    is the plain bowl, so :math:`x^*=0` is the global minimum with :math:`f''(0)=1`.

    Parameters
    ----------
    amplitude : float
        Ripple height :math:`a > 0` (default 1).
    period : float
        Ripple period :math:`p > 0` (default 0.2).
    radius : float
        Radius :math:`r > 0` of the ripple-free ball around the global minimum (default 0.5).
    width : float
        Width :math:`d > 0` of the smoothstep band (default 0.25).

    Notes
    -----
    Defined for the chapters ``book/large_lr/01_gd_map``, ``02_rugged_bowl`` and
    ``03_noise_vs_step``. Our construction, not the paper's definition.

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023, Sec. 1: "a class of non-convex functions" on which
    large-step GD reaches the global minimum and small-step GD does not.
    """

    amplitude: float = 1.0
    period: float = 0.2
    radius: float = 0.5
    width: float = 0.25

    def __post_init__(self):
        for name in ("amplitude", "period", "radius", "width"):
            _positive(name, getattr(self, name))

    # -- smoothstep -----------------------------------------------------------------
    def _step(self, u: np.ndarray):
        t = np.clip((u - self.radius) / self.width, 0.0, 1.0)
        inside = (u > self.radius) & (u < self.radius + self.width)
        s = t * t * (3.0 - 2.0 * t)
        ds = np.where(inside, 6.0 * t * (1.0 - t) / self.width, 0.0)
        d2s = np.where(inside, 6.0 * (1.0 - 2.0 * t) / self.width**2, 0.0)
        return s, ds, d2s

    def value(self, x) -> np.ndarray:
        """:math:`f(x)`, elementwise."""
        x = _points(x)
        s, _, _ = self._step(np.abs(x))
        return 0.5 * x * x + self.amplitude * s * np.sin(np.pi * x / self.period) ** 2

    def grad(self, x) -> np.ndarray:
        """:math:`f'(x)`, elementwise (exact).

        Written for speed (it is the inner loop of every simulation of part 3): the smoothstep's
        derivative :math:`6t(1-t)/d` vanishes by itself where :math:`t` is clipped to 0 or 1.
        """
        x = _points(x)
        t = np.clip((np.abs(x) - self.radius) / self.width, 0.0, 1.0)
        kx = (math.pi / self.period) * x
        s1 = np.sin(kx)
        c1 = np.cos(kx)
        # a [ s'(|x|) sign(x) sin² + s k sin(2kx) ] with s = t²(3 − 2t), s' = 6 t (1 − t) / d
        out = (6.0 / self.width) * t * (1.0 - t) * np.sign(x) * s1 * s1
        out = out + (2.0 * math.pi / self.period) * (t * t * (3.0 - 2.0 * t)) * s1 * c1
        return x + self.amplitude * out

    def hess(self, x) -> np.ndarray:
        """:math:`f''(x)`, elementwise (exact away from :math:`|x| = r` and :math:`|x| = r+d`, where
        the C¹ smoothstep's second derivative jumps; there the value outside the band is returned)."""
        x = _points(x)
        s, ds, d2s = self._step(np.abs(x))
        k = np.pi / self.period
        sin2 = np.sin(k * x) ** 2
        return 1.0 + self.amplitude * (
            d2s * sin2 + 2.0 * ds * np.sign(x) * k * np.sin(2 * k * x) + s * 2.0 * k * k * np.cos(2 * k * x)
        )

    @property
    def trough_curvature(self) -> float:
        r""":math:`2a(\pi/p)^2 + 1`: the curvature of a ripple trough where :math:`s=1`, to leading
        order (the bowl shifts the trough slightly; see chapter ``01_gd_map``)."""
        return 2.0 * self.amplitude * (math.pi / self.period) ** 2 + 1.0


@dataclass(frozen=True)
class GaussianDip:
    r"""The Gaussian dip :math:`f(x) = x^2/2 - a \exp(-(x-c)^2/(2w^2))`.

    Parameters
    ----------
    depth : float
        :math:`a > 0` (default 3).
    centre : float
        :math:`c` (default 3); must be finite.
    width : float
        :math:`w > 0` (default 0.1).

    Notes
    -----
    For :math:`a/w^2 \gg 1` there is a sharp local minimum near :math:`c`, where the curvature is
    close to :math:`f''(c) = 1 + a/w^2`, and the global minimum near 0 with :math:`f'' \approx 1`. Used by
    ``book/large_lr/01_gd_map`` and ``04_instability_trap``.

    References
    ----------
    Our example, consistent with the claims of Mohtashami, Jaggi & Stich (ICML 2023); not the paper's.
    """

    depth: float = 3.0
    centre: float = 3.0
    width: float = 0.1

    def __post_init__(self):
        _positive("depth", self.depth)
        _positive("width", self.width)
        if isinstance(self.centre, (bool, np.bool_)) or not isinstance(self.centre, (int, float, np.integer, np.floating)) \
                or not math.isfinite(self.centre):
            raise ValueError(f"centre={self.centre!r} must be a finite number")

    def _g(self, x):
        z = (x - self.centre) / self.width
        return z, self.depth * np.exp(-0.5 * z * z)

    def value(self, x) -> np.ndarray:
        """:math:`f(x)`, elementwise."""
        x = _points(x)
        _, g = self._g(x)
        return 0.5 * x * x - g

    def grad(self, x) -> np.ndarray:
        """:math:`f'(x) = x + a (x-c)/w^2\\, e^{-(x-c)^2/(2w^2)}`, elementwise."""
        x = _points(x)
        z, g = self._g(x)
        return x + g * z / self.width

    def hess(self, x) -> np.ndarray:
        """:math:`f''(x) = 1 + a (1 - z^2)/w^2\\, e^{-z^2/2}` with :math:`z=(x-c)/w`, elementwise."""
        x = _points(x)
        z, g = self._g(x)
        return 1.0 + g * (1.0 - z * z) / self.width**2


@dataclass(frozen=True)
class QuarticWell:
    r"""The double well :math:`f(x) = x^4/4 - x^2/2`: minima at :math:`\pm1` with :math:`f''=2`, a
    maximum at 0. GD's threshold at the minima is :math:`\eta = 1`.

    Being a polynomial, its GD map's 2-cycles are roots of a polynomial, found exactly by
    :func:`sgdlab.dynamics.gd_map.exact_two_cycles` from :meth:`expr`. Used by
    ``book/large_lr/01_gd_map`` (period doubling).
    """

    def value(self, x) -> np.ndarray:
        """:math:`f(x)`, elementwise."""
        x = _points(x)
        return 0.25 * x**4 - 0.5 * x**2

    def grad(self, x) -> np.ndarray:
        """:math:`f'(x) = x^3 - x`, elementwise."""
        x = _points(x)
        return x**3 - x

    def hess(self, x) -> np.ndarray:
        """:math:`f''(x) = 3x^2 - 1`, elementwise."""
        x = _points(x)
        return 3.0 * x**2 - 1.0

    @staticmethod
    def expr(symbol):
        """The SymPy expression of :math:`f` in ``symbol``."""
        return symbol**4 / 4 - symbol**2 / 2
