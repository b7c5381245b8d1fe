"""The authors' on-the-fly learning-rate learner: Lanczos on a sub-sampled Hessian, then a step-size rule.

Granziol, Zohren & Roberts (JMLR 2022) close with a learner that, every few epochs, runs ``m`` Lanczos
steps on the Hessian of a small *curvature batch* and sets the learning rate (and momentum) from the
Ritz values ``θ_k`` and their weights ``τ_k²`` (read from the authors'
``GadamX/BatchHess_Code``):

- SSGD (``run_ssgd_fastanddirty.py``): ``α = 2/(θ_max + median|θ|)``;
- SSGDM, Polyak's heavy ball with ``L = θ_max`` and ``μ`` the median of ``|θ|`` or the "min" rule
  (delete the Ritz value of largest weight while that weight exceeds 1/2, then take the smallest
  remaining ``|θ|``): ``α = 4/(√L + √μ)²``, ``β = ((√L − √μ)/(√L + √μ))²``. The authors' script
  writes ``(√L + μ)`` in the momentum's denominator; we use Polyak's ``√μ``.

Functions:

- :class:`GramOperator` — the least-squares batch Hessian ``x_Bᵀx_B/B`` as a matrix-free operator
  for :mod:`sgdlab.hessian`;
- :func:`step_size_rules` — the rules above from one Lanczos run;
- :func:`slq_learning_rates` — the rules for many curvature batches and draws (Lanczos through
  :func:`sgdlab.hessian.lanczos`, full reorthogonalisation);
- :func:`heavy_ball_edge_ratio` — ``αλ_max/(2(1 + β))``: heavy ball on a quadratic is stable iff this is
  below 1 (Polyak 1964);
- :func:`momentum_sgd_least_squares` — heavy-ball SGD on noiseless least squares for many
  ``(α, β)`` and seeds at once, reporting divergence.

Used in the chapter *Spectra by stochastic Lanczos quadrature and the on-the-fly learner* (part 5, P5.C5).
"""
from __future__ import annotations

import numpy as np
import torch

from ..hessian import lanczos
from ..hessian.operators import LinearOperator
from ._validate import design, integer, integer_array, real_array, real_scalar, seed as _seed


class GramOperator(LinearOperator):
    """``v ↦ x_Bᵀ(x_B v)/B``: the Hessian of ``(1/2B) Σ_{n∈batch} (x_nᵀw − y_n)²``, matrix-free.

    Parameters
    ----------
    x : array_like or tensor, shape (B, P)
        The curvature batch's features.
    """

    def __init__(self, x):
        xt = torch.as_tensor(design(x))
        self.x = xt
        self.size = xt.shape[1]
        self.dtype, self.device = xt.dtype, xt.device
        self.n_products = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        self.n_products += 1
        return self.x.T @ (self.x @ v) / self.x.shape[0]


def _min_rule(abs_theta: np.ndarray, weights: np.ndarray) -> float:
    """The authors' "min" rule: drop the heaviest Ritz value while its weight exceeds 1/2; min of the rest."""
    keep = np.ones(abs_theta.size, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    while keep.sum() > 1 and w[keep].max() > 0.5:
        keep[np.flatnonzero(keep)[np.argmax(w[keep])]] = False
    return float(abs_theta[keep].min())


def step_size_rules(theta, weights, *, safety: float = 1.0) -> dict:
    """The learner's step-size rules from one Lanczos run (Ritz values ``theta``, weights ``τ²``).

    Parameters
    ----------
    theta : array_like, shape (m,)
        Ritz values.
    weights : array_like, shape (m,)
        Squared first components of the Ritz vectors (sum to 1).
    safety : float
        Factor in ``(0, 1]`` multiplying every learning rate (1: the authors' rules as written).

    Returns
    -------
    dict
        ``L`` (``max|θ|``), ``median`` (``median|θ|``), ``mu_min`` (min rule), ``lr_sgd``
        (``2/(L + median)``), ``lr_hb_min``, ``beta_hb_min``, ``lr_hb_med``, ``beta_hb_med``
        (Polyak's heavy ball with ``μ`` = min rule / median).

    References
    ----------
    The authors' public code (``run_ssgd_fastanddirty.py``,
    ``run_ssgdm_fastanddirty.py``, with the momentum typo corrected); Polyak (1964).
    """
    th = np.abs(real_array(theta, "theta", ndim=1, nonempty=True))
    w = real_array(weights, "weights", ndim=1, low=0.0)
    if w.shape != th.shape:
        raise ValueError(f"weights must have the shape of theta {th.shape}, got {w.shape}")
    safety = real_scalar(safety, "safety", low=0.0, low_open=True, high=1.0)
    L, med = float(th.max()), float(np.median(th))
    if not L > 0:
        raise ValueError("theta must contain a non-zero Ritz value")
    mu_min = _min_rule(th, w)
    out = {"L": L, "median": med, "mu_min": mu_min, "lr_sgd": safety * 2 / (L + med)}
    for name, mu in (("min", mu_min), ("med", med)):
        sl, sm = np.sqrt(L), np.sqrt(max(mu, 0.0))
        out[f"lr_hb_{name}"] = safety * 4 / (sl + sm) ** 2
        out[f"beta_hb_{name}"] = ((sl - sm) / (sl + sm)) ** 2
    return out


def slq_learning_rates(x, curvature_batches, *, draws: int = 16, m: int = 20, seed: int = 0,
                       safety: float = 1.0) -> dict:
    """Run the learner's curvature estimate on many sub-sampled least-squares Hessians.

    For each curvature batch size ``B`` and draw ``d``, ``B`` rows of ``x`` are drawn without
    replacement (stream ``default_rng([seed, B, d])``; ``B = N`` is the full Hessian), ``m`` Lanczos
    steps (full reorthogonalisation, random Gaussian start from the same stream) are run on
    ``x_Bᵀx_B/B``, and :func:`step_size_rules` is applied.

    Parameters
    ----------
    x : array_like, shape (N, P)
    curvature_batches : array_like of int, shape (k,)
        Each in ``[1, N]``.
    draws, m, seed, safety
        Draws per batch size, Lanczos steps, base seed, safety factor.

    Returns
    -------
    dict
        Each key of :func:`step_size_rules` as an array of shape ``(k, draws)``, plus
        ``"batch_sizes"`` and ``"top_exact"`` (exact ``λ_max(H_B)``, shape ``(k, draws)``).

    References
    ----------
    The authors' public code. Used in *Spectra by stochastic Lanczos quadrature and the
    on-the-fly learner* (part 5).
    """
    x = design(x)
    n, p = x.shape
    bs = np.atleast_1d(integer_array(curvature_batches, "curvature_batches", low=1, high=n))
    if bs.ndim != 1:
        raise ValueError(f"curvature_batches must be an integer or a 1-d array, got shape {bs.shape}")
    bs = bs.astype(int)
    draws = integer(draws, "draws")
    m = integer(m, "m", low=2)
    seed = _seed(seed)
    safety = real_scalar(safety, "safety", low=0.0, low_open=True, high=1.0)
    if not np.any(x):
        raise ValueError("x must not be all zeros (its Hessian has no non-zero Ritz value)")
    keys = ("L", "median", "mu_min", "lr_sgd", "lr_hb_min", "beta_hb_min", "lr_hb_med", "beta_hb_med")
    out = {k: np.empty((bs.size, draws)) for k in keys}
    out["top_exact"] = np.empty((bs.size, draws))
    for i, b in enumerate(bs):
        for d in range(draws):
            rng = np.random.default_rng([seed, int(b), d])
            xb = x if b == n else x[rng.choice(n, size=b, replace=False)]
            v0 = torch.as_tensor(rng.standard_normal(p))
            res = lanczos(GramOperator(xb), m, v0=v0)
            theta, s = res.ritz()
            rules = step_size_rules(theta, s[0] ** 2, safety=safety)
            for k in keys:
                out[k][i, d] = rules[k]
            gram = xb @ xb.T if b < p else xb.T @ xb
            out["top_exact"][i, d] = np.linalg.eigvalsh(gram / b)[-1]
    out["batch_sizes"] = bs
    return out


def heavy_ball_edge_ratio(lr, beta, lam_max):
    """``αλ_max/(2(1 + β))``; heavy ball ``w ← w − α∇L + β(w − w_prev)`` on a quadratic is stable iff < 1.

    (For ``0 ≤ β < 1``; Polyak 1964.) Used in *Spectra by stochastic Lanczos quadrature and the
    on-the-fly learner* (part 5).
    """
    lr = real_array(lr, "lr", low=0.0)
    beta = real_array(beta, "beta", low=0.0, high=1.0, high_open=True)
    lam_max = real_array(lam_max, "lam_max", low=0.0, low_open=True)
    try:
        np.broadcast_shapes(lr.shape, beta.shape, lam_max.shape)
    except ValueError:
        raise ValueError(f"lr {lr.shape}, beta {beta.shape} and lam_max {lam_max.shape} must broadcast together") from None
    return lr * lam_max / (2 * (1 + beta))


def momentum_sgd_least_squares(x, lrs, betas, batch_size: int, *, steps: int = 2000, seeds=(0,),
                               record_every: int = 0, blowup: float = 1e12) -> dict:
    """Heavy-ball SGD on noiseless least squares, for many ``(α, β)`` pairs and seeds at once.

    The error ``e = w − w*`` obeys ``e_{t+1} = e_t − α H_{B_t} e_t + β(e_t − e_{t−1})`` with
    ``H_B = x_Bᵀx_B/B`` (batches with replacement from ``default_rng([seed, B])``, shared by all pairs
    of a seed; ``batch_size = N`` is full-batch gradient descent). Start: ``e_0 = e_{−1}`` = the unit
    vector ``(1, …, 1)/√P``.

    Parameters
    ----------
    x : array_like, shape (N, P)
    lrs, betas : array_like, shape (k,)
    batch_size : int
    steps : int
    seeds : sequence of int
    record_every : int
        If > 0, also return the loss ``½ eᵀHe`` every ``record_every`` steps.
    blowup : float
        A run whose ``‖e‖`` exceeds ``blowup`` is declared diverged and frozen.

    Returns
    -------
    dict
        ``"final_norm"`` (shape (S, k): ``‖e_T‖``, ``inf`` if diverged), ``"diverged"`` (bool, (S, k)),
        ``"loss"`` ((n_rec, S, k), only if ``record_every > 0``), ``"steps"`` (the recorded steps).

    Used in *Spectra by stochastic Lanczos quadrature and the on-the-fly learner* (part 5).
    """
    x = design(x)
    n, p = x.shape
    lrs = np.atleast_1d(real_array(lrs, "lrs", low=0.0))
    if lrs.ndim != 1:
        raise ValueError(f"lrs must be a 1-d array, got shape {lrs.shape}")
    betas = real_array(betas, "betas", low=0.0, high=1.0, high_open=True)
    try:
        betas = np.broadcast_to(betas, lrs.shape)
    except ValueError:
        raise ValueError(f"betas (shape {betas.shape}) must broadcast to lrs's shape {lrs.shape}") from None
    batch_size = integer(batch_size, "batch_size", low=1, high=n)
    steps = integer(steps, "steps")
    record_every = integer(record_every, "record_every", low=0)
    blowup = real_scalar(blowup, "blowup", low=0.0, low_open=True)
    seed_arr = np.atleast_1d(real_array(seeds, "seeds"))
    if seed_arr.ndim != 1 or seed_arr.size == 0 or np.any(seed_arr != np.round(seed_arr)) or np.any(seed_arr < 0):
        raise ValueError(f"seeds={seeds!r} must be a non-empty sequence of integers >= 0")
    seeds = [int(s) for s in seed_arr]
    h = x.T @ x / n
    S, k = len(seeds), lrs.size
    e = np.broadcast_to(np.ones((1, p, 1)) / np.sqrt(p), (S, p, k)).copy()
    e_prev = e.copy()
    dead = np.zeros((S, k), dtype=bool)
    idx = None
    if batch_size < n:
        idx = np.stack([np.random.default_rng([s, int(batch_size)]).integers(n, size=(steps, batch_size))
                        for s in seeds], axis=1)  # (steps, S, B)
    rec, rec_steps = [], []
    a, bt = lrs[None, None, :], betas[None, None, :]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows before it is frozen
        for t in range(steps):
            if idx is None:
                g = h @ e
            else:
                xb = x[idx[t]]
                g = np.swapaxes(xb, 1, 2) @ (xb @ e) / batch_size
            e, e_prev = e - a * g + bt * (e - e_prev), e
            nrm = np.linalg.norm(e, axis=1)
            bad = ~np.isfinite(nrm) | (nrm > blowup)
            if bad.any():
                dead |= bad
                mask = np.broadcast_to(dead[:, None, :], e.shape)
                e[mask] = 0.0
                e_prev[mask] = 0.0
            if record_every and (t + 1) % record_every == 0:
                loss = 0.5 * np.einsum("spk,spk->sk", e, h @ e)
                rec.append(np.where(dead, np.inf, loss))
                rec_steps.append(t + 1)
    final = np.where(dead, np.inf, np.linalg.norm(e, axis=1))
    out = {"final_norm": final, "diverged": dead}
    if record_every:
        out["loss"] = np.array(rec)
        out["steps"] = np.array(rec_steps)
    return out
