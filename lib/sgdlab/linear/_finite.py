"""Finite data sets and Monte Carlo: the exact N×N moment recursion, linearised SGD sampled over runs,
Gaussian-feature SGD, the analytic 2-layer ReLU NTK and spectral fits (private)."""
from __future__ import annotations

import numpy as np

from ._validate import as_modes, positive_int, single_thread

__all__ = ["exact_finite_loss", "sd_from_kernel", "mc_gaussian_loss", "mc_finite_loss", "eigvec_kurtosis",
           "relu_ntk", "fit_power_laws", "kernel_problem"]


def _check_hyper(lr, momentum):
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be finite and > 0")
    if not abs(momentum) < 1:
        raise ValueError(f"momentum={momentum!r} must lie in (-1, 1)")


def _kernel_problem_impl(kernel, targets):
    """Eigen-decomposition of a normalised kernel and the loss-weighted coefficients of a target.

    The kernel K is rescaled to K_n = K/N with λ_max(K_n) = 1 (learning rates in units of 1/λ_max), and
    the initial residual is Δf_0 = −y (f_0 = 0). Then c_k = (Uᵀ Δf_0)_k² / N and L_0 = ½ Σ c_k = |y|²/(2N).

    Returns
    -------
    dict with ``eigs`` (descending), ``vecs`` (columns), ``c``, ``kernel_n``, ``residual0``

    References
    ----------
    Velikanov et al. (ICLR 2023), function-space form of the experiments; book chapters
    ``generating_functions/02_se_exactness`` and ``generating_functions/06_networks``.
    """
    K = np.asarray(kernel, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"kernel must be a square matrix, got shape {K.shape}")
    if y.shape != (K.shape[0],):
        raise ValueError(f"targets must have shape ({K.shape[0]},), got {y.shape}")
    N = K.shape[0]
    K = 0.5 * (K + K.T)
    lam, U = np.linalg.eigh(K / N)
    lam, U = lam[::-1], U[:, ::-1]
    scale = lam[0]
    if not scale > 0:
        raise ValueError("kernel must have a positive top eigenvalue")
    lam = np.clip(lam / scale, 0.0, None)
    Kn = K / N / scale
    d0 = -y
    c = (U.T @ d0) ** 2 / N
    return {"eigs": lam, "vecs": U, "c": c, "kernel_n": Kn, "residual0": d0, "lambda_scale": scale}


def eigvec_kurtosis(vecs):
    """κ_k = N Σ_i U_ik⁴ for each eigenvector (column) of an N×N orthogonal matrix.

    κ = 1 for Walsh–Hadamard or Fourier eigenvectors, ≈ 3 for Haar-random ones; the effective SE
    parameter of mode k is τ2 ≈ 2 − κ_k (reproduction note §2.3).
    """
    U = np.asarray(vecs, dtype=np.float64)
    if U.ndim != 2:
        raise ValueError("vecs must be a 2-d array of eigenvectors in columns")
    return U.shape[0] * np.sum(U**4, axis=0)


def _exact_finite_loss_impl(eigs, vecs, residual0, lr, momentum, batch_size, steps, *, times=None):
    """Exact expected loss of linearised SGD with momentum on N points, batches without replacement.

    Iterates the full second moments C = E[Δf Δfᵀ], J = E[Δf uᵀ], P = E[u uᵀ] in the eigenbasis of K_n:

        P' = β²P − αβ(KJ + JᵀK) + α²K[(1−γ)C + γN Diag(C)]K,  J' = βJ − αCK + P',
        C' = C + β(J + Jᵀ) − α(KC + CK) + P',

    where Diag keeps the diagonal in the data basis and γ = (N−B)/((N−1)B). C and P are symmetrised
    every step (round-off otherwise grows an antisymmetric part; reproduction note pitfall 4).
    Cost: two N×N matrix products per step.

    Parameters
    ----------
    eigs, vecs
        Eigenvalues and orthonormal eigenvectors (columns) of K_n.
    residual0
        Δf_0 (data basis).
    lr, momentum, batch_size, steps
        α, β, B, T.

    Returns
    -------
    ndarray: L_t = E|Δf_t|²/(2N) at ``times`` (default every step)

    References
    ----------
    Velikanov et al. (ICLR 2023); the authors' ``training/train_full.py``; book chapter
    ``generating_functions/02_se_exactness``.
    """
    lam = as_modes(eigs, positive=False)
    U = np.asarray(vecs, dtype=np.float64)
    N = lam.size
    if U.shape != (N, N):
        raise ValueError(f"vecs must have shape ({N}, {N}), got {U.shape}")
    d0 = np.asarray(residual0, dtype=np.float64)
    if d0.shape != (N,):
        raise ValueError(f"residual0 must have shape ({N},)")
    _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    t_rec = np.arange(steps + 1) if times is None else np.asarray(times, dtype=np.int64)
    g = (N - b) / ((N - 1) * b) if N > 1 else 0.0
    x = U.T @ d0 / np.sqrt(N)
    C = np.outer(x, x)
    J = np.zeros_like(C)
    P = np.zeros_like(C)
    al, be = float(lr), float(momentum)
    L = lam[:, None]
    Lr = lam[None, :]
    out, j = np.empty(t_rec.size), 0
    for t in range(steps + 1):
        if j < t_rec.size and t == t_rec[j]:
            out[j] = 0.5 * np.trace(C)
            j += 1
        if t == steps:
            break
        D = np.einsum("ik,ik->i", U @ C, U)           # diag of U C Uᵀ (data basis)
        noise = N * (U.T * D) @ U                      # N Uᵀ Diag(.) U
        E = (1 - g) * C + g * noise
        KJ = L * J
        Pn = be * be * P - al * be * (KJ + KJ.T) + al * al * (L * E * Lr)
        Jn = be * J - al * C * Lr + Pn
        Cn = C + be * (J + J.T) - al * (L * C + C * Lr) + Pn
        C, J, P = 0.5 * (Cn + Cn.T), Jn, 0.5 * (Pn + Pn.T)
    return out


def sd_from_kernel(problem, batch_size):
    """Arguments of the SE recursion for a finite kernel problem: eigs, c and γ without replacement."""
    N = problem["eigs"].size
    b = positive_int(batch_size, "batch_size")
    g = (N - b) / ((N - 1) * b)
    keep = problem["eigs"] > 0
    return problem["eigs"][keep], problem["c"][keep], g


def mc_gaussian_loss(eigs, c, lr, momentum, batch_size, steps, *, runs: int = 1000, times=None, seed: int = 0):
    """Monte-Carlo SGD with momentum on a linear model with Gaussian features x ~ N(0, diag λ).

    Each step draws a fresh batch of B samples. We sample the batch gradient exactly in distribution
    without drawing B·P numbers: with u = H^{1/2}Δw, Σ_i ξ_i(ξ_iᵀu) = |u|(χ²_B ê + √χ²_B η⊥) where
    ê = u/|u|, χ²_B has B degrees of freedom and η⊥ is a standard normal vector orthogonal to ê.
    Vectorised over ``runs``. Parameter-space start Δw_0 = −w*, λ_k w*_k² = c_k.

    Returns
    -------
    mean, sem : ndarray at ``times`` (default every step) of L_t = ½ Σ λ_k Δw_k²

    References
    ----------
    Velikanov et al. (ICLR 2023): SE with τ1 = 1, τ2 = −1 is exact for Gaussian features; book chapter
    ``generating_functions/02_se_exactness``.
    """
    lam = as_modes(eigs)
    cc = as_modes(c, "c", positive=False)
    _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    steps = positive_int(steps, "steps", 0)
    runs = positive_int(runs, "runs", 2)
    t_rec = np.arange(steps + 1) if times is None else np.asarray(times, dtype=np.int64)
    rng = np.random.default_rng(seed)
    sq = np.sqrt(lam)
    # work with u = H^{1/2} Δw and v_u = H^{1/2} v: u' = u + v', v' = β v − α H (1/B) Ξᵀ Ξ u
    u = np.tile(-np.sqrt(cc), (runs, 1))          # sign irrelevant
    v = np.zeros_like(u)
    out = np.empty((t_rec.size, runs))
    j = 0
    for t in range(steps + 1):
        if j < t_rec.size and t == t_rec[j]:
            out[j] = 0.5 * np.sum(u * u, axis=1)
            j += 1
        if t == steps:
            break
        nrm = np.sqrt(np.sum(u * u, axis=1, keepdims=True))
        e = u / np.where(nrm > 0, nrm, 1.0)
        chi = rng.chisquare(b, size=(runs, 1))
        eta = rng.standard_normal(u.shape)
        eta -= np.sum(eta * e, axis=1, keepdims=True) * e
        xtxu = nrm * (chi * e + np.sqrt(chi) * eta)    # Ξᵀ Ξ u
        v = momentum * v - (lr / b) * lam * xtxu
        u = u + v
    del sq
    mean = out.mean(axis=1)
    sem = out.std(axis=1, ddof=1) / np.sqrt(runs)
    return mean, sem


def _mc_finite_loss_impl(kernel_n, residual0, lr, momentum, batch_size, steps, *, runs: int = 100, times=None,
                   seed: int = 0, replace_batches: bool = False):
    """Monte-Carlo linearised SGD in function space on N points, vectorised over runs.

    u' = βu − α K_n P_B Δf, Δf' = Δf + u', P_B = (N/B) Σ_{i∈B} e_i e_iᵀ, batches drawn without
    replacement independently at each step (or i.i.d. with ``replace_batches``).

    Returns
    -------
    mean, sem, median : ndarray of L_t = |Δf_t|²/(2N) at ``times``

    References
    ----------
    Velikanov et al. (ICLR 2023), the "linearized" regime; book chapter ``generating_functions/02_se_exactness``.
    """
    K = np.asarray(kernel_n, dtype=np.float64)
    d0 = np.asarray(residual0, dtype=np.float64)
    N = d0.size
    if K.shape != (N, N):
        raise ValueError(f"kernel_n must have shape ({N}, {N})")
    _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    runs = positive_int(runs, "runs", 2)
    t_rec = np.arange(steps + 1) if times is None else np.asarray(times, dtype=np.int64)
    rng = np.random.default_rng(seed)

    def batches(t):
        if replace_batches:
            return rng.integers(0, N, size=(runs, b))
        if b < N:
            return np.argpartition(rng.random((runs, N)), b - 1, axis=1)[:, :b]
        return np.tile(np.arange(N), (runs, 1))

    out = linearised_sgd_runs(K, d0, lr, momentum, b, steps, t_rec, runs, batches)
    return out.mean(axis=1), out.std(axis=1, ddof=1) / np.sqrt(runs), np.median(out, axis=1)


def linearised_sgd_runs(K, d0, lr, momentum, b, steps, t_rec, runs, batches):
    """The shared loop of linearised SGD in function space, vectorised over ``runs``.

    ``u' = βu − α K P_B Δf``, ``Δf' = Δf + u'`` with ``P_B = (N/B) Σ_{i∈B} e_i e_iᵀ``; ``batches(t)``
    returns the (runs, B) indices of step ``t``. Returns L_t = |Δf_t|²/(2N) at ``t_rec``, shape
    (len(t_rec), runs), with non-finite values (divergence) as ``inf``. Used by the Monte-Carlo check
    of chapter ``generating_functions/02_se_exactness`` and by :func:`sgdlab.linear._ntk.linearised_sgd_paired`.
    """
    N = d0.size
    D = np.tile(d0, (runs, 1))
    V = np.zeros_like(D)
    out = np.empty((t_rec.size, runs))
    rows = np.arange(runs)[:, None]
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            if j < t_rec.size and t == t_rec[j]:
                out[j] = 0.5 * np.sum(D * D, axis=1) / N
                j += 1
            if t == steps:
                break
            idx = batches(t)
            G = np.einsum("rnb,rb->rn", K[:, idx].transpose(1, 0, 2), D[rows, idx]) * (N / b)
            V = momentum * V - lr * G
            D = D + V
    return np.where(np.isfinite(out), out, np.inf)


def _relu_ntk_impl(x, *, sigma_w: float = 1.0, sigma_b: float = 1.0, repo_formula: bool = False):
    """Analytic NTK of a 1-hidden-layer ReLU network in NTK parametrisation (infinite width).

    Σ1 = σ_w² x·x'/d + σ_b², θ = arccos(Σ1/√(Σ1(x,x)Σ1(x',x'))),
    J0 = (π − θ)/(2π), J1 = (sin θ + (π − θ) cos θ)/(2π),
    Θ = σ_w² (Σ1 J0 + √(Σ1(x,x)Σ1(x',x')) J1).
    ``repo_formula=True`` drops the norm factor on J1, as the authors' ``datasets/mlp_ntk.py`` does.

    References
    ----------
    Jacot et al. (2018); Velikanov et al. (ICLR 2023), authors' repository ``datasets/mlp_ntk.py``;
    book chapters ``generating_functions/02_se_exactness`` and ``generating_functions/06_networks``.
    """
    X = np.asarray(x, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"x must be a 2-d array (samples × features), got shape {X.shape}")
    d = X.shape[1]
    S1 = sigma_w**2 / d * X @ X.T + sigma_b**2
    nrm = np.sqrt(np.diag(S1))
    cosang = np.clip(S1 / np.outer(nrm, nrm), -1.0, 1.0)
    th = np.arccos(cosang)
    np.fill_diagonal(th, 0.0)
    J0 = (np.pi - th) / (2 * np.pi)
    J1 = (np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi)
    if not repo_formula:
        J1 = J1 * np.outer(nrm, nrm)
    K = sigma_w**2 * (S1 * J0 + J1)
    return 0.5 * (K + K.T)


def fit_power_laws(eigs, c, *, nu_range=(5, 300), kappa_range=(10, 310), n_windows: int = 3):
    """Fit λ_k ∝ k^{−ν} and the tail sums S_k = Σ_{j>k} c_j ∝ k^{−κ}, averaging log–log slopes over
    ``n_windows`` sub-intervals of the given k ranges (the recipe of the authors' ``RegimeComparison``).

    Returns
    -------
    dict with ``nu``, ``nu_sd``, ``kappa``, ``kappa_sd``, ``zeta``
    """
    lam = np.asarray(eigs, dtype=float)
    cc = np.asarray(c, dtype=float)
    if lam.ndim != 1 or lam.shape != cc.shape:
        raise ValueError("eigs and c must be 1-d arrays of equal length")

    def slopes(y, lo, hi):
        if not (1 <= lo < hi <= y.size):
            raise ValueError(f"fit range ({lo}, {hi}) outside 1..{y.size}")
        edges = np.linspace(lo, hi, n_windows + 1).astype(int)
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            k = np.arange(a, b + 1)
            out.append(-np.polyfit(np.log(k), np.log(y[k - 1]), 1)[0])
        return float(np.mean(out)), float(np.std(out))

    tail = np.cumsum(cc[::-1])[::-1]          # tail[k-1] = Σ_{j≥k} c_j
    tail_gt = np.append(tail[1:], 0.0)          # Σ_{j>k}
    nu, nu_sd = slopes(lam, *nu_range)
    kappa, kappa_sd = slopes(tail_gt / tail[0], *kappa_range)
    return {"nu": nu, "nu_sd": nu_sd, "kappa": kappa, "kappa_sd": kappa_sd, "zeta": kappa / nu}


def _threaded(impl, public):
    import functools

    @functools.wraps(impl)
    def wrapper(*args, **kwargs):
        with single_thread():
            return impl(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = public
    return wrapper


exact_finite_loss = _threaded(_exact_finite_loss_impl, "exact_finite_loss")
kernel_problem = _threaded(_kernel_problem_impl, "kernel_problem")
relu_ntk = _threaded(_relu_ntk_impl, "relu_ntk")
mc_finite_loss = _threaded(_mc_finite_loss_impl, "mc_finite_loss")
