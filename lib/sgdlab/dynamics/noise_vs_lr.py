r"""Large learning rate versus amplified gradient noise in a network: the three-arm protocol.

Three arms, each an ensemble over ``seeds`` trained with plain mini-batch SGD (no momentum):

``"large_then_small"``
    ``steps_explore`` steps at :math:`\eta_L`, then ``steps_refine`` steps at :math:`\eta_S`.
``"small"``
    ``steps_explore + steps_refine`` steps at :math:`\eta_S`.
``"small_amplified"``
    ``steps_explore`` steps at :math:`\eta_S` with the three-batch estimator
    :math:`g = g_{B_1} + k\,(g_{B_2}-g_{B_3})/\sqrt2` (mean :math:`\nabla L`, covariance
    :math:`(1+k^2)\Sigma/B`), then ``steps_refine`` plain steps at :math:`\eta_S`. The default
    :math:`k=\sqrt{\eta_L/\eta_S-1}` (:func:`matched_noise_k`) gives the small step the large one's
    temperature :math:`\eta\,\mathrm{tr}\,\Sigma/(2B)`.
``"small_long"`` (when ``steps_long > 0``)
    The ``"small"`` arm continued for ``steps_long`` more steps at :math:`\eta_S`: the control
    that trains the small learning rate longer, to a lower training loss.

Every phase is one vectorised :func:`sgdlab.train.train_ensemble` call. The arms at :math:`\eta_L`
and :math:`\eta_S` start from the same weights and see the same batches in the first phase (a
paired comparison); the amplified arm draws three batches per step, so it costs three gradient
evaluations per step. Arms are compared at equal numbers of *steps*. A later phase continues from
the weights at the end of the previous one (:func:`continue_ensemble`), with a batch order derived
from ``(seed, phase)``. A member that diverged stays diverged in the later phases: ``inf`` loss, and
its last accuracy before the divergence carried forward (never NaN), next to its ``diverged`` flag.

Full-batch GD versions of the arms (:func:`gd_lr_vs_noise`, names in :data:`GD_ARMS`):
``"gd_large_then_small"``, ``"gd_small"``, ``"gd_small_amplified"`` (GD at :math:`\eta_S` plus the
zero-mean difference :math:`k\,(g_{B_2}-g_{B_3})/\sqrt2`, :func:`train_gd_noise_ensemble`, with
:math:`k=\sqrt{\eta_L/\eta_S}` from :func:`matched_gd_noise_k`) and ``"gd_small_long"``.

Used by ``book/large_lr/06_networks`` (checks P3.C5a–c, headline claim P3.H1).

References
----------
Mohtashami, Jaggi, Stich, *Special Properties of Gradient Descent with Large Learning Rates*, ICML
2023 (Sec. on neural networks and Algorithm 1, App. A: "increased stochasticity can not replace the
effects of large learning rates"; App. G: the learning rate moderates the effective variance). The
three-batch estimator is our reconstruction; the paper's Algorithm 1 could not be read.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..train import EnsembleResult, TrainConfig, train_ensemble
from ..train.loop import as_tensors

ARMS = ("large_then_small", "small", "small_amplified", "small_long")
_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


def matched_noise_k(lr_large: float, lr_small: float) -> float:
    r"""Noise amplification :math:`k=\sqrt{\eta_L/\eta_S-1}` that gives :math:`\eta_S` the temperature of :math:`\eta_L`.

    The three-batch estimator has covariance :math:`(1+k^2)\Sigma/B`; the temperature of SGD is
    :math:`\eta\,\mathrm{tr}(\mathrm{Cov}\,g)/2`, so :math:`\eta_S(1+k^2)=\eta_L`.

    Parameters
    ----------
    lr_large, lr_small : float
        :math:`\eta_L > \eta_S > 0`.

    Returns
    -------
    float

    References
    ----------
    Mohtashami et al., ICML 2023, App. G (learning rate moderates the effective variance);
    derived with SymPy in ``book/large_lr/03_noise_vs_step``, used in ``book/large_lr/06_networks``.
    """
    for name, v in (("lr_large", lr_large), ("lr_small", lr_small)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name}={v!r} must be a finite number > 0")
    if not lr_large > lr_small:
        raise ValueError(f"lr_large={lr_large!r} must exceed lr_small={lr_small!r}")
    return math.sqrt(lr_large / lr_small - 1.0)


def _phase_seed(seed: int, phase: int) -> int:
    """Batch-order seed of ``phase`` for member seed ``seed`` (phase 0 uses ``seed`` itself)."""
    if phase == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(phase)]).generate_state(1)[0])


def continue_ensemble(sources: Sequence[tuple[EnsembleResult, Sequence[int]]], model_fn: Callable[[int], nn.Module],
                      data, config: TrainConfig, *, seeds: Sequence[int], batch_seeds: Sequence[int] | None = None,
                      lrs: Sequence[float] | None = None, device=None) -> EnsembleResult:
    """Train an ensemble that starts from the final weights of members of earlier ensembles.

    Parameters
    ----------
    sources : sequence of (EnsembleResult, member indices)
        The new ensemble's members, in order: for each pair, the listed members of that result.
    model_fn : callable
        ``model_fn(seed) -> nn.Module`` with the architecture of the sources (its weights are overwritten).
    data, config
        As for :func:`sgdlab.train.train_ensemble`.
    seeds : sequence of int
        The members' original seeds (for ``model_fn``), one per member.
    batch_seeds : sequence of int, optional
        Seeds of the members' batch order in this phase (default: ``seeds``).
    lrs : sequence of float, optional
        Per-member learning rates (default: ``config.lr``).
    device : optional
        As for :func:`sgdlab.train.train_ensemble`.

    Returns
    -------
    EnsembleResult
        Its ``model_fn`` rebuilds a member with its weights at the *start* of this phase.

    Notes
    -----
    The first evaluation (step 0) of the result is the source members' final state.
    """
    start = []
    for res, idx in sources:
        if not isinstance(res, EnsembleResult):
            raise ValueError("sources must hold (EnsembleResult, member indices) pairs")
        for i in idx:
            if not 0 <= int(i) < res.size:
                raise ValueError(f"member index {i} is out of range for an ensemble of {res.size}")
            start.append({k: v[int(i)].detach().clone() for k, v in res.params.items()})
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(start):
        raise ValueError(f"seeds has {len(seeds)} entries; the sources hold {len(start)} members")
    batch_seeds = seeds if batch_seeds is None else [int(s) for s in batch_seeds]
    if len(batch_seeds) != len(start):
        raise ValueError(f"batch_seeds has {len(batch_seeds)} entries; expected {len(start)}")
    by_seed: dict[int, int] = {}
    for j, b in enumerate(batch_seeds):
        if b in by_seed:
            raise ValueError("batch_seeds must be distinct (they identify the members)")
        by_seed[b] = j

    def fn(batch_seed: int) -> nn.Module:
        j = by_seed[int(batch_seed)]
        model = model_fn(seeds[j])
        with torch.no_grad():
            named = dict(model.named_parameters())
            if set(named) != set(start[j]) or any(named[k].shape != v.shape for k, v in start[j].items()):
                raise ValueError("model_fn builds a different architecture from the sources")
            for k, v in start[j].items():
                named[k].copy_(v.to(device=named[k].device, dtype=named[k].dtype))
        return model

    return train_ensemble(fn, data, config, seeds=batch_seeds, lrs=lrs, device=device)


@dataclass
class ArmHistory:
    """Evaluations of one arm over its seeds.

    Attributes
    ----------
    step : ndarray, shape (n_eval,)
        Optimiser steps since initialisation.
    epoch : ndarray, shape (n_eval,)
        ``step · batch_size / n_train`` (passes of the update batch; the amplified arm evaluates
        three batches per step during exploration).
    train_loss, train_acc, test_loss, test_acc : ndarray, shape (n_eval, n_seeds)
        ``inf`` loss for a diverged member from its divergence on, and its last accuracy before the
        divergence carried forward (never NaN; see ``diverged``).
    diverged : ndarray of bool, shape (n_seeds,)
    """

    step: np.ndarray
    epoch: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    diverged: np.ndarray

    def final(self, metric: str) -> np.ndarray:
        """The last evaluation of ``metric`` per seed."""
        if metric not in _METRICS:
            raise ValueError(f"metric={metric!r} is unknown; allowed: {', '.join(_METRICS)}")
        return getattr(self, metric)[-1]


@dataclass
class LrNoiseResult:
    """Outcome of :func:`lr_vs_noise`: one :class:`ArmHistory` per arm, and the settings.

    Attributes
    ----------
    arms : dict
        ``{name: ArmHistory}`` for the names in :data:`ARMS` (``"small_long"`` only when ``steps_long > 0``).
    lr_large, lr_small, noise_k : float
    steps_explore, steps_refine, steps_long, batch_size, n_train : int
    seeds : list of int
    wall_time_s : float
    """

    arms: dict
    lr_large: float
    lr_small: float
    noise_k: float
    steps_explore: int
    steps_refine: int
    steps_long: int
    batch_size: int
    n_train: int
    seeds: list
    wall_time_s: float = 0.0
    config: dict = field(default_factory=dict)


def _slice(res: EnsembleResult, members: Sequence[int], step0: int, skip_first: bool) -> dict:
    h = res.history
    a = 1 if skip_first else 0
    out = {"step": np.asarray(h["step"][a:], dtype=float) + step0}
    for k in _METRICS:
        out[k] = np.asarray(h[k])[a:, list(members)]
    out["diverged"] = res.diverged[list(members)]
    return out


def _concat(parts: list[dict], batch_size: int, n_train: int) -> ArmHistory:
    """Join the phases of one arm. A member that diverged in an earlier phase keeps an ``inf`` loss and
    its last accuracy before the divergence (carried forward, as the engine does), never NaN."""
    dead = np.zeros(parts[0]["train_loss"].shape[1], dtype=bool)
    pieces = []
    for p in parts:
        p = dict(p)
        for k in _METRICS:
            v = p[k].astype(float).copy()
            if k.endswith("loss"):
                v[:, dead] = np.inf
            elif pieces:
                v[:, dead] = pieces[-1][k][-1, dead]
            p[k] = v
        dead = dead | p["diverged"]
        pieces.append(p)
    step = np.concatenate([p["step"] for p in pieces])
    return ArmHistory(step=step, epoch=step * batch_size / n_train,
                      **{k: np.concatenate([p[k] for p in pieces]) for k in _METRICS}, diverged=dead)


def _pos_int(name: str, v, allow_zero: bool = False) -> int:
    lo = 0 if allow_zero else 1
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name}={v!r} must be an integer >= {lo}")
    return int(v)


def _seed_list(seeds, name: str = "seeds") -> list[int]:
    """Distinct integers >= 0 (at least one)."""
    msg = f"{name}={seeds!r} must be a sequence of distinct integers >= 0 (at least one)"
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        raise ValueError(msg)
    if any(isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) for s in seeds):
        raise ValueError(msg)
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise ValueError(msg)
    return out


def _protocol(k, noise_k, steps_explore, steps_refine, steps_long, seeds, eval_every, data):
    """Validate the arguments shared by :func:`lr_vs_noise` and :func:`gd_lr_vs_noise`."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.integer, np.floating)) \
            or not math.isfinite(k) or k < 0:
        raise ValueError(f"noise_k={noise_k!r} must be a finite number >= 0")
    steps = (_pos_int("steps_explore", steps_explore), _pos_int("steps_refine", steps_refine),
             _pos_int("steps_long", steps_long, allow_zero=True))
    seeds = _seed_list(seeds)
    if eval_every is not None:
        eval_every = _pos_int("eval_every", eval_every)
    return k, steps, seeds, eval_every, as_tensors(data).n_train


def lr_vs_noise(model_fn: Callable[[int], nn.Module], data, *, lr_large: float, lr_small: float, batch_size: int,
                steps_explore: int, steps_refine: int, seeds: Sequence[int], steps_long: int = 0,
                noise_k: float | None = None, eval_every: int | None = None, loss: str = "cross_entropy",
                device=None) -> LrNoiseResult:
    r"""Large-then-small learning rate vs small learning rate vs small learning rate with amplified noise.

    Parameters
    ----------
    model_fn : callable
        ``model_fn(seed) -> nn.Module`` (e.g. ``lambda s: mlp([784, 256, 10], seed=s)``); a network
        without BatchNorm.
    data : mapping or TensorData
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (see :func:`sgdlab.train.as_tensors`).
    lr_large, lr_small : float
        :math:`\eta_L > \eta_S > 0`.
    batch_size : int
        ``B``; the amplified arm needs ``3B`` ≤ ``n_train`` (three disjoint batches per step).
    steps_explore, steps_refine : int
        Steps of the first phase (large / small / amplified) and of the second (all at :math:`\eta_S`).
    seeds : sequence of int
        One member per seed and arm (at least one; distinct).
    steps_long : int
        Extra steps at :math:`\eta_S` for the ``"small_long"`` control (0: no control).
    noise_k : float, optional
        Noise amplification :math:`k\ge0` (default :func:`matched_noise_k`).
    eval_every : int, optional
        Steps between evaluations (default: about 8 per phase).
    loss : str
        ``"cross_entropy"`` or ``"mse"``.
    device : optional
        Where to train.

    Returns
    -------
    LrNoiseResult

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023 (NN experiments; Algorithm 1, App. A). Used in
    ``book/large_lr/06_networks``.
    """
    if not callable(model_fn):
        raise ValueError(f"model_fn must be callable (seed -> nn.Module), got {type(model_fn).__name__}")
    k = matched_noise_k(lr_large, lr_small) if noise_k is None else noise_k
    matched_noise_k(lr_large, lr_small)  # validates both rates
    batch_size = _pos_int("batch_size", batch_size)
    k, (t1, t2, t3), seeds, eval_every, n = _protocol(k, noise_k, steps_explore, steps_refine, steps_long, seeds,
                                                      eval_every, data)
    if 3 * batch_size > n:
        raise ValueError(f"batch_size={batch_size}: three disjoint batches per step exceed the {n} training samples")
    S = len(seeds)

    def cfg(steps: int, **kw) -> TrainConfig:
        every = eval_every or max(1, steps // 8)
        return TrainConfig(optimizer="sgd", lr=lr_small, batch_size=batch_size, steps=steps, loss=loss,
                           eval_every=every, **kw)

    t0 = time.perf_counter()
    # phase 1: η_L and η_S side by side (same initial weights and batches), and the amplified arm
    p1 = train_ensemble(model_fn, data, cfg(t1), seeds=seeds * 2, lrs=[lr_large] * S + [lr_small] * S, device=device)
    p1c = train_ensemble(model_fn, data, cfg(t1, gradient="noise_amplified", noise_k=float(k)), seeds=seeds,
                         device=device)
    # phase 2: every arm at η_S
    b2 = [_phase_seed(s, 1 + a) for a in range(3) for s in seeds]
    p2 = continue_ensemble([(p1, range(2 * S)), (p1c, range(S))], model_fn, data, cfg(t2), seeds=seeds * 3,
                           batch_seeds=b2, device=device)
    arms = {
        "large_then_small": _concat([_slice(p1, range(S), 0, False), _slice(p2, range(S), t1, True)], batch_size, n),
        "small": _concat([_slice(p1, range(S, 2 * S), 0, False), _slice(p2, range(S, 2 * S), t1, True)], batch_size, n),
        "small_amplified": _concat([_slice(p1c, range(S), 0, False), _slice(p2, range(2 * S, 3 * S), t1, True)],
                                   batch_size, n),
    }
    if t3:
        b3 = [_phase_seed(s, 4) for s in seeds]
        p3 = continue_ensemble([(p2, range(S, 2 * S))], model_fn, data, cfg(t3), seeds=seeds, batch_seeds=b3,
                               device=device)
        arms["small_long"] = _concat([_slice(p1, range(S, 2 * S), 0, False), _slice(p2, range(S, 2 * S), t1, True),
                                      _slice(p3, range(S), t1 + t2, True)], batch_size, n)
    return LrNoiseResult(arms=arms, lr_large=float(lr_large), lr_small=float(lr_small), noise_k=float(k),
                         steps_explore=t1, steps_refine=t2, steps_long=t3, batch_size=batch_size, n_train=n,
                         seeds=seeds, wall_time_s=time.perf_counter() - t0,
                         config=dict(loss=loss, eval_every=eval_every))


# --------------------------------------------------------------------------- full-batch GD versions
GD_ARMS = ("gd_large_then_small", "gd_small", "gd_small_amplified", "gd_small_long")


def matched_gd_noise_k(lr_large: float, lr_small: float) -> float:
    r"""Noise amplification :math:`k=\sqrt{\eta_L/\eta_S}` of the GD arm: GD at :math:`\eta_S` plus noise, at SGD's :math:`\eta_L` temperature.

    What "matched" means for full-batch GD: GD at :math:`\eta_L` has no gradient noise at all, so
    its temperature in the SGD sense is zero and there is nothing of its own to match. We give the
    small step instead the temperature :math:`\eta_L\,\mathrm{tr}\,\Sigma/(2B)` of *mini-batch SGD*
    at the large rate with the SGD arms' batch size :math:`B` (:math:`\Sigma` the per-sample
    gradient covariance), i.e. the temperature of the SGD arm ``"large_then_small"`` during
    exploration. The GD estimator :math:`\nabla L + k\,(g_{B_2}-g_{B_3})/\sqrt2` has covariance
    :math:`k^2\Sigma/B` (no :math:`\Sigma/B` of its own, unlike the SGD arm's
    :math:`g_{B_1}`), so :math:`\eta_S k^2=\eta_L`. (For two disjoint batches drawn without
    replacement the difference's covariance is :math:`n/(n-1)` times this; the SGD arm's
    :math:`g_{B_1}` carries the factor :math:`(n-B)/(n-1)` instead.)

    Parameters
    ----------
    lr_large, lr_small : float
        :math:`\eta_L > \eta_S > 0`.

    Returns
    -------
    float

    References
    ----------
    Mohtashami et al., ICML 2023, App. G; the estimator and this matching are ours. Used by
    :func:`gd_lr_vs_noise` (the full-scale experiment ``p3_noise_vs_lr``, ``book/large_lr/06_networks``).
    """
    matched_noise_k(lr_large, lr_small)  # validates both rates
    return math.sqrt(lr_large / lr_small)


def train_gd_noise_ensemble(model_fn: Callable[[int], nn.Module], data, config: TrainConfig, *, seeds: Sequence[int],
                            noise_k: float, noise_batch_size: int, device=None) -> EnsembleResult:
    r"""Full-batch GD with zero-mean mini-batch noise added, vectorised over members.

    Member :math:`i` (seed :math:`s_i`) iterates
    :math:`\theta \leftarrow \theta - \eta\,[\nabla L(\theta) + k\,(g_{B_2}(\theta)-g_{B_3}(\theta))/\sqrt2]`,
    with :math:`\nabla L` the gradient of the mean loss over the whole training set and
    :math:`B_2, B_3` two disjoint batches of ``noise_batch_size`` drawn per step by
    :class:`sgdlab.train.BatchSampler` (``n_draws=2``, ``config.sampling``, seed :math:`s_i`).
    A thin wrapper: :func:`sgdlab.train.train_ensemble` with
    ``config.replace(gradient="gd_plus_noise", noise_k=noise_k, batch_size=noise_batch_size)``
    (the engine's estimator); at ``noise_k=0`` its iterates are those of
    ``train(model_fn(s), data, config.replace(seed=s))``.

    Parameters
    ----------
    model_fn : callable
        ``model_fn(seed) -> nn.Module`` (no BatchNorm).
    data : mapping or TensorData
        As for :func:`sgdlab.train.train_ensemble`.
    config : TrainConfig
        ``optimizer="gd"`` (and ``gradient="minibatch"``, the default); ``lr``, ``steps``, ``loss``,
        the evaluation schedule, ``sampling``, ``divergence_factor`` and ``check_every`` are used.
    seeds : sequence of int
        One member per seed (initial weights and noise batches).
    noise_k : float
        :math:`k \ge 0` (see :func:`matched_gd_noise_k`).
    noise_batch_size : int
        :math:`B`; ``2B`` ≤ the training-set size.
    device : optional
        Where to train.

    Returns
    -------
    EnsembleResult
        As from :func:`sgdlab.train.train_ensemble`; a diverged member (the *full* training loss
        non-finite or above ``divergence_factor`` × its initial value) is frozen and reported with
        ``inf`` loss and its last accuracy carried forward. Its ``config`` is the engine's (``gradient="gd_plus_noise"``,
        ``noise_k``, ``batch_size`` = ``noise_batch_size``) plus the key ``noise_batch_size``.

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023 (App. A: noise cannot replace a large step). Used by
    :func:`gd_lr_vs_noise`; tested in ``tests/test_dynamics_noise_vs_lr.py``.
    """
    if not isinstance(config, TrainConfig) or config.optimizer != "gd":
        raise ValueError("config must be a TrainConfig with optimizer='gd'")
    if isinstance(noise_k, (bool, np.bool_)) or not isinstance(noise_k, (int, float, np.integer, np.floating)) \
            or not math.isfinite(noise_k) or noise_k < 0:
        raise ValueError(f"noise_k={noise_k!r} must be a finite number >= 0")
    B = _pos_int("noise_batch_size", noise_batch_size)
    n = as_tensors(data).n_train
    if 2 * B > n:
        raise ValueError(f"noise_batch_size={B}: two disjoint batches per step exceed the {n} training samples")
    res = train_ensemble(model_fn, data, config.replace(gradient="gd_plus_noise", noise_k=float(noise_k), batch_size=B),
                         seeds=seeds, device=device)
    res.config["noise_batch_size"] = B
    return res


def gd_lr_vs_noise(model_fn: Callable[[int], nn.Module], data, *, lr_large: float, lr_small: float,
                   noise_batch_size: int, steps_explore: int, steps_refine: int, seeds: Sequence[int],
                   steps_long: int = 0, noise_k: float | None = None, eval_every: int | None = None,
                   loss: str = "cross_entropy", device=None) -> LrNoiseResult:
    r"""The full-batch GD versions of the arms of :func:`lr_vs_noise`.

    ``"gd_large_then_small"``
        ``steps_explore`` GD steps at :math:`\eta_L`, then ``steps_refine`` at :math:`\eta_S`.
    ``"gd_small"``
        ``steps_explore + steps_refine`` GD steps at :math:`\eta_S`.
    ``"gd_small_amplified"``
        ``steps_explore`` steps of GD at :math:`\eta_S` plus the zero-mean mini-batch difference
        :math:`k\,(g_{B_2}-g_{B_3})/\sqrt2` (:func:`train_gd_noise_ensemble`), then ``steps_refine``
        plain GD steps at :math:`\eta_S`. "Matched" (the default
        :math:`k=\sqrt{\eta_L/\eta_S}`, :func:`matched_gd_noise_k`): the noisy small step has the
        temperature :math:`\eta_L\,\mathrm{tr}\,\Sigma/(2B)` of mini-batch SGD at :math:`\eta_L` with
        batch ``noise_batch_size``; GD at :math:`\eta_L` itself has none.
    ``"gd_small_long"`` (when ``steps_long > 0``)
        ``"gd_small"`` continued for ``steps_long`` more GD steps at :math:`\eta_S`.

    Arms (a) and (b) start from the same weights; every phase is one vectorised ensemble; a member
    that diverged stays diverged. In the returned :class:`ArmHistory` objects ``epoch == step``
    (one full pass per GD step; the noise batches are not counted).

    Parameters
    ----------
    model_fn : callable
        ``model_fn(seed) -> nn.Module``, without BatchNorm.
    data : mapping or TensorData
        As for :func:`lr_vs_noise` (every GD step uses the whole training set).
    lr_large, lr_small : float
        :math:`\eta_L > \eta_S > 0`.
    noise_batch_size : int
        :math:`B` of the noise batches (``2B`` ≤ ``n_train``); the SGD arms' batch size.
    steps_explore, steps_refine, steps_long : int
        As for :func:`lr_vs_noise`, in GD steps.
    seeds : sequence of int
        Distinct, ≥ 0; one member per seed and arm.
    noise_k : float, optional
        :math:`k \ge 0` (default :func:`matched_gd_noise_k`).
    eval_every : int, optional
        Steps between evaluations (default: about 8 per phase).
    loss : str
        ``"cross_entropy"`` or ``"mse"``.
    device : optional

    Returns
    -------
    LrNoiseResult
        ``arms`` keyed by :data:`GD_ARMS`; ``batch_size`` is ``noise_batch_size``.

    References
    ----------
    Mohtashami, Jaggi, Stich, ICML 2023 (GD with large learning rates; App. A). Used by the
    experiment ``p3_noise_vs_lr`` (full scale) for ``book/large_lr/06_networks``.
    """
    if not callable(model_fn):
        raise ValueError(f"model_fn must be callable (seed -> nn.Module), got {type(model_fn).__name__}")
    k = matched_gd_noise_k(lr_large, lr_small) if noise_k is None else noise_k
    B = _pos_int("noise_batch_size", noise_batch_size)
    k, (t1, t2, t3), seeds, eval_every, n = _protocol(k, noise_k, steps_explore, steps_refine, steps_long, seeds,
                                                      eval_every, data)
    if 2 * B > n:
        raise ValueError(f"noise_batch_size={B}: two disjoint batches per step exceed the {n} training samples")
    S = len(seeds)

    def cfg(steps: int) -> TrainConfig:
        return TrainConfig(optimizer="gd", lr=lr_small, batch_size=None, steps=steps, loss=loss,
                           eval_every=eval_every or max(1, steps // 8))

    t0 = time.perf_counter()
    p1 = train_ensemble(model_fn, data, cfg(t1), seeds=seeds * 2, lrs=[lr_large] * S + [lr_small] * S, device=device)
    p1c = train_gd_noise_ensemble(model_fn, data, cfg(t1), seeds=seeds, noise_k=float(k), noise_batch_size=B,
                                  device=device)
    b2 = [_phase_seed(s, 1 + a) for a in range(3) for s in seeds]
    p2 = continue_ensemble([(p1, range(2 * S)), (p1c, range(S))], model_fn, data, cfg(t2), seeds=seeds * 3,
                           batch_seeds=b2, device=device)
    a_, b_, c_, d_ = GD_ARMS
    arms = {
        a_: _concat([_slice(p1, range(S), 0, False), _slice(p2, range(S), t1, True)], n, n),
        b_: _concat([_slice(p1, range(S, 2 * S), 0, False), _slice(p2, range(S, 2 * S), t1, True)], n, n),
        c_: _concat([_slice(p1c, range(S), 0, False), _slice(p2, range(2 * S, 3 * S), t1, True)], n, n),
    }
    if t3:
        b3 = [_phase_seed(s, 4) for s in seeds]
        p3 = continue_ensemble([(p2, range(S, 2 * S))], model_fn, data, cfg(t3), seeds=seeds, batch_seeds=b3,
                               device=device)
        arms[d_] = _concat([_slice(p1, range(S, 2 * S), 0, False), _slice(p2, range(S, 2 * S), t1, True),
                            _slice(p3, range(S), t1 + t2, True)], n, n)
    return LrNoiseResult(arms=arms, lr_large=float(lr_large), lr_small=float(lr_small), noise_k=float(k),
                         steps_explore=t1, steps_refine=t2, steps_long=t3, batch_size=B, n_train=n,
                         seeds=seeds, wall_time_s=time.perf_counter() - t0,
                         config=dict(loss=loss, eval_every=eval_every, optimizer="gd"))
