"""Outlier equations of spiked random matrices and the batch-Hessian extremal-eigenvalue theorem.

- Wigner (BBP / Benaych-Georges–Nadakuditi): ``M = θ u uᵀ + W`` has an outlier ``θ + σ²/θ`` when
  ``θ > σ``, with squared overlap ``1 − σ²/θ²``.
- Wishart (Baik–Ben Arous–Péché): a population spike ``ℓ > σ²(1 + √q)`` gives the sample outlier
  ``ℓ(1 + qσ²/(ℓ − σ²))``, with squared overlap ``(1 − q/(ℓ̃ − 1)²)/(1 + q/(ℓ̃ − 1))``, ``ℓ̃ = ℓ/σ²`` (Paul 2007).
- Free addition with an arbitrary (empirical) noise spectrum: the outlier solves ``G_ε(z) = 1/θ``.
- The batch Hessian (Granziol, Zohren & Roberts, JMLR 2022, main theorem, our reconstruction
  with the finite-``N`` factor): ``λ′ = λ + Pσ²(1/B − 1/N)/λ``.

Used by the chapters *Random-matrix tools* and *The batch Hessian as a spiked matrix*.
"""
from __future__ import annotations

import numpy as np

from ._laws import _positive
from ._validate import integer, integer_array, real_array, real_scalar, seed as _seed


def wigner_outlier(theta, sigma: float = 1.0) -> np.ndarray:
    """Largest eigenvalue of ``θ u uᵀ + W`` (``W`` semicircle of radius ``2σ``) as ``P → ∞``.

    Returns ``θ + σ²/θ`` where ``θ > σ`` and the bulk edge ``2σ`` otherwise.

    References
    ----------
    Péché (2006); Benaych-Georges & Nadakuditi, Adv. Math. 227 (2011), Sec. 3.1. Granziol et al.
    (JMLR 2022) apply it to ``H_B = H + ε``. Used in *Random-matrix tools*.
    """
    s = _positive("sigma", sigma)
    t = real_array(theta, "theta", low=0.0)
    with np.errstate(divide="ignore"):
        return np.where(t > s, t + s**2 / np.where(t > 0, t, 1.0), 2 * s)


def wigner_overlap(theta, sigma: float = 1.0) -> np.ndarray:
    """Squared overlap ``|⟨u, v⟩|² = 1 − σ²/θ²`` of the outlier eigenvector with the spike (0 below ``σ``)."""
    s = _positive("sigma", sigma)
    t = real_array(theta, "theta", low=0.0)
    return np.where(t > s, 1 - s**2 / np.where(t > 0, t, 1.0) ** 2, 0.0)


def wishart_outlier(spike, ratio: float, scale: float = 1.0) -> np.ndarray:
    """Top eigenvalue of a sample covariance whose population has one spike ``ℓ`` over a bulk ``σ²``.

    Returns ``ℓ(1 + qσ²/(ℓ − σ²))`` when ``ℓ > σ²(1 + √q)`` and the Marchenko–Pastur edge
    ``σ²(1 + √q)²`` otherwise (``q = P/B``).

    References
    ----------
    Baik, Ben Arous & Péché, Ann. Probab. 33 (2005); Baik & Silverstein (2006). Used in
    *Random-matrix tools* (the batch Hessian of least squares is such a sample covariance).
    """
    q = _positive("ratio", ratio)
    s2 = _positive("scale", scale)
    ell = real_array(spike, "spike", low=0.0, low_open=True)
    thresh = s2 * (1 + np.sqrt(q))
    safe = np.where(ell > s2, ell, 2 * s2)
    return np.where(ell > thresh, ell * (1 + q * s2 / (safe - s2)), s2 * (1 + np.sqrt(q)) ** 2)


def wishart_overlap(spike, ratio, scale: float = 1.0) -> np.ndarray:
    """Squared overlap of the top sample eigenvector with the population spike of a spiked covariance.

    For ``x ~ N(0, σ²I + (ℓ − σ²) uuᵀ)``, ``B`` samples and ``q = P/B``, the top eigenvector ``v`` of the
    sample covariance satisfies, as ``P, B → ∞``,

    ``|⟨u, v⟩|² = (1 − q/(ℓ̃ − 1)²) / (1 + q/(ℓ̃ − 1))`` with ``ℓ̃ = ℓ/σ²``, when ``ℓ̃ > 1 + √q``,

    and ``0`` below the threshold (the Wishart counterpart of :func:`wigner_overlap`). ``spike`` and
    ``ratio`` broadcast against each other.

    References
    ----------
    Paul, Statistica Sinica 17 (2007), Thm 4; Benaych-Georges & Nadakuditi, Adv. Math. 227 (2011),
    Sec. 3.2. Used in *Random-matrix tools*.
    """
    q = real_array(ratio, "ratio", low=0.0, low_open=True)
    s2 = _positive("scale", scale)
    ell = real_array(spike, "spike", low=0.0, low_open=True)
    try:
        np.broadcast_shapes(ell.shape, q.shape)
    except ValueError:
        raise ValueError(f"spike (shape {ell.shape}) and ratio (shape {q.shape}) must broadcast together") from None
    lt = ell / s2
    above = lt > 1 + np.sqrt(q)
    d = np.where(above, lt - 1, 1.0)
    return np.where(above, (1 - q / d**2) / (1 + q / d), 0.0)


def free_addition_outlier(theta, noise_eigs, *, tol: float = 1e-12) -> np.ndarray:
    """Outlier of ``θ u uᵀ + E`` for a noise matrix ``E`` with a given (empirical) spectrum.

    Solves ``G_E(z) = (1/P) Σ_k 1/(z − e_k) = 1/θ`` for ``z > max_k e_k`` by bisection, vectorised
    over ``theta`` and over a leading axis of ``noise_eigs``. (For finite ``P`` a solution always
    exists; it exceeds the bulk edge by little when ``θ`` is below the BBP threshold.)

    Parameters
    ----------
    theta : array_like
        Spike strengths ``θ > 0``; broadcast against ``noise_eigs.shape[:-1]``.
    noise_eigs : array_like, shape (..., P)
        Eigenvalues of the noise matrix (e.g. of ``H_B − H`` for one batch).

    References
    ----------
    Benaych-Georges & Nadakuditi (2011), Thm 2.1. Used in *The batch Hessian as a spiked matrix*.
    """
    e = real_array(noise_eigs, "noise_eigs")
    if e.ndim == 0 or e.shape[-1] == 0:
        raise ValueError("noise_eigs must hold at least one eigenvalue")
    t = real_array(theta, "theta", low=0.0, low_open=True)
    tol = real_scalar(tol, "tol", low=0.0, low_open=True, high=1.0, high_open=True)
    top = e.max(axis=-1)
    try:
        t, top = np.broadcast_arrays(t, top)
    except ValueError:
        raise ValueError(f"theta (shape {t.shape}) must broadcast against noise_eigs.shape[:-1] = {top.shape}") from None
    e = np.broadcast_to(e, t.shape + e.shape[-1:])
    p = e.shape[-1]
    # G(z) <= 1/(z - top) * 1 and >= (1/P)/(z - top) near top; the root lies in (top, top + θ + range].
    lo = top + 0.0
    hi = top + t + (top - e.min(axis=-1)) + 1.0
    f = lambda z: np.mean(1.0 / (z[..., None] - e), axis=-1) - 1.0 / t  # noqa: E731  decreasing in z
    lo = lo + t / p * 1e-9  # strictly above the top eigenvalue, where G is finite and huge
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        pos = f(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
        if np.all(hi - lo <= tol * np.maximum(1.0, np.abs(hi))):
            break
    return 0.5 * (lo + hi)


def batch_hessian_outlier(eig, *, dim: int, element_var: float, batch_size, n_samples: int | None = None):
    """Extremal eigenvalue of the batch Hessian under the Wigner noise model (the paper's theorem).

    ``H_B = H + ε`` with ``ε`` a Wigner matrix of semicircle scale
    ``σ_ε² = P s² (1/B − 1/N)`` (``s²`` the per-sample variance of a Hessian element). An eigenvalue
    ``λ`` of ``H`` with ``|λ| > σ_ε`` moves to ``λ + σ_ε²/λ``; otherwise the extremal eigenvalue is
    the bulk edge ``±2σ_ε``.

    Parameters
    ----------
    eig : array_like
        Extremal eigenvalue(s) ``λ`` of the full Hessian (positive for the top, negative for the
        bottom).
    dim : int
        ``P``, the number of parameters.
    element_var : float
        ``s²``, the per-sample element variance.
    batch_size : array_like
        ``B`` (vectorised).
    n_samples : int, optional
        ``N``; ``None`` means ``N = ∞`` (the factor is ``1/B``).

    References
    ----------
    Granziol, Zohren & Roberts (JMLR 2022), main theorem on the batch Hessian's extremal
    eigenvalues, in our reconstructed form (the finite-``N`` factor is ours).
    Used in *The batch Hessian as a spiked matrix*.
    """
    dim = integer(dim, "dim")
    element_var = real_scalar(element_var, "element_var", low=0.0)
    b = real_array(batch_size, "batch_size", low=1.0)
    if n_samples is not None:
        n_samples = integer(n_samples, "n_samples")
    inv_n = 0.0 if n_samples is None else 1.0 / n_samples
    if n_samples is not None and np.any(b > n_samples):
        raise ValueError(f"batch_size must be <= n_samples={n_samples}")
    var = dim * element_var * (1.0 / b - inv_n)
    sig = np.sqrt(var)
    lam = real_array(eig, "eig")
    try:
        np.broadcast_shapes(lam.shape, b.shape)
    except ValueError:
        raise ValueError(f"eig (shape {lam.shape}) and batch_size (shape {b.shape}) must broadcast together") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        shifted = lam + var / lam
    return np.where(np.abs(lam) > sig, shifted, np.sign(lam) * 2 * sig)


# --------------------------------------------------------------------------- samplers
def goe_tridiagonal(dim: int, *, sigma: float = 1.0, reps: int = 1, method: str = "tridiagonal", seed: int = 0):
    """Tridiagonal forms ``(d, e)`` of GOE matrices whose reduction keeps the first basis vector fixed.

    The GOE here has off-diagonal variance ``σ²/P`` and diagonal variance ``2σ²/P`` (semicircle on
    ``[−2σ, 2σ]``). Both methods return ``Qᵀ W Q = tridiag(e, d, e)`` with ``Q e₁ = e₁``, so a spike
    ``θ e₁e₁ᵀ`` only adds ``θ`` to ``d[0]`` and the first component of a tridiagonal eigenvector is
    its overlap with ``e₁``.

    Parameters
    ----------
    method : {"tridiagonal", "dense"}
        ``"dense"`` samples ``W`` and reduces it with LAPACK's Householder ``dsytrd`` (lower form,
        ``O(P³)``); ``"tridiagonal"`` samples the same distribution directly (Dumitriu & Edelman,
        J. Math. Phys. 43, 2002): ``d_i ~ N(0, 2σ²/P)``, ``e_k ~ (σ/√P) χ_{P−k}``, in ``O(P)``.

    Returns
    -------
    d : ndarray, shape (reps, P)
    e : ndarray, shape (reps, P − 1)

    Used in *Random-matrix tools*.
    """
    from scipy.linalg import lapack

    dim = integer(dim, "dim", low=2)
    reps = integer(reps, "reps")
    if not isinstance(method, str) or method not in ("tridiagonal", "dense"):
        raise ValueError(f"method={method!r} must be 'tridiagonal' or 'dense'")
    s = _positive("sigma", sigma)
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    if method == "tridiagonal":
        d = rng.standard_normal((reps, dim)) * s * np.sqrt(2.0 / dim)
        e = s * np.sqrt(rng.chisquare(np.arange(dim - 1, 0, -1), size=(reps, dim - 1)) / dim)
        return d, e
    d = np.empty((reps, dim))
    e = np.empty((reps, dim - 1))
    for r in range(reps):
        a = rng.standard_normal((dim, dim))
        w = (a + a.T) * (s / np.sqrt(2 * dim))
        _, d[r], e[r], _, info = lapack.dsytrd(w, lower=1)
        if info != 0:  # pragma: no cover - LAPACK failure
            raise RuntimeError(f"dsytrd failed with info={info}")
    return d, e


def spiked_goe_top(dim: int, theta, *, sigma: float = 1.0, reps: int = 1, method: str = "tridiagonal",
                   seed: int = 0):
    """Top eigenvalue and spike overlap of ``M = θ e₁e₁ᵀ + W`` (``W`` GOE, see :func:`goe_tridiagonal`).

    Every ``θ`` is combined with the same ``reps`` noise matrices.

    Returns
    -------
    top : ndarray, shape (len(theta), reps)
        Largest eigenvalue of each sample.
    overlap : ndarray, shape (len(theta), reps)
        Squared overlap ``⟨e₁, v⟩²`` of its eigenvector with the spike direction.

    Used in *Random-matrix tools*.
    """
    from scipy.linalg import eigh_tridiagonal

    thetas = np.atleast_1d(real_array(theta, "theta"))
    if thetas.ndim != 1:
        raise ValueError(f"theta must be a number or a 1-d array, got shape {thetas.shape}")
    d, e = goe_tridiagonal(dim, sigma=sigma, reps=reps, method=method, seed=seed)
    top = np.empty((thetas.size, reps))
    ov = np.empty((thetas.size, reps))
    for r in range(reps):
        for k, t in enumerate(thetas):
            dd = d[r].copy()
            dd[0] += t
            val, vec = eigh_tridiagonal(dd, e[r], select="i", select_range=(dim - 1, dim - 1))
            top[k, r] = val[0]
            ov[k, r] = vec[0, 0] ** 2
    return top, ov


def spiked_wishart_top(dim: int, spike: float, batch_sizes, *, reps: int = 1, method: str = "bidiagonal",
                       return_overlap: bool = False, seed: int = 0):
    """Top eigenvalue of ``H_B = (1/B) XᵀX`` for ``B`` rows ``x ~ N(0, I + (ℓ − 1) e₁e₁ᵀ)``.

    This is the batch Hessian of least squares with a spiked feature covariance.

    Parameters
    ----------
    method : {"bidiagonal", "dense"}
        ``"dense"`` samples ``X`` and diagonalises the smaller Gram matrix. ``"bidiagonal"`` samples
        the Golub–Kahan bidiagonal form of ``X`` directly (Dumitriu & Edelman 2002): the first
        Householder steps act on the spiked column and then on columns ``2…P``, so ``V e₁ = e₁``,
        the diagonal is ``(√ℓ χ_B, χ_{B−1}, …)`` and the super-diagonal ``(χ_{P−1}, χ_{P−2}, …)``;
        only the first entry feels the spike, and the cost is ``O(min(B, P))`` per sample.

    return_overlap : bool
        Also return the squared overlap ``⟨e₁, v⟩²`` of the top eigenvector with the spike direction
        (in the bidiagonal form ``V e₁ = e₁``, so it is read off the first right singular vector).

    Returns
    -------
    top : ndarray, shape (len(batch_sizes), reps)
    overlap : ndarray, shape (len(batch_sizes), reps)
        Only with ``return_overlap=True``.

    Used in *Random-matrix tools*.
    """
    from scipy.linalg import eigh_tridiagonal

    dim = integer(dim, "dim", low=2)
    reps = integer(reps, "reps")
    if not isinstance(method, str) or method not in ("bidiagonal", "dense"):
        raise ValueError(f"method={method!r} must be 'bidiagonal' or 'dense'")
    ell = _positive("spike", spike)
    bs = np.atleast_1d(integer_array(batch_sizes, "batch_sizes"))
    if bs.ndim != 1:
        raise ValueError(f"batch_sizes must be an integer or a 1-d array, got shape {bs.shape}")
    if not isinstance(return_overlap, (bool, np.bool_)):
        raise ValueError(f"return_overlap={return_overlap!r} must be a bool")
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    out = np.empty((bs.size, reps))
    ov = np.empty((bs.size, reps))
    col = np.ones(dim)
    col[0] = np.sqrt(ell)
    for i, b in enumerate(bs.astype(int)):
        for r in range(reps):
            if method == "dense":
                x = rng.standard_normal((b, dim)) * col
                _, sv, vt = np.linalg.svd(x, full_matrices=False)
                out[i, r] = sv[0] ** 2 / b
                ov[i, r] = vt[0, 0] ** 2
                continue
            m = min(b, dim)
            alpha = np.sqrt(rng.chisquare(np.arange(b, b - m, -1)))
            alpha[0] *= np.sqrt(ell)
            if b >= dim:  # Bd is P × P upper bidiagonal; use BdᵀBd, whose eigenvectors are V's columns
                beta = np.sqrt(rng.chisquare(np.arange(dim - 1, 0, -1)))
                diag = alpha**2 + np.concatenate([[0.0], beta**2])
                off = alpha[:-1] * beta
            else:  # Bd is B × (B + 1); use Bd Bdᵀ (left vectors w; the right one is Bdᵀw/s)
                beta = np.sqrt(rng.chisquare(np.arange(dim - 1, dim - 1 - b, -1)))
                diag = alpha**2 + beta**2
                off = beta[:-1] * alpha[1:]
            val, vec = eigh_tridiagonal(diag, off, select="i", select_range=(m - 1, m - 1))
            out[i, r] = val[0] / b
            # first component of the top right singular vector: (Bdᵀw)₀/s = α₀w₀/s in both cases
            ov[i, r] = vec[0, 0] ** 2 if b >= dim else alpha[0] ** 2 * vec[0, 0] ** 2 / val[0]
    return (out, ov) if return_overlap else out
