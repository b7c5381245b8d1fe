"""SGD against SGDM at matched effective learning rate: the comparisons of part 2, as library calls.

Two families of comparison, each with its natural negative control (SGDM at the *same PyTorch*
learning rate as SGD, i.e. effective learning rate η/(1−β)):

- on a quadratic with additive noise in the SDE scaling σ² = 1/η, exact moments
  (:func:`quadratic_runs`, :func:`weak_gaps`; no Monte Carlo), used in ``momentum/02_short_horizon``;
- on a small MLP, vectorised ensembles of the training engine (:func:`sgd_vs_sgdm`,
  :func:`equal_lr_comparison`) and the paired statistics of their seeds (:func:`paired_relative_gap`,
  :func:`paired_difference`), used in ``momentum/05_networks``.

SGDM is always the normalised form ``m ← βm + (1−β)g, x ← x − ηm`` (``torch.optim.SGD(lr=η(1−β),
momentum=β)``); β = 0 is SGD at learning rate η.

References
----------
Wang, Malladi, Wang, Lyu, Li, *The Marginal Value of Momentum for Small Learning Rate SGD*, ICLR 2024:
Thm 3.5 (O(1/η) horizon) and Sec. 6 (SGD vs SGDM at matched effective learning rate).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import sgdm

__all__ = [
    "quadratic_runs",
    "weak_gaps",
    "paired_relative_gap",
    "paired_difference",
    "sgd_vs_sgdm",
    "equal_lr_comparison",
]


def _etas(etas) -> np.ndarray:
    e = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("etas must be a non-empty 1-d sequence of numbers > 0")
    return e


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
        η > 0 and β ∈ [0, 1).

    Returns
    -------
    dict
        ``sgd`` (SGD at η), ``sgdm`` (SGDM at matched η), ``naive`` (SGDM at PyTorch lr γ = η, i.e.
        effective lr η/(1−β), recorded on SGD's step clock) — each the output of
        :func:`sgdm.quadratic_moments` — and ``sde``, the Ornstein–Uhlenbeck moments
        (:func:`sgdm.ou_moments`) at the same times.
    """
    h = np.asarray(hessian, dtype=np.float64)
    dim = h.shape[0]
    if not horizon > 0:
        raise ValueError(f"horizon={horizon!r} must be > 0")
    if not effective_lr > 0:
        raise ValueError(f"effective_lr={effective_lr!r} must be > 0")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")
    noise = np.ones(dim) / effective_lr if h.ndim == 1 else np.eye(dim) / effective_lr
    steps = int(round(horizon / effective_lr))
    sgd = sgdm.quadratic_moments(h, noise, x0, effective_lr, 0.0, steps)
    mom = sgdm.quadratic_moments(h, noise, x0, effective_lr, momentum, steps)
    naive = sgdm.quadratic_moments(h, noise, x0, effective_lr / (1 - momentum), momentum, steps)
    naive["time"] = sgd["time"]
    sde = sgdm.ou_moments(h, noise, x0, sgd["time"], effective_lr)
    return {"sgd": sgd, "sgdm": mom, "naive": naive, "sde": sde}


def weak_gaps(hessian, x0: Sequence[float], horizon: float, etas, momentum_of: Callable[[float], float], *,
              t_min: float = 0.0) -> dict[str, np.ndarray]:
    """Weak distances (test function L) of :func:`quadratic_runs`, for each η of a sweep.

    Returns
    -------
    dict of arrays (one entry per η)
        ``sgdm``: max over t ∈ [t_min, T] of |E L_SGDM − E L_SGD| at matched η (β = ``momentum_of(η)``);
        ``sgdm_all``: the same over all t ∈ [0, T]; ``sde``: |E L_SGD − E L_SDE| on [t_min, T];
        ``naive``: |E L_SGDM(γ = η) − E L_SGD| on [t_min, T] (the negative control).

    Used in ``momentum/02_short_horizon``.
    """
    out: dict[str, list] = {k: [] for k in ("sgdm", "sgdm_all", "sde", "naive")}
    for eta in _etas(etas):
        r = quadratic_runs(hessian, x0, horizon, float(eta), float(momentum_of(float(eta))))
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

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-d of the same length ≥ 2, or ``mean(a)`` is 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError("a and b must be 1-d arrays of the same length >= 2")
    ma = a.mean()
    if ma == 0:
        raise ValueError("mean(a) must be nonzero")
    ratio = b.mean() / ma
    se = np.std(b - ratio * a, ddof=1) / (np.sqrt(a.size) * abs(ma))
    return float(ratio - 1), float(se)


def paired_difference(a, b) -> tuple[float, float]:
    """Mean of the paired differences ``b − a`` and its standard error."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError("a and b must be 1-d arrays of the same length >= 2")
    d = b - a
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


# --------------------------------------------------------------------------- networks, ensembles
def sgd_vs_sgdm(x_train, y_train, *, etas, horizon: float, seeds: Sequence[int], momentum: float = 0.9,
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
    etas : sequence of float
        Effective learning rates.
    horizon : float
        SDE time T = η · steps.
    seeds : sequence of int
    momentum : float
        β of the SGDM arms.
    control : bool
        Add the equal-PyTorch-lr arm.
    **kwargs
        Passed to :func:`train_mlp_ensemble` (``batch_size``, ``hidden``, ``activation``, ``device`` …).

    Returns
    -------
    dict
        ``{η: {"steps": int, "diverged": (n_arms, S) bool, key: {arm: (S,) array}}}`` for ``key`` in
        ``train_loss``, ``train_acc`` (and ``test_acc`` with test data), ``arm`` in ``sgd``, ``sgdm``
        (and ``naive``).

    Used in ``momentum/05_networks``.
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError("seeds must hold at least two seeds (paired statistics)")
    if not horizon > 0:
        raise ValueError(f"horizon={horizon!r} must be > 0")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")
    arms = {"sgd": (1.0, 0.0), "sgdm": (1.0, momentum)}
    if control:
        arms["naive"] = (1 / (1 - momentum), momentum)
    from .sgdm_nets import train_mlp_ensemble  # torch is imported only by the network comparisons

    n = len(seeds)
    out = {}
    for eta in _etas(etas):
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

    Returns
    -------
    dict
        ``record_steps`` (n,), ``curves`` ``{arm: (S, n)}`` and ``late`` ``{arm: (S,)}`` for ``arm`` in
        ``sgd_lr`` (SGD at γ), ``sgdm_lr`` (SGDM at PyTorch lr γ, effective γ/(1−β)) and ``sgd_eta``
        (SGD at η = γ/(1−β)), and ``diverged`` (3, S).

    Used in ``momentum/05_networks``.
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError("seeds must hold at least two seeds (paired statistics)")
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be > 0")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum={momentum!r} must lie in [0, 1)")
    if isinstance(steps, bool) or int(steps) != steps or steps < 4:
        raise ValueError(f"steps={steps!r} must be an integer >= 4")
    steps = int(steps)
    late_from = 3 * steps // 4 if late_from is None else int(late_from)
    if not 0 <= late_from <= steps:
        raise ValueError(f"late_from={late_from!r} must lie in [0, steps]")
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
