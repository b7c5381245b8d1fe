"""Finite data sets and Monte Carlo: the exact N×N moment recursion, linearised SGD sampled over runs,
Gaussian-feature SGD, the analytic 2-layer ReLU NTK and spectral fits (private)."""
from __future__ import annotations

import numpy as np

from ._validate import (_PSD_RTOL, as_modes, as_times, bool_flag, positive_int, psd_eigs, real_array, real_scalar,
                        seed_int, single_thread)

__all__ = ["exact_finite_loss", "sd_from_kernel", "mc_gaussian_loss", "mc_finite_loss", "eigvec_kurtosis",
           "relu_ntk", "fit_power_laws", "kernel_problem"]


_DIVERGE_AT = 1e30   # a loss above this (or not finite) is flagged as divergent: inf from then on (as se_loss)


def _check_hyper(lr, momentum):
    """Scalar α > 0 and β ∈ (−1, 1); ``ValueError`` naming the parameter otherwise."""
    lr = real_scalar(lr, "lr", low=0.0, low_open=True)
    momentum = real_scalar(momentum, "momentum", low=-1.0, high=1.0, low_open=True, high_open=True)
    return lr, momentum


def _rec_times(times, steps):
    return np.arange(steps + 1) if times is None else as_times(times, steps)


def _kernel_problem_impl(kernel, targets, *, psd_rtol: float = _PSD_RTOL):
    """Eigen-decomposition of a normalised kernel and the loss-weighted coefficients of a target.

    The kernel K is rescaled to K_n = K/N with λ_max(K_n) = 1 (learning rates in units of 1/λ_max), and
    the initial residual is Δf_0 = −y (f_0 = 0). Then c_k = (Uᵀ Δf_0)_k² / N and L_0 = ½ Σ c_k = |y|²/(2N).

    Parameters
    ----------
    kernel
        A symmetric positive semi-definite N × N matrix (finite, real).
    targets
        y, shape (N,).
    psd_rtol
        Eigenvalues in [−``psd_rtol``·λ_max, 0) are round-off of a rank-deficient kernel and are set to 0;
        more negative ones make the kernel indefinite (``ValueError`` naming ``kernel``).

    Returns
    -------
    dict with ``eigs`` (descending), ``vecs`` (columns), ``c``, ``kernel_n``, ``residual0``

    References
    ----------
    Velikanov et al. (ICLR 2023), function-space form of the experiments; book chapters
    ``generating_functions/02_se_exactness`` and ``generating_functions/06_networks``.
    """
    K = real_array(kernel, "kernel")
    y = real_array(targets, "targets")
    psd_rtol = real_scalar(psd_rtol, "psd_rtol", low=0.0)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.size == 0:
        raise ValueError(f"kernel must be a square matrix, got shape {K.shape}")
    if y.shape != (K.shape[0],):
        raise ValueError(f"targets must have shape (N,) = ({K.shape[0]},) with N from kernel, got {y.shape}")
    N = K.shape[0]
    K = 0.5 * (K + K.T)
    lam, U = np.linalg.eigh(K / N)
    lam, U = lam[::-1], U[:, ::-1]
    scale = lam[0]
    if not scale > 0:
        raise ValueError("kernel must have a positive top eigenvalue")
    psd_eigs(lam, "kernel", psd_rtol)
    lam = np.clip(lam / scale, 0.0, None)
    Kn = K / N / scale
    d0 = -y
    c = (U.T @ d0) ** 2 / N
    return {"eigs": lam, "vecs": U, "c": c, "kernel_n": Kn, "residual0": d0, "lambda_scale": scale}


def eigvec_kurtosis(vecs):
    """κ_k = N Σ_i U_ik⁴ for each eigenvector (column) of an N×N orthogonal matrix.

    κ = 1 for Walsh–Hadamard or Fourier eigenvectors, ≈ 3 for Haar-random ones; the effective SE
    parameter of mode k is τ2 ≈ 2 − κ_k (the diagonal approximation with a mode-dependent τ2, the ``mode_tau2``
    of :func:`se_loss`).

    References
    ----------
    Velikanov et al. (ICLR 2023), SE parameters of data sets; book chapter ``generating_functions/02_se_exactness``.
    """
    U = real_array(vecs, "vecs")
    if U.ndim != 2 or U.size == 0:
        raise ValueError("vecs must be a 2-d array of eigenvectors in columns")
    return U.shape[0] * np.sum(U**4, axis=0)


def _exact_finite_loss_impl(eigs, vecs, residual0, lr, momentum, batch_size, steps, *, times=None,
                            psd_rtol: float = _PSD_RTOL, diverge_at: float = _DIVERGE_AT):
    """Exact expected loss of linearised SGD with momentum on N points, batches without replacement.

    Iterates the full second moments C = E[Δf Δfᵀ], J = E[Δf uᵀ], P = E[u uᵀ] in the eigenbasis of K_n:

        P' = β²P − αβ(KJ + JᵀK) + α²K[(1−γ)C + γN Diag(C)]K,  J' = βJ − αCK + P',
        C' = C + β(J + Jᵀ) − α(KC + CK) + P',

    where Diag keeps the diagonal in the data basis and γ = (N−B)/((N−1)B). C and P are symmetrised
    every step (round-off otherwise grows an antisymmetric part over long runs).
    Cost: two N×N matrix products per step.

    Parameters
    ----------
    eigs, vecs
        Eigenvalues λ_k ≥ 0 and orthonormal eigenvectors (columns) of K_n. Eigenvalues in
        [−``psd_rtol``·max λ, 0) are round-off of a rank-deficient kernel (``numpy.linalg.eigh`` returns
        −1e-16) and are set to 0; more negative ones raise a ``ValueError`` naming ``eigs``.
    residual0
        Δf_0 (data basis).
    lr, momentum, batch_size, steps
        α > 0, β ∈ (−1, 1), 1 ≤ B ≤ N, T ≥ 0.
    times
        Increasing steps in [0, T] at which to record L_t (default every step).
    psd_rtol
        The round-off tolerance above, relative to the largest eigenvalue.
    diverge_at
        A loss above this (or not finite) flags the run as divergent: L_t is ``inf`` from then on.

    Returns
    -------
    ndarray: L_t = E|Δf_t|²/(2N) at ``times``; ``inf`` once divergent (never NaN).

    References
    ----------
    Velikanov et al. (ICLR 2023); the authors' ``training/train_full.py``; book chapter
    ``generating_functions/02_se_exactness``.
    """
    psd_rtol = real_scalar(psd_rtol, "psd_rtol", low=0.0)
    lam = real_array(eigs, "eigs")
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigs must be a non-empty 1-d array, got shape {lam.shape}")
    lam = psd_eigs(lam, "eigs", psd_rtol)
    U = real_array(vecs, "vecs")
    N = lam.size
    if U.shape != (N, N):
        raise ValueError(f"vecs must have shape (N, N) with N = len(eigs) = {N}, got {U.shape}")
    d0 = real_array(residual0, "residual0")
    if d0.shape != (N,):
        raise ValueError(f"residual0 must have shape (N,) with N = len(eigs) = {N}, got {d0.shape}")
    _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    t_rec = _rec_times(times, steps)
    if not real_scalar(diverge_at, "diverge_at", finite=False) > 0:
        raise ValueError(f"diverge_at={diverge_at!r} must be > 0")
    g = (N - b) / ((N - 1) * b) if N > 1 else 0.0
    x = U.T @ d0 / np.sqrt(N)
    C = np.outer(x, x)
    J = np.zeros_like(C)
    P = np.zeros_like(C)
    al, be = float(lr), float(momentum)
    L = lam[:, None]
    Lr = lam[None, :]
    out, j = np.full(t_rec.size, np.inf), 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            loss = 0.5 * np.trace(C)
            if not abs(loss) < diverge_at:      # divergent (or overflowed): inf from here on
                break
            if j < t_rec.size and t == t_rec[j]:
                out[j] = loss
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
    """Arguments of the SE recursion for a finite kernel problem: eigs, c and γ without replacement.

    Parameters
    ----------
    problem
        The dict of :func:`kernel_problem` (keys ``eigs`` and ``c``, N ≥ 2 points).
    batch_size
        B, 1 ≤ B ≤ N.

    Returns
    -------
    eigs, c, noise_factor
        The positive eigenvalues, their coefficients, and γ = (N − B)/((N − 1)B).

    References
    ----------
    Velikanov et al. (ICLR 2023), sampling without replacement; book chapter ``generating_functions/02_se_exactness``.
    """
    if not hasattr(problem, "keys") or "eigs" not in problem or "c" not in problem:
        raise ValueError("problem must be the dict of kernel_problem (with 'eigs' and 'c')")
    lam = real_array(problem["eigs"], "problem['eigs']")
    cc = real_array(problem["c"], "problem['c']")
    if lam.ndim != 1 or lam.shape != cc.shape or lam.size < 2 or np.any(lam < 0) or np.any(cc < 0):
        raise ValueError("problem must hold 1-d 'eigs' >= 0 and 'c' >= 0 of one length N >= 2")
    N = lam.size
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    g = (N - b) / ((N - 1) * b)
    keep = problem["eigs"] > 0
    return problem["eigs"][keep], problem["c"][keep], g


def mc_gaussian_loss(eigs, c, lr, momentum, batch_size, steps, *, runs: int = 1000, times=None, seed: int = 0):
    """Monte-Carlo SGD with momentum on a linear model with Gaussian features x ~ N(0, diag λ).

    Each step draws a fresh batch of B samples. We sample the batch gradient exactly in distribution
    without drawing B·P numbers: with u = H^{1/2}Δw, Σ_i ξ_i(ξ_iᵀu) = |u|(χ²_B ê + √χ²_B η⊥) where
    ê = u/|u|, χ²_B has B degrees of freedom and η⊥ is a standard normal vector orthogonal to ê.
    Vectorised over ``runs``. Parameter-space start Δw_0 = −w*, λ_k w*_k² = c_k.

    Parameters
    ----------
    eigs, c
        λ_k > 0 and c_k ≥ 0 (same length).
    lr, momentum, batch_size, steps
        α > 0, β ∈ (−1, 1), B ≥ 1, T ≥ 0.
    runs, times, seed
        Number of runs (≥ 2), increasing recording steps in [0, T] (default every step), the seed (≥ 0).

    Returns
    -------
    mean, sem : ndarray at ``times`` (default every step) of L_t = ½ Σ λ_k Δw_k²
        A run whose loss exceeds 1e30 (or overflows) is divergent: its loss is ``inf`` from then on, so
        are the mean and the standard error of the mean (never NaN).

    References
    ----------
    Velikanov et al. (ICLR 2023): SE with τ1 = 1, τ2 = −1 is exact for Gaussian features; book chapter
    ``generating_functions/02_se_exactness``.
    """
    lam = as_modes(eigs)
    cc = as_modes(c, "c", positive=False)
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    lr, momentum = _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    steps = positive_int(steps, "steps", 0)
    runs = positive_int(runs, "runs", 2)
    t_rec = _rec_times(times, steps)
    rng = np.random.default_rng(seed_int(seed))
    sq = np.sqrt(lam)
    # work with u = H^{1/2} Δw and v_u = H^{1/2} v: u' = u + v', v' = β v − α H (1/B) Ξᵀ Ξ u
    u = np.tile(-np.sqrt(cc), (runs, 1))          # sign irrelevant
    v = np.zeros_like(u)
    out = np.empty((t_rec.size, runs))
    alive = np.ones(runs, dtype=bool)
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            loss = 0.5 * np.sum(u * u, axis=1)
            bad = ~(loss < _DIVERGE_AT) & alive
            if bad.any():                       # divergent runs: inf from here on, state zeroed (no overflow)
                alive &= ~bad
                u[bad], v[bad] = 0.0, 0.0
            if j < t_rec.size and t == t_rec[j]:
                out[j] = np.where(alive, loss, np.inf)
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
    return _mean_sem(out, runs)


def _mean_sem(out, runs):
    """Mean and standard error over runs (axis 1); ``inf`` for both where a run diverged (``inf``)."""
    div = ~np.all(np.isfinite(out), axis=1)
    fin = np.where(np.isfinite(out), out, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):     # huge finite losses overflow the variance
        mean = fin.mean(axis=1)
        sem = fin.std(axis=1, ddof=1) / np.sqrt(runs)
    mean = np.where(div | ~np.isfinite(mean), np.inf, mean)
    sem = np.where(div | ~np.isfinite(sem), np.inf, sem)
    return mean, sem


def _mc_finite_loss_impl(kernel_n, residual0, lr, momentum, batch_size, steps, *, runs: int = 100, times=None,
                   seed: int = 0, replace_batches: bool = False):
    """Monte-Carlo linearised SGD in function space on N points, vectorised over runs.

    u' = βu − α K_n P_B Δf, Δf' = Δf + u', P_B = (N/B) Σ_{i∈B} e_i e_iᵀ, batches drawn without
    replacement independently at each step (or i.i.d. with ``replace_batches``).

    Parameters
    ----------
    kernel_n, residual0
        K_n (N × N, finite) and Δf_0 (N,).
    lr, momentum, batch_size, steps
        α > 0, β ∈ (−1, 1), 1 ≤ B ≤ N, T ≥ 0.
    runs, times, seed, replace_batches
        Number of runs (≥ 2), increasing recording steps in [0, T] (default every step), the seed (≥ 0),
        and whether batches are drawn i.i.d. (with replacement).

    Returns
    -------
    mean, sem, median : ndarray of L_t = |Δf_t|²/(2N) at ``times``
        A run that overflows is divergent (``inf`` from then on); the mean and the standard error are then
        ``inf`` (never NaN), the median is ``inf`` once half the runs diverged.

    References
    ----------
    Velikanov et al. (ICLR 2023), the "linearized" regime; book chapter ``generating_functions/02_se_exactness``.
    """
    K = real_array(kernel_n, "kernel_n")
    d0 = real_array(residual0, "residual0")
    if d0.ndim != 1 or d0.size == 0:
        raise ValueError(f"residual0 must be a non-empty 1-d array, got shape {d0.shape}")
    N = d0.size
    if K.shape != (N, N):
        raise ValueError(f"kernel_n must have shape ({N}, {N})")
    lr, momentum = _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    runs = positive_int(runs, "runs", 2)
    t_rec = _rec_times(times, steps)
    replace_batches = bool_flag(replace_batches, "replace_batches")
    rng = np.random.default_rng(seed_int(seed))

    def batches(t):
        if replace_batches:
            return rng.integers(0, N, size=(runs, b))
        if b < N:
            return np.argpartition(rng.random((runs, N)), b - 1, axis=1)[:, :b]
        return np.tile(np.arange(N), (runs, 1))

    out = linearised_sgd_runs(K, d0, lr, momentum, b, steps, t_rec, runs, batches)
    mean, sem = _mean_sem(out, runs)
    with np.errstate(invalid="ignore"):
        median = np.median(out, axis=1)
    return mean, sem, median


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

    Parameters
    ----------
    x
        Inputs, a finite real (N, d) array; with ``sigma_b = 0`` no row may be zero.
    sigma_w, sigma_b
        Weight scale σ_w > 0 and bias scale σ_b ≥ 0.
    repo_formula
        See above.

    Returns
    -------
    ndarray (N, N)

    References
    ----------
    Jacot et al. (2018); Velikanov et al. (ICLR 2023), authors' repository ``datasets/mlp_ntk.py``;
    book chapters ``generating_functions/02_se_exactness`` and ``generating_functions/06_networks``.
    """
    X = real_array(x, "x")
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"x must be a non-empty 2-d array (samples × features), got shape {X.shape}")
    sigma_w = real_scalar(sigma_w, "sigma_w", low=0.0, low_open=True)
    sigma_b = real_scalar(sigma_b, "sigma_b", low=0.0)
    repo_formula = bool_flag(repo_formula, "repo_formula")
    if sigma_b == 0 and np.any(~np.any(X != 0, axis=1)):
        raise ValueError("x has a zero row: with sigma_b=0 its angle to the other inputs is undefined")
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

    Parameters
    ----------
    eigs, c
        λ_k (descending, > 0 in the fit range) and c_k ≥ 0 (not all zero), equal length.
    nu_range, kappa_range
        Integer ranges (lo, hi), 1 ≤ lo < hi ≤ len(eigs), of k for the two fits; the tail sums must be
        positive over ``kappa_range`` (so hi < len(eigs)).
    n_windows
        Number of sub-intervals (≥ 1).

    Returns
    -------
    dict with ``nu``, ``nu_sd``, ``kappa``, ``kappa_sd``, ``zeta``

    References
    ----------
    Velikanov et al. (ICLR 2023), power-law fits of the authors' ``RegimeComparison`` notebook; book chapters
    ``generating_functions/02_se_exactness`` and ``06_networks``.
    """
    lam = real_array(eigs, "eigs")
    cc = real_array(c, "c")
    if lam.ndim != 1 or lam.size < 2:
        raise ValueError(f"eigs must be a 1-d array of length >= 2, got shape {lam.shape}")
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    if np.any(cc < 0) or not cc.sum() > 0:
        raise ValueError("c must be >= 0 and not all zero")
    n_windows = positive_int(n_windows, "n_windows")

    def fit_range(r, name):
        try:
            lo, hi = r
        except (TypeError, ValueError):
            raise ValueError(f"{name}={r!r} must be a pair (lo, hi) of integers") from None
        lo, hi = positive_int(lo, name), positive_int(hi, name)
        if not lo < hi <= lam.size:
            raise ValueError(f"{name}=({lo}, {hi}) must satisfy 1 <= lo < hi <= {lam.size}")
        return lo, hi

    nu_range = fit_range(nu_range, "nu_range")
    kappa_range = fit_range(kappa_range, "kappa_range")
    if np.any(~(lam[nu_range[0] - 1:nu_range[1]] > 0)):
        raise ValueError("eigs must be > 0 over nu_range")

    def slopes(y, lo, hi):
        edges = np.linspace(lo, hi, n_windows + 1).astype(int)
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            k = np.arange(a, b + 1)
            out.append(-np.polyfit(np.log(k), np.log(y[k - 1]), 1)[0])
        return float(np.mean(out)), float(np.std(out))

    tail = np.cumsum(cc[::-1])[::-1]          # tail[k-1] = Σ_{j≥k} c_j
    tail_gt = np.append(tail[1:], 0.0)          # Σ_{j>k}
    if np.any(~(tail_gt[kappa_range[0] - 1:kappa_range[1]] > 0)):
        raise ValueError(f"kappa_range={kappa_range}: the tail sums Σ_{{j>k}} c_j must be > 0 over it "
                         f"(hi < {lam.size} and no zero tail of c)")
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
