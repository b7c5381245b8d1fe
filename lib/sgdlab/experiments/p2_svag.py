"""Part 2, full scale (b): SVAG closes the SGD–SGDM gap (the analogue of the paper's Figure 2).

Wang et al. (ICLR 2024, Figure 2) train ResNet-32 on CIFAR-10 with B = 512, β = 0.9 and effective
learning rate η = 0.2 (decayed ×0.1 at epochs 80 and 120) for SGD and SGDM, each with SVAG
ℓ ∈ {1, 2, 4, 8} (Li, Malladi, Arora 2021: rate η/ℓ, ℓ× the steps, a two-batch gradient with ℓ×
the noise covariance, so the SDE is unchanged while the curvature term ηλ/ℓ shrinks). At ℓ = 1
SGDM is ahead; the gap closes as ℓ grows. CIFAR-10 is not available offline, so this runs the
ResNet-32 layout without BatchNorm (:func:`sgdlab.train.resnet.resnet`) on Fashion-MNIST, 160
epochs, the same schedule.

Each point is one ℓ; SGD and SGDM at that ℓ train as one ensemble (SGD = normalised SGDM with
β = 0) with common random numbers (member seed s of SGD and of SGDM share initial weights and
batches). The summary reports the final test accuracy of both and the paired gap SGDM − SGD per ℓ.
The step decay restarts the momentum buffer at each milestone (see
:mod:`sgdlab.experiments.p2_common`).

Full scale needs a GPU: ℓ = 8 costs 16 gradient evaluations per base step, and the whole sweep is
(1+2+4+8)·2 = 30 times a single 160-epoch run per seed. Book scale (a two-stage network, 256
images, ℓ ∈ {1, 2}) runs in seconds and exists for the tests. Drawn in
``book/momentum/05_networks`` by :func:`plot_summary`.
"""
from __future__ import annotations

import numpy as np

from .p2_common import INPUTS, eval_schedule, load_data, mean_sem, model_fn, train_step_decay
from .registry import Experiment, register

CONFIGS = {
    "book": {"dataset": "fashion", "n_train": 256, "n_test": 128, "blocks": [1, 1], "widths": [4, 8],
             "dtype": "float32", "batch_size": 32, "lr": 0.2, "momentum": 0.9, "svag_ls": [1, 2],
             "epochs": 2, "milestone_epochs": [1], "decay": 0.1, "seeds": 2, "n_evals": 2},
    "full": {"dataset": "fashion", "n_train": None, "n_test": None, "blocks": [2, 2, 2], "widths": [16, 32, 64],
             "dtype": "float32", "batch_size": 512, "lr": 0.2, "momentum": 0.9, "svag_ls": [1, 2, 8],
             "epochs": 16, "milestone_epochs": [8, 12], "decay": 0.1, "seeds": 2, "n_evals": 16},
}


def grid(cfg):
    return [{"svag_l": int(l)} for l in cfg["svag_ls"]]


def run_point(point, cfg, device):
    from ..train import TrainConfig

    data = load_data(cfg)
    n, b = len(data["y_train"]), int(cfg["batch_size"])
    per_epoch = n // b
    steps = cfg["epochs"] * per_epoch
    milestones = [int(e * per_epoch) for e in cfg["milestone_epochs"]]
    k = cfg["seeds"]
    tc = TrainConfig(optimizer="sgdm_normalized", lr=cfg["lr"], momentum=cfg["momentum"], steps=steps, batch_size=b,
                     sampling="epoch", gradient="svag", svag_l=int(point["svag_l"]),
                     eval_steps=eval_schedule(steps, cfg["n_evals"]))
    h = train_step_decay(model_fn(cfg, device), data, tc, seeds=list(range(k)) * 2, lrs=[cfg["lr"]] * 2 * k,
                         momenta=[0.0] * k + [cfg["momentum"]] * k, milestones=milestones, factor=cfg["decay"],
                         device=device)
    out = {"steps": steps, "milestones": milestones, "step": h["step"].tolist(), "epoch": h["epoch"].tolist(),
           "train_wall_time_s": h["wall_time_s"]}
    for name, part in (("sgd", slice(0, k)), ("sgdm", slice(k, 2 * k))):
        out[name] = {"train_loss": h["train_loss"][:, part].T.tolist(), "test_acc": h["test_acc"][:, part].T.tolist(),
                     "diverged": [bool(d) for d in h["diverged"][part]]}
    return out


def summarize(cfg, pairs):
    rows = []
    for point, r in sorted(pairs, key=lambda pr: pr[0]["svag_l"]):
        final = {o: np.where(r[o]["diverged"], np.nan, [a[-1] for a in r[o]["test_acc"]]) for o in ("sgd", "sgdm")}
        row = {"svag_l": point["svag_l"]}
        for o in ("sgd", "sgdm"):
            row[f"test_acc_{o}"], row[f"test_acc_{o}_sem"] = mean_sem(final[o])
        row["gap"], row["gap_sem"] = mean_sem(final["sgdm"] - final["sgd"])  # paired by seed
        rows.append(row)
    return {"by_l": rows}


def plot_summary(results, ax):
    """Final test accuracy of SGD and SGDM against SVAG's ℓ (``results`` from ``load_results``)."""
    from .. import plotting

    rows = results["summary"]["by_l"]
    ls = np.array([r["svag_l"] for r in rows], dtype=float)
    for i, o in enumerate(("sgd", "sgdm")):
        plotting.simulation(ax, ls * (1 + 0.04 * i), [100 * r[f"test_acc_{o}"] for r in rows],
                            yerr=[100 * (r[f"test_acc_{o}_sem"] or 0.0) for r in rows], i=i, linestyle="-", lw=0.8,
                            label="SGD" if o == "sgd" else fr"SGDM, $\beta={results['config']['momentum']}$")
    ax.set(xscale="log", xlabel=r"SVAG $\ell$", ylabel="final test accuracy (%)",
           title=fr"{results['scale']} scale: SVAG, $B={results['config']['batch_size']}$, $\eta={results['config']['lr']}$")
    ax.set_xticks(ls, [f"{int(v)}" for v in ls])
    ax.xaxis.set_minor_formatter(__import__("matplotlib").ticker.NullFormatter())
    ax.legend()
    return ax


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work: per ℓ, SGD and SGDM × ``seeds`` ResNets (vmap), two batches per SVAG step."""
    from ._cost import Work, resnet_macs, train_flops

    n = 60_000 if cfg["n_train"] is None else int(cfg["n_train"])
    macs = resnet_macs(cfg["blocks"], cfg["widths"])
    L = len(cfg["svag_ls"])
    steps = int(cfg["epochs"]) * (n // int(cfg["batch_size"])) * L
    samples = 2 * int(cfg["epochs"]) * n * 2 * int(cfg["seeds"]) * L
    return Work(points=L, runs=2 * int(cfg["seeds"]) * L, seq_steps=steps, flops=train_flops(macs, samples * 1.1),
                step_s=3e-3, precision="tf32",
                note="float32, TF32 convolutions; cut from ResNet-32, ℓ ∈ {1, 2, 4, 8} × 160 epochs × 3 seeds")


def tiny(cfg):
    """One ℓ of the full ResNet on 256 images, one epoch."""
    return {**cfg, "n_train": 256, "n_test": 64, "epochs": 1, "milestone_epochs": [], "batch_size": 64,
            "svag_ls": cfg["svag_ls"][-1:], "seeds": 1, "n_evals": 2}

EXPERIMENT = register(Experiment(
    name="p2_svag",
    description="part 2: SVAG l in {1,2,4,8} closes the SGD-SGDM gap (ResNet-32 layout without BN, Fashion-MNIST)",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=INPUTS,
))
