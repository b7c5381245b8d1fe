"""SGD and SGD with momentum as linear-Gaussian systems, their SDE, and the label-noise slow SDE.

The numerics of part 2 of the book (``book/momentum/``), which checks Wang, Malladi, Wang, Lyu, Li,
*The Marginal Value of Momentum for Small Learning Rate SGD* (ICLR 2024). Everything is written in
the **normalised** parametrisation of SGDM (effective learning rate η = γ/(1−β); see the notation
chapter)::

    m ← β m + (1−β) g,      x ← x − η m,      m₀ = 0,

which gives the same iterates as ``torch.optim.SGD(lr=η(1−β), momentum=β)``. ``momentum=0`` is
plain SGD at learning rate η.

Vocabulary (as everywhere in ``sgdlab``): a parameter called ``effective_lr`` is η = γ/(1−β); one
called ``lr`` is PyTorch's step γ (only :func:`simulate_label_noise` takes one, for its negative
control); ``momentum`` is β. Every function accepts −1 < β < 1: the moment recursions, the Lyapunov
solution and the closed stationary variance hold for negative momentum too (stability range
``0 < ηλ(1−β)/ℓ < 2(1+β)``). No function of this module assumes β ≥ 0.

Divergence is a result, never an exception, a NaN or a warning: an unstable setting gives ``inf``
(and a ``diverged`` flag where the function returns a dict).

On a quadratic ``L(x) = ½ xᵀHx`` with additive gradient noise (``g = Hx + ξ``, ``Cov ξ = C``) the
iteration is linear-Gaussian, so the mean and covariance of ``(x, m)`` obey an exact recursion:
:func:`quadratic_moments` propagates it (no Monte Carlo). :func:`ou_moments` gives the SDE's
Ornstein–Uhlenbeck closed form, :func:`stationary_variance` the closed stationary variances and
:func:`stationary_covariance` the discrete Lyapunov solution (scipy), of x or of the whole state
(x, m). SVAG (Li, Malladi & Arora 2021)
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
    "max_stable_effective_lr",
    "svag_coefficients",
    "simulate_quadratic",
    "simulate_label_noise",
]


# --------------------------------------------------------------------------- validation
_REAL = (int, float, np.floating, np.integer)


def _is_real(value) -> bool:
    return isinstance(value, _REAL) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


def _positive(name: str, value: float) -> float:
    if not (_is_real(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def _nonneg(name: str, value: float) -> float:
    if not (_is_real(value) and value >= 0):
        raise ValueError(f"{name}={value!r} must be a finite number >= 0")
    return float(value)


def _momentum(value: float, name: str = "momentum") -> float:
    if not (_is_real(value) and -1.0 < float(value) < 1.0):
        raise ValueError(f"{name}={value!r} must lie in (-1, 1)")
    return float(value)


def _count(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _svag(value: int) -> int:
    return _count("svag_l", value, 1)


def _real_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array; a ValueError naming ``name`` for strings, None, ragged or non-numeric input."""
    if value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name}={value!r} must be a number or an array of numbers")
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers ({exc})") from None
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name}={value!r} must be a number or an array of numbers")
    return a.astype(np.float64)


def _vector(name: str, value, size: int | None = None) -> np.ndarray:
    a = _real_array(name, value)
    if a.ndim != 1 or (size is not None and a.shape != (size,)) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite vector" + ("" if size is None else f" of length {size}"))
    return a


def _matrix(name: str, value, dim: int | None = None) -> np.ndarray:
    a = _real_array(name, value)
    if a.ndim == 1:
        a = np.diag(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite square matrix or a vector of its diagonal")
    if not np.allclose(a, a.T):
        raise ValueError(f"{name} must be symmetric")
    if dim is not None and a.shape[0] != dim:
        raise ValueError(f"{name} has size {a.shape[0]}, expected {dim}")
    return a


def _nan_to_inf(a: np.ndarray) -> np.ndarray:
    """NaN (from ``inf − inf`` or ``0·inf`` once a quantity has overflowed) reported as ``inf``."""
    return np.where(np.isnan(a), np.inf, a)


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
        β in (−1, 1); 0 is plain SGD at learning rate η (negative momentum is allowed).
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
        η = γ/(1−β) > 0, β ∈ (−1, 1), ℓ ≥ 1 (as in :func:`sgdm_matrices`).
    steps : int
        Number of steps (each of size η/ℓ).
    record_every : int
        Keep every ``record_every``-th step (step 0 always kept).

    Returns
    -------
    dict
        ``step`` (k), ``time`` (kη/ℓ, SDE time), ``mean`` (n, d), ``cov`` (n, d, d) of x, ``loss``
        (n,) = E L = ½ tr(H S_x) + ½ μᵀHμ, and ``diverged`` (bool). Divergence is a result: once the
        moments overflow, ``mean``, ``cov`` and ``loss`` are ``inf`` from that step on and ``diverged``
        is True (no NaN, no warning, no exception). An unstable setting (``spectral_radius`` of
        :func:`sgdm_matrices`'s A ≥ 1) whose moments are still finite after ``steps`` is reported
        exactly, with ``diverged`` False.

    References
    ----------
    Wang et al., ICLR 2024, Sec. 3. Used in ``momentum/02_short_horizon``.
    """
    h = _matrix("hessian", hessian)
    d = h.shape[0]
    x0 = _vector("x0", x0, d)
    steps = _count("steps", steps, 0)
    record_every = _count("record_every", record_every, 1)
    a, q = sgdm_matrices(h, noise_cov, effective_lr, momentum, svag_l)
    mu = np.concatenate([x0, np.zeros(d)])
    s = np.zeros((2 * d, 2 * d))
    keep = [0] + list(range(record_every, steps + 1, record_every))
    means, covs = np.empty((len(keep), d)), np.empty((len(keep), d, d))
    j = 0
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            if k > 0:
                mu = a @ mu
                s = a @ s @ a.T + q
            if j < len(keep) and keep[j] == k:
                means[j], covs[j] = mu[:d], s[:d, :d]
                j += 1
        # once the moments overflow (inf, then NaN from inf − inf), every later record is reported as inf
        bad = ~(np.all(np.isfinite(means), axis=1) & np.all(np.isfinite(covs), axis=(1, 2)))
        if bad.any():
            first = int(np.argmax(bad))
            means[first:], covs[first:] = np.inf, np.inf
        loss = 0.5 * np.einsum("ij,kji->k", h, covs) + 0.5 * np.einsum("ki,ij,kj->k", means, h, means)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    step = np.asarray(keep)
    return {"step": step, "time": step * float(effective_lr) / svag_l, "mean": means, "cov": covs, "loss": loss,
            "diverged": bool(np.any(np.isinf(loss)))}


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
        SDE times t ≥ 0 (finite).
    effective_lr : float
        η = γ/(1−β), the effective learning rate whose SDE this is.

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
    t = _real_array("times", times)
    if t.ndim != 1 or np.any(~(t >= 0)) or not np.all(np.isfinite(t)):
        raise ValueError("times must be a 1-d array of finite numbers >= 0")
    x0 = _vector("x0", x0, h.shape[0])
    evals, vecs = np.linalg.eigh(h)
    if np.any(evals < -1e-12):
        raise ValueError("hessian must be positive semi-definite")
    ct = vecs.T @ (eta * c) @ vecs
    x0t = vecs.T @ x0
    mean_t = np.exp(-np.outer(t, evals)) * x0t
    lam = evals[:, None] + evals[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(lam[None] > 0, -np.expm1(-lam[None] * t[:, None, None]) / lam[None], t[:, None, None])
    with np.errstate(all="ignore"):  # only extreme inputs overflow; they are reported as inf
        cov_t = ct[None] * factor
        mean = _nan_to_inf(mean_t @ vecs.T)
        cov = _nan_to_inf(np.einsum("ij,njk,lk->nil", vecs, cov_t, vecs))
        loss = _nan_to_inf(0.5 * np.einsum("ij,kji->k", h, cov) + 0.5 * np.einsum("ki,ij,kj->k", mean, h, mean))
    return {"time": t, "mean": mean, "cov": cov, "loss": loss}


def weak_gap(a: dict, b: dict, *, t_min: float = 0.0, t_max: float = np.inf) -> float:
    """``max |E L_a(t) − E L_b(t)|`` over the common recorded times ``t_min ≤ t ≤ t_max``.

    ``a`` and ``b`` are outputs of :func:`quadratic_moments` / :func:`ou_moments`; times are matched
    to 1e-9 relative. ``inf`` when either run diverged (an ``inf`` loss) at a compared time. Used in
    ``momentum/02_short_horizon`` (the weak distance of Thm 3.5 with the test function L).

    Raises
    ------
    ValueError
        If ``a`` or ``b`` lacks finite ``time`` and NaN-free ``loss`` arrays of one length, if
        ``t_min``/``t_max`` are not numbers with ``t_min ≤ t_max``, or if no time is shared.
    """
    runs = []
    for name, run in (("a", a), ("b", b)):
        if not (isinstance(run, dict) and "time" in run and "loss" in run):
            raise ValueError(f"{name} must be a dict with 'time' and 'loss' (from quadratic_moments/ou_moments)")
        t_run, l_run = _real_array(f"{name}['time']", run["time"]), _real_array(f"{name}['loss']", run["loss"])
        if t_run.ndim != 1 or t_run.shape != l_run.shape or not np.all(np.isfinite(t_run)) or np.any(np.isnan(l_run)):
            raise ValueError(f"{name}['time'] and {name}['loss'] must be 1-d of one length, finite times, no NaN")
        runs.append((t_run, l_run))
    if not (isinstance(t_min, _REAL) and not isinstance(t_min, bool) and math.isfinite(t_min)):
        raise ValueError(f"t_min={t_min!r} must be a finite number")
    if not (isinstance(t_max, _REAL) and not isinstance(t_max, bool) and not math.isnan(t_max) and t_max >= t_min):
        raise ValueError(f"t_max={t_max!r} must be a number >= t_min")
    (ta, la), (tb, lb) = runs
    common, ia, ib = np.intersect1d(np.round(ta * 1e9), np.round(tb * 1e9), return_indices=True)
    t = common / 1e9
    sel = (t >= t_min - 1e-12) & (t <= t_max + 1e-12)
    if not np.any(sel):
        raise ValueError("the two runs share no recorded time in [t_min, t_max]")
    la, lb = la[ia][sel], lb[ib][sel]
    if not (np.all(np.isfinite(la)) and np.all(np.isfinite(lb))):
        return math.inf
    with np.errstate(over="ignore"):
        return float(np.max(np.abs(la - lb)))


# --------------------------------------------------------------------------- stationarity
def stationary_variance(curvature, noise_var, effective_lr, momentum=0.0, svag_l=1):
    """Closed-form stationary variance of SGD/SGDM on ``L = ½λx²`` with gradient-noise variance s².

    SGD (β = 0): ``η s² / (λ(2 − ηλ/ℓ))``; normalised SGDM:
    ``η s² (1+β) / (λ(2(1+β) − ηλ(1−β)/ℓ))``, valid for every β ∈ (−1, 1) (the Jury conditions of
    the 2×2 iteration are ``0 < ηλ(1−β)/ℓ < 2(1+β)`` and ``|β| < 1``). ``inf`` outside the stability
    range ``ηλ/ℓ < 2(1+β)/(1−β)``. Broadcasts over its arguments. The SDE (OU) value is ``η s²/(2λ)``.

    Parameters
    ----------
    curvature : array_like
        λ > 0 (finite).
    noise_var : array_like
        s² ≥ 0 (finite).
    effective_lr : array_like
        η = γ/(1−β) > 0 (finite).
    momentum : array_like
        β ∈ (−1, 1).
    svag_l : array_like
        SVAG's ℓ ≥ 1 (finite; real values are allowed for smooth curves).

    Returns
    -------
    float or ndarray
        The stationary variance, ``inf`` where the iteration is unstable.

    References
    ----------
    Wang et al., ICLR 2024, Sec. 2 (warm-up: curvature- vs noise-induced instability); derived with
    sympy in ``momentum/01_sde``; used in ``momentum/03_stationarity``.
    """
    lam = _real_array("curvature", curvature)
    s2 = _real_array("noise_var", noise_var)
    eta = _real_array("effective_lr", effective_lr)
    beta = _real_array("momentum", momentum)
    ell = _real_array("svag_l", svag_l)
    if np.any(~((lam > 0) & np.isfinite(lam))):
        raise ValueError("curvature must be finite and > 0")
    if np.any(~((s2 >= 0) & np.isfinite(s2))):
        raise ValueError("noise_var must be finite and >= 0")
    if np.any(~((eta > 0) & np.isfinite(eta))):
        raise ValueError("effective_lr must be finite and > 0")
    if np.any(~((beta > -1) & (beta < 1))):
        raise ValueError("momentum must lie in (-1, 1)")
    if np.any(~((ell >= 1) & np.isfinite(ell))):
        raise ValueError("svag_l must be finite and >= 1")
    try:
        np.broadcast_shapes(lam.shape, s2.shape, eta.shape, beta.shape, ell.shape)
    except ValueError:
        raise ValueError("curvature, noise_var, effective_lr, momentum and svag_l must broadcast together") from None
    with np.errstate(all="ignore"):
        denom = lam * (2 * (1 + beta) - eta * lam * (1 - beta) / ell)
        out = np.where(denom > 0, eta * s2 * (1 + beta) / np.where(denom > 0, denom, 1.0), np.inf)
    out = _nan_to_inf(out)
    return out[()] if out.ndim == 0 else out


def stationary_covariance(hessian, noise_cov, effective_lr: float, momentum: float, svag_l: int = 1, *,
                          full_state: bool = False) -> np.ndarray:
    """Stationary covariance of normalised SGDM on a quadratic: the discrete Lyapunov equation
    ``S = ASAᵀ + Q`` (scipy) with A, Q from :func:`sgdm_matrices`.

    Parameters
    ----------
    hessian, noise_cov, effective_lr, momentum, svag_l
        As for :func:`sgdm_matrices` (η = γ/(1−β) > 0, β ∈ (−1, 1), ℓ ≥ 1).
    full_state : bool
        False (default): the (d, d) covariance of x. True: the (2d, 2d) covariance of the state
        ``z = (x, m)`` (blocks ``[[S_xx, S_xm], [S_mx, S_mm]]``, m the normalised momentum buffer).

    Returns
    -------
    ndarray
        ``inf`` everywhere when the iteration is unstable (spectral radius of A ≥ 1).

    Used in ``momentum/03_stationarity`` as an oracle independent of the closed forms.
    """
    if not isinstance(full_state, (bool, np.bool_)):
        raise ValueError(f"full_state={full_state!r} must be True or False")
    a, q = sgdm_matrices(hessian, noise_cov, effective_lr, momentum, svag_l)
    d = a.shape[0] // 2
    n = 2 * d if full_state else d
    if spectral_radius(a) >= 1:
        return np.full((n, n), np.inf)
    s = scipy.linalg.solve_discrete_lyapunov(a, q)
    s = _nan_to_inf(np.where(np.isfinite(s), s, np.inf))
    return s if full_state else s[:d, :d]


def spectral_radius(matrix) -> float:
    """Largest modulus of the eigenvalues of a square matrix.

    Raises
    ------
    ValueError
        If ``matrix`` is not a finite, non-empty square matrix.
    """
    a = _real_array("matrix", matrix)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0 or not np.all(np.isfinite(a)):
        raise ValueError("matrix must be a finite, non-empty square matrix")
    return float(np.max(np.abs(np.linalg.eigvals(a))))


def max_stable_effective_lr(curvature: float, momentum: float, *, tol: float = 1e-10) -> float:
    """Largest effective learning rate η = γ/(1−β) for which SGDM's mean iteration on ``½λx²`` is
    stable, found by bisection on the spectral radius of :func:`sgdm_matrices` (independent of the
    Jury conditions, which predict ``2(1+β)/((1−β)λ)``; valid for β ∈ (−1, 1)).

    For PyTorch's step multiply by ``1 − β``: the largest stable ``lr`` is ``2(1+β)/λ``.

    Parameters
    ----------
    curvature : float
        λ > 0.
    momentum : float
        β ∈ (−1, 1).
    tol : float
        Relative tolerance of the bisection, in (0, 1).

    Used in ``momentum/03_stationarity``.
    """
    lam = _positive("curvature", curvature)
    beta = _momentum(momentum)
    if not (_is_real(tol) and 0 < tol < 1):
        raise ValueError(f"tol={tol!r} must lie in (0, 1)")

    def stable(x):  # x = ηλ: the spectral radius depends on η and λ only through ηλ
        return spectral_radius(sgdm_matrices([1.0], [0.0], x, beta)[0]) < 1

    lo, hi = 0.0, 1.0
    while stable(hi):
        lo, hi = hi, 2 * hi
        if hi > 1e18:
            return math.inf
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return 0.5 * (lo + hi) / lam


def max_stable_lr(curvature: float, momentum: float, *, tol: float = 1e-10) -> float:
    """Backward-compatible name of :func:`max_stable_effective_lr` (it returns the *effective*
    learning rate η = γ/(1−β), not PyTorch's ``lr``); kept for old callers, not in ``__all__``."""
    return max_stable_effective_lr(curvature, momentum, tol=tol)


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

    Parameters
    ----------
    curvature, noise_var : float
        λ > 0 and s² ≥ 0.
    effective_lr, momentum, svag_l
        η = γ/(1−β) > 0, β ∈ (−1, 1), ℓ ≥ 1.
    n_chains, burn_in, samples, seed : int
        ≥ 2, ≥ 0, ≥ 20 and ≥ 0.

    Returns
    -------
    dict with ``var``, ``sem`` and ``diverged`` (bool). A setting without a stationary law (the
    iteration is unstable: spectral radius of :func:`sgdm_matrices`'s A ≥ 1), or chains that overflow,
    give ``diverged`` True and ``var = sem = inf`` (no NaN, no warning).

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
    seed = _count("seed", seed, 0)
    if spectral_radius(sgdm_matrices([lam], [0.0], eta, beta, ell)[0]) >= 1:
        return {"var": math.inf, "sem": math.inf, "diverged": True}
    c1, c2 = svag_coefficients(ell)
    lr = eta / ell
    rng = np.random.default_rng(seed)
    x = np.zeros(n_chains)
    m = np.zeros(n_chains)
    blocks = np.zeros(20)
    per_block = samples // 20
    with np.errstate(all="ignore"):
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
        return {"var": math.inf, "sem": math.inf, "diverged": True}
    with np.errstate(all="ignore"):
        var, sem = float(blocks.mean()), float(blocks.std(ddof=1) / math.sqrt(20))
    if not (math.isfinite(var) and math.isfinite(sem)):
        return {"var": math.inf, "sem": math.inf, "diverged": True}
    return {"var": var, "sem": sem, "diverged": False}


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
    clock_effective_lr: float | None = None,
) -> dict[str, np.ndarray]:
    """Label-noise SGD/SGDM on ``L(x) = ½ E(x₁x₂ − 1 − δ)²``, ``δ ~ N(0, s²)``, vectorised over
    momenta and chains; records ``D = x₁² − x₂²`` at slow times ``t = η²k``.

    The minimisers form the manifold Γ = {x₁x₂ = 1}; gradient flow conserves D, and on the slow
    time scale t = η²k both SGD and SGDM (Wang et al., Thm 4.5) follow the slow SDE of Li, Wang & Arora
    (2022), here the deterministic flow ``dζ/dt = −(s²/4)∇_Γ tr∇²L`` with ``D(t) = D₀ e^{−s²t}``.

    Parameters
    ----------
    effective_lr : float
        η = γ/(1−β) of the normalised SGDM iteration ``m ← βm + (1−β)g``, ``x ← x − ηm``.
    momenta : sequence of float
        β values in (−1, 1), simulated side by side (0 = SGD). Wang et al.'s Thm 4.5 is stated for
        β ≥ 0; the simulation itself is exact for any β in (−1, 1).
    times : sequence of float
        Slow times t at which to record; step k = round(t/η_clock²).
    noise_std : float
        s, the label-noise standard deviation (0 is allowed: a negative control).
    x0 : sequence of 2 floats
        Start (default (2, 0.5), on Γ, D₀ = 3.75); m₀ = 0.
    n_chains, seed : int
        ≥ 1 and ≥ 0.
    lr : float, optional
        PyTorch's step γ. If given, run every β at the same ``lr = γ`` instead (effective learning rate
        γ/(1−β)); used for the equal-PyTorch-lr negative control. ``effective_lr`` then only sets the clock.
    clock_effective_lr : float, optional
        The effective learning rate η that converts t into steps (default ``effective_lr``).

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
    m_arr = _real_array("momenta", momenta)
    if m_arr.ndim != 1 or m_arr.size == 0:
        raise ValueError("momenta must be a non-empty 1-d sequence of numbers in (-1, 1)")
    betas = np.asarray([_momentum(b, "momenta") for b in m_arr.tolist()], dtype=np.float64)
    t = _real_array("times", times)
    if t.ndim != 1 or t.size == 0 or np.any(~(t > 0)) or not np.all(np.isfinite(t)):
        raise ValueError("times must be a non-empty 1-d array of finite numbers > 0")
    s = _nonneg("noise_std", noise_std)
    x0 = _vector("x0", x0, 2)
    if x0[0] ** 2 == x0[1] ** 2:
        raise ValueError("x0 must have x0[0]**2 != x0[1]**2 (D0 = x1² − x2² is the unit of log_ratio)")
    n_chains = _count("n_chains", n_chains, 1)
    seed = _count("seed", seed, 0)
    clock = eta if clock_effective_lr is None else _positive("clock_effective_lr", clock_effective_lr)
    with np.errstate(all="ignore"):
        steps_f = np.rint(t / clock**2)
    if not np.all(steps_f < 2**62):
        raise ValueError("times are too long for this clock_effective_lr (step counts overflow)")
    steps = steps_f.astype(np.int64)
    if steps[0] < 1 or np.any(np.diff(steps) <= 0):
        raise ValueError("times must be increasing and give distinct step counts >= 1 at this clock_effective_lr")
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
    with np.errstate(all="ignore"):
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
    with np.errstate(all="ignore"):
        log_ratio = np.where(diverged[:, None], np.inf, np.log(np.where(out > 0, out, 1.0)))
        # delta method: s.e. of log(mean D) = sd(D) / (√n · mean D)
        log_ratio_se = _nan_to_inf(np.where(diverged[:, None], np.inf, sd / (np.sqrt(n_chains) * np.abs(out))))
    return {"time": t, "steps": steps, "log_ratio": log_ratio, "log_ratio_se": log_ratio_se, "diverged": diverged}
