"""Fused (numba-compiled) kernel of the SE recursion (private; used by :func:`sgdlab.linear.se_loss`).

The numpy form of the recursion (``_se._se_core``) makes ~15 passes over the (grid × modes) arrays per
step, so it runs at numpy's per-element speed. Here one compiled loop per grid point streams the moments
(C_k, J_k, P_k) once per step, with the transfer-matrix entries of the point's modes held in cache, and
the grid points run in parallel. Same arithmetic as the numpy form for the coefficients and the update
(no fast-math: inf/NaN handling and the order of every product are kept); the mode sum Σ_k m_k C_k uses four
interleaved partial sums (deterministic, but not numpy's order), so the two engines agree to round-off
(≈1e-15 relative per step), not bit for bit.

numba is compiled lazily, on the first call, and cached on disk (``cache=True``).

References
----------
Velikanov, Kuznedelev, Yarotsky (ICLR 2023), the SE moment dynamics; book chapters
``generating_functions/01_derivation`` (the transfer matrix) and ``03_convergence`` (the (α, β) maps);
``benchmarks/bench_linear.py`` measures it.
"""
from __future__ import annotations

import os

import numpy as np

_KERNEL = None
_IMPORT_ERROR: Exception | None = None
prange = range   # replaced by numba.prange before the kernel is compiled (a global, read at compile time)


def available() -> bool:
    """Whether numba can be imported (the fused engine is usable)."""
    try:
        _get()
    except ImportError:
        return False
    return True


def _get():
    """Compile (once, from the on-disk cache when present) and return the kernel."""
    global _KERNEL, _IMPORT_ERROR, prange
    if _KERNEL is not None:
        return _KERNEL
    if _IMPORT_ERROR is not None:
        raise ImportError(str(_IMPORT_ERROR))
    try:
        import numba
    except ImportError as err:  # pragma: no cover - numba is a pinned dependency
        _IMPORT_ERROR = err
        raise
    if "NUMBA_THREADING_LAYER" not in os.environ:
        # numba's own thread pool: no second OpenMP runtime beside torch's, and nothing to hang after a fork
        # (our callers never launch the kernel from several threads at once, which this layer would not allow)
        numba.config.THREADING_LAYER = "workqueue"
    prange = numba.prange
    _KERNEL = numba.njit(parallel=True, cache=True, nogil=True)(_se_rows)
    return _KERNEL


def _se_rows(lam, cc, m, mt, lr, beta, s0, i0, steps, t_rec, diverge_at, out):  # pragma: no cover - compiled
    """SE recursion for n grid points (rows of ``out``), each over the K modes.

    Parameters (all float64 except ``t_rec``; no validation here)
    ----------
    lam, cc, m, mt : (K,)
        λ_k, c_k, multiplicities and the per-mode τ2 multiplier (ones without ``mode_tau2``).
    lr, beta, s0, i0 : (n,)
        α, β, τ2 γ and τ1 γ of each grid point: a_k = α λ_k, s_k = τ2 γ · mt_k, injection τ1 γ a_k².
    steps : int
    t_rec : (n_rec,) int64, increasing
    diverge_at : float
    out : (n, n_rec), filled with ``inf`` by the caller; L_t is written where the point is still finite.
    """
    n = lr.shape[0]
    K = lam.shape[0]
    n_rec = t_rec.shape[0]
    K4 = K - K % 4
    lim = 2.0 * diverge_at
    for g in prange(n):
        a = lr[g] * lam
        s = s0[g] * mt
        inj = i0[g] * (a * a)
        b = beta[g]
        T00 = (1.0 - a) * (1.0 - a) - s * (a * a)
        T01 = 2.0 * b * (1.0 - a)
        T10 = a * (a - 1.0 - s * a)
        T11 = b * (1.0 - 2.0 * a)
        T20 = (a * a) * (1.0 - s)
        T21 = -2.0 * a * b
        b2 = b * b
        C = cc.copy()
        J = np.zeros(K)
        P = np.zeros(K)
        j = 0
        for t in range(steps + 1):
            p0 = 0.0
            p1 = 0.0
            p2 = 0.0
            p3 = 0.0
            for k in range(0, K4, 4):
                p0 += m[k] * C[k]
                p1 += m[k + 1] * C[k + 1]
                p2 += m[k + 2] * C[k + 2]
                p3 += m[k + 3] * C[k + 3]
            for k in range(K4, K):
                p0 += m[k] * C[k]
            tot = (p0 + p1) + (p2 + p3)
            if not abs(tot) < lim:
                break
            if j < n_rec and t == t_rec[j]:
                out[g, j] = 0.5 * tot
                j += 1
            if t == steps:
                break
            if b == 0.0:
                # J and P never feed back into C: C' = T00 C + injection
                for k in range(K):
                    C[k] = T00[k] * C[k] + inj[k] * tot
            else:
                for k in range(K):
                    c_ = C[k]
                    j_ = J[k]
                    y = inj[k] * tot + b2 * P[k]          # shared by C', J', P'
                    C[k] = T00[k] * c_ + y + T01[k] * j_
                    J[k] = T11[k] * j_ + y + T10[k] * c_
                    P[k] = T20[k] * c_ + y + T21[k] * j_
    return out


def se_rows(lam, cc, m, mt, lr, beta, s0, i0, steps, t_rec, diverge_at):
    """Run the fused kernel; returns L at ``t_rec`` for each grid point, shape (n, n_rec) (``inf`` once divergent)."""
    kern = _get()
    # always a fresh C-contiguous copy: a view of a broadcast array makes numba read its writeable flag, which
    # numpy answers with a FutureWarning
    f = lambda v: np.array(v, dtype=np.float64, order="C")  # noqa: E731
    out = np.full((lr.size, t_rec.size), np.inf)
    kern(f(lam), f(cc), f(m), f(mt), f(lr), f(beta), f(s0), f(i0), int(steps),
         np.ascontiguousarray(t_rec, dtype=np.int64), float(diverge_at), out)
    return out
