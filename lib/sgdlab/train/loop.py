"""The training loop: configuration, mini-batch sampling, gradient estimators, evaluation, divergence.

One run is :func:`train` (an ``nn.Module``, autograd); many seeds or learning rates at once are
:func:`sgdlab.train.ensemble.train_ensemble` (stacked weights, ``torch.func.vmap``). Both share
:class:`TrainConfig`, :class:`BatchSampler`, :func:`estimator_weights` and
:class:`~sgdlab.train.optim.FunctionalOptimizer`, and give identical iterates for one member.

Gradient estimators (``TrainConfig.gradient``), each a weighted sum of mini-batch gradients
``g(B_j)`` over independent batches ``B_j`` of size ``B`` (plus, for ``"gd_plus_noise"``, the
full-batch gradient ``∇L``), computed in one backward pass:

- ``"minibatch"``: ``g(B₁)``.
- ``"svag"`` (Li, Malladi, Arora 2021, Sec. 4, "SVAG"): learning rate ``η/ℓ``, ``ℓ×`` the steps, and
  ``((1+√(2ℓ−1))/2)·g(B₁) + ((1−√(2ℓ−1))/2)·g(B₂)``: mean ``∇L``, ``ℓ×`` the covariance of ``g(B)``,
  so the SDE limit is approached as ``ℓ → ∞`` at fixed ``η`` (part 3).
- ``"noise_amplified"``: ``g(B₁) + k·(g(B₂) − g(B₃))/√2``: mean ``∇L``, covariance ``(1 + k²)×`` that
  of ``g(B)`` (part 3's test of whether the noise, not the step size, drives a phenomenon).
- ``"gd_plus_noise"`` (only with ``optimizer="gd"``): ``∇L + k·(g(B₁) − g(B₂))/√2``, full-batch GD
  plus a zero-mean mini-batch difference: mean ``∇L``, covariance ``k²·Σ/B`` (``Σ`` the per-sample
  gradient covariance; ``n/(n−1)·k²·Σ/B`` for the two disjoint batches of ``"epoch"`` and
  ``"without_replacement"``). Divergence is judged on the full training loss ``L``, not on the
  noisy objective. Mohtashami, Jaggi, Stich, ICML 2023, App. A ("increased stochasticity can not
  replace the effects of large learning rates"); the estimator is our reconstruction. Used by
  :func:`sgdlab.dynamics.noise_vs_lr.gd_lr_vs_noise` for ``book/large_lr/06_networks``.

Sampling (``TrainConfig.sampling``): ``"epoch"`` (a new permutation each epoch, consecutive
disjoint batches, the last incomplete batch dropped), ``"without_replacement"`` (each step draws
distinct indices afresh) or ``"with_replacement"`` (i.i.d. uniform indices). Indices come from
``numpy.random.default_rng(seed)`` on the CPU, so a seed gives the same batches on every device.

Divergence: a non-finite or exploding loss (above ``divergence_factor`` × the initial training
loss) stops the run and sets ``diverged``; it is never an exception.

Used by parts 2–5 (networks on digits and Fashion-MNIST).
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .losses import check_loss, correct, mean_loss, per_sample_loss
from .optim import FunctionalOptimizer, _check_momentum, check_optimizer

SAMPLINGS = ("epoch", "without_replacement", "with_replacement")
GRADIENTS = ("minibatch", "svag", "noise_amplified", "gd_plus_noise")


def _pos_int(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (validated on construction; ``ValueError`` names the field).

    Attributes
    ----------
    optimizer : str
        ``"sgd"``, ``"gd"`` (full batch), ``"sgdm"``, ``"sgdm_normalized"`` or ``"adam"``.
    lr : float
        Learning rate (``γ``; ``η`` for ``"sgdm_normalized"``; the base ``η`` for SVAG).
    steps : int
        Optimiser steps (for SVAG: base steps; the loop makes ``ℓ·steps`` iterations at ``η/ℓ``).
    batch_size : int or None
        ``B`` (``None`` only for ``"gd"``, which uses every sample; with ``gradient="gd_plus_noise"``
        the size of each of the two noise batches, ``2B`` ≤ the training-set size, checked at train time).
    momentum : float
        β ∈ (−1, 1) for the SGDM forms (0 otherwise).
    loss : str
        ``"cross_entropy"`` or ``"mse"`` (see :mod:`sgdlab.train.losses`).
    sampling, gradient : str
        See the module docstring.
    svag_l : int
        SVAG's ℓ ≥ 1 (``ℓ = 1`` is plain mini-batch SGD).
    noise_k : float
        Noise amplification ``k ≥ 0`` (``"noise_amplified"``, ``"gd_plus_noise"``).
    betas, eps, weight_decay
        Adam's constants; coupled L2 weight decay.
    eval_every : int or None
        Evaluate every this many (base) steps; ``None``: about 20 evaluations. Step 0 and the last
        step are always evaluated.
    eval_steps : sequence of int, optional
        Explicit evaluation steps (overrides ``eval_every``).
    eval_chunk : int
        Samples per forward pass during evaluation.
    seed : int
        Seed of the batch order.
    divergence_factor : float
        A loss above this multiple of the initial training loss (or non-finite) means divergence.
    check_every : int
        Iterations between divergence checks on the batch loss (a device sync each time).
    """

    optimizer: str = "sgd"
    lr: float = 0.1
    steps: int = 100
    batch_size: int | None = 32
    momentum: float = 0.0
    loss: str = "cross_entropy"
    sampling: str = "epoch"
    gradient: str = "minibatch"
    svag_l: int = 1
    noise_k: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    eval_every: int | None = None
    eval_steps: tuple[int, ...] | None = None
    eval_chunk: int = 8192
    seed: int = 0
    divergence_factor: float = 1e4
    check_every: int = 10

    def __post_init__(self):
        check_optimizer(self.optimizer)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr={self.lr!r} must be a finite number > 0")
        _pos_int("steps", self.steps)
        if self.optimizer == "gd":
            if self.batch_size is not None:
                _pos_int("batch_size", self.batch_size)
        elif self.batch_size is None:
            raise ValueError(f"batch_size=None is only allowed for optimizer='gd'")
        else:
            _pos_int("batch_size", self.batch_size)
        _check_momentum(self.momentum)
        if self.optimizer not in ("sgdm", "sgdm_normalized") and self.momentum != 0:
            raise ValueError(f"momentum={self.momentum!r} needs optimizer 'sgdm' or 'sgdm_normalized'")
        check_loss(self.loss)
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling={self.sampling!r} is unknown; allowed: {', '.join(SAMPLINGS)}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"gradient={self.gradient!r} is unknown; allowed: {', '.join(GRADIENTS)}")
        if self.gradient == "gd_plus_noise":
            if self.optimizer != "gd":
                raise ValueError(f"gradient='gd_plus_noise' is full-batch GD plus noise: it needs optimizer='gd', "
                                 f"not optimizer={self.optimizer!r} (use gradient='noise_amplified' for mini-batches)")
            if self.batch_size is None:
                raise ValueError("batch_size=None: gradient='gd_plus_noise' needs the noise batch size B (an integer)")
        elif self.gradient != "minibatch" and self.optimizer == "gd":
            raise ValueError(f"gradient={self.gradient!r} needs mini-batches; optimizer='gd' is full batch "
                             f"(its noisy form is gradient='gd_plus_noise')")
        _pos_int("svag_l", self.svag_l)
        if self.gradient != "svag" and self.svag_l != 1:
            raise ValueError(f"svag_l={self.svag_l!r} needs gradient='svag'")
        if not (isinstance(self.noise_k, (int, float)) and math.isfinite(self.noise_k) and self.noise_k >= 0):
            raise ValueError(f"noise_k={self.noise_k!r} must be a finite number >= 0")
        if self.eval_every is not None:
            _pos_int("eval_every", self.eval_every)
        if self.eval_steps is not None:
            steps = tuple(int(s) for s in self.eval_steps)
            if any(s < 0 or s > self.steps for s in steps):
                raise ValueError(f"eval_steps must lie in [0, steps={self.steps}]")
            object.__setattr__(self, "eval_steps", steps)
        _pos_int("eval_chunk", self.eval_chunk)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be an integer >= 0")
        if not self.divergence_factor > 1:
            raise ValueError(f"divergence_factor={self.divergence_factor!r} must be > 1")
        _pos_int("check_every", self.check_every)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # derived quantities
    @property
    def iterations(self) -> int:
        """Optimiser iterations actually made (``ℓ·steps`` for SVAG)."""
        return self.steps * self.svag_l

    @property
    def iteration_lr(self) -> float:
        """Learning rate of each iteration (``η/ℓ`` for SVAG)."""
        return self.lr / self.svag_l

    def schedule(self) -> list[int]:
        """Evaluation steps (base steps), sorted, with 0 and ``steps``."""
        if self.eval_steps is not None:
            s = set(self.eval_steps)
        else:
            every = self.eval_every or max(1, self.steps // 20)
            s = set(range(0, self.steps + 1, every))
        return sorted(s | {0, self.steps})


def estimator_weights(config: TrainConfig) -> list[float]:
    """Coefficients ``c_j`` of ``Σ_j c_j g(B_j)`` for the configured gradient estimator.

    For ``"gd_plus_noise"`` these are the noise batches' ``[k/√2, −k/√2]``; the full-batch gradient
    ``∇L`` is added to the sum with coefficient 1.
    """
    if config.gradient == "svag":
        if config.svag_l == 1:
            return [1.0]
        r = math.sqrt(2 * config.svag_l - 1)
        return [(1 + r) / 2, (1 - r) / 2]
    if config.gradient == "noise_amplified":
        k = config.noise_k / math.sqrt(2)
        return [1.0, k, -k]
    if config.gradient == "gd_plus_noise":
        k = config.noise_k / math.sqrt(2)
        return [k, -k]
    return [1.0]


def _check_batch_fits(config: TrainConfig, n: int) -> None:
    """``ValueError`` naming ``batch_size`` when the configured batches do not fit in ``n`` training samples."""
    if config.batch_size is not None and config.batch_size > n:
        raise ValueError(f"batch_size={config.batch_size} exceeds the training-set size {n}")
    if config.gradient == "gd_plus_noise" and 2 * config.batch_size > n:
        raise ValueError(f"batch_size={config.batch_size}: gradient='gd_plus_noise' draws two disjoint noise batches "
                         f"per step, and 2·batch_size exceeds the {n} training samples")


class BatchSampler:
    """Index blocks for ``n_draws`` batches of size ``batch_size`` per step (see the module docstring).

    :meth:`block` returns a ``(steps, n_draws·batch_size)`` int64 tensor on ``device``; consecutive
    calls continue the stream (the epoch permutation carries over between blocks).

    Raises
    ------
    ValueError
        If ``batch_size`` exceeds the data set (or, for ``"epoch"`` and ``"without_replacement"``,
        ``n_draws·batch_size`` does).
    """

    def __init__(self, n: int, batch_size: int, *, sampling: str = "epoch", n_draws: int = 1, seed: int = 0,
                 device=None):
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling={sampling!r} is unknown; allowed: {', '.join(SAMPLINGS)}")
        self.n, self.b, self.k = _pos_int("n", n), _pos_int("batch_size", batch_size), _pos_int("n_draws", n_draws)
        if batch_size > n:
            raise ValueError(f"batch_size={batch_size} exceeds the data set size {n}")
        if sampling != "with_replacement" and batch_size * n_draws > n:
            raise ValueError(f"batch_size={batch_size} × {n_draws} independent batches per step exceeds the "
                             f"data set size {n}; use sampling='with_replacement' or a smaller batch")
        self.sampling, self.device = sampling, device
        self.rng = np.random.default_rng(seed)
        self._perm, self._pos = None, 0
        self.samples_drawn = 0

    @property
    def steps_per_epoch(self) -> int:
        """Steps per pass over the data (``"epoch"``: ``n // (n_draws·batch_size)``)."""
        return self.n // (self.b * self.k) if self.sampling == "epoch" else max(1, self.n // (self.b * self.k))

    def block(self, steps: int) -> torch.Tensor:
        """Indices for the next ``steps`` steps, shape ``(steps, n_draws·batch_size)``."""
        width = self.b * self.k
        if self.sampling == "with_replacement":
            idx = self.rng.integers(0, self.n, size=(steps, width))
        elif self.sampling == "without_replacement":
            idx = np.stack([self.rng.choice(self.n, width, replace=False) for _ in range(steps)])
        else:
            spe = self.steps_per_epoch
            rows = []
            while len(rows) < steps:
                if self._perm is None or self._pos >= spe:
                    self._perm, self._pos = self.rng.permutation(self.n), 0
                take = min(steps - len(rows), spe - self._pos)
                chunk = self._perm[self._pos * width:(self._pos + take) * width].reshape(take, width)
                rows.extend(chunk)
                self._pos += take
            idx = np.stack(rows)
        self.samples_drawn += steps * width
        return torch.from_numpy(np.ascontiguousarray(idx, dtype=np.int64)).to(self.device)


# --------------------------------------------------------------------------- data
@dataclass
class TensorData:
    """Training (and optional test) tensors on one device; see :func:`as_tensors`."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    def to(self, device=None, dtype=None) -> TensorData:
        """A copy on ``device``; floating tensors (inputs, regression targets) cast to ``dtype``."""
        def mv(t):
            if t is None:
                return None
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            return t.to(device) if device is not None else t

        return TensorData(mv(self.x_train), mv(self.y_train), mv(self.x_test), mv(self.y_test))


def as_tensors(data, *, device=None, dtype=None) -> TensorData:
    """Convert ``{"x_train", "y_train", "x_test", "y_test"}`` arrays (e.g. from
    :func:`sgdlab.data.image_classification`) or a :class:`TensorData` to tensors on ``device``.

    Float arrays become ``dtype`` (default: torch's default dtype); integer labels become int64.
    """
    if isinstance(data, TensorData):
        return data.to(device, dtype)
    if not isinstance(data, Mapping) or "x_train" not in data or "y_train" not in data:
        raise ValueError("data must be a TensorData or a mapping with 'x_train' and 'y_train'")
    dtype = dtype or torch.get_default_dtype()

    def conv(a):
        if a is None:
            return None
        t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
        t = t.to(dtype) if t.is_floating_point() else t.long()
        return t.to(device) if device is not None else t

    out = TensorData(conv(data["x_train"]), conv(data["y_train"]), conv(data.get("x_test")), conv(data.get("y_test")))
    if out.x_train.shape[0] != out.y_train.shape[0]:
        raise ValueError(f"x_train has {out.x_train.shape[0]} samples but y_train has {out.y_train.shape[0]}")
    if (out.x_test is None) != (out.y_test is None):
        raise ValueError("x_test and y_test must both be given or both be absent")
    return out


@torch.no_grad()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, loss: str, chunk: int = 8192) -> tuple[float, float]:
    """Mean loss and accuracy (NaN for regression) of ``model`` on ``(x, y)``, in chunks."""
    total, right, n = 0.0, 0, x.shape[0]
    acc_ok = True
    for a in range(0, n, chunk):
        out = model(x[a:a + chunk])
        total += float(per_sample_loss(loss, out, y[a:a + chunk]).sum())
        c = correct(out, y[a:a + chunk])
        if c is None:
            acc_ok = False
        else:
            right += int(c)
    return total / n, (right / n if acc_ok else float("nan"))


# --------------------------------------------------------------------------- results
@dataclass
class TrainResult:
    """History and outcome of :func:`train`.

    Attributes
    ----------
    history : dict of lists
        ``step`` (base steps), ``iteration``, ``epoch`` (samples seen / n_train), ``train_loss``,
        ``train_acc``, ``test_loss``, ``test_acc`` (NaN where absent) at each evaluation.
    diverged : bool
    diverged_at : int or None
        Iteration at which divergence was detected.
    iterations : int
        Iterations completed.
    wall_time_s : float
    config : dict
    """

    history: dict[str, list]
    diverged: bool
    diverged_at: int | None
    iterations: int
    wall_time_s: float
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def final(self) -> dict:
        """The last evaluation as ``{key: value}``; a diverged run's losses are ``inf`` (as in the ensembles),
        the history keeps the values measured up to the divergence."""
        if not self.history["step"]:
            return {}
        out = {k: v[-1] for k, v in self.history.items()}
        if self.diverged:
            for k in ("train_loss", "test_loss"):
                if out[k] == out[k]:  # not the NaN of an absent test set
                    out[k] = float("inf")
        return out


def _check_labels(model, data, loss: str) -> None:
    """``ValueError`` naming ``y_train``/``y_test`` when class labels do not fit the model's outputs."""
    if loss != "cross_entropy":
        return
    with torch.no_grad():
        k = model(data.x_train[:1]).shape[-1]
    for name, y in (("y_train", data.y_train), ("y_test", data.y_test)):
        if y is not None and y.numel() and not y.is_floating_point():
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= k:
                raise ValueError(f"{name}: class labels must lie in [0, {k}) for a model with {k} outputs; "
                                 f"found labels in [{lo}, {hi}]")


def _inf_if_nan(v: float) -> float:
    """A NaN loss means the run blew up: report it as ``inf`` (never a silent NaN)."""
    return float("inf") if v != v else v


HISTORY_KEYS = ("step", "iteration", "epoch", "train_loss", "train_acc", "test_loss", "test_acc")


def _steps_progress(total: int, progress: bool, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def train(model: nn.Module, data, config: TrainConfig, *, device=None, progress: bool = False) -> TrainResult:
    """Train ``model`` in place with ``config`` and return its :class:`TrainResult`.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (its trainable parameters, in ``model.parameters()`` order).
    data : mapping or TensorData
        ``x_train``, ``y_train`` (and optionally ``x_test``, ``y_test``); moved to the model's device
        and dtype (see :func:`as_tensors`).
    config : TrainConfig
    device : optional
        Move the model there first (default: where the model is).
    progress : bool
        Show a tqdm bar.

    Raises
    ------
    ValueError
        For ``batch_size`` above the training-set size, or ``2·batch_size`` above it with
        ``gradient="gd_plus_noise"`` (and the checks of :class:`TrainConfig`).

    Notes
    -----
    Divergence is reported in the result (``diverged``), never raised. The model then holds the
    parameters of the last iteration (possibly non-finite).
    """
    if not isinstance(config, TrainConfig):
        raise ValueError("config must be a TrainConfig")
    if device is not None:
        from ..device import resolve

        model.to(resolve(device))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    dev, dtype = params[0].device, params[0].dtype
    data = as_tensors(data, device=dev, dtype=dtype)
    n = data.n_train
    _check_batch_fits(config, n)
    weights = estimator_weights(config)
    noisy_gd = config.gradient == "gd_plus_noise"
    full_batch = config.optimizer == "gd" and not noisy_gd  # no sampler: every step uses the whole training set
    sampler = None if full_batch else BatchSampler(n, config.batch_size, sampling=config.sampling,
                                                   n_draws=len(weights), seed=config.seed, device=dev)
    w_vec = None
    if len(weights) > 1:
        B = config.batch_size
        w_vec = torch.cat([torch.full((B,), c / B, dtype=dtype, device=dev) for c in weights])
    opt = FunctionalOptimizer(config.optimizer, params, lr=config.iteration_lr, momentum=config.momentum,
                              betas=config.betas, eps=config.eps, weight_decay=config.weight_decay)
    L = config.svag_l
    evals = [s * L for s in config.schedule()]
    hist: dict[str, list] = {k: [] for k in HISTORY_KEYS}
    samples = 0
    t0 = time.perf_counter()
    diverged, diverged_at, max_loss = False, None, float("inf")

    def record(it):
        nonlocal diverged, diverged_at
        model.eval()
        tr = evaluate(model, data.x_train, data.y_train, config.loss, config.eval_chunk)
        te = (evaluate(model, data.x_test, data.y_test, config.loss, config.eval_chunk)
              if data.x_test is not None else (float("nan"), float("nan")))
        model.train()
        hist["step"].append(it / L)
        hist["iteration"].append(it)
        hist["epoch"].append(samples / n)
        hist["train_loss"].append(_inf_if_nan(tr[0]))
        hist["train_acc"].append(tr[1])
        hist["test_loss"].append(_inf_if_nan(te[0]) if data.x_test is not None else te[0])
        hist["test_acc"].append(te[1])
        if not math.isfinite(tr[0]) or tr[0] > max_loss:
            diverged, diverged_at = True, it
        return tr[0]

    _check_labels(model, data, config.loss)
    loss0 = record(0)
    if math.isfinite(loss0):
        max_loss = config.divergence_factor * max(loss0, 1e-12)
    else:
        diverged, diverged_at = True, 0
    bar = _steps_progress(config.iterations, progress, "train")
    block, pos, it = None, 0, 0
    block_len = max(1, min(config.iterations, sampler.steps_per_epoch if sampler else 1, 4096))
    worst = torch.zeros((), dtype=dtype, device=dev)
    next_eval = 1
    while it < config.iterations and not diverged:
        if full_batch:
            loss = monitored = mean_loss(config.loss, model(data.x_train), data.y_train)
            samples += n
        else:
            if block is None or pos == block.shape[0]:
                block, pos = sampler.block(min(block_len, config.iterations - it)), 0
            idx = block[pos]
            pos += 1
            if noisy_gd:  # the full training loss L: its gradient, and the divergence check
                monitored = mean_loss(config.loss, model(data.x_train), data.y_train)
                samples += n
            xb, yb = data.x_train.index_select(0, idx), data.y_train.index_select(0, idx)
            out = model(xb)
            if w_vec is None:
                loss = mean_loss(config.loss, out, yb)
            else:
                loss = (per_sample_loss(config.loss, out, yb) * w_vec).sum()
            if noisy_gd:
                loss = monitored + loss
            else:
                monitored = loss
            samples += idx.numel()
        grads = torch.autograd.grad(loss, params)
        opt.step(grads)
        it += 1
        worst = torch.maximum(worst, monitored.detach())  # NaN propagates
        if it % config.check_every == 0 or it == config.iterations or it == evals[next_eval]:
            w = float(worst)
            if not math.isfinite(w) or w > max_loss:
                diverged, diverged_at = True, it
        if bar is not None:
            bar.update(1)
        if it == evals[next_eval]:
            record(it)
            next_eval += 1
    if diverged and hist["iteration"][-1] != diverged_at:
        record(diverged_at)
    if bar is not None:
        bar.close()
    return TrainResult(hist, diverged, diverged_at, it, time.perf_counter() - t0, config.to_dict())
