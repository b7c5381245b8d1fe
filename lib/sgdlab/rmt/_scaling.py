"""Largest stable learning rate as a function of the batch size.

Three kinds of threshold, from the paper's heuristic to exact statements for least squares:

- the paper's rule ``α_max(B) = 2/λ′(B)`` with ``λ′ = λ + Pσ²(1/B − 1/N)/λ`` (:func:`max_lr_sgd`),
  its crossover batch ``B* = Pσ²/λ²`` (:func:`critical_batch_size`) and Adam's version
  (:func:`max_lr_adam`);
- the exact **mean-square** threshold of SGD on least squares: the ``α`` where the second-moment
  recursion ``M′ = M − α(HM + MH) + α² E[H_B M H_B]`` has spectral radius 1 — a closed form for
  Gaussian features (:func:`ms_threshold`) and a generalised eigenproblem for a finite data set
  (:func:`ms_threshold_empirical`);
- the **almost-sure** threshold: the ``α`` where the top Lyapunov exponent of the random product
  ``Π_t (I − α H_{B_t})`` crosses zero, found by multisection with common random numbers, all batch
  sizes advanced in the same time loop (:func:`lyapunov_threshold`);
- and the heuristic ``2/E[λ_max(H_B)]`` (:func:`expected_top_eig`).

Used by the chapters *Learning rate versus batch size (SGD)* and *Adaptive methods*.
"""
from __future__ import annotations

import numpy as np

from ._laws import _positive
from ._validate import design, eigs_psd, integer, integer_array, real_array, real_scalar, seed as _seed


def _batch_array(batch_size, n_samples=None, name: str = "batch_size") -> np.ndarray:
    b = real_array(batch_size, name, low=1.0)
    if b.size == 0:
        raise ValueError(f"{name} must not be empty")
    if n_samples is not None:
        n_samples = integer(n_samples, "n_samples")
        if np.any(b > n_samples):
            raise ValueError(f"{name} must be <= n_samples={n_samples}")
    return b


def _batch_ints(batch_size, name: str = "batch_size") -> np.ndarray:
    """Integer batch sizes >= 1 (any shape, non-empty) as an int array."""
    return integer_array(batch_size, name).astype(int)


# --------------------------------------------------------------------------- the paper's rule
def max_lr_sgd(batch_size, *, eig: float, dim: int, element_var: float, n_samples: int | None = None):
    """The paper's maximal SGD learning rate ``α_max(B) = 2/(λ + Pσ²(1/B − 1/N)/λ)``.

    Equals ``2Bλ/(Bλ² + Pσ²)`` for ``N = ∞``: linear in ``B`` below ``B* = Pσ²/λ²``, saturating at
    ``2/λ`` above.

    Parameters
    ----------
    batch_size : array_like
        ``B``.
    eig : float
        ``λ``, the top eigenvalue of the full Hessian.
    dim : int
        ``P``.
    element_var : float
        ``σ²``, per-sample variance of a Hessian element.
    n_samples : int, optional
        ``N`` (``None``: infinite).

    References
    ----------
    Granziol, Zohren & Roberts (JMLR 2022): linear scaling of the learning rate with the batch size,
    derived from the batch-Hessian theorem (reconstructed form). Used in
    *Learning rate versus batch size (SGD)*.
    """
    lam = _positive("eig", eig)
    dim = integer(dim, "dim")
    element_var = real_scalar(element_var, "element_var", low=0.0)
    b = _batch_array(batch_size, n_samples)
    inv_n = 0.0 if n_samples is None else 1.0 / n_samples
    return 2.0 / (lam + dim * element_var * (1.0 / b - inv_n) / lam)


def critical_batch_size(*, eig: float, dim: int, element_var: float) -> float:
    """Crossover batch ``B* = Pσ²/λ²`` of :func:`max_lr_sgd` (there ``α_max`` is half its limit)."""
    lam = _positive("eig", eig)
    dim = integer(dim, "dim")
    element_var = real_scalar(element_var, "element_var", low=0.0)
    return dim * element_var / lam**2


def max_lr_adam(
    batch_size, *, eig: float, dim: int, element_var: float, grad_var: float,
    grad_mean: float = 0.0, eps: float = 0.0,
):
    """Adam's maximal learning rate in the paper's model: ``2(√(m² + s_g²/B) + ε)/λ′(B)``.

    With ``m = ε = 0`` this grows as ``√B`` for ``B ≪ B*``, peaks at ``B*`` and falls as ``1/√B``
    beyond it (our reconstruction).

    References
    ----------
    Granziol, Zohren & Roberts (JMLR 2022): square-root scaling for adaptive methods (reconstructed
    derivation). Used in *Adaptive methods*.
    """
    grad_var = real_scalar(grad_var, "grad_var", low=0.0)
    grad_mean = real_scalar(grad_mean, "grad_mean")
    eps = real_scalar(eps, "eps", low=0.0)
    b = _batch_array(batch_size)
    sgd = max_lr_sgd(b, eig=eig, dim=dim, element_var=element_var)
    return (np.sqrt(grad_mean**2 + grad_var / b) + eps) * sgd


# --------------------------------------------------------------------------- mean-square thresholds
def ms_threshold(batch_size, eigs, *, tol: float = 1e-13) -> np.ndarray:
    """Exact mean-square stability threshold of SGD on least squares with Gaussian features.

    For ``x ~ N(0, H)`` and batches drawn with replacement, the second moment of the error obeys
    ``M′ = M − α(HM + MH) + α²[(1 + 1/B) HMH + (1/B) tr(HM) H]``. Its spectral radius reaches 1 at
    the root ``α_c < 2/(λ_max(1 + 1/B))`` of

    ``(α/B) Σ_i λ_i / (2 − αλ_i(1 + 1/B)) = 1``.

    The left side increases in ``α`` on that interval, so the root is found by bisection,
    vectorised over ``batch_size``. ``α_c ≈ 2B/tr H`` for small ``B`` and ``→ 2/λ_max`` for large ``B``.

    Parameters
    ----------
    batch_size : array_like
        ``B`` (any shape).
    eigs : array_like, shape (P,)
        Eigenvalues of ``H`` (``≥ 0``, at least one positive).

    References
    ----------
    Our derivation — not in the paper, which uses ``2/λ_max(H_B)``. Used in
    *Learning rate versus batch size (SGD)*.
    """
    lam = eigs_psd(eigs)
    b = _batch_array(batch_size)
    tol = real_scalar(tol, "tol", low=0.0, low_open=True, high=1.0, high_open=True)
    c = 1.0 + 1.0 / b
    lo = np.zeros_like(b)
    hi = 2.0 / (lam.max() * c)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f = mid[..., None] / b[..., None] * lam / (2.0 - mid[..., None] * lam * c[..., None])
        pos = f.sum(axis=-1) > 1.0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
        if np.all(hi - lo <= tol * hi):
            break
    return 0.5 * (lo + hi)


def _range_basis(x: np.ndarray, rtol: float = 1e-10):
    """Eigen-decomposition of ``H = XᵀX/N`` restricted to its range: (eigs, data in that basis)."""
    n = x.shape[0]
    lam, u = np.linalg.eigh(x.T @ x / n)
    keep = lam > rtol * lam.max()
    return lam[keep], x @ u[:, keep]


def ms_threshold_empirical(x, batch_size) -> np.ndarray:
    """Exact mean-square threshold of SGD on least squares over a finite data set (with replacement).

    With ``H = (1/N) Σ_n x_n x_nᵀ`` and ``K(M) = (1/N) Σ_n (x_nᵀ M x_n) x_n x_nᵀ``,
    ``E[H_B M H_B] = (1 − 1/B) HMH + (1/B) K(M)``. The recursion
    ``M′ = M − α A(M) + α² C_B(M)`` with ``A(M) = HM + MH`` has spectral radius 1 exactly when
    ``A(M) = α C_B(M)`` for a positive semi-definite ``M``, so

    ``1/α_c(B) = λ_max(A^{-1/2} C_B A^{-1/2})``,

    a symmetric eigenproblem on matrices (Frobenius inner product). ``A`` is diagonal in ``H``'s
    eigenbasis (``λ_i + λ_j``), and ``C_B`` is applied through the data, so each batch size costs a
    few dozen products of ``O(N r²)`` (``r`` = rank of ``H``) inside ARPACK.

    Parameters
    ----------
    x : array_like, shape (N, P)
        The features (the design matrix of ``L = (1/2N) Σ (x_nᵀw − y_n)²``).
    batch_size : array_like of int, shape (k,)

    References
    ----------
    Our derivation (generalised from Gaussian to empirical fourth moments);
    with ``K(M) = 2HMH + tr(HM)H`` it reduces to :func:`ms_threshold`. Used in
    *Learning rate versus batch size (SGD)*.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    x = design(x)
    bs = np.atleast_1d(_batch_array(batch_size))
    if bs.ndim != 1:
        raise ValueError(f"batch_size must be a number or a 1-d array, got shape {bs.shape}")
    if not np.any(x):
        raise ValueError("x must not be all zeros (H = 0 has no threshold)")
    lam, z = _range_basis(x)
    r, n = lam.size, z.shape[0]
    a_inv_sqrt = 1.0 / np.sqrt(lam[:, None] + lam[None, :])

    def apply(vec, b):
        m = vec.reshape(r, r) * a_inv_sqrt
        m = 0.5 * (m + m.T)  # K only sees the symmetric part; the top eigenvector is symmetric
        q = np.sum((z @ m) * z, axis=1)  # x_nᵀ M x_n
        out = (1 - 1 / b) * (lam[:, None] * m * lam[None, :]) + ((z * q[:, None]).T @ z) / (n * b)
        return (out * a_inv_sqrt).ravel()

    v0 = (np.diag(np.sqrt(lam)) + 1e-3).ravel()
    out = np.empty(bs.shape)
    for i, b in enumerate(bs):
        op = LinearOperator((r * r, r * r), matvec=lambda v, b=b: apply(v, b), dtype=np.float64)
        top, vec = eigsh(op, k=1, which="LA", v0=v0, tol=1e-9)
        out[i] = 1.0 / top[0]
        v0 = vec[:, 0]  # warm start for the next batch size
    return out


# --------------------------------------------------------------------------- heuristics
def expected_top_eig(x, batch_size, *, draws: int = 32, seed: int = 0) -> np.ndarray:
    """Monte Carlo ``E[λ_max(H_B)]`` of the batch Hessian ``H_B = (1/B) Σ_{n∈batch} x_n x_nᵀ``.

    Batches are drawn with replacement; the smaller of the ``B × B`` and ``P × P`` Gram matrices is
    diagonalised. Returns an array of shape ``(len(batch_size), draws)`` (one value per draw).

    Used in *Learning rate versus batch size (SGD)* for the heuristic ``2/E[λ_max(H_B)]``.
    """
    x = design(x)
    draws = integer(draws, "draws")
    bs = np.atleast_1d(_batch_ints(batch_size))
    if bs.ndim != 1:
        raise ValueError(f"batch_size must be an integer or a 1-d array, got shape {bs.shape}")
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    n, p = x.shape
    out = np.empty((bs.size, draws))
    for i, b in enumerate(bs):
        idx = rng.integers(n, size=(draws, b))
        y = x[idx]  # (draws, B, P)
        g = y @ y.transpose(0, 2, 1) if b <= p else y.transpose(0, 2, 1) @ y
        out[i] = np.linalg.eigvalsh(g / b)[:, -1]
    return out


# --------------------------------------------------------------------------- Lyapunov threshold
def _per_batch(name: str, value, shape) -> np.ndarray:
    arr = real_array(value, name)
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{name} must be an integer or one integer per batch size (shape {shape})") from None
    if np.any(arr != np.round(arr)):
        raise ValueError(f"{name}={value!r} must be integer(s)")
    return arr.astype(int)


def _lyapunov_args(x, batch_size, lrs, momentum, steps, burn, renorm_every):
    """Validate the arguments of :func:`lyapunov_exponents`; returns them in working form."""
    x = design(x)
    renorm_every = integer(renorm_every, "renorm_every")
    beta = real_scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    bs = np.atleast_1d(_batch_ints(batch_size))
    if bs.ndim != 1:
        raise ValueError(f"batch_size must be an integer or a 1-d array, got shape {bs.shape}")
    steps = _per_batch("steps", steps, bs.shape)
    burn = _per_batch("burn", burn, bs.shape)
    if np.any(steps < 1):
        raise ValueError(f"steps={steps!r} must be >= 1")
    if np.any((burn < 0) | (burn >= steps)):
        raise ValueError(f"burn={burn!r} must lie in [0, steps)")
    lrs = np.atleast_1d(real_array(lrs, "lrs", low=0.0))
    if lrs.ndim == 1:
        lrs = np.broadcast_to(lrs[None, :], (bs.size, lrs.size))
    if lrs.ndim != 2 or lrs.shape[0] != bs.size or lrs.shape[1] == 0:
        raise ValueError(f"lrs must have shape (k,) or ({bs.size}, k) with k >= 1, got {lrs.shape}")
    return x, bs, lrs, beta, steps, burn, renorm_every


def _lyapunov_rows(x, bs, lrs, row_seeds, beta, steps, burn, renorm_every) -> np.ndarray:
    """The time loop of :func:`lyapunov_exponents`, one row per (batch size, seed) pair.

    Row ``i`` uses the stream ``default_rng([row_seeds[i], bs[i]])``. A column whose state overflows
    float64 (or turns non-finite) is frozen and reported with exponent ``+inf``.
    """
    n, p = x.shape
    k = lrs.shape[1]
    es, prevs, idxs = [], [], []
    for b, t_b, s in zip(bs, steps, row_seeds):
        rng = np.random.default_rng([int(s), int(b)])
        e = rng.standard_normal((p, 1)) * np.ones((1, k))
        es.append(e / np.linalg.norm(e, axis=0))
        prevs.append(es[-1])
        idxs.append(rng.integers(n, size=(t_b, b)))
    acc = np.zeros((bs.size, k))
    dead = np.zeros((bs.size, k), dtype=bool)
    scales = lrs / bs[:, None]
    tiny = np.finfo(np.float64).tiny
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(int(steps.max())):
            for i in range(bs.size):
                if t >= steps[i]:
                    continue
                y = x[idxs[i][t]]
                e_prev = es[i]
                e = e_prev - (y.T @ (y @ e_prev)) * scales[i]
                if beta:
                    e += beta * (e_prev - prevs[i])
                if (t + 1) % renorm_every == 0 or t + 1 == burn[i] or t + 1 == steps[i]:
                    if beta:
                        nrm = np.sqrt(np.sum(e**2, axis=0) + np.sum(e_prev**2, axis=0))
                    else:
                        nrm = np.linalg.norm(e, axis=0)
                    bad = ~np.isfinite(nrm)
                    if bad.any():  # overflow: the exponent exceeds what float64 can follow
                        dead[i] |= bad
                        nrm = np.where(bad, 1.0, nrm)
                        e = np.where(bad, 0.0, e)
                        e_prev = np.where(bad, 0.0, e_prev)
                    nrm = np.maximum(nrm, tiny)
                    if t >= burn[i]:
                        acc[i] += np.log(nrm)
                    e = e / nrm
                    e_prev = e_prev / nrm
                es[i], prevs[i] = e, e_prev
    out = acc / (steps - burn)[:, None]
    return np.where(dead, np.inf, out)


def lyapunov_exponents(x, batch_size, lrs, *, momentum: float = 0.0, steps=1000, burn=200, seed: int = 0,
                       renorm_every: int = 5):
    """Top Lyapunov exponents of ``e ← (I − α H_{B_t}) e + β(e − e_prev)`` for several batch sizes and learning rates.

    With ``momentum`` β = 0 this is plain SGD; with β > 0 it is heavy-ball SGD, whose state is
    ``s_t = (e_t, e_{t−1})`` (the start is ``e_0 = e_{−1}``) and whose growth is measured on ``‖s_t‖``.

    All learning rates of one batch size see the same batches (common random numbers: batch size
    ``B`` uses the stream ``default_rng([seed, B])``) and the same start, so the estimates are
    smooth in ``α`` and reproducible. Batches are drawn with replacement. All batch sizes advance in
    one time loop (one ``B × P`` by ``P × k`` product per batch size and step).

    Parameters
    ----------
    x : array_like, shape (N, P)
        Features; ``H_B = (1/B) Σ_{n ∈ batch} x_n x_nᵀ``.
    batch_size : int or array_like of int, shape (m,)
    lrs : array_like, shape (k,) or (m, k)
        Learning rates ``>= 0`` (the same for every batch size, or one row per batch size).
    momentum : float
        Heavy-ball β in [0, 1) (used by the synthesis chapter's heavy-ball threshold).
    steps, burn : int or array_like of int, shape (m,)
        Steps per batch size, of which the first ``burn`` are discarded. With rare large samples
        (heavy tails), ``steps · B`` should be many times ``N``.
    seed : int
        Base seed (``>= 0``).
    renorm_every : int
        The state is renormalised every ``renorm_every`` steps (and at ``burn``); the logarithms of
        the norms add up to the same sum.

    Returns
    -------
    ndarray, shape (m, k) (or (k,) for a scalar ``batch_size``)
        ``(1/(steps − burn)) Σ_{burn ≤ t < steps} log(‖e_{t+1}‖/‖e_t‖)``; ``+inf`` where the state
        overflowed float64 between two renormalisations (divergence faster than float64 can follow),
        never NaN.

    Used by :func:`lyapunov_threshold` in *Learning rate versus batch size (SGD)*.
    """
    scalar = np.ndim(batch_size) == 0
    x, bs, lrs, beta, steps, burn, renorm_every = _lyapunov_args(x, batch_size, lrs, momentum, steps, burn,
                                                                 renorm_every)
    seed = _seed(seed)
    out = _lyapunov_rows(x, bs, lrs, np.full(bs.size, seed), beta, steps, burn, renorm_every)
    return out[0] if scalar else out


def _chain_seed(seed: int, chain: int) -> int:
    """Seed of chain ``chain`` of :func:`lyapunov_threshold` (chain 0 uses ``seed`` itself)."""
    if chain == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(chain)]).generate_state(1)[0])


def multisect_threshold(exponents, lo, hi, *, grid: int, rounds: int, widen: float, max_widen: int = 4) -> dict:
    """Per-row multisection for the first sign change of a stability exponent in ``α``.

    Parameters
    ----------
    exponents : callable
        ``exponents(lrs) -> array (m, grid)`` for log-spaced learning rates ``lrs`` of shape
        ``(m, grid)``, one row per case (batch size); positive means unstable.
    lo, hi : ndarray, shape (m,)
        Initial brackets; a side that does not bracket is widened by ``widen``× (at most
        ``max_widen`` times) before the first shrinking round.
    grid, rounds : int
        Points per round and number of shrinking rounds: the relative resolution is
        ``(hi/lo)^{1/(grid − 1)^rounds}``.

    Returns
    -------
    dict
        ``"lr"`` (geometric midpoint of the final bracket, ``nan`` where none was found), ``"lo"``
        (stable), ``"hi"`` (unstable).

    Notes
    -----
    Shared by :func:`lyapunov_threshold` (SGD) and :func:`sgdlab.synthesis.divergence_threshold`
    (heavy ball).
    """
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    frac = np.linspace(0.0, 1.0, grid)
    rows = np.arange(lo.size)
    found = np.zeros(lo.size, dtype=bool)
    widened, r = 0, 0
    while r < rounds:
        lrs = np.exp(np.log(lo)[:, None] + frac[None, :] * np.log(hi / lo)[:, None])
        unstable = np.asarray(exponents(lrs)) > 0
        first = np.where(unstable.any(axis=1), unstable.argmax(axis=1), grid)
        ok = (first > 0) & (first < grid)
        if r == 0 and not ok.all() and widened < max_widen:
            lo = np.where(first == 0, lo / widen, lo)
            hi = np.where(first == grid, hi * widen, hi)
            widened += 1
            continue
        if r == 0:
            found = ok
        idx = np.clip(first, 1, grid - 1)
        lo = np.where(ok, lrs[rows, idx - 1], lo)
        hi = np.where(ok, lrs[rows, idx], hi)
        r += 1
    return {"lr": np.where(found, np.sqrt(lo * hi), np.nan), "lo": lo, "hi": hi}


def lyapunov_threshold(
    x, batch_sizes, *, lo=None, hi=None, grid: int = 6, rounds: int = 3,
    steps=1000, burn=200, seed: int = 0, chains: int = 1, return_se: bool = False,
):
    """Largest learning rate with a negative top Lyapunov exponent of SGD on least squares.

    For each batch size the exponent is evaluated on ``grid`` log-spaced learning rates spanning a
    bracket (ends included), and the bracket shrinks to the first sign change; ``rounds`` rounds
    give a relative resolution of ``(hi/lo)^{1/(grid − 1)^rounds}``. The same batches are reused for
    every ``α`` (common random numbers), so the exponent is a fixed function of ``α`` per batch size.
    All batch sizes (and chains) advance in the same time loop and the brackets are updated as arrays
    over batch sizes and chains.

    Parameters
    ----------
    x : array_like, shape (N, P)
        Features; the loss is ``(1/2N) Σ (x_nᵀ w − y_n)²`` and the error ``e = w − w*`` obeys
        ``e ← (I − α H_B) e`` on noiseless targets.
    batch_sizes : array_like of int, shape (m,)
    lo, hi : array_like, optional
        Initial bracket per batch size (default ``[a/64, 4a]`` with ``a = min(2B/tr H, 2/λ_max)``).
        A side that does not bracket is widened by 16×, up to four times.
    grid, rounds : int
        Points per round (``>= 3``) and shrinking rounds (``>= 1``).
    steps, burn : int or array_like of int, shape (m,)
        See :func:`lyapunov_exponents`.
    seed : int
        Seed of chain 0 (``>= 0``); chain ``c > 0`` uses ``SeedSequence([seed, c])``.
    chains : int
        Independent chains (independent batches and starts) per batch size; each gets its own
        threshold. The default 1 is the single chain of earlier versions, with identical results.
    return_se : bool
        Also return the standard error of ``"lr"`` over the chains (``inf`` for one chain).

    Returns
    -------
    dict
        ``"lr"`` (shape (m,): the threshold, the mean over the chains; ``nan`` where no bracket was
        found, see ``"found"``), ``"lo"``, ``"hi"`` (final brackets: ``lo`` stable, ``hi`` unstable; shape
        (m,) for one chain, (chains, m) otherwise), ``"found"`` (bool, (m,): every chain bracketed the
        threshold). With ``return_se=True`` also ``"se"`` (shape (m,): the sample standard deviation
        of the chains' thresholds over ``√chains``) and ``"lr_chains"`` (shape (chains, m)).

    References
    ----------
    Stability of SGD as a product of random matrices: the quantity the
    paper's ``2/λ_max(H_B)`` rule stands in for. Used in *Learning rate versus batch size (SGD)*.
    """
    x = design(x)
    bs = np.atleast_1d(_batch_ints(batch_sizes, "batch_sizes"))
    if bs.ndim != 1:
        raise ValueError(f"batch_sizes must be an integer or a 1-d array, got shape {bs.shape}")
    grid = integer(grid, "grid", low=3)
    rounds = integer(rounds, "rounds")
    chains = integer(chains, "chains")
    seed = _seed(seed)
    if not isinstance(return_se, (bool, np.bool_)):
        raise ValueError(f"return_se={return_se!r} must be a bool")
    if not np.any(x):
        raise ValueError("x must not be all zeros (H = 0 has no threshold)")
    # validates steps and burn against the batch sizes
    _, _, _, _, steps_b, burn_b, _ = _lyapunov_args(x, bs, np.ones(1), 0.0, steps, burn, 5)
    n, p = x.shape
    h_eigs = np.linalg.eigvalsh(x.T @ x / n)
    ref = np.minimum(2 * bs / h_eigs.sum(), 2 / h_eigs.max())
    lo = ref / 64 if lo is None else _bracket(lo, "lo", bs.shape)
    hi = 4 * ref if hi is None else _bracket(hi, "hi", bs.shape)
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    if np.any(~(lo > 0)) or np.any(~(hi > lo)):
        raise ValueError("the bracket needs 0 < lo < hi")
    # rows: chain-major, (chains · m)
    rows_b = np.tile(bs, chains)
    row_seeds = np.repeat([_chain_seed(seed, c) for c in range(chains)], bs.size)
    steps_r, burn_r = np.tile(steps_b, chains), np.tile(burn_b, chains)
    res = multisect_threshold(
        lambda lrs: _lyapunov_rows(x, rows_b, lrs, row_seeds, 0.0, steps_r, burn_r, 5),
        np.tile(lo, chains), np.tile(hi, chains), grid=grid, rounds=rounds, widen=16.0,
    )
    lr_c = res["lr"].reshape(chains, bs.size)
    found = np.all(np.isfinite(lr_c), axis=0)
    if chains == 1:
        out = {"lr": res["lr"], "lo": res["lo"], "hi": res["hi"], "found": found}
    else:
        out = {"lr": lr_c.mean(axis=0), "lo": res["lo"].reshape(chains, bs.size),
               "hi": res["hi"].reshape(chains, bs.size), "found": found}
    if return_se:
        se = lr_c.std(axis=0, ddof=1) / np.sqrt(chains) if chains > 1 else np.full(bs.size, np.inf)
        out["se"] = np.where(found, se, np.inf)
        out["lr_chains"] = lr_c
    return out


def _bracket(value, name: str, shape) -> np.ndarray:
    arr = real_array(value, name, low=0.0, low_open=True)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{name} must be a number or one value per batch size (shape {shape})") from None
