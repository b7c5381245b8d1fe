"""Part 5, full scale (b): the largest usable learning rate of SGD and Adam across batch sizes on a CNN.

The network-scale version of claims P5.C3 (SGD: linear in B below :math:`B^*`) and P5.C4 (Adam:
about :math:`\\sqrt B`) of Granziol, Zohren & Roberts, JMLR 2022. The CNN and data are those of
:mod:`sgdlab.experiments.p5_batch_hessian_slq` (Fashion-MNIST, :func:`sgdlab.train.small_cnn`, no
BatchNorm, cross-entropy). Each point is one (optimiser, batch size); its whole learning-rate grid
times its seeds trains as vmap ensembles (:func:`sgdlab.train.train_ensemble`, at most
``max_members`` networks at once), from the same initial weights per seed, for a fixed number of
``steps`` with a constant learning rate.

The threshold is the one ``book/batch_hessian/04_adam`` uses, fixed before any run: the **largest
usable learning rate** is the largest :math:`\\alpha` (above the best grid point) at which the
training loss, averaged over the evaluations in the last ``tail_fraction`` of the steps and over the
seeds, is at most ``usable_factor`` (= 2) times its minimum over the grid; the crossing is
interpolated in log–log between grid points (:func:`sgdlab.rmt.largest_usable_lr`). A seed that
diverges (loss blow-up, :class:`sgdlab.train.TrainConfig`'s ``divergence_factor``) counts as an
infinite loss. Also stored: the largest grid value below the first divergence (SGD's stability
edge; Adam's step is bounded and rarely diverges, notes Sec. 7.10).

The summary fits the log–log slope of the usable learning rate against B over the batch sizes
``≤ fit_max_batch`` whose threshold lies strictly inside the grid (notes D6: SGD in [0.8, 1.2], Adam in
[0.35, 0.65], below :math:`B^*`). Full scale needs a GPU (18 points, up to 54 CNNs of batch 4096 per
ensemble); book scale (a two-channel CNN, 128 images, 20 steps) runs in seconds for the tests and
the pipeline check of ``book/batch_hessian/06_full_scale``, which draws :func:`plot_thresholds`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .p5_batch_hessian_slq import _batch_ticks, load_data, make_cnn
from .registry import Experiment, register

__all__ = ["CONFIGS", "EXPERIMENT", "OPTIMIZERS", "tail_loss", "thresholds", "fit_slope", "plot_thresholds"]

OPTIMIZERS = ("sgd", "adam")

_SGD_GRID = [1e-3 * 2 ** (k / 2) for k in range(27)]    # 1e-3 … 8.2, ratio √2
_ADAM_GRID = [1e-5 * 2 ** (k / 2) for k in range(27)]   # 1e-5 … 0.082, ratio √2

CONFIGS = {
    "book": {"dataset": "fashion", "n_train": 128, "channels": [2, 4], "hidden": 8, "dtype": "float64",
             "batch_sizes": [4, 16], "steps": 20, "seeds": 1, "sampling": "epoch",
             "lrs": {"sgd": [0.03, 0.3, 3.0, 30.0], "adam": [1e-3, 1e-2, 1e-1, 1.0]},
             "usable_factor": 2.0, "tail_fraction": 0.25, "n_tail_evals": 2, "max_members": 64,
             "fit_max_batch": 16},
    "full": {"dataset": "fashion", "n_train": None, "channels": [16, 32], "hidden": 128, "dtype": "float32",
             "batch_sizes": [16, 64, 256, 1024, 4096], "steps": 1000, "seeds": 2, "sampling": "epoch",
             "lrs": {"sgd": _SGD_GRID[6::2], "adam": _ADAM_GRID[6::2]},
             "usable_factor": 2.0, "tail_fraction": 0.25, "n_tail_evals": 5, "max_members": 22,
             "fit_max_batch": 256},
}


def _eval_steps(steps: int, tail_fraction: float, n_tail: int) -> list[int]:
    start = int(np.ceil((1 - tail_fraction) * steps))
    return sorted({int(round(s)) for s in np.linspace(start, steps, n_tail)})


def tail_loss(history_loss, history_step, *, steps: int, tail_fraction: float) -> np.ndarray:
    """Mean training loss over the evaluations at steps ``≥ (1 − tail_fraction)·steps``, per member.

    ``history_loss`` has shape ``(n_eval, E)``; a member with any non-finite loss in the tail (a
    diverged run) gets ``inf``. Used by ``book/batch_hessian/06_full_scale`` (through the results).
    """
    loss = np.asarray(history_loss, dtype=np.float64)
    step = np.asarray(history_step, dtype=np.float64)
    if loss.ndim != 2 or loss.shape[0] != step.shape[0]:
        raise ValueError(f"history_loss {loss.shape} must be (n_eval, E) with n_eval = len(history_step) = {step.shape[0]}")
    if not 0 < tail_fraction <= 1:
        raise ValueError(f"tail_fraction={tail_fraction!r} must lie in (0, 1]")
    tail = step >= (1 - tail_fraction) * steps - 1e-9
    if not tail.any():
        raise ValueError("no evaluation lies in the tail; evaluate near the end of the run")
    t = loss[tail]
    return np.where(np.all(np.isfinite(t), axis=0), t.mean(axis=0), np.inf)


def thresholds(lrs: Sequence[float], loss, *, usable_factor: float = 2.0) -> dict:
    """Largest usable and largest stable learning rate of one (optimiser, batch size) sweep.

    Parameters
    ----------
    lrs : sequence of float
        Increasing learning-rate grid.
    loss : array_like, shape (len(lrs), seeds)
        Tail losses (:func:`tail_loss`; ``inf`` for a diverged run).
    usable_factor : float
        > 1: usable means mean loss ≤ ``usable_factor`` × the grid minimum.

    Returns
    -------
    dict
        ``lr_usable`` (float, ``nan`` if none), ``at_top`` / ``none`` (bool), ``lr_stable`` (the largest
        grid value below the first lr at which any seed diverged; the grid top if none did),
        ``stable_at_top`` (bool), ``loss_min``, ``lr_best``.

    References
    ----------
    The criterion of ``book/batch_hessian/04_adam`` (:func:`sgdlab.rmt.largest_usable_lr`); notes on
    Granziol et al. (2022), Sec. 7.10 (Adam rarely diverges, so "usable" rather than "stable").
    """
    from ..rmt import largest_usable_lr

    lrs = np.asarray(lrs, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim == 1:
        loss = loss[:, None]
    if loss.shape[0] != lrs.shape[0] or lrs.ndim != 1:
        raise ValueError(f"loss has {loss.shape[0]} rows but lrs has {lrs.shape} entries")
    if not usable_factor > 1:
        raise ValueError(f"usable_factor={usable_factor!r} must be > 1")
    mean = np.where(np.all(np.isfinite(loss), axis=1), loss.mean(axis=1), np.inf)
    finite = np.isfinite(mean)
    if not finite.any():
        return {"lr_usable": float("nan"), "at_top": False, "none": True, "lr_stable": float("nan"),
                "stable_at_top": False, "loss_min": float("inf"), "lr_best": float("nan")}
    lmin = float(mean[finite].min())
    u = largest_usable_lr(lrs, mean / lmin - 1.0, usable_factor - 1.0)
    bad = np.nonzero(~finite)[0]
    first_bad = int(bad[0]) if bad.size else len(lrs)
    return {"lr_usable": float(u["lr"]), "at_top": bool(u["at_top"]), "none": bool(u["none"]),
            "lr_stable": float(lrs[first_bad - 1]) if first_bad > 0 else float("nan"),
            "stable_at_top": first_bad == len(lrs), "loss_min": lmin, "lr_best": float(lrs[int(np.argmin(mean))])}


def fit_slope(batch_sizes: Sequence[int], lrs: Sequence[float], ok: Sequence[bool], *, max_batch: int) -> dict:
    """Log–log slope of ``lrs`` against ``batch_sizes`` over the points with ``ok`` and ``B ≤ max_batch``.

    Returns ``{"slope", "n_points", "batch_sizes"}``; ``slope`` is ``nan`` with fewer than two points.
    """
    from ..stats import loglog_slope

    b = np.asarray(batch_sizes, dtype=np.float64)
    a = np.asarray(lrs, dtype=np.float64)
    sel = np.asarray(ok, dtype=bool) & (b <= max_batch) & np.isfinite(a) & (a > 0)
    slope = loglog_slope(b[sel], a[sel]) if sel.sum() >= 2 else float("nan")
    return {"slope": slope, "n_points": int(sel.sum()), "batch_sizes": [int(x) for x in b[sel]]}


def grid(cfg):
    return [{"optimizer": o, "batch_size": int(b)} for o in OPTIMIZERS for b in cfg["batch_sizes"]]


def run_point(point, cfg, device):
    """One (optimiser, batch size): the learning-rate grid × seeds as vmap ensembles."""
    from ..train import TrainConfig, train_ensemble

    data = load_data(cfg)
    opt, b = point["optimizer"], int(point["batch_size"])
    lrs = [float(x) for x in cfg["lrs"][opt]]
    members = [(lr, s) for lr in lrs for s in range(int(cfg["seeds"]))]
    tc = TrainConfig(optimizer=opt, lr=lrs[0], steps=int(cfg["steps"]), batch_size=b, sampling=cfg["sampling"],
                     eval_steps=_eval_steps(int(cfg["steps"]), cfg["tail_fraction"], int(cfg["n_tail_evals"])))
    losses, accs, diverged, wall = [], [], [], 0.0
    k = int(cfg["max_members"])
    for a in range(0, len(members), k):
        chunk = members[a:a + k]
        res = train_ensemble(lambda s: make_cnn(cfg, s, device=device), data, tc, seeds=[s for _, s in chunk],
                             lrs=[lr for lr, _ in chunk], device=device)
        h = res.history
        losses.append(tail_loss(h["train_loss"], h["step"], steps=tc.steps, tail_fraction=cfg["tail_fraction"]))
        accs.append(np.asarray(h["train_acc"])[-1])
        diverged.append(np.asarray(res.diverged, dtype=bool))
        wall += res.wall_time_s
    shape = (len(lrs), int(cfg["seeds"]))
    tl = np.concatenate(losses).reshape(shape)
    th = thresholds(lrs, tl, usable_factor=cfg["usable_factor"])
    return {"lrs": lrs, "tail_loss": tl.tolist(), "final_train_acc": np.concatenate(accs).reshape(shape).tolist(),
            "diverged": np.concatenate(diverged).reshape(shape).tolist(), "train_wall_time_s": wall, **th}


def summarize(cfg, pairs):
    out = {}
    for opt in OPTIMIZERS:
        rows = sorted(({"batch_size": p["batch_size"], **{k: r[k] for k in (
            "lr_usable", "at_top", "none", "lr_stable", "stable_at_top", "loss_min", "lr_best")}}
            for p, r in pairs if p["optimizer"] == opt), key=lambda row: row["batch_size"])
        ok = [not (r["at_top"] or r["none"]) for r in rows]
        fit = fit_slope([r["batch_size"] for r in rows], [r["lr_usable"] for r in rows], ok,
                        max_batch=int(cfg["fit_max_batch"]))
        out[opt] = {"by_batch": rows, "fit": fit}
    return out


def plot_thresholds(results: Mapping, ax):
    """Largest usable learning rate against B for SGD and Adam, with ∝B and ∝√B guides through the
    first fitted point (``results`` from :func:`sgdlab.experiments.load_results`)."""
    from .. import plotting

    s = results["summary"]
    for i, opt in enumerate(OPTIMIZERS):
        rows = s[opt]["by_batch"]
        b = np.array([r["batch_size"] for r in rows], dtype=float)
        a = np.array([r["lr_usable"] for r in rows], dtype=float)
        edge = np.array([r["at_top"] or r["none"] for r in rows])
        fit = dict(s[opt]["fit"], slope=float(s[opt]["fit"]["slope"]))  # JSON keeps nan as "nan"
        lab = "SGD" if opt == "sgd" else "Adam"
        slope = "" if not np.isfinite(fit["slope"]) else f", slope {fit['slope']:.2f}"
        plotting.simulation(ax, b[~edge], a[~edge], i=i, label=f"{lab} (measured{slope})")
        if edge.any():
            plotting.simulation(ax, b[edge], a[edge], i=i, marker="x", label=f"{lab}: at the grid's edge (measured)")
        if fit["n_points"] >= 2:
            b0 = fit["batch_sizes"][0]
            a0 = a[list(b).index(b0)]
            power = 1.0 if opt == "sgd" else 0.5
            bb = np.array([b0, max(fit["batch_sizes"])], dtype=float)
            ax.plot(bb, a0 * (bb / b0) ** power, color=plotting.color(i), ls="--", lw=0.8,
                    label=f"guide ∝ $B^{{{power:g}}}$")
    ax.set(xscale="log", yscale="log", xlabel="batch size $B$", ylabel="largest usable learning rate",
           title=f"{results['scale']} scale: CNN on Fashion-MNIST")
    _batch_ticks(ax, results["config"]["batch_sizes"])
    ax.legend(fontsize="small")
    return ax


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work per (optimiser, B): the learning-rate grid × seeds as vmap ensembles of ``max_members``."""
    from ._cost import Work, cnn_macs, train_flops

    macs = cnn_macs(cfg["channels"], cfg["hidden"])
    T, S, k = int(cfg["steps"]), int(cfg["seeds"]), int(cfg["max_members"])
    steps = flops = 0
    for o in OPTIMIZERS:
        members = len(cfg["lrs"][o]) * S
        chunks = -(-members // k)
        for b in cfg["batch_sizes"]:
            steps += chunks * T
            flops += train_flops(macs, T * int(b) * members) * 1.1
    return Work(points=len(grid(cfg)), runs=sum(len(cfg["lrs"][o]) * S for o in OPTIMIZERS) * len(cfg["batch_sizes"]),
                seq_steps=int(steps), flops=flops, step_s=1.2e-3, precision="tf32",
                note="float32, TF32 convolutions: thresholds are read on a √2-spaced lr grid (here 2×); cut from "
                     "9 batch sizes × 27 lrs, 2000 steps")


def tiny(cfg):
    """One (optimiser, B) point of the full CNN: three learning rates, a few steps, on 256 images."""
    return {**cfg, "n_train": 256, "batch_sizes": [cfg["batch_sizes"][0]], "steps": 4, "seeds": 1,
            "lrs": {"sgd": cfg["lrs"]["sgd"][:3], "adam": []}, "n_tail_evals": 2, "fit_max_batch": cfg["batch_sizes"][0]}

EXPERIMENT = register(Experiment(
    name="p5_lr_scaling",
    description="part 5: largest usable learning rate of SGD and Adam vs batch size (Fashion-MNIST CNN, lr grids as ensembles)",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=[
        "lib/sgdlab/experiments/p5_batch_hessian_slq.py", "lib/sgdlab/data.py", "lib/sgdlab/train/models.py",
        "lib/sgdlab/train/loop.py", "lib/sgdlab/train/ensemble.py", "lib/sgdlab/train/optim.py",
        "lib/sgdlab/train/losses.py", "lib/sgdlab/rmt/_adam.py", "lib/sgdlab/stats.py",
    ],
))
