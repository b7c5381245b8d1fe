"""Ensembles: many seeds or learning rates trained as one vectorised computation.

The ``E`` members' weights are stacked (``torch.func.stack_module_state``) and the per-member
gradients computed with ``torch.func.vmap(torch.func.grad_and_value(loss))`` over the stacked
weights and each member's own mini-batch; the update is
:class:`~sgdlab.train.optim.FunctionalOptimizer` with one learning rate (and momentum) per member.
Member ``i`` follows exactly the iterates of ``train(model_fn(seeds[i]), data, config.replace(seed=seeds[i]))``
(same initial weights, same batches; tested to float64 round-off in ``tests/test_train_ensemble.py``).

A diverged member is frozen (its learning rate set to 0, its weights zeroed) and reported with an
infinite loss; the others go on. The run stops early when every member has diverged. Its accuracy is
never a silent NaN: from the detection of its divergence on, a diverged member's accuracy is the one
measured at its last evaluation before that detection (carried forward, next to its ``diverged`` flag
and ``diverged_at``), because the zeroed weights have no accuracy of their own to measure.

The book's claims need 3–16 seeds per point (parts 2–5); ``benchmarks/bench_train.py`` measures the
speed-up over a Python loop of runs.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from .loop import (
    BatchSampler,
    TrainConfig,
    _check_batch_fits,
    _inf_if_nan,
    _steps_progress,
    as_tensors,
    estimator_weights,
)
from .losses import correct, mean_loss, per_sample_loss
from .optim import FunctionalOptimizer


@dataclass
class EnsembleResult:
    """Outcome of :func:`train_ensemble`.

    Attributes
    ----------
    history : dict
        ``step``, ``iteration``, ``epoch``: lists of length ``n_eval``; ``train_loss``, ``train_acc``,
        ``test_loss``, ``test_acc``: arrays of shape ``(n_eval, E)``. A diverged member's losses are
        ``inf`` from the evaluation at which its divergence was detected on, and its accuracies are
        carried forward from its last evaluation before that (see the module docstring). NaN means
        "not measured" only: ``test_*`` without test data, accuracies for a loss without classes.
    seeds, lrs, momenta : lists of length E
    diverged : ndarray of bool, shape (E,)
    diverged_at : list of (int or None)
        Iteration at which each member's divergence was detected.
    params : dict of tensors
        Final stacked parameters ``{name: (E, …)}``.
    wall_time_s : float
    config : dict
    """

    history: dict
    seeds: list
    lrs: list
    momenta: list
    diverged: np.ndarray
    diverged_at: list
    params: dict = field(repr=False)
    wall_time_s: float = 0.0
    config: dict = field(default_factory=dict)
    model_fn: Callable | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.seeds)

    def member_history(self, i: int) -> dict:
        """Member ``i``'s history in the layout of :class:`~sgdlab.train.loop.TrainResult`."""
        h = {k: list(self.history[k]) for k in ("step", "iteration", "epoch")}
        for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
            h[k] = [float(v) for v in np.asarray(self.history[k])[:, i]]
        return h

    def member_model(self, i: int) -> nn.Module:
        """A fresh ``model_fn(seeds[i])`` holding member ``i``'s final weights."""
        if self.model_fn is None:
            raise ValueError("this result has no model_fn")
        model = self.model_fn(self.seeds[i])
        with torch.no_grad():
            named = dict(model.named_parameters())
            for k, v in self.params.items():
                named[k].copy_(v[i].to(named[k].device))
        return model

    def to_dict(self) -> dict:
        """JSON-serialisable summary (without the weights)."""
        out = {k: getattr(self, k) for k in ("seeds", "lrs", "momenta", "diverged_at", "wall_time_s", "config")}
        out["diverged"] = [bool(d) for d in self.diverged]
        out["history"] = {k: np.asarray(v).tolist() for k, v in self.history.items()}
        return out


def _is_number(v) -> bool:
    if isinstance(v, torch.Tensor):
        return v.dim() == 0 and (v.is_floating_point() or not v.dtype.is_complex) and v.dtype != torch.bool
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _per_member(name: str, value, default, E: int) -> list[float]:
    if value is None:
        return [float(default)] * E
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name}={value!r} must be a number or a sequence of numbers, one per seed")
    items = list(value) if isinstance(value, (Sequence, np.ndarray, torch.Tensor, range)) else [value] * E
    if not all(_is_number(v) for v in items):
        raise ValueError(f"{name}={value!r} must hold numbers only")
    vals = [float(v) for v in items]
    if len(vals) != E:
        raise ValueError(f"{name} has {len(vals)} entries; expected one per seed ({E})")
    return vals


def _seed_list(seeds) -> list[int]:
    if seeds is None or isinstance(seeds, (str, bytes)):
        raise ValueError(f"seeds={seeds!r} must be a sequence of integers >= 0")
    try:
        items = list(seeds)
    except TypeError:
        raise ValueError(f"seeds={seeds!r} must be a sequence of integers >= 0") from None
    for s in items:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must hold integers >= 0, got {s!r}")
    return [int(s) for s in items]


def train_ensemble(model_fn: Callable[[int], nn.Module], data, config: TrainConfig, *, seeds: Sequence[int],
                   lrs: Sequence[float] | None = None, momenta: Sequence[float] | None = None, device=None,
                   progress: bool = False, diverged_accuracy: str = "last") -> EnsembleResult:
    """Train ``len(seeds)`` networks at once (vectorised over members).

    Parameters
    ----------
    model_fn : callable
        ``model_fn(seed) -> nn.Module``: the initial network of a member (e.g.
        ``lambda s: mlp([64, 32, 10], seed=s, dtype=torch.float64)``). All members share its architecture.
    data : mapping or TensorData
        As for :func:`~sgdlab.train.loop.train`.
    config : TrainConfig
        Shared hyper-parameters; ``config.seed`` is ignored (each member uses its own seed for its
        initial weights and its batch order). Every gradient estimator of
        :mod:`sgdlab.train.loop` is supported, ``"gd_plus_noise"`` (full-batch GD plus zero-mean
        mini-batch noise, divergence judged on the full training loss) included.
    seeds : sequence of int
        One per member (repeats allowed, e.g. the same seed at several learning rates).
    lrs, momenta : sequences, optional
        Per-member learning rates / momenta (default: ``config.lr`` / ``config.momentum``). Validated
        like the config's values (a ValueError names ``lrs`` or ``momenta``). ``lrs`` are in the
        config's convention: PyTorch's γ for ``"sgd"``/``"sgdm"``, the effective η = γ/(1−β) for
        ``"sgdm_normalized"``.
    device : optional
        Where to train (default: where ``model_fn`` puts the model).
    progress : bool
        Show a tqdm bar.
    diverged_accuracy : {"last", "nan"}
        A diverged member's accuracies from the detection of its divergence on: ``"last"`` (default)
        carries forward those measured at its last evaluation before the detection; ``"nan"`` is the
        former convention (NaN next to the ``diverged`` flag), kept only for callers written against it.

    Returns
    -------
    EnsembleResult
        Divergence is a result: a diverged member has ``diverged`` True, ``diverged_at`` set, ``inf``
        losses and carried-forward accuracies (never NaN), and the others go on.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError("config must be a TrainConfig")
    if diverged_accuracy not in ("last", "nan"):
        raise ValueError(f"diverged_accuracy={diverged_accuracy!r} must be 'last' or 'nan'")
    if not callable(model_fn):
        raise ValueError(f"model_fn={model_fn!r} must be a callable seed -> nn.Module")
    seeds = _seed_list(seeds)
    E = len(seeds)
    if E < 1:
        raise ValueError("seeds must hold at least one seed")
    lr_list = _per_member("lrs", lrs, config.lr, E)
    mom_list = _per_member("momenta", momenta, config.momentum, E)
    for i, (lr, mom) in enumerate(zip(lr_list, mom_list)):  # validate each member like a config
        try:
            config.replace(lr=lr)
        except ValueError as exc:
            raise ValueError(f"lrs[{i}]={lr!r}: {exc}") from None
        try:
            config.replace(momentum=mom)
        except ValueError as exc:
            raise ValueError(f"momenta[{i}]={mom!r}: {exc}") from None
    models = [model_fn(s) for s in seeds]
    if device is not None:
        from ..device import resolve

        models = [m.to(resolve(device)) for m in models]
    p0 = [p for p in models[0].parameters() if p.requires_grad]
    dev, dtype = p0[0].device, p0[0].dtype
    data = as_tensors(data, device=dev, dtype=dtype)
    n = data.n_train
    _check_batch_fits(config, n)
    stacked, buffers = stack_module_state(models)
    names = list(stacked)
    params = [stacked[k].detach().clone() for k in names]
    buffers = {k: v.detach() for k, v in buffers.items()}
    base = copy.deepcopy(models[0]).to("meta")
    del models

    weights = estimator_weights(config)
    noisy_gd = config.gradient == "gd_plus_noise"
    full_batch = config.optimizer == "gd" and not noisy_gd  # no sampler: every step uses the whole training set
    w_vec = None
    if len(weights) > 1:
        B = config.batch_size
        w_vec = torch.cat([torch.full((B,), c / B, dtype=dtype, device=dev) for c in weights])

    def member_out(p, b, x):
        return functional_call(base, ({k: t for k, t in zip(names, p)}, b), (x,))

    def member_loss(p, b, xb, yb):
        out = member_out(p, b, xb)
        if w_vec is None:
            return mean_loss(config.loss, out, yb)
        return (per_sample_loss(config.loss, out, yb) * w_vec).sum()

    if noisy_gd:
        def member_noisy_loss(p, b, x, y, xb, yb):  # (L + Σ_j c_j L_{B_j}, L): the divergence check watches L
            full = mean_loss(config.loss, member_out(p, b, x), y)
            return full + member_loss(p, b, xb, yb), full

        grad_fn = vmap(grad_and_value(member_noisy_loss, has_aux=True), in_dims=(0, 0, None, None, 0, 0))
    else:
        data_dims = None if full_batch else 0
        grad_fn = vmap(grad_and_value(member_loss), in_dims=(0, 0, data_dims, data_dims))

    fwd = vmap(member_out, in_dims=(0, 0, None))

    L = config.svag_l
    lr_t = torch.tensor([lr / L for lr in lr_list], dtype=dtype, device=dev)
    mom = torch.tensor(mom_list, dtype=dtype, device=dev) if config.optimizer in ("sgdm", "sgdm_normalized") else 0.0
    opt = FunctionalOptimizer(config.optimizer, params, lr=lr_t, momentum=mom, betas=config.betas, eps=config.eps,
                              weight_decay=config.weight_decay, ensemble=E)
    samplers = None if full_batch else [
        BatchSampler(n, config.batch_size, sampling=config.sampling, n_draws=len(weights), seed=s, device=dev)
        for s in seeds
    ]
    alive = torch.ones(E, dtype=torch.bool, device=dev)
    diverged_at: list = [None] * E
    evals = [s * L for s in config.schedule()]
    hist: dict = {k: [] for k in ("step", "iteration", "epoch")}
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        hist[k] = []
    samples = 0
    t0 = time.perf_counter()

    @torch.no_grad()
    def ev(x, y):
        tot = torch.zeros(E, dtype=torch.float64, device=dev)
        right = torch.zeros(E, dtype=torch.float64, device=dev)
        acc_ok = True
        for a in range(0, x.shape[0], config.eval_chunk):
            out = fwd(tuple(params), buffers, x[a:a + config.eval_chunk])  # (E, n, k)
            yb = y[a:a + config.eval_chunk]
            tot += torch.stack([per_sample_loss(config.loss, o, yb).sum() for o in out]).double()
            c = [correct(o, yb) for o in out]
            if c[0] is None:
                acc_ok = False
            else:
                right += torch.stack(c).double()
        loss = (tot / x.shape[0]).cpu().numpy()
        acc = (right / x.shape[0]).cpu().numpy() if acc_ok else np.full(E, np.nan)
        dead = ~alive.cpu().numpy()
        loss = np.where(dead, np.inf, np.vectorize(_inf_if_nan)(loss))
        return loss, acc, dead

    last_acc: dict = {}  # split -> accuracies at each member's last evaluation while alive

    def carried(split, measured):
        loss, acc, dead = measured
        if diverged_accuracy == "nan":
            return loss, np.where(dead, np.nan, acc)
        if split in last_acc:
            acc = np.where(dead, last_acc[split], acc)
        last_acc[split] = acc
        return loss, acc

    def record(it):
        tr = carried("train", ev(data.x_train, data.y_train))
        te = (carried("test", ev(data.x_test, data.y_test)) if data.x_test is not None
              else (np.full(E, np.nan), np.full(E, np.nan)))
        hist["step"].append(it / L)
        hist["iteration"].append(it)
        hist["epoch"].append(samples / n)
        hist["train_loss"].append(tr[0])
        hist["train_acc"].append(tr[1])
        hist["test_loss"].append(te[0])
        hist["test_acc"].append(te[1])
        return tr[0]

    max_loss = torch.as_tensor(config.divergence_factor * np.maximum(record(0), 1e-12), dtype=dtype, device=dev)
    max_loss = torch.nan_to_num(max_loss, nan=-1.0, posinf=-1.0)  # a member with a non-finite start diverges at once
    worst = torch.zeros(E, dtype=dtype, device=dev)

    def check(it):
        nonlocal alive
        bad = alive & ~(worst <= max_loss)  # NaN or too large
        if bool(bad.any()):
            for i in torch.nonzero(bad).flatten().tolist():
                diverged_at[i] = it
            alive = alive & ~bad
            opt.set_lr_(lr_t * alive.to(dtype))
            with torch.no_grad():
                for p, st in zip(params, opt.state):
                    p[bad] = 0
                    for buf in st.values():
                        buf[bad] = 0
        return bool(alive.any())

    bar = _steps_progress(config.iterations, progress, f"ensemble of {E}")
    block_len = max(1, min(config.iterations, samplers[0].steps_per_epoch if samplers else 1, 4096))
    block, pos, it, next_eval = None, 0, 0, 1
    going = check(0)
    while it < config.iterations and going:
        if full_batch:
            batch = (data.x_train, data.y_train)
            samples += n
        else:
            if block is None or pos == block.shape[1]:
                steps = min(block_len, config.iterations - it)
                block, pos = torch.stack([s.block(steps) for s in samplers]), 0  # (E, steps, width)
            idx = block[:, pos]
            pos += 1
            batch = (data.x_train[idx], data.y_train[idx])
            if noisy_gd:
                batch = (data.x_train, data.y_train) + batch
                samples += n
            samples += idx.shape[1]
        grads, loss = grad_fn(tuple(params), buffers, *batch)
        if noisy_gd:
            loss = loss[1]  # the full training loss L
        opt.step(grads)
        it += 1
        worst = torch.maximum(worst, torch.where(alive, loss.detach(), torch.zeros_like(worst)))
        if it % config.check_every == 0 or it == config.iterations or it == evals[next_eval]:
            going = check(it)
        if bar is not None:
            bar.update(1)
        if it == evals[next_eval]:
            record(it)
            next_eval += 1
    if not going and hist["iteration"][-1] != it:
        record(it)
    if bar is not None:
        bar.close()
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        hist[k] = np.stack(hist[k])
    return EnsembleResult(
        history=hist, seeds=seeds, lrs=lr_list, momenta=mom_list, diverged=~alive.cpu().numpy(),
        diverged_at=diverged_at, params={k: p.detach() for k, p in zip(names, params)},
        wall_time_s=time.perf_counter() - t0, config=config.to_dict(), model_fn=model_fn,
    )
