"""SGD and SGD with momentum as linear-Gaussian systems, their SDE, and the label-noise slow SDE.

The numerics of part 2 of the book (``book/momentum/``), which checks Wang, Malladi, Wang, Lyu, Li,
*The Marginal Value of Momentum for Small Learning Rate SGD* (ICLR 2024). Everything is written in
the **normalised** parametrisation of SGDM (effective learning rate η = γ/(1−β); see the notation
chapter)::

    m ← β m + (1−β) g,      x ← x − η m,      m₀ = 0,

which gives the same iterates as ``torch.optim.SGD(lr=η(1−β), momentum=β)``. ``momentum=0`` is
plain SGD at learning rate η.

On a quadratic ``L(x) = ½ xᵀHx`` with additive gradient noise (``g = Hx + ξ``, ``Cov ξ = C``) the
iteration is linear-Gaussian, so the mean and covariance of ``(x, m)`` obey an exact recursion:
:func:`quadratic_moments` propagates it (no Monte Carlo). :func:`ou_moments` gives the SDE's
Ornstein–Uhlenbeck closed form, :func:`stationary_variance` the closed stationary variances and
:func:`stationary_covariance` the discrete Lyapunov solution (scipy). SVAG (Li, Malladi & Arora 2021)
enters as ``svag_l``: learning rate η/ℓ, gradient noise ×ℓ in variance, ℓ× the steps, β kept fixed.

:func:`simulate_quadratic` and :func:`simulate_label_noise` are vectorised Monte Carlo over chains
(and over configurations): the first checks the closed forms, the second is the two-dimensional
label-noise model ``L = ½ E(x₁x₂ − 1 − δ)²`` whose slow SDE is ``D(t) = D₀ e^{−s²t}`` for
``D = x₁² − x₂²`` and ``t = η²k``.

Chapters: ``momentum/01_sde`` (closed forms), ``momentum/02_short_horizon`` (:func:`quadratic_moments`,
:func:`ou_moments`, :func:`weak_gap`), ``momentum/03_stationarity`` (stationary variances, stability,
SVAG, :func:`simulate_quadratic`), ``momentum/04_long_horizon`` (:func:`simulate_label_noise`).

References
----------
Wang, Malladi, Wang, Lyu, Li, ICLR 2024 (arXiv 2307.15196): eq. (1) and (3) (two forms of SGDM),
Thm 3.5 (O(1/η) horizon), Thm 4.5 (O(1/η²) horizon), Def. 5.1 (SVAG).
Li, Malladi, Arora, *On the validity of modeling SGD with SDEs*, NeurIPS 2021 (SVAG).
Li, Wang, Arora, *What happens after SGD reaches zero loss?*, ICLR 2022 (slow SDE, label noise).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.linalg

__all__ = [
    "sgdm_matrices",
    "quadratic_moments",
    "ou_moments",
    "weak_gap",
    "stationary_variance",
    "stationary_covariance",
    "spectral_radius",
    "max_stable_lr",
    "svag_coefficients",
    "simulate_quadratic",
    "simulate_label_noise",
]


# --------------------------------------------------------------------------- validation
def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def _nonneg(name: str, value: float) -> float:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}={value!r} must be a finite number >= 0")
    return float(value)


def _momentum(value: float) -> float:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and 0.0 <= float(value) < 1.0):
        raise ValueError(f"momentum={value!r} must lie in [0, 1)")
    return float(value)


def _count(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _svag(value: int) -> int:
    return _count("svag_l", value, 1)


def _matrix(name: str, value, dim: int | None = None) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 1:
        a = np.diag(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite square matrix or a vector of its diagonal")
    if not np.allclose(a, a.T):
        raise ValueError(f"{name} must be symmetric")
    if dim is not None and a.shape[0] != dim:
        raise ValueError(f"{name} has size {a.shape[0]}, expected {dim}")
    return a


# --------------------------------------------------------------------------- exact moments
def sgdm_matrices(hessian, noise_cov, effective_lr: float, momentum: float, svag_l: int = 1):
    """Transition and noise matrices of normalised SGDM on ``L = ½ xᵀHx`` with gradient noise ``C``.

    The state is ``z = (x, m)`` (dimension 2d); one step is ``z ← A z + b ξ`` with ``ξ ~ (0, C)``:
    ``A = [[I − η'(1−β)H, −η'β I], [(1−β)H, βI]]``, ``b = [−η'(1−β) I; (1−β) I]``, where η' = η/ℓ and,
    under SVAG with ℓ > 1, the gradient noise covariance is ℓC (Li, Malladi & Arora 2021).

    Parameters
    ----------
    hessian, noise_cov : array_like
        H and C (d×d symmetric, or vectors of their diagonals).
    effective_lr : float
        η > 0.
    momentum : float
        β in [0, 1); 0 is plain SGD at learning rate η.
    svag_l : int
        SVAG's ℓ ≥ 1.

    Returns
    -------
    A : ndarray (2d, 2d)
    Q : ndarray (2d, 2d)
        The per-step noise covariance ``ℓ b C bᵀ``.

    References
    ----------
    Wang et al., ICLR 2024, eq. (3). Used in ``momentum/02_short_horizon`` and ``momentum/03_stationarity``.
    """
    h = _matrix("hessian", hessian)
    c = _matrix("noise_cov", noise_cov, h.shape[0])
    eta = _positive("effective_lr", effective_lr)
    beta = _momentum(momentum)
    ell = _svag(svag_l)
    lr = eta / ell
    d = h.shape[0]
    eye = np.eye(d)
    a = np.block([[eye - lr * (1 - beta) * h, -lr * beta * eye], [(1 - beta) * h, beta * eye]])
    b = np.vstack([-lr * (1 - beta) * eye, (1 - beta) * eye])
    q = ell * b @ c @ b.T
    return a, q


def quadratic_moments(
    hessian,
    noise_cov,
    x0: Sequence[float],
    effective_lr: float,
    momentum: float,
    steps: int,
    *,
    svag_l: int = 1,
    record_every: int = 1,
) -> dict[str, np.ndarray]:
    """Exact mean and covariance of normalised SGDM (β = 0: SGD) on a quadratic, step by step.

    ``x_{k+1}``, ``m_{k+1}`` as in :func:`sgdm_matrices`, started at ``x₀`` (deterministic) with
    ``m₀ = 0`` (PyTorch's semantics). The recursion ``μ ← Aμ``, ``S ← ASAᵀ + Q`` is exact for any
    noise distribution with covariance C; no Monte Carlo.

    Parameters
    ----------
    hessian, noise_cov : array_like
        H and the gradient-noise covariance C = σ²Σ (pass ``Σ/η`` for the SDE scaling σ² = 1/η).
    x0 : sequence of float
        Starting point.
    effective_lr, momentum, svag_l
        η, β ∈ [0, 1), ℓ ≥ 1 (as in :func:`sgdm_matrices`).
    steps : int
        Number of steps (each of size η/ℓ).
    record_every : int
        Keep every ``record_every``-th step (step 0 always kept).

    Returns
    -------
    dict
        ``step`` (k), ``time`` (kη/ℓ, SDE time), ``mean`` (n, d), ``cov`` (n, d, d) of x, and ``loss``
        (n,) = E L = ½ tr(H S_x) + ½ μᵀHμ. A diverging run is reported with ``inf`` (no exception).

    References
    ----------
    Wang et al., ICLR 2024, Sec. 3. Used in ``momentum/02_short_horizon``.
    """
    h = _matrix("hessian", hessian)
    d = h.shape[0]
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape != (d,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be a finite vector of length {d}")
    steps = _count("steps", steps, 0)
    record_every = _count("record_every", record_every, 1)
    a, q = sgdm_matrices(h, noise_cov, effective_lr, momentum, svag_l)
    mu = np.concatenate([x0, np.zeros(d)])
    s = np.zeros((2 * d, 2 * d))
    keep = [0] + list(range(record_every, steps + 1, record_every))
    means, covs = np.empty((len(keep), d)), np.empty((len(keep), d, d))
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            if k > 0:
                mu = a @ mu
                s = a @ s @ a.T + q
            if j < len(keep) and keep[j] == k:
                means[j], covs[j] = mu[:d], s[:d, :d]
                j += 1
    with np.errstate(over="ignore", invalid="ignore"):
        loss = 0.5 * np.einsum("ij,kji->k", h, covs) + 0.5 * np.einsum("ki,ij,kj->k", means, h, means)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    step = np.asarray(keep)
    return {"step": step, "time": step * float(effective_lr) / svag_l, "mean": means, "cov": covs, "loss": loss}


def ou_moments(hessian, noise_cov, x0: Sequence[float], times: Sequence[float], effective_lr: float) -> dict:
    """Mean, covariance and E L of the SDE ``dX = −HX dt + √(η C) dW`` (Ornstein–Uhlenbeck), exactly.

    ``μ(t) = e^{−Ht}x₀``; the covariance in the eigenbasis of H is
    ``S_ij(t) = ηC̃_ij (1 − e^{−(h_i+h_j)t})/(h_i + h_j)``, which solves ``Ṡ = −HS − SH + ηC``
    (for a zero eigenvalue, the limit ``ηC̃_ij t``).

    Parameters
    ----------
    hessian, noise_cov : array_like
        H (positive semi-definite) and C (with the SDE scaling, C = Σ/η makes ηC = Σ).
    x0 : sequence of float
    times : sequence of float
        SDE times t ≥ 0.
    effective_lr : float
        η, the learning rate whose SDE this is.

    Returns
    -------
    dict with ``time``, ``mean`` (n, d), ``cov`` (n, d, d), ``loss`` (n,).

    References
    ----------
    Li, Tai & E 2019 (SME); Wang et al., ICLR 2024, Sec. 2. Used in ``momentum/02_short_horizon``.
    """
    h = _matrix("hessian", hessian)
    c = _matrix("noise_cov", noise_cov, h.shape[0])
    eta = _positive("effective_lr", effective_lr)
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or np.any(~(t >= 0)):
        raise ValueError("times must be a 1-d array of numbers >= 0")
    x0 = np.asarray(x0, dtype=np.float64)
    evals, vecs = np.linalg.eigh(h)
    if np.any(evals < -1e-12):
        raise ValueError("hessian must be positive semi-definite")
    ct = vecs.T @ (eta * c) @ vecs
    x0t = vecs.T @ x0
    mean_t = np.exp(-np.outer(t, evals)) * x0t
    lam = evals[:, None] + evals[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(lam[None] > 0, -np.expm1(-lam[None] * t[:, None, None]) / lam[None], t[:, None, None])
    cov_t = ct[None] * factor
    mean = mean_t @ vecs.T
    cov = np.einsum("ij,njk,lk->nil", vecs, cov_t, vecs)
    loss = 0.5 * np.einsum("ij,kji->k", h, cov) + 0.5 * np.einsum("ki,ij,kj->k", mean, h, mean)
    return {"time": t, "mean": mean, "cov": cov, "loss": loss}


def weak_gap(a: dict, b: dict, *, t_min: float = 0.0, t_max: float = np.inf) -> float:
    """``max |E L_a(t) − E L_b(t)|`` over the common recorded times ``t_min ≤ t ≤ t_max``.

    ``a`` and ``b`` are outputs of :func:`quadratic_moments` / :func:`ou_moments`; times are matched
    to 1e-9 relative. Used in ``momentum/02_short_horizon`` (the weak distance of Thm 3.5 with the
    test function L).
    """
    ta, tb = np.round(np.asarray(a["time"]) * 1e9), np.round(np.asarray(b["time"]) * 1e9)
    common, ia, ib = np.intersect1d(ta, tb, return_indices=True)
    t = common / 1e9
    sel = (t >= t_min - 1e-12) & (t <= t_max + 1e-12)
    if not np.any(sel):
        raise ValueError("the two runs share no recorded time in [t_min, t_max]")
    return float(np.max(np.abs(np.asarray(a["loss"])[ia][sel] - np.asarray(b["loss"])[ib][sel])))


# --------------------------------------------------------------------------- stationarity
def stationary_variance(curvature, noise_var, effective_lr, momentum=0.0, svag_l=1):
    """Closed-form stationary variance of SGD/SGDM on ``L = ½λx²`` with gradient-noise variance s².

    SGD (β = 0): ``η s² / (λ(2 − ηλ/ℓ))``; normalised SGDM:
    ``η s² (1+β) / (λ(2(1+β) − ηλ(1−β)/ℓ))``. ``inf`` outside the stability range
    ``ηλ/ℓ < 2(1+β)/(1−β)``. Broadcasts over its arguments. The SDE (OU) value is ``η s²/(2λ)``.

    References
    ----------
    Wang et al., ICLR 2024, Sec. 2 (warm-up: curvature- vs noise-induced instability); derived with
    sympy in ``momentum/01_sde``; used in ``momentum/03_stationarity``.
    """
    lam = np.asarray(curvature, dtype=np.float64)
    s2 = np.asarray(noise_var, dtype=np.float64)
    eta = np.asarray(effective_lr, dtype=np.float64)
    beta = np.asarray(momentum, dtype=np.float64)
    ell = np.asarray(svag_l, dtype=np.float64)
    if np.any(~(lam > 0)):
        raise ValueError("curvature must be > 0")
    if np.any(~(s2 >= 0)):
        raise ValueError("noise_var must be >= 0")
    if np.any(~(eta > 0)):
        raise ValueError("effective_lr must be > 0")
    if np.any(~((beta >= 0) & (beta < 1))):
        raise ValueError("momentum must lie in [0, 1)")
    if np.any(~(ell >= 1)):
        raise ValueError("svag_l must be >= 1")
    denom = lam * (2 * (1 + beta) - eta * lam * (1 - beta) / ell)
    with np.errstate(divide="ignore"):
        out = np.where(denom > 0, eta * s2 * (1 + beta) / np.where(denom > 0, denom, 1.0), np.inf)
    return out[()] if out.ndim == 0 else out


def stationary_covariance(hessian, noise_cov, effective_lr: float, momentum: float, svag_l: int = 1) -> np.ndarray:
    """Stationary covariance of x for normalised SGDM on a quadratic: the discrete Lyapunov equation
    ``S = ASAᵀ + Q`` (scipy), restricted to x. ``inf`` everywhere when the iteration is unstable.

    Used in ``momentum/03_stationarity`` as an oracle independent of the closed forms.
    """
    a, q = sgdm_matrices(hessian, noise_cov, effective_lr, momentum, svag_l)
    d = a.shape[0] // 2
    if spectral_radius(a) >= 1:
        return np.full((d, d), np.inf)
    s = scipy.linalg.solve_discrete_lyapunov(a, q)
    return s[:d, :d]


def spectral_radius(matrix) -> float:
    """Largest modulus of the eigenvalues of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64)))))


def max_stable_lr(curvature: float, momentum: float, *, tol: float = 1e-10) -> float:
    """Largest effective learning rate η for which SGDM's mean iteration on ``½λx²`` is stable,
    found by bisection on the spectral radius of :func:`sgdm_matrices` (independent of the Jury
    conditions, which predict ``2(1+β)/((1−β)λ)``).

    Used in ``momentum/03_stationarity``.
    """
    lam = _positive("curvature", curvature)
    beta = _momentum(momentum)

    def stable(eta):
        return spectral_radius(sgdm_matrices([lam], [0.0], eta, beta)[0]) < 1

    lo, hi = 1e-12, 1.0
    while stable(hi):
        lo, hi = hi, 2 * hi
        if hi > 1e12:
            return np.inf
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return 0.5 * (lo + hi)


def svag_coefficients(svag_l: int) -> tuple[float, float]:
    """SVAG's weights ``c₁,₂ = (1 ± √(2ℓ−1))/2``: ``G = c₁ g(B₁) + c₂ g(B₂)`` has mean ∇L and ℓ times
    the noise variance (c₁ + c₂ = 1, c₁² + c₂² = ℓ).

    References
    ----------
    Li, Malladi, Arora, NeurIPS 2021, Def. 4.1; Wang et al., ICLR 2024, Def. 5.1. Used in
    ``momentum/01_sde`` and ``momentum/03_stationarity``.
    """
    ell = _svag(svag_l)
    r = math.sqrt(2 * ell - 1)
    return (1 + r) / 2, (1 - r) / 2


# --------------------------------------------------------------------------- Monte Carlo
def simulate_quadratic(
    curvature: float,
    noise_var: float,
    effective_lr: float,
    momentum: float,
    *,
    svag_l: int = 1,
    n_chains: int = 4000,
    burn_in: int = 1000,
    samples: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Monte Carlo stationary variance of SGD/SGDM(/SVAG) on ``½λx²``, vectorised over chains.

    Each step draws two independent Gaussian gradient noises (two mini-batches) of variance s² and
    combines them with :func:`svag_coefficients` (for ℓ = 1, c₂ = 0 and this is plain SGD noise).
    The variance is averaged over ``samples`` steps after ``burn_in`` (each of size η/ℓ); its standard
    error comes from batch means over 20 blocks of time.

    Returns
    -------
    dict with ``var`` (inf if the chains diverged), ``sem`` and ``diverged`` (bool).

    Used in ``momentum/03_stationarity`` (stationary variance and SVAG on the quadratic).
    """
    lam = _positive("curvature", curvature)
    s = math.sqrt(_nonneg("noise_var", noise_var))
    eta = _positive("effective_lr", effective_lr)
    beta = _momentum(momentum)
    ell = _svag(svag_l)
    n_chains = _count("n_chains", n_chains, 2)
    burn_in = _count("burn_in", burn_in, 0)
    samples = _count("samples", samples, 20)
    c1, c2 = svag_coefficients(ell)
    lr = eta / ell
    rng = np.random.default_rng(seed)
    x = np.zeros(n_chains)
    m = np.zeros(n_chains)
    blocks = np.zeros(20)
    per_block = samples // 20
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(burn_in + per_block * 20):
            xi = rng.standard_normal((2, n_chains))
            g = lam * x + s * (c1 * xi[0] + c2 * xi[1])
            m = beta * m + (1 - beta) * g
            x = x - lr * m
            if k >= burn_in:
                blocks[(k - burn_in) // per_block] += np.mean(x * x)
        blocks /= per_block
    diverged = not np.all(np.isfinite(blocks)) or not np.all(np.isfinite(x))
    if diverged:
        return {"var": np.inf, "sem": np.inf, "diverged": True}
    return {"var": float(blocks.mean()), "sem": float(blocks.std(ddof=1) / math.sqrt(20)), "diverged": False}


def simulate_label_noise(
    effective_lr: float,
    momenta: Sequence[float],
    times: Sequence[float],
    *,
    noise_std: float = 1.0,
    x0: Sequence[float] = (2.0, 0.5),
    n_chains: int = 2000,
    seed: int = 0,
    lr: float | None = None,
    clock_lr: float | None = None,
) -> dict[str, np.ndarray]:
    """Label-noise SGD/SGDM on ``L(x) = ½ E(x₁x₂ − 1 − δ)²``, ``δ ~ N(0, s²)``, vectorised over
    momenta and chains; records ``D = x₁² − x₂²`` at slow times ``t = η²k``.

    The minimisers form the manifold Γ = {x₁x₂ = 1}; gradient flow conserves D, and on the slow
    time scale t = η²k both SGD and SGDM (Wang et al., Thm 4.5) follow the slow SDE of Li, Wang & Arora
    (2022), here the deterministic flow ``dζ/dt = −(s²/4)∇_Γ tr∇²L`` with ``D(t) = D₀ e^{−s²t}``.

    Parameters
    ----------
    effective_lr : float
        η of the normalised SGDM iteration ``m ← βm + (1−β)g``, ``x ← x − ηm``.
    momenta : sequence of float
        β values in [0, 1), simulated side by side (0 = SGD).
    times : sequence of float
        Slow times t at which to record; step k = round(t/η_clock²).
    noise_std : float
        s, the label-noise standard deviation (0 is allowed: a negative control).
    x0 : sequence of 2 floats
        Start (default (2, 0.5), on Γ, D₀ = 3.75); m₀ = 0.
    lr : float, optional
        If given, run PyTorch's form with ``lr = γ`` for every β instead (effective LR γ/(1−β)); used
        for the equal-PyTorch-lr negative control. ``effective_lr`` then only sets the clock.
    clock_lr : float, optional
        The η that converts t into steps (default ``effective_lr``).

    Returns
    -------
    dict with ``time`` (n_t,), ``steps`` (n_t,), ``log_ratio`` (n_β, n_t) = log(mean D / D₀) (inf/nan
    replaced by ``inf`` if diverged), ``log_ratio_se`` (n_β, n_t), its standard error over chains
    (delta method, sd(D)/(√n·mean D); each β draws its own noise, so the runs are independent),
    ``diverged`` (n_β,) bool.

    References
    ----------
    Wang et al., ICLR 2024, Thm 4.5; Li, Wang, Arora, ICLR 2022, Sec. 5 (label noise). Used in
    ``momentum/04_long_horizon``.
    """
    eta = _positive("effective_lr", effective_lr)
    betas = np.asarray([_momentum(b) for b in momenta], dtype=np.float64)
    if betas.size == 0:
        raise ValueError("momenta must not be empty")
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or np.any(~(t > 0)):
        raise ValueError("times must be a non-empty 1-d array of numbers > 0")
    s = _nonneg("noise_std", noise_std)
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape != (2,) or not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be two finite numbers")
    n_chains = _count("n_chains", n_chains, 1)
    clock = eta if clock_lr is None else _positive("clock_lr", clock_lr)
    steps = np.rint(t / clock**2).astype(int)
    if steps[0] < 1 or np.any(np.diff(steps) <= 0):
        raise ValueError("times must be increasing and give distinct step counts >= 1 at this clock_lr")
    if lr is not None:
        gamma = _positive("lr", lr)
        step_size = np.full(betas.size, gamma) / (1 - betas)  # effective LR of PyTorch's form
    else:
        step_size = np.full(betas.size, eta)
    rng = np.random.default_rng(seed)
    x1 = np.full((betas.size, n_chains), x0[0])
    x2 = np.full((betas.size, n_chains), x0[1])
    m1 = np.zeros_like(x1)
    m2 = np.zeros_like(x1)
    b = betas[:, None]
    e = step_size[:, None]
    d0 = x0[0] ** 2 - x0[1] ** 2
    out = np.empty((betas.size, t.size))
    sd = np.empty((betas.size, t.size))
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(steps.max()) + 1):
            r = x1 * x2 - 1.0 - s * rng.standard_normal(x1.shape)
            m1 = b * m1 + (1 - b) * r * x2
            m2 = b * m2 + (1 - b) * r * x1
            x1 = x1 - e * m1
            x2 = x2 - e * m2
            while j < t.size and steps[j] == k:
                dk = (x1 * x1 - x2 * x2) / d0
                out[:, j] = np.mean(dk, axis=1)
                sd[:, j] = np.std(dk, axis=1, ddof=1) if n_chains > 1 else np.inf
                j += 1
    diverged = ~np.all(np.isfinite(out), axis=1) | np.any(out <= 0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(diverged[:, None], np.inf, np.log(np.where(out > 0, out, 1.0)))
        # delta method: s.e. of log(mean D) = sd(D) / (√n · mean D)
        log_ratio_se = np.where(diverged[:, None], np.inf, sd / (np.sqrt(n_chains) * np.abs(out)))
    return {"time": t, "steps": steps, "log_ratio": log_ratio, "log_ratio_se": log_ratio_se, "diverged": diverged}
