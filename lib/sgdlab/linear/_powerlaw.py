"""Power-law spectra (exact and log-binned), loss asymptotics and the phase-switch time (private)."""
from __future__ import annotations

import numpy as np
from scipy.special import gamma as _Gamma

from ._se import U_at_one, V_at_one
from ._validate import as_modes, hyper, multiplicities, positive_int, real_array, real_scalar

__all__ = ["power_law_modes", "asymptotic_constants", "loss_asymptotics", "transition_time",
           "negative_momentum_condition", "local_exponent", "crossing_time"]


def _num(value, name):
    """A float for scalars (unchanged arithmetic), a float64 array otherwise."""
    arr = real_array(value, name)
    return float(arr) if arr.ndim == 0 else arr


def power_law_modes(nu: float, kappa: float, n_modes: int, *, n_exact: int | None = None,
                    n_bins: int | None = None, lambda_max: float = 1.0, c0: float = 1.0):
    """Eigenvalues λ_k = Λ k^{−ν} and loss-weighted coefficients c_k = c0 k^{−κ−1}, k = 1 … n_modes.

    With ``n_exact`` and ``n_bins``, the first ``n_exact`` modes are kept and the rest are grouped into
    ``n_bins`` log-spaced bins: one representative mode per bin with the bin's mean λ and mean c and a
    multiplicity equal to its size. Sums Σ mult·λ and Σ mult·c are exact, and since the dynamics is
    per-mode linear, fine bins emulate 10⁶–10⁷ modes with a few thousand states.

    Returns
    -------
    eigs, c, mult : ndarray

    References
    ----------
    Velikanov et al. (ICLR 2023), power-law spectra (the log-binning is ours, described in the book
    chapter ``generating_functions/03_convergence``); book chapters
    ``generating_functions/03_convergence``, ``04_phases`` and ``05_momentum`` (headline claims P1.H3–P1.H5).
    """
    n_modes = positive_int(n_modes, "n_modes")
    nu = real_scalar(nu, "nu", low=0.0, low_open=True)
    kappa = real_scalar(kappa, "kappa", low=0.0, low_open=True)
    lambda_max = real_scalar(lambda_max, "lambda_max", low=0.0, low_open=True)
    c0 = real_scalar(c0, "c0", low=0.0, low_open=True)
    if n_exact is None and n_bins is None:
        k = np.arange(1, n_modes + 1, dtype=np.float64)
        return lambda_max * k**-nu, c0 * k ** (-kappa - 1), np.ones(n_modes)
    if n_exact is None or n_bins is None:
        raise ValueError("give both n_exact and n_bins (or neither)")
    n_exact = positive_int(n_exact, "n_exact")
    n_bins = positive_int(n_bins, "n_bins")
    if n_exact >= n_modes:
        raise ValueError(f"n_exact={n_exact} must be < n_modes={n_modes}")
    k = np.arange(1, n_exact + 1, dtype=np.float64)
    edges = np.unique(np.round(np.geomspace(n_exact + 1, n_modes + 1, n_bins + 1)).astype(np.int64))
    lo, hi = edges[:-1], edges[1:]                       # bin = [lo, hi)
    lam_b, c_b = [], []
    # exact sums over each bin through cumulative sums would need n_modes memory; use the integrals
    # of k^{-p} only for large bins and explicit sums for small ones.
    for a, b in zip(lo, hi):
        if b - a <= 4096:
            kk = np.arange(a, b, dtype=np.float64)
            lam_b.append(np.mean(kk**-nu))
            c_b.append(np.mean(kk ** (-kappa - 1)))
        else:
            lam_b.append(_mean_power(a, b, nu))
            c_b.append(_mean_power(a, b, kappa + 1))
    mult = np.concatenate([np.ones(n_exact), (hi - lo).astype(np.float64)])
    eigs = lambda_max * np.concatenate([k**-nu, lam_b])
    c = c0 * np.concatenate([k ** (-kappa - 1), c_b])
    return eigs, c, mult


def _mean_power(a: int, b: int, p: float) -> float:
    """Mean of k^{-p} over integers a ≤ k < b (Euler–Maclaurin to O(a^{-p-3}))."""
    def F(x):  # ∫ x^{-p}
        return np.log(x) if p == 1 else x ** (1 - p) / (1 - p)
    f = lambda x: x**-p  # noqa: E731
    fp = lambda x: -p * x ** (-p - 1)  # noqa: E731
    s = F(b) - F(a) + 0.5 * (f(a) - f(b)) + (fp(b) - fp(a)) / 12.0
    return float(s / (b - a))


def asymptotic_constants(nu: float, kappa: float, lr, momentum, noise_factor, *, lambda_max: float = 1.0,
                         c0: float = 1.0, tau1: float = 1.0):
    """Constants of V_t ≈ C_V t^{−ζ} and U_t ≈ C_U t^{−(2−1/ν)} for λ_k = Λk^{−ν}, c_k = c0 k^{−κ−1}.

    C_V = Q Γ(ζ+1) (2α_eff)^{−ζ} with Q = c0 Λ^{−ζ}/κ, ζ = κ/ν, and
    C_U = τ1 γ α_eff² (Λ^{1/ν}/ν) Γ(2−1/ν) (2α_eff)^{−(2−1/ν)}, α_eff = α/(1−β).

    Returns
    -------
    dict with ``C_V``, ``C_U``, ``zeta``, ``noise_exponent`` (2 − 1/ν)

    References
    ----------
    Velikanov et al. (ICLR 2023), loss asymptotics for power-law spectra (constants re-derived in the
    book chapter ``generating_functions/01_derivation``).
    """
    nu = real_scalar(nu, "nu", low=1.0, low_open=True)
    kappa = real_scalar(kappa, "kappa", low=0.0, low_open=True)
    lambda_max = real_scalar(lambda_max, "lambda_max", low=0.0, low_open=True)
    c0 = real_scalar(c0, "c0", low=0.0, low_open=True)
    hyper(lr, momentum, noise_factor, tau1)           # α > 0, β ∈ (−1, 1), γ ≥ 0, τ1 finite (names the parameter)
    noise_factor, tau1 = (_num(v, n) for v, n in ((noise_factor, "noise_factor"), (tau1, "tau1")))
    ae = np.asarray(lr, dtype=float) / (1 - np.asarray(momentum, dtype=float))
    zeta = kappa / nu
    Q = c0 * lambda_max**-zeta / kappa
    ne = 2 - 1 / nu
    C_V = Q * _Gamma(zeta + 1) * (2 * ae) ** -zeta
    C_U = tau1 * noise_factor * ae**2 * (lambda_max ** (1 / nu) / nu) * _Gamma(ne) * (2 * ae) ** -ne
    return {"C_V": C_V, "C_U": C_U, "zeta": zeta, "noise_exponent": ne}


def loss_asymptotics(t, eigs, c, nu, kappa, lr, momentum, noise_factor, *, mult=None, lambda_max=1.0,
                     c0=1.0, tau1=1.0, tau2=1.0):
    """Signal and noise terms of the large-t loss.

    signal_t = ½ C_V t^{−ζ}/(1 − U(1)),  noise_t = ½ V(1) C_U t^{−(2−1/ν)}/(1 − U(1))²,
    with U(1), V(1) summed over the given (finite or binned) spectrum. The noise term is ``nan``
    when ζ ≤ 1: the formula has no meaning there (V(1) diverges for the infinite spectrum, so the
    finite-spectrum value would be an artefact of the cut-off).

    Parameters
    ----------
    t
        Times t > 0 (finite).
    eigs, c, mult
        The spectrum (as :func:`se_loss`).
    nu, kappa, lambda_max, c0
        The power law λ_k = Λk^{−ν}, c_k = c0 k^{−κ−1} (ν > 1, κ > 0).
    lr, momentum, noise_factor, tau1, tau2
        Scalars α > 0, β ∈ (−1, 1), γ ≥ 0 and the SE parameters.

    Returns
    -------
    signal, noise : ndarray (same shape as ``t``)
        Both ``inf`` when the hyper-parameters diverge (U(1) ≥ 1 or an unstable mode): divergence is the
        result, not an error.

    References
    ----------
    Velikanov, Kuznedelev, Yarotsky (ICLR 2023), loss asymptotics of the signal- and noise-dominated
    phases; book chapter ``generating_functions/04_phases``.
    """
    t = real_array(t, "t")
    if np.any(~(t > 0)):
        raise ValueError("t must be > 0")
    lam = as_modes(eigs)
    cc = as_modes(c, "c", positive=False)
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    multiplicities(mult, lam.size)
    for v, n in ((lr, "lr"), (momentum, "momentum"), (noise_factor, "noise_factor"), (tau1, "tau1"),
                 (tau2, "tau2")):
        real_scalar(v, n)
    k = asymptotic_constants(nu, kappa, lr, momentum, noise_factor, lambda_max=lambda_max, c0=c0, tau1=tau1)
    U1 = float(U_at_one(eigs, lr, momentum, noise_factor, tau1=tau1, tau2=tau2, mult=mult))
    if not U1 < 1:
        return np.full_like(t, np.inf), np.full_like(t, np.inf)
    signal = 0.5 * k["C_V"] * t ** -k["zeta"] / (1 - U1)
    if k["zeta"] <= 1:
        noise = np.full_like(t, np.nan)
    else:
        V1 = float(V_at_one(eigs, c, lr, momentum, noise_factor, tau2=tau2, mult=mult))
        noise = 0.5 * V1 * k["C_U"] * t ** -k["noise_exponent"] / (1 - U1) ** 2
    return signal, noise


def transition_time(eigs, c, nu, kappa, lr, momentum, noise_factor, *, mult=None, lambda_max=1.0, c0=1.0,
                    tau1=1.0, tau2=1.0) -> float:
    """t_× = [C_V (1 − U(1)) / (V(1) C_U)]^{1/(ζ − 2 + 1/ν)}: where the signal and noise terms cross.

    Only defined in the noise-dominated phase ζ > 2 − 1/ν (raises ``ValueError`` naming ``kappa``
    otherwise). ``inf`` when the hyper-parameters diverge (U(1) ≥ 1 or an unstable mode), and when there is no
    batch noise (γ = 0: the noise term vanishes). ``tau1`` must be > 0.

    References
    ----------
    Our derivation of the phase-switch time (the paper's body was not available); book chapter
    on phases, ``generating_functions/04_phases`` (headline claim P1.H3).
    """
    nu = real_scalar(nu, "nu", low=1.0, low_open=True)
    kappa = real_scalar(kappa, "kappa", low=0.0, low_open=True)
    real_scalar(tau1, "tau1", low=0.0, low_open=True)
    zeta = kappa / nu
    if not zeta > 2 - 1 / nu:
        raise ValueError("kappa: t_x needs the noise-dominated phase, kappa/nu > 2 - 1/nu")
    s1 = loss_asymptotics(1.0, eigs, c, nu, kappa, lr, momentum, noise_factor, mult=mult, lambda_max=lambda_max,
                          c0=c0, tau1=tau1, tau2=tau2)
    if not np.isfinite(s1[0]) or s1[1] == 0:     # divergent, or no batch noise (γ = 0): no crossing
        return float("inf")
    return float((s1[0] / s1[1]) ** (1.0 / (zeta - 2 + 1 / nu)))


def negative_momentum_condition(eigs, c, nu, *, mult=None):
    """Sides of the negative-momentum condition Σc·Σλ  >  ((ν−1)/ν)·Σλ²·Σ(c/λ).

    When the left side is larger, ∂_β log C_noise > 0 at β = 0 (α_eff at its leading-order optimum):
    a small negative momentum lowers the noise-phase loss constant. ``c`` are the loss-weighted
    coefficients (the authors' notebook substitutes parameter-space ones; the difference is discussed in the
    book chapter ``generating_functions/05_momentum``).

    Returns
    -------
    lhs, rhs : float

    References
    ----------
    Velikanov et al. (ICLR 2023), the condition for negative momenta (appendix, "condition (91)" of the
    authors' notebook); checked in ``generating_functions/05_momentum`` (P1.C6b, P1.C6c).
    """
    lam = as_modes(eigs)
    cc = as_modes(c, "c", positive=False)
    if cc.shape != lam.shape:
        raise ValueError(f"c must have the shape of eigs {lam.shape}, got {cc.shape}")
    m = multiplicities(mult, lam.size)
    nu = real_scalar(nu, "nu", low=1.0, low_open=True)
    lhs = np.sum(m * cc) * np.sum(m * lam)
    rhs = (nu - 1) / nu * np.sum(m * lam**2) * np.sum(m * cc / lam)
    return float(lhs), float(rhs)


def local_exponent(times, loss):
    """Local power-law exponent −d log L_t / d log t (second-order finite differences in log t).

    Parameters
    ----------
    times, loss
        Increasing times t > 0 (e.g. log-spaced) and the losses L_t > 0 there.

    Returns
    -------
    ndarray of the shape of ``times``; a pure power law c·t^{−p} gives exactly p.

    References
    ----------
    Velikanov et al. (ICLR 2023), signal- and noise-dominated phases; book chapter
    ``generating_functions/04_phases``.
    """
    t = real_array(times, "times", finite=False)
    y = real_array(loss, "loss", finite=False)
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if t.ndim != 1 or t.shape != y.shape or t.size < 3:
        raise ValueError("times and loss must be 1-d arrays of equal length >= 3")
    if np.any(~(t > 0)) or np.any(np.diff(t) <= 0):
        raise ValueError("times must be positive and strictly increasing")
    if np.any(~(y > 0)) or np.any(~np.isfinite(y)):
        raise ValueError("loss must be finite and > 0")
    return -np.gradient(np.log(y), np.log(t))


def crossing_time(times, values, level: float) -> float:
    """The last time at which ``values`` falls from ≥ ``level`` to < ``level`` (log-linear interpolation).

    Used for the time at which the local exponent of a noise-dominated loss crosses the mean of the
    signal and noise exponents, which is where the two asymptotic terms are equal (t_×). Returns
    ``nan`` when the values do not cross the level from above after their last value ≥ ``level``
    (e.g. still above it at the last time).

    References
    ----------
    Book chapter ``generating_functions/04_phases``.
    """
    t = real_array(times, "times")
    v = real_array(values, "values")
    level = real_scalar(level, "level")
    if t.ndim != 1 or t.shape != v.shape or t.size < 2 or np.any(~(t > 0)):
        raise ValueError("times and values must be 1-d arrays of equal length >= 2, times > 0")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing")
    above = np.flatnonzero(v >= level)
    if above.size == 0 or above[-1] + 1 >= v.size:
        return float("nan")
    j = above[-1]
    lt = np.log(t)
    return float(np.exp(lt[j] + (level - v[j]) * (lt[j + 1] - lt[j]) / (v[j + 1] - v[j])))
