"""Part 1 at full scale: (α, β) loss maps of mini-batch SGD on a Fashion-MNIST NTK, linearised Monte Carlo
against the SE recursion.

The reproduction note's figure F-c (log L at t = 10⁴ over α ∈ [0, 4] × β ∈ (−1, 1), with the curves
U(1) = 1 and α = 2(1+β)/λ_max; N = 1000, B ∈ {1, 10, 100, 1000}, about 100 × 50 grid points): the paper
draws it from linearised runs. Here every grid point gets ``runs`` Monte-Carlo runs of linearised SGD
(:func:`sgdlab.experiments.p1_network_theory.linearised_ensemble`, batches without replacement drawn on
the device) on the analytic two-layer ReLU NTK (:func:`sgdlab.linear.relu_ntk`, λ_max(K/N) = 1, target the
standardised class label, f_0 = 0), and the SE(τ₂ = +1) recursion (:func:`sgdlab.linear.se_loss`) on the
same spectrum. Each point of the sweep is one row (B, β) of a map, all α at once.

The summary gives, per batch size, the maps (median and mean over runs, SE), the convergence boundary
α_c(β) from U(1) = 1 (:func:`sgdlab.linear.critical_lr`) with the largest α whose runs converged, and the
minimum of each map. Drawn by :func:`plot_summary` in ``book/generating_functions/06_networks``
(full-scale section; the book-scale maps of ``03_convergence`` and ``05_momentum`` use SE only).

References
----------
Velikanov, Kuznedelev & Yarotsky, ICLR 2023 (arXiv 2206.11124), Sec. 3 and the authors'
``NegativeMomentum.ipynb`` (``plots/losses_2d``); reproduction note §4.2 (F-c, F-d) and §5.2.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .registry import Experiment, register

__all__ = ["CONFIGS", "EXPERIMENT", "map_problem", "plot_summary"]

CONFIGS = {
    "book": {"dataset": "fashion", "n_train": 48, "data_seed": 0, "steps": 40, "runs": 4, "seed": 0,
             "alphas": np.linspace(0.2, 3.0, 6).round(6).tolist(), "betas": [-0.5, 0.0, 0.5, 0.8],
             "batch_sizes": [4]},
    "full": {"dataset": "fashion", "n_train": 1000, "data_seed": 0, "steps": 3000, "runs": 8, "seed": 0,
             "alphas": np.linspace(0.1, 4.0, 40).round(6).tolist(),
             "betas": np.linspace(-0.95, 0.95, 20).round(6).tolist(), "batch_sizes": [10, 100]},
}


@functools.lru_cache(maxsize=2)
def _problem_cached(dataset: str, n_train: int, data_seed: int):
    from .. import data, linear

    d = data.image_classification(dataset, n_train=n_train, seed=data_seed, dtype=np.float64)
    y = np.asarray(d["y_train"], dtype=np.float64)
    y = (y - y.mean()) / y.std()
    return linear.kernel_problem(linear.relu_ntk(np.asarray(d["x_train"], dtype=np.float64)), y)


def map_problem(cfg: dict) -> dict:
    """The normalised NTK problem of a configuration (:func:`sgdlab.linear.kernel_problem`; cached, read-only)."""
    return _problem_cached(cfg["dataset"], int(cfg["n_train"]), int(cfg.get("data_seed", 0)))


def grid(cfg):
    return [{"batch_size": int(b), "beta": float(be)} for b in cfg["batch_sizes"] for be in cfg["betas"]]


def run_point(point, cfg, device):
    from .. import linear
    from .p1_network_theory import linearised_ensemble

    prob = map_problem(cfg)
    N = prob["eigs"].size
    B, beta = int(point["batch_size"]), float(point["beta"])
    T, R = int(cfg["steps"]), int(cfg["runs"])
    alphas = np.asarray(cfg["alphas"], dtype=np.float64)
    g = (N - B) / ((N - 1) * B)
    seed = int(cfg["seed"]) * 1_000_003 + 1000 * cfg["batch_sizes"].index(B) + cfg["betas"].index(point["beta"])
    L = linearised_ensemble(prob["kernel_n"], prob["residual0"], np.repeat(alphas, R), beta, B, T, times=[T],
                            runs=alphas.size * R, seed=seed, device=device)[0].reshape(alphas.size, R)
    keep = prob["eigs"] > 0
    e, c = prob["eigs"][keep], prob["c"][keep]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = L.mean(axis=1)
    return {"gamma": g, "L0": 0.5 * float(np.sum(prob["c"])),
            "mc_median": np.median(L, axis=1).tolist(), "mc_mean": mean.tolist(),
            "mc_diverged": np.mean(~np.isfinite(L), axis=1).tolist(),
            "se_plus": linear.se_loss(e, c, alphas, beta, g, T, tau2=1.0, times=[T])[:, 0].tolist(),
            "alpha_c": float(linear.critical_lr(e, beta, g)), "alpha_mode": 2 * (1 + beta)}


def _f(v):
    return np.asarray(v, dtype=np.float64)


def summarize(cfg, pairs):
    """Per batch size: the maps as (β, α) arrays, the boundary and the minima."""
    alphas, betas = _f(cfg["alphas"]), _f(cfg["betas"])
    maps = []
    for B in cfg["batch_sizes"]:
        rows = {p["beta"]: r for p, r in pairs if p["batch_size"] == B}
        rs = [rows[b] for b in cfg["betas"]]
        med, mean, se = (np.stack([_f(r[k]) for r in rs]) for k in ("mc_median", "mc_mean", "se_plus"))
        L0 = rs[0]["L0"]
        conv = np.isfinite(med) & (med < L0)
        # the largest α of each row whose median run ended below L_0 (NaN: none)
        a_mc = [float(alphas[np.flatnonzero(row)[-1]]) if row.any() else math.nan for row in conv]
        out = {"batch_size": int(B), "gamma": rs[0]["gamma"], "L0": L0, "mc_median": med, "mc_mean": mean,
               "mc_diverged": np.stack([_f(r["mc_diverged"]) for r in rs]), "se_plus": se,
               "alpha_c": [r["alpha_c"] for r in rs], "alpha_mode": [r["alpha_mode"] for r in rs],
               "alpha_converged_mc": a_mc}
        for name, M in (("mc", np.where(np.isfinite(med), med, np.inf)), ("se", np.where(np.isfinite(se), se, np.inf))):
            i, j = np.unravel_index(np.argmin(M), M.shape)
            out[f"argmin_{name}"] = {"alpha": float(alphas[j]), "beta": float(betas[i]), "loss": float(M[i, j])}
        both = conv & np.isfinite(se) & (se > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(mean / se - 1)[both]
        out["median_rel_mc_mean_vs_se"] = float(np.median(rel)) if rel.size else None
        maps.append(out)
    return {"maps": maps}


def plot_summary(results, ax, batch: int = 0):
    """log₁₀ of the median linearised loss at t = T over (α, β), with α_c(β) (U(1) = 1) and α = 2(1+β).

    ``results`` from ``load_results("p1_maps", scale)``; ``batch`` indexes ``config["batch_sizes"]``.
    """
    from .. import plotting

    cfg = results["config"]
    m = results["summary"]["maps"][batch]
    a, b = _f(cfg["alphas"]), _f(cfg["betas"])
    L = _f(m["mc_median"])
    with np.errstate(divide="ignore"):
        img = np.log10(np.where(np.isfinite(L), L, np.nan))
    da, db = (a[1] - a[0]) / 2 if a.size > 1 else 0.5, (b[1] - b[0]) / 2 if b.size > 1 else 0.5
    im = ax.imshow(img, origin="lower", aspect="auto", cmap="viridis",
                   extent=[a[0] - da, a[-1] + da, b[0] - db, b[-1] + db])
    ax.figure.colorbar(im, ax=ax, label=f"log₁₀ median L_t at t={cfg['steps']} (blank: diverged)")
    plotting.theory(ax, _f(m["alpha_c"]), b, label="U(1) = 1 (SE τ₂=+1)", i=1)
    plotting.theory(ax, _f(m["alpha_mode"]), b, label="α = 2(1+β)/λ_max", i=0, linestyle="--")
    plotting.simulation(ax, _f(m["alpha_converged_mc"]), b, label="largest convergent α (linearised)", i=4)
    mn = m["argmin_mc"]
    ax.plot([mn["alpha"]], [mn["beta"]], marker="*", color="w", markersize=12, linestyle="none",
            label="minimum (linearised)")
    ax.set(xlim=(a[0] - da, a[-1] + da), ylim=(b[0] - db, b[-1] + db), xlabel="learning rate α (units of 1/λ_max)",
           ylabel="momentum β", title=f"{results['scale']}: N={cfg['n_train']}, B={m['batch_size']}, "
                                      f"{cfg['runs']} linearised runs per point")
    ax.legend(fontsize="x-small", loc="lower right")
    return ax


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work: per (B, β) point, ``len(alphas) × runs`` linearised runs for ``steps`` steps."""
    from ._cost import Work

    N, T = int(cfg["n_train"]), int(cfg["steps"])
    runs = len(cfg["alphas"]) * int(cfg["runs"])
    pts = len(grid(cfg))
    flops = 4.0 * T * N * runs * sum(int(b) for b in cfg["batch_sizes"]) * len(cfg["betas"])
    return Work(points=pts, runs=runs * pts, seq_steps=pts * T, flops=flops, step_s=2e-4, precision="fp64",
                note="cut from 100 × 50 (α, β) at B ∈ {1, 10, 100, 1000}, 10⁴ steps: the map's boundary at "
                     "two batch sizes decides P1.H2")


def tiny(cfg):
    """One (B, β) point, three learning rates, a few steps, on 64 training points."""
    return {**cfg, "n_train": 64, "steps": 5, "runs": 2, "alphas": cfg["alphas"][:3], "betas": cfg["betas"][:1],
            "batch_sizes": [cfg["batch_sizes"][0]]}

EXPERIMENT = register(Experiment(
    name="p1_maps",
    description="part 1: (α, β) maps of L_t at t = 1e4, linearised Monte Carlo vs SE(+1) on a Fashion-MNIST NTK",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=["lib/sgdlab/data.py", "lib/sgdlab/experiments/p1_network_theory.py", "lib/sgdlab/linear/_se.py",
            "lib/sgdlab/linear/_se_kernel.py", "lib/sgdlab/linear/_finite.py", "lib/sgdlab/linear/_ntk.py"],
))
