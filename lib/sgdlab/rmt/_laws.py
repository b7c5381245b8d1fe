"""Limiting spectral laws: Wigner's semicircle and Marchenko–Pastur, with their Stieltjes transforms.

Used by the chapter *Random-matrix tools* (``book/batch_hessian/01_random_matrix_tools``) and, through
the outlier equations of :mod:`sgdlab.rmt._spiked`, by the chapter on the batch Hessian.

Conventions (the book's notation page): the Stieltjes transform is ``G(z) = ∫ ρ(x)/(z − x) dx``, so
``G(z) ~ 1/z`` at infinity and the density is ``ρ(x) = −Im G(x + i0)/π``.
"""
from __future__ import annotations

import numpy as np

from ._validate import real_array, real_scalar


def _positive(name: str, value) -> float:
    return real_scalar(value, name, low=0.0, low_open=True)


def _points(z, name: str = "z", *, nonzero: bool = False) -> np.ndarray:
    """Evaluation points (real or complex), finite; ``ValueError`` naming ``name`` otherwise."""
    arr = real_array(z, name, complex_ok=True)
    if nonzero and np.any(arr == 0):
        raise ValueError(f"{name} must be non-zero (the transform has a pole or an atom at 0)")
    return arr


def _sqrt_branch(z: np.ndarray, a: float, b: float) -> np.ndarray:
    """``√((z − a)(z − b))`` on the branch that behaves like ``z`` at infinity (cut on [a, b])."""
    return np.sqrt(z - a) * np.sqrt(z - b)


# --------------------------------------------------------------------------- semicircle
def semicircle_density(x, sigma: float = 1.0) -> np.ndarray:
    """Wigner's semicircle density ``ρ(x) = √(4σ² − x²)/(2πσ²)`` on ``[−2σ, 2σ]``.

    This is the limiting eigenvalue density of a ``P × P`` symmetric matrix with independent centred
    entries of variance ``σ²/P`` (GOE normalisation).

    Parameters
    ----------
    x : array_like
        Points at which to evaluate the density.
    sigma : float
        Scale ``σ > 0``; the support edge is ``2σ``.

    References
    ----------
    Granziol, Zohren & Roberts (JMLR 2022), Sec. 2 (background); used in the chapter
    *Random-matrix tools*.
    """
    s = _positive("sigma", sigma)
    x = real_array(x, "x", finite=False)
    return np.sqrt(np.clip(4 * s**2 - x**2, 0.0, None)) / (2 * np.pi * s**2)


def semicircle_stieltjes(z, sigma: float = 1.0) -> np.ndarray:
    """Stieltjes transform ``G(z) = (z − √(z² − 4σ²))/(2σ²)`` of the semicircle law.

    The square root is taken on the branch with ``G(z) ~ 1/z`` at infinity, so the formula holds on
    the whole plane off the cut ``[−2σ, 2σ]``; ``G`` solves ``σ²G² − zG + 1 = 0``.

    Parameters
    ----------
    z : array_like (complex or real)
        Points off the support (real ``|z| > 2σ`` or ``Im z ≠ 0``).
    sigma : float
        Scale ``σ > 0``.
    """
    s = _positive("sigma", sigma)
    z = _points(z).astype(np.complex128)
    g = (z - _sqrt_branch(z, -2 * s, 2 * s)) / (2 * s**2)
    return g


def semicircle_r_transform(g, sigma: float = 1.0) -> np.ndarray:
    """R-transform ``R(g) = σ² g`` of the semicircle (``G⁻¹(g) = 1/g + R(g)``)."""
    s = _positive("sigma", sigma)
    return s**2 * _points(g, "g")


# --------------------------------------------------------------------------- Marchenko–Pastur
def mp_edges(ratio: float, scale: float = 1.0) -> tuple[float, float]:
    """Edges ``σ²(1 ∓ √q)²`` of the Marchenko–Pastur law with ratio ``q = P/B`` and scale ``σ²``.

    Parameters
    ----------
    ratio : float
        ``q = P/B > 0``: dimension over number of samples.
    scale : float
        ``σ² > 0``: the population variance.
    """
    q = _positive("ratio", ratio)
    s2 = _positive("scale", scale)
    return s2 * (1 - np.sqrt(q)) ** 2, s2 * (1 + np.sqrt(q)) ** 2


def mp_density(x, ratio: float, scale: float = 1.0) -> np.ndarray:
    """Absolutely continuous part of the Marchenko–Pastur density.

    ``ρ(x) = √((b − x)(x − a)) / (2π σ² q x)`` on ``[a, b] = σ²(1 ∓ √q)²``. For ``q > 1`` the law also
    has an atom of mass ``1 − 1/q`` at 0, which this function does not include.

    This is the limiting spectrum of the sample covariance ``(1/B) Σ_i x_i x_iᵀ`` of ``B`` vectors
    ``x_i ~ N(0, σ² I_P)`` with ``P/B → q`` — the batch Hessian of isotropic least squares.

    References
    ----------
    Marchenko & Pastur (1967); used in the chapter *Random-matrix tools*.
    """
    q = _positive("ratio", ratio)
    s2 = _positive("scale", scale)
    a, b = mp_edges(q, s2)
    x = real_array(x, "x", finite=False)
    out = np.zeros_like(x)
    inside = (x > a) & (x < b)
    xi = x[inside]
    out[inside] = np.sqrt((b - xi) * (xi - a)) / (2 * np.pi * s2 * q * xi)
    return out


def mp_stieltjes(z, ratio: float, scale: float = 1.0) -> np.ndarray:
    """Stieltjes transform of the Marchenko–Pastur law (atom at 0 included for ``q > 1``).

    ``G(z) = (z − σ²(1 − q) − √((z − a)(z − b))) / (2qσ²z)``, the root of
    ``qσ²zG² − (z − σ²(1 − q))G + 1 = 0`` with ``G ~ 1/z`` at infinity.
    """
    q = _positive("ratio", ratio)
    s2 = _positive("scale", scale)
    a, b = mp_edges(q, s2)
    z = _points(z, nonzero=True).astype(np.complex128)
    return (z - s2 * (1 - q) - _sqrt_branch(z, a, b)) / (2 * q * s2 * z)


def empirical_stieltjes(z, eigs) -> np.ndarray:
    """Stieltjes transform ``G(z) = (1/P) Σ_k 1/(z − e_k)`` of an empirical spectrum.

    Parameters
    ----------
    z : array_like
        Evaluation points (any shape).
    eigs : array_like, shape (P,) or (..., P)
        Eigenvalues; leading axes broadcast against ``z``'s shape with a trailing axis.
    """
    e = real_array(eigs, "eigs")
    if e.ndim == 0 or e.shape[-1] == 0:
        raise ValueError("eigs must hold at least one eigenvalue")
    z = _points(z)
    try:
        np.broadcast_shapes(z.shape + (1,), e.shape)
    except ValueError:
        raise ValueError(f"eigs of shape {e.shape} does not broadcast against z of shape {z.shape}") from None
    if np.any(z[..., None] == e):
        raise ValueError("z must not coincide with an eigenvalue in eigs (a pole of G)")
    return np.mean(1.0 / (z[..., None] - e), axis=-1)
