"""Optimal hyper-parameters: learning-rate search on the SE recursion and the noise-phase loss constant
as a function of the momentum (private).

Book chapter ``generating_functions/05_momentum`` (claims P1.C5, P1.C6).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gamma as _Gamma

from ._se import U_at_one, V_at_one, se_loss
from ._validate import as_modes, hyper, multiplicities, positive_int, real_array, real_scalar

__all__ = ["optimal_lr", "noise_constant", "optimal_noise_lr", "noise_constant_momentum_slope"]


def optimal_lr(eigs, c, momentum, noise_factor, steps: int, lrs, *, tau1=1.0, tau2=1.0, mult=None,
               method: str = "matrix", n_refine: int = 1):
    """The learning rate minimising L_T for each momentum: a grid search refined by a parabola.

    For each β, L_T is computed by the SE recursion on the grid ``lrs`` (one vectorised call for all
    (β, α) pairs); a parabola in (log α, log L_T) through the grid minimum and its two neighbours
    gives a vertex; ``n_refine`` times, three new points around the vertex at a quarter of the spacing
    give a better one; L_T is computed once more at the last vertex (kept only if it beats the grid).
    Cost per β: n_lr + 3·n_refine + 1 recursions.

    Parameters
    ----------
    eigs, c, mult
        Spectrum, loss-weighted coefficients and multiplicities (as :func:`se_loss`).
    momentum
        1-d array of β values (n_beta,).
    noise_factor, tau1, tau2
        γ and the SE parameters (scalars).
    steps
        The horizon T at which the loss is minimised.
    lrs
        Learning-rate grid: shape (n_lr,) shared by every β, or (n_beta, n_lr), increasing along the
        last axis, at least 3 points.
    method
        Passed to :func:`se_loss`.
    n_refine
        Number of parabola refinements (0: the vertex of the grid parabola).

    Returns
    -------
    dict with ``lr`` (α*), ``loss`` (L_T at α*), ``grid_loss`` (n_beta, n_lr) and ``at_edge`` (bool:
    the grid minimum lies at an end of the grid, so α* is only the best grid point, not a refined
    optimum; ``loss`` is then the grid minimum).

    References
    ----------
    Velikanov et al. (ICLR 2023), optimal momenta (figures of the authors' ``NegativeMomentum`` and
    ``LossDerivative`` notebooks; α is optimised separately for every β, since comparing momenta at one
    shared α confounds the two); book chapter ``generating_functions/05_momentum``.
    """
    b = np.atleast_1d(real_array(momentum, "momentum", finite=False))
    if b.ndim != 1:
        raise ValueError("momentum must be a 1-d array")
    if np.any(~(np.abs(b) < 1)):
        raise ValueError("momentum must lie in (-1, 1)")
    steps = positive_int(steps, "steps", 1)
    hyper(1.0, 0.0, noise_factor, tau1, tau2)       # γ ≥ 0, finite τ1, τ2 (scalars)
    for v, n in ((noise_factor, "noise_factor"), (tau1, "tau1"), (tau2, "tau2")):
        real_scalar(v, n)
    if method not in ("matrix", "recurrence"):
        raise ValueError(f"method={method!r} must be 'matrix' or 'recurrence'")
    A = real_array(lrs, "lrs", finite=False)
    if A.ndim not in (1, 2):
        raise ValueError(f"lrs must have shape (n_lr,) or ({b.size}, n_lr), got {A.shape}")
    if A.ndim == 1:
        A = np.broadcast_to(A, (b.size, A.size))
    if A.shape[0] != b.size or A.ndim != 2 or A.shape[1] < 3:
        raise ValueError(f"lrs must have shape (n_lr,) or ({b.size}, n_lr) with n_lr >= 3, got {np.shape(lrs)}")
    if np.any(~(A > 0)) or np.any(~np.isfinite(A)) or np.any(np.diff(A, axis=1) <= 0):
        raise ValueError("lrs must be finite, positive and increasing along the last axis")
    n_refine = positive_int(n_refine, "n_refine", 0)
    kw = dict(tau1=tau1, tau2=tau2, mult=mult, method=method)

    def loss_at(lr, beta):
        return se_loss(eigs, c, lr, beta, noise_factor, steps, times=[steps], **kw)[..., 0]

    grid = loss_at(A, b[:, None])
    rows = np.arange(b.size)
    finite = np.where(np.isfinite(grid), grid, np.inf)
    j = np.argmin(finite, axis=1)
    n = A.shape[1]
    at_edge = (j == 0) | (j == n - 1) | ~np.isfinite(finite[rows, j])
    lr_opt = A[rows, j].copy()
    loss = finite[rows, j].copy()
    act = np.flatnonzero(~at_edge)
    if act.size:
        x = np.log(A[act[:, None], j[act, None] + np.arange(-1, 2)])
        y = np.log(grid[act[:, None], j[act, None] + np.arange(-1, 2)])
        for stage in range(n_refine + 1):
            xv, ok = _parabola_vertex(x, y)
            xv = np.where(ok, xv, x[:, 1])
            if stage == n_refine:
                break
            # three points around the vertex at a quarter of the previous spacing
            h = 0.25 * 0.5 * (x[:, 2] - x[:, 0])
            x = xv[:, None] + h[:, None] * np.arange(-1, 2)
            with np.errstate(divide="ignore"):
                y = np.log(loss_at(np.exp(x), b[act, None]))
                y = np.where(np.isnan(y), np.inf, y)
        lv = loss_at(np.exp(xv), b[act])
        better = lv < loss[act]
        lr_opt[act[better]] = np.exp(xv[better])
        loss[act[better]] = lv[better]
    return {"lr": lr_opt, "loss": loss, "grid_loss": grid, "at_edge": at_edge}


def _parabola_vertex(x, y):
    """Vertex abscissa of the parabola through three points per row, and whether it is a minimum inside."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (y[:, 1] - y[:, 0]) / (x[:, 1] - x[:, 0])
        d2 = (y[:, 2] - y[:, 1]) / (x[:, 2] - x[:, 1])
        curv = (d2 - d1) / (x[:, 2] - x[:, 0])
        xv = 0.5 * (x[:, 0] + x[:, 1]) - d1 / (2 * curv)
    ok = (curv > 0) & np.isfinite(xv) & (xv > x[:, 0]) & (xv < x[:, 2])
    return xv, ok


def _C_U_factor(nu, effective_lr, noise_factor, tau1, lambda_max):
    ne = 2 - 1 / nu
    return tau1 * noise_factor * effective_lr**2 * (lambda_max ** (1 / nu) / nu) * _Gamma(ne) * (2 * effective_lr) ** -ne


def noise_constant(eigs, c, nu, effective_lr, momentum, noise_factor, *, tau1=1.0, tau2=1.0, mult=None,
                   lambda_max: float = 1.0):
    """The constant of the noise-dominated loss, L_t ≈ C_noise t^{−(2−1/ν)}, C_noise = ½ V(1) C_U/(1 − U(1))².

    Parameterised by the effective learning rate α_eff = α/(1−β) (so that C_U depends on β only through
    α_eff); ``inf`` where the hyper-parameters do not converge.

    References
    ----------
    Velikanov et al. (ICLR 2023), noise-dominated asymptotics; the constants are re-derived in the book
    chapters ``generating_functions/01_derivation`` (C_U) and ``generating_functions/05_momentum``.
    """
    lam = as_modes(eigs)
    nu = real_scalar(nu, "nu", low=1.0, low_open=True)
    lambda_max = real_scalar(lambda_max, "lambda_max", low=0.0, low_open=True)
    ae = real_array(effective_lr, "effective_lr", finite=False)
    b = real_array(momentum, "momentum", finite=False)
    if np.any(~(ae > 0)) or np.any(~np.isfinite(ae)):
        raise ValueError("effective_lr must be finite and > 0")
    hyper(1.0, b, noise_factor, tau1, tau2)          # names momentum, noise_factor, tau1, tau2
    noise_factor, tau1 = (np.asarray(v, dtype=np.float64) if np.ndim(v) else v for v in (noise_factor, tau1))
    lr = ae * (1 - b)
    U1 = U_at_one(lam, lr, b, noise_factor, tau1=tau1, tau2=tau2, mult=mult)
    V1 = V_at_one(lam, c, lr, b, noise_factor, tau2=tau2, mult=mult)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = 0.5 * V1 * _C_U_factor(nu, ae, noise_factor, tau1, lambda_max) / (1 - U1) ** 2
    out = np.where((U1 < 1) & np.isfinite(V1), out, np.inf)
    return out if out.ndim else float(out)


def optimal_noise_lr(eigs, c, nu, noise_factor, momentum: float = 0.0, *, tau1=1.0, tau2=1.0, mult=None) -> float:
    """α_eff minimising :func:`noise_constant` at the given momentum (bounded scalar search in log α_eff).

    References
    ----------
    Velikanov et al. (ICLR 2023), noise-dominated asymptotics (at leading order the optimum has
    U(1)* = (ν−1)/(3ν−1), derived in the book chapter); book chapter ``generating_functions/05_momentum``.
    """
    lam = as_modes(eigs)
    m = multiplicities(mult, lam.size)
    as_modes(c, "c", positive=False)
    nu = real_scalar(nu, "nu", low=1.0, low_open=True)
    real_scalar(noise_factor, "noise_factor", low=0.0, low_open=True)
    b = real_scalar(momentum, "momentum", low=-1.0, high=1.0, low_open=True, high_open=True)
    real_scalar(tau1, "tau1", low=0.0, low_open=True)       # C_noise ∝ τ1: its log needs τ1 > 0
    real_scalar(tau2, "tau2")
    # upper end: the per-mode/noise boundary in α_eff (α_eff λ_max < 2(1+β)/(1−β) at most)
    hi = np.log(2 * (1 + b) / (1 - b) / lam.max())
    f = lambda la: float(np.log(noise_constant(lam, c, nu, np.exp(la), b, noise_factor, tau1=tau1,  # noqa: E731
                                               tau2=tau2, mult=m)))
    res = minimize_scalar(f, bounds=(hi - 12.0, hi), method="bounded", options={"xatol": 1e-10})
    return float(np.exp(res.x))


def noise_constant_momentum_slope(eigs, c, nu, noise_factor, *, tau1=1.0, tau2=1.0, mult=None, h: float = 1e-5):
    """∂_β log C_noise at β = 0 with α_eff fixed at its optimum (central difference of the closed forms).

    Positive means a small negative momentum lowers the noise-phase loss constant. Compare with the
    leading-order condition :func:`negative_momentum_condition`.

    Returns
    -------
    slope : float
    effective_lr : float (the optimal α_eff at β = 0)

    References
    ----------
    Velikanov et al. (ICLR 2023), benefit from negative momenta (the paper's condition for negative
    momenta, compared in the book); book chapter ``generating_functions/05_momentum``.
    """
    h = real_scalar(h, "h", low=0.0, high=0.5, low_open=True, high_open=True)
    ae = optimal_noise_lr(eigs, c, nu, noise_factor, 0.0, tau1=tau1, tau2=tau2, mult=mult)
    cp, cm = (noise_constant(eigs, c, nu, ae, sgn * h, noise_factor, tau1=tau1, tau2=tau2, mult=mult)
              for sgn in (1, -1))
    return float((np.log(cp) - np.log(cm)) / (2 * h)), ae
