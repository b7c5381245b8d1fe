"""Escape times: exact 1-D mean first-passage times, Kramers / Eyring–Kramers laws, and rates
estimated from simulations with censoring.

For :math:`dX=-f'(X)\\,dt+\\sqrt{2D}\\,dW` with a reflecting wall at :math:`a<x_0` the mean time to
reach :math:`b>x_0` is

.. math::

    T(x_0\\to b)=\\frac1D\\int_{x_0}^{b}e^{f(y)/D}\\int_{a}^{y}e^{-f(z)/D}\\,dz\\,dy ,

and Laplace's method on the two integrals gives Kramers' law
:math:`T\\approx 2\\pi\\,e^{\\Delta F/D}/\\sqrt{f''(m)\\,|f''(s)|}`, or in :math:`d` dimensions the
Eyring–Kramers law :math:`(2\\pi/|\\lambda_-(s)|)\\sqrt{|\\det\\nabla^2f(s)|/\\det\\nabla^2 f(m)}\\,e^{\\Delta F/D}`.
With :math:`D=\\eta\\sigma^2/(2B)` the exponent is :math:`2B\\Delta F/(\\eta\\sigma^2)`.

Used by ``book/fokker_planck/02_escape``, ``03_flat_minima_and_time`` and ``04_momentum``.

References
----------
Dai & Zhu, arXiv 2112.00987 (2021) (escape time of SGD); Kramers, Physica 7 (1940);
Hänggi, Talkner, Borkovec, Rev. Mod. Phys. 62 (1990), eq. (4.21) (moderate-friction rate);
Bovier, Eckhoff, Gayrard, Klein, JEMS 6 (2004) (Eyring–Kramers); Berglund, arXiv 1106.5799.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = [
    "mfpt_1d", "kramers_time", "eyring_kramers_time", "kramers_time_kinetic",
    "sgdm_friction", "sgdm_kinetic_parameters", "sgdm_escape_factor", "kramers_time_sgdm",
    "CensoredRate", "censored_exponential", "escape_rate", "mfpt_grid_2d",
]


def _positive(name: str, value) -> float:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def mfpt_1d(value: Callable, x0: float, target: float, temperature: float, *,
            wall: float | None = None, n: int = 40001) -> float:
    """Exact mean first-passage time of :math:`dX=-f'dt+\\sqrt{2D}dW` from ``x0`` to ``target``.

    Parameters
    ----------
    value : callable
        :math:`f`, vectorised.
    x0, target : float
        Start and target (either order; for ``target < x0`` the problem is mirrored).
    temperature : float
        :math:`D>0`.
    wall : float, optional
        Reflecting wall on the far side of ``x0`` (away from ``target``). Default: the first point,
        in steps of 0.05 from ``x0``, where :math:`(f-f(x_0))/D>60` (so that the wall is invisible).
    n : int
        Points of the composite trapezoid/Simpson quadrature (relative error ~1e-8 for smooth f).

    Returns
    -------
    float
        :math:`T(x_0\\to b)` in SDE time (:math:`t=k\\eta` for SGD).
    """
    temperature = _positive("temperature", temperature)
    if not (math.isfinite(x0) and math.isfinite(target)) or x0 == target:
        raise ValueError("x0 and target must be finite and different")
    if not (isinstance(n, (int, np.integer)) and n >= 101):
        raise ValueError(f"n={n!r} must be an integer >= 101")
    sign = 1.0 if target > x0 else -1.0
    g = (lambda y: value(sign * np.asarray(y))) if sign < 0 else value
    a0, b = sign * x0, sign * target
    if wall is None:
        f0 = float(g(a0))
        a = a0
        for _ in range(10000):
            a -= 0.05
            if (float(g(a)) - f0) / temperature > 60.0:
                break
        else:  # pragma: no cover - a landscape that never rises
            raise ValueError("no wall found: f does not grow on the far side of x0; pass wall=")
    else:
        a = sign * wall
        if not a < a0:
            raise ValueError("wall must lie on the far side of x0 from target")
    y = np.linspace(a, b, n)
    fy = np.asarray(g(y), dtype=float)
    ref = fy[(y >= a0)].max()          # scale by the largest value on the outer range
    inner_w = np.exp(-(fy - ref) / temperature)
    dy = y[1] - y[0]
    inner = np.concatenate([[0.0], np.cumsum(0.5 * (inner_w[1:] + inner_w[:-1]) * dy)])
    outer = np.exp((fy - ref) / temperature) * inner
    mask = y >= a0
    yo, oo = y[mask], outer[mask]
    # start the outer integral exactly at a0 (interpolate the first partial interval)
    j = np.argmax(mask)
    if y[j] > a0 and j > 0:
        frac = (y[j] - a0) / dy
        o_start = outer[j] + (outer[j - 1] - outer[j]) * frac
        partial = 0.5 * (o_start + outer[j]) * (y[j] - a0)
    else:
        partial = 0.0
    total = partial + np.sum(0.5 * (oo[1:] + oo[:-1]) * np.diff(yo))
    return float(total / temperature)


def kramers_time(curv_min: float, curv_saddle: float, barrier: float, temperature):
    """Kramers' mean transition time :math:`2\\pi e^{\\Delta F/D}/\\sqrt{f''(m)|f''(s)|}` (1-D).

    ``curv_saddle`` may be given with either sign; ``temperature`` may be an array. Valid for
    :math:`\\Delta F/D\\gtrsim4`--5 (the time to reach the *other* well; reaching the saddle itself
    takes about half of it).
    """
    km = _positive("curv_min", curv_min)
    ks = _positive("|curv_saddle|", abs(curv_saddle))
    _positive("barrier", barrier)
    D = np.asarray(temperature, dtype=float)
    if np.any(~(D > 0)):
        raise ValueError("temperature must be > 0")
    out = 2.0 * np.pi / math.sqrt(km * ks) * np.exp(barrier / D)
    return out if out.ndim else float(out)


def eyring_kramers_time(hess_min, hess_saddle, barrier: float, temperature):
    """Eyring–Kramers time :math:`\\frac{2\\pi}{|\\lambda_-(s)|}\\sqrt{\\frac{|\\det\\nabla^2 f(s)|}{\\det\\nabla^2 f(m)}}e^{\\Delta F/D}`.

    Parameters
    ----------
    hess_min, hess_saddle : array_like, shape (d, d)
        Hessians at the minimum (positive definite) and at the index-1 saddle.
    """
    Hm = np.atleast_2d(np.asarray(hess_min, dtype=float))
    Hs = np.atleast_2d(np.asarray(hess_saddle, dtype=float))
    if Hm.shape != Hs.shape or Hm.shape[0] != Hm.shape[1]:
        raise ValueError("hess_min and hess_saddle must be square matrices of one shape")
    em = np.linalg.eigvalsh(0.5 * (Hm + Hm.T))
    es = np.linalg.eigvalsh(0.5 * (Hs + Hs.T))
    if np.any(em <= 0):
        raise ValueError("hess_min must be positive definite")
    if not (es[0] < 0 and np.all(es[1:] > 0)):
        raise ValueError("hess_saddle must have exactly one negative eigenvalue")
    _positive("barrier", barrier)
    D = np.asarray(temperature, dtype=float)
    pref = 2.0 * np.pi / abs(es[0]) * math.sqrt(abs(np.prod(es)) / np.prod(em))
    out = pref * np.exp(barrier / D)
    return out if out.ndim else float(out)


def kramers_time_kinetic(curv_min: float, curv_saddle: float, barrier: float, temperature,
                         friction: float):
    """Kramers' moderate-to-strong friction time for the kinetic (underdamped) Langevin equation.

    For :math:`dX=V\\,dt`, :math:`dV=-\\gamma V\\,dt-U'(X)\\,dt+\\sqrt{2\\gamma T}\\,dW` the rate is
    :math:`k=\\frac{\\lambda_+}{\\omega_b}\\frac{\\omega_0}{2\\pi}e^{-\\Delta U/T}`, with
    :math:`\\omega_0^2=U''(m)`, :math:`\\omega_b^2=|U''(s)|` and
    :math:`\\lambda_+=\\sqrt{\\gamma^2/4+\\omega_b^2}-\\gamma/2`; this returns :math:`1/k`. As
    :math:`\\gamma\\to\\infty`, :math:`\\gamma/k` tends to the overdamped :func:`kramers_time`.

    References
    ----------
    Hänggi, Talkner, Borkovec, Rev. Mod. Phys. 62, 251 (1990), eq. (4.21).
    """
    w0 = math.sqrt(_positive("curv_min", curv_min))
    wb = math.sqrt(_positive("|curv_saddle|", abs(curv_saddle)))
    gamma = _positive("friction", friction)
    _positive("barrier", barrier)
    T = np.asarray(temperature, dtype=float)
    lam = math.sqrt(gamma**2 / 4 + wb**2) - gamma / 2
    out = 2.0 * np.pi * wb / (lam * w0) * np.exp(barrier / T)
    return out if out.ndim else float(out)


def _momentum_in_unit_interval(momentum) -> float:
    if not (isinstance(momentum, (int, float, np.floating)) and 0.0 <= float(momentum) < 1.0):
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")
    return float(momentum)


def sgdm_friction(lr: float, momentum: float) -> float:
    """Friction :math:`c=(1-\\beta)/\\eta` of normalised SGDM in SDE time :math:`t=k\\eta`.

    Normalised SGDM :math:`m\\leftarrow\\beta m+(1-\\beta)g`, :math:`x\\leftarrow x-\\eta m` with
    :math:`1-\\beta=c\\eta` is, for :math:`\\eta\\to0` at fixed :math:`c`, the kinetic Langevin equation
    of :func:`sgdm_kinetic_parameters`. ``momentum=0`` (plain SGD) returns ``inf``: the overdamped limit.

    Parameters
    ----------
    lr : float
        :math:`\\eta>0`, the effective learning rate of the normalised form.
    momentum : float
        :math:`\\beta\\in[0,1)`.

    Used by ``book/fokker_planck/04_momentum``.
    """
    lr = _positive("lr", lr)
    beta = _momentum_in_unit_interval(momentum)
    return math.inf if beta == 0.0 else (1.0 - beta) / lr


def sgdm_kinetic_parameters(lr: float, momentum: float, temperature: float) -> dict:
    """Map normalised SGDM on :math:`f` at temperature :math:`D` to the generic kinetic Langevin equation.

    With :math:`v=-m` and :math:`c=(1-\\beta)/\\eta`, SGDM is the Euler discretisation (step
    :math:`\\eta`) of :math:`dX=V\\,dt`, :math:`dV=-cV\\,dt-c f'(X)\\,dt+c\\sqrt{2D}\\,dW`, which is
    :math:`dV=-\\gamma V\\,dt-U'(X)\\,dt+\\sqrt{2\\gamma T}\\,dW` with

    .. math:: \\gamma=c,\\qquad U=c\\,f,\\qquad T=c\\,D .

    Its stationary law :math:`\\propto e^{-(U+v^2/2)/T}=e^{-f/D}\\,e^{-v^2/(2cD)}` has the overdamped
    Gibbs law as its :math:`x`-marginal.

    Returns
    -------
    dict
        ``friction`` (:math:`\\gamma`), ``potential_scale`` (:math:`U/f`), ``kinetic_temperature``
        (:math:`T`), ``velocity_variance`` (stationary :math:`\\mathrm{Var}\\,v=T`).

    References
    ----------
    Dai & Zhu, arXiv 2112.00987 (2021) (momentum and the kinetic Fokker–Planck equation);
    Hänggi, Talkner, Borkovec, Rev. Mod. Phys. 62 (1990). Used by ``book/fokker_planck/04_momentum``.
    """
    c = sgdm_friction(lr, momentum)
    if not math.isfinite(c):
        raise ValueError("momentum=0 has no kinetic limit (it is the overdamped SDE); use momentum > 0")
    D = _positive("temperature", temperature)
    return {"friction": c, "potential_scale": c, "kinetic_temperature": c * D, "velocity_variance": c * D}


def sgdm_escape_factor(curv_saddle: float, friction):
    """Kramers' ratio :math:`\\tau_{\\rm SGDM}/\\tau_{\\rm SGD}=|f''(s)|/\\lambda_+(c)` at equal :math:`\\eta`.

    For the kinetic equation of :func:`sgdm_kinetic_parameters`, the moderate-friction Kramers rate
    (:func:`kramers_time_kinetic` with :math:`\\omega_b^2=c|f''(s)|`, :math:`\\gamma=c`) divided by the
    overdamped rate of :math:`dX=-f'dt+\\sqrt{2D}dW` is :math:`\\lambda_+/|f''(s)|` with
    :math:`\\lambda_+=\\sqrt{c^2/4+c|f''(s)|}-c/2`. The factor does not depend on the well, the barrier or
    :math:`D`; it is :math:`1` for :math:`c\\to\\infty` (plain SGD, or :math:`1-\\beta\\gg\\eta`) and grows
    like :math:`\\sqrt{|f''(s)|/c}` as :math:`c\\to0`.

    Parameters
    ----------
    curv_saddle : float
        :math:`f''(s)` (either sign).
    friction : float or array_like
        :math:`c>0`; ``inf`` gives 1.

    Used by ``book/fokker_planck/04_momentum``.
    """
    ks = _positive("|curv_saddle|", abs(curv_saddle))
    c = np.asarray(friction, dtype=float)
    if np.any(~(c > 0)):
        raise ValueError("friction must be > 0 (inf allowed)")
    with np.errstate(invalid="ignore", over="ignore"):
        # lambda_+ = c|k|/(sqrt(c^2/4 + c|k|) + c/2), written without cancellation
        lam = np.where(np.isinf(c), ks, ks / (np.sqrt(0.25 + ks / c) + 0.5))
    out = ks / lam
    return out if out.ndim else float(out)


def kramers_time_sgdm(curv_min: float, curv_saddle: float, barrier: float, temperature, *, lr: float,
                      momentum: float):
    """Kramers' escape time of normalised SGDM, in SDE time :math:`t=k\\eta`.

    :func:`kramers_time_kinetic` at :math:`\\gamma=c`, :math:`U=cf`, :math:`T=cD` (see
    :func:`sgdm_kinetic_parameters`); equal to :func:`kramers_time` times :func:`sgdm_escape_factor`,
    and to :func:`kramers_time` itself for ``momentum=0``.

    Parameters
    ----------
    curv_min, curv_saddle, barrier
        :math:`f''(m)`, :math:`f''(s)`, :math:`\\Delta F` of :math:`f` (not of :math:`U`).
    temperature : float or array_like
        :math:`D=\\eta\\sigma^2/(2B)`.
    lr, momentum
        :math:`\\eta`, :math:`\\beta`.

    Used by ``book/fokker_planck/04_momentum``.
    """
    c = sgdm_friction(lr, momentum)
    if not math.isfinite(c):
        return kramers_time(curv_min, curv_saddle, barrier, temperature)
    _positive("curv_min", curv_min)
    _positive("|curv_saddle|", abs(curv_saddle))
    _positive("barrier", barrier)
    D = np.asarray(temperature, dtype=float)
    if np.any(~(D > 0)):
        raise ValueError("temperature must be > 0")
    return kramers_time_kinetic(c * curv_min, c * abs(curv_saddle), c * barrier, c * D, c)


@dataclass(frozen=True)
class CensoredRate:
    """Censored-exponential estimate of an escape rate.

    Attributes
    ----------
    rate : float
        MLE :math:`\\hat k=\\#\\text{escaped}/\\text{total time at risk}`.
    mean_time : float
        :math:`1/\\hat k` (``inf`` when nothing escaped).
    mean_time_ci : tuple of float
        Exact (chi-square, Poisson-process) confidence interval for the mean time.
    n_escaped, n_chains : int
    exposure : float
        Total time at risk.
    """

    rate: float
    mean_time: float
    mean_time_ci: tuple[float, float]
    n_escaped: int
    n_chains: int
    exposure: float

    @property
    def rel_se(self) -> float:
        """Relative standard error of the rate, :math:`1/\\sqrt{\\#\\text{escaped}}`."""
        return 1.0 / math.sqrt(self.n_escaped) if self.n_escaped else math.inf


def censored_exponential(times, escaped, *, confidence: float = 0.95) -> CensoredRate:
    """Rate of an exponential escape time from right-censored observations.

    Parameters
    ----------
    times : array_like
        Escape time of each chain, or its censoring time (the horizon) if it did not escape.
    escaped : array_like of bool
        Whether each chain escaped.
    confidence : float
        Level of the interval for the mean time.

    Notes
    -----
    The log-likelihood :math:`k\\log\\lambda-\\lambda S` (``k`` escapes, exposure ``S``) gives
    :math:`\\hat\\lambda=k/S`; :math:`2\\lambda S` is :math:`\\chi^2`-distributed, which gives the exact
    interval :math:`[\\chi^2_{2k,\\alpha/2},\\chi^2_{2k+2,1-\\alpha/2}]/(2S)` for the rate. The mean over
    escaped chains alone would be biased low.
    """
    t = np.asarray(times, dtype=float).ravel()
    e = np.asarray(escaped, dtype=bool).ravel()
    if t.shape != e.shape or t.size == 0:
        raise ValueError("times and escaped must be non-empty and of equal length")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times must be finite and >= 0")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must lie in (0, 1)")
    k = int(e.sum())
    S = float(t.sum())
    if S <= 0:
        raise ValueError("total time at risk must be > 0")
    a = 1 - confidence
    lo_rate = _st.chi2.ppf(a / 2, 2 * k) / (2 * S) if k > 0 else 0.0
    hi_rate = _st.chi2.ppf(1 - a / 2, 2 * k + 2) / (2 * S)
    rate = k / S
    return CensoredRate(
        rate=rate,
        mean_time=(1.0 / rate) if k else math.inf,
        mean_time_ci=(1.0 / hi_rate, (1.0 / lo_rate) if lo_rate > 0 else math.inf),
        n_escaped=k, n_chains=int(t.size), exposure=S,
    )


def escape_rate(grad: Callable, x0, target, *, lr: float, horizon, groups=None, batch_size: int = 1,
                noise_std: float = 0.0, noise: str = "two-point", momentum: float = 0.0,
                seed: int | np.random.Generator = 0, check_every: int = 1,
                confidence: float = 0.95):
    """Escape rate of mini-batch SGD (or SGDM, or Euler–Maruyama) from right-censored first passages.

    Runs :func:`sgdlab.sde.particles.first_passage` to the largest horizon, censors each particle at
    its own horizon and returns the censored-exponential estimate (:func:`censored_exponential`):
    escapes divided by the total time at risk. A short horizon with many particles costs the same
    particle-steps as a long one with few, and far fewer Python steps; the escape law must be close
    to exponential over the horizon (start particles in the well's quasi-stationary law, e.g.
    :func:`sgdlab.sde.particles.harmonic_gibbs_start`, or let the transient be short against it).

    Parameters
    ----------
    grad, x0, target, lr, batch_size, noise_std, noise, momentum, seed, check_every
        As for :func:`sgdlab.sde.particles.first_passage`.
    horizon : float or array_like, shape (n,)
        Censoring time of each particle (SDE time).
    groups : array_like, shape (n,), optional
        A label per particle: one estimate per label (e.g. the two directions over a barrier run
        in one array).
    confidence : float
        Level of the interval of :class:`CensoredRate`.

    Returns
    -------
    CensoredRate, or dict of label -> CensoredRate when ``groups`` is given.

    Used by ``book/fokker_planck/02_escape`` and ``04_momentum``.
    """
    from .particles import first_passage

    x = np.asarray(x0, dtype=float)
    n = x.shape[0] if x.ndim else 0
    h = np.broadcast_to(np.asarray(horizon, dtype=float), (n,))
    if n == 0 or np.any(~np.isfinite(h)) or np.any(h <= 0):
        raise ValueError("horizon must be finite and > 0 for every particle")
    times, escaped = first_passage(grad, x, target, lr=lr, horizon=float(h.max()), batch_size=batch_size,
                                   noise_std=noise_std, noise=noise, momentum=momentum, seed=seed,
                                   check_every=check_every)
    escaped = escaped & (times <= h)
    times = np.minimum(times, h)
    if groups is None:
        return censored_exponential(times, escaped, confidence=confidence)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError("groups must have one label per particle")
    return {label: censored_exponential(times[g == label], escaped[g == label], confidence=confidence)
            for label in dict.fromkeys(g.tolist())}


def mfpt_grid_2d(value: Callable, start, target_x: float, temperature: float, *,
                 x_hi: float, y_half: float, nx: int = 241, ny: int = 121) -> float:
    """Mean first-passage time of a 2-D overdamped Langevin diffusion to the line :math:`x=x_*`.

    Solves the backward equation :math:`D\\Delta T-\\nabla f\\cdot\\nabla T=-1` with :math:`T=0` on
    :math:`x=x_*` (absorbing) and reflecting walls on the other three sides of the box
    :math:`[x_*,x_{\\rm hi}]\\times[-y_{\\rm half},y_{\\rm half}]`, discretised by the square-root
    approximation (SQRA) of :mod:`sgdlab.sde.fokker_planck` in two dimensions: on a grid of spacing
    :math:`h_x,h_y` a point jumps to a neighbour at rate
    :math:`(D/h^2)\\,e^{-(f_{\\rm nb}-f)/(2D)}`, a generator with the discrete Gibbs law as its
    reversible measure. The linear system is sparse (five-point stencil) and solved directly; the
    result is the MFPT at ``start`` (bilinear interpolation). It is the finite-temperature reference
    for the Eyring–Kramers law :func:`eyring_kramers_time`, which it approaches as :math:`D\\to0`.

    Parameters
    ----------
    value : callable
        :math:`f`, vectorised over points of shape ``(..., 2)``.
    start : array_like, shape (2,)
        Starting point, inside the box with ``start[0] > target_x``.
    target_x : float
        The absorbing line :math:`x=x_*` (the first coordinate the particle must reach).
    temperature : float
        :math:`D>0`.
    x_hi, y_half : float
        The box; choose them where :math:`(f-f(\\text{start}))/D\\gtrsim30`, so that the walls are
        invisible.
    nx, ny : int
        Grid points along :math:`x` (including the absorbing line) and :math:`y` (at least 11).

    Returns
    -------
    float
        :math:`T(\\text{start})` in SDE time.

    Notes
    -----
    The scheme is second-order accurate in the grid spacing; compare two grids to check. Used by
    ``book/fokker_planck/02_escape`` (the two-dimensional Eyring–Kramers section).

    References
    ----------
    Lie, Fackeldey, Weber, SIAM J. Matrix Anal. Appl. 34 (2013) (SQRA rates); Bovier, Eckhoff,
    Gayrard, Klein, JEMS 6 (2004) (the asymptotics it is compared with).
    """
    import scipy.sparse as sps
    from scipy.interpolate import RegularGridInterpolator
    from scipy.sparse.linalg import spsolve

    D = _positive("temperature", temperature)
    for name, v in (("nx", nx), ("ny", ny)):
        if not (isinstance(v, (int, np.integer)) and v >= 11):
            raise ValueError(f"{name}={v!r} must be an integer >= 11")
    x_hi = float(x_hi)
    y_half = _positive("y_half", y_half)
    if not (math.isfinite(target_x) and math.isfinite(x_hi) and x_hi > target_x):
        raise ValueError("x_hi must be finite and > target_x")
    x0, y0 = (float(v) for v in np.asarray(start, dtype=float).ravel()[:2])
    if not (target_x < x0 <= x_hi and abs(y0) <= y_half):
        raise ValueError("start must lie inside the box, with start[0] > target_x")
    xs = np.linspace(target_x, x_hi, nx)
    ys = np.linspace(-y_half, y_half, ny)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    X, Y = np.meshgrid(xs[1:], ys, indexing="ij")           # unknowns: x > target_x
    F = np.asarray(value(np.stack([X, Y], axis=-1)), dtype=float) / D
    F_line = np.asarray(value(np.stack([np.full(ny, target_x), ys], axis=-1)), dtype=float) / D
    m, n = X.shape
    idx = np.arange(m * n).reshape(m, n)
    rows, cols, vals = [], [], []
    diag = np.zeros((m, n))
    # x-neighbours inside the unknown block
    for (a, b, fa, fb) in ((idx[:-1], idx[1:], F[:-1], F[1:]), (idx[1:], idx[:-1], F[1:], F[:-1])):
        r = (D / hx**2) * np.exp(-(fb - fa) / 2)
        rows.append(a.ravel()); cols.append(b.ravel()); vals.append(r.ravel())
        np.add.at(diag.ravel(), a.ravel(), -r.ravel())
    # jumps from the first column onto the absorbing line (T = 0 there: only the diagonal)
    diag[0] -= (D / hx**2) * np.exp(-(F_line - F[0]) / 2)
    # y-neighbours
    for (a, b, fa, fb) in ((idx[:, :-1], idx[:, 1:], F[:, :-1], F[:, 1:]),
                           (idx[:, 1:], idx[:, :-1], F[:, 1:], F[:, :-1])):
        r = (D / hy**2) * np.exp(-(fb - fa) / 2)
        rows.append(a.ravel()); cols.append(b.ravel()); vals.append(r.ravel())
        np.add.at(diag.ravel(), a.ravel(), -r.ravel())
    rows.append(idx.ravel()); cols.append(idx.ravel()); vals.append(diag.ravel())
    Q = sps.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(m * n, m * n))
    T = spsolve(Q, -np.ones(m * n))
    full = np.vstack([np.zeros((1, n)), T.reshape(m, n)])
    return float(RegularGridInterpolator((xs, ys), full)([[x0, y0]])[0])
