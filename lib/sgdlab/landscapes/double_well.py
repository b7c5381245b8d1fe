"""The tilted double well of part 4: two minima of equal depth and different curvature.

.. math::

    f(x) = (x^2-1)^2\\,(1 + c\\tanh x),\\qquad |c| < 1 .

Both minima sit at :math:`x=\\pm 1` with :math:`f(\\pm1)=0` exactly, and
:math:`f''(\\pm1) = 8(1\\pm c\\tanh 1)`: for :math:`c=0.6` the left well is flat
(:math:`f''=4.344`) and the right well sharp (:math:`f''=11.656`). The barrier top :math:`s` is the
root of :math:`f'` in :math:`(-1,1)` (numeric; :math:`s\\approx0.134`, :math:`\\Delta F\\approx1.0415`).

A mini-batch version has per-sample losses :math:`f_i(x)=f(x)+a_i x` with :math:`\\sum_i a_i=0`, so the
batch gradient is :math:`f'(x)` plus the batch mean of the :math:`a_i` (state-independent noise of
variance :math:`\\sigma^2/B`; see :mod:`sgdlab.sde.particles`).

:class:`DoubleWell2D` adds a transverse direction :math:`\\tfrac12\\omega(x)y^2` whose stiffness
differs between the wells, for the two-dimensional Eyring–Kramers check.

Used by every chapter of part 4 (``book/fokker_planck/``).

References
----------
Dai & Zhu, *On Large Batch Training and Sharp Minima: A Fokker–Planck Perspective*, arXiv 2112.00987
(2021): the setting of sharp and flat minima; the landscape itself is the book's test case.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

__all__ = ["TiltedDoubleWell", "DoubleWell2D"]

_F64 = np.dtype(np.float64)
#: Inputs up to this size are screened by one dot product (single-threaded in BLAS at this size), larger
#: ones are evaluated under ``np.errstate`` and screened by one reduction of the result.
_SMALL = 8192


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _points(name: str, x) -> np.ndarray:
    """``x`` as float64 (no copy for a float64 array); a ValueError naming ``name`` for non-numbers."""
    if type(x) is np.ndarray and x.dtype is _F64:
        return x
    try:
        a = np.asarray(x)
        if a.dtype.kind not in "iuf":
            raise TypeError
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r} must be a number or an array of numbers") from None


def _evaluate(name: str, x: np.ndarray, formula, limit):
    """``formula(x)`` with no warning and no NaN: one reduction of the result on the fast path.

    NaN in ``x`` is a ValueError naming ``name``; where the formula overflows (``inf - inf``,
    ``inf * 0`` at huge or infinite ``x``) the result is ``limit(x)``, the limit as ``|x| -> inf``.
    """
    if x.size <= _SMALL and np.vdot(x, x) < 1e30:      # all |x| < 1e15: every intermediate is finite
        return formula(x)
    with np.errstate(all="ignore"):
        out = formula(x)
        total = out if np.ndim(out) == 0 else np.add.reduce(out, axis=None)
        if math.isfinite(total):
            return out
        if np.any(np.isnan(x)):
            raise ValueError(f"{name} must not contain NaN (inf is allowed: the value is the limit)")
        out = np.asarray(out, dtype=float)
        bad = np.isnan(out)
        if bad.any():
            lim = np.broadcast_to(np.asarray(limit(x), dtype=float), out.shape)
            out = np.where(bad, lim, out)
    return out if out.ndim else out[()]


@dataclass(frozen=True)
class TiltedDoubleWell:
    """:math:`f(x)=(x^2-1)^2(1+c\\tanh x)` with value, gradient, curvature and critical points.

    Parameters
    ----------
    tilt : float
        :math:`c\\in(-1,1)`; ``c > 0`` makes the right minimum (:math:`x=+1`) the sharp one.

    Examples
    --------
    >>> w = TiltedDoubleWell(0.6)
    >>> round(w.hess(1.0), 3), round(w.hess(-1.0), 3)
    (11.656, 4.344)
    """

    tilt: float = 0.6

    def __post_init__(self):
        if not (_is_number(self.tilt) and -1.0 < float(self.tilt) < 1.0):
            raise ValueError(f"tilt={self.tilt!r} must lie in (-1, 1) so that 1 + tilt*tanh(x) > 0")

    # ------------------------------------------------------------------ values
    def value(self, x):
        """:math:`f(x)` (vectorised).

        ``x`` may hold ``inf`` (the value is the limit ``inf``, also where the formula overflows);
        NaN or a non-number is a ValueError naming ``x``.
        """
        return _evaluate("x", _points("x", x), self._value, lambda x: np.inf)

    def _value(self, x):
        return (x * x - 1.0) ** 2 * (1.0 + self.tilt * np.tanh(x))

    def grad(self, x):
        """:math:`f'(x)=(x^2-1)\\,[4x(1+c\\tanh x)+c(x^2-1)(1-\\tanh^2x)]` (vectorised).

        ``x`` as for :meth:`value`; the limit at :math:`\\pm\\infty` is :math:`\\pm\\infty`.
        """
        return _evaluate("x", _points("x", x), self._grad, lambda x: np.sign(x) * np.inf)

    def _grad(self, x):
        # q * (4.0 * x * (1.0 + c * t) + c * q * (1.0 - t * t)), operation for operation, in four buffers
        c = self.tilt
        if x.ndim == 0:
            t = np.tanh(x)
            q = x * x - 1.0
            return q * (4.0 * x * (1.0 + c * t) + c * q * (1.0 - t * t))
        t = np.tanh(x)
        q = np.multiply(x, x)
        q -= 1.0
        e = np.multiply(x, 4.0)
        u = np.multiply(t, c)
        u += 1.0
        e *= u
        np.multiply(q, c, out=u)
        np.multiply(t, t, out=t)
        np.subtract(1.0, t, out=t)
        u *= t
        e += u
        q *= e
        return q

    def hess(self, x):
        """:math:`f''(x)` (vectorised); ``x`` as for :meth:`value`, the limit at :math:`\\pm\\infty` is ``inf``."""
        out = _evaluate("x", _points("x", x), self._hess, lambda x: np.inf)
        return out if np.ndim(out) else float(out)

    def _hess(self, x):
        c = self.tilt
        t = np.tanh(x)
        s2 = 1.0 - t * t                       # sech^2
        q = x * x - 1.0
        g = 1.0 + c * t
        # f = q^2 g:  f'' = (12x^2 - 4) g + 2 (4x q) g' + q^2 g'',  g' = c s2, g'' = -2 c t s2
        out = (12.0 * x * x - 4.0) * g + 8.0 * x * q * c * s2 - 2.0 * q * q * c * t * s2
        return out if out.ndim else float(out)

    # ------------------------------------------------------------------ critical points
    @property
    def minima(self) -> tuple[float, float]:
        """The two minimisers ``(-1.0, 1.0)`` (both with value 0)."""
        return (-1.0, 1.0)

    @property
    def saddle(self) -> float:
        """The barrier top :math:`s\\in(-1,1)`, the root of :math:`f'` (Brent's method, to 1e-14)."""
        return float(brentq(self.grad, -1.0 + 1e-9, 1.0 - 1e-9, xtol=1e-15, rtol=4 * np.finfo(float).eps))

    @property
    def barrier(self) -> float:
        """:math:`\\Delta F=f(s)-f(\\pm1)=f(s)`."""
        return float(self.value(self.saddle))

    @property
    def flat_minimum(self) -> float:
        """The minimiser with the smaller curvature (−1 for ``tilt > 0``)."""
        return -1.0 if self.tilt >= 0 else 1.0

    @property
    def sharp_minimum(self) -> float:
        """The minimiser with the larger curvature (+1 for ``tilt > 0``)."""
        return -self.flat_minimum

    def laplace_flat_mass(self) -> float:
        """The :math:`D\\to0` limit of the Gibbs mass of the flat basin,
        :math:`\\sqrt{f''_{\\rm sharp}}/(\\sqrt{f''_{\\rm sharp}}+\\sqrt{f''_{\\rm flat}})` (equal depths)."""
        kf, ks = self.hess(self.flat_minimum), self.hess(self.sharp_minimum)
        return math.sqrt(ks) / (math.sqrt(ks) + math.sqrt(kf))

    def barrier_orbit_action(self, minimum: float, *, n: int = 20001) -> float:
        """Action :math:`J=\\oint p\\,dx=2\\int\\sqrt{2(\\Delta F-f(x))}\\,dx` of the orbit at the barrier energy.

        The orbit of :math:`\\ddot x=-f'(x)` with energy :math:`\\Delta F=f(s)` in the well of ``minimum``
        runs from the barrier top :math:`s` to the turning point beyond the minimum where
        :math:`f=\\Delta F`. Kramers' moderate-to-strong friction law holds while the energy lost per
        oscillation, :math:`\\gamma I/T` with :math:`I` the action in the variables of the kinetic
        equation, is large (Hänggi, Talkner, Borkovec, Rev. Mod. Phys. 62 (1990), Sec. IV). For SGDM
        (:math:`U=cf`) :math:`I=\\sqrt c\\,J`. Used by ``book/fokker_planck/04_momentum``.

        Parameters
        ----------
        minimum : float
            ``-1.0`` or ``1.0``.
        n : int
            Points of the composite trapezoid rule (the integrand has square-root end points).

        Returns
        -------
        float
        """
        if not (_is_number(minimum) and minimum in (-1.0, 1.0)):
            raise ValueError(f"minimum={minimum!r} must be -1.0 or 1.0")
        if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 101):
            raise ValueError(f"n={n!r} must be an integer >= 101")
        s, dF = self.saddle, self.barrier
        far = float(brentq(lambda x: float(self.value(x)) - dF, minimum, minimum + math.copysign(3.0, minimum)))
        xs = np.linspace(min(s, far), max(s, far), int(n))
        return float(2.0 * np.trapezoid(np.sqrt(np.clip(2.0 * (dF - self.value(xs)), 0.0, None)), xs))


@dataclass(frozen=True)
class DoubleWell2D:
    """:math:`f(x,y)=f_{1}(x)+\\tfrac12\\,\\omega(x)\\,y^2`, :math:`\\omega(x)=\\omega_0(1+b\\tanh x)`.

    Along :math:`y=0` the critical points are those of the 1-D well ``TiltedDoubleWell(tilt)``, and
    the Hessian there is :math:`\\mathrm{diag}(f_1''(x),\\omega(x))`, so the Eyring–Kramers
    determinant ratio has a closed form.

    Parameters
    ----------
    tilt : float
        The 1-D tilt :math:`c\\in(-1,1)`.
    stiffness : float
        :math:`\\omega_0>0`.
    stiffness_tilt : float
        :math:`b\\in(-1,1)`: the transverse stiffness is :math:`\\omega_0(1\\pm b\\tanh1)` at the wells.
    """

    tilt: float = 0.6
    stiffness: float = 4.0
    stiffness_tilt: float = -0.6

    def __post_init__(self):
        TiltedDoubleWell(self.tilt)
        if not (_is_number(self.stiffness) and math.isfinite(self.stiffness) and self.stiffness > 0):
            raise ValueError(f"stiffness={self.stiffness!r} must be > 0")
        if not (_is_number(self.stiffness_tilt) and -1.0 < self.stiffness_tilt < 1.0):
            raise ValueError(f"stiffness_tilt={self.stiffness_tilt!r} must lie in (-1, 1)")

    @property
    def line(self) -> TiltedDoubleWell:
        """The 1-D well along :math:`y=0`."""
        return TiltedDoubleWell(self.tilt)

    def omega(self, x):
        """Transverse stiffness :math:`\\omega(x)` (``x`` without NaN; ``inf`` allowed)."""
        x = _points("x", x)
        if np.any(np.isnan(x)):
            raise ValueError("x must not contain NaN")
        return self._omega(x)

    def _omega(self, x):
        return self.stiffness * (1.0 + self.stiffness_tilt * np.tanh(x))

    @staticmethod
    def _pairs(z) -> np.ndarray:
        z = _points("z", z)
        if z.ndim == 0 or z.shape[-1] != 2:
            raise ValueError(f"z must have shape (..., 2), got {z.shape}")
        return z

    def value(self, z):
        """:math:`f` at points ``z`` of shape ``(..., 2)`` (``inf`` allowed: the limit; NaN is a ValueError)."""
        return _evaluate("z", self._pairs(z), self._value, lambda z: np.inf)

    def _value(self, z):
        x, y = z[..., 0], z[..., 1]
        return self.line._value(x) + 0.5 * self._omega(x) * y * y

    def grad(self, z):
        """:math:`\\nabla f` at points ``z`` of shape ``(..., 2)`` (``z`` as for :meth:`value`;
        the limit where a component overflows is the sign of that component times ``inf``)."""
        return _evaluate("z", self._pairs(z), self._grad, lambda z: np.sign(z) * np.inf)

    def _grad(self, z):
        x, y = z[..., 0], z[..., 1]
        t = np.tanh(x)
        domega = self.stiffness * self.stiffness_tilt * (1.0 - t * t)
        gx = self.line._grad(x) + 0.5 * domega * y * y
        gy = self.stiffness * (1.0 + self.stiffness_tilt * t) * y
        return np.stack([gx, gy], axis=-1)

    def hess_at_axis(self, x: float) -> np.ndarray:
        """The Hessian at :math:`(x, 0)`: :math:`\\mathrm{diag}(f_1''(x), \\omega(x))`."""
        if not (_is_number(x) and math.isfinite(x)):
            raise ValueError(f"x={x!r} must be a finite number")
        return np.diag([float(self.line.hess(x)), float(self.omega(x))])

    def det_factor(self, minimum: float) -> float:
        """Eyring–Kramers over one-dimensional Kramers time for escape from ``minimum``.

        With the Hessians :math:`\\mathrm{diag}(f_1'',\\omega)` at the minimum :math:`m` and the
        saddle :math:`s`, the determinant ratio of the Eyring–Kramers law
        (:func:`sgdlab.sde.escape.eyring_kramers_time`) divided by the 1-D Kramers law
        (:func:`sgdlab.sde.escape.kramers_time`, transverse direction ignored) is
        :math:`\\sqrt{\\omega(s)/\\omega(m)}`. Used by ``book/fokker_planck/02_escape``.

        Parameters
        ----------
        minimum : float
            ``-1.0`` or ``1.0``.
        """
        if not (_is_number(minimum) and minimum in (-1.0, 1.0)):
            raise ValueError(f"minimum={minimum!r} must be -1.0 or 1.0")
        return math.sqrt(float(self.omega(self.line.saddle)) / float(self.omega(minimum)))
