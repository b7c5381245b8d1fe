"""One testbed through five lenses: glue for the synthesis part of the book.

The chapter ``synthesis/01_one_testbed`` puts the predictions of the five papers side by side on a
single problem: least squares on the features of the (infinite-width) ReLU NTK of a Fashion-MNIST
subset. Everything here composes functions of the other subpackages; the only new numerics are the
heavy-ball extension of part 5's Lyapunov threshold (:func:`heavy_ball_lyapunov`,
:func:`divergence_threshold`) and the exact stationary excess loss of SGD on a finite data set
(:func:`stationary_excess`), which extends part 5's mean-square operator with the gradient noise at
the optimum.

Public surface:

- :func:`ntk_testbed` — the problem: kernel-PCA features ``x`` whose second-moment matrix
  ``H = xᵀx/N`` has the NTK's spectrum, the target, and the loss-weighted coefficients part 1 needs;
  :func:`restrict` keeps the top modes only (a regression with a noise floor);
- :func:`theory_thresholds` — every theoretical largest stable learning rate as a function of ``B``;
- :func:`heavy_ball_lyapunov`, :func:`divergence_threshold` — the measured divergence threshold of
  SGD with (heavy-ball) momentum, by multisection over the learning rate;
- :func:`noise_covariance`, :func:`stationary_excess`, :func:`sde_excess`,
  :func:`additive_noise_excess` — stationary excess loss of SGD with the noise at the optimum, exactly
  and in the SDE (temperature) and additive-noise approximations;
- :func:`matched_lr_runs`, :func:`ratio_of_means`, :func:`best_momentum` — SGD with momentum at
  matched effective learning rate (runs and the SE recursion) and the loss-minimising momentum of the
  recursion.

Vocabulary as in the rest of :mod:`sgdlab`: ``lr`` α (PyTorch's step), ``momentum`` β,
``batch_size`` B (batches drawn with replacement), ``n_samples`` N, ``dim`` P.
"""
from __future__ import annotations

import numpy as np

import functools

from . import linear, rmt
from .linear._validate import single_thread
from .rmt import _scaling
from .sde import sgdm

__all__ = [
    "ntk_testbed", "restrict", "theory_thresholds", "heavy_ball_lyapunov", "divergence_threshold",
    "noise_covariance", "stationary_excess", "sde_excess", "additive_noise_excess",
    "matched_lr_runs", "ratio_of_means", "best_momentum", "DIVERGE_AT",
]


def _one_blas_thread(fun):
    """Run ``fun`` with one BLAS thread: small dense products gain nothing from two threads, and on a
    loaded 2-core machine spinning BLAS threads made these loops ten times slower (measured)."""
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        with single_thread():
            return fun(*args, **kwargs)
    return wrapper


def _pos_int(name: str, value, minimum: int = 1) -> int:
    if not (isinstance(value, (int, np.integer)) and value >= minimum):
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _batches(batch_size, n_samples: int | None = None) -> np.ndarray:
    b = np.atleast_1d(np.asarray(batch_size))
    if b.ndim != 1 or b.size == 0 or np.any(b != np.round(b)) or np.any(b < 1):
        raise ValueError("batch_size must be integer(s) >= 1")
    if n_samples is not None and np.any(b > n_samples):
        raise ValueError(f"batch_size must be <= n_samples={n_samples}")
    return b.astype(int)


def _momentum(momentum) -> float:
    beta = float(momentum)
    if not 0 <= beta < 1:
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")
    return beta


# --------------------------------------------------------------------------- the testbed
@_one_blas_thread
def ntk_testbed(n_samples: int = 300, *, dataset: str = "fashion", seed: int = 0, centre: bool = True,
                n_features: int | None = None, rtol: float = 1e-10) -> dict:
    """Least squares on the ReLU NTK of an image subset, as features with a known spectrum.

    The analytic NTK ``K`` of a one-hidden-layer ReLU network (:func:`sgdlab.linear.relu_ntk`) on
    ``n_samples`` images, optionally centred (``(I − 11ᵀ/N) K (I − 11ᵀ/N)``, which removes the
    near-constant top mode), is normalised by :func:`sgdlab.linear.kernel_problem` to
    ``λ_max(K/N) = 1``. With ``K/N = U Λ Uᵀ`` the kernel-PCA features ``x = U √(NΛ)`` (``N × P``) give
    ``H = xᵀx/N = Λ``: SGD on ``L(w) = (1/2N) Σ_n (x_nᵀw − y_n)²`` is kernel SGD with the NTK, the
    parameter-space view of part 5 and the function-space view of part 1 at once.

    Parameters
    ----------
    n_samples : int
        ``N`` (≥ 10).
    dataset : {"fashion", "mnist", "digits"}
    seed : int
        Subset draw (:func:`sgdlab.data.image_classification`).
    centre : bool
        Centre the kernel (and the target).
    n_features : int, optional
        Keep only the top ``n_features`` modes: then ``L_min > 0`` (an under-parametrised, noisy
        regression). Default: all modes with ``λ > rtol``.
    rtol : float
        Modes below ``rtol · λ_max`` are dropped.

    Returns
    -------
    dict
        ``x`` (N, P), ``y`` (N,) the standardised class index, ``eigs`` (P,) descending with
        ``eigs[0] = 1``, ``c`` (P,) loss-weighted target coefficients (``L(0) = ½ Σ c_k`` over all
        modes, part 1's ``c_k``), ``w_star`` (P,), ``loss_min``, ``trace`` (``tr H``),
        ``n_samples``, ``dim``.

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023), the NTK experiments; Granziol, Zohren, Roberts
    (JMLR 2022), least squares as the model of the batch Hessian. Used in ``synthesis/01_one_testbed``.
    """
    from .data import image_classification

    n_samples = _pos_int("n_samples", n_samples, 10)
    if n_features is not None:
        n_features = _pos_int("n_features", n_features)
    if not 0 < rtol < 1:
        raise ValueError(f"rtol={rtol!r} must lie in (0, 1)")
    d = image_classification(dataset, n_train=n_samples, seed=seed, dtype=np.float64)
    y = d["y_train"].astype(np.float64)
    y = (y - y.mean()) / y.std()
    kern = linear.relu_ntk(d["x_train"])
    if centre:
        kern = kern - kern.mean(axis=0, keepdims=True)
        kern = kern - kern.mean(axis=1, keepdims=True)
    prob = linear.kernel_problem(kern, y)
    keep = np.flatnonzero(prob["eigs"] > rtol)
    if n_features is not None:
        if n_features > keep.size:
            raise ValueError(f"n_features={n_features} exceeds the {keep.size} modes above rtol")
        keep = keep[:n_features]
    eigs = prob["eigs"][keep]
    vecs = prob["vecs"][:, keep]
    n = n_samples
    x = vecs * np.sqrt(n * eigs)[None, :]
    # w* solves x w = y in the kept modes: w*_k = (u_kᵀ y)/√(N λ_k)
    w_star = (vecs.T @ y) / np.sqrt(n * eigs)
    loss_min = 0.5 * float(np.mean((x @ w_star - y) ** 2))
    return {"x": x, "y": y, "eigs": eigs, "c": prob["c"][keep], "w_star": w_star, "loss_min": loss_min,
            "trace": float(eigs.sum()), "n_samples": n, "dim": int(eigs.size)}


def restrict(testbed: dict, n_features: int) -> dict:
    """The same problem on the top ``n_features`` modes only (a noisy, under-parametrised regression).

    Equivalent to :func:`ntk_testbed` with ``n_features`` (without recomputing the kernel): the dropped
    modes' part of the target becomes a residual, so ``L_min = ½ mean (x_nᵀw* − y_n)² > 0``.
    Used in ``synthesis/01_one_testbed``.
    """
    n_features = _pos_int("n_features", n_features)
    if n_features > testbed["dim"]:
        raise ValueError(f"n_features={n_features} must be <= dim={testbed['dim']}")
    out = dict(testbed)
    x, w = testbed["x"][:, :n_features], testbed["w_star"][:n_features]
    out.update(x=x, w_star=w, eigs=testbed["eigs"][:n_features], c=testbed["c"][:n_features],
               loss_min=0.5 * float(np.mean((x @ w - testbed["y"]) ** 2)),
               trace=float(testbed["eigs"][:n_features].sum()), dim=n_features)
    return out


# --------------------------------------------------------------------------- theoretical thresholds
@_one_blas_thread
def theory_thresholds(testbed: dict, batch_sizes, momentum: float = 0.0, *, exact: bool = True) -> dict:
    """Every theoretical largest stable learning rate ``α`` of (heavy-ball) SGD, as a function of ``B``.

    - ``"U1_plus"``: part 1's boundary ``U(1) = 1`` with per-mode stability, SE with ``τ1 = τ2 = 1``
      (:func:`sgdlab.linear.critical_lr`, ``γ = 1/B``);
    - ``"U1_gauss"``: the same with ``τ2 = −1`` (Gaussian features). At ``β = 0`` it is part 5's
      closed-form mean-square threshold :func:`sgdlab.rmt.ms_threshold`;
    - ``"ms_exact"``: the exact mean-square threshold of this data set
      (:func:`sgdlab.rmt.ms_threshold_empirical`; only for ``β = 0`` and ``exact=True``, else ``nan``);
    - ``"paper_rule"``: part 5's ``2/λ′(B)`` with the Wishart shift ``λ′ = λ + (tr H − λ)/B``
      (:func:`sgdlab.rmt.max_lr_sgd` with ``Pσ² = λ(tr H − λ)``); plain SGD only (``nan`` for ``β > 0``);
    - ``"heavy_ball"``: the full-batch bound ``2(1 + β)/λ_max`` (Polyak; the ``B → ∞`` limit);
    - ``"linear"``: the small-batch asymptote of ``U(1) = 1``, ``α/(1 − β) = 2B/tr H``.

    Parameters
    ----------
    testbed : dict
        From :func:`ntk_testbed` (needs ``eigs``, ``trace``, and ``x`` when ``exact``).
    batch_sizes : array_like of int
    momentum : float
        β in [0, 1).

    Returns
    -------
    dict of arrays of the shape of ``batch_sizes`` (plus ``"batch_sizes"``).

    References
    ----------
    Velikanov et al. (ICLR 2023), convergence region; Granziol et al. (JMLR 2022), linear scaling;
    Polyak (1964). Used in ``synthesis/01_one_testbed``.
    """
    bs = _batches(batch_sizes)
    beta = _momentum(momentum)
    eigs = np.asarray(testbed["eigs"], dtype=np.float64)
    lmax, tr = float(eigs.max()), float(testbed["trace"])
    gam = linear.noise_factor(bs.astype(float))
    out = {
        "batch_sizes": bs,
        "U1_plus": np.asarray(linear.critical_lr(eigs, beta, gam, tau2=1.0)),
        "U1_gauss": np.asarray(linear.critical_lr(eigs, beta, gam, tau2=-1.0)),
        "paper_rule": (rmt.max_lr_sgd(bs, eig=lmax, dim=eigs.size, element_var=lmax * (tr - lmax) / eigs.size)
                       if beta == 0 else np.full(bs.shape, np.nan)),
        "heavy_ball": np.full(bs.shape, 2 * (1 + beta) / lmax),
        "linear": 2 * bs * (1 - beta) / tr,
    }
    if exact and beta == 0:
        out["ms_exact"] = rmt.ms_threshold_empirical(testbed["x"], bs)
    else:
        out["ms_exact"] = np.full(bs.shape, np.nan)
    return out


# --------------------------------------------------------------------------- measured thresholds
@_one_blas_thread
def heavy_ball_lyapunov(x, batch_size, lrs, momentum: float = 0.0, *, steps=1000, burn=200, seed: int = 0,
                        renorm_every: int = 5) -> np.ndarray:
    """Top Lyapunov exponents of heavy-ball SGD on noiseless least squares.

    The error ``e = w − w*`` obeys ``e_{t+1} = e_t − α H_{B_t} e_t + β(e_t − e_{t−1})`` with
    ``H_B = x_Bᵀx_B/B`` (batches with replacement). The exponent is the mean of
    ``log(‖s_{t+1}‖/‖s_t‖)`` after ``burn`` steps, ``s_t = (e_t, e_{t−1})``; the linear map is
    renormalised every ``renorm_every`` steps. Batch size ``B`` uses the stream
    ``default_rng([seed, B])`` (the start ``e_0 = e_{−1}`` is its first draw, then the batches), the
    convention of :func:`sgdlab.rmt.lyapunov_exponents`, which computes it (``momentum=β``). All
    learning rates of one batch size see the same batches (common random numbers), and all batch
    sizes advance in one time loop.

    Parameters
    ----------
    x : array_like, shape (N, P)
    batch_size : int or array_like of int, shape (m,)
    lrs : array_like, shape (k,) or (m, k)
    momentum : float
        β in [0, 1).
    steps, burn : int or array_like of int, shape (m,)

    Returns
    -------
    ndarray, shape (m, k) (``(k,)`` for a scalar ``batch_size``)

    References
    ----------
    Extends :func:`sgdlab.rmt.lyapunov_exponents` (part 5) to momentum. Used in
    ``synthesis/01_one_testbed``.
    """
    return rmt.lyapunov_exponents(x, _batches(batch_size)[0] if np.ndim(batch_size) == 0 else _batches(batch_size),
                                  lrs, momentum=_momentum(momentum), steps=steps, burn=burn, seed=seed,
                                  renorm_every=_pos_int("renorm_every", renorm_every))


@_one_blas_thread
def divergence_threshold(x, batch_sizes, momentum: float = 0.0, *, lo=None, hi=None, grid: int = 6,
                         rounds: int = 3, steps=1000, burn=200, seed: int = 0) -> dict:
    """The measured largest learning rate at which heavy-ball SGD on least squares does not diverge.

    Multisection over ``α``: each round evaluates :func:`heavy_ball_lyapunov` on ``grid`` log-spaced
    learning rates per batch size (all batch sizes and learning rates in one time loop) and shrinks
    the bracket to the first sign change of the exponent. After ``rounds`` rounds the relative
    resolution is ``(hi/lo)^{1/(grid − 1)^rounds}``. A bracket that does not contain the sign
    change is widened by 4× on the failing side (up to four times) before the first round counts.

    Parameters
    ----------
    x : array_like, shape (N, P)
    batch_sizes : array_like of int, shape (m,)
    momentum : float
        β in [0, 1).
    lo, hi : array_like, optional
        Initial bracket per batch size (default ``[a/4, 2a]``, ``a = min(2B/tr H, 2/λ_max)(1 + β)``).
    grid, rounds, steps, burn, seed
        As above and in :func:`heavy_ball_lyapunov`.

    Returns
    -------
    dict
        ``"lr"`` (geometric midpoint of the final bracket; ``nan`` where none was found), ``"lo"``
        (stable), ``"hi"`` (unstable), ``"batch_sizes"``.

    References
    ----------
    The quantity part 5's ``2/λ_max(H_B)`` stands in for (Granziol et al., JMLR 2022); at ``β = 0``
    the same search as :func:`sgdlab.rmt.lyapunov_threshold`. Used in ``synthesis/01_one_testbed``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("x must be a 2-d array (n_samples, dim)")
    beta = _momentum(momentum)
    bs = _batches(batch_sizes)
    grid = _pos_int("grid", grid, 3)
    rounds = _pos_int("rounds", rounds)
    n = x.shape[0]
    h_eigs = np.linalg.eigvalsh(x.T @ x / n)
    ref = np.minimum(2 * bs / h_eigs.sum(), 2 / h_eigs.max()) * (1 + beta)
    lo = ref / 4 if lo is None else np.broadcast_to(np.asarray(lo, dtype=np.float64), bs.shape)
    hi = 2 * ref if hi is None else np.broadcast_to(np.asarray(hi, dtype=np.float64), bs.shape)
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    if np.any(~(lo > 0)) or np.any(~(hi > lo)):
        raise ValueError("the bracket needs 0 < lo < hi")
    out = _scaling.multisect_threshold(
        lambda lrs: heavy_ball_lyapunov(x, bs, lrs, beta, steps=steps, burn=burn, seed=seed),
        lo, hi, grid=grid, rounds=rounds, widen=4.0,
    )
    out["batch_sizes"] = bs
    return out


# --------------------------------------------------------------------------- noise versus step size
def noise_covariance(testbed: dict) -> np.ndarray:
    """Per-sample gradient covariance at the optimum, ``Σ = (1/N) Σ_n r_n² x_n x_nᵀ``, ``r_n = x_nᵀw* − y_n``.

    A batch of ``B`` samples drawn with replacement has gradient-noise covariance ``Σ/B`` at ``w*``
    (the mean gradient ``(1/N) Σ_n r_n x_n`` vanishes there). Used in ``synthesis/01_one_testbed``.
    """
    x = np.asarray(testbed["x"], dtype=np.float64)
    r = x @ testbed["w_star"] - testbed["y"]
    return (x * (r**2)[:, None]).T @ x / x.shape[0]


@_one_blas_thread
def sde_excess(testbed: dict, temperature, *, multiplicative: bool = True, tol: float = 1e-10,
               maxiter: int = 2000) -> np.ndarray:
    """Stationary excess loss of the SDE limit of SGD at temperature ``τ = η/B``: a function of ``τ`` alone.

    With ``multiplicative=True`` (default) the diffusion has the state-dependent covariance of the
    mini-batch gradient, ``τ(Σ + K(M) − HMH)`` for the error second moment ``M``; the stationary
    ``M`` solves ``HM + MH − τ(K(M) − HMH) = τΣ``, which is the ``η → 0`` limit of
    :func:`stationary_excess` at fixed ``η/B``. With ``multiplicative=False`` the noise is frozen at
    the optimum (an Ornstein–Uhlenbeck process): ``HS + SH = τΣ`` and ``E[L] − L_min = τ tr Σ/4``.
    Either way the result depends on ``η`` and ``B`` only through the temperature (part 4's
    ``D = ησ²/(2B)``). ``inf`` where the SDE's second moment has no stationary value.

    References
    ----------
    Dai & Zhu (arXiv 2112.00987), the temperature of mini-batch SGD; Li, Tai, E (JMLR 2019) for the
    state-dependent SDE. Used in ``synthesis/01_one_testbed``.
    """
    tau = np.asarray(temperature, dtype=np.float64)
    if np.any(~(tau >= 0)):
        raise ValueError("temperature must be >= 0")
    if not multiplicative:
        return tau * np.trace(noise_covariance(testbed)) / 4
    x, lam, sig = _eigenbasis(testbed)
    out = np.empty(tau.shape)
    for ix in np.ndindex(tau.shape):
        t = float(tau[ix])
        out[ix] = _stationary_solve(x, lam, sig, -t, t, t, tol, maxiter)
    return out[()] if out.ndim == 0 else out


def additive_noise_excess(testbed: dict, lr, batch_size, momentum: float = 0.0) -> np.ndarray:
    """Stationary excess loss with the noise frozen at the optimum, mode by mode (part 2's closed form).

    Each eigen-direction ``k`` of ``H`` is a quadratic ``½λ_k e_k²`` with additive gradient noise of
    variance ``Σ_kk/B``; its stationary variance is :func:`sgdlab.sde.sgdm.stationary_variance`
    (``η s²/(λ(2 − ηλ))`` at ``β = 0``) at the effective learning rate ``η = lr/(1 − momentum)``
    (``lr`` is PyTorch's step γ, as everywhere in ``sgdlab``; at β = 0, η = γ), and the excess is
    ``½ Σ_k λ_k Var e_k``. Keeps the curvature correction of the discrete step, drops the
    multiplicative (state-dependent) part of the mini-batch noise and the cross-mode correlations.
    ``inf`` past ``ηλ_max = 2(1 + β)/(1 − β)``, i.e. ``γλ_max = 2(1 + β)``.

    References
    ----------
    Wang et al. (ICLR 2024), Sec. 2; used in ``synthesis/01_one_testbed``.
    """
    lam = np.asarray(testbed["eigs"], dtype=np.float64)
    s2 = np.diag(noise_covariance(testbed))
    lr, b = np.broadcast_arrays(np.asarray(lr, dtype=np.float64), np.asarray(batch_size, dtype=np.float64))
    if np.any(~(b >= 1)):
        raise ValueError("batch_size must be >= 1")
    if not (isinstance(momentum, (int, float, np.integer, np.floating)) and -1 < momentum < 1):
        raise ValueError(f"momentum={momentum!r} must lie in (-1, 1)")
    var = sgdm.stationary_variance(lam, s2 / b[..., None], lr[..., None] / (1.0 - momentum), momentum)
    return 0.5 * np.sum(lam * var, axis=-1)


def _eigenbasis(testbed: dict):
    x = np.asarray(testbed["x"], dtype=np.float64)
    lam = np.asarray(testbed["eigs"], dtype=np.float64)
    if x.ndim != 2 or lam.shape != (x.shape[1],) or not np.allclose(x.T @ x / x.shape[0], np.diag(lam),
                                                                       atol=1e-8 * lam.max()):
        raise ValueError("testbed: x must be in the eigenbasis of H (x.T @ x / N == diag(eigs))")
    return x, lam, noise_covariance(testbed)


def _stationary_solve(x, lam, sig, c_hmh: float, c_k: float, c_sig: float, tol: float, maxiter: int) -> float:
    """½ tr(HM) for the solution of ``HM + MH − c_hmh HMH − c_k K(M) = c_sig Σ`` (CG, symmetric form).

    In ``H``'s eigenbasis ``A(M) = HM + MH`` is elementwise ``(λ_i + λ_j) M_ij``; with ``M = A^{-1/2} Y``
    (elementwise) the operator ``I − A^{-1/2}(c_hmh HMH + c_k K)A^{-1/2}`` is symmetric in the Frobenius
    product, and positive definite exactly when a stationary second moment exists. ``inf`` when CG does
    not converge or the solution is not a valid (positive) second moment.
    """
    from scipy.sparse.linalg import LinearOperator, cg

    n, p = x.shape
    a_is = 1.0 / np.sqrt(lam[:, None] + lam[None, :])

    def apply(vec):
        y = vec.reshape(p, p)
        m = 0.5 * (y + y.T) * a_is
        q = np.sum((x @ m) * x, axis=1)  # x_nᵀ M x_n
        c = c_hmh * (lam[:, None] * m * lam[None, :]) + c_k * ((x * q[:, None]).T @ x) / n
        return (y - c * a_is).ravel()

    op = LinearOperator((p * p, p * p), matvec=apply, dtype=np.float64)
    sol, info = cg(op, (c_sig * sig * a_is).ravel(), rtol=tol, maxiter=maxiter)
    if info != 0:
        return np.inf
    m = sol.reshape(p, p) * a_is
    d = np.diag(m)
    excess = 0.5 * float(np.sum(lam * d))
    return excess if np.all(d >= 0) and np.isfinite(excess) else np.inf


@_one_blas_thread
def stationary_excess(testbed: dict, lr, batch_size, *, tol: float = 1e-10, maxiter: int = 2000) -> np.ndarray:
    """Exact stationary excess loss ``E[L] − L_min`` of SGD on least squares over a finite data set.

    With ``e = w − w*``, batches with replacement and ``K(M) = (1/N) Σ_n (x_nᵀMx_n) x_n x_nᵀ``, the
    second moment obeys ``M′ = M − α A(M) + α² [C_B(M) + Σ/B]`` with ``A(M) = HM + MH`` and
    ``C_B(M) = (1 − 1/B) HMH + K(M)/B`` (the cross terms vanish at stationarity, where ``E e = 0``).
    The fixed point solves ``(A − α C_B)(M) = α Σ/B``; in the symmetric form
    ``(I − α A^{-1/2} C_B A^{-1/2}) Y = α A^{-1/2} Σ A^{-1/2}/B``, ``M = A^{-1/2} Y`` (elementwise in
    ``H``'s eigenbasis) it is positive definite below the mean-square threshold
    (:func:`sgdlab.rmt.ms_threshold_empirical`) and is solved by conjugate gradients. Returns
    ``½ tr(HM)``; ``inf`` at or beyond that threshold, or if CG does not converge.

    Parameters
    ----------
    testbed : dict
        From :func:`ntk_testbed` (``x`` in ``H``'s eigenbasis, so ``H = diag(eigs)``).
    lr, batch_size : array_like (broadcast together)

    References
    ----------
    Extends part 5's mean-square operator (:func:`sgdlab.rmt.ms_threshold_empirical`) with the
    gradient noise at the optimum; its ``α → 0`` limit at fixed ``α/B`` is :func:`sde_excess`.
    Used in ``synthesis/01_one_testbed``.
    """
    x, lam, sig = _eigenbasis(testbed)
    lr, b = np.broadcast_arrays(np.asarray(lr, dtype=np.float64), np.asarray(batch_size, dtype=np.float64))
    if np.any(~(lr > 0)):
        raise ValueError("lr must be > 0")
    if np.any(~(b >= 1)):
        raise ValueError("batch_size must be >= 1")
    ub = np.unique(b)
    thr = dict(zip(ub.tolist(), rmt.ms_threshold_empirical(x, ub).tolist()))
    out = np.empty(lr.shape)
    for ix in np.ndindex(lr.shape):
        a, bb = float(lr[ix]), float(b[ix])
        out[ix] = np.inf if a >= thr[bb] else _stationary_solve(x, lam, sig, a * (1 - 1 / bb), a / bb, a / bb,
                                                                 tol, maxiter)
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------- what momentum buys
#: A run whose loss exceeds this is flagged as diverged: the threshold :func:`sgdlab.linear.se_loss`
#: flags divergence at (``diverge_at``), applied here run by run. Non-finite losses are flagged too
#: (the Monte-Carlo engine returns them as ``inf``).
DIVERGE_AT = 1e30


@_one_blas_thread
def matched_lr_runs(testbed: dict, effective_lrs, momenta, batch_size: int, steps: int, *, runs: int = 100,
                    seed: int = 0) -> dict:
    """Mini-batch SGD with momentum on the testbed at matched effective learning rates, with the SE recursion.

    For every momentum ``β`` and effective learning rate ``η``, ``runs`` independent runs of kernel SGD
    (``lr = η(1 − β)``, batches of ``batch_size`` drawn with replacement) from ``w = 0`` for ``steps``
    steps, by :func:`sgdlab.linear.mc_finite_loss`'s engine in function space with the kernel
    ``x xᵀ/N``. All momenta at one ``η`` use the same batches (the stream ``default_rng(seed + j)``
    for the ``j``-th ``η``): their differences are paired. A run is *diverged* where the engine returns
    a non-finite loss or the loss exceeds :data:`DIVERGE_AT`.

    Parameters
    ----------
    testbed : dict
        From :func:`ntk_testbed` (needs ``x``, ``y``, ``eigs``, ``c``).
    effective_lrs : array_like, shape (k,)
        ``η = α/(1 − β)``, > 0.
    momenta : array_like, shape (m,)
        ``β`` in [0, 1).
    batch_size, steps, runs, seed : int

    Returns
    -------
    dict
        ``"loss"`` (m, k, runs): ``L_T`` of each run (``inf`` once diverged); ``"diverged"`` (m, k, runs);
        ``"mean"``, ``"sem"`` (m, k): over runs, ``inf``/``nan`` where any run diverged;
        ``"recursion"`` and ``"recursion_gauss"`` (m, k): ``L_T`` of the SE recursion
        (:func:`sgdlab.linear.se_loss`, ``γ = 1/B``) with ``τ2 = +1`` and ``τ2 = −1``;
        ``"effective_lrs"``, ``"momenta"``.

    References
    ----------
    Velikanov et al. (ICLR 2023), the SE approximation; Wang et al. (ICLR 2024), SGD and SGDM at
    matched effective learning rate. Used in ``synthesis/01_one_testbed``.
    """
    from .linear._finite import linearised_sgd_runs

    eta = np.atleast_1d(np.asarray(effective_lrs, dtype=np.float64))
    betas = np.atleast_1d(np.asarray(momenta, dtype=np.float64))
    if eta.ndim != 1 or np.any(~(eta > 0)):
        raise ValueError("effective_lrs must be a 1-d array of values > 0")
    if betas.ndim != 1 or np.any(~((betas >= 0) & (betas < 1))):
        raise ValueError("momenta must be a 1-d array of values in [0, 1)")
    x = np.asarray(testbed["x"], dtype=np.float64)
    n = x.shape[0]
    b = int(_batches(batch_size, n)[0])
    steps = _pos_int("steps", steps)
    runs = _pos_int("runs", runs, 2)
    kernel = x @ x.T / n
    d0 = -np.asarray(testbed["y"], dtype=np.float64)
    t_rec = np.array([steps])
    loss = np.empty((betas.size, eta.size, runs))
    for j, e in enumerate(eta):
        for i, beta in enumerate(betas):
            rng = np.random.default_rng(seed + j)
            loss[i, j] = linearised_sgd_runs(kernel, d0, e * (1 - beta), beta, b, steps, t_rec, runs,
                                             lambda t: rng.integers(0, n, size=(runs, b)))[0]
    diverged = ~np.isfinite(loss) | (loss > DIVERGE_AT)
    loss = np.where(diverged, np.inf, loss)
    any_div = diverged.any(axis=-1)
    with np.errstate(invalid="ignore"):
        mean = np.where(any_div, np.inf, loss.mean(axis=-1))
        sem = np.where(any_div, np.nan, loss.std(axis=-1, ddof=1) / np.sqrt(runs))
    eigs, c = testbed["eigs"], testbed["c"]
    lr_grid = eta[None, :] * (1 - betas[:, None])
    rec = {}
    for key, tau2 in (("recursion", 1.0), ("recursion_gauss", -1.0)):
        rec[key] = linear.se_loss(eigs, c, lr_grid, betas[:, None], 1 / b, steps, tau2=tau2, times=[steps])[..., 0]
    return {"loss": loss, "diverged": diverged, "mean": mean, "sem": sem, **rec,
            "effective_lrs": eta, "momenta": betas}


def ratio_of_means(a, b) -> tuple[np.ndarray, np.ndarray]:
    """``mean(a)/mean(b)`` over the last axis, and its standard error for paired samples (delta method).

    ``a`` and ``b`` hold paired runs (the same batches) along the last axis; the s.e. is
    ``std(a − r b)/(√R · mean(b))``, which pairing makes small when ``a`` and ``b`` move together.
    Non-finite runs give ``inf`` ratio and ``nan`` s.e. Used in ``synthesis/01_one_testbed``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.shape[-1] < 2:
        raise ValueError("a and b must have the same shape, with at least 2 paired runs on the last axis")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ma, mb = a.mean(axis=-1), b.mean(axis=-1)
        r = ma / mb
        se = np.std(a - r[..., None] * b, axis=-1, ddof=1) / (np.sqrt(a.shape[-1]) * np.abs(mb))
    bad = ~(np.isfinite(a).all(axis=-1) & np.isfinite(b).all(axis=-1))
    return np.where(bad, np.inf, r), np.where(bad, np.nan, se)


@_one_blas_thread
def best_momentum(eigs, c, batch_size: int, steps: int, momenta=None, *, lr_fractions=None,
                  tau2: float = 1.0) -> dict:
    """The momentum that minimises the SE recursion's loss after ``steps`` steps, the rate optimised for each.

    For each ``β`` the learning rate is optimised by :func:`sgdlab.linear.optimal_lr` on the grid
    ``lr_fractions × α_c(β)`` (``α_c`` from :func:`sgdlab.linear.critical_lr`, ``γ = 1/B``). This is a
    statement about the model (the SE recursion), not about runs.

    Parameters
    ----------
    eigs, c : array_like
        Spectrum and loss-weighted target coefficients.
    batch_size, steps : int
    momenta : array_like, optional
        Candidate ``β`` (default −0.5, −0.4, …, 0.9); must contain 0, the reference.
    lr_fractions : array_like, optional
        Fractions of ``α_c(β)`` searched (default 14 log-spaced values from 0.05 to 0.98).
    tau2 : float
        SE parameter.

    Returns
    -------
    dict
        ``"momenta"``, ``"loss"`` (min over α of ``L_T`` per β), ``"rel"`` (``loss / loss[β = 0]``),
        ``"beta"`` (β*), ``"loss_ratio"`` (``min L_T(β*)/min L_T(0)``: a ratio of losses after ``steps``
        steps, not a rate), ``"at_edge"`` (the α-optimum of some β at a grid end).

    References
    ----------
    Velikanov et al. (ICLR 2023), negative momenta in the noise-dominated phase. Used in
    ``synthesis/01_one_testbed``.
    """
    betas = (np.round(np.arange(-0.5, 0.91, 0.1), 2) + 0.0 if momenta is None
             else np.asarray(momenta, dtype=np.float64))
    if betas.ndim != 1 or not np.any(betas == 0) or np.any(~(np.abs(betas) < 1)):
        raise ValueError("momenta must be a 1-d array in (-1, 1) containing 0")
    frac = np.geomspace(0.05, 0.98, 14) if lr_fractions is None else np.asarray(lr_fractions, dtype=np.float64)
    if frac.ndim != 1 or frac.size < 3 or np.any(~((frac > 0) & (frac < 1))) or np.any(np.diff(frac) <= 0):
        raise ValueError("lr_fractions must be increasing, in (0, 1), at least 3 values")
    b = int(_batches(batch_size)[0])
    steps = _pos_int("steps", steps)
    eigs = np.asarray(eigs, dtype=np.float64)
    ac = linear.critical_lr(eigs, betas, 1 / b, tau2=tau2)
    o = linear.optimal_lr(eigs, c, betas, 1 / b, steps, np.asarray(ac)[:, None] * frac, tau2=tau2)
    i0 = int(np.flatnonzero(betas == 0)[0])
    rel = o["loss"] / o["loss"][i0]
    k = int(np.argmin(o["loss"]))
    return {"momenta": betas, "loss": o["loss"], "rel": rel, "beta": float(betas[k]),
            "loss_ratio": float(rel[k]), "at_edge": bool(np.any(o["at_edge"]))}
