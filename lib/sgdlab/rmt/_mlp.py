"""Exact Hessians of a one-hidden-layer tanh network with softmax cross-entropy, in closed form.

The batch Hessian of this network is a sum of Kronecker-structured per-sample terms, so the exact
``P × P`` Hessian of a batch costs a few matrix products with inner dimension ``B`` (about
``3 · 10⁶`` flops per sample for the 64-16-10 digits network) instead of ``P`` Hessian–vector
products. That makes dozens of exact batch Hessians affordable on a CPU.

Parameters are one flat float64 vector ``θ = (vec W̃₁, vec W̃₂)`` with the biases as last columns:
``W̃₁ = [W₁ | b₁]`` of shape ``(H, D + 1)`` and ``W̃₂ = [W₂ | b₂]`` of shape ``(K, H + 1)``, row-major.
The network is ``f(x) = W₂ tanh(W₁x + b₁) + b₂`` and the loss ``(1/B) Σ_i CE(f(x_i), y_i)``.

Per sample, with ``x̃ = (x, 1)``, ``h = tanh(W̃₁x̃)``, ``s = 1 − h²``, ``h̃ = (h, 1)``, ``p = softmax(f)``,
``r = p − e_y``, ``Λ = diag(p) − ppᵀ`` and ``M = W₂ diag(s)``, the Hessian is the Gauss–Newton part
``JᵀΛJ`` plus the residual ``Σ_k r_k ∇²f_k``:

- input–input block ``(Mᵀ Λ M + diag(c)) ⊗ x̃x̃ᵀ`` with ``c_j = (rᵀW₂)_j (−2 h_j s_j)``;
- input–output block ``[(MᵀΛ)_{jk} h̃_c + δ_{cj} s_j r_k] x̃_a`` at ``((j, a), (k, c))``;
- output–output block ``Λ ⊗ h̃h̃ᵀ``.

Used in the chapter *The batch Hessian as a spiked matrix* (claims P5.C2, P5.C6); checked against
``torch.func.hessian`` in ``tests/test_rmt_mlp.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import integer, integer_array, real_array, real_scalar, seed as _seed


@dataclass(frozen=True)
class TanhMLP:
    """Shape of the network ``D → H (tanh) → K``; ``dim`` is the number of parameters ``P``."""

    n_in: int
    n_hidden: int
    n_classes: int

    def __post_init__(self):
        for name in ("n_in", "n_hidden", "n_classes"):
            integer(getattr(self, name), name)

    @property
    def dim(self) -> int:
        return self.n_hidden * (self.n_in + 1) + self.n_classes * (self.n_hidden + 1)

    # ------------------------------------------------------------------ parameters
    def init(self, seed: int = 0) -> np.ndarray:
        """PyTorch's default ``nn.Linear`` initialisation: ``U(−1/√fan_in, 1/√fan_in)`` for weights and biases."""
        rng = np.random.default_rng(_seed(seed))
        w1 = rng.uniform(-1, 1, (self.n_hidden, self.n_in + 1)) / np.sqrt(self.n_in)
        w2 = rng.uniform(-1, 1, (self.n_classes, self.n_hidden + 1)) / np.sqrt(self.n_hidden)
        return np.concatenate([w1.ravel(), w2.ravel()])

    def unpack(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """``(W̃₁, W̃₂)`` views of the flat parameter vector."""
        theta = real_array(theta, "theta", finite=False)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},), got {theta.shape}")
        n1 = self.n_hidden * (self.n_in + 1)
        return (theta[:n1].reshape(self.n_hidden, self.n_in + 1),
                theta[n1:].reshape(self.n_classes, self.n_hidden + 1))

    def _check_data(self, x, y):
        x = real_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"x must have shape (n, {self.n_in}), got {x.shape}")
        y = real_array(y, "y")
        if y.shape != (x.shape[0],) or x.shape[0] < 1:
            raise ValueError("y must be a 1-d array of labels with one entry per row of x")
        if np.any(y != np.round(y)) or np.any((y < 0) | (y >= self.n_classes)):
            raise ValueError(f"y: labels must be integers in [0, {self.n_classes})")
        return x, y.astype(np.int64)

    def _forward(self, theta, x, y):
        w1, w2 = self.unpack(theta)
        xt = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
        h = np.tanh(xt @ w1.T)
        ht = np.concatenate([h, np.ones((x.shape[0], 1))], axis=1)
        f = ht @ w2.T
        f = f - f.max(axis=1, keepdims=True)
        p = np.exp(f)
        p /= p.sum(axis=1, keepdims=True)
        return w1, w2, xt, h, ht, f, p

    # ------------------------------------------------------------------ loss, gradient, Hessian
    def loss(self, theta, x, y) -> float:
        """Mean softmax cross-entropy."""
        x, y = self._check_data(x, y)
        *_, f, p = self._forward(theta, x, y)
        logz = np.log(np.exp(f).sum(axis=1))
        return float(np.mean(logz - f[np.arange(len(y)), y]))

    def grad(self, theta, x, y) -> np.ndarray:
        """Gradient of :meth:`loss` (back-propagation in closed form)."""
        x, y = self._check_data(x, y)
        w1, w2, xt, h, ht, f, p = self._forward(theta, x, y)
        r = p.copy()
        r[np.arange(len(y)), y] -= 1.0
        g2 = r.T @ ht / len(y)
        g1 = ((r @ w2[:, :-1]) * (1 - h**2)).T @ xt / len(y)
        return np.concatenate([g1.ravel(), g2.ravel()])

    def hessian(self, theta, x, y, *, gauss_newton: bool = False) -> np.ndarray:
        """Exact Hessian ``∇²(1/B) Σ_i CE(f(x_i), y_i)`` of the mean loss over the rows of ``x``.

        Parameters
        ----------
        gauss_newton : bool
            If true, return the generalised Gauss–Newton matrix ``(1/B) Σ_i J_iᵀ Λ_i J_i`` instead (the
            Hessian without the residual terms ``Σ_k r_k ∇²f_k``).

        Returns
        -------
        ndarray, shape (P, P)
        """
        x, y = self._check_data(x, y)
        gn = 0.0 if gauss_newton else 1.0
        w1, w2, xt, h, ht, f, p = self._forward(theta, x, y)
        b, d1 = xt.shape
        nh, k = self.n_hidden, self.n_classes
        s = 1 - h**2
        r = p.copy()
        r[np.arange(b), y] -= 1.0
        lam = p[:, :, None] * np.eye(k)[None] - p[:, :, None] * p[:, None, :]  # (B, K, K)
        m = w2[None, :, :nh] * s[:, None, :]  # (B, K, H): M_i = W2 diag(s_i)
        mt_lam = np.einsum("bkj,bkl->bjl", m, lam)  # (B, H, K): Mᵀ Λ
        g = np.einsum("bjl,blm->bjm", mt_lam, m)  # (B, H, H): Mᵀ Λ M
        c = (r @ w2[:, :nh]) * (-2.0 * h * s) * gn  # (B, H)
        g[:, np.arange(nh), np.arange(nh)] += c
        xx = (xt[:, :, None] * xt[:, None, :]).reshape(b, d1 * d1)
        n1 = nh * d1
        hess = np.empty((self.dim, self.dim))
        # input–input: Σ_i G_i ⊗ x̃x̃ᵀ
        ii = (g.reshape(b, nh * nh).T @ xx).reshape(nh, nh, d1, d1)
        hess[:n1, :n1] = ii.transpose(0, 2, 1, 3).reshape(n1, n1)
        # input–output: Σ_i x̃_a [(MᵀΛ)_{jk} h̃_c + δ_{cj} s_j r_k]
        e = mt_lam[:, :, :, None] * ht[:, None, None, :]  # (B, H, K, H+1)
        e[:, np.arange(nh), :, np.arange(nh)] += gn * (s[:, :, None] * r[:, None, :]).transpose(1, 0, 2)
        io = (xt.T @ e.reshape(b, -1)).reshape(d1, nh, k, nh + 1)
        io = io.transpose(1, 0, 2, 3).reshape(n1, k * (nh + 1))
        hess[:n1, n1:] = io
        hess[n1:, :n1] = io.T
        # output–output: Σ_i Λ_i ⊗ h̃h̃ᵀ
        hh = (ht[:, :, None] * ht[:, None, :]).reshape(b, -1)
        oo = (lam.reshape(b, k * k).T @ hh).reshape(k, k, nh + 1, nh + 1)
        hess[n1:, n1:] = oo.transpose(0, 2, 1, 3).reshape(k * (nh + 1), k * (nh + 1))
        return hess / b

    def per_sample_hessian_sqnorms(self, theta, x, y) -> np.ndarray:
        """``‖H_i‖_F²`` of every single-sample Hessian, from the Kronecker structure (``O(P)`` each).

        With the exact identity ``(1/N) Σ_i ‖H_i − H‖_F² = (1/N) Σ_i ‖H_i‖_F² − ‖H‖_F²`` this gives
        the per-sample variance of the Hessian, hence ``E‖H_B − H‖_F²`` for every ``B``
        (:func:`batch_hessian_fluctuation`).
        """
        x, y = self._check_data(x, y)
        w1, w2, xt, h, ht, f, p = self._forward(theta, x, y)
        b = xt.shape[0]
        nh, k = self.n_hidden, self.n_classes
        s = 1 - h**2
        r = p.copy()
        r[np.arange(b), y] -= 1.0
        lam = p[:, :, None] * np.eye(k)[None] - p[:, :, None] * p[:, None, :]
        m = w2[None, :, :nh] * s[:, None, :]
        mt_lam = np.einsum("bkj,bkl->bjl", m, lam)
        g = np.einsum("bjl,blm->bjm", mt_lam, m)
        g[:, np.arange(nh), np.arange(nh)] += (r @ w2[:, :nh]) * (-2.0 * h * s)
        e = mt_lam[:, :, :, None] * ht[:, None, None, :]
        e[:, np.arange(nh), :, np.arange(nh)] += (s[:, :, None] * r[:, None, :]).transpose(1, 0, 2)
        x2 = np.sum(xt**2, axis=1)
        h2 = np.sum(ht**2, axis=1)
        return (np.sum(g**2, axis=(1, 2)) * x2**2 + 2 * x2 * np.sum(e**2, axis=(1, 2, 3))
                + np.sum(lam**2, axis=(1, 2)) * h2**2)

    def per_sample_hvps(self, theta, x, y, v, *, gauss_newton: bool = False) -> np.ndarray:
        """``H_i v`` for every single-sample Hessian ``H_i`` (or Gauss–Newton matrix), from the Kronecker structure.

        Costs ``O(P)`` per sample and never forms an ``H_i``.

        Parameters
        ----------
        v : array_like, shape (P,)
        gauss_newton : bool
            Use the per-sample Gauss–Newton matrices ``J_iᵀ Λ_i J_i`` instead of the Hessians.

        Returns
        -------
        ndarray, shape (N, P)
            Row ``i`` is ``H_i v``; their mean is ``H v``.

        Used in *The batch Hessian as a spiked matrix* (the field-dependent shift, :func:`field_dependent_shift`).
        """
        x, y = self._check_data(x, y)
        w1, w2, xt, h, ht, f, p = self._forward(theta, x, y)
        v1, v2 = self.unpack(v)
        b = xt.shape[0]
        nh, k = self.n_hidden, self.n_classes
        gn = 0.0 if gauss_newton else 1.0
        s = 1 - h**2
        r = p.copy()
        r[np.arange(b), y] -= 1.0
        lam = p[:, :, None] * np.eye(k)[None] - p[:, :, None] * p[:, None, :]
        m = w2[None, :, :nh] * s[:, None, :]  # (B, K, H)
        mt_lam = np.einsum("bkj,bkl->bjl", m, lam)  # (B, H, K)
        g = np.einsum("bjl,blm->bjm", mt_lam, m)  # (B, H, H)
        g[:, np.arange(nh), np.arange(nh)] += gn * (r @ w2[:, :nh]) * (-2.0 * h * s)
        a1 = xt @ v1.T  # (B, H): V1 x̃
        a2 = ht @ v2.T  # (B, K): V2 h̃
        # E[j, k, c] = (MᵀΛ)_{jk} h̃_c + δ_{cj} s_j r_k
        ev2 = np.einsum("bjk,bk->bj", mt_lam, a2) + gn * s * (r @ v2[:, :nh])  # Σ_{k,c} E[j,k,c] V2[k,c]
        out1 = (np.einsum("bjl,bl->bj", g, a1) + ev2)[:, :, None] * xt[:, None, :]  # (B, H, D+1)
        eta = np.einsum("bjk,bj->bk", mt_lam, a1)  # Σ_j (MᵀΛ)_{jk} (V1x̃)_j
        out2 = eta[:, :, None] * ht[:, None, :]
        out2[:, :, :nh] += gn * r[:, :, None] * (s * a1)[:, None, :]
        out2 += np.einsum("bkl,bl->bk", lam, a2)[:, :, None] * ht[:, None, :]
        return np.concatenate([out1.reshape(b, -1), out2.reshape(b, -1)], axis=1)

    def train_sgd(self, theta, x, y, *, lr: float, batch_size: int, epochs: int, seed: int = 0) -> np.ndarray:
        """Plain SGD with random reshuffling for ``epochs`` epochs; returns the new parameters."""
        x, y = self._check_data(x, y)
        lr = real_scalar(lr, "lr", low=0.0, low_open=True)
        batch_size = integer(batch_size, "batch_size")
        epochs = integer(epochs, "epochs", low=0)
        rng = np.random.default_rng(_seed(seed))
        theta = real_array(theta, "theta").copy()
        self.unpack(theta)  # checks the shape
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(epochs):
                perm = rng.permutation(len(y))
                for i in range(0, len(y), batch_size):
                    idx = perm[i:i + batch_size]
                    theta -= lr * self.grad(theta, x[idx], y[idx])
                    if not np.all(np.isfinite(theta)):  # diverged: report +-inf, never NaN
                        return np.where(np.isnan(theta), np.inf, theta)
        return theta


def batch_hessian_fluctuation(batch_size, *, per_sample_sqnorm_mean: float, full_sqnorm: float, n_samples: int):
    """Exact ``E‖H_B − H‖_F²`` for batches drawn without replacement.

    ``E‖H_B − H‖_F² = (1/B − 1/N) · N/(N − 1) · [(1/N) Σ_i ‖H_i‖_F² − ‖H‖_F²]`` — elementary sampling
    theory applied entry by entry; the bracket is ``(1/N) Σ_i ‖H_i − H‖_F²``.

    Parameters
    ----------
    batch_size : array_like
        ``B`` (``1 ≤ B ≤ N``).
    per_sample_sqnorm_mean : float
        ``(1/N) Σ_i ‖H_i‖_F²`` (e.g. the mean of :meth:`TanhMLP.per_sample_hessian_sqnorms`).
    full_sqnorm : float
        ``‖H‖_F²`` of the full-data Hessian.
    n_samples : int
        ``N`` (``≥ 2``).

    Used in *The batch Hessian as a spiked matrix* (claim P5.C2).
    """
    n_samples = integer(n_samples, "n_samples", low=2)
    b = real_array(batch_size, "batch_size")
    if np.any((b < 1) | (b > n_samples)):
        raise ValueError(f"batch_size must lie in [1, n_samples={n_samples}]")
    per_sample_sqnorm_mean = real_scalar(per_sample_sqnorm_mean, "per_sample_sqnorm_mean", low=0.0)
    full_sqnorm = real_scalar(full_sqnorm, "full_sqnorm", low=0.0)
    var = per_sample_sqnorm_mean - full_sqnorm
    if var < -1e-9 * max(1.0, abs(per_sample_sqnorm_mean)):
        raise ValueError("per_sample_sqnorm_mean must be >= full_sqnorm (a mean of squares)")
    return (1 / b - 1 / n_samples) * n_samples / (n_samples - 1) * max(var, 0.0)


def sample_batch_hessians(net: TanhMLP, theta, x, y, batch_sizes, *, draws: int | list = 16,
                          spectrum_draws: int = 4, gauss_newton: bool = False, seed: int = 0) -> dict:
    """Exact batch Hessians ``H_B`` on batches drawn without replacement, and what part 5 measures on them.

    For each batch size and draw: the extreme eigenvalues of ``H_B`` and ``‖H_B − H‖_F²``; for the first
    ``spectrum_draws`` draws also the full spectrum of the fluctuation ``ε = H_B − H`` (for the
    free-addition prediction :func:`~sgdlab.rmt.free_addition_outlier`). Eigenvalues come from
    LAPACK (``numpy.linalg.eigvalsh``), exactly.

    Parameters
    ----------
    net, theta : TanhMLP and its parameters.
    x, y : the full data set (``N`` rows); ``H`` is the Hessian over all of it.
    batch_sizes : sequence of int
    draws : int or sequence of int
        Draws per batch size.
    gauss_newton : bool
        Sample batch Gauss–Newton matrices instead of batch Hessians (``"hessian"`` is then the full GGN).

    Returns
    -------
    dict
        ``"eigs"`` (spectrum of ``H``), ``"top"``, ``"bottom"``, ``"fro2"``, ``"second_order"``
        (:func:`second_order_shift`) (lists of arrays, one per batch size), ``"noise_eigs"`` (list of ``(spectrum_draws, P)`` arrays), ``"top_of_drawn"``
        (``λ_max(H_B)`` of those draws), ``"hessian"`` (``H``) and ``"vecs"`` (its eigenvectors).

    Used in *The batch Hessian as a spiked matrix* (claims P5.C2, P5.C6).
    """
    if not isinstance(net, TanhMLP):
        raise ValueError(f"net must be a TanhMLP, got {type(net).__name__}")
    x, y = net._check_data(x, y)
    net.unpack(theta)
    n = len(y)
    bs_arr = np.atleast_1d(integer_array(batch_sizes, "batch_sizes", low=1, high=n))
    if bs_arr.ndim != 1:
        raise ValueError(f"batch_sizes must be an integer or a 1-d array, got shape {bs_arr.shape}")
    bs = [int(b) for b in bs_arr]
    d_arr = np.atleast_1d(integer_array(draws, "draws", low=1))
    if d_arr.ndim != 1 or (np.ndim(draws) != 0 and d_arr.size != len(bs)):
        raise ValueError("draws must be a positive integer or one per batch size")
    nd = [draws] * len(bs) if np.ndim(draws) == 0 else list(draws)
    spectrum_draws = integer(spectrum_draws, "spectrum_draws", low=0)
    rng = np.random.default_rng(_seed(seed))
    h = net.hessian(theta, x, y, gauss_newton=gauss_newton)
    eigs, vecs = np.linalg.eigh(h)
    out = {"hessian": h, "eigs": eigs, "vecs": vecs, "batch_sizes": np.array(bs),
           "top": [], "bottom": [], "fro2": [], "second_order": [], "noise_eigs": [], "top_of_drawn": []}
    for b, d in zip(bs, nd):
        top, bot, fro, so, ne = np.empty(d), np.empty(d), np.empty(d), np.empty(d), []
        for k in range(int(d)):
            idx = rng.choice(n, size=b, replace=False)
            hb = net.hessian(theta, x[idx], y[idx], gauss_newton=gauss_newton)
            ev = np.linalg.eigvalsh(hb)
            top[k], bot[k] = ev[-1], ev[0]
            eps = hb - h
            fro[k] = np.sum(eps**2)
            so[k] = second_order_shift(eigs, vecs, eps)
            if k < spectrum_draws:
                ne.append(np.linalg.eigvalsh(eps))
        out["top"].append(top)
        out["bottom"].append(bot)
        out["fro2"].append(fro)
        out["second_order"].append(so)
        out["noise_eigs"].append(np.array(ne))
        out["top_of_drawn"].append(top[:spectrum_draws])
    return out


def second_order_shift(eigs, vecs, eps) -> float:
    """Second-order perturbation estimate of ``λ_max(H + ε) − λ_max(H)`` for one fluctuation ``ε``.

    ``δλ ≈ c₁ + Σ_{k≥2} c_k²/(λ₁ − λ_k)`` with ``c = Uᵀ ε u₁`` (``U`` the eigenvectors of ``H``, ``u₁`` the
    top one). For isotropic (Wigner) noise of semicircle scale ``σ_ε²`` and a bulk far below ``λ₁`` the
    sum averages to ``σ_ε²/λ₁`` — the paper's shift; here it uses the noise actually drawn, including its
    alignment with the top eigenvectors of ``H``.

    Parameters
    ----------
    eigs, vecs : the output of ``numpy.linalg.eigh(H)`` (ascending).
    eps : ndarray, shape (P, P)
        The symmetric fluctuation ``H_B − H``.

    Used in *The batch Hessian as a spiked matrix* (claim P5.C6).
    """
    eigs, vecs = _eigh_pair(eigs, vecs)
    eps = real_array(eps, "eps", ndim=2)
    if eps.shape != vecs.shape:
        raise ValueError(f"eps must have shape {vecs.shape}, got {eps.shape}")
    u1 = vecs[:, -1]
    c = vecs.T @ (eps @ u1)
    gaps = eigs[-1] - eigs[:-1]
    if np.any(gaps <= 0):
        raise ValueError("the top eigenvalue of H must be simple for the perturbation series")
    return float(c[-1] + np.sum(c[:-1] ** 2 / gaps))


def field_dependent_shift(eigs, vecs, per_sample_hu, batch_size, *, n_samples: int) -> np.ndarray:
    """Expected shift ``E[λ_max(H_B)] − λ_max(H)`` under the field-dependent model, to second order.

    The fluctuation ``ε = H_B − H`` of a batch drawn without replacement has, in the eigenbasis
    ``U`` of ``H``, the element variances ``E[(u_kᵀ ε u₁)²] = f_B v_k`` with
    ``f_B = (1/B − 1/N) N/(N − 1)`` and ``v_k = (1/N) Σ_i (u_kᵀ (H_i − H) u₁)²``: a variance profile
    that depends on the element (the "field"), not one Wigner variance. Second-order perturbation
    theory (``E[u₁ᵀ ε u₁] = 0``) then gives

    ``E[δλ] = f_B Σ_{k≥2} v_k/(λ₁ − λ_k)``,

    exactly proportional to ``f_B`` (the ``1/B`` law). With a flat profile ``v_k = σ_ε²/(P f_B)`` and
    ``λ₁`` far above the bulk it reduces to the Wigner shift ``σ_ε²/λ₁``.

    Parameters
    ----------
    eigs, vecs
        ``numpy.linalg.eigh(H)`` (ascending; the top eigenvalue must be simple).
    per_sample_hu : array_like, shape (N, P)
        ``H_i u₁`` for every sample (:meth:`TanhMLP.per_sample_hvps` with ``v = u₁``).
    batch_size : array_like
        ``B`` (``1 ≤ B ≤ N``).
    n_samples : int
        ``N``.

    References
    ----------
    Granziol, Zohren & Roberts (JMLR 2022), the batch-Hessian theorem ("spiked, field-dependent random
    matrix theory", abstract); this second-order form is our reconstruction. Used in *The batch Hessian
    as a spiked matrix*.
    """
    eigs, vecs = _eigh_pair(eigs, vecs)
    hu = real_array(per_sample_hu, "per_sample_hu")
    if hu.ndim != 2 or hu.shape[1] != eigs.size or hu.shape[0] < 1:
        raise ValueError(f"per_sample_hu must have shape (N, {eigs.size}), got {hu.shape}")
    n_samples = integer(n_samples, "n_samples", low=2)
    b = real_array(batch_size, "batch_size")
    if np.any((b < 1) | (b > n_samples)):
        raise ValueError(f"batch_size must lie in [1, n_samples={n_samples}]")
    gaps = eigs[-1] - eigs[:-1]
    if np.any(gaps <= 0):
        raise ValueError("the top eigenvalue of H must be simple for the perturbation series")
    c = (hu - hu.mean(axis=0)) @ vecs  # (N, P): u_kᵀ (H_i − H) u₁
    v = np.mean(c**2, axis=0)
    f_b = (1 / b - 1 / n_samples) * n_samples / (n_samples - 1)
    return f_b * float(np.sum(v[:-1] / gaps))


def _eigh_pair(eigs, vecs) -> tuple[np.ndarray, np.ndarray]:
    """Check ``numpy.linalg.eigh`` output: ``eigs`` finite, shape (P,), ``vecs`` finite, shape (P, P)."""
    eigs = real_array(eigs, "eigs", ndim=1)
    if eigs.size < 2:
        raise ValueError(f"eigs must hold at least two eigenvalues, got {eigs.size}")
    vecs = real_array(vecs, "vecs", ndim=2)
    if vecs.shape != (eigs.size, eigs.size):
        raise ValueError(f"vecs must have shape ({eigs.size}, {eigs.size}), got {vecs.shape}")
    return eigs, vecs
