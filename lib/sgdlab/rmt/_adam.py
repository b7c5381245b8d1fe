"""Largest usable learning rate of Adam and SGD on noisy least squares, as a function of the batch size.

Adam's step ``α m̂/(√v̂ + ε)`` is bounded, so Adam rarely *diverges*: past its stable range the loss
settles on a high plateau instead. The chapter *Adaptive methods*
therefore measures the **largest usable learning rate**: the largest ``α`` whose time-averaged excess
loss at the end of a fixed budget of steps is at most ``ratio`` times the noise floor (the minimum of
the training loss). Three pieces:

- :func:`lr_sweep_least_squares` — Adam or SGD on ``L(w) = (1/2N) Σ_n (x_nᵀw − y_n)²`` for a grid of
  (batch size, learning rate, seed), vectorised over learning rates and seeds (one batched matrix
  product per batch size and step), with common random numbers: every learning rate of one
  (batch size, seed) sees the same batches;
- :func:`largest_usable_lr` — the crossing of the criterion above the best learning rate, interpolated
  log-linearly between grid points;
- :func:`ms_excess_ratio` / :func:`ms_usable_lr` — the exact stationary excess-to-floor ratio of SGD
  with Gaussian features, ``F/(1 − F)`` with ``F(α) = (α/B) Σ_i λ_i/(2 − αλ_i(1 + 1/B))``, and the
  resulting predictions for SGD and, with Adam's second moment frozen at its stationary value, for
  Adam (:func:`adam_usable_lr_frozen`): ``α_Adam(B) = √(2(1 + ratio)L_min/B) · α_SGD(B; C)`` with ``C`` the
  correlation matrix of the features — ``∝ √B`` wherever ``α_SGD ∝ B``.

Reference: Granziol, Zohren & Roberts (JMLR 2022), square-root scaling of Adam's learning rate (a
reconstruction). The frozen-preconditioner prediction is our derivation, not the paper's.
"""
from __future__ import annotations

import numpy as np

from ._scaling import _batch_array, _batch_ints
from ._validate import design, eigs_psd, integer, real_array, real_scalar

_OPTIMIZERS = ("adam", "sgd")


def _int_positive(name: str, value) -> int:
    return integer(value, name)


def lr_sweep_least_squares(
    x, y, batch_sizes, lrs, *, optimizer: str = "adam", steps: int = 3000, average_last: float = 0.25,
    seeds=(0, 1, 2), betas=(0.9, 0.999), eps: float = 1e-8, w0=None, record_every: int = 10,
    blowup: float = 1e8,
) -> dict:
    """Run Adam or SGD on least squares for every (batch size, learning rate, seed) and report the loss.

    Parameters
    ----------
    x : array_like, shape (N, P)
        Features.
    y : array_like, shape (N,)
        Targets.
    batch_sizes : array_like of int, shape (m,)
        Batches are drawn with replacement; batch size ``B`` and seed ``s`` use the stream
        ``default_rng([s, B])`` (shared by all learning rates).
    lrs : array_like, shape (k,) or (m, k)
        Learning rates (the same for every batch size, or one row per batch size).
    optimizer : {"adam", "sgd"}
        ``"adam"``: Kingma & Ba's update with bias correction (``torch.optim.Adam``'s arithmetic);
        ``"sgd"``: plain SGD.
    steps : int
        Steps per run.
    average_last : float
        The excess loss is averaged over the last ``average_last`` fraction of the steps (recorded
        every ``record_every`` steps), which smooths the stationary fluctuations.
    seeds : sequence of int
    betas, eps
        Adam's hyper-parameters.
    w0 : array_like, shape (P,), optional
        Common starting point (default: zeros).
    blowup : float
        A run whose excess loss exceeds ``blowup`` times the initial excess loss is declared diverged
        (excess ``inf``) and frozen.

    Returns
    -------
    dict
        ``"excess"`` (shape (m, k, S): time-averaged ``L(w) − L_min``, ``inf`` if diverged),
        ``"loss_min"`` (float, ``L_min = L(ŵ)``), ``"diverged"`` (bool, (m, k, S)), ``"lrs"`` ((m, k)),
        ``"batch_sizes"`` ((m,)), ``"initial_excess"`` (float).

    References
    ----------
    Kingma & Ba (ICLR 2015), Algorithm 1. Used in *Adaptive methods* (part 5) for claim P5.C4.
    """
    if not isinstance(optimizer, str) or optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r} is unknown; allowed: {', '.join(_OPTIMIZERS)}")
    x = design(x)
    y = real_array(y, "y")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) (one target per row of x), got {y.shape}")
    steps = _int_positive("steps", steps)
    record_every = _int_positive("record_every", record_every)
    average_last = real_scalar(average_last, "average_last", low=0.0, low_open=True, high=1.0)
    b_arr = real_array(betas, "betas", ndim=1, low=0.0, high=1.0, high_open=True)
    if b_arr.shape != (2,):
        raise ValueError(f"betas={betas!r} must be a pair (beta1, beta2) in [0, 1)")
    b1, b2 = (float(b) for b in b_arr)
    eps = real_scalar(eps, "eps", low=0.0)
    blowup = real_scalar(blowup, "blowup", low=1.0, low_open=True)
    seed_arr = np.atleast_1d(real_array(seeds, "seeds", ndim=None))
    if seed_arr.ndim != 1 or seed_arr.size == 0 or np.any(seed_arr != np.round(seed_arr)) or np.any(seed_arr < 0):
        raise ValueError(f"seeds={seeds!r} must be a non-empty sequence of integers >= 0")
    seeds = [int(s) for s in seed_arr]
    n, p = x.shape
    bs = np.atleast_1d(_batch_ints(batch_sizes, "batch_sizes"))
    if bs.ndim != 1:
        raise ValueError(f"batch_sizes must be an integer or a 1-d array, got shape {bs.shape}")
    lrs = np.atleast_1d(real_array(lrs, "lrs", low=0.0, low_open=True))
    if lrs.ndim == 1:
        lrs = np.broadcast_to(lrs[None, :], (bs.size, lrs.size))
    if lrs.ndim != 2 or lrs.shape[0] != bs.size or lrs.shape[1] == 0:
        raise ValueError(f"lrs must have shape (k,) or ({bs.size}, k) with k >= 1, got {lrs.shape}")
    k, S = lrs.shape[1], len(seeds)
    w0 = np.zeros(p) if w0 is None else real_array(w0, "w0")
    if w0.shape != (p,):
        raise ValueError(f"w0 must have shape ({p},), got {w0.shape}")

    h = x.T @ x / n
    w_hat = np.linalg.lstsq(x, y, rcond=None)[0]
    loss_min = 0.5 * float(np.mean((x @ w_hat - y) ** 2))
    e0 = w0 - w_hat
    init_excess = 0.5 * float(e0 @ h @ e0)
    limit = blowup * max(init_excess, loss_min)

    first_rec = int(np.floor(steps * (1 - average_last)))
    rec_steps = [t for t in range(steps) if t >= first_rec and (t + 1 - first_rec) % record_every == 0]
    if not rec_steps:
        rec_steps = [steps - 1]
    rec_set = set(rec_steps)

    # state per batch size: w (S, P, k), Adam moments, lr array (1, 1, k)
    ws, ms, vs, idxs, lr_b, acc, dead = [], [], [], [], [], [], []
    for i, b in enumerate(bs):
        ws.append(np.broadcast_to(w0[None, :, None], (S, p, k)).copy())
        ms.append(np.zeros((S, p, k)))
        vs.append(np.zeros((S, p, k)))
        idxs.append(np.stack([np.random.default_rng([s, int(b)]).integers(n, size=(steps, b)) for s in seeds],
                             axis=1))  # (steps, S, B)
        lr_b.append(lrs[i][None, None, :])
        acc.append(np.zeros((S, k)))
        dead.append(np.zeros((S, k), dtype=bool))
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows before it is frozen
        for t in range(steps):
            bc1, bc2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
            for i, b in enumerate(bs):
                xb = x[idxs[i][t]]  # (S, B, P)
                r = xb @ ws[i] - y[idxs[i][t]][:, :, None]  # (S, B, k)
                g = np.swapaxes(xb, 1, 2) @ r / b  # (S, P, k)
                if optimizer == "sgd":
                    ws[i] -= lr_b[i] * g
                else:
                    ms[i] = b1 * ms[i] + (1 - b1) * g
                    vs[i] = b2 * vs[i] + (1 - b2) * g * g
                    ws[i] -= lr_b[i] * (ms[i] / bc1) / (np.sqrt(vs[i] / bc2) + eps)
                if (t + 1) % record_every == 0 or t in rec_set:
                    e = ws[i] - w_hat[None, :, None]
                    with np.errstate(over="ignore", invalid="ignore"):
                        ex = 0.5 * np.einsum("spk,spk->sk", e, h @ e)
                    bad = ~np.isfinite(ex) | (ex > limit)
                    if bad.any():
                        dead[i] |= bad
                        ws[i][np.broadcast_to(dead[i][:, None, :], ws[i].shape)] = 0.0
                    if t in rec_set:
                        acc[i] += np.where(dead[i], 0.0, ex)
    excess = np.empty((bs.size, k, S))
    diverged = np.empty((bs.size, k, S), dtype=bool)
    for i in range(bs.size):
        avg = acc[i] / len(rec_steps)
        excess[i] = np.where(dead[i], np.inf, avg).T
        diverged[i] = dead[i].T
    return {"excess": excess, "loss_min": loss_min, "diverged": diverged, "lrs": np.array(lrs),
            "batch_sizes": bs, "initial_excess": init_excess}


def largest_usable_lr(lrs, excess, threshold) -> dict:
    """Largest learning rate whose excess loss stays below ``threshold``, interpolated between grid points.

    Starting from the best grid point (smallest excess), the first grid point above it whose excess
    exceeds ``threshold`` ends the usable range; the crossing is located by linear interpolation of
    ``log(excess)`` in ``log(lr)`` between the last usable and the first unusable point (at the last
    usable point when the next one diverged).

    Parameters
    ----------
    lrs : array_like, shape (k,) or (..., k)
        Increasing learning rates.
    excess : array_like, shape (..., k)
        Excess losses (``inf`` for diverged runs).
    threshold : float or array_like broadcastable to ``excess.shape[:-1]``

    Returns
    -------
    dict
        ``"lr"`` (shape ``excess.shape[:-1]``; ``nan`` if no grid point is usable), ``"at_top"`` (bool:
        the top of the grid was still usable, so ``"lr"`` is only a lower bound), ``"none"`` (bool: no
        usable point).

    Used in *Adaptive methods* (part 5).
    """
    excess = real_array(excess, "excess", finite=False)
    if excess.ndim == 0 or excess.shape[-1] == 0:
        raise ValueError(f"excess must have a non-empty last axis (one value per learning rate), got {excess.shape}")
    lrs = real_array(lrs, "lrs", low=0.0, low_open=True)
    try:
        lrs = np.broadcast_to(lrs, excess.shape)
    except ValueError:
        raise ValueError(f"lrs (shape {lrs.shape}) must broadcast to excess's shape {excess.shape}") from None
    if np.any(np.diff(lrs, axis=-1) <= 0):
        raise ValueError("lrs must be strictly increasing along the last axis")
    thr = real_array(threshold, "threshold", low=0.0, low_open=True)
    try:
        thr = np.broadcast_to(thr, excess.shape[:-1])
    except ValueError:
        raise ValueError(f"threshold (shape {thr.shape}) must broadcast to {excess.shape[:-1]}") from None
    flat_e = excess.reshape(-1, excess.shape[-1])
    flat_l = lrs.reshape(-1, excess.shape[-1])
    flat_t = thr.reshape(-1)
    out = np.full(flat_e.shape[0], np.nan)
    at_top = np.zeros(flat_e.shape[0], dtype=bool)
    none = np.zeros(flat_e.shape[0], dtype=bool)
    k = excess.shape[-1]
    for r in range(flat_e.shape[0]):
        e, lr, t = flat_e[r], flat_l[r], flat_t[r]
        best = int(np.argmin(np.where(np.isfinite(e), e, np.inf)))
        if not e[best] <= t:
            none[r] = True
            continue
        j = best
        while j + 1 < k and e[j + 1] <= t:
            j += 1
        if j == k - 1:
            out[r], at_top[r] = lr[j], True
            continue
        lo_e, hi_e = e[j], e[j + 1]
        if not np.isfinite(hi_e) or lo_e <= 0:
            out[r] = lr[j]
            continue
        s = (np.log(t) - np.log(lo_e)) / (np.log(hi_e) - np.log(lo_e))
        out[r] = np.exp(np.log(lr[j]) + s * (np.log(lr[j + 1]) - np.log(lr[j])))
    shape = excess.shape[:-1]
    return {"lr": out.reshape(shape), "at_top": at_top.reshape(shape), "none": none.reshape(shape)}


def ms_excess_ratio(lr, batch_size, eigs) -> np.ndarray:
    """Stationary excess loss over the noise floor of SGD on least squares with Gaussian features.

    With ``x ~ N(0, H)``, label noise of variance ``σ²`` and batches drawn with replacement, the
    stationary ``S = Σ_i λ_i E[e_i²]`` solves ``S = (S + σ²) F`` with
    ``F(α) = (α/B) Σ_i λ_i/(2 − αλ_i(1 + 1/B))``, so ``(L − L_min)/L_min = F/(1 − F)`` (``inf`` at and
    beyond the mean-square threshold ``F = 1``, or where a mode is itself unstable).

    Parameters
    ----------
    lr, batch_size : array_like (broadcast together)
    eigs : array_like, shape (P,)
        Eigenvalues of ``H`` (``≥ 0``).

    References
    ----------
    Our derivation, extending the mean-square threshold of :func:`ms_threshold` with label noise.
    Used in *Adaptive methods* (part 5).
    """
    lam = eigs_psd(eigs, one_positive=False)
    a = real_array(lr, "lr", low=0.0)
    b = _batch_array(batch_size)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(f"lr (shape {a.shape}) and batch_size (shape {b.shape}) must broadcast together") from None
    c = 1 + 1 / b
    den = 2 - a[..., None] * lam * c[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (a / b)[..., None] * lam / den
        bad = np.any(den <= 0, axis=-1)
        f = f.sum(axis=-1)
        ratio = f / (1 - f)
    return np.where(bad | (f >= 1), np.inf, ratio)


def ms_usable_lr(batch_size, eigs, *, ratio: float = 1.0, tol: float = 1e-13) -> np.ndarray:
    """SGD's learning rate at which the stationary excess loss equals ``ratio`` times the floor.

    The root of ``F(α) = ratio/(1 + ratio)`` below the mean-square threshold (``F = 1``), by bisection
    vectorised over ``batch_size``; ``≈ (ratio/(1 + ratio)) · 2B/tr H`` for ``B ≪ tr H/λ_max``.

    Parameters
    ----------
    batch_size : array_like
    eigs : array_like, shape (P,)
        Eigenvalues of ``H`` (at least one ``> 0``).
    ratio : float
        Allowed excess loss relative to the floor (``> 0``).

    References
    ----------
    Our derivation (see :func:`ms_excess_ratio`). Used in *Adaptive methods* (part 5).
    """
    lam = eigs_psd(eigs)
    ratio = real_scalar(ratio, "ratio", low=0.0, low_open=True)
    tol = real_scalar(tol, "tol", low=0.0, low_open=True, high=1.0, high_open=True)
    b = _batch_array(batch_size)
    target = ratio / (1 + ratio)
    c = 1 + 1 / b
    lo = np.zeros_like(b)
    hi = 2 / (lam.max() * c)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f = (mid / b)[..., None] * lam / (2 - mid[..., None] * lam * c[..., None])
        over = f.sum(axis=-1) > target
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
        if np.all(hi - lo <= tol * hi):
            break
    return 0.5 * (lo + hi)


def adam_usable_lr_frozen(batch_size, cov, loss_min: float, *, ratio: float = 1.0) -> np.ndarray:
    """Adam's usable learning rate with its second moment frozen at the stationary value (our model).

    Near the noise floor Adam's second moment is ``v_j ≈ E[g_j²] ≈ 2L H_jj/B`` (gradient noise
    dominates the mean; ``ε ≪ √v``; momentum ignored at small ``αλ``). With ``L = (1 + ratio) L_min`` at
    the edge of usability, Adam is SGD preconditioned by ``D = diag(√B/√(2(1 + ratio)L_min H_jj))``, i.e.
    SGD on features ``D^{1/2}x`` whose covariance has the eigenvalues of ``√(B/(2(1+ratio)L_min)) C``
    (``C`` = correlation matrix of ``H``). Hence

    ``α_Adam(B) = √(2(1 + ratio)L_min/B) · α_SGD(B; eig C)``

    with ``α_SGD`` from :func:`ms_usable_lr`: ``∝ √B`` below ``B* = tr C/λ_max(C)`` and ``∝ 1/√B`` above.

    Parameters
    ----------
    batch_size : array_like
    cov : array_like, shape (P, P)
        ``H`` (the feature second-moment matrix).
    loss_min : float
        The noise floor ``L_min`` (> 0).
    ratio : float
        As in :func:`ms_usable_lr`.

    References
    ----------
    Granziol, Zohren & Roberts (JMLR 2022) derive ``√B`` scaling from ``v ≈ s_g²/B`` (our reconstruction);
    this closed form is our derivation. Used in *Adaptive methods* (part 5).
    """
    h = real_array(cov, "cov", ndim=2)
    if h.shape[0] != h.shape[1] or h.shape[0] == 0 or np.any(np.diag(h) <= 0):
        raise ValueError(f"cov must be a non-empty square matrix with a positive diagonal, got shape {h.shape}")
    if not np.allclose(h, h.T, rtol=1e-10, atol=0.0):
        raise ValueError("cov must be symmetric")
    loss_min = real_scalar(loss_min, "loss_min", low=0.0, low_open=True)
    ratio = real_scalar(ratio, "ratio", low=0.0, low_open=True)
    d = 1 / np.sqrt(np.diag(h))
    corr = np.linalg.eigvalsh(d[:, None] * h * d[None, :])
    corr = np.clip(corr, 0.0, None)
    b = _batch_array(batch_size)
    return np.sqrt(2 * (1 + ratio) * loss_min / b) * ms_usable_lr(b, corr, ratio=ratio)
