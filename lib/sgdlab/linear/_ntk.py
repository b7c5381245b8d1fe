"""A real network against the theory: the empirical NTK of a one-hidden-layer ReLU network and SGD runs
with ``torch.optim.SGD`` recorded on the full training set (private).

Book chapter ``generating_functions/06_networks`` (headline claim P1.H6).
"""
from __future__ import annotations

import numpy as np

from ._finite import _DIVERGE_AT, _check_hyper, linearised_sgd_runs
from ._validate import as_times, positive_int, real_array, real_scalar, seed_int

__all__ = ["empirical_ntk_mlp", "network_outputs", "train_network_sgd", "linearised_sgd_paired", "batch_sequence"]


def _layers(model):
    import torch

    from sgdlab.train.models import NTKLinear

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
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
    X = torch.as_tensor(real_array(x, "x"))
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
    """f(x) of a scalar-output network as a float64 vector (no gradient).

    Parameters
    ----------
    model
        A ``torch.nn.Module`` with parameters and one output per input row.
    x
        Inputs, a finite real array (N, …) in the model's input shape.

    Returns
    -------
    ndarray (N,)

    References
    ----------
    Book chapter ``generating_functions/06_networks`` (f_0 of the linearisation).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    p = next(model.parameters(), None)
    if p is None:
        raise ValueError("model has no parameters (its dtype is undefined)")
    X = real_array(x, "x")
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"x must hold at least one input row, got shape {X.shape}")
    with torch.no_grad():
        try:
            f = model(torch.as_tensor(X, dtype=p.dtype))
        except RuntimeError as exc:   # shape mismatch inside the model
            raise ValueError(f"x of shape {X.shape} does not fit the model: {exc}") from None
        f = f.reshape(-1).double().numpy()
    if f.size != X.shape[0]:
        raise ValueError(f"model must have one scalar output per row of x, got {f.size} for {X.shape[0]} rows")
    return f


def batch_sequence(seed: int, n_samples: int, batch_size: int, steps: int) -> np.ndarray:
    """The batches of one run: ``steps`` independent draws of ``batch_size`` of ``n_samples`` indices without
    replacement (``numpy.random.default_rng(seed).choice``), shape (steps, batch_size).

    Shared by :func:`train_network_sgd` and :func:`linearised_sgd_paired`, so that a network run and its
    linearisation see the same batches (common random numbers).

    Parameters
    ----------
    seed
        Integer ≥ 0.
    n_samples, batch_size, steps
        N ≥ 1, 1 ≤ B ≤ N, T ≥ 0 (T = 0 gives the empty (0, B) array).

    References
    ----------
    Book chapter ``generating_functions/06_networks`` (common random numbers for the network and its
    linearisation).
    """
    seed = seed_int(seed)
    n_samples = positive_int(n_samples, "n_samples")
    batch_size = positive_int(batch_size, "batch_size")
    if batch_size > n_samples:
        raise ValueError(f"batch_size={batch_size} must be <= n_samples={n_samples}")
    steps = positive_int(steps, "steps", 0)
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n_samples, size=batch_size, replace=False) for _ in range(steps)]) if steps else \
        np.zeros((0, batch_size), dtype=np.int64)


def linearised_sgd_paired(kernel_n, residual0, lr: float, momentum: float, batch_size: int, steps: int, *, times,
                          seeds, diverge_at: float = _DIVERGE_AT) -> np.ndarray:
    """Linearised SGD in function space, u' = βu − α K_n P_B Δf, Δf' = Δf + u', on the batches of
    :func:`batch_sequence` (one run per seed; vectorised over runs).

    With ``kernel_n`` = Θ/N of a network (not rescaled), ``lr`` in PyTorch's units and ``residual0`` =
    f_0 − y, run r follows the first-order Taylor model of the network trained by
    :func:`train_network_sgd` with the same seed.

    A run whose recorded loss exceeds ``diverge_at`` (or overflows) is divergent: ``inf`` from then on.

    Returns
    -------
    ndarray (len(times), len(seeds)) of L_t = |Δf_t|²/(2N); ``inf`` once a run diverges (never NaN).

    References
    ----------
    Velikanov et al. (ICLR 2023), "linearized" regime; book chapter ``generating_functions/06_networks``.
    """
    K = real_array(kernel_n, "kernel_n")
    d0 = real_array(residual0, "residual0")
    if d0.ndim != 1 or d0.size == 0:
        raise ValueError(f"residual0 must be a non-empty 1-d array, got shape {d0.shape}")
    N = d0.size
    if K.shape != (N, N):
        raise ValueError(f"kernel_n must have shape ({N}, {N})")
    lr, momentum = _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    t_rec = as_times(times, steps)
    seeds = _seeds(seeds)
    diverge_at = _diverge_at(diverge_at)
    idx = np.stack([batch_sequence(s, N, b, steps) for s in seeds], axis=1)     # (steps, R, b)
    out = linearised_sgd_runs(K, d0, lr, momentum, b, steps, t_rec, len(seeds), lambda t: idx[t])
    gone = np.logical_or.accumulate(~(out < diverge_at), axis=0)
    return np.where(gone, np.inf, out)


def _diverge_at(value):
    v = real_scalar(value, "diverge_at", finite=False)
    if not v > 0:
        raise ValueError(f"diverge_at={value!r} must be > 0")
    return v


def _seeds(seeds):
    try:
        seeds = list(seeds)
    except TypeError:
        raise ValueError(f"seeds must be a non-empty sequence of integers >= 0, got {seeds!r}") from None
    if not seeds:
        raise ValueError("seeds must be a non-empty sequence of integers >= 0")
    return [seed_int(s, "seeds") for s in seeds]


def train_network_sgd(model_fn, x, y, lr: float, momentum: float, batch_size: int, steps: int, *, times,
                      seeds, diverge_at: float = _DIVERGE_AT) -> np.ndarray:
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
    diverge_at
        A run whose recorded loss exceeds this (or is not finite) is divergent and stops.

    Returns
    -------
    ndarray (len(times), len(seeds)); ``inf`` once a run diverges (never NaN).

    References
    ----------
    Velikanov et al. (ICLR 2023), the "real network" regime of the authors' ``train_4_regimes.py``;
    book chapter ``generating_functions/06_networks``.
    """
    import torch

    if not callable(model_fn):
        raise ValueError(f"model_fn must be callable (returning a fresh network), got {model_fn!r}")
    X = real_array(x, "x")
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"x must be an array (N, d) with N >= 1, got shape {X.shape}")
    X = np.asarray(x)      # keep the caller's dtype (it is cast to the model's dtype below)
    Y = real_array(y, "y")
    N = X.shape[0]
    if Y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},) with N = len(x), got {Y.shape}")
    lr, momentum = _check_hyper(lr, momentum)
    b = positive_int(batch_size, "batch_size")
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = positive_int(steps, "steps", 0)
    t_rec = as_times(times, steps)
    seeds = _seeds(seeds)
    diverge_at = _diverge_at(diverge_at)
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
                    if not full < diverge_at:     # divergent (or NaN): inf from here on
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
