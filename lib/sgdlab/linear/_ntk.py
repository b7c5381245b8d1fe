"""A real network against the theory: the empirical NTK of a one-hidden-layer ReLU network and SGD runs
with ``torch.optim.SGD`` recorded on the full training set (private).

Book chapter ``generating_functions/06_networks`` (headline claim P1.H6).
"""
from __future__ import annotations

import numpy as np

from ._finite import linearised_sgd_runs
from ._validate import positive_int

__all__ = ["empirical_ntk_mlp", "network_outputs", "train_network_sgd", "linearised_sgd_paired", "batch_sequence"]


def _layers(model):
    import torch

    from sgdlab.train.models import NTKLinear

    lin = [m for m in model.modules() if isinstance(m, NTKLinear)]
    acts = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    if len(lin) != 2 or len(acts) != 1 or lin[1].out_features != 1 or lin[1].bias is not None:
        raise ValueError("model must be mlp([d, m, 1], 'relu', parametrization='ntk') (one hidden ReLU layer, "
                         "scalar output without bias)")
    return lin[0], lin[1]


def empirical_ntk_mlp(model, x) -> np.ndarray:
    """Empirical NTK Θ(x_i, x_j) = ∇_θ f(x_i)·∇_θ f(x_j) of a one-hidden-layer ReLU net in NTK parametrisation.

    For f(x) = s_a aᵀ φ(h), h = s_w W x + σ_b b (s_w = σ_w/√d, s_a = σ_w/√m, φ = ReLU), the gradient
    with respect to (a, W, b) gives, with Φ = φ(H) and D = φ'(H) diag(a) (rows = samples),

        Θ = s_a² [Φ Φᵀ + (D Dᵀ) ∘ (s_w² X Xᵀ + σ_b²)],

    computed in float64 without forming the N × P Jacobian (P = 785 000 for d = 784, m = 1000).

    Parameters
    ----------
    model
        ``sgdlab.train.mlp([d, m, 1], "relu", parametrization="ntk")``.
    x
        Inputs, shape (N, d).

    Returns
    -------
    ndarray (N, N)

    References
    ----------
    Jacot, Gabriel & Hongler (2018); Velikanov et al. (ICLR 2023), the "linearized" regime of the authors'
    ``train_4_regimes.py``; book chapter ``generating_functions/06_networks``. Tested against
    ``torch.func.jacrev`` in ``tests/test_linear_phases.py``.
    """
    import torch

    hidden, out = _layers(model)
    X = torch.as_tensor(np.asarray(x, dtype=np.float64))
    if X.ndim != 2 or X.shape[1] != hidden.in_features:
        raise ValueError(f"x must have shape (N, {hidden.in_features}), got {tuple(X.shape)}")
    with torch.no_grad():
        W = hidden.weight.detach().double()
        b = hidden.bias.detach().double() if hidden.bias is not None else None
        a = out.weight.detach().double()[0]
        H = X @ W.T * hidden.w_scale
        if b is not None:
            H = H + hidden.b_scale * b
        Phi = torch.relu(H)
        D = (H > 0).double() * a
        lin = hidden.w_scale**2 * (X @ X.T) + (hidden.b_scale**2 if b is not None else 0.0)
        K = out.w_scale**2 * (Phi @ Phi.T + (D @ D.T) * lin)
    K = K.numpy()
    return 0.5 * (K + K.T)


def network_outputs(model, x) -> np.ndarray:
    """f(x) of a scalar-output network as a float64 vector (no gradient)."""
    import torch

    with torch.no_grad():
        p = next(model.parameters())
        return model(torch.as_tensor(np.asarray(x), dtype=p.dtype)).reshape(-1).double().numpy()


def batch_sequence(seed: int, n_samples: int, batch_size: int, steps: int) -> np.ndarray:
    """The batches of one run: ``steps`` independent draws of ``batch_size`` of ``n_samples`` indices without
    replacement (``numpy.random.default_rng(seed).choice``), shape (steps, batch_size).

    Shared by :func:`train_network_sgd` and :func:`linearised_sgd_paired`, so that a network run and its
    linearisation see the same batches (common random numbers).
    """
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n_samples, size=batch_size, replace=False) for _ in range(steps)]) if steps else \
        np.zeros((0, batch_size), dtype=np.int64)


def linearised_sgd_paired(kernel_n, residual0, lr: float, momentum: float, batch_size: int, steps: int, *, times,
                          seeds) -> np.ndarray:
    """Linearised SGD in function space, u' = βu − α K_n P_B Δf, Δf' = Δf + u', on the batches of
    :func:`batch_sequence` (one run per seed; vectorised over runs).

    With ``kernel_n`` = Θ/N of a network (not rescaled), ``lr`` in PyTorch's units and ``residual0`` =
    f_0 − y, run r follows the first-order Taylor model of the network trained by
    :func:`train_network_sgd` with the same seed.

    Returns
    -------
    ndarray (len(times), len(seeds)) of L_t = |Δf_t|²/(2N)

    References
    ----------
    Velikanov et al. (ICLR 2023), "linearized" regime; book chapter ``generating_functions/06_networks``.
    """
    K = np.asarray(kernel_n, dtype=np.float64)
    d0 = np.asarray(residual0, dtype=np.float64)
    N = d0.size
    if K.shape != (N, N):
        raise ValueError(f"kernel_n must have shape ({N}, {N})")
    b = positive_int(batch_size, "batch_size")
    steps = positive_int(steps, "steps", 0)
    t_rec = np.asarray(times, dtype=np.int64)
    seeds = list(seeds)
    idx = np.stack([batch_sequence(s, N, b, steps) for s in seeds], axis=1)     # (steps, R, b)
    return linearised_sgd_runs(K, d0, lr, momentum, b, steps, t_rec, len(seeds), lambda t: idx[t])


def train_network_sgd(model_fn, x, y, lr: float, momentum: float, batch_size: int, steps: int, *, times,
                      seeds) -> np.ndarray:
    """Train copies of one network with ``torch.optim.SGD`` (batches without replacement, drawn afresh
    every step) and record the full-training-set loss L_t = Σ_i (f(x_i) − y_i)²/(2N).

    Parameters
    ----------
    model_fn
        ``model_fn()`` returns a fresh copy of the network with the *same* initial weights for every run
        (the runs differ only in their batches).
    x, y
        Training inputs (N, d) and scalar targets (N,).
    lr, momentum
        PyTorch's learning rate (raw units: the book's α divided by λ_max(Θ/N)) and momentum.
    batch_size, steps
        B and T; the batch loss is ½·mean over the batch of (f − y)².
    times
        Increasing steps at which to record the loss.
    seeds
        One batch-sampling seed per run (``numpy.random.default_rng``).

    Returns
    -------
    ndarray (len(times), len(seeds)); ``inf`` once a run diverges.

    References
    ----------
    Velikanov et al. (ICLR 2023), the "real network" regime of the authors' ``train_4_regimes.py``;
    book chapter ``generating_functions/06_networks``.
    """
    import torch

    X = np.asarray(x)
    Y = np.asarray(y, dtype=np.float64)
    N = X.shape[0]
    if Y.shape != (N,):
        raise ValueError(f"y must have shape ({N},), got {Y.shape}")
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    t_rec = np.asarray(times, dtype=np.int64)
    if t_rec.ndim != 1 or np.any(np.diff(t_rec) <= 0) or t_rec[0] < 0 or t_rec[-1] > steps:
        raise ValueError(f"times must be increasing integers in [0, steps={steps}]")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be finite and > 0")
    if not abs(momentum) < 1:
        raise ValueError(f"momentum={momentum!r} must lie in (-1, 1)")
    seeds = list(seeds)
    out = np.full((t_rec.size, len(seeds)), np.inf)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)   # batch-size-10 products: a second thread only adds contention (measured 10× slower)
    try:
        for r, seed in enumerate(seeds):
            model = model_fn()
            dtype = next(model.parameters()).dtype
            Xt = torch.as_tensor(X, dtype=dtype)
            Yt = torch.as_tensor(Y, dtype=dtype)
            opt = torch.optim.SGD(model.parameters(), lr=float(lr), momentum=float(momentum))
            batches = torch.as_tensor(batch_sequence(seed, N, b, steps))
            j = 0
            for t in range(steps + 1):
                if j < t_rec.size and t == t_rec[j]:
                    with torch.no_grad():
                        full = float(0.5 * torch.mean((model(Xt).reshape(-1) - Yt) ** 2))
                    if not np.isfinite(full):
                        break
                    out[j, r] = full
                    j += 1
                if t == steps:
                    break
                idx = batches[t]
                opt.zero_grad(set_to_none=True)
                loss = 0.5 * torch.mean((model(Xt[idx]).reshape(-1) - Yt[idx]) ** 2)
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(n_threads)
    return out
