r"""The gradient-descent map on one-dimensional landscapes, its stability, and GD from many starts.

For a step size (learning rate) :math:`\eta` the GD map is :math:`T_\eta(x) = x - \eta f'(x)`.
Its fixed points are the critical points of :math:`f`, with multiplier
:math:`T_\eta'(x^*) = 1 - \eta f''(x^*)`; a minimum is linearly stable iff
:math:`0 < \eta < 2/f''(x^*)`. Period-2 orbits solve :math:`T_\eta(T_\eta(x)) = x` with
:math:`T_\eta(x) \ne x`.

The simulations run many starts and many step sizes as one array computation: the start points,
step sizes and noise levels broadcast against each other, and every step updates the whole array.
Divergence is a result (a flag and ``inf``), never an exception.

With noise, the chain :math:`x_{t+1} = x_t - \eta(f'(x_t) + \sigma\xi_t)` has two reference laws:
the Gibbs law :math:`\propto e^{-f/D}`, :math:`D=\eta\sigma^2/2` (its small-:math:`\eta` limit,
:func:`gibbs_mass`), and its own stationary law at the given :math:`\eta` (:func:`stationary_mass`,
which keeps the :math:`O(\eta)` bias). :func:`kramers_time` is the clock on which the noisy chain
crosses a chain of ripples.

Used by the chapters of part 3 (``book/large_lr/01_gd_map`` … ``04_instability_trap``).

References
----------
Mohtashami, Jaggi, Stich, *Special Properties of Gradient Descent with Large Learning Rates*,
ICML 2023 (arXiv 2205.15142): the claims these functions test. Linear stability of GD fixed points:
Wu, Ma & E, NeurIPS 2018; Cohen et al., ICLR 2021 (sharpness :math:`2/\eta`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .._validate import function, integer, landscape as _landscape, real_array, real_scalar

__all__ = [
    "gd_map",
    "multiplier",
    "stability_threshold",
    "is_linearly_stable",
    "stable_window",
    "CriticalPoints",
    "critical_points",
    "period_two_orbits",
    "GDResult",
    "run_gd",
    "basin_of",
    "temperature",
    "gibbs_mass",
    "stationary_mass",
    "kramers_time",
    "orbit_period",
    "exact_two_cycles",
    "grid_band",
    "proportion_se",
    "first_budget",
    "budget_to_reach",
]

Grad = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- validation
def _check_lr(lr) -> np.ndarray:
    if isinstance(lr, bool):
        raise ValueError(f"lr={lr!r} must be finite and > 0")
    a = real_array(lr, "lr", nonempty=True, low=0.0, low_open=True)
    return a


def _scalar_lr(lr) -> float:
    a = _check_lr(lr)
    if a.ndim != 0:
        raise ValueError(f"lr must be a scalar here, got shape {a.shape}")
    return float(a)


def _check_steps(steps) -> int:
    return integer(steps, "steps", low=0)


def _check_interval(lo: float, hi: float, names: tuple[str, str] = ("lo", "hi")) -> tuple[float, float]:
    lo = real_scalar(lo, names[0])
    hi = real_scalar(hi, names[1])
    if not lo < hi:
        raise ValueError(f"{names[0]}={lo!r}, {names[1]}={hi!r}: need finite {names[0]} < {names[1]}")
    return lo, hi


def _check_support(support) -> tuple[float, float]:
    try:
        a, b = support
    except (TypeError, ValueError):
        raise ValueError(f"support={support!r} must be a pair (lo, hi)") from None
    return _check_interval(a, b, ("support[0]", "support[1]"))


def _check_grid(n_grid) -> int:
    return integer(n_grid, "n_grid", low=3)


def _broadcast(*named) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(a.shape for _, a in named))
    except ValueError:
        raise ValueError(" and ".join(f"{n} {a.shape}" for n, a in named) + " must broadcast together") from None


def _positive(value, name: str) -> float:
    return real_scalar(value, name, low=0.0, low_open=True)


# --------------------------------------------------------------------------- the map
def gd_map(grad: Grad, x, lr) -> np.ndarray:
    r""":math:`T_\eta(x) = x - \eta f'(x)`, elementwise (``x`` and ``lr`` broadcast).

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023: full-batch GD. Chapter ``book/large_lr/01_gd_map``.
    """
    function(grad, "grad")
    lr = _check_lr(lr)
    x = real_array(x, "x")
    _broadcast(("x", x), ("lr", lr))
    with np.errstate(over="ignore"):
        return x - lr * grad(x)


def multiplier(curvature, lr) -> np.ndarray:
    r""":math:`T_\eta'(x) = 1 - \eta f''(x)`: the GD map's derivative where :math:`f'' =` ``curvature``."""
    lr, c = _check_lr(lr), real_array(curvature, "curvature")
    _broadcast(("curvature", c), ("lr", lr))
    return 1.0 - lr * c


def stability_threshold(curvature) -> np.ndarray | float:
    r"""The largest stable step :math:`2/f''(x^*)` of a minimum of curvature ``curvature``.

    A critical point with :math:`f'' \le 0` is never linearly stable for :math:`\eta>0` (its
    multiplier is :math:`\ge 1`): its threshold is 0.

    Chapter ``book/large_lr/01_gd_map``, eq. ``eq-stability``.
    """
    c = real_array(curvature, "curvature")
    with np.errstate(divide="ignore"):
        out = np.where(c > 0, 2.0 / np.where(c > 0, c, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def is_linearly_stable(curvature, lr) -> np.ndarray:
    r""":math:`|1 - \eta f''(x^*)| < 1`, elementwise: the fixed point attracts nearby GD iterates."""
    return np.abs(multiplier(curvature, lr)) < 1.0


def stable_window(global_curvature: float, spurious_curvatures) -> tuple[float, float]:
    r"""The step sizes for which the global minimum is the *only* linearly stable minimum.

    Returns :math:`(2/\min_i f''(x_i),\; 2/f''(x^*))` over the spurious minima :math:`x_i`. The
    window is empty when the first number is not smaller than the second, i.e. when some spurious
    minimum is flatter than the global one.

    Raises
    ------
    ValueError
        If ``global_curvature`` is not > 0 or ``spurious_curvatures`` is empty or not all > 0.
    """
    global_curvature = _positive(global_curvature, "global_curvature")
    s = real_array(spurious_curvatures, "spurious_curvatures", nonempty=True, low=0.0, low_open=True).ravel()
    return 2.0 / float(s.min()), 2.0 / float(global_curvature)


# --------------------------------------------------------------------------- critical points
@dataclass(frozen=True)
class CriticalPoints:
    """Critical points of a 1-d landscape on an interval, sorted by position.

    Attributes
    ----------
    x, value, curvature : ndarray
        Position, :math:`f(x)` and :math:`f''(x)` of each critical point.
    kind : ndarray of str
        ``"min"``, ``"max"`` or ``"flat"`` (:math:`|f''|` below ``1e-9``).
    """

    x: np.ndarray
    value: np.ndarray
    curvature: np.ndarray
    kind: np.ndarray

    @property
    def minima(self) -> np.ndarray:
        """Boolean mask of the minima."""
        return self.kind == "min"


def _roots(fun: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, n_grid: int) -> np.ndarray:
    """All sign changes of ``fun`` on a uniform grid, refined with Brent's method."""
    grid = np.linspace(lo, hi, n_grid)
    vals = fun(grid)
    roots = list(grid[vals == 0.0])
    idx = np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]
    for i in idx:
        roots.append(brentq(lambda t: float(fun(np.asarray(t))), grid[i], grid[i + 1], xtol=1e-14, rtol=1e-15))
    return np.unique(np.asarray(roots, dtype=float))


def critical_points(landscape, lo: float, hi: float, *, n_grid: int = 200_001) -> CriticalPoints:
    """Critical points of ``landscape`` (an object with ``value``, ``grad``, ``hess``) in ``[lo, hi]``.

    Sign changes of :math:`f'` on a grid of ``n_grid`` points are refined with Brent's method, so
    the grid must resolve the landscape's finest scale (critical points closer than the grid step
    can be missed; a unit test checks a known count).

    Chapter ``book/large_lr/01_gd_map``.
    """
    _landscape(landscape)
    lo, hi = _check_interval(lo, hi)
    n_grid = _check_grid(n_grid)
    x = _roots(landscape.grad, lo, hi, n_grid)
    curv = landscape.hess(x)
    kind = np.where(np.abs(curv) < 1e-9, "flat", np.where(curv > 0, "min", "max"))
    return CriticalPoints(x=x, value=landscape.value(x), curvature=curv, kind=kind)


def period_two_orbits(landscape, lr: float, lo: float, hi: float, *, n_grid: int = 200_001,
                      tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    r"""Period-2 orbits of the GD map: pairs :math:`x_1<x_2` with :math:`T(x_1)=x_2`, :math:`T(x_2)=x_1`.

    Roots of :math:`T(T(x)) - x` in ``[lo, hi]`` that are not fixed points (:math:`|T(x)-x|>` ``tol``).

    Returns
    -------
    pairs : ndarray, shape (k, 2)
        The orbits, each as ``(x1, x2)`` with ``x1 < x2`` (both points found inside the interval).
    multipliers : ndarray, shape (k,)
        :math:`T'(x_1)T'(x_2) = (1-\eta f''(x_1))(1-\eta f''(x_2))`; the orbit attracts iff
        :math:`|\cdot|<1`.

    Chapter ``book/large_lr/01_gd_map`` (period doubling) and ``04_instability_trap``.
    """
    _landscape(landscape)
    lr = _scalar_lr(lr)
    lo, hi = _check_interval(lo, hi)
    n_grid = _check_grid(n_grid)
    tol = _positive(tol, "tol")

    def t(x):
        return x - lr * landscape.grad(x)

    roots = _roots(lambda x: t(t(x)) - x, lo, hi, n_grid)
    roots = roots[np.abs(t(roots) - roots) > tol]
    pairs: list[tuple[float, float]] = []
    for x1 in roots:
        x2 = float(t(np.asarray(x1)))
        a, b = sorted((float(x1), x2))
        if not any(abs(a - p) < 1e-6 and abs(b - q) < 1e-6 for p, q in pairs):
            pairs.append((a, b))
    arr = np.asarray(pairs, dtype=float).reshape(-1, 2)
    mult = multiplier(landscape.hess(arr[:, 0]), lr) * multiplier(landscape.hess(arr[:, 1]), lr)
    return arr, mult


# --------------------------------------------------------------------------- simulations
@dataclass(frozen=True)
class GDResult:
    """Final iterates of many GD runs.

    Attributes
    ----------
    x : ndarray
        Final iterate of each run (``inf`` with the sign of the escape for diverged runs).
    diverged : ndarray of bool
        Runs whose iterate left ``|x| <= bound`` or became non-finite.
    history : ndarray or None
        Iterates every ``record_every`` steps, shape ``(n_records, *x.shape)`` (``None`` if not asked).
    """

    x: np.ndarray
    diverged: np.ndarray
    history: np.ndarray | None = None


def run_gd(grad: Grad, x0, lr, steps: int, *, noise=0.0, anneal: bool = False, seed: int | None = None,
           bound: float = 1e6, record_every: int | None = None, block: int = 1000) -> GDResult:
    r"""GD, or GD with Gaussian gradient noise, from many starts at once.

    .. math:: x_{t+1} = x_t - \eta\,\bigl(f'(x_t) + \sigma_t\,\xi_t\bigr),\qquad \xi_t\sim N(0,1)\ \text{i.i.d.},

    with :math:`\sigma_t = \sigma` (constant) or :math:`\sigma_t = \sigma(1 - t/T)` (``anneal=True``,
    linear decay to 0 over the ``steps`` :math:`=T` steps).

    Parameters
    ----------
    grad
        Vectorised derivative :math:`f'`.
    x0, lr, noise
        Starts, step sizes :math:`\eta>0` and noise levels :math:`\sigma\ge0`; they broadcast
        together to the shape of the runs (e.g. ``x0`` of shape ``(R,)`` and ``lr`` of shape
        ``(E, 1)`` give ``E × R`` runs).
    steps
        Number of steps :math:`T \ge 0`.
    anneal
        Decay the noise linearly to zero.
    seed
        Seed of ``numpy.random.default_rng`` (needed only with noise).
    bound
        Runs with :math:`|x_t|>` ``bound`` (or non-finite) are flagged as diverged and frozen at
        :math:`\pm\infty`.
    record_every
        Keep the iterates every this many steps (including the start).
    block
        Noise is drawn in blocks of this many steps (speed only; the stream is fixed by ``seed``).

    Returns
    -------
    GDResult

    Notes
    -----
    Used by ``book/large_lr/02_rugged_bowl``, ``03_noise_vs_step`` and ``04_instability_trap``.

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023: full-batch GD with a large step versus a small step with
    added stochasticity.
    """
    function(grad, "grad")
    steps = _check_steps(steps)
    lr = _check_lr(lr)
    noise = real_array(noise, "noise", low=0.0)
    bound = _positive(bound, "bound")
    if record_every is not None:
        record_every = integer(record_every, "record_every", low=1)
    block = integer(block, "block", low=1)
    if not isinstance(anneal, (bool, np.bool_)):
        raise ValueError(f"anneal={anneal!r} must be a bool")
    if seed is not None:
        seed = integer(seed, "seed", low=0)
    x0 = real_array(x0, "x0", finite=False, allow_nan=True)  # non-finite: a run that has already diverged
    try:
        shape = np.broadcast_shapes(x0.shape, lr.shape, noise.shape)
    except ValueError:
        raise ValueError(f"x0 {x0.shape}, lr {lr.shape} and noise {noise.shape} must broadcast together") from None
    x = np.array(np.broadcast_to(x0, shape))
    lr_b = np.broadcast_to(lr, x.shape)
    noisy = bool(np.any(noise > 0))
    rng = np.random.default_rng(seed) if noisy else None
    sig = np.broadcast_to(noise, x.shape)
    diverged = ~np.isfinite(x) | (np.abs(x) > bound)
    sign = np.where(np.isnan(x), 1.0, np.sign(x))
    x = np.where(diverged, 0.0, x)  # diverged runs sit at 0 for the arithmetic, reported as +-inf

    def reported(z):
        return np.where(diverged, np.copysign(np.inf, sign), z)

    hist = [reported(x)] if record_every else None
    buf = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            g = grad(x)
            if noisy:
                j = t % block
                if j == 0:
                    buf = rng.standard_normal((min(block, steps - t), *x.shape))
                factor = (1.0 - t / steps) if anneal else 1.0
                g = g + (factor * sig) * buf[j]
            x = x - lr_b * g
            bad = ~np.isfinite(x) | (np.abs(x) > bound)
            if bad.any():
                new = bad & ~diverged
                sign = np.where(new, np.where(np.isnan(x), 1.0, np.sign(x)), sign)
                diverged = diverged | bad
                x = np.where(diverged, 0.0, x)
            if record_every and (t + 1) % record_every == 0:
                hist.append(reported(x))
    return GDResult(x=reported(x), diverged=diverged, history=None if hist is None else np.stack(hist))


def basin_of(landscape, x, *, lr: float = 1e-3, steps: int = 20_000, target: float = 0.0,
             tol: float = 1e-3, check_every: int = 500, grad_tol: float = 1e-10) -> np.ndarray:
    r"""Whether small-step GD from each ``x`` ends within ``tol`` of ``target``.

    The *polishing* phase of the experiments: after an exploration phase, noiseless GD with a small
    step (default :math:`\eta=10^{-3}`, at most 20,000 steps) settles every run into the minimum whose
    basin it is in; a run *succeeds* when it ends at the global minimum ``target``. Diverged
    (infinite) entries fail.

    Every ``check_every`` steps the runs are checked, and the polishing stops early once each run
    is either within ``tol`` of ``target`` or at a critical point elsewhere (:math:`|f'|<` ``grad_tol``):
    with a step below :math:`2/f''` at the target, neither can change any more.

    Chapter ``book/large_lr/02_rugged_bowl`` and ``03_noise_vs_step``.
    """
    _landscape(landscape, needs=("grad",))
    lr = _scalar_lr(lr)
    tol = _positive(tol, "tol")
    target = real_scalar(target, "target")
    grad_tol = _positive(grad_tol, "grad_tol")
    steps = _check_steps(steps)
    check_every = integer(check_every, "check_every", low=1)
    x = real_array(x, "x", finite=False, allow_nan=True)  # non-finite: a diverged run, which fails
    finite = np.isfinite(x)
    z = np.where(finite, x, target)
    ok = np.ones(x.shape, dtype=bool)
    done = 0
    while done < steps:
        n = min(check_every, steps - done)
        res = run_gd(landscape.grad, z, lr, n)
        ok &= ~res.diverged
        z = np.where(res.diverged, target, res.x)
        done += n
        at_target = np.abs(z - target) < tol
        if np.all(at_target | (np.abs(landscape.grad(z)) < grad_tol)):
            break
    return finite & ok & (np.abs(z - target) < tol)


# --------------------------------------------------------------------------- temperature
def temperature(lr, noise) -> np.ndarray | float:
    r"""Temperature :math:`D = \eta\sigma^2/2` of GD with additive gradient noise of scale :math:`\sigma`.

    For small :math:`\eta`, :math:`x_{t+1} = x_t - \eta(f'(x_t) + \sigma\xi_t)` follows the SDE
    :math:`dx = -f'(x)\,dt + \sqrt{2D}\,dW` in time :math:`\tau=\eta t`, whose stationary law is the
    Gibbs law :math:`\propto e^{-f/D}`. (The book's notation page writes :math:`D=\eta\sigma^2/(2B)`
    for mini-batch noise of per-sample scale :math:`\sigma`; here :math:`\sigma` is the noise of the
    whole step.)

    Chapter ``book/large_lr/03_noise_vs_step``.

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023, App. G (the learning rate moderates the effective variance).
    """
    lr = _check_lr(lr)
    noise = real_array(noise, "noise", low=0.0)
    try:
        np.broadcast_shapes(lr.shape, noise.shape)
    except ValueError:
        raise ValueError(f"lr {lr.shape} and noise {noise.shape} must broadcast together") from None
    out = lr * noise**2 / 2.0
    return float(out) if out.ndim == 0 else out


def gibbs_mass(landscape, temp, lo: float, hi: float, *, support: tuple[float, float] = (-50.0, 50.0),
               n_grid: int = 400_001) -> np.ndarray | float:
    r"""Mass of ``[lo, hi]`` under the Gibbs law :math:`\pi_D(x) \propto e^{-f(x)/D}` on ``support``.

    Computed by the trapezoidal rule on a uniform grid of ``n_grid`` points over ``support`` (which
    must hold essentially all the mass), vectorised over the temperatures ``temp`` :math:`=D>0`.

    Chapter ``book/large_lr/03_noise_vs_step``: the stationary probability that a small-step run
    with constant noise sits in the global minimum's basin when the noise is switched off.
    """
    _landscape(landscape, needs=("value",))
    t = real_array(temp, "temp", nonempty=True, low=0.0, low_open=True)
    lo, hi = _check_interval(lo, hi)
    s_lo, s_hi = _check_support(support)
    n_grid = _check_grid(n_grid)
    x = np.linspace(s_lo, s_hi, n_grid)
    fx = landscape.value(x)
    logw = -(fx - fx.min())[None, :] / t.reshape(-1, 1)
    w = np.exp(logw)
    inside = (x >= lo) & (x <= hi)
    total = np.trapezoid(w, x, axis=1)
    part = np.trapezoid(np.where(inside, w, 0.0), x, axis=1)
    out = (part / total).reshape(t.shape)
    return float(out) if out.ndim == 0 else out


def stationary_mass(landscape, lr: float, noise, lo: float, hi: float, *,
                    support: tuple[float, float] = (-6.0, 6.0), n_grid: int = 2401,
                    width: float = 8.0) -> np.ndarray | float:
    r"""Mass of ``[lo, hi]`` under the stationary law of the discrete noisy GD chain itself.

    The chain :math:`x_{t+1} = x_t - \eta f'(x_t) - \eta\sigma\xi_t` has the transition density
    :math:`K(x, y) = \varphi\bigl((y - T_\eta(x))/(\eta\sigma)\bigr)/(\eta\sigma)`. Its stationary law
    solves :math:`\pi(y) = \int \pi(x) K(x, y)\,dx`; here it is discretised on a uniform grid over
    ``support`` (Nyström, each row of the kernel renormalised so that no mass leaks out of the
    grid, entries beyond ``width`` kernel widths dropped) and solved as a sparse linear system. Unlike
    :func:`gibbs_mass` it keeps the :math:`O(\eta)` bias of the discrete chain: on a quadratic of
    curvature :math:`\lambda` its variance is :math:`\eta\sigma^2/(\lambda(2-\eta\lambda))`, not
    :math:`\eta\sigma^2/(2\lambda)`.

    Parameters
    ----------
    landscape
        Object with a vectorised ``grad``.
    lr, noise
        :math:`\eta>0` and one or several :math:`\sigma>0` (the result has the shape of ``noise``).
    lo, hi
        The interval whose mass is returned.
    support, n_grid
        The grid; its step must resolve both the kernel width :math:`\eta\sigma` and the
        landscape's finest scale, and ``support`` must hold essentially all the mass.

    Chapter ``book/large_lr/03_noise_vs_step`` (the Gibbs bound, quantitatively).
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    _landscape(landscape, needs=("grad",))
    lr = _scalar_lr(lr)
    sig = real_array(noise, "noise", nonempty=True, low=0.0, low_open=True)
    lo, hi = _check_interval(lo, hi)
    s_lo, s_hi = _check_support(support)
    n_grid = _check_grid(n_grid)
    width = _positive(width, "width")
    x = np.linspace(s_lo, s_hi, n_grid)
    h = x[1] - x[0]
    tx = x - lr * landscape.grad(x)
    out = []
    for s in sig.ravel():
        scale = lr * float(s)
        if scale < 2 * h:
            raise ValueError(f"n_grid={n_grid}: the grid step {h:.3g} does not resolve the kernel width "
                             f"{scale:.3g} (lr * noise); use a finer grid")
        half = int(math.ceil(width * scale / h))
        rows, cols, vals = [], [], []
        centre = np.rint((tx - s_lo) / h).astype(int)
        for off in range(-half, half + 1):
            j = centre + off
            ok = (j >= 0) & (j < n_grid)
            i = np.nonzero(ok)[0]
            z = (x[j[ok]] - tx[ok]) / scale
            rows.append(i)
            cols.append(j[ok])
            vals.append(np.exp(-0.5 * z * z))
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        k = sparse.csr_matrix((v, (r, c)), shape=(n_grid, n_grid))
        rs = np.asarray(k.sum(axis=1)).ravel()
        rs[rs == 0] = 1.0
        k = sparse.diags(1.0 / rs) @ k                         # row-stochastic transition matrix
        a = (k.T - sparse.identity(n_grid)).tocsr()
        c0 = int(np.argmin(np.abs(tx - x)))                   # fix π = 1 at a point of the grid (a fixed
        keep = np.r_[0:c0, c0 + 1:n_grid]                       # point of T) and drop its equation: the
        a_red = a[keep][:, keep].tocsc()                        # reduced system stays banded
        rhs = -np.asarray(a[keep][:, [c0]].todense()).ravel()
        pi = np.empty(n_grid)
        pi[keep] = spsolve(a_red, rhs)
        pi[c0] = 1.0
        pi = np.clip(pi, 0.0, None)
        pi /= pi.sum()
        out.append(float(pi[(x >= lo) & (x <= hi)].sum()))
    arr = np.asarray(out).reshape(sig.shape)
    return float(arr) if arr.ndim == 0 else arr


def kramers_time(landscape, lr: float, temp, x_from: float, x_to: float, *, lo: float | None = None,
                 hi: float | None = None, n_grid: int = 200_001) -> np.ndarray | float:
    r"""The Kramers clock: steps for the noisy small-step chain to cross the minima between two points.

    For each minimum :math:`x_i` between ``x_to`` (exclusive, the target side) and ``x_from`` and the
    maximum :math:`s_i` next to it on the side of ``x_to``, the escape time towards ``x_to`` in
    diffusion time :math:`\tau=\eta t` is Kramers'
    :math:`2\pi\,e^{(f(s_i)-f(x_i))/D}/\sqrt{f''(x_i)\,|f''(s_i)|}`; the clock is their sum (a
    downhill chain of hops, back-hops ignored), divided by :math:`\eta` to count steps. It is
    asymptotic in :math:`\Delta f/D \gg 1`: an order-of-magnitude clock, not a prediction to a
    few per cent.

    Parameters
    ----------
    landscape
        Object with ``value``, ``grad``, ``hess``.
    lr
        The step :math:`\eta`.
    temp
        Temperatures :math:`D>0` (see :func:`temperature`); the result has their shape.
    x_from, x_to
        The walk starts at ``x_from`` and must reach ``x_to`` (``x_to < x_from`` or the reverse).
    lo, hi, n_grid
        Where to look for the critical points (default: the interval between the two points).

    Chapter ``book/large_lr/03_noise_vs_step`` (the race at equal budgets).

    References
    ----------
    Kramers, Physica 7 (1940); Mohtashami, Jaggi, Stich, ICML 2023 (small step plus noise).
    """
    _landscape(landscape)
    lr = _scalar_lr(lr)
    t = real_array(temp, "temp", nonempty=True, low=0.0, low_open=True)
    x_from = real_scalar(x_from, "x_from")
    x_to = real_scalar(x_to, "x_to")
    if x_from == x_to:
        raise ValueError(f"x_from={x_from!r}, x_to={x_to!r}: need two different finite points")
    a, b = sorted((float(x_from), float(x_to)))
    cp = critical_points(landscape, a if lo is None else lo, b if hi is None else hi, n_grid=n_grid)
    towards_left = x_to < x_from
    total = np.zeros(t.shape)
    for i in np.nonzero(cp.minima)[0]:
        xi = cp.x[i]
        if not (a < xi < b) or abs(xi - x_to) < 1e-12:
            continue
        j = i - 1 if towards_left else i + 1
        if j < 0 or j >= cp.x.size or cp.kind[j] != "max":
            continue
        barrier = cp.value[j] - cp.value[i]
        pref = 2.0 * math.pi / math.sqrt(cp.curvature[i] * abs(cp.curvature[j]))
        total = total + pref * np.exp(barrier / t)
    out = total / lr
    return float(out) if out.ndim == 0 else out


def orbit_period(tail, periods=(1, 2, 4, 8), tol: float = 1e-9) -> np.ndarray:
    r"""The period of the orbit each run ends on: the smallest :math:`q` in ``periods`` with
    :math:`|x_T - x_{T-q}| <` ``tol`` (0 when there is none: chaotic, longer period, or not settled).

    Parameters
    ----------
    tail
        The last iterates, shape ``(n, *runs)`` with ``n > max(periods)`` (e.g. the end of
        ``run_gd(..., record_every=1).history``).

    Chapter ``book/large_lr/04_instability_trap``.
    """
    tail = real_array(tail, "tail", finite=False)
    try:
        qs = sorted({integer(q, "periods", low=1) for q in periods})
    except TypeError:
        raise ValueError(f"periods={periods!r} must be integers >= 1") from None
    if not qs:
        raise ValueError(f"periods={periods!r} must be integers >= 1")
    if tail.ndim < 1 or tail.shape[0] <= qs[-1]:
        raise ValueError(f"tail: need more than max(periods) = {qs[-1]} iterates along axis 0")
    tol = _positive(tol, "tol")
    out = np.zeros(tail.shape[1:], dtype=int)
    for q in reversed(qs):
        out = np.where(np.abs(tail[-1] - tail[-1 - q]) < tol, q, out)
    return out


def exact_two_cycles(expr, symbol, lr) -> list[float]:
    r"""The real points on 2-cycles of GD on a polynomial, exactly (SymPy).

    The GD map :math:`T(x) = x - \eta f'(x)` of a polynomial :math:`f` makes :math:`T(T(x)) - x` a
    polynomial divisible by :math:`T(x) - x = -\eta f'(x)` (the fixed points); the quotient's real
    roots are the points on 2-cycles. ``lr`` may be a SymPy rational for exact arithmetic.

    Chapter ``book/large_lr/01_gd_map`` (period doubling on the quartic double well).
    """
    import sympy as sp

    if not isinstance(symbol, sp.Symbol):
        raise ValueError(f"symbol={symbol!r} must be a sympy Symbol")
    try:
        expr = sp.sympify(expr)
        lr_s = sp.sympify(lr)
    except (sp.SympifyError, TypeError):
        raise ValueError(f"expr={expr!r} and lr={lr!r} must be sympy expressions or numbers") from None
    if not (lr_s.is_real and lr_s.is_positive and lr_s.is_finite):
        raise ValueError(f"lr={lr!r} must be a finite number > 0")
    if not expr.is_polynomial(symbol) or expr.free_symbols - {symbol}:
        raise ValueError(f"expr={expr!r} must be a polynomial in {symbol} with numeric coefficients")
    lr = lr_s
    t = symbol - lr * sp.diff(expr, symbol)
    q, r = sp.div(sp.Poly(sp.expand(t.subs(symbol, t) - symbol), symbol), sp.Poly(sp.expand(t - symbol), symbol))
    if not r.is_zero:
        raise ValueError("expr: T(T(x)) − x is not divisible by T(x) − x; give a polynomial")
    return sorted(float(sp.re(z)) for z in q.nroots(n=30) if abs(sp.im(z)) < 1e-20)


def grid_band(grid, ok) -> tuple[float, float, float, float]:
    r"""The contiguous band of grid values around the best-known run of ``ok`` and its bracket.

    For a grid (sorted) and a boolean mask, take the *longest* contiguous run of ``True``: returns
    ``(inner_lo, inner_hi, outer_lo, outer_hi)``, where the inner values are its first and last grid
    points and the outer ones the neighbouring grid points that fail (``-inf``/``inf`` at the grid's
    ends). The band's true edges are known only to the grid spacing: they lie in
    ``[outer_lo, inner_lo]`` and ``[inner_hi, outer_hi]``.

    Raises
    ------
    ValueError
        If no grid point is ``True`` or the grid is not strictly increasing.

    Chapter ``book/large_lr/02_rugged_bowl`` (the window of large steps) and ``03_noise_vs_step``.
    """
    g = real_array(grid, "grid").ravel()
    m = np.asarray(ok)
    if m.dtype.kind not in "biu":
        raise ValueError(f"ok must be an array of booleans, got dtype {m.dtype}")
    m = m.astype(bool).ravel()
    if g.size != m.size or g.size == 0:
        raise ValueError("grid and ok must have the same non-zero length")
    if np.any(np.diff(g) <= 0):
        raise ValueError("grid must be strictly increasing")
    if not m.any():
        raise ValueError("ok: no grid point is in the band")
    start, run = None, []
    for i, v in enumerate(np.append(m, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            run.append((start, i - 1))
            start = None
    i0, i1 = max(run, key=lambda ab: ab[1] - ab[0])
    outer_lo = float(g[i0 - 1]) if i0 > 0 else -np.inf
    outer_hi = float(g[i1 + 1]) if i1 + 1 < g.size else np.inf
    return float(g[i0]), float(g[i1]), outer_lo, outer_hi


def proportion_se(successes, trials) -> np.ndarray | float:
    r"""Standard error of a success rate, never zero: :math:`\sqrt{\tilde p(1-\tilde p)/n}` with
    :math:`\tilde p = (k+1)/(n+2)` (Laplace's estimate), so a rate of 0 or 1 out of :math:`n` runs
    still carries an error of order :math:`1/n`.

    Chapters ``book/large_lr/02_rugged_bowl`` … ``04_instability_trap``.
    """
    k = real_array(successes, "successes", low=0.0)
    n = real_array(trials, "trials", low=1.0)
    try:
        np.broadcast_shapes(k.shape, n.shape)
    except ValueError:
        raise ValueError(f"successes {k.shape} and trials {n.shape} must broadcast together") from None
    if np.any(k > n):
        raise ValueError("need 0 <= successes <= trials and trials >= 1")
    pt = (k + 1.0) / (n + 2.0)
    out = np.sqrt(pt * (1.0 - pt) / n)
    return float(out) if out.ndim == 0 else out


def first_budget(budgets, rate, level: float) -> float:
    r"""The first budget (step count) on a grid at which a success rate reaches ``level``
    (``inf`` when it never does on the grid).

    Chapter ``book/large_lr/03_noise_vs_step`` (the race at equal budgets).
    """
    b = real_array(budgets, "budgets").ravel()
    r = real_array(rate, "rate").ravel()
    level = real_scalar(level, "level")
    if b.size != r.size or b.size == 0 or np.any(np.diff(b) <= 0):
        raise ValueError("budgets must be strictly increasing and as long as rate")
    hit = np.nonzero(r >= level)[0]
    return float(b[hit[0]]) if hit.size else math.inf


def budget_to_reach(budgets, rate, level: float, n_runs: int, *, window: int = 5) -> tuple[float, float]:
    r"""The budget at which a success-rate curve first reaches ``level``, with its standard error.

    The crossing is interpolated linearly between the two grid budgets around it. Its standard
    error is the delta method's: the binomial error of the rate at the crossing divided by the
    curve's slope there, :math:`\mathrm{se}_T = \mathrm{se}_p / |dp/dT|`, with the slope taken over
    ``window`` grid points on either side (and the grid spacing as a floor).

    Returns ``(inf, inf)`` when the curve never reaches ``level`` on the grid.

    Chapter ``book/large_lr/03_noise_vs_step`` (the Kramers clock).
    """
    b = real_array(budgets, "budgets").ravel()
    r = real_array(rate, "rate").ravel()
    level = real_scalar(level, "level")
    if b.size != r.size or b.size < 2 or np.any(np.diff(b) <= 0):
        raise ValueError("budgets must be strictly increasing and as long as rate (at least 2)")
    n_runs = integer(n_runs, "n_runs", low=1)
    window = integer(window, "window", low=1)
    hit = np.nonzero(r >= level)[0]
    if hit.size == 0:
        return math.inf, math.inf
    i = int(hit[0])
    if i == 0:
        t = float(b[0])
    else:
        t = float(b[i - 1] + (level - r[i - 1]) * (b[i] - b[i - 1]) / (r[i] - r[i - 1]))
    lo, hi = max(i - window, 0), min(i + window, b.size - 1)
    slope = (r[hi] - r[lo]) / (b[hi] - b[lo]) if hi > lo else 0.0
    se_p = float(np.sqrt(max(level * (1 - level), 1.0 / n_runs) / n_runs))
    spacing = float(b[i] - b[i - 1]) if i > 0 else float(b[1] - b[0])
    se_t = se_p / slope if slope > 0 else math.inf
    return t, float(max(se_t, spacing / math.sqrt(12)))
