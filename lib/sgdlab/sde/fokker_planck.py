"""One-dimensional Fokker–Planck equations by a finite-volume (SQRA / Scharfetter–Gummel) scheme.

The SDE :math:`dX=-f'(X)\\,dt+\\sqrt{2D(X)}\\,dW` (Itô; time :math:`t=k\\eta` for SGD, temperature
:math:`D=\\eta\\sigma^2/(2B)`) has the Fokker–Planck equation

.. math::

    \\partial_t p = \\partial_x\\bigl(f'p\\bigr)+\\partial_x^2\\bigl(Dp\\bigr)
                 = \\partial_x\\Bigl(D\\,e^{-\\varphi}\\,\\partial_x\\bigl(e^{\\varphi}p\\bigr)\\Bigr),
    \\qquad \\varphi(x)=\\int^x\\frac{f'}{D}\\,dy+\\log D(x),

whose zero-flux stationary law is :math:`p_\\infty\\propto e^{-\\varphi}` (the Gibbs law
:math:`e^{-f/D}` when :math:`D` is constant). On cells of width :math:`h` with centres :math:`x_i`,
the square-root approximation (SQRA) jumps to a neighbour at rate

.. math::

    r_{i\\to i\\pm1} = \\frac{D_{i\\pm1/2}}{h^2}\\,e^{-(\\varphi_{i\\pm1}-\\varphi_i)/2},

a Markov generator that conserves mass, keeps reflecting walls at the ends and has the discrete
Gibbs law :math:`\\pi_i\\propto e^{-\\varphi_i}` as its exact stationary state (detailed balance).
Conjugated by :math:`\\pi^{1/2}` it is a symmetric tridiagonal matrix with off-diagonal
:math:`D_{i+1/2}/h^2`, so its relaxation spectrum and time evolution come from a tridiagonal
eigensolver with no overflow, whatever :math:`\\Delta F/D`.

Used by ``book/fokker_planck/01_sde_and_fokker_planck``, ``03_flat_minima_and_time`` and
``04_momentum``.

References
----------
Dai & Zhu, arXiv 2112.00987 (2021), the Fokker–Planck equation of SGD and its stationary law;
Lie, Fackeldey, Weber, *A square root approximation of transition rates for a Markov state model*,
SIAM J. Matrix Anal. Appl. 34 (2013) (the SQRA rates).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sps
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import expm_multiply

from ._validate import float_array as _float_array

__all__ = ["FokkerPlanck1D", "ks_distance", "ks_critical", "ks_null_sd", "gibbs_basin_mass"]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_finite_positive(name: str, value) -> float:
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def _check_finite(name: str, value) -> float:
    if not (_is_number(value) and math.isfinite(value)):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return float(value)




def _finite_values(name: str, values, shape) -> np.ndarray:
    """The output of a user callable, checked: finite, of ``shape``."""
    out = np.asarray(values, dtype=float)
    if out.shape != shape or not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must return finite numbers of the shape of its input on [lo, hi]")
    return out


class FokkerPlanck1D:
    """Finite-volume Fokker–Planck generator of :math:`dX=-f'dt+\\sqrt{2D}\\,dW` on ``[lo, hi]``.

    Parameters
    ----------
    grad : callable
        :math:`f'`, vectorised.
    temperature : float or callable
        :math:`D>0`, constant, or a vectorised function :math:`D(x)>0` (state-dependent noise;
        Itô convention, stationary law :math:`e^{-\\varphi}` with :math:`\\varphi=\\int f'/D+\\log D`).
    lo, hi : float
        The domain; the walls reflect (choose them where :math:`p_\\infty` is negligible).
    n_cells : int
        Number of cells (≥ 3).
    value : callable, optional
        :math:`f`, vectorised. With constant ``temperature`` it gives :math:`\\varphi=f/D` exactly;
        otherwise :math:`\\varphi` is integrated from ``grad`` by 8-point Gauss–Legendre per cell.

    Attributes
    ----------
    x : ndarray
        Cell centres; ``h`` the cell width; ``phi`` the dimensionless potential at the centres.

    Notes
    -----
    Probabilities are cell masses (summing to one), so the density is ``p / h``.
    """

    def __init__(self, grad: Callable, temperature: float | Callable, lo: float, hi: float,
                 n_cells: int, *, value: Callable | None = None):
        if not callable(grad):
            raise ValueError("grad must be a callable f'(x)")
        if not (callable(temperature) or _is_number(temperature)):
            raise ValueError(f"temperature={temperature!r} must be a number > 0 or a callable D(x)")
        if value is not None and not callable(value):
            raise ValueError(f"value={value!r} must be a callable f(x) or None")
        lo, hi = _check_finite("lo", lo), _check_finite("hi", hi)
        if not hi > lo:
            raise ValueError(f"lo={lo!r}, hi={hi!r}: need finite lo < hi")
        if not (_is_int(n_cells) and n_cells >= 3):
            raise ValueError(f"n_cells={n_cells!r} must be an integer >= 3")
        self.lo, self.hi, self.n = float(lo), float(hi), int(n_cells)
        self.h = (self.hi - self.lo) / self.n
        self.x = self.lo + self.h * (np.arange(self.n) + 0.5)
        faces = self.x[:-1] + 0.5 * self.h
        if callable(temperature):
            d_centre = _finite_values("temperature", temperature(self.x), self.x.shape)
            d_face = _finite_values("temperature", temperature(faces), faces.shape)
            if not (np.all(d_centre > 0) and np.all(d_face > 0)):
                raise ValueError("temperature(x) must be finite and > 0 on [lo, hi]")
            # ∫_{x_i}^{x_{i+1}} f'/D by Gauss–Legendre, cumulated
            mid = 0.5 * (self.x[:-1] + self.x[1:])
            nodes = mid[:, None] + 0.5 * self.h * _GL_NODES[None, :]
            integrand = (_finite_values("grad", grad(nodes), nodes.shape)
                         / _finite_values("temperature", temperature(nodes), nodes.shape))
            steps = 0.5 * self.h * integrand @ _GL_WEIGHTS
            self.phi = np.concatenate([[0.0], np.cumsum(steps)]) + np.log(d_centre)
            self.temperature = None
        else:
            temp = _check_finite_positive("temperature", temperature)
            d_face = np.full(self.n - 1, temp)
            if value is not None:
                self.phi = _finite_values("value", value(self.x), self.x.shape) / temp
            else:
                mid = 0.5 * (self.x[:-1] + self.x[1:])
                nodes = mid[:, None] + 0.5 * self.h * _GL_NODES[None, :]
                steps = 0.5 * self.h * _finite_values("grad", grad(nodes), nodes.shape) @ _GL_WEIGHTS / temp
                self.phi = np.concatenate([[0.0], np.cumsum(steps)])
            self.temperature = temp
        if not np.all(np.isfinite(self.phi)):
            raise ValueError("temperature is too low for [lo, hi]: the potential f/D is not finite; shrink the domain")
        self.d_face = d_face
        dphi = np.diff(self.phi)
        if not np.max(np.abs(dphi)) < 1400.0:
            raise ValueError("n_cells is too small for this temperature: f/D changes by more than 1400 between "
                             "neighbouring cells and the jump rates leave the float64 range; refine the grid")
        self.rate_up = d_face / self.h**2 * np.exp(-0.5 * dphi)     # i -> i+1
        self.rate_down = d_face / self.h**2 * np.exp(0.5 * dphi)    # i+1 -> i
        self._eig = None

    # ------------------------------------------------------------------ operators
    def generator(self) -> sps.csr_matrix:
        """The sparse generator :math:`L` with :math:`dp/dt=Lp` (columns sum to zero)."""
        out = np.zeros(self.n)
        out[:-1] += self.rate_up
        out[1:] += self.rate_down
        return sps.diags([self.rate_down, -out, self.rate_up], offsets=[1, 0, -1], format="csr")

    def _tridiagonal(self) -> tuple[np.ndarray, np.ndarray]:
        diag = np.zeros(self.n)
        diag[:-1] -= self.rate_up
        diag[1:] -= self.rate_down
        off = self.d_face / self.h**2            # sqrt(rate_up * rate_down)
        return diag, off

    def stationary(self) -> np.ndarray:
        """The exact stationary law of the scheme, :math:`\\pi_i\\propto e^{-\\varphi_i}` (cell masses)."""
        w = np.exp(-(self.phi - self.phi.min()))
        return w / w.sum()

    def relaxation_rates(self, k: int = 1) -> np.ndarray:
        """The ``k`` smallest non-zero relaxation rates :math:`0<\\lambda_1\\le\\dots\\le\\lambda_k`."""
        if not (_is_int(k) and 1 <= k < self.n):
            raise ValueError(f"k={k!r} must be an integer in [1, n_cells)")
        diag, off = self._tridiagonal()
        w = eigh_tridiagonal(diag, off, eigvals_only=True, select="i",
                             select_range=(self.n - 1 - k, self.n - 1))
        return np.sort(-w)[1:]

    def spectral_gap(self) -> float:
        """:math:`\\lambda_1`, the slowest relaxation rate (inverse relaxation time)."""
        return float(self.relaxation_rates(1)[0])

    def evolve(self, p0: np.ndarray, times: Sequence[float], *, method: str = "eig") -> np.ndarray:
        """Cell masses :math:`p(t)=e^{tL}p_0` at each of ``times``.

        Parameters
        ----------
        p0 : ndarray, shape (n_cells,)
            Initial cell masses (non-negative, summing to one).
        times : sequence of float
            Times ≥ 0 (SDE time, :math:`t=k\\eta`).
        method : {"eig", "expm"}
            ``"eig"``: full eigendecomposition of the symmetrised tridiagonal operator (any ``t`` at
            the same cost); ``"expm"``: :func:`scipy.sparse.linalg.expm_multiply` on :math:`L`.

        Returns
        -------
        ndarray, shape (len(times), n_cells)
        """
        p0 = _float_array("p0", p0)
        if (p0.shape != (self.n,) or not np.all(np.isfinite(p0)) or np.any(p0 < 0)
                or not math.isclose(p0.sum(), 1.0, rel_tol=1e-9)):
            raise ValueError("p0 must be non-negative cell masses of shape (n_cells,) summing to 1")
        times = _float_array("times", times)
        if times.ndim != 1 or np.any(~np.isfinite(times)) or np.any(times < 0):
            raise ValueError("times must be a 1-d sequence of finite numbers >= 0")
        if not isinstance(method, str):
            raise ValueError(f"method={method!r}: use 'eig' or 'expm'")
        if method == "expm":
            L = self.generator().tocsc()
            return np.stack([expm_multiply(L * t, p0) if t > 0 else p0.copy() for t in times])
        if method != "eig":
            raise ValueError(f"method={method!r}: use 'eig' or 'expm'")
        if self._eig is None:
            self._eig = eigh_tridiagonal(*self._tridiagonal())
        w, V = self._eig
        half = 0.5 * (self.phi - self.phi.min())
        sqrt_pi = np.exp(-half)
        with np.errstate(over="ignore"):
            q = np.where(p0 > 0, p0 * np.exp(np.minimum(half, 700.0)), 0.0)
        coef = V.T @ q
        out = (np.exp(np.outer(times, w)) * coef[None, :]) @ V.T * sqrt_pi[None, :]
        return np.clip(out, 0.0, None)

    def normal_masses(self, mean: float, std: float) -> np.ndarray:
        """Cell masses of the normal law :math:`N(\\mu,s^2)`, its density at the cell centres normalised.

        The discretised start law of particles started at :math:`\\mu+s\\,\\xi`, :math:`\\xi\\sim N(0,1)`
        (the chapters start chains at the barrier top this way), to feed :meth:`evolve`.

        Parameters
        ----------
        mean : float
            :math:`\\mu`, inside ``[lo, hi]``.
        std : float
            :math:`s>0`; resolve it with a few cells (``std >= h``) for an accurate start.
        """
        std = _check_finite_positive("std", std)
        if not (_is_number(mean) and self.lo <= mean <= self.hi):
            raise ValueError(f"mean={mean!r} must lie in [lo, hi] = [{self.lo}, {self.hi}]")
        p = np.exp(-((self.x - mean) ** 2) / (2.0 * std**2))
        if not p.sum() > 0:
            raise ValueError("std is too small for the grid: no cell centre carries mass")
        return p / p.sum()

    # ------------------------------------------------------------------ summaries
    def cdf_at_faces(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Faces ``[lo, ..., hi]`` and the cumulative mass at them (mass uniform within a cell)."""
        p = self._masses(p)
        faces = self.lo + self.h * np.arange(self.n + 1)
        return faces, np.concatenate([[0.0], np.cumsum(p)])

    def _masses(self, p) -> np.ndarray:
        p = _float_array("p", p)
        if p.shape != (self.n,) or not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError("p must be finite non-negative cell masses of shape (n_cells,)")
        return p

    def mass_below(self, p: np.ndarray, boundary: float) -> float:
        """Mass of ``p`` to the left of ``boundary`` (linear within the straddling cell)."""
        boundary = _check_finite("boundary", boundary)
        faces, cdf = self.cdf_at_faces(p)
        return float(np.interp(boundary, faces, cdf))


def ks_distance(samples: np.ndarray, faces: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between ``samples`` and a piecewise-linear CDF.

    Parameters
    ----------
    samples : ndarray
        1-D sample.
    faces, cdf : ndarray
        Increasing abscissae and the CDF at them (e.g. from :meth:`FokkerPlanck1D.cdf_at_faces`).
    """
    s = np.sort(_float_array("samples", samples).ravel())
    if s.size == 0:
        raise ValueError("samples must not be empty")
    if not np.all(np.isfinite(s)):
        raise ValueError("samples must be finite")
    faces, cdf = _float_array("faces", faces), _float_array("cdf", cdf)
    if faces.ndim != 1 or faces.size < 2 or not np.all(np.isfinite(faces)) or np.any(np.diff(faces) <= 0):
        raise ValueError("faces must be a finite increasing 1-d array of at least 2 points")
    if (cdf.shape != faces.shape or not np.all(np.isfinite(cdf)) or np.any(cdf < 0) or np.any(np.diff(cdf) < 0)
            or not cdf[-1] > 0):
        raise ValueError("cdf must be finite, non-negative, non-decreasing, of the shape of faces, with cdf[-1] > 0")
    F = np.interp(s, faces, cdf / cdf[-1])
    n = s.size
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - F), np.max(F - (i - 1) / n)))


def ks_critical(n_samples: int, alpha: float) -> float:
    """Critical value of the one-sample Kolmogorov–Smirnov statistic: :math:`P(D_n>d)=\\alpha` under the null.

    Exact for finite :math:`n` (:data:`scipy.stats.kstwo`); :math:`\\approx1.36/\\sqrt n` at
    :math:`\\alpha=0.05`. A check at this value keeps its power as ``n_samples`` grows, unlike a fixed
    threshold.

    Parameters
    ----------
    n_samples : int
        :math:`n\\ge1`.
    alpha : float
        Level in (0, 1); for :math:`m` simultaneous tests at family-wise level :math:`a` pass
        :math:`a/m` (Bonferroni).

    Used by ``book/fokker_planck/01_sde_and_fokker_planck`` and ``03_flat_minima_and_time``.
    """
    from scipy.stats import kstwo

    if not (_is_int(n_samples) and n_samples >= 1):
        raise ValueError(f"n_samples={n_samples!r} must be an integer >= 1")
    if not (_is_number(alpha) and 0 < alpha < 1):
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1)")
    return float(kstwo.isf(float(alpha), int(n_samples)))


def ks_null_sd(n_samples: int) -> float:
    """Standard deviation of the KS statistic under the null, :math:`\\approx0.260/\\sqrt n` (Kolmogorov's law).

    The scale of a KS distance's sampling error, recorded as its standard error.
    """
    from scipy.stats import kstwobign

    if not (_is_int(n_samples) and n_samples >= 1):
        raise ValueError(f"n_samples={n_samples!r} must be an integer >= 1")
    return float(kstwobign.std() / math.sqrt(int(n_samples)))


def gibbs_basin_mass(value: Callable, temperature: float, boundary: float, lo: float, hi: float,
                     *, n: int = 40001) -> float:
    """Gibbs mass :math:`\\int_{lo}^{b}e^{-f/D}\\big/\\int_{lo}^{hi}e^{-f/D}` by composite Simpson.

    Used for the flat-basin mass (``03_flat_minima_and_time``), independent of the finite-volume scheme.
    """
    from scipy.integrate import simpson

    if not callable(value):
        raise ValueError(f"value={value!r} must be a callable f(x)")
    temperature = _check_finite_positive("temperature", temperature)
    lo, boundary, hi = _check_finite("lo", lo), _check_finite("boundary", boundary), _check_finite("hi", hi)
    if not lo < boundary < hi:
        raise ValueError("need lo < boundary < hi")
    if not (_is_int(n) and n >= 3):
        raise ValueError(f"n={n!r} must be an integer >= 3")
    xl = np.linspace(lo, boundary, n)
    xr = np.linspace(boundary, hi, n)
    fl, fr = _finite_values("value", value(xl), xl.shape), _finite_values("value", value(xr), xr.shape)
    ref = min(fl.min(), fr.min())
    a = simpson(np.exp(-(fl - ref) / temperature), x=xl)
    b = simpson(np.exp(-(fr - ref) / temperature), x=xr)
    return float(a / (a + b))
