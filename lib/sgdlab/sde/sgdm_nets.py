"""SGD against SGDM on small networks, through the engine's vectorised ensembles (part 2, networks).

:func:`train_mlp_ensemble` is a thin layer over :func:`sgdlab.train.train_ensemble`: it builds the
one-hidden-layer MLP of the networks chapter (:func:`sgdlab.train.mlp`, PyTorch's default
initialisation drawn from the member's seed), trains every (effective learning rate, momentum, seed)
of a comparison as one ensemble, and returns each member's numbers at the member's own horizon. The
update is the normalised SGDM of Wang et al. (ICLR 2024, eq. 3)::

    m ← β m + (1−β) g,      θ ← θ − η m,      m₀ = 0,

identical to ``torch.optim.SGD(lr=η(1−β), momentum=β)`` (proved in the notation chapter, tested in
``tests/test_sde_sgdm_nets.py``); β = 0 is SGD at learning rate η. Vocabulary: ``effective_lr`` is
η = γ/(1−β) (PyTorch's ``lr`` is γ = η(1−β)); ``momentum`` β may be negative (−1 < β < 1).
Members that share a seed share their initial weights *and* their mini-batch sequence (common random
numbers), so SGD and SGDM at the same seed differ only by the optimiser.

Members may have different numbers of steps (e.g. a fixed SDE time ``T = η·steps`` for several η).
Training is causal, so the ensemble runs ``max(steps)`` steps and member ``i`` is evaluated at its
own ``steps[i]``: its numbers are those of a run of exactly ``steps[i]`` steps (tested), and one
ensemble replaces a Python loop over step counts.

Used by ``book/momentum/05_networks`` (digits, MLP 64–64–10, tanh).

References
----------
Wang, Malladi, Wang, Lyu, Li, *The Marginal Value of Momentum for Small Learning Rate SGD*, ICLR 2024,
Sec. 2 (the normalised form, eq. 3) and Sec. 6 (SGD vs SGDM at matched effective learning rate).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..device import default as _default_device
from ..train import TrainConfig, mlp, train_ensemble
from .sgdm import _real_array

__all__ = ["train_mlp_ensemble"]


_LENGTHS = " (effective_lr, momentum, seeds and steps must have one common length, or 1)"


def _as_vector(name: str, values, size: int) -> np.ndarray:
    a = np.atleast_1d(_real_array(name, values))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty 1-d sequence of finite numbers")
    if a.size not in (1, size):
        raise ValueError(f"{name} has {a.size} entries; expected 1 or {size}" + _LENGTHS)
    return np.broadcast_to(a, (size,)).copy()


def _as_int_vector(name: str, values, size: int, low: int) -> np.ndarray:
    if values is None or isinstance(values, (str, bytes)):
        raise ValueError(f"{name}={values!r} must be integers >= {low}")
    try:
        a = np.atleast_1d(np.asarray(values))
    except (TypeError, ValueError):
        raise ValueError(f"{name}={values!r} must be integers >= {low}") from None
    if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iu" or np.any(a < low):
        raise ValueError(f"{name}={values!r} must be integers >= {low}")
    if a.size not in (1, size):
        raise ValueError(f"{name} has {a.size} entries; expected 1 or {size}" + _LENGTHS)
    return np.broadcast_to(a, (size,)).astype(np.int64)


def _pos_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")
    return int(value)


def train_mlp_ensemble(
    x_train,
    y_train,
    *,
    effective_lr: Sequence[float] | float,
    momentum: Sequence[float] | float,
    seeds: Sequence[int] | int,
    steps: Sequence[int] | int,
    batch_size: int = 8,
    hidden: int = 64,
    activation: str = "tanh",
    x_test=None,
    y_test=None,
    record_steps: Sequence[int] | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> dict[str, np.ndarray]:
    """Train E one-hidden-layer MLPs (cross-entropy) with normalised SGDM as one ensemble.

    Parameters
    ----------
    x_train, y_train : array_like
        Inputs ``(N, d)`` and integer labels ``(N,)``.
    effective_lr, momentum, seeds, steps : sequence or scalar
        Per-member η = γ/(1−β) > 0, β ∈ (−1, 1), seed ≥ 0 and number of steps ≥ 1 (broadcast to a
        common length E). For PyTorch's ``lr=γ`` pass ``effective_lr = γ/(1−β)``.
    batch_size : int
        B, drawn with replacement (:class:`sgdlab.train.BatchSampler`); the batch sequence depends
        on the seed only.
    hidden : int
        Width of the hidden layer.
    activation : str
        Hidden activation (see :data:`sgdlab.train.models.ACTIVATIONS`).
    x_test, y_test : array_like, optional
        Held-out data for the test accuracy.
    record_steps : sequence of int, optional
        Also record the full-training-set loss at these steps (each in ``[0, max(steps)]``).
    dtype, device
        Torch dtype (float64 by default) and device (default :func:`sgdlab.device.default`).

    Returns
    -------
    dict
        At each member's own horizon ``steps[i]``: ``train_loss`` (E,) full-train cross-entropy
        (``inf`` if the member diverged), ``train_acc`` (E,), ``test_acc`` (E,) when test data are
        given, ``diverged`` (E,) bool (the engine's criterion: a non-finite batch loss or one above
        10⁴ × the initial loss). A diverged member's accuracies are those measured at its last
        evaluation before its divergence was detected (the engine's convention,
        :func:`sgdlab.train.train_ensemble`), never NaN. With ``record_steps``: ``record_steps`` (n,)
        sorted and unique, and ``loss_curve`` (E, n): ``inf`` from a member's divergence on, and NaN
        only *after* a member's own horizon (steps it does not run: "not run", not a divergence).

    Raises
    ------
    ValueError
        If a parameter is out of range (its name is in the message).
    """
    x = _real_array("x_train", x_train)
    y = np.asarray(y_train)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0 or not np.all(np.isfinite(x)):
        raise ValueError("x_train must be finite (N, d) and y_train (N,) with the same N > 0")
    if y.dtype.kind not in "iu" or np.any(y < 0):
        raise ValueError("y_train must hold integer class labels >= 0")
    if (x_test is None) != (y_test is None):
        raise ValueError("x_test and y_test must both be given or both be absent")
    if x_test is not None:
        xt, yt = _real_array("x_test", x_test), np.asarray(y_test)
        if xt.ndim != 2 or xt.shape[1] != x.shape[1] or not np.all(np.isfinite(xt)):
            raise ValueError("x_test must be finite (N_test, d) with the d of x_train")
        if yt.ndim != 1 or len(yt) != len(xt) or yt.dtype.kind not in "iu" or np.any(yt < 0):
            raise ValueError("y_test must hold one integer class label >= 0 per row of x_test")
    size = max(np.size(effective_lr), np.size(momentum), np.size(seeds), np.size(steps))
    eta = _as_vector("effective_lr", effective_lr, size)
    beta = _as_vector("momentum", momentum, size)
    seeds_arr = _as_int_vector("seeds", seeds, size, 0)
    steps_arr = _as_int_vector("steps", steps, size, 1)
    if np.any(eta <= 0):
        raise ValueError("effective_lr must be > 0")
    if np.any((beta <= -1) | (beta >= 1)):
        raise ValueError("momentum must lie in (-1, 1)")
    batch_size, hidden = _pos_int("batch_size", batch_size), _pos_int("hidden", hidden)
    device = _default_device() if device is None else torch.device(device)

    n_classes = int(y.max()) + 1 if y_test is None else max(int(y.max()), int(np.max(y_test))) + 1
    widths = [x.shape[1], hidden, n_classes]
    total = int(steps_arr.max())
    record = []
    if record_steps is not None:
        r = np.atleast_1d(np.asarray(record_steps))
        if r.ndim != 1 or r.size == 0 or r.dtype.kind not in "iu" or np.any(r < 0) or np.any(r > total):
            raise ValueError(f"record_steps must be integers in [0, max(steps)={total}]")
        record = sorted(set(r.tolist()))
    config = TrainConfig(optimizer="sgdm_normalized", lr=float(eta[0]), steps=total, batch_size=batch_size,
                         sampling="with_replacement", eval_steps=tuple(sorted(set(steps_arr.tolist()) | set(record))))
    data = {"x_train": x, "y_train": y.astype(np.int64)}
    if x_test is not None:
        data.update(x_test=np.asarray(x_test, dtype=np.float64), y_test=np.asarray(y_test).astype(np.int64))
    res = train_ensemble(lambda s: mlp(widths, activation, seed=s, dtype=dtype, device=device), data, config,
                         seeds=seeds_arr.tolist(), lrs=eta.tolist(), momenta=beta.tolist())

    h = res.history
    col_of = {int(round(s)): j for j, s in enumerate(h["step"])}
    members = np.arange(size)

    def at_horizon(key: str, missing: float | None) -> np.ndarray:
        # a horizon absent from the history: every member diverged earlier and the engine stopped;
        # missing=None takes the last recorded row (the engine carries a dead member's accuracy forward)
        table = np.asarray(h[key], dtype=np.float64)
        return np.array([table[col_of[s], i] if s in col_of else (table[-1, i] if missing is None else missing)
                         for i, s in zip(members, steps_arr)])

    loss = at_horizon("train_loss", np.inf)
    at = res.diverged_at
    diverged = np.array([at[i] is not None and at[i] <= steps_arr[i] for i in members]) | ~np.isfinite(loss)
    loss = np.where(diverged, np.inf, loss)
    out = {"train_loss": loss, "train_acc": at_horizon("train_acc", None), "diverged": diverged}
    if x_test is not None:
        out["test_acc"] = at_horizon("test_acc", None)
    if record_steps is not None:
        curve = np.full((size, len(record)), np.nan)
        table = np.asarray(h["train_loss"], dtype=np.float64)
        for j, s in enumerate(record):
            if s in col_of:
                curve[:, j] = table[col_of[s]]
            else:  # the engine stopped early: every member had diverged
                curve[:, j] = np.inf
        curve[np.asarray(record)[None, :] > steps_arr[:, None]] = np.nan  # beyond a member's horizon
        out["record_steps"] = np.asarray(record)
        out["loss_curve"] = curve
    return out
