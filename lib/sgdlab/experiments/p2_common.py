"""Shared pieces of part 2's full-scale experiments (``p2_batch_sweep``, ``p2_svag``).

- :func:`load_data`: Fashion-MNIST (or a subset) as standardised arrays.
- :func:`model_fn`: the ResNet-style network without BatchNorm of :mod:`sgdlab.train.resnet`.
- :func:`train_step_decay`: :func:`sgdlab.train.train_ensemble` with a step-decay learning-rate
  schedule (×``factor`` at each milestone), run as one ensemble per constant-rate phase.

The engine has no learning-rate schedule, so a schedule is a sequence of phases: each phase starts
a new ensemble from the previous phase's weights, at the decayed rate. Two consequences, both
documented where the results are drawn: the momentum buffer restarts from zero at each milestone
(PyTorch's ``MultiStepLR`` keeps it), and each phase draws a fresh batch order (its sampler is
seeded with ``seed + phase·10⁶``; members sharing a seed still share their batches). A member that
diverges is dropped from the later phases and keeps an infinite loss.

Used by ``book/momentum/05_networks`` (through the experiments' results). No module here registers
an experiment.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

PHASE_SEED_STRIDE = 1_000_000

_DTYPES = ("float32", "float64")


def torch_dtype(name: str):
    import torch

    if name not in _DTYPES:
        raise ValueError(f"dtype={name!r} is unknown; allowed: {', '.join(_DTYPES)}")
    return getattr(torch, name)


def load_data(cfg: Mapping) -> dict:
    """``image_classification(cfg["dataset"], n_train=cfg["n_train"], n_test=cfg["n_test"], seed=0)``
    (cached: every point of a sweep uses the same data; treat the arrays as read-only)."""
    return _load_data(cfg.get("dataset", "fashion"), cfg.get("n_train"), cfg.get("n_test"))


@functools.lru_cache(maxsize=2)
def _load_data(dataset: str, n_train, n_test) -> dict:
    from .. import data

    out = data.image_classification(dataset, n_train=n_train, n_test=n_test, seed=0, dtype=np.float32)
    return out


def model_fn(cfg: Mapping, device=None) -> Callable:
    """``seed -> resnet(blocks=cfg["blocks"], widths=cfg["widths"], ...)`` on ``device`` in ``cfg["dtype"]``."""
    from ..train.resnet import resnet

    dtype = torch_dtype(cfg.get("dtype", "float32"))
    blocks, widths = tuple(cfg["blocks"]), tuple(cfg["widths"])
    return lambda s: resnet(blocks=blocks, widths=widths, skip_init=float(cfg.get("skip_init", 0.0)), seed=int(s),
                            dtype=dtype, device=device)


def eval_schedule(steps: int, n_evals: int) -> tuple[int, ...]:
    """About ``n_evals`` evenly spaced evaluation steps in ``[0, steps]`` (0 and ``steps`` included)."""
    return tuple(sorted({int(round(v)) for v in np.linspace(0, steps, max(2, int(n_evals) + 1))}))


def train_step_decay(make_model: Callable, data, config, *, seeds: Sequence[int], lrs: Sequence[float],
                     momenta: Sequence[float], milestones: Sequence[int] = (), factor: float = 0.1,
                     device=None) -> dict:
    """Train an ensemble with a step-decay schedule: rate ``lrs[i]·factor^k`` after the k-th milestone.

    Parameters
    ----------
    make_model : callable
        ``seed -> nn.Module`` (the initial network of a member).
    data : mapping
        As for :func:`sgdlab.train.train_ensemble`.
    config : sgdlab.train.TrainConfig
        Shared settings; ``config.steps`` is the total number of (base) steps and ``config.schedule()``
        the evaluation steps (the milestones are evaluated as well).
    seeds, lrs, momenta : sequences of length E
        Per-member seed, initial learning rate and momentum.
    milestones : sequence of int
        Base steps (strictly increasing, in ``(0, config.steps)``) at which the rate is multiplied by
        ``factor``.
    factor : float
        Decay factor in (0, 1].
    device : optional
        Passed to :func:`sgdlab.train.train_ensemble`.

    Returns
    -------
    dict
        ``step`` (n,), ``epoch`` (n,) = samples seen / N for the ℓ = 1 process, i.e. ``step·B/N``,
        ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``: arrays (n, E) (``inf`` loss and
        NaN accuracy once a member has diverged), ``diverged`` (E,) bool, ``diverged_at`` (E,) base
        step of detection or −1, ``wall_time_s``.

    Raises
    ------
    ValueError
        For out-of-range milestones or factor (and the checks of ``train_ensemble``).
    """
    import torch

    from ..train import train_ensemble

    E = len(seeds)
    if not (len(lrs) == len(momenta) == E) or E == 0:
        raise ValueError("seeds, lrs and momenta must have the same length >= 1")
    ms = [int(m) for m in milestones]
    if any(b <= a for a, b in zip([0] + ms, ms + [config.steps])):
        raise ValueError(f"milestones={list(milestones)!r} must increase strictly inside (0, steps={config.steps})")
    if not 0 < factor <= 1:
        raise ValueError(f"factor={factor!r} must lie in (0, 1]")
    bounds = [0] + ms + [config.steps]
    schedule = sorted(set(config.schedule()) | set(ms))
    keys = ("train_loss", "train_acc", "test_loss", "test_acc")
    rows: dict[int, dict[str, np.ndarray]] = {}
    alive = np.ones(E, dtype=bool)
    diverged_at = np.full(E, -1, dtype=np.int64)
    state: list[dict | None] = [None] * E
    wall = 0.0
    for phase, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        models = []
        for i in idx:
            m = make_model(int(seeds[i]))
            if state[i] is not None:
                with torch.no_grad():
                    named = dict(m.named_parameters())
                    for k, v in state[i].items():
                        named[k].copy_(v.to(named[k].device))
            models.append(m)
        queue = iter(models)
        cfg = config.replace(steps=b - a, eval_steps=tuple(s - a for s in schedule if a <= s <= b), eval_every=None)
        res = train_ensemble(lambda s: next(queue), data, cfg,
                             seeds=[int(seeds[i]) + phase * PHASE_SEED_STRIDE for i in idx],
                             lrs=[float(lrs[i]) * factor ** phase for i in idx],
                             momenta=[float(momenta[i]) for i in idx], device=device)
        wall += res.wall_time_s
        for r, step in enumerate(res.history["step"]):
            s = a + int(round(step))
            if phase > 0 and s == a:
                continue  # the previous phase evaluated these weights already
            row = {k: np.full(E, np.inf if k.endswith("loss") else np.nan) for k in keys}
            for k in keys:
                row[k][idx] = np.asarray(res.history[k])[r]
            rows[s] = row
        for j, i in enumerate(idx):
            if res.diverged[j]:
                alive[i] = False
                diverged_at[i] = a + int(res.diverged_at[j] // config.svag_l)
            else:
                state[i] = {k: v[j].detach().cpu() for k, v in res.params.items()}
    steps = sorted(rows)
    n = len(data["y_train"]) if isinstance(data, Mapping) else data.n_train
    out = {"step": np.array(steps), "epoch": np.array(steps) * (config.batch_size or n) / n,
           "diverged": ~alive, "diverged_at": diverged_at, "wall_time_s": wall}
    for k in keys:
        out[k] = np.stack([rows[s][k] for s in steps])
    return out


def mean_sem(values) -> tuple[float, float | None]:
    """Mean and standard error of the finite entries (``nan``/``None`` if there are none / one)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), None
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None)


#: Files whose change makes a part-2 result stale (the experiment module is added by the registry).
INPUTS = [
    "lib/sgdlab/experiments/p2_common.py", "lib/sgdlab/data.py", "lib/sgdlab/train/resnet.py",
    "lib/sgdlab/train/models.py", "lib/sgdlab/train/loop.py", "lib/sgdlab/train/ensemble.py",
    "lib/sgdlab/train/optim.py", "lib/sgdlab/train/losses.py",
]
