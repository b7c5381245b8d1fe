"""Spectrally-expressible (SE) dynamics of mini-batch SGD with momentum on a linear model (private).

Public names are re-exported by :mod:`sgdlab.linear`. Notation of part 1 of the book
(Velikanov, Kuznedelev & Yarotsky, ICLR 2023): learning rate ``lr`` = α, ``momentum`` = β,
``noise_factor`` = γ (1/B for i.i.d. batches), eigenvalues ``eigs`` = λ_k, loss-weighted initial
coefficients ``c`` = c_k (so that L_0 = ½ Σ_k c_k), SE parameters τ1, τ2.
"""
from __future__ import annotations

import numpy as np

from ._validate import (as_modes, as_times, bool_flag, hyper, multiplicities, positive_int, real_array,
                        real_scalar, single_thread)

__all__ = [
    "noise_factor", "transfer_matrix", "se_loss", "det_poly", "U_of_z", "V_of_z", "L_of_z",
    "loss_from_genfun", "mode_stable", "U_at_one", "V_at_one", "loss_sum", "critical_lr",
    "lambda_crit", "effective_lr_limit", "propagators", "renewal_loss",
]


def noise_factor(batch_size, n_samples: int | None = None):
    """The sampling factor γ of the batch noise.

    γ = 1/B for i.i.d. samples (``n_samples=None``), and γ = (N−B)/((N−1)B) for a batch drawn
    without replacement, independently at each step, from N training points.

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023), Sec. 2 (sampling models); book chapter
    ``generating_functions/01_derivation``.
    """
    b = real_array(batch_size, "batch_size", finite=False)
    if np.any(~(b >= 1)) or np.any(~np.isfinite(b)) or np.any(b != np.round(b)):
        raise ValueError("batch_size must be an integer >= 1")
    if n_samples is None:
        return 1.0 / b if b.ndim else float(1.0 / b)
    n = real_scalar(n_samples, "n_samples", finite=False)
    if not (n >= 2 and np.isfinite(n) and n == round(n)) or np.any(b > n):
        raise ValueError("n_samples must be an integer >= 2 and >= batch_size")
    g = (n - b) / ((n - 1.0) * b)
    return g if g.ndim else float(g)


def transfer_matrix(a, momentum, s):
    """Per-mode 3×3 transfer matrix T_k of the second moments (C_k, J_k, P_k).

    Parameters
    ----------
    a
        α λ_k (broadcastable array).
    momentum
        β.
    s
        τ2 γ.

    Returns
    -------
    ndarray, shape ``broadcast + (3, 3)``

    References
    ----------
    Velikanov et al. (ICLR 2023), the SE moment dynamics; derived symbolically in the book chapter
    ``generating_functions/01_derivation``.
    """
    a, b, s = _broadcast_real(a=a, momentum=momentum, s=s)
    T = np.empty(a.shape + (3, 3))
    T[..., 0, 0] = (1 - a) ** 2 - s * a**2
    T[..., 0, 1] = 2 * b * (1 - a)
    T[..., 0, 2] = b**2
    T[..., 1, 0] = a * (a - 1 - s * a)
    T[..., 1, 1] = b * (1 - 2 * a)
    T[..., 1, 2] = b**2
    T[..., 2, 0] = a**2 * (1 - s)
    T[..., 2, 1] = -2 * a * b
    T[..., 2, 2] = b**2
    return T


def _broadcast_real(complex_ok=(), **arrays):
    """Finite real arrays (complex where named in ``complex_ok``) broadcast together; ``ValueError`` naming
    the offending parameter otherwise."""
    arrs = [real_array(v, k, complex_ok=k in complex_ok) for k, v in arrays.items()]
    try:
        return np.broadcast_arrays(*arrs)
    except ValueError:
        raise ValueError(f"{', '.join(arrays)} must broadcast together, got shapes {[a.shape for a in arrs]}") from None


def _scalar_hyper(lr, momentum, noise_factor, tau1=1.0, tau2=1.0):
    """Validated scalar hyper-parameters (the generating functions take one point of the grid)."""
    for v, n in zip((lr, momentum, noise_factor, tau1, tau2), ("lr", "momentum", "noise_factor", "tau1", "tau2")):
        arr = real_array(v, n, finite=False)
        if arr.ndim != 0:
            raise ValueError(f"{n} must be a scalar here, got shape {arr.shape}")
    return tuple(float(v) for v in hyper(lr, momentum, noise_factor, tau1, tau2))


def _times(times, steps):
    if times is None:
        return np.arange(steps + 1)
    return as_times(times, steps)


def se_loss(eigs, c, lr, momentum=0.0, noise_factor=0.0, steps: int = 100, *, tau1=1.0, tau2=1.0,
            mult=None, times=None, diverge_at: float = 1e30, mode_tau2=None, method: str = "matrix",
            engine: str = "auto"):
    """Expected loss L_t of mini-batch SGD with momentum under the SE approximation (the recursion).

    Iterates the per-mode moments (C_k, J_k, P_k) with the transfer matrices T_k and the noise
    injection γ τ1 α² λ_k² Σ_l C_l, vectorised over the modes and over a grid of hyper-parameters:
    ``lr``, ``momentum``, ``noise_factor``, ``tau1`` and ``tau2`` broadcast to one grid shape ``G``.

    Parameters
    ----------
    eigs, c
        Eigenvalues λ_k > 0 and loss-weighted initial coefficients c_k ≥ 0 (L_0 = ½ Σ mult_k c_k).
    lr, momentum, noise_factor
        α > 0, β ∈ (−1, 1), γ ≥ 0 (arrays broadcast to the grid).
    steps
        Number of steps T.
    tau1, tau2
        SE parameters (Gaussian features: 1, −1; translation-invariant data: 1, 1).
    mult
        Multiplicity of each mode (log-binned spectra); default ones.
    times
        Increasing step indices at which to record L_t (default: every step 0…T).
    diverge_at
        A grid point whose loss exceeds this (or is not finite) is flagged as divergent: its loss is
        ``inf`` from then on.
    mode_tau2
        Optional per-mode τ2 (shape of ``eigs``), multiplying ``tau2``: the diagonal approximation with a
        mode-dependent τ2,k (e.g. 2 − κ_k from the eigenvector kurtosis).
    method
        ``"matrix"`` (default) iterates (C_k, J_k, P_k) with T_k. ``"recurrence"`` (numpy only) iterates
        C_k alone with the third-order recurrence whose characteristic polynomial is det(I − zT_k): half the
        array passes of the numpy matrix form, at a relative round-off of ~1e-9 after 2·10⁴ steps at
        β = 0.97 (1e-15 for the matrix form; measured against long double); the fused kernel is faster than
        both. Grid points with β = 0 always take the exact one-term path C' = q_k C + injection.
    engine
        ``"auto"`` (default): the fused compiled kernel (numba; one pass over the moments per step, grid
        points in parallel) for ``method="matrix"``, numpy otherwise or when numba is missing. ``"numba"``
        insists on the kernel, ``"numpy"`` runs the array form (the reference it is tested against; the two
        agree to round-off: at most 6e-15 relative on a 40 × 40 map after 10³ steps, as
        ``benchmarks/bench_linear.py`` measures; the tests require 1e-12).

    Returns
    -------
    ndarray, shape ``G + (len(times),)``

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023), SE approximation and moment dynamics; book chapters
    ``generating_functions/01_derivation`` … ``03_convergence``.
    """
    lam = as_modes(eigs)
    cc = _coefs(c, lam)
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    m = multiplicities(mult, lam.size)
    steps = positive_int(steps, "steps", 0)
    t_rec = _times(times, steps)
    if method not in ("matrix", "recurrence"):
        raise ValueError(f"method={method!r} must be 'matrix' or 'recurrence'")
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine={engine!r} must be 'auto', 'numba' or 'numpy'")
    if not real_scalar(diverge_at, "diverge_at", finite=False) > 0:
        raise ValueError(f"diverge_at={diverge_at!r} must be > 0")
    if engine == "numba" and method != "matrix":
        raise ValueError("engine='numba' runs method='matrix' only; method='recurrence' needs engine='numpy'")
    lr, b, g, t1, t2 = hyper(lr, momentum, noise_factor, tau1, tau2)
    G = lr.shape
    if mode_tau2 is not None:
        mt = real_array(mode_tau2, "mode_tau2", finite=False)
        if mt.shape != lam.shape or not np.all(np.isfinite(mt)):
            raise ValueError(f"mode_tau2 must be finite with the shape of eigs {lam.shape}")
    if engine != "numpy" and method == "matrix":
        from . import _se_kernel

        if engine == "numba" or _se_kernel.available():
            mt = np.ones_like(lam) if mode_tau2 is None else mt
            with np.errstate(over="ignore", invalid="ignore"):
                out = _se_kernel.se_rows(lam, cc, m, mt, lr.ravel(), b.ravel(), (t2 * g).ravel(),
                                         (t1 * g).ravel(), steps, t_rec, diverge_at)
            return out.reshape(G + (t_rec.size,))
    ex = (...,) + (None,)
    a = lr[ex] * lam                       # G + (K,)
    s = (t2 * g)[ex]
    if mode_tau2 is not None:
        s = s * mt
    bb = np.broadcast_to(b[ex], a.shape)
    s = np.broadcast_to(s, a.shape)
    inj = np.broadcast_to((t1 * g)[ex] * a**2, a.shape)   # noise injection per unit of Σ_l C_l
    out = np.full(G + (t_rec.size,), np.inf)
    # flatten the grid and run it in chunks small enough for the per-step arrays to stay in cache
    K = lam.size
    n_grid = int(np.prod(G, dtype=np.int64))
    flat = lambda v: np.reshape(v, (n_grid, K))  # noqa: E731
    a2, s2, b2, i2 = flat(a), flat(s), flat(bb), flat(inj)
    out2 = out.reshape(n_grid, t_rec.size)
    chunk = max(1, _CHUNK_ELEMENTS // K)
    # grid points without momentum take the cheap path: group them apart from the others
    zero = ~np.any(b2 != 0, axis=1)
    with np.errstate(over="ignore", invalid="ignore"), single_thread():
        for rows in (np.flatnonzero(zero), np.flatnonzero(~zero)):
            for lo in range(0, rows.size, chunk):
                r = rows[lo:lo + chunk]
                out2[r] = _se_core(cc, m, a2[r], s2[r], b2[r], i2[r], steps, t_rec, diverge_at, method)
    return out


_CHUNK_ELEMENTS = 1 << 14   # grid points × modes per chunk of the SE recursion (cache-sized)


def _observe(t, j, tot, alive, states, t_rec, out, diverge_at):
    """Flag the grid points whose 2L_t = ``tot`` left the finite range (zeroing their ``states`` and ``tot``,
    clearing ``alive`` in place) and record L_t if t is the next of ``t_rec``; returns the next record index."""
    bad = ~(np.abs(tot) < 2 * diverge_at) & alive
    if bad.any():
        alive &= ~bad
        for arr in states:
            arr[bad] = 0.0
        tot[bad] = 0.0
    if j < t_rec.size and t == t_rec[j]:
        out[:, j] = np.where(alive, 0.5 * tot, np.inf)
        j += 1
    return j


def _se_core(cc, m, a, s, bb, inj, steps, t_rec, diverge_at, method="matrix"):
    """The SE recursion on a (grid, modes) chunk; returns L at ``t_rec`` (``inf`` once divergent).

    The three new moments share the term β²P + injection, so one step is ~15 array passes; at β = 0
    (for the whole chunk) J and P never feed back into C and one step is C' = q C + injection.
    ``method="recurrence"`` iterates C alone through the third-order recurrence of det(I − zT_k).
    """
    n = a.shape[0]
    out = np.full((n, t_rec.size), np.inf)
    alive = np.ones(n, dtype=bool)
    C = np.broadcast_to(cc, a.shape).copy()
    tmp = np.empty_like(C)
    if not np.any(bb):
        q = (1 - a) ** 2 - s * a**2
        j = 0
        for t in range(steps + 1):
            tot = C @ m                      # Σ_l mult_l C_l = 2 L_t
            j = _observe(t, j, tot, alive, (C,), t_rec, out, diverge_at)
            if t == steps:
                break
            C *= q
            np.multiply(inj, tot[:, None], out=tmp)
            C += tmp
        return out
    T00 = (1 - a) ** 2 - s * a**2
    T01 = 2 * bb * (1 - a)
    T10 = a * (a - 1 - s * a)
    T11 = bb * (1 - 2 * a)
    T20 = a**2 * (1 - s)
    T21 = -2 * a * bb
    b2 = bb**2
    J = np.zeros_like(C)
    P = np.zeros_like(C)
    if method == "matrix":
        Y = np.empty_like(C)
        Cn = np.empty_like(C)
        j = 0
        for t in range(steps + 1):
            tot = C @ m
            j = _observe(t, j, tot, alive, (C, J, P), t_rec, out, diverge_at)
            if t == steps:
                break
            np.multiply(inj, tot[:, None], out=Y)     # Y = β²P + noise injection (shared by C', J', P')
            np.multiply(b2, P, out=tmp)
            Y += tmp
            np.multiply(T20, C, out=P)                # P' = T20 C + T21 J + Y
            P += Y
            np.multiply(T21, J, out=tmp)
            P += tmp
            np.multiply(T00, C, out=Cn)               # C' = T00 C + T01 J + Y
            Cn += Y
            np.multiply(T01, J, out=tmp)
            Cn += tmp
            J *= T11                                  # J' = T10 C + T11 J + Y
            J += Y
            np.multiply(T10, C, out=tmp)
            J += tmp
            C, Cn = Cn, C
        return out
    # "recurrence": t = 0, 1, 2 with the transfer matrices, then C alone
    hist, tots = [], []
    j = 0
    for t in range(3):
        tot = C @ m
        j = _observe(t, j, tot, alive, (C, J, P), t_rec, out, diverge_at)
        hist.append(C)
        tots.append(tot)
        if t == steps:
            return out
        if t == 2:
            break
        Y = b2 * P + inj * tot[:, None]           # shared by C', J', P'
        C, J, P = T00 * C + T01 * J + Y, T10 * C + T11 * J + Y, T20 * C + T21 * J + Y
    # t ≥ 3: C alone obeys the recurrence of det(I − zT_k) = 1 + q1 z + q2 z² + q3 z³ (the numerator of
    # V_k(z) has degree 2, that of the injection z(1 + βz)):
    #   C_t = −q1 C_{t−1} − q2 C_{t−2} − q3 C_{t−3} + γτ1α²λ_k² (tot_{t−1} + β tot_{t−2}),
    # 7 array passes per step instead of 15 for the 3×3 form.
    n1 = 1 + bb + bb * bb - 2 * a * bb - 2 * a + a * a - a * a * s
    n2 = -(bb + bb * bb + bb**3 - 2 * a * bb - 2 * a * bb * bb + a * a * bb + a * a * bb * s)
    n3 = bb**3
    beta = bb[:, 0]
    dead = ~alive
    C3, C2, C1 = (h.copy() for h in hist)
    tot2, tot1 = tots[1].copy(), tots[2].copy()
    for arr in (C3, C2, C1):
        arr[dead] = 0.0
    tot2[dead] = 0.0
    tot1[dead] = 0.0
    for t in range(3, steps + 1):
        f = tot1 + beta * tot2
        C3 *= n3
        np.multiply(n2, C2, out=tmp)
        C3 += tmp
        np.multiply(n1, C1, out=tmp)
        C3 += tmp
        np.multiply(inj, f[:, None], out=tmp)
        C3 += tmp
        C3, C2, C1 = C2, C1, C3
        tot = C1 @ m
        j = _observe(t, j, tot, alive, (C3, C2, C1, tot1), t_rec, out, diverge_at)
        tot2, tot1 = tot1, tot
    return out


def det_poly(a, momentum, s, z):
    """S_k(z) = det(I − z T_k), the denominator of the per-mode generating functions.

    References
    ----------
    Velikanov et al. (ICLR 2023), generating functions; book chapter ``generating_functions/01_derivation``.
    """
    a, b, s, z = _broadcast_real(a=a, momentum=momentum, s=s, z=z, complex_ok=("z",))
    return (a * a * b * s * z * z + a * a * b * z * z + a * a * s * z - a * a * z - 2 * a * b * b * z * z
            - 2 * a * b * z * z + 2 * a * b * z + 2 * a * z - b**3 * z**3 + b**3 * z * z + b * b * z * z
            - b * b * z + b * z * z - b * z - z + 1)


def _poly_coefs(a, b, s):
    """Coefficients of S_k(z) = 1 + q1 z + q2 z² + q3 z³ (per mode)."""
    q1 = -1 - b - b * b + 2 * a * b + 2 * a - a * a + a * a * s
    q2 = b + b * b + b**3 - 2 * a * b - 2 * a * b * b + a * a * b + a * a * b * s
    q3 = -(b**3) + 0 * a
    return q1, q2, q3


def _as_z(z):
    return real_array(z, "z", complex_ok=True)


def _coefs(c, lam):
    cc = as_modes(c, "c", positive=False)
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    return cc


def _z_sum(z, weights, num0, num1, num2, q1, q2, q3):
    """Σ_k w_k (num0 + num1 z + num2 z²)/S_k(z) for an array of z (modes on the last axis)."""
    z = np.asarray(z)[..., None]
    S = 1 + z * (q1 + z * (q2 + z * q3))
    return np.sum(weights * (num0 + z * (num1 + z * num2)) / S, axis=-1)


def U_of_z(z, eigs, lr, momentum, noise_factor, *, tau1=1.0, tau2=1.0, mult=None):
    """Noise generating function U(z) = γ τ1 α² z Σ_k λ_k² (1+βz)/S_k(z), for an array of ``z``.

    References
    ----------
    Velikanov et al. (ICLR 2023), the noise propagator; book chapter ``generating_functions/01_derivation``.
    """
    lam = as_modes(eigs)
    m = multiplicities(mult, lam.size)
    lr, momentum, noise_factor, tau1, tau2 = _scalar_hyper(lr, momentum, noise_factor, tau1, tau2)
    z = _as_z(z)
    q = _poly_coefs(lr * lam, momentum, tau2 * noise_factor)
    w = noise_factor * tau1 * lr**2 * m * lam**2
    return z * _z_sum(z, w, 1.0, momentum, 0.0, *q)


def V_of_z(z, eigs, c, lr, momentum, noise_factor, *, tau2=1.0, mult=None):
    """Signal generating function V(z) = Σ_k c_k (1 − βz − β²z + β³z² + 2αβλ_k z)/S_k(z).

    References
    ----------
    Velikanov et al. (ICLR 2023), the signal propagator; book chapter ``generating_functions/01_derivation``.
    """
    lam = as_modes(eigs)
    cc = _coefs(c, lam)
    m = multiplicities(mult, lam.size)
    lr, b, noise_factor, _, tau2 = _scalar_hyper(lr, momentum, noise_factor, 1.0, tau2)
    z = _as_z(z)
    a = lr * lam
    q = _poly_coefs(a, b, tau2 * noise_factor)
    return _z_sum(z, m * cc, 1.0, -b - b * b + 2 * b * a, b**3, *q)


def L_of_z(z, eigs, c, lr, momentum, noise_factor, *, tau1=1.0, tau2=1.0, mult=None):
    """Loss generating function L(z) = Σ_t L_t z^t = ½ V(z)/(1 − U(z))."""
    U = U_of_z(z, eigs, lr, momentum, noise_factor, tau1=tau1, tau2=tau2, mult=mult)
    V = V_of_z(z, eigs, c, lr, momentum, noise_factor, tau2=tau2, mult=mult)
    return 0.5 * V / (1 - U)


def loss_from_genfun(eigs, c, lr, momentum, noise_factor, steps: int, *, tau1=1.0, tau2=1.0, mult=None,
                     oversample: int = 8, eps: float = 1e-12, chunk: int = 2048):
    """L_0 … L_T by inverting L(z): Cauchy's formula on the circle |z| = r, evaluated with an FFT.

    With M = ``oversample``·(T+1) points and r = eps^{1/M}, the aliased terms L_{t+jM} r^{jM} are
    suppressed by a factor eps, and the circle stays away from the pole z* of 1/(1 − U) and from the
    branch point at z = 1 that the λ → 0 modes create.

    The inversion is valid only where L(z) is analytic on the closed unit disc, i.e. where the
    hyper-parameters converge (every mode stable and U(1) < 1; α < :func:`critical_lr`). Outside that
    region L_t grows geometrically, the aliased terms are no longer suppressed, and the FFT would return a
    finite but wrong sequence; there the result is ``inf`` at every step (the divergence flag, as
    :func:`loss_sum`); use :func:`se_loss` for the transient of a divergent run.

    Parameters
    ----------
    eigs, c, mult
        λ_k > 0, c_k ≥ 0 and multiplicities (as :func:`se_loss`).
    lr, momentum, noise_factor, tau1, tau2
        Scalars α > 0, β ∈ (−1, 1), γ ≥ 0 and the SE parameters.
    steps
        T ≥ 0.
    oversample, eps, chunk
        FFT points per step (≥ 2), the aliasing suppression eps ∈ (0, 1), and the number of z evaluated
        at once (≥ 1).

    Returns
    -------
    ndarray (T + 1,): L_0 … L_T, or ``inf`` everywhere when the hyper-parameters diverge.

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023), the loss generating function L(z) = ½V(z)/(1 − U(z));
    the contour inversion is ours (Cauchy's integral formula, trapezoidal rule on |z| = r); book chapter
    ``generating_functions/01_derivation``.
    """
    steps = positive_int(steps, "steps", 0)
    oversample = positive_int(oversample, "oversample", 2)
    chunk = positive_int(chunk, "chunk")
    eps = real_scalar(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    lam = as_modes(eigs)
    _coefs(c, lam)
    _scalar_hyper(lr, momentum, noise_factor, tau1, tau2)
    if not U_at_one(lam, lr, momentum, noise_factor, tau1=tau1, tau2=tau2, mult=mult) < 1:
        return np.full(steps + 1, np.inf)
    M = 2 * ((oversample * (steps + 1) + 1) // 2)
    r = eps ** (1.0 / M)
    # the coefficients are real, so L(conj z) = conj L(z): half the circle suffices (inverse real FFT)
    z = r * np.exp(2j * np.pi * np.arange(M // 2 + 1) / M)
    vals = np.concatenate([
        L_of_z(z[i:i + chunk], eigs, c, lr, momentum, noise_factor, tau1=tau1, tau2=tau2, mult=mult)
        for i in range(0, z.size, chunk)
    ])
    coef = np.fft.irfft(np.conj(vals), n=M)
    t = np.arange(steps + 1)
    return coef[: steps + 1] / r**t


def mode_stable(a, momentum, s):
    """Whether the transfer matrix T_k has all eigenvalues strictly inside the unit disc (Jury test).

    With p(μ) = det(μI − T_k) = μ³ + a2 μ² + a1 μ + a0: p(1) > 0, −p(−1) > 0, |a0| < 1 and
    |a0² − 1| > |a0 a2 − a1|.

    Parameters
    ----------
    a, momentum, s
        α λ_k, β and τ2 γ (broadcastable arrays).

    References
    ----------
    Velikanov et al. (ICLR 2023), per-mode stability; Jury conditions derived in the book chapter
    ``generating_functions/01_derivation``.
    """
    a, b, s = _broadcast_real(a=a, momentum=momentum, s=s)
    a2 = -1 - b - b * b + 2 * a * b + 2 * a - a * a + a * a * s
    a1 = b + b * b + b**3 - 2 * a * b - 2 * a * b * b + a * a * b + a * a * b * s
    a0 = -(b**3)
    p1 = 1 + a2 + a1 + a0
    mp_1 = 1 - a2 + a1 - a0
    return (p1 > 0) & (mp_1 > 0) & (np.abs(a0) < 1) & (np.abs(a0 * a0 - 1) > np.abs(a0 * a2 - a1))


def _x_r(eigs, lr, momentum):
    x = (lr / (1 - momentum))[..., None] * eigs
    r = ((1 - momentum) / (1 + momentum))[..., None]
    return x, r


def U_at_one(eigs, lr, momentum, noise_factor, *, tau1=1.0, tau2=1.0, mult=None):
    """U(1) = τ1 γ Σ_k x_k / (2 − x_k (r − τ2 γ)), x_k = α λ_k/(1−β), r = (1−β)/(1+β).

    Outside the per-mode stable region the closed form has no meaning (it can even turn negative);
    there the result is ``inf``: the hyper-parameters diverge whatever the batch noise.

    References
    ----------
    Velikanov et al. (ICLR 2023), convergence conditions; book chapters
    ``generating_functions/01_derivation`` and ``03_convergence``.
    """
    lam = as_modes(eigs)
    m = multiplicities(mult, lam.size)
    lr, b, g, t1, t2 = hyper(lr, momentum, noise_factor, tau1, tau2)
    x, r = _x_r(lam, lr, b)
    ex = (...,) + (None,)
    stable = np.all(mode_stable(lr[ex] * lam, b[ex], (t2 * g)[ex]), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        U = t1 * g * np.sum(m * x / (2 - x * (r - (t2 * g)[ex])), axis=-1)
    return np.where(stable, U, np.inf)


def V_at_one(eigs, c, lr, momentum, noise_factor, *, tau2=1.0, mult=None):
    """V(1) = Σ_k c_k (1 + 2β x_k/(1−β²)) / (x_k (2 − x_k (r − τ2 γ))); ``inf`` where not per-mode stable.

    References
    ----------
    Velikanov et al. (ICLR 2023); book chapter ``generating_functions/01_derivation``.
    """
    lam = as_modes(eigs)
    cc = _coefs(c, lam)
    m = multiplicities(mult, lam.size)
    lr, b, g, _, t2 = hyper(lr, momentum, noise_factor, 1.0, tau2)
    x, r = _x_r(lam, lr, b)
    ex = (...,) + (None,)
    stable = np.all(mode_stable(lr[ex] * lam, b[ex], (t2 * g)[ex]), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.sum(m * cc * (1 + 2 * b[ex] * x / (1 - b[ex] ** 2)) / (x * (2 - x * (r - (t2 * g)[ex]))), axis=-1)
    return np.where(stable, V, np.inf)


def loss_sum(eigs, c, lr, momentum, noise_factor, *, tau1=1.0, tau2=1.0, mult=None):
    """Σ_t L_t = L(1) = ½ V(1)/(1 − U(1)); ``inf`` where U(1) ≥ 1 or a mode is unstable.

    Vectorised over a grid of hyper-parameters (one pass over the modes; used for (α, β) maps).

    References
    ----------
    Velikanov et al. (ICLR 2023); book chapters ``generating_functions/01_derivation`` and
    ``03_convergence``.
    """
    lam = as_modes(eigs)
    cc = _coefs(c, lam)
    m = multiplicities(mult, lam.size)
    lr, b, g, t1, t2 = hyper(lr, momentum, noise_factor, tau1, tau2)
    x, r = _x_r(lam, lr, b)
    ex = (...,) + (None,)
    s = (t2 * g)[ex]
    bb = b[ex]
    stable = np.all(mode_stable(lr[ex] * lam, bb, s), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        den = 2 - x * (r - s)
        U = t1 * g * np.sum(m * x / den, axis=-1)
        V = np.sum(m * cc * (1 + 2 * bb * x / (1 - bb**2)) / (x * den), axis=-1)
        out = np.where(stable & (U < 1), 0.5 * V / (1 - U), np.inf)
    return out if out.ndim else float(out)


def critical_lr(eigs, momentum, noise_factor, *, tau1=1.0, tau2=1.0, mult=None, iters: int = 80,
                full: bool = False):
    """The largest convergent learning rate α_c(β): per-mode stability and U(1) < 1.

    Bisection on α, vectorised over arrays of ``momentum`` and ``noise_factor``. The convergent set
    in α is the interval (0, α_c): U(1) increases with α inside the per-mode stable region.

    Parameters
    ----------
    eigs, mult
        λ_k > 0 and multiplicities.
    momentum, noise_factor, tau1, tau2
        β ∈ (−1, 1), γ ≥ 0 and the SE parameters (arrays broadcast together).
    iters
        Bisection steps (≥ 1); the bracket starts at [0, 4(1 + max|β|)/λ_max + 1].
    full
        Return, besides α_c, which condition binds and the per-mode stability edge (see Returns).

    Returns
    -------
    float or ndarray
        α_c (the default, ``full=False``).
    dict (``full=True``)
        ``lr``: α_c; ``mode_edge``: the per-mode stability edge, the largest α at which every mode is
        stable (Jury test, :func:`mode_stable`; bisected on the same bracket, so equal to its upper end
        when every mode stays stable there); ``binding``: ``"noise"`` where U(1) = 1 is reached first
        (α_c below the edge) and ``"mode"`` where the per-mode edge limits α_c (e.g. γ = 0), as a str
        for scalar input and an array of str otherwise.

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023), the convergence region in the (α, β) plane (per-mode
    stability and U(1) < 1); book chapter ``generating_functions/03_convergence``.
    """
    lam = as_modes(eigs)
    m = multiplicities(mult, lam.size)
    iters = positive_int(iters, "iters")
    full = bool_flag(full, "full")
    _, b, g, t1, t2 = hyper(1.0, momentum, noise_factor, tau1, tau2)
    if b.size == 0:
        raise ValueError("momentum, noise_factor, tau1 and tau2 broadcast to an empty grid")
    lo = np.zeros(b.shape)
    hi = np.full(b.shape, 4.0 * (1 + np.abs(b).max()) / lam.max() + 1.0)
    top = hi.copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = U_at_one(lam, mid, b, g, tau1=t1, tau2=t2, mult=m) < 1
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    if not full:
        return lo if lo.ndim else float(lo)
    # per-mode edge: bisect on "every mode stable" (the stable set of a = αλ is an interval (0, a*))
    ex = (...,) + (None,)
    e_lo, e_hi = np.zeros(b.shape), top.copy()
    stable_top = np.all(mode_stable(top[ex] * lam, b[ex], (t2 * g)[ex]), axis=-1)
    for _ in range(iters):
        mid = 0.5 * (e_lo + e_hi)
        ok = np.all(mode_stable(mid[ex] * lam, b[ex], (t2 * g)[ex]), axis=-1)
        e_lo = np.where(ok, mid, e_lo)
        e_hi = np.where(ok, e_hi, mid)
    edge = np.where(stable_top, top, e_lo)
    # U(1) = 1 binds when α_c sits clearly below the edge (beyond the bisection's resolution)
    res = 4.0 * top * 2.0 ** -min(iters, 50)
    binding = np.where(lo < edge - res, "noise", "mode")
    if lo.ndim == 0:
        return {"lr": float(lo), "mode_edge": float(edge), "binding": str(binding)}
    return {"lr": lo, "mode_edge": edge, "binding": binding}


def lambda_crit(eigs, *, mult=None) -> float:
    """λ_crit solving Σ_k λ_k/(λ_k + λ_crit) = 1 (the β → 1 boundary for τ1 = τ2 = 1).

    References
    ----------
    Velikanov et al. (ICLR 2023), the β → 1 asymptote α_eff = 2/(γ λ_crit); book chapter
    ``generating_functions/03_convergence``.
    """
    from scipy.optimize import brentq

    lam = as_modes(eigs)
    m = multiplicities(mult, lam.size)
    if m.sum() <= 1:
        raise ValueError("eigs: need more than one mode for λ_crit > 0")
    f = lambda lc: np.sum(m * lam / (lam + lc)) - 1.0  # noqa: E731
    return float(brentq(f, 1e-300, np.sum(m * lam) * 2, xtol=1e-300, rtol=1e-14))


def effective_lr_limit(eigs, noise_factor, *, tau1=1.0, tau2=1.0, mult=None) -> float:
    """lim_{β→1} α_c/(1−β): solves τ1 γ Σ_k x_k/(2 + τ2 γ x_k) = 1 for α_eff (x_k = α_eff λ_k).

    Finite for every γ > 0 (every finite batch size): the effective learning rate stays bounded.
    For τ1 = τ2 = 1 it equals 2/(γ λ_crit).

    References
    ----------
    Velikanov et al. (ICLR 2023), abstract claim "large but bounded effective learning rate";
    book chapter ``generating_functions/03_convergence``.
    """
    from scipy.optimize import brentq

    lam = as_modes(eigs)
    m = multiplicities(mult, lam.size)
    g = real_scalar(noise_factor, "noise_factor", low=0.0, low_open=True)
    tau1 = real_scalar(tau1, "tau1")
    tau2 = real_scalar(tau2, "tau2")
    if tau2 < 0:
        raise ValueError("tau2 must be >= 0 for the β → 1 limit to exist")

    def f(ae):
        x = ae * lam
        return tau1 * g * np.sum(m * x / (2 + tau2 * g * x)) - 1.0

    hi = 1.0
    while f(hi) < 0:
        hi *= 2
        if hi > 1e300:
            return float("inf")
    return float(brentq(f, 0.0, hi, xtol=1e-300, rtol=1e-14))


def propagators(eigs, c, lr, momentum, noise_factor, steps: int, *, tau1=1.0, tau2=1.0, mult=None):
    """The signal and noise propagators V_t = Σ_k c_k [T_k^t]_CC and U_t = γτ1α² Σ_k λ_k² [T_k^{t−1}(1,1,1)]_C.

    The loss solves the renewal equation 2L_t = V_t + Σ_{s=1}^{t} U_s 2L_{t−s}, whose generating-function
    form is L(z) = ½V(z)/(1 − U(z)). Scalar hyper-parameters.

    Returns
    -------
    U, V : ndarray of length ``steps + 1`` (U_0 = 0)
        ``inf`` from the step at which an unstable mode makes them overflow (divergence flag).

    References
    ----------
    Velikanov et al. (ICLR 2023); propagator expansion of Yarotsky & Velikanov (ICLR 2025); book chapter
    ``generating_functions/01_derivation``.
    """
    lam = as_modes(eigs)
    cc = _coefs(c, lam)
    m = multiplicities(mult, lam.size)
    steps = positive_int(steps, "steps", 0)
    lr, b, g, t1, t2 = _scalar_hyper(lr, momentum, noise_factor, tau1, tau2)
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    T = transfer_matrix(lr * lam, b, t2 * g)
    X = np.stack([cc, np.zeros_like(cc), np.zeros_like(cc)], axis=1)
    Y = np.ones((lam.size, 3))
    w = g * t1 * lr**2 * lam**2 * m
    U, V = np.zeros(steps + 1), np.zeros(steps + 1)
    V[0] = m @ X[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            U[t] = w @ Y[:, 0]
            X = np.einsum("kij,kj->ki", T, X)
            Y = np.einsum("kij,kj->ki", T, Y)
            V[t] = m @ X[:, 0]
            if not (abs(U[t]) < _BIG and abs(V[t]) < _BIG):   # an unstable mode overflowed: inf from here on
                U[t:], V[t:] = np.inf, np.inf
                break
    return U, V


_BIG = 1e300   # magnitude past which a recursion is treated as overflowed (divergent)


def renewal_loss(U, V):
    """Solve the renewal equation 2L_t = V_t + Σ_{s=1}^{t} U_s 2L_{t−s} for the loss L_t.

    Given the noise and signal propagators of :func:`propagators`, this is the time-domain form of
    L(z) = ½V(z)/(1 − U(z)): the loss is built forward in time from the propagators alone, without the
    moment recursion.

    Parameters
    ----------
    U, V : array_like, 1-D, same length T + 1
        Noise propagator (``U[0]`` is ignored; noise injected at step t enters at t + 1) and signal
        propagator.

    Returns
    -------
    ndarray of length T + 1
        The loss L_0 … L_T; ``inf`` from the step at which it overflows (a divergent renewal, e.g.
        Σ_s U_s > 1), never NaN.

    Raises
    ------
    ValueError
        If ``U`` and ``V`` are not 1-D arrays of the same length, or are not finite.

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023); propagator expansion of Yarotsky & Velikanov (ICLR 2025);
    book chapter ``generating_functions/01_derivation``.
    """
    u = real_array(U, "U", finite=False)
    v = real_array(V, "V", finite=False)
    if u.ndim != 1 or v.ndim != 1 or u.shape != v.shape or u.size == 0:
        raise ValueError("U and V must be 1-D arrays of the same, non-zero length")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
        raise ValueError("U and V must be finite")
    two_L = np.empty_like(v)
    two_L[0] = v[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, v.size):
            # Σ_{s=1}^{t} U_s 2L_{t−s}
            two_L[t] = v[t] + np.dot(u[1:t + 1], two_L[t - 1::-1])
            if not abs(two_L[t]) < _BIG:
                two_L[t:] = np.inf
                break
    return 0.5 * two_L
