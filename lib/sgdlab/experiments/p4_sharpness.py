"""Part 4, claim P4.C7: sharpness of a network against η/B, and escape from a large-batch minimum.

Two protocols on a Fashion-MNIST classifier without BatchNorm (an MLP; a CNN at full scale), squared
loss on one-hot targets:

1. **Sharpness versus η/B** (:func:`sharpness_after_training`): train from the same initialisation
   for the same SDE time :math:`t=k\\eta` at several (η, B) and measure, on a fixed set of training
   samples, the top Hessian eigenvalue :math:`\\lambda_{\\max}` (Lanczos,
   :func:`sgdlab.hessian.top_eigenpairs`) and the trace (Hutchinson,
   :func:`sgdlab.hessian.hutchinson_trace`).
2. **Escape from a sharp minimum** (:func:`escape_steps`): continue a large-batch solution with a
   batch :math:`B'` and record the first step at which :math:`\\lambda_{\\max}` falls below a fixed
   fraction of its starting value (checked every ``every`` steps, censored at ``horizon``).

Book scale runs in the chapter ``book/fokker_planck/05_networks`` (pooled 14×14 images, 512 training
samples, a 196–64–10 MLP); ``python -m sgdlab.experiments run p4_sharpness --scale full`` runs the
full-scale sweep (full images, a CNN, 3 seeds × 4 batch sizes) and writes ``data/p4_sharpness/``.

The squared loss is used because with cross-entropy the Hessian shrinks as the training loss goes to
0 (the softmax saturates), which confounds a comparison of sharpness across runs that reach
different losses.

References
----------
Dai & Zhu, arXiv 2112.00987 (2021) and arXiv 1812.00542 (2018): a larger η/B reaches flat minima
faster; Keskar et al., ICLR 2017 (large batches end in sharp minima); Cohen et al., ICLR 2021 (the
sharpness of full-batch GD settles at 2/η); Wu, Ma, E, NeurIPS 2018 (linear stability of SGD).
"""
from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .registry import Experiment, register

__all__ = [
    "fashion_data", "Sharpness", "sharpness", "sharpness_after_training", "EscapeRun", "escape_steps",
    "CONFIGS", "EXPERIMENT",
]


def _pos_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _pos_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def fashion_data(n_train: int, n_test: int, *, pool: int = 2, seed: int = 0, dataset: str = "fashion") -> dict:
    """Standardised Fashion-MNIST subsets, optionally average-pooled (``pool=2``: 14×14 = 196 inputs).

    Parameters
    ----------
    n_train, n_test : int
        Subset sizes (drawn with ``numpy.random.default_rng(seed)``, see
        :func:`sgdlab.data.image_classification`).
    pool : int
        Side of the average-pooling window (1, 2, 4, 7 or 14; 1 keeps 28×28).
    seed : int
    dataset : str
        ``"fashion"`` or ``"mnist"``.

    Returns
    -------
    dict
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (float64 inputs, flattened; int labels).
    """
    _pos_int("n_train", n_train)
    _pos_int("n_test", n_test)
    if pool not in (1, 2, 4, 7, 14):
        raise ValueError(f"pool={pool!r} must divide 28 (1, 2, 4, 7 or 14)")
    return {k: v.copy() for k, v in _fashion_cached(int(n_train), int(n_test), int(pool), int(seed), dataset).items()}


@functools.lru_cache(maxsize=4)
def _fashion_cached(n_train: int, n_test: int, pool: int, seed: int, dataset: str) -> dict:
    from .. import data

    d = data.image_classification(dataset, n_train=n_train, n_test=n_test, seed=seed, dtype=np.float64)
    if pool > 1:
        s = 28 // pool
        for k in ("x_train", "x_test"):
            x = np.asarray(d[k], dtype=np.float64)
            d[k] = x.reshape(len(x), s, pool, s, pool).mean(axis=(2, 4)).reshape(len(x), s * s)
    return d


@dataclass
class Sharpness:
    """Curvature of one network on a fixed batch.

    Attributes
    ----------
    lam_max : float
        Top Hessian eigenvalue (Lanczos).
    trace, trace_se : float
        Hutchinson estimate of :math:`\\mathrm{tr}\\,H` and its standard error.
    eigvec : torch.Tensor or None
        The top eigenvector (a warm start for the next measurement).
    n_products : int
        Hessian-vector products used.
    """

    lam_max: float
    trace: float
    trace_se: float
    eigvec: object = field(default=None, repr=False)
    n_products: int = 0


def sharpness(model, x, y, *, loss: str = "mse", n_probes: int = 20, tol: float = 1e-3, max_iter: int = 60,
              v0=None, seed: int = 0) -> Sharpness:
    """:math:`\\lambda_{\\max}` (Lanczos) and, if ``n_probes > 0``, :math:`\\mathrm{tr}\\,H` (Hutchinson).

    Parameters
    ----------
    model : torch.nn.Module
    x, y : torch.Tensor or array_like
        The fixed batch on which the Hessian of the mean loss is taken.
    loss : {"mse", "cross_entropy"}
    n_probes : int
        Hutchinson probes (0: skip the trace, return NaN).
    tol, max_iter, v0, seed
        Passed to :func:`sgdlab.hessian.top_eigenpairs` (``v0``: warm start).

    Used by ``book/fokker_planck/05_networks``.
    """
    import torch

    from ..hessian import hessian_operator, hutchinson_trace, top_eigenpairs

    if isinstance(n_probes, bool) or not isinstance(n_probes, (int, np.integer)) or n_probes < 0:
        raise ValueError(f"n_probes={n_probes!r} must be an integer >= 0")
    p0 = next(model.parameters())
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(p0.dtype)
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).long()
    op = hessian_operator(model, loss, x, y)
    eig = top_eigenpairs(op, k=1, tol=tol, max_iter=max_iter, v0=v0, seed=seed)
    if n_probes:
        tr = hutchinson_trace(op, n_probes=int(n_probes), seed=seed)
        trace, se = tr.estimate, tr.stderr
    else:
        trace, se = math.nan, math.nan
    return Sharpness(float(eig.eigenvalues[0]), float(trace), float(se), eig.eigenvectors[0], op.n_products)


def _model(widths: Sequence[int], seed: int, kind: str = "mlp"):
    import torch

    from ..train import mlp, small_cnn

    if kind == "cnn":
        return small_cnn(seed=seed, dtype=torch.float64)
    return mlp(list(widths), "relu", seed=seed, dtype=torch.float64)


def sharpness_after_training(data: dict, *, lr: float, batch_size: int, time: float, seed: int,
                             widths: Sequence[int] = (196, 64, 10), model: str = "mlp", loss: str = "mse",
                             n_probes: int = 20, n_hessian: int | None = None, device=None):
    """Train with SGD (batches drawn with replacement) for SDE time ``time`` (``round(time/lr)`` steps).

    Parameters
    ----------
    data : dict
        From :func:`fashion_data`.
    lr, batch_size : float, int
        :math:`\\eta`, :math:`B`.
    time : float
        :math:`t=k\\eta`; runs at different :math:`\\eta` are compared at equal :math:`t`.
    seed : int
        Initial weights and batch order.
    widths, model : sequence of int, {"mlp", "cnn"}
    loss : str
    n_probes : int
        Hutchinson probes for the trace.
    n_hessian : int, optional
        Use the first ``n_hessian`` training samples for the Hessian (default: all).
    device : optional
        Where to train (default: the CPU).

    Returns
    -------
    (torch.nn.Module, TrainResult, Sharpness)
        The trained network, its history and its curvature. A diverged run has ``lam_max = inf``.

    Used by ``book/fokker_planck/05_networks``.
    """
    from ..train import TrainConfig, train

    lr = _pos_float("lr", lr)
    _pos_int("batch_size", batch_size)
    steps = _pos_int("steps (time/lr)", int(round(_pos_float("time", time) / lr)))
    net = _model(widths, seed, model)
    cfg = TrainConfig(optimizer="sgd", lr=lr, batch_size=int(batch_size), steps=steps, eval_every=steps, loss=loss,
                      sampling="with_replacement", seed=seed)
    res = train(net, data, cfg, device=device)
    if res.diverged:
        return net, res, Sharpness(math.inf, math.inf, math.nan)
    n = len(data["y_train"]) if n_hessian is None else _pos_int("n_hessian", n_hessian)
    sh = sharpness(net, data["x_train"][:n], data["y_train"][:n], loss=loss, n_probes=n_probes, seed=seed)
    return net, res, sh


@dataclass
class EscapeRun:
    """Continuation of a sharp solution with a smaller batch (see :func:`escape_steps`).

    Attributes
    ----------
    steps : int
        First checked step with :math:`\\lambda_{\\max}<` ``fraction`` × start, or ``horizon``.
    escaped : bool
    lam_start : float
    steps_grid, lam_path : ndarray
        The checked steps (0 first) and :math:`\\lambda_{\\max}` there.
    """

    steps: int
    escaped: bool
    lam_start: float
    steps_grid: np.ndarray
    lam_path: np.ndarray


def escape_steps(model, data: dict, *, lr: float, batch_size: int, fraction: float = 0.75, every: int = 10,
                 horizon: int = 300, seed: int = 0, loss: str = "mse", n_hessian: int | None = None,
                 lam_start: float | None = None, v0=None) -> EscapeRun:
    """Steps until SGD with batch ``batch_size`` leaves the sharp region around ``model``'s weights.

    A copy of ``model`` is trained with SGD (learning rate ``lr``, batches with replacement) in
    blocks of ``every`` steps; after each block :math:`\\lambda_{\\max}` is measured by warm-started
    Lanczos on the Hessian batch. The escape step is the first block end with
    :math:`\\lambda_{\\max}<` ``fraction`` :math:`\\times\\lambda_{\\max}(0)`; runs that never cross are
    censored at ``horizon`` (``escaped=False``). The network analogue of the first-passage times of
    :func:`sgdlab.sde.particles.first_passage`.

    Parameters
    ----------
    model : torch.nn.Module
        The starting (sharp) network; not modified.
    data : dict
    lr, batch_size : float, int
    fraction : float
        In (0, 1): the sharpness drop that counts as leaving.
    every, horizon : int
        Check interval and censoring horizon, in steps (``horizon`` a multiple of ``every``).
    seed : int
        Batch order (block ``j`` uses seed ``1000·seed + j``).
    loss, n_hessian
        As for :func:`sharpness_after_training`.
    lam_start, v0 : optional
        :math:`\\lambda_{\\max}` of ``model`` and its eigenvector, if already known.

    Used by ``book/fokker_planck/05_networks``.
    """
    from ..train import TrainConfig, train

    lr = _pos_float("lr", lr)
    _pos_int("batch_size", batch_size)
    every, horizon = _pos_int("every", every), _pos_int("horizon", horizon)
    if horizon % every:
        raise ValueError(f"horizon={horizon} must be a multiple of every={every}")
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise ValueError(f"fraction={fraction!r} must lie in (0, 1)")
    n = len(data["y_train"]) if n_hessian is None else _pos_int("n_hessian", n_hessian)
    xh, yh = data["x_train"][:n], data["y_train"][:n]
    net = copy.deepcopy(model)
    if lam_start is None or v0 is None:
        s0 = sharpness(net, xh, yh, loss=loss, n_probes=0, seed=seed)
        lam_start, v0 = s0.lam_max, s0.eigvec
    grid, path = [0], [float(lam_start)]
    v = v0
    for j in range(horizon // every):
        cfg = TrainConfig(optimizer="sgd", lr=lr, batch_size=int(batch_size), steps=every, eval_every=every,
                          loss=loss, sampling="with_replacement", seed=1000 * seed + j)
        res = train(net, data, cfg)
        if res.diverged:
            grid.append((j + 1) * every)
            path.append(math.inf)
            break
        s = sharpness(net, xh, yh, loss=loss, n_probes=0, tol=1e-2, max_iter=30, v0=v, seed=seed)
        v = s.eigvec
        grid.append((j + 1) * every)
        path.append(s.lam_max)
        if s.lam_max < fraction * lam_start:
            return EscapeRun((j + 1) * every, True, float(lam_start), np.array(grid), np.array(path))
    return EscapeRun(horizon, False, float(lam_start), np.array(grid), np.array(path))


# --------------------------------------------------------------------------- the registered sweep
CONFIGS = {
    "book": {"n_train": 512, "n_test": 500, "pool": 2, "model": "mlp", "widths": [196, 64, 10], "time": 100.0,
             "lr": 0.1, "batch_sizes": [8, 32, 128], "collapse": [[0.05, 16], [0.2, 64]], "seeds": [0, 1, 2],
             "escape_from": 128, "escape_batches": [4, 8, 16, 32], "fraction": 0.75, "every": 10,
             "horizon": 300, "n_probes": 20},
    "full": {"n_train": 10000, "n_test": 2000, "pool": 1, "model": "cnn", "widths": [784, 10], "time": 100.0,
             "lr": 0.05, "batch_sizes": [32, 256, 2048], "collapse": [[0.025, 16], [0.1, 64]],
             "seeds": [0, 1], "escape_from": 2048, "escape_batches": [32, 128, 512],
             "fraction": 0.75, "every": 40, "horizon": 2000, "n_probes": 30, "n_hessian": 2000},
}


def grid(cfg):
    return [{"seed": s} for s in cfg["seeds"]]


def run_point(point, cfg, device):
    """One seed: the sharpness sweep and the escape runs (CPU or GPU via the model's device)."""
    d = fashion_data(cfg["n_train"], cfg["n_test"], pool=cfg["pool"], seed=0)
    seed = point["seed"]
    kw = dict(time=cfg["time"], seed=seed, widths=cfg["widths"], model=cfg["model"], n_probes=cfg["n_probes"],
              n_hessian=cfg.get("n_hessian"), device=device)
    rows, nets = [], {}
    for lr, b in [(cfg["lr"], b) for b in cfg["batch_sizes"]] + [tuple(p) for p in cfg["collapse"]]:
        net, res, sh = sharpness_after_training(d, lr=lr, batch_size=int(b), **kw)
        rows.append({"lr": lr, "batch_size": int(b), "lam_max": sh.lam_max, "trace": sh.trace,
                     "train_loss": res.final["train_loss"], "test_acc": res.final["test_acc"]})
        if lr == cfg["lr"] and int(b) == cfg["escape_from"]:
            nets["start"] = (net, sh)
    net, sh = nets["start"]
    esc = []
    for b in cfg["escape_batches"]:
        r = escape_steps(net, d, lr=cfg["lr"], batch_size=int(b), fraction=cfg["fraction"], every=cfg["every"],
                         horizon=cfg["horizon"], seed=seed, n_hessian=cfg.get("n_hessian"),
                         lam_start=sh.lam_max, v0=sh.eigvec)
        esc.append({"batch_size": int(b), "steps": r.steps, "escaped": r.escaped, "lam_path": r.lam_path.tolist()})
    return {"sharpness": rows, "escape": esc}


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work per seed: one training run per (η, B) for SDE time ``time``, Lanczos sharpness after
    each, and the escape runs from the large-batch minimum with a λ_max check every ``every`` steps."""
    from ._cost import Work, cnn_macs, hvp_flops, mlp_macs, train_flops

    macs = cnn_macs((16, 32), 128) if cfg["model"] == "cnn" else mlp_macs(cfg["widths"])
    runs = [(cfg["lr"], b) for b in cfg["batch_sizes"]] + [tuple(p) for p in cfg["collapse"]]
    nh = int(cfg.get("n_hessian") or cfg["n_train"])
    S = len(cfg["seeds"])
    train_steps = sum(int(round(cfg["time"] / lr)) for lr, _ in runs)
    train_samples = sum(int(round(cfg["time"] / lr)) * int(b) for lr, b in runs)
    esc_steps = len(cfg["escape_batches"]) * int(cfg["horizon"])
    esc_samples = int(cfg["horizon"]) * sum(int(b) for b in cfg["escape_batches"])
    hvps = len(runs) * 2 * int(cfg["n_probes"]) + len(cfg["escape_batches"]) * (int(cfg["horizon"]) // int(cfg["every"])) * 10
    flops = S * (train_flops(macs, train_samples + esc_samples) + hvp_flops(macs, hvps * nh))
    return Work(points=S, runs=S * (len(runs) + len(cfg["escape_batches"])), seq_steps=S * (train_steps + esc_steps + hvps),
                flops=flops, step_s=6e-4, hvps=S * hvps, precision="fp32",
                note="float32 training, Lanczos in float32 (λ_max to ~3 digits is enough for a ranking in η/B); "
                     "cut from 4 batch sizes, SDE time 200, 3 seeds, 5 escape batch sizes to 4000 steps")


def tiny(cfg):
    """One seed of the full CNN on 256 images: SDE time of a few steps, a short escape run."""
    lr = float(cfg["lr"])
    return {**cfg, "n_train": 256, "n_test": 64, "time": 4 * lr, "batch_sizes": [64], "escape_from": 64,
            "collapse": [], "seeds": cfg["seeds"][:1], "escape_batches": cfg["escape_batches"][:1], "every": 2,
            "horizon": 4, "n_probes": 4, "n_hessian": 128}

EXPERIMENT = register(Experiment(
    name="p4_sharpness",
    description="P4.C7: λ_max and tr H of a Fashion-MNIST network vs η/B; steps to leave a large-batch minimum",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    inputs=[
        "lib/sgdlab/data.py", "lib/sgdlab/train/models.py", "lib/sgdlab/train/loop.py",
        "lib/sgdlab/train/optim.py", "lib/sgdlab/train/losses.py", "lib/sgdlab/hessian/operators.py",
        "lib/sgdlab/hessian/lanczos.py",
    ],
))
