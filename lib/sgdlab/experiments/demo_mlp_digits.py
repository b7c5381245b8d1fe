"""Demonstration experiment: final accuracy of a digits MLP vs the learning rate, over seeds.

Each point is one learning rate; its seeds are trained as one vectorised ensemble
(:func:`sgdlab.train.train_ensemble`). Book scale takes a few seconds on the 2-core CPU, so
``python -m sgdlab.experiments run demo_mlp_digits`` works from a fresh clone. It exists to show
(and test) the registry, the runner and the ensembles; no chapter's claim rests on it.
"""
from __future__ import annotations

import numpy as np

from .registry import Experiment, register

CONFIGS = {
    "book": {"widths": [64, 32, 10], "lrs": [0.03, 0.1, 0.3], "seeds": 3, "steps": 200, "batch_size": 32,
             "momentum": 0.0, "eval_every": 100},
    "full": {"widths": [64, 256, 256, 10], "lrs": [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0], "seeds": 16,
             "steps": 5000, "batch_size": 32, "momentum": 0.0, "eval_every": 500},
}


def grid(cfg):
    return [{"lr": lr} for lr in cfg["lrs"]]


def run_point(point, cfg, device):
    import torch

    from .. import data
    from ..train import TrainConfig, mlp, train_ensemble

    d = data.image_classification("digits", seed=0)
    tc = TrainConfig(optimizer="sgd" if cfg["momentum"] == 0 else "sgdm", lr=point["lr"], momentum=cfg["momentum"],
                     steps=cfg["steps"], batch_size=cfg["batch_size"], eval_every=cfg["eval_every"])
    res = train_ensemble(lambda s: mlp(cfg["widths"], "relu", seed=s, dtype=torch.float32), d, tc,
                         seeds=range(cfg["seeds"]), device=device)
    h = res.history
    return {
        "step": h["step"],
        "train_loss": h["train_loss"].T.tolist(),  # (seeds, evals)
        "test_acc": h["test_acc"].T.tolist(),
        "diverged": [bool(x) for x in res.diverged],
        "_arrays": {"final_params_first_layer_norm": np.array(
            [float(res.params[next(iter(res.params))][i].norm()) for i in range(res.size)])},
    }


def summarize(cfg, pairs):
    out = []
    for point, r in pairs:
        acc = np.array([a[-1] for a in r["test_acc"]], dtype=float)
        out.append({"lr": point["lr"], "test_acc_mean": float(np.nanmean(acc)),
                    "test_acc_sem": float(np.nanstd(acc, ddof=1) / np.sqrt(len(acc))) if len(acc) > 1 else None,
                    "n_diverged": int(sum(r["diverged"]))})
    return {"final_test_accuracy": out}


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work: per learning rate, ``seeds`` MLPs (vmap) for ``steps`` steps on the digits."""
    from ._cost import Work, mlp_macs, train_flops

    return Work(points=len(cfg["lrs"]), runs=len(cfg["lrs"]) * int(cfg["seeds"]),
                seq_steps=len(cfg["lrs"]) * int(cfg["steps"]),
                flops=train_flops(mlp_macs(cfg["widths"]), len(cfg["lrs"]) * int(cfg["seeds"]) * int(cfg["steps"])
                                  * int(cfg["batch_size"])), step_s=3e-4, precision="fp32")


def tiny(cfg):
    """One learning rate, two seeds, a few steps."""
    return {**cfg, "lrs": cfg["lrs"][:1], "seeds": 2, "steps": 4, "eval_every": 2}

EXPERIMENT = register(Experiment(
    name="demo_mlp_digits",
    description="digits MLP: final test accuracy vs learning rate (seeds as one vmap ensemble)",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=[
        "lib/sgdlab/data.py",
        "lib/sgdlab/train/models.py", "lib/sgdlab/train/loop.py", "lib/sgdlab/train/ensemble.py",
        "lib/sgdlab/train/optim.py", "lib/sgdlab/train/losses.py",
    ],
))
