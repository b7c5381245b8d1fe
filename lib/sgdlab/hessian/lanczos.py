"""Lanczos with full reorthogonalisation, top-k eigenpairs, power iteration, SLQ and Hutchinson.

Everything takes a :class:`~sgdlab.hessian.operators.LinearOperator` (a batch Hessian, a GGN, or a
dense symmetric matrix) and counts its products, the cost unit of these methods.

- :func:`lanczos`: ``m`` steps of the Lanczos recursion ``β_{j+1} q_{j+1} = A q_j − α_j q_j − β_j q_{j−1}``
  with full reorthogonalisation (classical Gram–Schmidt applied twice against all previous
  vectors), which suppresses the "ghost" copies of outliers of plain Lanczos (note on paper 5, §6).
- :func:`top_eigenpairs`: Ritz pairs of the tridiagonal ``T_m``, stopping when the residual bound
  ``|β_{m+1} s_{m,i}|`` of each wanted pair is below ``tol·|θ_i|`` (Golub & Van Loan, §10.1).
- :func:`power_iteration`: PyHessian's method (Yao et al. 2020), for the comparison in
  ``benchmarks/bench_hessian.py``.
- :func:`slq`: stochastic Lanczos quadrature (Golub & Meurant; Ghorbani, Krishnan, Xiao 2019;
  PyHessian ``density``): for a probe ``v/‖v‖`` the Ritz values ``θ_k`` (nodes) and the squared first
  components ``τ_k² = (e₁ᵀ s_k)²`` (weights) form the Gauss quadrature rule of the spectral
  measure of ``v``; ``Σ_k τ_k² θ_k^j = vᵀA^j v/‖v‖²`` exactly for ``j ≤ 2m−1``.
- :func:`spectral_density`: the SLQ density smoothed by a Gaussian kernel of stated width ``σ``
  (standard deviation, not variance; PyHessian passes its ``sigma`` as a variance);
  ``ρ(t) = (1/n_v) Σ_v Σ_k τ_{vk}² N(t; θ_{vk}, σ²)``, which integrates to 1.
- :func:`hutchinson_trace`: ``tr A ≈ (1/n) Σ zᵀ A z`` with Rademacher or Gaussian ``z``.

Used by parts 3 (λ_max), 4 (λ_max and trace vs η/B) and 5 (batch-Hessian spectra, the SLQ learner).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validate import real_array
from .operators import LinearOperator, as_operator


@dataclass
class LanczosResult:
    """Output of :func:`lanczos`.

    Attributes
    ----------
    alpha : ndarray, shape (m,)
        Diagonal of the tridiagonal matrix ``T_m``.
    beta : ndarray, shape (m,)
        ``beta[j]`` is the coupling after step ``j`` (``beta[:-1]`` is the off-diagonal of ``T_m``,
        ``beta[-1]`` the residual norm ``β_{m+1}``).
    basis : torch.Tensor or None
        The Lanczos vectors as rows, shape ``(m, P)`` (if requested).
    n_products : int
        Operator products used.
    """

    alpha: np.ndarray
    beta: np.ndarray
    basis: torch.Tensor | None
    n_products: int

    @property
    def steps(self) -> int:
        return len(self.alpha)

    def tridiagonal(self) -> np.ndarray:
        """The symmetric tridiagonal ``T_m`` (float64)."""
        m = len(self.alpha)
        return np.diag(self.alpha) + np.diag(self.beta[:m - 1], 1) + np.diag(self.beta[:m - 1], -1)

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """Ritz values (ascending) and the eigenvectors ``S`` of ``T_m`` (columns), float64."""
        return np.linalg.eigh(self.tridiagonal())


def _check_int(name: str, value, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name}={value!r} must be an integer >= {lo}")
    return int(value)


def _check_real(name: str, value, *, lo: float = 0.0, hi: float | None = None) -> float:
    """A finite real number in ``(lo, hi)``; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or not value > lo or (hi is not None and not value < hi):
        rng = f"in ({lo}, {hi})" if hi is not None else f"> {lo}"
        raise ValueError(f"{name}={value!r} must be a finite number {rng}")
    return float(value)


def _check_dtype(dtype):
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype={dtype!r} must be a floating torch.dtype or None")
    return dtype


def _check_seed(seed) -> int:
    return _check_int("seed", seed, lo=0)


def _as_vector(v0, size: int, name: str = "v0") -> torch.Tensor:
    if isinstance(v0, (str, bytes)):
        raise ValueError(f"{name} must be a real vector, got {v0!r}")
    try:
        t = torch.as_tensor(v0 if isinstance(v0, torch.Tensor) else np.asarray(v0))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be a real vector: {exc}") from None
    if t.is_complex() or t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in
                                                       (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise ValueError(f"{name} must be a real vector, got dtype {t.dtype}")
    return t


def _start_vector(op: LinearOperator, v0, seed: int, dtype) -> torch.Tensor:
    if v0 is None:
        gen = torch.Generator().manual_seed(_check_seed(seed))
        v0 = torch.randn(op.size, generator=gen, dtype=torch.float64)
    v0 = _as_vector(v0, op.size).to(dtype=dtype, device=op.device).reshape(-1)
    if v0.numel() != op.size:
        raise ValueError(f"v0 has {v0.numel()} entries; the operator has size {op.size}")
    nrm = torch.linalg.vector_norm(v0)
    if not torch.isfinite(nrm) or nrm == 0:
        raise ValueError("v0 must be a finite, non-zero vector")
    return v0 / nrm


def lanczos(op, m: int, *, v0=None, seed: int = 0, dtype: torch.dtype | None = None,
            reorthogonalize: bool = True, return_basis: bool = False, breakdown_tol: float = 1e-12,
            callback=None) -> LanczosResult:
    """Run ``m`` steps of Lanczos on the symmetric operator ``op``.

    Parameters
    ----------
    op : LinearOperator or matrix
        The symmetric operator (see :func:`~sgdlab.hessian.operators.as_operator`).
    m : int
        Number of steps (at most ``op.size``; fewer if an invariant subspace is found, i.e. the
        residual norm drops below ``breakdown_tol`` times the largest ``|α|, β`` so far).
    v0 : tensor, optional
        Starting vector (default: standard normal from ``seed``, drawn on the CPU in float64).
    dtype : torch.dtype, optional
        Of the Lanczos vectors (default: the operator's). Products are computed in the operator's dtype.
    reorthogonalize : bool
        Full reorthogonalisation (default). Without it, ghost eigenvalues appear after convergence.
    return_basis : bool
        Keep and return the Lanczos vectors (needed for eigenvectors).
    callback : callable, optional
        ``callback(alpha, beta) -> bool`` after each step; return True to stop early.

    Returns
    -------
    LanczosResult
    """
    op = as_operator(op)
    m = min(_check_int("m", m), op.size)
    dtype = _check_dtype(dtype) or op.dtype
    _check_real("breakdown_tol", breakdown_tol, lo=0.0, hi=1.0)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback={callback!r} must be callable or None")
    n0 = op.n_products
    q = _start_vector(op, v0, seed, dtype)
    Q = torch.empty((m, op.size), dtype=dtype, device=op.device) if (reorthogonalize or return_basis) else None
    alpha, beta = [], []
    q_prev, b_prev, scale = None, 0.0, 0.0
    for j in range(m):
        if Q is not None:
            Q[j] = q
        w = op.matvec(q.to(op.dtype)).to(dtype)
        a = float(torch.dot(w, q))
        w = w - a * q
        if q_prev is not None:
            w = w - b_prev * q_prev
        if reorthogonalize:
            for _ in range(2):
                w = w - Q[:j + 1].T @ (Q[:j + 1] @ w)
        b = float(torch.linalg.vector_norm(w))
        alpha.append(a)
        beta.append(b)
        scale = max(scale, abs(a), b)
        if not math.isfinite(a) or not math.isfinite(b):
            raise FloatingPointError("Lanczos produced a non-finite value: the operator returned inf/nan")
        if callback is not None and callback(np.array(alpha), np.array(beta)):
            break
        if b <= breakdown_tol * max(scale, 1e-300):
            break
        q_prev, q, b_prev = q, w / b, b
    k = len(alpha)
    basis = Q[:k] if (return_basis and Q is not None) else None
    return LanczosResult(np.array(alpha), np.array(beta), basis, op.n_products - n0)


@dataclass
class EigResult:
    """Output of :func:`top_eigenpairs` / :func:`power_iteration`.

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Sorted by the ``which`` criterion (largest first for ``"LA"``/``"LM"``, smallest first for ``"SA"``).
    eigenvectors : torch.Tensor or None, shape (k, P)
        Unit Ritz vectors as rows.
    residuals : ndarray, shape (k,)
        Residual norms ``‖A u − θ u‖`` (Lanczos: the bound ``|β s_m|``).
    n_products : int
        Operator products used.
    converged : bool
        Whether the stopping tolerance was met.
    history : list of float
        The leading estimate after each step.
    """

    eigenvalues: np.ndarray
    eigenvectors: torch.Tensor | None
    residuals: np.ndarray
    n_products: int
    converged: bool
    history: list


_WHICH = ("LA", "LM", "SA")


def _select(theta: np.ndarray, which: str, k: int) -> np.ndarray:
    if which == "LA":
        order = np.argsort(-theta, kind="stable")
    elif which == "SA":
        order = np.argsort(theta, kind="stable")
    else:
        order = np.argsort(-np.abs(theta), kind="stable")
    return order[:k]


def top_eigenpairs(op, k: int = 1, *, which: str = "LA", tol: float = 1e-10, max_iter: int | None = None,
                   min_iter: int | None = None, v0=None, seed: int = 0, dtype: torch.dtype | None = None,
                   return_vectors: bool = True) -> EigResult:
    """The ``k`` extreme eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation.

    Parameters
    ----------
    op : LinearOperator or matrix
    k : int
        Number of eigenpairs.
    which : {"LA", "LM", "SA"}
        Largest algebraic (``λ_max``, default), largest magnitude, or smallest algebraic.
    tol : float
        Stop when every wanted Ritz pair has residual bound ``|β_{m+1} s_{m,i}| ≤ tol·max(|θ_i|, tiny)``.
        The eigenvalue error is then about ``tol²·|θ|·|θ|/gap`` or smaller.
    max_iter : int, optional
        At most this many products (default ``min(P, max(100, 4k+20))``).
    min_iter : int, optional
        At least this many steps before testing convergence (default ``k + 2``).
    v0, seed, dtype
        As for :func:`lanczos`.
    return_vectors : bool
        Also return the Ritz vectors (keeps the Lanczos basis in memory, ``m × P``).

    Returns
    -------
    EigResult
    """
    op = as_operator(op)
    k = _check_int("k", k)
    if k > op.size:
        raise ValueError(f"k={k} exceeds the operator size {op.size}")
    if not isinstance(which, str) or which not in _WHICH:
        raise ValueError(f"which={which!r} is unknown; allowed: {', '.join(_WHICH)}")
    _check_real("tol", tol)
    _check_dtype(dtype)
    max_iter = min(op.size, max(100, 4 * k + 20)) if max_iter is None else min(_check_int("max_iter", max_iter), op.size)
    min_iter = k + 2 if min_iter is None else _check_int("min_iter", min_iter)
    history: list[float] = []
    state = {"converged": False}

    def cb(alpha, beta):
        mm = len(alpha)
        T = np.diag(alpha) + np.diag(beta[:mm - 1], 1) + np.diag(beta[:mm - 1], -1)
        theta, S = np.linalg.eigh(T)
        sel = _select(theta, which, min(k, mm))
        history.append(float(theta[sel[0]]))
        if mm < max(min_iter, k) and mm < op.size:
            return False
        res = np.abs(beta[-1] * S[-1, sel])
        ok = bool(np.all(res <= tol * np.maximum(np.abs(theta[sel]), 1e-300)))
        state["converged"] = ok
        return ok

    res = lanczos(op, max_iter, v0=v0, seed=seed, dtype=dtype, return_basis=return_vectors, callback=cb)
    theta, S = res.ritz()
    sel = _select(theta, which, k)
    if res.steps < max_iter and not state["converged"]:
        state["converged"] = True  # invariant subspace: the Ritz values are exact eigenvalues
    vecs = None
    if return_vectors:
        Ssel = torch.as_tensor(S[:, sel], dtype=res.basis.dtype, device=res.basis.device)
        vecs = (Ssel.T @ res.basis)
        vecs = vecs / torch.linalg.vector_norm(vecs, dim=1, keepdim=True)
    residuals = np.abs(res.beta[-1] * S[-1, sel])
    return EigResult(theta[sel], vecs, residuals, res.n_products, state["converged"], history)


def power_iteration(op, *, tol: float = 1e-6, max_iter: int = 1000, v0=None, seed: int = 0,
                    dtype: torch.dtype | None = None) -> EigResult:
    """Largest-magnitude eigenpair by power iteration (PyHessian's ``eigenvalues`` method).

    Stops when the Rayleigh quotient changes by less than ``tol`` relative,
    ``|λ_t − λ_{t−1}| < tol·(|λ_{t−1}| + 1e-6)`` (PyHessian's criterion), or after ``max_iter`` products.
    Used only as the baseline of ``benchmarks/bench_hessian.py``; prefer :func:`top_eigenpairs`.
    """
    op = as_operator(op)
    max_iter = _check_int("max_iter", max_iter)
    _check_real("tol", tol)
    dtype = _check_dtype(dtype) or op.dtype
    n0 = op.n_products
    v = _start_vector(op, v0, seed, dtype)
    lam_old, history, converged = None, [], False
    for _ in range(max_iter):
        w = op.matvec(v.to(op.dtype)).to(dtype)
        lam = float(torch.dot(w, v))
        history.append(lam)
        nrm = torch.linalg.vector_norm(w)
        if not torch.isfinite(nrm):
            raise FloatingPointError("power iteration produced a non-finite value")
        if nrm == 0:
            converged = True
            break
        if lam_old is not None and abs(lam - lam_old) < tol * (abs(lam_old) + 1e-6):
            converged = True
            v = w / nrm
            break
        v, lam_old = w / nrm, lam
    resid = float(torch.linalg.vector_norm(op.matvec(v.to(op.dtype)).to(dtype) - lam * v))
    return EigResult(np.array([lam]), v[None], np.array([resid]), op.n_products - n0, converged, history)


# --------------------------------------------------------------------------- SLQ and traces
def _probes(size: int, n: int, seed: int, distribution: str, dtype, device) -> torch.Tensor:
    if not isinstance(distribution, str) or distribution not in ("rademacher", "gaussian"):
        raise ValueError(f"distribution={distribution!r} is unknown; allowed: rademacher, gaussian")
    gen = torch.Generator().manual_seed(_check_seed(seed))
    if distribution == "rademacher":
        z = torch.randint(0, 2, (n, size), generator=gen, dtype=torch.int64).to(torch.float64) * 2 - 1
    elif distribution == "gaussian":
        z = torch.randn((n, size), generator=gen, dtype=torch.float64)
    else:
        raise ValueError(f"distribution={distribution!r} is unknown; allowed: rademacher, gaussian")
    return z.to(dtype=dtype, device=device)


@dataclass
class SLQResult:
    """Gauss quadrature rules of :func:`slq`, one per probe.

    Attributes
    ----------
    nodes : ndarray, shape (n_probes, m)
        Ritz values θ_{vk} (ascending per probe; padded with NaN where a probe's run stopped early).
    weights : ndarray, shape (n_probes, m)
        τ_{vk}² = squared first components of the Ritz vectors (each row sums to 1; 0 where padded).
    n_products : int
    """

    nodes: np.ndarray
    weights: np.ndarray
    n_products: int

    def moment(self, j: int) -> float:
        """``(1/n_v) Σ_v Σ_k τ_{vk}² θ_{vk}^j``: an estimate of ``tr(A^j)/P`` (exact per probe for j ≤ 2m−1)."""
        th = np.nan_to_num(self.nodes)
        return float(np.mean(np.sum(self.weights * th ** j, axis=1)))

    def density(self, grid, sigma: float) -> np.ndarray:
        """The smoothed density on ``grid``; see :func:`spectral_density`."""
        return spectral_density(self.nodes, self.weights, grid, sigma)


def slq(op, m: int = 80, n_probes: int = 1, *, probes=None, seed: int = 0, distribution: str = "rademacher",
        dtype: torch.dtype | None = None) -> SLQResult:
    """Stochastic Lanczos quadrature: ``n_probes`` Lanczos runs of ``m`` steps from random probes.

    Parameters
    ----------
    op : LinearOperator or matrix
    m : int
        Lanczos steps per probe (the quadrature has ``m`` nodes; PyHessian uses 100).
    n_probes : int
        Number of random probes (ignored when ``probes`` is given).
    probes : tensor, optional, shape (n, P)
        Explicit probe vectors (normalised here). With the ``P`` columns of an orthogonal matrix the
        averaged moments are exactly ``tr(A^j)/P``.
    seed, distribution
        Random probes: ``"rademacher"`` (default) or ``"gaussian"``, from a CPU generator.

    Returns
    -------
    SLQResult
    """
    op = as_operator(op)
    m = min(_check_int("m", m), op.size)
    dtype = _check_dtype(dtype) or op.dtype
    if probes is None:
        probes = _probes(op.size, _check_int("n_probes", n_probes), seed, distribution, dtype, op.device)
    probes = _as_vector(probes, op.size, "probes")
    if probes.dim() == 1:
        probes = probes[None]
    if probes.dim() != 2 or probes.shape[1] != op.size:
        raise ValueError(f"probes must have shape (n, {op.size}); got {tuple(probes.shape)}")
    if probes.shape[0] < 1 or not bool(torch.isfinite(probes).all()) or bool((probes == 0).all(dim=1).any()):
        raise ValueError("probes must hold at least one finite, non-zero probe vector")
    n_v = probes.shape[0]
    nodes = np.full((n_v, m), np.nan)
    weights = np.zeros((n_v, m))
    n0 = op.n_products
    for i in range(n_v):
        res = lanczos(op, m, v0=probes[i], dtype=dtype)
        theta, S = res.ritz()
        nodes[i, :len(theta)] = theta
        weights[i, :len(theta)] = S[0] ** 2
    return SLQResult(nodes, weights, op.n_products - n0)


def spectral_density(nodes, weights, grid, sigma: float) -> np.ndarray:
    """Gaussian-smoothed SLQ density ``ρ(t) = (1/n_v) Σ_v Σ_k w_{vk} exp(−(t−θ_{vk})²/2σ²)/(σ√(2π))``.

    Parameters
    ----------
    nodes, weights : array_like, shape (n_probes, m) or (m,)
        From :func:`slq` (NaN nodes, zero weights are ignored).
    grid : array_like
        Points ``t``.
    sigma : float
        Kernel standard deviation (> 0). The density integrates to 1 over the real line; its mean is
        ``Σ w θ`` and its variance the quadrature's variance plus ``σ²``.
    """
    if not (isinstance(sigma, (int, float, np.floating)) and sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma={sigma!r} must be a finite number > 0")
    th = np.atleast_2d(_real_numpy(nodes, "nodes", allow_nan=True))  # NaN nodes: padding of slq
    w = np.atleast_2d(_real_numpy(weights, "weights"))
    if th.shape != w.shape or th.ndim != 2:
        raise ValueError(f"nodes {th.shape} and weights {w.shape} must have the same shape (n_probes, m) or (m,)")
    if np.any(np.isinf(th)) or np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("nodes must be finite (or NaN padding) and weights finite and >= 0")
    ok = np.isfinite(th)
    th, w = np.where(ok, th, 0.0), np.where(ok, w, 0.0)
    t = _real_numpy(grid, "grid")
    if not np.all(np.isfinite(t)):
        raise ValueError("grid must be finite")
    z = (t[..., None, None] - th) / sigma
    k = np.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))
    return (k * w).sum(axis=(-1, -2)) / th.shape[0]


def _real_numpy(value, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """``value`` (array or tensor) as a float64 numpy array; ``ValueError`` naming ``name`` for non-numeric or
    NaN input (``inf`` passes; the callers decide)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return real_array(value, name, finite=False, allow_nan=allow_nan)


@dataclass
class TraceResult:
    """Hutchinson estimate: ``estimate`` ± ``stderr`` from ``samples`` (one ``zᵀAz`` per probe)."""

    estimate: float
    stderr: float
    samples: np.ndarray
    n_products: int


def hutchinson_trace(op, n_probes: int = 100, *, seed: int = 0, distribution: str = "rademacher") -> TraceResult:
    """Hutchinson's unbiased trace estimator ``tr A ≈ (1/n) Σ_i z_iᵀ A z_i``.

    With Rademacher ``z`` the variance per probe is ``2(‖A‖_F² − Σ A_ii²)``; with Gaussian ``z`` it
    is ``2‖A‖_F²``. ``stderr`` is the sample standard deviation over ``√n``.
    """
    op = as_operator(op)
    n = _check_int("n_probes", n_probes)
    z = _probes(op.size, n, seed, distribution, op.dtype, op.device)
    n0 = op.n_products
    samples = np.array([float(torch.dot(z[i], op.matvec(z[i]))) for i in range(n)])
    se = float(samples.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    return TraceResult(float(samples.mean()), se, samples, op.n_products - n0)
