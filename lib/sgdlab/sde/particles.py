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
noise drawn in blocks, and first-passage runs drop particles that have escaped. Divergence is a
result: a particle that leaves the floating-point range is ``inf`` (and flagged), never NaN, with no
warning; invalid input is a ``ValueError`` naming the parameter.

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

from ._validate import float_array as _float_array

__all__ = ["batch_noise", "simulate", "euler_maruyama", "first_passage", "harmonic_gibbs_start"]

_NOISE_KINDS = ("two-point", "gaussian")
_BLOCK_ELEMENTS = 2_000_000
_CHUNK_ELEMENTS = 65_536   # first_passage's crossing record per chunk of steps (512 kB)
_F64 = np.dtype(np.float64)
_MAX_STEPS = 2**53          # steps = rint(time / lr) must be an exact integer in float64


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check(lr, batch_size, noise_std, noise, momentum):
    if not (_is_number(lr) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be a finite number > 0")
    if not (_is_int(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    if not (_is_number(noise_std) and math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std={noise_std!r} must be a finite number >= 0")
    if not (isinstance(noise, str) and noise in _NOISE_KINDS):
        raise ValueError(f"noise={noise!r}: use one of {_NOISE_KINDS}")
    if not (_is_number(momentum) and 0.0 <= momentum < 1.0):
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if not (_is_int(seed) and seed >= 0):
        raise ValueError(f"seed={seed!r} must be an integer >= 0 or a numpy.random.Generator")
    return np.random.default_rng(int(seed))


def _callable(name: str, f) -> None:
    if not callable(f):
        raise ValueError(f"{name}={f!r} must be a callable")




def _particles(x0) -> np.ndarray:
    """``x0`` as a fresh float64 array of shape (n,) or (n, d), finite, or a ValueError naming it."""
    x = _float_array("x0", x0)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError("x0 must have shape (n,) or (n, d) with n >= 1")
    if not np.all(np.isfinite(x)):
        raise ValueError("x0 must be finite")
    return x


def _grad_at(grad: Callable, x: np.ndarray, g=None) -> np.ndarray:
    """``grad(x)`` (or its value ``g``) as a float64 array of the shape of ``x``, or a ValueError naming grad."""
    try:
        g = np.asarray(grad(x) if g is None else g, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("grad must return an array of numbers of the shape of x0") from None
    if g.shape != x.shape:
        raise ValueError(f"grad must map an array of shape {x.shape} to one of the same shape, got {g.shape}")
    return g


def _sgd_block(grad: Callable, x: np.ndarray, m: np.ndarray, xi: np.ndarray, lr: float, momentum: float,
               tmp: np.ndarray, restart: np.ndarray, div_step: np.ndarray, offset: int = 0,
               rows=None, record=None, sgn=None) -> bool:
    """Run ``len(xi)`` steps in place on ``x`` (and ``m``); return whether a particle diverged.

    The arithmetic is that of ``g = grad(x) + xi``, ``m = beta m + (1 - beta) g``, ``x -= lr m`` (or
    ``x -= lr g``), operation for operation, in preallocated buffers. A particle that leaves the
    floating-point range gets the step ``offset + i`` in ``div_step`` (where that is still -1) and is
    put back at ``restart`` with ``m = 0``, so that ``grad`` only ever sees finite points. With ``rows``
    (a list, one entry per step, -1 for none) ``sgn`` times the first coordinate after step ``i`` is
    written to ``record[rows[i]]``.
    """
    one_minus = 1.0 - momentum
    col = None if rows is None else (x if x.ndim == 1 else x[:, 0])
    diverged = False
    for i in range(xi.shape[0]):
        g = grad(x)
        if type(g) is not np.ndarray or g.dtype is not _F64 or g.shape != x.shape:
            g = _grad_at(grad, x, g)
        g += xi[i]
        if momentum:
            m *= momentum
            np.multiply(g, one_minus, out=g)
            m += g
            np.multiply(m, lr, out=tmp)
        else:
            np.multiply(g, lr, out=tmp)
        x -= tmp
        if not _all_finite(x):          # one reduction per step; the rows only on divergence
            bad = _rows_not_finite(x)
            if bad.any():
                diverged = True
                div_step[bad & (div_step < 0)] = offset + i
                x[bad] = restart[bad]
                m[bad] = 0.0
        if rows is not None and rows[i] >= 0:
            np.multiply(col, sgn, out=record[rows[i]])
    return diverged


def _all_finite(x: np.ndarray) -> bool:
    """A cheap test that may say False for huge finite entries too (the caller then looks at the rows)."""
    if x.size <= 8192:                  # a dot product, single-threaded in BLAS at this size
        return bool(np.vdot(x, x) < 1e300)
    return math.isfinite(np.add.reduce(x, axis=None))


def _rows_not_finite(x: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(x)
    return bad if x.ndim == 1 else bad.any(axis=1)


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
    shape : int or tuple of int
        Shape of the draw (non-negative integers).
    noise : {"two-point", "gaussian"}
        Exact batch mean of :math:`\\pm\\sigma` samples drawn with replacement, or Gaussian.

    Returns
    -------
    ndarray of float64, shape ``shape``

    Raises
    ------
    ValueError
        Naming the parameter: ``rng`` not a Generator, ``batch_size`` not an integer >= 1, ``noise_std``
        not finite >= 0, ``shape`` not non-negative integers, ``noise`` unknown.

    Used by ``book/fokker_planck/01_sde_and_fokker_planck`` (the two-point law of the batch mean).
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng={rng!r} must be a numpy.random.Generator")
    _check(1.0, batch_size, noise_std, noise, 0.0)
    dims = (shape,) if _is_int(shape) else shape
    if not (isinstance(dims, (tuple, list)) and all(_is_int(d) and d >= 0 for d in dims)):
        raise ValueError(f"shape={shape!r} must be a non-negative integer or a tuple of them")
    shape = tuple(int(d) for d in dims)
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
             seed: int | np.random.Generator = 0, return_velocity: bool = False,
             return_diverged: bool = False):
    """Run mini-batch SGD (or SGDM) on many particles and return snapshots at ``times``.

    Parameters
    ----------
    grad : callable
        :math:`\\nabla f`, vectorised over particles (maps an array of the shape of ``x0`` to itself).
    x0 : array_like, shape (n,) or (n, d)
        Initial positions of the particles (finite).
    lr : float
        :math:`\\eta>0`; step :math:`k` is time :math:`t=k\\eta`.
    times : sequence of float
        Non-decreasing times ≥ 0 at which to record (rounded to the nearest step).
    batch_size, noise_std, noise
        See :func:`batch_noise`.
    momentum : float
        :math:`\\beta\\in[0,1)` of normalised SGDM (0: plain SGD); the buffer starts at 0.
    seed : int or Generator
        An integer ≥ 0 or a :class:`numpy.random.Generator` (advanced in place).
    return_velocity : bool
        Also return the snapshots of the momentum buffer :math:`m` (for :math:`\\beta>0`).
    return_diverged : bool
        Also return the per-particle divergence flag (last in the tuple).

    Returns
    -------
    positions : ndarray, shape (len(times), *x0.shape)
        Positions at each time.
    velocities : ndarray, shape (len(times), *x0.shape)
        Only with ``return_velocity``.
    diverged : ndarray of bool, shape (n,)
        Only with ``return_diverged``: the particle left the floating-point range (a coordinate
        overflowed or became undefined) before the last time.

    Notes
    -----
    Divergence is a result, not an exception and not NaN: a particle that leaves the floating-point
    range (a step size above the stability limit, a drift that blows up) is ``inf`` in every
    coordinate, position and buffer, from the first snapshot after it diverged on, and is flagged in
    ``diverged``; no warning is emitted, and ``grad`` is only ever called on finite points (a
    diverged particle is carried on from its start, unseen, so that the random stream of the others
    does not change). Runs that stay finite are unchanged by this bookkeeping.

    Raises
    ------
    ValueError
        Naming the parameter, for a non-callable ``grad``, non-finite or misshapen ``x0``, bad
        ``times``, ``lr``, ``batch_size``, ``noise_std``, ``noise``, ``momentum`` or ``seed``, and a
        ``grad`` whose output does not have the shape of ``x0``.

    Used by ``book/fokker_planck/01_sde_and_fokker_planck``, ``03_flat_minima_and_time`` and
    ``04_momentum``.
    """
    _callable("grad", grad)
    _check(lr, batch_size, noise_std, noise, momentum)
    x = _particles(x0)
    t = _float_array("times", times)
    if t.ndim != 1 or np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("times must be a non-decreasing 1-d sequence of finite numbers >= 0")
    if t.size and t[-1] / lr > _MAX_STEPS:
        raise ValueError(f"times: the last time {t[-1]!r} is more than 2**53 steps of lr={lr!r}")
    rng = _rng(seed)
    steps = np.rint(t / lr).astype(np.int64)
    out = np.empty((t.size,) + x.shape)
    vout = np.empty_like(out) if return_velocity else None
    m = np.zeros_like(x)
    tmp = np.empty_like(x)
    restart = x.copy()
    diverged = np.zeros(x.shape[0], dtype=bool)
    K = _block_len(x.size)
    k = 0
    j = 0
    with np.errstate(all="ignore"):
        while j < t.size:
            while j < t.size and steps[j] == k:
                out[j] = x
                out[j, diverged] = np.inf
                if vout is not None:
                    vout[j] = m
                    vout[j, diverged] = np.inf
                j += 1
            if j == t.size:
                break
            n_block = int(min(K, steps[j] - k))
            xi = batch_noise(rng, batch_size, noise_std, (n_block,) + x.shape, noise=noise)
            div_step = np.full(x.shape[0], -1)
            _sgd_block(grad, x, m, xi, lr, momentum, tmp, restart, div_step)
            diverged |= div_step >= 0
            k += n_block
    res = (out, vout) if return_velocity else (out,)
    if return_diverged:
        res = res + (diverged,)
    return res if len(res) > 1 else res[0]


def euler_maruyama(grad: Callable, x0, *, temperature: float, dt: float, times: Sequence[float],
                   seed: int | np.random.Generator = 0, return_diverged: bool = False):
    """Euler–Maruyama for :math:`dX=-\\nabla f\\,dt+\\sqrt{2D}\\,dW`, snapshots at ``times``.

    It is :func:`simulate` with Gaussian noise of standard deviation :math:`\\sqrt{2D/\\Delta t}` and
    step :math:`\\Delta t`: :math:`x\\leftarrow x-\\Delta t\\,\\nabla f+\\sqrt{2D\\Delta t}\\,z`.

    Parameters
    ----------
    grad, x0, times, seed, return_diverged
        As for :func:`simulate`.
    temperature : float
        :math:`D\\ge0`.
    dt : float
        :math:`\\Delta t>0`.

    Returns
    -------
    ndarray, shape (len(times), *x0.shape), and the ``diverged`` flags with ``return_diverged``
        As for :func:`simulate`: a diverged particle is ``inf``, never NaN.

    Used by ``book/fokker_planck/01_sde_and_fokker_planck``.
    """
    if not (_is_number(temperature) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature={temperature!r} must be a finite number >= 0")
    if not (_is_number(dt) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt={dt!r} must be a finite number > 0")
    noise_std = math.sqrt(2.0 * temperature / dt)
    if not math.isfinite(noise_std):
        raise ValueError(f"dt={dt!r} is too small for temperature={temperature!r}: the noise overflows")
    return simulate(grad, x0, lr=dt, times=times, batch_size=1, noise="gaussian",
                    noise_std=noise_std, seed=seed, return_diverged=return_diverged)


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
        Crossing time :math:`k\\eta` of each particle, ``horizon`` if it did not cross, and ``inf`` if
        it diverged (left the floating-point range) before crossing.
    escaped : ndarray of bool, shape (n,)
        Feed both to :func:`sgdlab.sde.escape.censored_exponential` (which flags the diverged ones).

    Notes
    -----
    The steps run in blocks of a few hundred to a few thousand (the noise of a block is one draw;
    particles that have crossed or diverged leave the run between blocks), and each block in chunks
    of steps whose record fits in cache: the signed first coordinate is recorded at the checked steps,
    and after each chunk one comparison of the whole record with the signed target and an ``argmax``
    along the steps give each particle's first crossing. The results, random stream included, are
    bit for bit those of testing after every checked step (the former implementation; see
    ``tests/test_particles.py``). The time of a run is that of ``grad`` and of the noise draws: on
    the chapters' runs the bookkeeping saved about pays for the divergence guard (one reduction per
    step), within ±10 %.

    Raises
    ------
    ValueError
        Naming the parameter, as for :func:`simulate`, and for a ``target`` that is not finite, not
        broadcastable to ``(n,)`` or equal to a particle's start, a ``horizon`` not finite > 0 (or of
        more than 2**53 steps) and a ``check_every`` not an integer >= 1.

    Used (through :func:`sgdlab.sde.escape.escape_rate`) by ``book/fokker_planck/02_escape`` and
    ``04_momentum``.
    """
    _callable("grad", grad)
    _check(lr, batch_size, noise_std, noise, momentum)
    if not (_is_number(horizon) and math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"horizon={horizon!r} must be a finite number > 0")
    if horizon / lr > _MAX_STEPS:
        raise ValueError(f"horizon={horizon!r} is more than 2**53 steps of lr={lr!r}")
    x = _particles(x0)
    if not (_is_int(check_every) and check_every >= 1):
        raise ValueError(f"check_every={check_every!r} must be an integer >= 1")
    first = x if x.ndim == 1 else x[:, 0]
    try:
        tgt = np.broadcast_to(_float_array("target", target), first.shape).copy()
    except ValueError as exc:
        if "target=" in str(exc):
            raise
        raise ValueError(f"target must be a number or an array of shape ({first.size},)") from None
    if np.any(~np.isfinite(tgt)):
        raise ValueError("target must be finite")
    sgn = np.sign(tgt - first)
    if np.any(sgn == 0):
        raise ValueError("every particle of x0 must start strictly on one side of its target")
    rng = _rng(seed)
    n = x.shape[0]
    times = np.full(n, float(horizon))
    escaped = np.zeros(n, dtype=bool)
    idx = np.arange(n)
    m = np.zeros_like(x)
    x0_alive = x.copy()
    max_steps = int(math.ceil(horizon / lr))
    check_every = int(check_every)
    k = 0
    with np.errstate(all="ignore"):
        while k < max_steps and idx.size:
            n_alive = idx.size
            K = int(min(_block_len(x.size), max_steps - k))
            xi = batch_noise(rng, batch_size, noise_std, (K,) + x.shape, noise=noise)
            # the checked steps of this block (0-based within it): multiples of check_every, and the last
            is_checked = (k + np.arange(1, K + 1)) % check_every == 0
            is_checked[-1] = True
            # the steps run in chunks whose record of sgn * (first coordinate) at the checked steps fits
            # in cache; after each chunk one comparison with sgn * target over the whole record and an
            # argmax along the steps give each particle's first crossing in it
            S = max(1, _CHUNK_ELEMENTS // n_alive)
            record = np.empty((min(S, K), n_alive))
            tmp = np.empty_like(x)
            sgn_tgt = sgn * tgt
            hit = np.zeros(n_alive, dtype=bool)
            first = np.zeros(n_alive, dtype=np.int64)       # step of the first crossing, within the block
            div_step = np.full(n_alive, -1)
            any_div = False
            for a in range(0, K, S):
                b = min(a + S, K)
                chk = np.flatnonzero(is_checked[a:b])
                rows = [-1] * (b - a)
                for r, i in enumerate(chk.tolist()):
                    rows[i] = r
                any_div |= _sgd_block(grad, x, m, xi[a:b], lr, momentum, tmp, x0_alive, div_step, a,
                                      rows, record, sgn)
                if chk.size == 0:
                    continue
                crossed = record[:chk.size] >= sgn_tgt          # (checked steps, particles)
                if any_div:     # a crossing counts if it comes before the particle left the float range
                    crossed &= (a + chk)[:, None] < np.where(div_step >= 0, div_step, K)[None, :]
                new = crossed.any(axis=0)
                new &= ~hit
                if new.any():
                    first[new] = a + chk[np.argmax(crossed[:, new], axis=0)]
                    hit |= new
            times[idx[hit]] = (k + first[hit] + 1) * lr
            k += K
            escaped[idx[hit]] = True
            lost = ~hit & (div_step >= 0)
            times[idx[lost]] = np.inf
            keep = ~hit & ~lost
            idx, x, m, sgn, tgt, x0_alive = idx[keep], x[keep], m[keep], sgn[keep], tgt[keep], x0_alive[keep]
    times = np.where(np.isinf(times), np.inf, np.minimum(times, horizon))
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
    m = np.atleast_1d(_float_array("minimum", minimum))
    H = np.atleast_2d(_float_array("hess", hess))
    if m.ndim != 1 or H.shape != (m.size, m.size):
        raise ValueError("hess must be a (d, d) matrix for a minimum of shape (d,)")
    if not (np.all(np.isfinite(m))):
        raise ValueError("minimum must be finite")
    if not (np.all(np.isfinite(H))):
        raise ValueError("hess must be finite")
    if not (_is_number(temperature) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature={temperature!r} must be a finite number > 0")
    if not (_is_int(n) and n >= 1):
        raise ValueError(f"n={n!r} must be an integer >= 1")
    rng = _rng(seed)
    try:
        L = np.linalg.cholesky(float(temperature) * np.linalg.inv(0.5 * (H + H.T)))
    except np.linalg.LinAlgError:
        raise ValueError("hess must be positive definite") from None
    if not np.all(np.isfinite(L)):
        raise ValueError("hess must be positive definite and well conditioned (D H^-1 overflows)")
    z = rng.standard_normal((m.size, int(n)))
    return m[None, :] + (L @ z).T
