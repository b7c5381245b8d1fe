"""Part 3, claim P3.C5: large-then-small learning rate vs small vs small with amplified gradient noise.

One point per network (``{"model": "mlp"}``, and at full scale ``{"model": "cnn"}``, both without
BatchNorm), on Fashion-MNIST. Each point runs the protocol of
:func:`sgdlab.dynamics.noise_vs_lr.lr_vs_noise`: (a) ``lr_large`` then ``lr_small``, (b) ``lr_small``,
(c) ``lr_small`` with the three-batch noise amplification ``k = √(lr_large/lr_small − 1)`` then plain
``lr_small``, and (d) the long control, (b) trained ``long_factor`` times as long. Every arm's seeds
are one vectorised ensemble.

The full-batch GD versions of the arms (:func:`sgdlab.dynamics.noise_vs_lr.gd_lr_vs_noise`, run
when ``gd_steps_explore > 0``) on ``gd_n_train`` training images (a random subset drawn by
:func:`sgdlab.data.image_classification` with ``data_seed``; every GD step is a pass over it, which is
why the full scale uses 10,000 images, not 60,000): (a) GD at ``gd_lr_large`` then ``gd_lr_small``, (b) GD at ``gd_lr_small``,
(c) GD at ``gd_lr_small`` plus the zero-mean mini-batch difference ``k (g_B2 − g_B3)/√2`` with batches
of ``batch_size``, then plain GD, and (d) (b) ``gd_long_factor`` times as long. GD at the large rate
has no gradient noise, so "matched" means: the noisy small step gets the temperature of mini-batch
SGD at ``gd_lr_large`` with batch ``batch_size``, ``k = √(gd_lr_large/gd_lr_small)``
(:func:`~sgdlab.dynamics.noise_vs_lr.matched_gd_noise_k`). Their names carry a ``gd_`` prefix.

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
             "long_factor": 2, "eval_every_epochs": 1,
             "gd_n_train": 600, "gd_lr_large": 0.2, "gd_lr_small": 0.02, "gd_steps_explore": 40,
             "gd_steps_refine": 20, "gd_long_factor": 2, "gd_eval_every": 10},
    "full": {**_COMMON, "models": ["mlp", "cnn"], "n_train": 60_000, "n_test": 10_000, "widths": [784, 256, 256, 10],
             "cnn_channels": [32, 64], "cnn_hidden": 256, "seeds": 4, "epochs_explore": 3, "epochs_refine": 1,
             "long_factor": 2, "eval_every_epochs": 1,
             "gd_n_train": 4000, "gd_lr_large": 0.2, "gd_lr_small": 0.02, "gd_steps_explore": 600,
             "gd_steps_refine": 300, "gd_long_factor": 2, "gd_eval_every": 100},
}
SGD_ARM_NAMES = ("large_then_small", "small", "small_amplified", "small_long")
GD_ARM_NAMES = ("gd_large_then_small", "gd_small", "gd_small_amplified", "gd_small_long")
ARM_NAMES = SGD_ARM_NAMES + GD_ARM_NAMES
ARM_LABELS = {
    "large_then_small": "(a) SGD η_L → η_S", "small": "(b) SGD η_S", "small_amplified": "(c) SGD η_S + noise",
    "small_long": "(d) SGD η_S, longer", "gd_large_then_small": "(a) GD η_L → η_S", "gd_small": "(b) GD η_S",
    "gd_small_amplified": "(c) GD η_S + noise", "gd_small_long": "(d) GD η_S, longer",
}


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
    from ..dynamics.noise_vs_lr import gd_lr_vs_noise, lr_vs_noise

    d = data.image_classification(cfg["dataset"], n_train=cfg["n_train"], n_test=cfg["n_test"], seed=cfg["data_seed"])
    n, B = len(d["y_train"]), cfg["batch_size"]
    spe = n // B
    t1, t2 = cfg["epochs_explore"] * spe, cfg["epochs_refine"] * spe
    res = lr_vs_noise(_model_fn(point["model"], cfg), d, lr_large=cfg["lr_large"], lr_small=cfg["lr_small"],
                      batch_size=B, steps_explore=t1, steps_refine=t2, steps_long=(cfg["long_factor"] - 1) * (t1 + t2),
                      seeds=list(range(cfg["seeds"])), eval_every=max(1, cfg["eval_every_epochs"] * spe), device=device)
    arms = {name: _arm_json(h) for name, h in res.arms.items()}
    out = {"arms": arms, "noise_k": res.noise_k, "steps_explore": t1, "steps_refine": t2,
           "steps_long": res.steps_long, "wall_time_s": res.wall_time_s}
    if cfg.get("gd_steps_explore", 0):
        n_gd = cfg["gd_n_train"]
        dg = d if n_gd == cfg["n_train"] else data.image_classification(
            cfg["dataset"], n_train=n_gd, n_test=cfg["n_test"], seed=cfg["data_seed"])
        g1, g2 = cfg["gd_steps_explore"], cfg["gd_steps_refine"]
        gres = gd_lr_vs_noise(_model_fn(point["model"], cfg), dg, lr_large=cfg["gd_lr_large"],
                              lr_small=cfg["gd_lr_small"], noise_batch_size=B, steps_explore=g1, steps_refine=g2,
                              steps_long=(cfg["gd_long_factor"] - 1) * (g1 + g2), seeds=list(range(cfg["seeds"])),
                              eval_every=cfg["gd_eval_every"], device=device)
        arms.update({name: _arm_json(h) for name, h in gres.arms.items()})
        out.update(gd_noise_k=gres.noise_k, gd_n_train=gres.n_train, gd_steps_explore=g1, gd_steps_refine=g2,
                   gd_steps_long=gres.steps_long, gd_wall_time_s=gres.wall_time_s)
    return out


def _arm_json(h):
    return {
        "step": h.step.tolist(), "epoch": h.epoch.tolist(),
        "train_loss": h.train_loss.T.tolist(), "test_acc": h.test_acc.T.tolist(),  # (seeds, evals)
        "test_loss": h.test_loss.T.tolist(), "diverged": [bool(x) for x in h.diverged],
    }


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


def format_summary(summary) -> str:
    """The summary's final train loss and test accuracy per model and arm (SGD arms, then GD arms), as text.

    Used by ``book/large_lr/06_networks`` to list the full-scale results.
    """
    lines = []
    for row in summary["final"]:
        lines.append(f"{row['model']}:")
        for name in ARM_NAMES:
            if name in row:
                a = row[name]
                sd = "" if a["test_acc_sd"] is None else f" ± {a['test_acc_sd']:.4f}"
                lines.append(f"  {ARM_LABELS[name]:22s} test acc {a['test_acc_mean']:.4f}{sd}, "
                             f"train loss {a['train_loss_mean']:.4f}, diverged {a['n_diverged']}")
    return "\n".join(lines)


def plot_summary(summary, ax=None):
    """Final test accuracy (mean ± sd over seeds) of every arm, one marker series per model.

    The SGD arms and the full-batch GD arms sit side by side on the x axis. Returns the axes. Used by
    ``book/large_lr/06_networks`` to draw the full-scale results.
    """
    import matplotlib.pyplot as plt

    from .. import plotting

    if ax is None:
        _, ax = plt.subplots(figsize=(9.0, 3.6))
    names = [a for a in ARM_NAMES if any(a in row for row in summary["final"])]
    x = np.arange(len(names))
    for i, row in enumerate(summary["final"]):
        m = np.array([row[a]["test_acc_mean"] if a in row else np.nan for a in names], dtype=float)
        sd = np.array([(row[a]["test_acc_sd"] or 0.0) if a in row else np.nan for a in names], dtype=float)
        plotting.simulation(ax, x + 0.1 * (i - (len(summary["final"]) - 1) / 2), m, yerr=sd,
                            label=row["model"], i=i)
    ax.set_xticks(x, [ARM_LABELS[a] for a in names], rotation=30, ha="right")
    n_sgd = sum(a in SGD_ARM_NAMES for a in names)
    if 0 < n_sgd < len(names):
        ax.axvline(n_sgd - 0.5, color="0.6", lw=0.8)
    ax.set_ylabel("final test accuracy")
    ax.legend()
    return ax


# --------------------------------------------------------------------------- suite planning
def _fwd_macs(model, cfg):
    from ._cost import cnn_macs, mlp_macs

    return mlp_macs(cfg["widths"]) if model == "mlp" else cnn_macs(cfg["cnn_channels"], cfg["cnn_hidden"])


def estimate(cfg):
    """Planned work per model: the SGD protocol (explore, refine, long control, noise arm; seeds in vmap)
    and the full-batch GD protocol on ``gd_n_train`` images."""
    from ._cost import Work, train_flops

    n, B, S = int(cfg["n_train"]), int(cfg["batch_size"]), int(cfg["seeds"])
    spe = n // B
    t1, t2 = int(cfg["epochs_explore"]) * spe, int(cfg["epochs_refine"]) * spe
    t3 = (int(cfg["long_factor"]) - 1) * (t1 + t2)
    g1, g2 = int(cfg["gd_steps_explore"]), int(cfg["gd_steps_refine"])
    g3 = (int(cfg["gd_long_factor"]) - 1) * (g1 + g2)
    steps, flops = 0, 0.0
    for m in cfg["models"]:
        macs = _fwd_macs(m, cfg)
        steps += 2 * t1 + 3 * t2 + t3 + 2 * g1 + 3 * g2 + g3
        flops += train_flops(macs, B * S * (3 * t1 + 4 * t2 + t3)) * 1.2
        flops += train_flops(macs, int(cfg["gd_n_train"]) * S * (3 * g1 + 4 * g2 + g3))
    return Work(points=len(cfg["models"]), runs=len(cfg["models"]) * 5 * S, seq_steps=steps, flops=flops,
                step_s=8e-4, precision="tf32",
                note="float32, TF32 convolutions: the claim compares test accuracies of arms; cut from 8 + 4 "
                     "epochs × 4 (long control), 3 seeds, and full-batch GD on 10⁴ images for 3000 steps")


def tiny(cfg):
    """The CNN of the full configuration on 256 images: one epoch each phase, a few GD steps."""
    return {**cfg, "models": [cfg["models"][-1]], "n_train": 256, "n_test": 64, "seeds": 1, "epochs_explore": 1,
            "epochs_refine": 1, "long_factor": 2, "gd_n_train": 128, "gd_steps_explore": 3, "gd_steps_refine": 2,
            "gd_long_factor": 2, "gd_eval_every": 5}

EXPERIMENT = register(Experiment(
    name="p3_noise_vs_lr",
    description="P3.C5: large-then-small lr vs small lr vs small lr with amplified noise, SGD and full-batch GD "
                "(Fashion-MNIST, no BN)",
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
