"""Part 2, full scale (a): SGD vs SGDM at matched effective learning rate across batch sizes.

The analogue of the paper's ImageNet sweep (Wang et al., ICLR 2024, Sec. 6): a ResNet-style network
without BatchNorm (:func:`sgdlab.train.resnet.resnet`, ResNet-32 layout at full scale) on
Fashion-MNIST, batch sizes 64 … 4096, a fixed budget of epochs with step decay (×0.1 at 50 % and
75 % of the steps), and a learning-rate grid per optimiser. Both optimisers are the normalised
form at effective learning rate η (``sgdm_normalized``; β = 0 is SGD), so "matched η" means the
same grid value. SGDM's grid reaches further up because its stability range is (1+β)/(1−β) times
wider. Each point is one (batch size, optimiser, η); its seeds train as one vmap ensemble.

The summary picks, per batch size and optimiser, the η with the best mean final test accuracy
(the paper's per-optimiser grid search) and reports SGDM − SGD. The paper's finding to compare
with: no gap at small and medium batch, a gap in favour of SGDM at large batch.

Full scale needs a GPU (about 130 points × 3 seeds × 30 epochs of ResNet-32; the largest batch
holds 3 × 4096 images in memory at once, roughly 25 GB in float32). Book scale (a two-stage
network, 256 images, one epoch) runs in seconds and exists for the tests. Drawn in
``book/momentum/05_networks`` by :func:`plot_summary`.
"""
from __future__ import annotations

import numpy as np

from .p2_common import INPUTS, eval_schedule, load_data, mean_sem, model_fn, train_step_decay
from .registry import Experiment, register

_GRID = [0.0125 * 2 ** k for k in range(11)]  # 0.0125 … 12.8

CONFIGS = {
    "book": {"dataset": "fashion", "n_train": 256, "n_test": 128, "blocks": [1, 1], "widths": [4, 8],
             "dtype": "float32", "batch_sizes": [32, 128], "epochs": 1, "momentum": 0.9,
             "lrs": {"sgd": [0.2], "sgdm": [0.2, 0.8]}, "seeds": 2,
             "milestones": [0.5, 0.75], "decay": 0.1, "n_evals": 2},
    "full": {"dataset": "fashion", "n_train": None, "n_test": None, "blocks": [2, 2, 2], "widths": [16, 32, 64],
             "dtype": "float32", "batch_sizes": [128, 1024, 4096], "epochs": 5, "momentum": 0.9,
             "lrs": {"sgd": _GRID[2:7], "sgdm": _GRID[2:8]}, "seeds": 2,
             "milestones": [0.5, 0.75], "decay": 0.1, "n_evals": 12},
}

OPTIMIZERS = ("sgd", "sgdm")


def grid(cfg):
    return [{"batch_size": b, "optimizer": o, "lr": lr}
            for b in cfg["batch_sizes"] for o in OPTIMIZERS for lr in cfg["lrs"][o]]


def run_point(point, cfg, device):
    from ..train import TrainConfig

    data = load_data(cfg)
    n = len(data["y_train"])
    b = int(point["batch_size"])
    steps = max(1, cfg["epochs"] * n // b)
    milestones = sorted({int(round(f * steps)) for f in cfg["milestones"]} - {0, steps})
    beta = cfg["momentum"] if point["optimizer"] == "sgdm" else 0.0
    tc = TrainConfig(optimizer="sgdm_normalized", lr=point["lr"], momentum=beta, steps=steps, batch_size=b,
                     sampling="epoch", eval_steps=eval_schedule(steps, cfg["n_evals"]))
    seeds = list(range(cfg["seeds"]))
    h = train_step_decay(model_fn(cfg, device), data, tc, seeds=seeds, lrs=[point["lr"]] * len(seeds),
                         momenta=[beta] * len(seeds), milestones=milestones, factor=cfg["decay"], device=device)
    return {
        "steps": steps, "milestones": milestones, "step": h["step"].tolist(), "epoch": h["epoch"].tolist(),
        "train_loss": h["train_loss"].T.tolist(),  # (seeds, evals)
        "test_acc": h["test_acc"].T.tolist(),
        "test_loss": h["test_loss"].T.tolist(),
        "diverged": [bool(d) for d in h["diverged"]],
        "train_wall_time_s": h["wall_time_s"],
    }


def summarize(cfg, pairs):
    best = []
    for b in cfg["batch_sizes"]:
        for o in OPTIMIZERS:
            cands = []
            for point, r in pairs:
                if point["batch_size"] == b and point["optimizer"] == o:
                    final = np.array([a[-1] for a in r["test_acc"]], dtype=float)
                    final = np.where(np.asarray(r["diverged"]), np.nan, final)
                    m, s = mean_sem(final)
                    loss = mean_sem([l[-1] for l in r["train_loss"]])[0]
                    cands.append({"batch_size": b, "optimizer": o, "lr": point["lr"], "test_acc_mean": m,
                                  "test_acc_sem": s, "train_loss_mean": loss, "n_diverged": int(sum(r["diverged"]))})
            ok = [c for c in cands if np.isfinite(c["test_acc_mean"])]
            pick = max(ok, key=lambda c: c["test_acc_mean"]) if ok else cands[0]
            best.append({**pick, "lr_grid_edge": pick["lr"] in (min(cfg["lrs"][o]), max(cfg["lrs"][o]))})
    gaps = []
    for b in cfg["batch_sizes"]:
        s, m = (next(c for c in best if c["batch_size"] == b and c["optimizer"] == o) for o in OPTIMIZERS)
        se = [x for x in (s["test_acc_sem"], m["test_acc_sem"]) if x is not None]
        gaps.append({"batch_size": b, "gap": m["test_acc_mean"] - s["test_acc_mean"],
                     "gap_sem": float(np.hypot(*se)) if len(se) == 2 else None,
                     "lr_sgd": s["lr"], "lr_sgdm": m["lr"]})
    return {"best": best, "gap_sgdm_minus_sgd": gaps}


def plot_summary(results, ax):
    """Best-η final test accuracy against the batch size, SGD and SGDM (``results`` from ``load_results``)."""
    from .. import plotting

    best = results["summary"]["best"]
    for i, o in enumerate(OPTIMIZERS):
        rows = sorted((c for c in best if c["optimizer"] == o), key=lambda c: c["batch_size"])
        x = np.array([c["batch_size"] for c in rows], dtype=float) * (1 + 0.04 * i)
        y = [100 * c["test_acc_mean"] for c in rows]
        e = [100 * (c["test_acc_sem"] or 0.0) for c in rows]
        plotting.simulation(ax, x, y, yerr=e, i=i, linestyle="-", lw=0.8,
                            label="SGD" if o == "sgd" else fr"SGDM, $\beta={results['config']['momentum']}$")
    ax.set(xscale="log", xlabel="batch size $B$", ylabel="test accuracy at the best η (%)",
           title=f"{results['scale']} scale: ResNet (no BN), Fashion-MNIST")
    sizes = results["config"]["batch_sizes"]
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.xaxis.set_minor_formatter(__import__("matplotlib").ticker.NullFormatter())
    ax.legend()
    return ax


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work: per (B, optimiser, lr) point, ``seeds`` ResNets (vmap) for ``epochs`` epochs."""
    from ._cost import Work, resnet_macs, train_flops

    n = 60_000 if cfg["n_train"] is None else int(cfg["n_train"])
    macs = resnet_macs(cfg["blocks"], cfg["widths"])
    n_lr = sum(len(cfg["lrs"][o]) for o in OPTIMIZERS)
    steps = sum(int(cfg["epochs"]) * n // int(b) for b in cfg["batch_sizes"]) * n_lr
    samples = int(cfg["epochs"]) * n * int(cfg["seeds"]) * n_lr * len(cfg["batch_sizes"])
    return Work(points=len(grid(cfg)), runs=len(grid(cfg)) * int(cfg["seeds"]), seq_steps=steps,
                flops=train_flops(macs, samples * 1.1), step_s=2e-3, precision="tf32",
                note="float32 weights, convolutions in TF32 (cuDNN's default): the claim ranks test accuracies "
                     "several tenths of a per cent apart; cut from ResNet-32, 7 batch sizes × 19 lrs × 3 seeds × 30 epochs to ResNet-14, 3 × 11 × 2 × 5")


def tiny(cfg):
    """One point of the full ResNet on 256 images, one epoch (a few steps)."""
    return {**cfg, "n_train": 256, "n_test": 64, "epochs": 1, "batch_sizes": [cfg["batch_sizes"][0]],
            "lrs": {"sgd": cfg["lrs"]["sgd"][:1], "sgdm": []}, "seeds": 2, "n_evals": 2}

EXPERIMENT = register(Experiment(
    name="p2_batch_sweep",
    description="part 2: SGD vs SGDM at matched effective lr across batch sizes (ResNet without BN, Fashion-MNIST)",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=INPUTS,
))
