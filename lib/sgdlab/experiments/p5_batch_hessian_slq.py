"""Part 5, full scale (a): SLQ spectra of the full and the batch Hessians of a CNN on Fashion-MNIST.

The network-scale version of claim P5.C2 (Granziol, Zohren & Roberts, JMLR 2022, the batch-Hessian
theorem of Sec. 2.3 of our notes and the spectra of their ``BatchHess_Code`` scripts): a small CNN
without BatchNorm (:func:`sgdlab.train.small_cnn`) is trained with SGD and momentum; at several
checkpoints (in epochs) we compute, by stochastic Lanczos quadrature with ``m`` Lanczos steps
(``m = 100`` at full scale, as PyHessian and the authors' scripts use):

- the spectrum of the **full** Hessian :math:`H` (the mean cross-entropy over the ``n_hessian``
  Hessian samples; the whole training set at full scale), with ``n_probes_full`` probes;
- the spectra of **batch** Hessians :math:`H_B` for :math:`B\\in\\{2^k\\}`, ``draws`` batches each
  (drawn without replacement from the same samples, so :math:`\\mathbb E H_B = H`), one probe each.

Every Hessian is a fixed operator (:class:`sgdlab.hessian.CurvatureOperator`: the batch never
changes between products, unlike the classic ``hessian-eigenthings`` operator; notes Sec. 7.7) and
Lanczos reorthogonalises fully (notes Sec. 7.6). Each point is one checkpoint: the run is retrained
from the same seed up to that epoch (the batch order is seeded, so shorter runs are prefixes of
longer ones on a deterministic device), then its Hessians are measured. Stored per checkpoint:
the SLQ nodes and weights, the densities on a common grid (Gaussian kernel of width
``sigma_frac`` × the grid's range), the extremal Ritz values :math:`\\lambda_{\\max}`,
:math:`\\lambda_{\\min}` per (B, draw), and :math:`\\operatorname{tr}H` (from the quadrature's first
moment, i.e. Hutchinson with the SLQ probes), hence :math:`B^*\\approx\\operatorname{tr}H/\\lambda_{\\max}`.

What the paper predicts (P5.C2): :math:`\\lambda_{\\max}(H_B)>\\lambda_{\\max}(H)` and
:math:`\\lambda_{\\min}(H_B)<\\lambda_{\\min}(H)`, both shrinking towards the full values as B grows.

Full scale needs a GPU (float64 Hessian-vector products over 60 000 images; about 10⁴ products per
checkpoint). Book scale (a two-channel CNN, 128 images, ``m = 10``) runs in seconds and exists for
the tests and for the pipeline check in ``book/batch_hessian/06_full_scale``, which draws the
full-scale results with :func:`plot_lambda_max` and :func:`plot_spectra` when ``data/`` holds them.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from .registry import Experiment, register

__all__ = [
    "CONFIGS", "EXPERIMENT", "load_data", "make_cnn", "batch_hessian_spectra", "train_to_epoch", "load_arrays",
    "plot_lambda_max", "plot_spectra",
]

_DTYPES = ("float32", "float64")


def _torch_dtype(name: str):
    import torch

    if name not in _DTYPES:
        raise ValueError(f"dtype={name!r} is unknown; allowed: {', '.join(_DTYPES)}")
    return getattr(torch, name)


def _pos_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def load_data(cfg: Mapping) -> dict:
    """Fashion-MNIST (``cfg["n_train"]`` images, ``None`` for all 60 000), standardised, float64, cached.

    Used by both part-5 experiments (``p5_batch_hessian_slq``, ``p5_lr_scaling``); treat the arrays as
    read-only.
    """
    return _load_cached(cfg.get("dataset", "fashion"), cfg.get("n_train"), cfg.get("n_test"))


@functools.lru_cache(maxsize=2)
def _load_cached(dataset: str, n_train, n_test) -> dict:
    from .. import data

    d = data.image_classification(dataset, n_train=n_train, n_test=n_test, seed=0, dtype=np.float64)
    return {k: d[k] for k in ("x_train", "y_train")}


def make_cnn(cfg: Mapping, seed: int, *, dtype: str | None = None, device=None):
    """The CNN of both part-5 experiments: :func:`sgdlab.train.small_cnn` with ``cfg["channels"]``,
    ``cfg["hidden"]`` (no BatchNorm, so batch Hessians are additive over samples; notes Sec. 7.8)."""
    from ..train import small_cnn

    return small_cnn(channels=tuple(cfg["channels"]), hidden=int(cfg["hidden"]), seed=int(seed),
                     dtype=_torch_dtype(dtype or cfg["dtype"]), device=device)


def train_to_epoch(cfg: Mapping, epoch: int, device=None):
    """Train the CNN with ``cfg["optimizer"]`` for ``epoch`` epochs (``epoch = 0``: the initial network).

    Returns
    -------
    (torch.nn.Module, dict)
        The network (in ``cfg["dtype"]``) and ``{"steps", "diverged"}``.
    """
    from ..train import TrainConfig, train

    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"epoch={epoch!r} must be an integer >= 0")
    data = load_data(cfg)
    net = make_cnn(cfg, cfg["seed"], device=device)
    n = len(data["y_train"])
    steps = int(epoch) * (n // int(cfg["train_batch_size"]))
    if steps == 0:
        return net, {"steps": 0, "diverged": False}
    tc = TrainConfig(optimizer=cfg["optimizer"], lr=cfg["lr"], momentum=cfg.get("momentum", 0.0), steps=steps,
                     batch_size=int(cfg["train_batch_size"]), sampling="epoch", eval_every=steps, seed=int(cfg["seed"]))
    res = train(net, data, tc, device=device)
    return net, {"steps": steps, "diverged": bool(res.diverged)}


def batch_hessian_spectra(model, x, y, *, batch_sizes: Sequence[int], draws: int, m: int, n_probes_full: int = 1,
                          loss: str = "cross_entropy", seed: int = 0, chunk_size: int | None = None,
                          dtype=None) -> dict:
    """SLQ of the full Hessian on ``(x, y)`` and of ``draws`` batch Hessians for each batch size.

    Parameters
    ----------
    model : torch.nn.Module
        The network at the checkpoint (its parameters are the variables).
    x, y : array_like or torch.Tensor
        The samples of the full Hessian :math:`H`; batches of size :math:`B` are drawn from them
        without replacement with ``numpy.random.default_rng((seed, B, draw))``.
    batch_sizes : sequence of int
        Each ``1 ≤ B ≤ len(x)``.
    draws : int
        Batches per batch size.
    m : int
        Lanczos steps per probe (the quadrature's nodes; capped at the number of parameters).
    n_probes_full : int
        Probes for the full Hessian (each batch Hessian gets one).
    loss : str
    seed : int
        Batches and probes.
    chunk_size : int, optional
        Samples per Hessian-vector-product chunk (memory bound; see :class:`sgdlab.hessian.CurvatureOperator`).
    dtype : torch.dtype, optional
        Of the products (default: the model's).

    Returns
    -------
    dict
        ``nodes_full``, ``weights_full`` (``(n_probes_full, m)``); ``nodes_batch``, ``weights_batch``
        (``(len(batch_sizes), draws, m)``); ``lam_max``, ``lam_min`` (``(len(batch_sizes), draws)``,
        the extremal Ritz values); ``lam_max_full``, ``lam_min_full``, ``trace_full`` (floats;
        :math:`\\operatorname{tr}H=P\\times` the quadrature's first moment, i.e. Hutchinson with the SLQ
        probes); ``trace_full_se`` (its standard error; ``None`` for one probe); ``n_params``; ``n_products``.

    References
    ----------
    Granziol, Zohren & Roberts, JMLR 2022 (batch-Hessian spectra by Lanczos, m = 100, 10 subsample
    seeds per B); Ubaru, Chen & Saad, SIMAX 2017 (SLQ). Used by ``book/batch_hessian/06_full_scale``.
    """
    import torch

    from ..hessian import hessian_operator, slq

    draws, m, n_probes_full = _pos_int("draws", draws), _pos_int("m", m), _pos_int("n_probes_full", n_probes_full)
    p0 = next(model.parameters())
    dtype = dtype or p0.dtype
    x = torch.as_tensor(x).to(device=p0.device, dtype=dtype)
    y = torch.as_tensor(y).to(device=p0.device).long()
    n = x.shape[0]
    bs = [_pos_int("batch_sizes", b) for b in batch_sizes]
    if not bs:
        raise ValueError("batch_sizes must hold at least one batch size")
    if max(bs) > n:
        raise ValueError(f"batch_sizes={list(batch_sizes)} must not exceed the {n} Hessian samples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an integer >= 0")
    model = model.to(dtype=dtype)
    full_op = hessian_operator(model, loss, x, y, chunk_size=chunk_size)
    P = full_op.size
    mm = min(m, P)
    q = slq(full_op, m=mm, n_probes=n_probes_full, seed=int(seed))
    products = q.n_products
    per_probe = P * np.sum(q.weights * np.nan_to_num(q.nodes), axis=1)  # Hutchinson samples zᵀHz/‖z‖²·P
    tr_se = float(per_probe.std(ddof=1) / math.sqrt(len(per_probe))) if len(per_probe) > 1 else None
    nodes_b = np.full((len(bs), draws, mm), np.nan)
    weights_b = np.zeros((len(bs), draws, mm))
    for i, b in enumerate(bs):
        for d in range(draws):
            idx = np.sort(np.random.default_rng((int(seed), b, d)).choice(n, b, replace=False))
            it = torch.from_numpy(idx).to(p0.device)
            op = hessian_operator(model, loss, x.index_select(0, it), y.index_select(0, it),
                                  chunk_size=chunk_size if chunk_size and b > chunk_size else None)
            r = slq(op, m=mm, n_probes=1, seed=int(seed) * 100_003 + 1000 * i + d + 1)
            k = r.nodes.shape[1]
            nodes_b[i, d, :k], weights_b[i, d, :k] = r.nodes[0], r.weights[0]
            products += r.n_products
    return {
        "nodes_full": q.nodes, "weights_full": q.weights, "nodes_batch": nodes_b, "weights_batch": weights_b,
        "lam_max": np.nanmax(nodes_b, axis=-1), "lam_min": np.nanmin(nodes_b, axis=-1),
        "lam_max_full": float(np.nanmax(q.nodes)), "lam_min_full": float(np.nanmin(q.nodes)),
        "trace_full": float(P * q.moment(1)), "trace_full_se": tr_se, "n_params": int(P), "n_products": int(products),
    }


def _grid_and_densities(spec: dict, n_grid: int, sigma_frac: float):
    from ..hessian import spectral_density

    allnodes = np.concatenate([spec["nodes_full"].ravel(), spec["nodes_batch"].ravel()])
    lo, hi = float(np.nanmin(allnodes)), float(np.nanmax(allnodes))
    span = max(hi - lo, 1e-12)
    grid = np.linspace(lo - 0.05 * span, hi + 0.05 * span, int(n_grid))
    sigma = sigma_frac * (grid[-1] - grid[0])
    dens_full = spectral_density(spec["nodes_full"], spec["weights_full"], grid, sigma)
    nb, nd, _ = spec["nodes_batch"].shape
    dens_b = np.stack([np.stack([spectral_density(spec["nodes_batch"][i, d], spec["weights_batch"][i, d], grid, sigma)
                                 for d in range(nd)]) for i in range(nb)])
    return grid, sigma, dens_full, dens_b


# --------------------------------------------------------------------------- the registered sweep
CONFIGS = {
    "book": {"dataset": "fashion", "n_train": 128, "n_hessian": 128, "channels": [2, 4], "hidden": 8,
             "dtype": "float64", "optimizer": "sgdm", "lr": 0.05, "momentum": 0.9, "train_batch_size": 32,
             "checkpoints": [0, 2], "batch_sizes": [2, 8, 32], "draws": 2, "m": 12, "n_probes_full": 1,
             "n_grid": 64, "sigma_frac": 0.01, "chunk_size": None, "seed": 0},
    "full": {"dataset": "fashion", "n_train": None, "n_hessian": 10_000, "channels": [16, 32], "hidden": 128,
             "dtype": "float64", "optimizer": "sgdm", "lr": 0.05, "momentum": 0.9, "train_batch_size": 128,
             "checkpoints": [0, 5, 25], "batch_sizes": [2 ** k for k in range(11)], "draws": 8, "m": 80,
             "n_probes_full": 3, "n_grid": 1024, "sigma_frac": 0.002, "chunk_size": 5000, "seed": 0},
}


def grid(cfg):
    return [{"epoch": int(e)} for e in cfg["checkpoints"]]


def run_point(point, cfg, device):
    """One checkpoint: retrain to ``point["epoch"]``, then SLQ of the full and the batch Hessians."""
    import torch

    from ..train import as_tensors, evaluate

    net, info = train_to_epoch(cfg, point["epoch"], device=device)
    data = load_data(cfg)
    nh = len(data["y_train"]) if cfg["n_hessian"] is None else int(cfg["n_hessian"])
    x, y = data["x_train"][:nh], data["y_train"][:nh]
    net = net.to(dtype=torch.float64)
    t = as_tensors({"x_train": x, "y_train": y}, device=next(net.parameters()).device, dtype=torch.float64)
    loss, acc = evaluate(net, t.x_train, t.y_train, "cross_entropy", chunk=cfg["chunk_size"] or 8192)
    if info["diverged"] or not math.isfinite(loss):
        return {"epoch": point["epoch"], "steps": info["steps"], "diverged": True, "train_loss": loss}
    spec = batch_hessian_spectra(net, t.x_train, t.y_train, batch_sizes=cfg["batch_sizes"], draws=cfg["draws"],
                                 m=cfg["m"], n_probes_full=cfg["n_probes_full"], seed=cfg["seed"],
                                 chunk_size=cfg["chunk_size"])
    g, sigma, dens_full, dens_b = _grid_and_densities(spec, cfg["n_grid"], cfg["sigma_frac"])
    return {
        "epoch": point["epoch"], "steps": info["steps"], "diverged": False, "train_loss": loss, "train_acc": acc,
        "n_hessian": nh, "n_params": spec["n_params"], "n_products": spec["n_products"],
        "lam_max_full": spec["lam_max_full"], "lam_min_full": spec["lam_min_full"], "trace_full": spec["trace_full"],
        "trace_full_se": spec["trace_full_se"], "lam_max": spec["lam_max"].tolist(),
        "lam_min": spec["lam_min"].tolist(), "sigma": sigma,
        "_arrays": {"grid": g, "density_full": dens_full, "density_batch": dens_b,
                    "nodes_full": spec["nodes_full"], "weights_full": spec["weights_full"],
                    "nodes_batch": spec["nodes_batch"], "weights_batch": spec["weights_batch"]},
    }


def summarize(cfg, pairs):
    rows = []
    for point, r in sorted(pairs, key=lambda pr: pr[0]["epoch"]):
        if r.get("diverged"):
            rows.append({"epoch": point["epoch"], "diverged": True})
            continue
        lmax, lmin = np.asarray(r["lam_max"], float), np.asarray(r["lam_min"], float)
        ratio_max = lmax / r["lam_max_full"]
        per_b = [{"batch_size": int(b),
                  "lam_max_median": float(np.median(lmax[i])), "lam_max_mean": float(np.mean(lmax[i])),
                  "ratio_max_median": float(np.median(ratio_max[i])),
                  "ratio_max_q10": float(np.quantile(ratio_max[i], 0.1)),
                  "ratio_max_q90": float(np.quantile(ratio_max[i], 0.9)),
                  "lam_min_median": float(np.median(lmin[i]))}
                 for i, b in enumerate(cfg["batch_sizes"])]
        rows.append({"epoch": point["epoch"], "diverged": False, "train_loss": r["train_loss"],
                     "lam_max_full": r["lam_max_full"], "lam_min_full": r["lam_min_full"],
                     "trace_full": r["trace_full"], "trace_full_se": r.get("trace_full_se"),
                     # B* ≈ tr H / λ_max (notes Sec. 2.5); undefined when the estimated trace is not positive
                     "critical_batch": r["trace_full"] / r["lam_max_full"] if r["trace_full"] > 0 else None,
                     "by_batch": per_b})
    return {"checkpoints": rows}


def load_arrays(results: Mapping, index: int, data_dir=None) -> dict:
    """The arrays (grid, densities, SLQ nodes and weights) of point ``index`` of ``results``."""
    from ._runner import scale_dir

    p = results["points"][index]
    if not p.get("has_arrays"):
        raise ValueError(f"index={index}: this point stored no arrays (a diverged checkpoint?)")
    f = scale_dir(results["experiment"], results["scale"], data_dir) / "points" / f"{p['key']}.npz"
    with np.load(f) as z:
        return {k: z[k] for k in z.files}


def _batch_ticks(ax, batch_sizes) -> None:
    """Batch sizes as the log axis's tick labels (every other one when there are many)."""
    from matplotlib import ticker

    bs = list(batch_sizes)
    step = 1 if len(bs) <= 7 else 2
    ax.set_xticks(bs[::step], [str(b) for b in bs[::step]])
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def plot_lambda_max(results: Mapping, ax):
    """Median :math:`\\lambda_{\\max}(H_B)/\\lambda_{\\max}(H)` (10–90 % of the draws as bars) against B,
    one series per checkpoint (``results`` from :func:`sgdlab.experiments.load_results`)."""
    from matplotlib import ticker

    from .. import plotting

    rows = [r for r in results["summary"]["checkpoints"] if not r["diverged"]]
    for i, r in enumerate(rows):
        b = np.array([c["batch_size"] for c in r["by_batch"]], float) * (1 + 0.03 * i)
        med = np.array([c["ratio_max_median"] for c in r["by_batch"]])
        err = np.array([[m - c["ratio_max_q10"], c["ratio_max_q90"] - m] for m, c in zip(med, r["by_batch"])]).T
        plotting.simulation(ax, b, med, yerr=err, i=i, linestyle="-", lw=0.8, label=f"epoch {r['epoch']} (measured)")
    ax.axhline(1.0, color="0.4", lw=0.8, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="batch size $B$",
           ylabel=r"$\lambda_{\max}(H_B)\,/\,\lambda_{\max}(H)$",
           title=f"{results['scale']} scale: top Ritz value of batch Hessians")
    _batch_ticks(ax, results["config"]["batch_sizes"])
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.legend(fontsize="small")
    return ax


def plot_spectra(results: Mapping, ax, *, index: int = -1, batch_sizes: Sequence[int] | None = None, data_dir=None):
    """SLQ densities (mean over the draws) of the full Hessian and of some batch Hessians at checkpoint ``index``."""
    from .. import plotting

    ok = [i for i, p in enumerate(results["points"]) if p.get("has_arrays")]
    order = sorted(ok, key=lambda i: results["points"][i]["point"]["epoch"])
    j = order[index]
    arr = load_arrays(results, j, data_dir)
    bs = list(results["config"]["batch_sizes"])
    show = batch_sizes if batch_sizes is not None else sorted({bs[0], bs[len(bs) // 2], bs[-1]})
    floor = 1e-6 * float(arr["density_full"].max())
    for k, b in enumerate(show):
        dens = arr["density_batch"][bs.index(b)].mean(axis=0)
        ax.plot(arr["grid"], np.maximum(dens, floor), color=plotting.color(k + 1), lw=1,
                label=f"$H_B$, $B={b}$ (measured, mean of {arr['density_batch'].shape[1]} draws)")
    ax.plot(arr["grid"], np.maximum(arr["density_full"], floor), color=plotting.color(0), lw=2,
            label="full $H$ (measured)")
    ep = results["points"][j]["point"]["epoch"]
    ax.set(yscale="log", xlabel=r"eigenvalue $\lambda$", ylabel="SLQ density",
           title=f"{results['scale']} scale, epoch {ep}")
    ax.legend(fontsize="small")
    return ax


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work per checkpoint: retraining to its epoch, then SLQ (``m`` Lanczos steps) of the full
    Hessian on ``n_hessian`` images and of ``draws`` batch Hessians per batch size."""
    from ._cost import Work, cnn_macs, hvp_flops, train_flops

    n = 60_000 if cfg["n_train"] is None else int(cfg["n_train"])
    nh = n if cfg["n_hessian"] is None else int(cfg["n_hessian"])
    macs = cnn_macs(cfg["channels"], cfg["hidden"])
    m, D = int(cfg["m"]), int(cfg["draws"])
    steps = flops = hvps = 0
    for e in cfg["checkpoints"]:
        t = int(e) * (n // int(cfg["train_batch_size"]))
        h_full, h_batch = m * int(cfg["n_probes_full"]), m * D * len(cfg["batch_sizes"])
        steps += t + h_full + h_batch
        hvps += h_full + h_batch
        flops += train_flops(macs, t * int(cfg["train_batch_size"])) + hvp_flops(
            macs, h_full * nh + m * D * sum(int(b) for b in cfg["batch_sizes"]))
    return Work(points=len(cfg["checkpoints"]), runs=len(cfg["checkpoints"]), seq_steps=int(steps), flops=flops,
                step_s=8e-4, hvps=int(hvps), precision="fp64",
                note="float64 for the Hessian (spectral edges to 1e-3); the full Hessian on 10⁴ images, not 6·10⁴; "
                     "cut from 5 checkpoints, 10 draws, m = 100")


def tiny(cfg):
    """One checkpoint of the full CNN after one short epoch on 256 images; SLQ with m = 4 at two batch sizes."""
    return {**cfg, "n_train": 256, "n_hessian": 128, "train_batch_size": 128, "checkpoints": [1],
            "batch_sizes": [2, 8], "draws": 1, "m": 4, "n_probes_full": 1, "n_grid": 32, "chunk_size": 64}

EXPERIMENT = register(Experiment(
    name="p5_batch_hessian_slq",
    description="part 5: SLQ spectra (m=100) of full and batch Hessians of a Fashion-MNIST CNN, B = 2^k, at checkpoints",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=[
        "lib/sgdlab/data.py", "lib/sgdlab/train/models.py", "lib/sgdlab/train/loop.py", "lib/sgdlab/train/optim.py",
        "lib/sgdlab/train/losses.py", "lib/sgdlab/hessian/operators.py", "lib/sgdlab/hessian/lanczos.py",
        "lib/sgdlab/hessian/flat.py",
    ],
))
