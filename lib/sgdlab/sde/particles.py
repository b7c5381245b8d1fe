"""Mini-batch SGD, SGD with momentum and Euler–Maruyama on a landscape, vectorised over particles.

The mini-batch model of part 4: per-sample losses :math:`f_i(x)=f(x)+a_i\\cdot x` with
:math:`\\sum_i a_i=0`, half of the samples with :math:`a_i=+\\sigma` and half with :math:`-\\sigma`
(per coordinate). A batch of size :math:`B` drawn with replacement has gradient
:math:`\\nabla f(x)+\\xi`, where :math:`\\xi=\\sigma(2K-B)/B` and :math:`K\\sim\\mathrm{Bin}(B,\\tfrac12)`
counts the :math:`+\\sigma` samples: the exact law of the batch mean, mean 0 and variance
:math:`\\sigma^2/B`, bounded and non-Gaussian for small :math:`B` (``noise="two-point"``).
``noise="gaussian"`` draws :math:`\\xi\\sim N(0,\\sigma^2/B)` instead.

SGD :math:`x_{k+1}=x_k-\\eta(\\nabla f(x_k)+\\xi_k)` at time :math:`t=k\\eta` is the weak order-1
discretisation of :math:`dX=-\\nabla f\\,dt+\\sqrt{2D}\\,dW`, :math:`D=\\eta\\sigma^2/(2B)`; with Gaussian
noise and :math:`\\sigma^2=2D/\\eta` it *is* the Euler–Maruyama scheme (:func:`euler_maruyama`).
Momentum uses the normalised form :math:`m\\leftarrow\\beta m+(1-\\beta)g`, :math:`x\\leftarrow x-\\eta m`
(see :mod:`sgdlab.train.optim`).

Particles are rows of ``x0`` (shape ``(n,)`` or ``(n, d)``); the loop runs over steps only, with
noise drawn in blocks, and first-passage runs drop particles that have escaped.

Used by ``book/fokker_planck/01_sde_and_fokker_planck``, ``02_escape``, ``03_flat_minima_and_time``
and ``04_momentum``.

References
----------
Dai & Zhu, arXiv 2112.00987 (2021), the SDE of mini-batch SGD with :math:`D=\\eta\\sigma^2/(2B)`;
Li, Tai, E, ICML 2017 (order-1 weak approximation).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["batch_noise", "simulate", "euler_maruyama", "first_passage", "harmonic_gibbs_start"]

_NOISE_KINDS = ("two-point", "gaussian")
_BLOCK_ELEMENTS = 2_000_000


def _check(lr, batch_size, noise_std, noise, momentum):
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be a finite number > 0")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    if not (isinstance(noise_std, (int, float)) and math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std={noise_std!r} must be a finite number >= 0")
    if noise not in _NOISE_KINDS:
        raise ValueError(f"noise={noise!r}: use one of {_NOISE_KINDS}")
    if not (isinstance(momentum, (int, float)) and 0.0 <= momentum < 1.0):
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")


def batch_noise(rng: np.random.Generator, batch_size: int, noise_std: float, shape, *,
                noise: str = "two-point") -> np.ndarray:
    """Draw batch-mean gradient noise :math:`\\xi` of variance :math:`\\sigma^2/B`.

    Parameters
    ----------
    rng : numpy.random.Generator
    batch_size : int
        :math:`B\\ge1`.
    noise_std : float
        :math:`\\sigma\\ge0`, the per-sample gradient noise.
    shape : tuple
        Shape of the draw.
    noise : {"two-point", "gaussian"}
        Exact batch mean of :math:`\\pm\\sigma` samples drawn with replacement, or Gaussian.
    """
    _check(1.0, batch_size, noise_std, noise, 0.0)
    if noise == "gaussian":
        return rng.standard_normal(shape) * (noise_std / math.sqrt(batch_size))
    if batch_size <= 63:
        k = np.bitwise_count(rng.integers(0, 2**batch_size, size=shape, dtype=np.uint64))
    else:
        k = rng.binomial(batch_size, 0.5, size=shape)
    return (2.0 * k - batch_size) * (noise_std / batch_size)


def _block_len(n_elem: int) -> int:
    return int(max(16, min(4096, _BLOCK_ELEMENTS // max(n_elem, 1))))


def simulate(grad: Callable, x0, *, lr: float, times: Sequence[float], batch_size: int = 1,
             noise_std: float = 0.0, noise: str = "two-point", momentum: float = 0.0,
             seed: int | np.random.Generator = 0, return_velocity: bool = False):
    """Run mini-batch SGD (or SGDM) on many particles and return snapshots at ``times``.

    Parameters
    ----------
    grad : callable
        :math:`\\nabla f`, vectorised over particles (maps an array of the shape of ``x0`` to itself).
    x0 : array_like, shape (n,) or (n, d)
        Initial positions of the particles.
    lr : float
        :math:`\\eta>0`; step :math:`k` is time :math:`t=k\\eta`.
    times : sequence of float
        Non-decreasing times ≥ 0 at which to record (rounded to the nearest step).
    batch_size, noise_std, noise
        See :func:`batch_noise`.
    momentum : float
        :math:`\\beta\\in[0,1)` of normalised SGDM (0: plain SGD); the buffer starts at 0.
    seed : int or Generator
    return_velocity : bool
        Also return the snapshots of the momentum buffer :math:`m` (for :math:`\\beta>0`).

    Returns
    -------
    ndarray, shape (len(times), *x0.shape)
        Positions at each time; non-finite where a particle diverged (never an exception).
    """
    _check(lr, batch_size, noise_std, noise, momentum)
    x = np.array(x0, dtype=float)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError("x0 must have shape (n,) or (n, d) with n >= 1")
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("times must be a non-decreasing 1-d sequence of finite numbers >= 0")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    steps = np.rint(t / lr).astype(np.int64)
    out = np.empty((t.size,) + x.shape)
    vout = np.empty_like(out) if return_velocity else None
    m = np.zeros_like(x)
    K = _block_len(x.size)
    k = 0
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while j < t.size:
            while j < t.size and steps[j] == k:
                out[j] = x
                if vout is not None:
                    vout[j] = m
                j += 1
            if j == t.size:
                break
            n_block = int(min(K, steps[j] - k))
            xi = batch_noise(rng, batch_size, noise_std, (n_block,) + x.shape, noise=noise)
            for i in range(n_block):
                g = grad(x)
                g += xi[i]
                if momentum:
                    m *= momentum
                    m += (1.0 - momentum) * g
                    x -= lr * m
                else:
                    x -= lr * g
            k += n_block
    return (out, vout) if return_velocity else out


def euler_maruyama(grad: Callable, x0, *, temperature: float, dt: float, times: Sequence[float],
                   seed: int | np.random.Generator = 0) -> np.ndarray:
    """Euler–Maruyama for :math:`dX=-\\nabla f\\,dt+\\sqrt{2D}\\,dW`, snapshots at ``times``.

    It is :func:`simulate` with Gaussian noise of standard deviation :math:`\\sqrt{2D/\\Delta t}` and
    step :math:`\\Delta t`: :math:`x\\leftarrow x-\\Delta t\\,\\nabla f+\\sqrt{2D\\Delta t}\\,z`.
    """
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature={temperature!r} must be a finite number >= 0")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt={dt!r} must be a finite number > 0")
    return simulate(grad, x0, lr=dt, times=times, batch_size=1, noise="gaussian",
                    noise_std=math.sqrt(2.0 * temperature / dt), seed=seed)


def first_passage(grad: Callable, x0, target, *, lr: float, horizon: float, batch_size: int = 1,
                  noise_std: float = 0.0, noise: str = "two-point", momentum: float = 0.0,
                  seed: int | np.random.Generator = 0, check_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """First time each particle's first coordinate crosses ``target``, censored at ``horizon``.

    Parameters
    ----------
    grad, x0, lr, batch_size, noise_std, noise, momentum, seed
        As for :func:`simulate`.
    target : float or array_like, shape (n,)
        The crossing level of each particle's first coordinate; the direction is from ``x0``
        towards it (so particles started on either side of a barrier can run together).
    horizon : float
        Censoring time (SDE time, ``horizon / lr`` steps).
    check_every : int
        Test for a crossing every this many steps (1: every step). A larger value saves time and
        records the crossing up to ``check_every * lr`` late, and can miss a crossing that is
        undone within that window: use it only when the target is a point the process returns
        from slowly (a minimum) and ``check_every * lr`` is far below the passage time.

    Returns
    -------
    times : ndarray, shape (n,)
        Crossing time :math:`k\\eta` of each particle, or ``horizon`` if it did not cross.
    escaped : ndarray of bool, shape (n,)
        Feed both to :func:`sgdlab.sde.escape.censored_exponential`.
    """
    _check(lr, batch_size, noise_std, noise, momentum)
    if not (isinstance(horizon, (int, float)) and math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"horizon={horizon!r} must be a finite number > 0")
    x = np.array(x0, dtype=float)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError("x0 must have shape (n,) or (n, d) with n >= 1")
    if not (isinstance(check_every, (int, np.integer)) and check_every >= 1):
        raise ValueError(f"check_every={check_every!r} must be an integer >= 1")
    first = x if x.ndim == 1 else x[:, 0]
    tgt = np.broadcast_to(np.asarray(target, dtype=float), first.shape).copy()
    if np.any(~np.isfinite(tgt)):
        raise ValueError("target must be finite")
    sgn = np.sign(tgt - first)
    if np.any(sgn == 0):
        raise ValueError("every particle of x0 must start strictly on one side of its target")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = x.shape[0]
    times = np.full(n, float(horizon))
    escaped = np.zeros(n, dtype=bool)
    idx = np.arange(n)
    m = np.zeros_like(x)
    max_steps = int(math.ceil(horizon / lr))
    k = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while k < max_steps and idx.size:
            K = int(min(_block_len(x.size), max_steps - k))
            xi = batch_noise(rng, batch_size, noise_std, (K,) + x.shape, noise=noise)
            hit = np.zeros(idx.size, dtype=bool)
            for i in range(K):
                g = grad(x)
                g += xi[i]
                if momentum:
                    m *= momentum
                    m += (1.0 - momentum) * g
                    x -= lr * m
                else:
                    x -= lr * g
                if (k + i + 1) % check_every == 0 or i == K - 1:
                    c = x if x.ndim == 1 else x[:, 0]
                    new = (sgn * (c - tgt) >= 0) & ~hit
                    if new.any():
                        hit |= new
                        times[idx[new]] = (k + i + 1) * lr
            k += K
            escaped[idx[hit]] = True
            keep = ~hit & np.isfinite(x if x.ndim == 1 else x[:, 0])
            idx, x, m, sgn, tgt = idx[keep], x[keep], m[keep], sgn[keep], tgt[keep]
    times = np.minimum(times, horizon)
    return times, escaped


def harmonic_gibbs_start(minimum, hess, temperature: float, n: int,
                         seed: int | np.random.Generator = 0) -> np.ndarray:
    """Draw ``n`` starting points from the harmonic Gibbs law :math:`N(m, D\\,H^{-1})` of a minimum.

    The stationary law of :math:`dX=-\\nabla f\\,dt+\\sqrt{2D}\\,dW` restricted to a well, to second
    order: escape runs started from it have no initial transient before the escape law becomes
    exponential.

    Parameters
    ----------
    minimum : array_like, shape (d,)
        :math:`m`.
    hess : array_like, shape (d, d)
        :math:`H=\\nabla^2 f(m)`, positive definite.
    temperature : float
        :math:`D>0`.
    n : int
        Number of particles.
    seed : int or Generator
        The draws are ``rng.standard_normal((d, n))``, one row per coordinate.

    Returns
    -------
    ndarray, shape (n, d)

    Used by ``book/fokker_planck/02_escape`` (two-dimensional escape).
    """
    m = np.atleast_1d(np.asarray(minimum, dtype=float))
    H = np.atleast_2d(np.asarray(hess, dtype=float))
    if m.ndim != 1 or H.shape != (m.size, m.size):
        raise ValueError("hess must be a (d, d) matrix for a minimum of shape (d,)")
    if not (isinstance(temperature, (int, float, np.floating)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature={temperature!r} must be a finite number > 0")
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n={n!r} must be an integer >= 1")
    try:
        L = np.linalg.cholesky(float(temperature) * np.linalg.inv(0.5 * (H + H.T)))
    except np.linalg.LinAlgError:
        raise ValueError("hess must be positive definite") from None
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    z = rng.standard_normal((m.size, int(n)))
    return m[None, :] + (L @ z).T
