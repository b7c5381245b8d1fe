"""An ensemble of one-hidden-layer MLPs trained side by side with SGD / SGDM (part 2, networks).

Every ensemble member has its own effective learning rate η, momentum β and seed, and all members
take one step together: the weights are stacked into ``(E, ·, ·)`` tensors and the forward pass is a
batched matrix product, so one Python loop trains every (optimiser, learning rate, seed) of a
comparison at once. The update is the normalised SGDM of Wang et al. (ICLR 2024, eq. 3)::

    m ← β m + (1−β) g,      θ ← θ − η m,      m₀ = 0,

identical to ``torch.optim.SGD(lr=η(1−β), momentum=β)`` (proved in the notation chapter); β = 0 is SGD
at learning rate η. Members that share a seed share their initial weights *and* their mini-batch
sequence (common random numbers), so SGD and SGDM at the same seed differ only by the optimiser.

Used by ``book/momentum/05_networks`` (our note's check E5: digits, MLP 64–64–10, tanh).

References
----------
Wang, Malladi, Wang, Lyu, Li, *The Marginal Value of Momentum for Small Learning Rate SGD*, ICLR 2024,
Sec. 6 (experiments: SGD vs SGDM at matched effective learning rate).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..device import default as _default_device

__all__ = ["train_mlp_ensemble"]


def _as_vector(name: str, values, size: int | None = None) -> np.ndarray:
    a = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty 1-d sequence of finite numbers")
    if size is not None and a.size not in (1, size):
        raise ValueError(f"{name} has {a.size} entries; expected 1 or {size}")
    return np.broadcast_to(a, (size or a.size,)).copy()


def _init_member(seed: int, widths: tuple[int, int, int], dtype) -> list[torch.Tensor]:
    """PyTorch's default Linear initialisation U(−1/√fan_in, 1/√fan_in), drawn from ``seed`` on the CPU."""
    gen = torch.Generator().manual_seed(int(seed))
    d_in, hidden, d_out = widths
    out = []
    for fan_in, shape in ((d_in, (d_in, hidden)), (d_in, (hidden,)), (hidden, (hidden, d_out)), (hidden, (d_out,))):
        bound = 1.0 / math.sqrt(fan_in)
        out.append(((2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1) * bound).to(dtype))
    return out


def _forward(params, x):
    w1, b1, w2, b2 = params
    h = torch.tanh(torch.baddbmm(b1.unsqueeze(1), x, w1))
    return torch.baddbmm(b2.unsqueeze(1), h, w2)


def train_mlp_ensemble(
    x_train,
    y_train,
    *,
    effective_lr: Sequence[float] | float,
    momentum: Sequence[float] | float,
    seeds: Sequence[int] | int,
    steps: int,
    batch_size: int = 8,
    hidden: int = 64,
    x_test=None,
    y_test=None,
    record_every: int | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> dict[str, np.ndarray]:
    """Train E one-hidden-layer tanh MLPs (cross-entropy) with normalised SGDM, all in one loop.

    Parameters
    ----------
    x_train, y_train : array_like
        Inputs ``(N, d)`` and integer labels ``(N,)``.
    effective_lr, momentum, seeds : sequence or scalar
        Per-member η > 0, β ∈ [0, 1) and seed (broadcast to a common length E). For PyTorch's
        ``lr=γ`` pass ``effective_lr = γ/(1−β)``.
    steps : int
        Number of steps (every member takes the same number).
    batch_size : int
        B, drawn with replacement; the batch sequence depends on the seed only.
    hidden : int
        Width of the hidden layer.
    x_test, y_test : array_like, optional
        Held-out data for the final accuracy.
    record_every : int, optional
        Also record the full-training-set loss every ``record_every`` steps (and at step 0).
    dtype, device
        Torch dtype (float64 by default) and device (default :func:`sgdlab.device.default`).

    Returns
    -------
    dict
        ``train_loss`` (E,) full-train cross-entropy at the end (``inf`` if the member diverged),
        ``train_acc`` (E,), ``test_acc`` (E,) when test data are given, ``diverged`` (E,) bool, and with
        ``record_every``: ``record_steps`` (n,), ``loss_curve`` (E, n).

    Raises
    ------
    ValueError
        If a parameter is out of range (its name is in the message).
    """
    x = torch.as_tensor(np.asarray(x_train), dtype=dtype)
    y = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
        raise ValueError("x_train must be (N, d) and y_train (N,) with the same N > 0")
    seeds_arr = np.atleast_1d(np.asarray(seeds))
    if seeds_arr.ndim != 1 or seeds_arr.size == 0 or seeds_arr.dtype.kind not in "iu" or np.any(seeds_arr < 0):
        raise ValueError("seeds must be non-negative integers")
    size = max(np.size(effective_lr), np.size(momentum), seeds_arr.size)
    eta = _as_vector("effective_lr", effective_lr, size)
    beta = _as_vector("momentum", momentum, size)
    seeds_arr = np.broadcast_to(seeds_arr, (size,)) if seeds_arr.size in (1, size) else None
    if seeds_arr is None:
        raise ValueError(f"seeds must have 1 or {size} entries")
    if np.any(eta <= 0):
        raise ValueError("effective_lr must be > 0")
    if np.any((beta < 0) | (beta >= 1)):
        raise ValueError("momentum must lie in [0, 1)")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps={steps!r} must be an integer >= 0")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 1:
        raise ValueError(f"hidden={hidden!r} must be an integer >= 1")
    if record_every is not None and (not isinstance(record_every, (int, np.integer)) or record_every < 1):
        raise ValueError(f"record_every={record_every!r} must be an integer >= 1")
    device = _default_device() if device is None else torch.device(device)
    n_classes = int(y.max()) + 1 if y_test is None else int(max(int(y.max()), int(np.max(y_test)))) + 1
    widths = (x.shape[1], int(hidden), n_classes)
    x, y = x.to(device), y.to(device)

    unique, member_row = np.unique(seeds_arr, return_inverse=True)
    inits = {int(s): _init_member(int(s), widths, dtype) for s in unique}
    params = [torch.stack([inits[int(s)][i] for s in seeds_arr]).to(device).requires_grad_(True) for i in range(4)]
    bufs = [torch.zeros_like(p) for p in params]
    eta_t = torch.as_tensor(eta, dtype=dtype, device=device)
    beta_t = torch.as_tensor(beta, dtype=dtype, device=device)
    row = torch.as_tensor(member_row, device=device)
    # one mini-batch index stream per seed: members with the same seed see the same batches
    gens = {int(s): torch.Generator().manual_seed(10_007 + int(s)) for s in unique}
    n_members = size
    diverged = torch.zeros(n_members, dtype=torch.bool, device=device)

    def full_loss() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            out = _forward(params, x.expand(n_members, *x.shape))
            loss = torch.nn.functional.cross_entropy(out.transpose(1, 2), y.expand(n_members, -1), reduction="none").mean(1)
            acc = (out.argmax(-1) == y).to(dtype).mean(1)
        return loss, acc

    rec_steps, curve = [], []
    if record_every:
        rec_steps.append(0)
        curve.append(full_loss()[0])

    def shaped(v, p):
        return v.view(-1, *([1] * (p.ndim - 1)))

    for k in range(1, int(steps) + 1):
        idx_u = torch.stack([torch.randint(len(y), (int(batch_size),), generator=gens[int(s)]) for s in unique]).to(device)
        idx = idx_u[row]
        out = _forward(params, x[idx])
        loss = torch.nn.functional.cross_entropy(out.transpose(1, 2), y[idx], reduction="none").mean(1)
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            bad = ~torch.isfinite(loss)
            diverged |= bad
            for p, m, g in zip(params, bufs, grads):
                g = torch.where(shaped(diverged, g), torch.zeros_like(g), g)
                m.mul_(shaped(beta_t, m)).add_(shaped(1 - beta_t, g) * g)
                p.sub_(shaped(eta_t, p) * m)
        if record_every and k % record_every == 0:
            rec_steps.append(k)
            curve.append(full_loss()[0])

    loss, acc = full_loss()
    diverged |= ~torch.isfinite(loss)
    loss = torch.where(diverged, torch.full_like(loss, math.inf), loss)
    result = {
        "train_loss": loss.cpu().numpy(),
        "train_acc": acc.cpu().numpy(),
        "diverged": diverged.cpu().numpy(),
    }
    if x_test is not None and y_test is not None:
        xt = torch.as_tensor(np.asarray(x_test), dtype=dtype, device=device)
        yt = torch.as_tensor(np.asarray(y_test), dtype=torch.long, device=device)
        with torch.no_grad():
            out = _forward(params, xt.expand(n_members, *xt.shape))
            result["test_acc"] = (out.argmax(-1) == yt).to(dtype).mean(1).cpu().numpy()
    if record_every:
        c = torch.stack(curve, 1)
        result["record_steps"] = np.asarray(rec_steps)
        result["loss_curve"] = torch.where(torch.isfinite(c), c, torch.full_like(c, math.inf)).cpu().numpy()
    return result
