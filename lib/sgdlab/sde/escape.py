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
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from ._validate import float_array as _float_array

__all__ = [
    "mfpt_1d", "kramers_time", "eyring_kramers_time", "kramers_time_kinetic",
    "sgdm_friction", "sgdm_kinetic_parameters", "sgdm_escape_factor", "kramers_time_sgdm",
    "CensoredRate", "censored_exponential", "escape_rate", "mfpt_grid_2d",
]


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _positive(name: str, value) -> float:
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def _finite(name: str, value) -> float:
    if not (_is_number(value) and math.isfinite(value)):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return float(value)


def _nonzero(name: str, value) -> float:
    """``|value|`` for a curvature given with either sign (finite, non-zero)."""
    if not (_is_number(value) and math.isfinite(value) and value != 0):
        raise ValueError(f"{name}={value!r} must be a finite non-zero number")
    return abs(float(value))




def _temperatures(value, *, name: str = "temperature") -> np.ndarray:
    """A temperature or an array of them: finite and > 0."""
    D = _float_array(name, value)
    if D.size == 0 or np.any(~np.isfinite(D)) or np.any(D <= 0):
        raise ValueError(f"{name} must be finite and > 0 (got {value!r})")
    return D


def _exp_time(pref: float, barrier: float, D: np.ndarray):
    """``pref * exp(barrier / D)``; ``inf`` where it overflows float64 (no warning)."""
    with np.errstate(over="ignore"):
        out = pref * np.exp(barrier / D)
    return out if out.ndim else float(out)


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
    if not callable(value):
        raise ValueError(f"value={value!r} must be a callable f(x)")
    temperature = _positive("temperature", temperature)
    x0, target = _finite("x0", x0), _finite("target", target)
    if x0 == target:
        raise ValueError("x0 and target must be finite and different")
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 101):
        raise ValueError(f"n={n!r} must be an integer >= 101")
    if wall is not None:
        wall = _finite("wall", wall)
    sign = 1.0 if target > x0 else -1.0
    g = (lambda y: value(sign * np.asarray(y))) if sign < 0 else value
    a0, b = sign * x0, sign * target
    if wall is None:
        f0 = float(g(a0))
        a = a0
        for _ in range(10000):
            a -= 0.05
            fa = float(g(a))
            if not math.isfinite(fa) or (fa - f0) / temperature > 60.0:
                break
        else:  # pragma: no cover - a landscape that never rises
            raise ValueError("no wall found: f does not grow on the far side of x0; pass wall=")
    else:
        a = sign * wall
        if not a < a0:
            raise ValueError("wall must lie on the far side of x0 from target")
    y = np.linspace(a, b, n)
    fy = np.asarray(g(y), dtype=float)
    if fy.shape != y.shape or not np.all(np.isfinite(fy)):
        raise ValueError("value must return finite numbers, one per point, between the wall and target")
    ref = fy[(y >= a0)].max()          # scale by the largest value on the outer range
    with np.errstate(over="ignore", invalid="ignore"):
        total = _mfpt_integrals(y, fy, ref, a0, temperature)
    # the only non-finite outcome left is overflow: a time beyond float64 (exp(dF/D) > 1e308)
    return total if math.isfinite(total) else math.inf


def _mfpt_integrals(y, fy, ref, a0, temperature) -> float:
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
    ks = _nonzero("curv_saddle", curv_saddle)
    barrier = _positive("barrier", barrier)
    D = _temperatures(temperature)
    return _exp_time(2.0 * np.pi / math.sqrt(km * ks), barrier, D)


def eyring_kramers_time(hess_min, hess_saddle, barrier: float, temperature):
    """Eyring–Kramers time :math:`\\frac{2\\pi}{|\\lambda_-(s)|}\\sqrt{\\frac{|\\det\\nabla^2 f(s)|}{\\det\\nabla^2 f(m)}}e^{\\Delta F/D}`.

    Parameters
    ----------
    hess_min, hess_saddle : array_like, shape (d, d)
        Hessians at the minimum (positive definite) and at the index-1 saddle.
    """
    Hm = np.atleast_2d(_float_array("hess_min", hess_min))
    Hs = np.atleast_2d(_float_array("hess_saddle", hess_saddle))
    if Hm.ndim != 2 or Hm.shape != Hs.shape or Hm.shape[0] != Hm.shape[1]:
        raise ValueError("hess_min and hess_saddle must be square matrices of one shape")
    if not np.all(np.isfinite(Hm)):
        raise ValueError("hess_min must be finite")
    if not np.all(np.isfinite(Hs)):
        raise ValueError("hess_saddle must be finite")
    em = np.linalg.eigvalsh(0.5 * (Hm + Hm.T))
    es = np.linalg.eigvalsh(0.5 * (Hs + Hs.T))
    if np.any(em <= 0):
        raise ValueError("hess_min must be positive definite")
    if not (es[0] < 0 and np.all(es[1:] > 0)):
        raise ValueError("hess_saddle must have exactly one negative eigenvalue")
    barrier = _positive("barrier", barrier)
    D = _temperatures(temperature)
    pref = 2.0 * np.pi / abs(es[0]) * math.sqrt(abs(np.prod(es)) / np.prod(em))
    return _exp_time(pref, barrier, D)


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
    wb = math.sqrt(_nonzero("curv_saddle", curv_saddle))
    gamma = _positive("friction", friction)
    barrier = _positive("barrier", barrier)
    T = _temperatures(temperature)
    with np.errstate(all="ignore"):     # float64 arithmetic, overflow to inf instead of OverflowError
        g_, b_ = np.float64(gamma), np.float64(wb)
        lam = np.sqrt(g_**2 / 4 + b_**2) - g_ / 2
        if not (0 < lam < np.inf):     # gamma >> omega_b: the difference cancels; the same without cancellation
            lam = b_ / (g_ * (np.sqrt(0.25 + (b_ / g_) ** 2) + 0.5)) * b_
        pref = 2.0 * np.pi * b_ / (lam * w0) if lam > 0 else np.inf
    return _exp_time(float(pref), barrier, T)


def _momentum_in_unit_interval(momentum) -> float:
    if not (_is_number(momentum) and 0.0 <= float(momentum) < 1.0):
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
    ks = _nonzero("curv_saddle", curv_saddle)
    c = _float_array("friction", friction)
    if c.size == 0 or np.any(~(c > 0)):
        raise ValueError("friction must be > 0 (inf allowed)")
    with np.errstate(all="ignore"):
        # lambda_+ = c|k|/(sqrt(c^2/4 + c|k|) + c/2), written without cancellation
        lam = np.where(np.isinf(c), ks, ks / (np.sqrt(0.25 + ks / c) + 0.5))
        out = ks / lam          # inf where c is so small that lambda_+ underflows
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
    _nonzero("curv_saddle", curv_saddle)
    _positive("barrier", barrier)
    D = _temperatures(temperature)
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
    n_diverged : int
        Chains that diverged (left the floating-point range, time ``inf``) before escaping. When it is
        not 0 there is no estimate: ``rate``, ``mean_time`` and the interval are ``inf`` and
        ``diverged`` is True (divergence is a result, not an exception).
    """

    rate: float
    mean_time: float
    mean_time_ci: tuple[float, float]
    n_escaped: int
    n_chains: int
    exposure: float
    n_diverged: int = 0

    @property
    def diverged(self) -> bool:
        """Whether any chain diverged (then the estimate is ``inf``)."""
        return self.n_diverged > 0

    @property
    def rel_se(self) -> float:
        """Relative standard error of the rate, :math:`1/\\sqrt{\\#\\text{escaped}}` (``inf`` if diverged)."""
        if self.diverged:
            return math.inf
        return 1.0 / math.sqrt(self.n_escaped) if self.n_escaped else math.inf


def censored_exponential(times, escaped, *, confidence: float = 0.95) -> CensoredRate:
    """Rate of an exponential escape time from right-censored observations.

    Parameters
    ----------
    times : array_like
        Escape time of each chain, or its censoring time (the horizon) if it did not escape, or
        ``inf`` if it diverged (as :func:`sgdlab.sde.particles.first_passage` reports it): then
        the result is flagged (``diverged``) and its rate and times are ``inf``.
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
    t = _float_array("times", times).ravel()
    e_raw = np.asarray(escaped)
    if e_raw.dtype.kind not in "biu" or np.any((e_raw != 0) & (e_raw != 1)):
        raise ValueError("escaped must be booleans (or 0/1), one per chain")
    e = e_raw.astype(bool).ravel()
    if t.shape != e.shape or t.size == 0:
        raise ValueError("times and escaped must be non-empty and of equal length")
    if np.any(np.isnan(t)) or np.any(t < 0):
        raise ValueError("times must be finite and >= 0 (inf only for a chain that diverged)")
    if not (_is_number(confidence) and 0 < confidence < 1):
        raise ValueError(f"confidence={confidence!r} must lie in (0, 1)")
    lost = np.isinf(t)
    if np.any(lost & e):
        raise ValueError("times must be finite for a chain that escaped (inf marks one that diverged)")
    if lost.any():
        k = int(e.sum())
        S = float(t[~lost].sum())
        return CensoredRate(rate=math.inf, mean_time=math.inf, mean_time_ci=(math.inf, math.inf), n_escaped=k,
                            n_chains=int(t.size), exposure=S, n_diverged=int(lost.sum()))
    k = int(e.sum())
    S = float(t.sum())
    if S <= 0:
        raise ValueError("times: the total time at risk must be > 0")
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
        A group with a diverged particle (a step size above the stability limit) is flagged
        (``diverged``) with ``inf`` rate and times, never NaN.

    Used by ``book/fokker_planck/02_escape`` and ``04_momentum``.
    """
    from .particles import first_passage

    x = _float_array("x0", x0)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError("x0 must have shape (n,) or (n, d) with n >= 1")
    n = x.shape[0]
    try:
        h = np.broadcast_to(_float_array("horizon", horizon), (n,))
    except ValueError as exc:
        if "horizon" in str(exc):
            raise
        raise ValueError(f"horizon must be a number or an array of shape ({n},)") from None
    if np.any(~np.isfinite(h)) or np.any(h <= 0):
        raise ValueError("horizon must be finite and > 0 for every particle")
    if not (_is_number(confidence) and 0 < confidence < 1):
        raise ValueError(f"confidence={confidence!r} must lie in (0, 1)")
    if groups is not None and np.shape(groups) != (n,):
        raise ValueError("groups must have one label per particle")
    times, escaped = first_passage(grad, x, target, lr=lr, horizon=float(h.max()), batch_size=batch_size,
                                   noise_std=noise_std, noise=noise, momentum=momentum, seed=seed,
                                   check_every=check_every)
    escaped = escaped & (times <= h)
    times = np.where(np.isinf(times), np.inf, np.minimum(times, h))    # inf: diverged (flagged)
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
        :math:`T(\\text{start})` in SDE time; ``inf`` when the temperature is so low that a rate of the
        scheme leaves the float64 range (:math:`|\\Delta f|/(2D)>700` between neighbouring points).

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

    if not callable(value):
        raise ValueError(f"value={value!r} must be a callable f(z)")
    D = _positive("temperature", temperature)
    for name, v in (("nx", nx), ("ny", ny)):
        if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 11):
            raise ValueError(f"{name}={v!r} must be an integer >= 11")
    target_x = _finite("target_x", target_x)
    x_hi = _finite("x_hi", x_hi)
    y_half = _positive("y_half", y_half)
    if not x_hi > target_x:
        raise ValueError("x_hi must be finite and > target_x")
    st = _float_array("start", start)
    if st.shape != (2,) or not np.all(np.isfinite(st)):
        raise ValueError(f"start={start!r} must be a finite point of shape (2,)")
    x0, y0 = (float(v) for v in st)
    if not (target_x < x0 <= x_hi and abs(y0) <= y_half):
        raise ValueError("start must lie inside the box, with start[0] > target_x")
    xs = np.linspace(target_x, x_hi, nx)
    ys = np.linspace(-y_half, y_half, ny)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    X, Y = np.meshgrid(xs[1:], ys, indexing="ij")           # unknowns: x > target_x
    F = np.asarray(value(np.stack([X, Y], axis=-1)), dtype=float)
    F_line = np.asarray(value(np.stack([np.full(ny, target_x), ys], axis=-1)), dtype=float)
    if F.shape != X.shape or F_line.shape != (ny,) or not (np.all(np.isfinite(F)) and np.all(np.isfinite(F_line))):
        raise ValueError("value must return finite numbers, one per point of the box")
    F, F_line = F / D, F_line / D
    # the SQRA rates are exp(-(f_nb - f)/(2D)): at a temperature so low that one overflows or
    # underflows between neighbours, the time is beyond float64 (divergence is a result: inf)
    steps_ = np.concatenate([np.abs(np.diff(F, axis=0)).ravel(), np.abs(np.diff(F, axis=1)).ravel(),
                             np.abs(F_line - F[0])])
    if not np.max(steps_) / 2 < 700.0:
        return math.inf
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # an ill-conditioned solve at a low temperature: checked below
        with np.errstate(all="ignore"):
            T = spsolve(Q, -np.ones(m * n))
    full = np.vstack([np.zeros((1, n)), T.reshape(m, n)])
    out = float(RegularGridInterpolator((xs, ys), full)([[x0, y0]])[0])
    return out if math.isfinite(out) and out > 0 else math.inf
