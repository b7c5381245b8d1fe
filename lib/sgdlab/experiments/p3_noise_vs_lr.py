"""Part 3, claim P3.C5: large-then-small learning rate vs small vs small with amplified gradient noise.

One point per network (``{"model": "mlp"}``, and at full scale ``{"model": "cnn"}``, both without
BatchNorm), on Fashion-MNIST. Each point runs the protocol of
:func:`sgdlab.dynamics.noise_vs_lr.lr_vs_noise`: (a) ``lr_large`` then ``lr_small``, (b) ``lr_small``,
(c) ``lr_small`` with the three-batch noise amplification ``k = √(lr_large/lr_small − 1)`` then plain
``lr_small``, and (d) the long control, (b) trained ``long_factor`` times as long. Every arm's seeds
are one vectorised ensemble.

The ``book`` configuration is a smoke-size run (seconds on the 2-core CPU; the chapter runs its own
book-scale version live). The ``full`` configuration is the research note's protocol on the whole
Fashion-MNIST training set, with the note's MLP (784-256-256-10) and a small CNN; it is meant for a
GPU (``python -m sgdlab.experiments run p3_noise_vs_lr --scale full --device cuda``).

Used by ``book/large_lr/06_networks`` (which redraws the full-scale results when ``data/`` holds them).

References
----------
Mohtashami, Jaggi, Stich, ICML 2023 (NN experiments: ResNet-18 without BatchNorm on CIFAR-10; their
Algorithm 1 could not be read, the three-batch estimator is ours).
"""
from __future__ import annotations

import numpy as np

from .registry import Experiment, register

_COMMON = {"lr_large": 0.2, "lr_small": 0.02, "batch_size": 64, "dataset": "fashion", "data_seed": 0}
CONFIGS = {
    "book": {**_COMMON, "models": ["mlp"], "n_train": 600, "n_test": 300, "widths": [784, 32, 10],
             "cnn_channels": [4, 8], "cnn_hidden": 16, "seeds": 2, "epochs_explore": 2, "epochs_refine": 1,
             "long_factor": 2, "eval_every_epochs": 1},
    "full": {**_COMMON, "models": ["mlp", "cnn"], "n_train": 60_000, "n_test": 10_000, "widths": [784, 256, 256, 10],
             "cnn_channels": [32, 64], "cnn_hidden": 256, "seeds": 3, "epochs_explore": 8, "epochs_refine": 4,
             "long_factor": 4, "eval_every_epochs": 1},
}
ARM_NAMES = ("large_then_small", "small", "small_amplified", "small_long")


def grid(cfg):
    return [{"model": m} for m in cfg["models"]]


def _model_fn(model: str, cfg):
    import torch

    from ..train import mlp, small_cnn

    if model == "mlp":
        return lambda s: mlp(cfg["widths"], "relu", seed=s, dtype=torch.float32)
    if model == "cnn":
        return lambda s: small_cnn(channels=tuple(cfg["cnn_channels"]), hidden=cfg["cnn_hidden"], seed=s,
                                   dtype=torch.float32)
    raise ValueError(f"model={model!r} is unknown; allowed: mlp, cnn")


def run_point(point, cfg, device):
    from .. import data
    from ..dynamics.noise_vs_lr import lr_vs_noise

    d = data.image_classification(cfg["dataset"], n_train=cfg["n_train"], n_test=cfg["n_test"], seed=cfg["data_seed"])
    n, B = len(d["y_train"]), cfg["batch_size"]
    spe = n // B
    t1, t2 = cfg["epochs_explore"] * spe, cfg["epochs_refine"] * spe
    res = lr_vs_noise(_model_fn(point["model"], cfg), d, lr_large=cfg["lr_large"], lr_small=cfg["lr_small"],
                      batch_size=B, steps_explore=t1, steps_refine=t2, steps_long=(cfg["long_factor"] - 1) * (t1 + t2),
                      seeds=list(range(cfg["seeds"])), eval_every=max(1, cfg["eval_every_epochs"] * spe), device=device)
    arms = {}
    for name, h in res.arms.items():
        arms[name] = {
            "step": h.step.tolist(), "epoch": h.epoch.tolist(),
            "train_loss": h.train_loss.T.tolist(), "test_acc": h.test_acc.T.tolist(),  # (seeds, evals)
            "test_loss": h.test_loss.T.tolist(), "diverged": [bool(x) for x in h.diverged],
        }
    return {"arms": arms, "noise_k": res.noise_k, "steps_explore": t1, "steps_refine": t2,
            "steps_long": res.steps_long, "wall_time_s": res.wall_time_s}


def summarize(cfg, pairs):
    out = []
    for point, r in pairs:
        row = {"model": point["model"]}
        for name in ARM_NAMES:
            if name not in r["arms"]:
                continue
            a = r["arms"][name]
            tl = np.array([x[-1] for x in a["train_loss"]], dtype=float)
            ta = np.array([x[-1] for x in a["test_acc"]], dtype=float)
            row[name] = {"train_loss_mean": float(np.mean(tl)), "test_acc_mean": float(np.mean(ta)),
                         "test_acc_sd": float(np.std(ta, ddof=1)) if len(ta) > 1 else None,
                         "n_diverged": int(sum(a["diverged"]))}
        out.append(row)
    return {"final": out}


EXPERIMENT = register(Experiment(
    name="p3_noise_vs_lr",
    description="P3.C5: large-then-small lr vs small lr vs small lr with amplified noise (Fashion-MNIST, no BN)",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=[
        "lib/sgdlab/data.py", "lib/sgdlab/dynamics/noise_vs_lr.py",
        "lib/sgdlab/train/models.py", "lib/sgdlab/train/loop.py", "lib/sgdlab/train/ensemble.py",
        "lib/sgdlab/train/optim.py", "lib/sgdlab/train/losses.py",
    ],
))
