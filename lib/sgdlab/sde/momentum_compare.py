"""SGD against SGDM at matched effective learning rate: the comparisons of part 2, as library calls.

Two families of comparison, each with its natural negative control (SGDM at the *same PyTorch*
learning rate as SGD, i.e. effective learning rate η/(1−β)):

- on a quadratic with additive noise in the SDE scaling σ² = 1/η, exact moments
  (:func:`quadratic_runs`, :func:`weak_gaps`; no Monte Carlo), used in ``momentum/02_short_horizon``;
- on a small MLP, vectorised ensembles of the training engine (:func:`sgd_vs_sgdm`,
  :func:`equal_lr_comparison`) and the paired statistics of their seeds (:func:`paired_relative_gap`,
  :func:`paired_difference`), used in ``momentum/05_networks``.

SGDM is always the normalised form ``m ← βm + (1−β)g, x ← x − ηm`` (``torch.optim.SGD(lr=η(1−β),
momentum=β)``); β = 0 is SGD at learning rate η. Vocabulary: ``effective_lr`` (``effective_lrs`` for a
sweep) is η = γ/(1−β), ``lr`` is PyTorch's γ, ``momentum`` is β ∈ (−1, 1) (negative momentum is
allowed everywhere: the comparisons are simulations or exact recursions, with no formula that
assumes β ≥ 0). Divergence is a result (``inf`` and a ``diverged`` flag), never NaN or a warning.

References
----------
Wang, Malladi, Wang, Lyu, Li, *The Marginal Value of Momentum for Small Learning Rate SGD*, ICLR 2024:
Thm 3.5 (O(1/η) horizon) and Sec. 6 (SGD vs SGDM at matched effective learning rate).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from . import sgdm
from .sgdm import _is_real, _momentum, _positive, _real_array

__all__ = [
    "quadratic_runs",
    "weak_gaps",
    "paired_relative_gap",
    "paired_difference",
    "sgd_vs_sgdm",
    "equal_lr_comparison",
]


def _effective_lrs(values) -> np.ndarray:
    e = np.atleast_1d(_real_array("effective_lrs", values))
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("effective_lrs must be a non-empty 1-d sequence of finite numbers > 0")
    return e


def _seeds(seeds) -> list[int]:
    if seeds is None or isinstance(seeds, (str, bytes)) or np.ndim(seeds) != 1:
        raise ValueError(f"seeds={seeds!r} must be a sequence of integers >= 0")
    out = []
    for s in seeds:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must hold integers >= 0, got {s!r}")
        out.append(int(s))
    if len(out) < 2:
        raise ValueError("seeds must hold at least two seeds (paired statistics)")
    return out


# --------------------------------------------------------------------------- quadratic, exact moments
def quadratic_runs(hessian, x0: Sequence[float], horizon: float, effective_lr: float, momentum: float) -> dict:
    """Exact E L(t) on ``½xᵀHx`` (noise Σ = I, σ² = 1/η) for the four runs of a short-horizon comparison.

    Parameters
    ----------
    hessian : array_like
        Diagonal (1-d) or full H.
    x0 : sequence of float
        Start; m₀ = 0.
    horizon : float
        T in SDE time t = kη (``round(T/η)`` steps).
    effective_lr, momentum : float
        η = γ/(1−β) > 0 and β ∈ (−1, 1).

    Returns
    -------
    dict
        ``sgd`` (SGD at η), ``sgdm`` (SGDM at matched η), ``naive`` (SGDM at PyTorch lr γ = η, i.e.
        effective lr η/(1−β), recorded on SGD's step clock) — each the output of
        :func:`sgdm.quadratic_moments` — and ``sde``, the Ornstein–Uhlenbeck moments
        (:func:`sgdm.ou_moments`) at the same times. A diverging arm has ``inf`` moments and
        ``diverged`` True (see :func:`sgdm.quadratic_moments`).
    """
    h = sgdm._matrix("hessian", hessian)  # a vector of the diagonal becomes the diagonal matrix
    dim = h.shape[0]
    horizon = _positive("horizon", horizon)
    effective_lr = _positive("effective_lr", effective_lr)
    momentum = _momentum(momentum)
    if horizon / effective_lr > 1e7:
        raise ValueError(f"horizon/effective_lr = {horizon / effective_lr:.3g} steps; at most 1e7 are allowed")
    noise = np.eye(dim) / effective_lr
    steps = int(round(horizon / effective_lr))
    sgd = sgdm.quadratic_moments(h, noise, x0, effective_lr, 0.0, steps)
    mom = sgdm.quadratic_moments(h, noise, x0, effective_lr, momentum, steps)
    naive = sgdm.quadratic_moments(h, noise, x0, effective_lr / (1 - momentum), momentum, steps)
    naive["time"] = sgd["time"]
    sde = sgdm.ou_moments(h, noise, x0, sgd["time"], effective_lr)
    return {"sgd": sgd, "sgdm": mom, "naive": naive, "sde": sde}


def weak_gaps(hessian, x0: Sequence[float], horizon: float, effective_lrs, momentum_of: Callable[[float], float], *,
              t_min: float = 0.0) -> dict[str, np.ndarray]:
    """Weak distances (test function L) of :func:`quadratic_runs`, for each η of a sweep.

    Parameters
    ----------
    hessian, x0, horizon
        As for :func:`quadratic_runs`.
    effective_lrs : sequence of float
        The sweep of effective learning rates η = γ/(1−β) > 0.
    momentum_of : callable
        ``momentum_of(η)`` → β ∈ (−1, 1) (e.g. ``lambda eta: 0.9`` or ``lambda eta: 1 − √η``).
    t_min : float
        Start of the window of the windowed distances.

    Returns
    -------
    dict of arrays (one entry per η)
        ``sgdm``: max over t ∈ [t_min, T] of |E L_SGDM − E L_SGD| at matched η (β = ``momentum_of(η)``);
        ``sgdm_all``: the same over all t ∈ [0, T]; ``sde``: |E L_SGD − E L_SDE| on [t_min, T];
        ``naive``: |E L_SGDM(γ = η) − E L_SGD| on [t_min, T] (the negative control). ``inf`` where an
        arm diverged.

    Used in ``momentum/02_short_horizon``.
    """
    if not callable(momentum_of):
        raise ValueError(f"momentum_of={momentum_of!r} must be a callable η -> β")
    if not (_is_real(t_min) and t_min >= 0):
        raise ValueError(f"t_min={t_min!r} must be a finite number >= 0")
    out: dict[str, list] = {k: [] for k in ("sgdm", "sgdm_all", "sde", "naive")}
    for eta in _effective_lrs(effective_lrs):
        beta = momentum_of(float(eta))
        if not (_is_real(beta) and -1 < beta < 1):
            raise ValueError(f"momentum_of({float(eta)!r}) = {beta!r}: momentum must lie in (-1, 1)")
        r = quadratic_runs(hessian, x0, horizon, float(eta), float(beta))
        out["sgdm"].append(sgdm.weak_gap(r["sgd"], r["sgdm"], t_min=t_min))
        out["sgdm_all"].append(sgdm.weak_gap(r["sgd"], r["sgdm"]))
        out["sde"].append(sgdm.weak_gap(r["sgd"], r["sde"], t_min=t_min))
        out["naive"].append(sgdm.weak_gap(r["sgd"], r["naive"], t_min=t_min))
    return {k: np.array(v) for k, v in out.items()}


# --------------------------------------------------------------------------- paired statistics over seeds
def paired_relative_gap(a, b) -> tuple[float, float]:
    """Relative gap ``mean(b)/mean(a) − 1`` of paired samples and its standard error (delta method).

    ``a[i]`` and ``b[i]`` share a seed (common random numbers). The s.e. is that of the linearised
    ratio, ``sd(b − R a)/(√n · mean(a))`` with ``R = mean(b)/mean(a)``.

    A pair with an infinite entry (a diverged run's loss) gives ``(inf, inf)``.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-d numeric arrays of the same length ≥ 2, hold NaN, or
        ``mean(a)`` is 0.
    """
    a, b = _paired(a, b)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf, math.inf  # a diverged run in a pair: the gap is unbounded
    ma = a.mean()
    if ma == 0:
        raise ValueError("mean(a) must be nonzero")
    with np.errstate(all="ignore"):
        ratio = b.mean() / ma
        se = np.std(b - ratio * a, ddof=1) / (np.sqrt(a.size) * abs(ma))
    gap, se = float(ratio - 1), float(se)
    return (gap if math.isfinite(gap) else math.inf), (se if math.isfinite(se) else math.inf)


def paired_difference(a, b) -> tuple[float, float]:
    """Mean of the paired differences ``b − a`` and its standard error.

    A pair with an infinite entry (a diverged run's loss) gives ``(inf, inf)``: divergence is a
    result, never NaN.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-d numeric arrays of the same length ≥ 2, or hold NaN.
    """
    a, b = _paired(a, b)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf, math.inf
    with np.errstate(all="ignore"):
        d = b - a
        mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))
    return (mean if math.isfinite(mean) else math.inf), (se if math.isfinite(se) else math.inf)


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _real_array("a", a), _real_array("b", b)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError("a and b must be 1-d arrays of the same length >= 2")
    if np.any(np.isnan(a)) or np.any(np.isnan(b)):
        raise ValueError("a and b must not hold NaN")
    return a, b


# --------------------------------------------------------------------------- networks, ensembles
def sgd_vs_sgdm(x_train, y_train, *, effective_lrs, horizon: float, seeds: Sequence[int], momentum: float = 0.9,
                x_test=None, y_test=None, control: bool = False, **kwargs) -> dict:
    """SGD and SGDM at each effective learning rate η for ``round(horizon/η)`` steps, paired by seed.

    Each η is one ensemble of :func:`sgdlab.sde.sgdm_nets.train_mlp_ensemble` (so each runs only its
    own number of steps): ``len(seeds)`` SGD members, as many SGDM members at matched η, and with
    ``control=True`` as many SGDM members at the same PyTorch lr as SGD (γ = η, effective lr η/(1−β)),
    the negative control. Members with the same seed share initial weights and mini-batches.

    Parameters
    ----------
    x_train, y_train, x_test, y_test
        As for :func:`train_mlp_ensemble`.
    effective_lrs : sequence of float
        Effective learning rates η = γ/(1−β) > 0 (the SGD arm runs at lr η).
    horizon : float
        SDE time T = η · steps.
    seeds : sequence of int
        At least two seeds ≥ 0.
    momentum : float
        β ∈ (−1, 1) of the SGDM arms.
    control : bool
        Add the equal-PyTorch-lr arm.
    **kwargs
        Passed to :func:`train_mlp_ensemble` (``batch_size``, ``hidden``, ``activation``, ``device`` …).

    Returns
    -------
    dict
        ``{η: {"steps": int, "diverged": (n_arms, S) bool, key: {arm: (S,) array}}}`` for ``key`` in
        ``train_loss``, ``train_acc`` (and ``test_acc`` with test data), ``arm`` in ``sgd``, ``sgdm``
        (and ``naive``). A diverged member has ``train_loss`` inf, its ``diverged`` entry set, and its
        accuracies as measured at its last evaluation before divergence (see
        :func:`sgdlab.train.train_ensemble`).

    Used in ``momentum/05_networks``.
    """
    etas = _effective_lrs(effective_lrs)
    seeds = _seeds(seeds)
    horizon = _positive("horizon", horizon)
    momentum = _momentum(momentum)
    if not isinstance(control, (bool, np.bool_)):
        raise ValueError(f"control={control!r} must be True or False")
    if np.max(horizon / etas) > 1e7:
        raise ValueError("horizon/effective_lrs gives more than 1e7 steps")
    arms = {"sgd": (1.0, 0.0), "sgdm": (1.0, momentum)}
    if control:
        arms["naive"] = (1 / (1 - momentum), momentum)
    from .sgdm_nets import train_mlp_ensemble  # torch is imported only by the network comparisons

    n = len(seeds)
    out = {}
    for eta in etas:
        steps = max(1, int(round(horizon / eta)))
        lrs = np.repeat([eta * f for f, _ in arms.values()], n)
        moms = np.repeat([b for _, b in arms.values()], n)
        r = train_mlp_ensemble(x_train, y_train, x_test=x_test, y_test=y_test, effective_lr=lrs, momentum=moms,
                               seeds=seeds * len(arms), steps=steps, **kwargs)
        res = {"steps": steps, "diverged": r["diverged"].reshape(len(arms), n)}
        for key in ("train_loss", "train_acc", "test_acc"):
            if key in r:
                v = r[key].reshape(len(arms), n)
                res[key] = {arm: v[j] for j, arm in enumerate(arms)}
        out[float(eta)] = res
    return out


def equal_lr_comparison(x_train, y_train, *, lr: float, seeds: Sequence[int], steps: int, momentum: float = 0.9,
                        late_from: int | None = None, record_every: int = 20, **kwargs) -> dict:
    """SGD at PyTorch lr γ, SGDM at PyTorch lr γ, and SGD at γ/(1−β), as one paired ensemble.

    The loss of each member is recorded on the full training set every ``record_every`` steps from
    ``late_from`` (default ``3·steps//4``) to ``steps`` (and at a few earlier steps for the figure),
    and averaged over that late window.

    Parameters
    ----------
    x_train, y_train
        As for :func:`train_mlp_ensemble`.
    lr : float
        PyTorch's step γ > 0 (the SGDM arm's effective learning rate is γ/(1−β)).
    seeds : sequence of int
        At least two seeds ≥ 0.
    steps : int
        ≥ 4.
    momentum : float
        β ∈ (−1, 1) of the SGDM arm.
    late_from, record_every : int
        Start of the late window (in [0, steps]) and the recording stride (≥ 1).
    **kwargs
        Passed to :func:`train_mlp_ensemble`.

    Returns
    -------
    dict
        ``record_steps`` (n,), ``curves`` ``{arm: (S, n)}`` and ``late`` ``{arm: (S,)}`` for ``arm`` in
        ``sgd_lr`` (SGD at γ), ``sgdm_lr`` (SGDM at PyTorch lr γ, effective γ/(1−β)) and ``sgd_eta``
        (SGD at η = γ/(1−β)), and ``diverged`` (3, S). A diverged member's curve is ``inf`` from its
        divergence on, and so is its ``late`` average.

    Used in ``momentum/05_networks``.
    """
    seeds = _seeds(seeds)
    lr = _positive("lr", lr)
    momentum = _momentum(momentum)
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or steps < 4:
        raise ValueError(f"steps={steps!r} must be an integer >= 4")
    steps = int(steps)
    if late_from is not None and (isinstance(late_from, (bool, np.bool_))
                                  or not isinstance(late_from, (int, np.integer)) or not 0 <= late_from <= steps):
        raise ValueError(f"late_from={late_from!r} must be an integer in [0, steps]")
    late_from = 3 * steps // 4 if late_from is None else int(late_from)
    if (isinstance(record_every, (bool, np.bool_)) or not isinstance(record_every, (int, np.integer))
            or record_every < 1):
        raise ValueError(f"record_every={record_every!r} must be an integer >= 1")
    record = sorted(set(range(0, late_from, max(1, late_from // 8 or 1))) | set(range(late_from, steps + 1, record_every))
                    | {steps})
    eta = lr / (1 - momentum)
    arms = {"sgd_lr": (lr, 0.0), "sgdm_lr": (eta, momentum), "sgd_eta": (eta, 0.0)}
    from .sgdm_nets import train_mlp_ensemble

    n = len(seeds)
    r = train_mlp_ensemble(x_train, y_train, effective_lr=np.repeat([e for e, _ in arms.values()], n),
                           momentum=np.repeat([b for _, b in arms.values()], n), seeds=seeds * 3, steps=steps,
                           record_steps=record, **kwargs)
    rec = r["record_steps"]
    late = rec >= late_from
    curves = r["loss_curve"].reshape(3, n, -1)
    return {"record_steps": rec, "curves": {a: curves[j] for j, a in enumerate(arms)},
            "late": {a: curves[j][:, late].mean(-1) for j, a in enumerate(arms)},
            "diverged": r["diverged"].reshape(3, n)}
