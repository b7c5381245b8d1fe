"""Part 1, claim P1.C7 at full scale: a width-1000 ReLU network, its linearisation and the SE theory.

The experiment behind the last section of ``book/generating_functions/06_networks``. On Fashion-MNIST
(N = 10⁴ training points at full scale), a one-hidden-layer ReLU network in NTK parametrisation
(``mlp([784, 1000, 1], "relu", parametrization="ntk")``, float64, scalar standardised label as target,
loss ½·MSE) is trained with ``torch.optim.SGD`` from one initialisation on ≥ 20 independent batch
sequences per setting (B, α, β) for 10⁴ steps. Against it:

- its linearisation (SGD on the empirical NTK Θ at initialisation, in function space), run on the
  *same* batch sequences as the networks (paired) and on many independent ones (Monte Carlo);
- the SE recursion (:func:`sgdlab.linear.se_loss`) on the spectrum of Θ/N with τ₂ = +1, τ₂ = −1 and the
  per-mode τ₂,k = 2 − κ_k (eigenvector kurtosis);
- at book scale also the exact N×N moment recursion (:func:`sgdlab.linear.exact_finite_loss`), which
  costs O(N³) per step and is skipped at N = 10⁴.

Learning rates are in units of 1/λ_max(Θ/N), as in the chapter; PyTorch gets α/λ_max(Θ/N).

The torch parts run on the experiment's device (a GPU at full scale):

- :func:`train_network_ensemble` trains R copies of the network at once: their weights are stacked into
  tensors of shape (R, …) and one ``torch.optim.SGD`` steps them all. SGD and its momentum buffer act
  element-wise and the summed loss separates over runs, so each slice follows exactly the trajectory of
  :func:`sgdlab.linear.train_network_sgd` with the same batch seed (tested to round-off);
- :func:`linearised_ensemble` is :func:`sgdlab.linear.linearised_sgd_paired` in torch, with one
  learning rate and momentum per run (also used by :mod:`sgdlab.experiments.p1_maps`).

Points of the sweep: one ``kernel`` point (spectrum, fits), one ``theory`` point per setting, and per
setting ``network`` points (a block of seeds each, with their paired linearised runs) and
``linearised`` points (blocks of independent Monte-Carlo runs), so that ``--shard`` spreads them over
processes. Each process builds the kernel once (cached).

References
----------
Velikanov, Kuznedelev & Yarotsky, ICLR 2023 (arXiv 2206.11124), the "4 regimes" comparison of the
authors' ``train_4_regimes.py`` (README figure ``loss_curves_mnist``); reproduction note §4.1–4.2, §5.2.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from .registry import Experiment, register

__all__ = ["log_times", "network_problem", "kernel_problem_torch", "train_network_ensemble", "linearised_ensemble",
           "CONFIGS", "EXPERIMENT", "plot_summary"]


# --------------------------------------------------------------------------- input checks
def _pos_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _times(times, steps: int) -> np.ndarray:
    t = np.asarray(times, dtype=np.int64)
    if t.ndim != 1 or t.size == 0 or t[0] < 0 or t[-1] > steps or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be strictly increasing integers in [0, steps={steps}]")
    return t


def _per_run(name: str, value, runs: int) -> np.ndarray:
    v = np.broadcast_to(np.asarray(value, dtype=np.float64), (runs,)).copy()
    return v


def log_times(steps: int, n: int) -> np.ndarray:
    """0 and about ``n`` log-spaced integer steps in [1, ``steps``] (distinct, increasing)."""
    steps = _pos_int("steps", steps)
    n = _pos_int("n", n)
    return np.r_[0, np.unique(np.round(np.geomspace(1, steps, n)).astype(np.int64))]


# --------------------------------------------------------------------------- the problem
def kernel_problem_torch(theta, residual0, device=None) -> dict:
    """:func:`sgdlab.linear.kernel_problem` with the eigen-decomposition done by ``torch.linalg.eigh``.

    At N = 10⁴ numpy's single-threaded ``eigh`` (``kernel_problem`` limits BLAS to one thread) takes tens
    of minutes; torch uses every core, or the GPU. The kernel is normalised to λ_max(Θ/N) = 1.

    Parameters
    ----------
    theta : array_like (N, N)
        The kernel Θ (symmetric).
    residual0 : array_like (N,)
        Δf_0 = f_0 − y (note the sign: ``kernel_problem(theta, y − f0)`` takes the *target* y − f0).
    device : optional
        Torch device for the decomposition.

    Returns
    -------
    dict
        ``eigs`` (descending, ≥ 0), ``vecs`` (columns), ``c`` ((Uᵀ Δf_0)²/N), ``kernel_n``, ``residual0``,
        ``lambda_scale``, as :func:`sgdlab.linear.kernel_problem`.

    Used by ``book/generating_functions/06_networks`` (full-scale section) through this experiment.
    """
    import torch

    from .. import device as _device

    K = np.asarray(theta, dtype=np.float64)
    d0 = np.asarray(residual0, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"theta must be a square matrix, got shape {K.shape}")
    N = K.shape[0]
    if d0.shape != (N,):
        raise ValueError(f"residual0 must have shape ({N},), got {d0.shape}")
    dev = _device.resolve(device)
    Kt = torch.as_tensor(0.5 * (K + K.T), device=dev)
    lam, U = torch.linalg.eigh(Kt / N)
    lam, U = lam.flip(0).cpu().numpy(), U.flip(1).cpu().numpy()
    scale = float(lam[0])
    if not scale > 0:
        raise ValueError("theta must have a positive top eigenvalue")
    return {"eigs": np.clip(lam / scale, 0.0, None), "vecs": U, "c": (U.T @ d0) ** 2 / N,
            "kernel_n": 0.5 * (K + K.T) / N / scale, "residual0": d0, "lambda_scale": scale}


@functools.lru_cache(maxsize=2)
def _problem_cached(dataset: str, n_train: int, width: int, init_seed: int, data_seed: int, device: str):
    import torch

    from .. import data, linear
    from ..train import mlp

    d = data.image_classification(dataset, n_train=n_train, seed=data_seed, dtype=np.float64)
    x = np.asarray(d["x_train"], dtype=np.float64)
    y = np.asarray(d["y_train"], dtype=np.float64)
    y = (y - y.mean()) / y.std()
    net = mlp([x.shape[1], width, 1], "relu", parametrization="ntk", seed=init_seed, dtype=torch.float64)
    theta = linear.empirical_ntk_mlp(net, x)
    f0 = linear.network_outputs(net, x)
    prob = kernel_problem_torch(theta, f0 - y, device)
    prob["kurtosis"] = linear.eigvec_kurtosis(prob["vecs"])
    prob.update(x=x, y=y, f0=f0)
    return prob


def network_problem(cfg: dict, device=None) -> dict:
    """Data, initial network outputs and kernel problem of a configuration (cached per process).

    Returns the dict of :func:`kernel_problem_torch` plus ``kurtosis`` (of every eigenvector), ``x``, ``y``
    (standardised labels) and ``f0`` (initial outputs). Treat the arrays as read-only.
    """
    from .. import device as _device

    return _problem_cached(cfg["dataset"], int(cfg["n_train"]), int(cfg["width"]), int(cfg.get("init_seed", 0)),
                           int(cfg.get("data_seed", 0)), str(_device.resolve(device)))


# --------------------------------------------------------------------------- torch ensembles
def train_network_ensemble(x, y, lr: float, momentum: float, batch_size: int, steps: int, *, times,
                           seeds: Sequence[int], width: int, init_seed: int = 0, device=None,
                           eval_chunk: int = 1 << 24) -> np.ndarray:
    """Train R copies of ``mlp([d, width, 1], "relu", parametrization="ntk", seed=init_seed)`` with one
    ``torch.optim.SGD`` on stacked weights; run r uses the batches ``batch_sequence(seeds[r], N, B, T)``.

    Equal, run by run and up to round-off, to :func:`sgdlab.linear.train_network_sgd` with
    ``model_fn`` returning that network (``tests/test_p1_experiments.py``): SGD's update and momentum
    buffer are element-wise and the summed loss Σ_r L_r(θ_r) has ∂/∂θ_r = ∂L_r/∂θ_r.

    Parameters
    ----------
    x, y
        Training inputs (N, d) and scalar targets (N,).
    lr, momentum
        PyTorch's learning rate and momentum (the same for every run).
    batch_size, steps
        B and T; the batch loss is ½·mean over the batch of (f − y)².
    times
        Increasing steps in [0, T] at which to record the full-training-set loss Σ_i (f(x_i) − y_i)²/(2N).
    seeds
        One batch-sampling seed per run.
    width, init_seed
        Hidden width and the seed of the (common) initial weights.
    device
        Torch device (default :func:`sgdlab.device.default`).
    eval_chunk
        Bound on runs × samples × width of one evaluation block (memory).

    Returns
    -------
    ndarray (len(times), R); ``inf`` from the first record at which a run's loss is not finite.

    References
    ----------
    Velikanov et al. (ICLR 2023), the "real network" regime; book chapter ``generating_functions/06_networks``.
    """
    import torch

    from .. import device as _device
    from ..linear import batch_sequence
    from ..train import mlp

    X = np.asarray(x, dtype=np.float64)
    Y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"x must have shape (N, d), got {X.shape}")
    N, dim = X.shape
    if Y.shape != (N,):
        raise ValueError(f"y must have shape ({N},), got {Y.shape}")
    b = _pos_int("batch_size", batch_size)
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = _pos_int("steps", steps, 0)
    t_rec = _times(times, steps)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be finite and > 0")
    if not abs(momentum) < 1:
        raise ValueError(f"momentum={momentum!r} must lie in (-1, 1)")
    seeds = [int(s) for s in seeds]
    R = len(seeds)
    if R == 0:
        raise ValueError("seeds must not be empty")
    _pos_int("width", width)
    dev = _device.resolve(device)
    base = mlp([dim, int(width), 1], "relu", parametrization="ntk", seed=int(init_seed), dtype=torch.float64)
    hidden, out = base[0], base[-1]
    ws, bs, a_s = hidden.w_scale, hidden.b_scale, out.w_scale
    stack = lambda t: t.detach().to(dev).unsqueeze(0).repeat((R,) + (1,) * t.dim()).requires_grad_()  # noqa: E731
    W, bias, a = stack(hidden.weight), stack(hidden.bias), stack(out.weight[0])
    opt = torch.optim.SGD([W, bias, a], lr=float(lr), momentum=float(momentum))
    Xt = torch.as_tensor(X, device=dev)
    Yt = torch.as_tensor(Y, device=dev)
    batches = torch.as_tensor(np.stack([batch_sequence(s, N, b, steps) for s in seeds], axis=1), device=dev)

    def forward(xb, r_sl=slice(None)):           # xb (R', n, d) -> (R', n)
        h = torch.baddbmm(bs * bias[r_sl].unsqueeze(1), xb, W[r_sl].transpose(1, 2), alpha=ws)
        return a_s * torch.bmm(torch.relu(h), a[r_sl].unsqueeze(2)).squeeze(2)

    def full_loss():
        tot = torch.zeros(R, dtype=torch.float64, device=dev)
        n_blk = max(1, int(eval_chunk) // (R * int(width)))
        with torch.no_grad():
            for lo in range(0, N, n_blk):
                xb = Xt[lo:lo + n_blk].unsqueeze(0).expand(R, -1, -1)
                tot += ((forward(xb) - Yt[lo:lo + n_blk]) ** 2).sum(dim=1)
        return (0.5 * tot / N).cpu().numpy()

    res = np.full((t_rec.size, R), np.inf)
    alive = np.ones(R, dtype=bool)
    j = 0
    for t in range(steps + 1):
        if j < t_rec.size and t == t_rec[j]:
            lt = full_loss()
            alive &= np.isfinite(lt)
            res[j] = np.where(alive, lt, np.inf)
            j += 1
            if not alive.any():
                break
        if t == steps:
            break
        idx = batches[t]                                              # (R, B)
        opt.zero_grad(set_to_none=True)
        loss = 0.5 * ((forward(Xt[idx]) - Yt[idx]) ** 2).mean(dim=1).sum()
        loss.backward()
        opt.step()
    return res


def linearised_ensemble(kernel_n, residual0, lr, momentum, batch_size: int, steps: int, *, times, seeds=None,
                        runs: int | None = None, seed: int = 0, device=None, max_elements: int = 1 << 25,
                        method: str = "auto") -> np.ndarray:
    """Linearised SGD in function space, u' = βu − α K_n P_B Δf, Δf' = Δf + u', vectorised over runs (torch).

    P_B = (N/B) Σ_{i∈batch} e_i e_iᵀ; batches of B distinct indices drawn afresh every step. Either the
    batches of :func:`sgdlab.linear.batch_sequence` (``seeds``: one per run, paired with
    :func:`train_network_ensemble` and equal to :func:`sgdlab.linear.linearised_sgd_paired`), or
    ``runs`` runs drawn from a ``torch.Generator`` seeded with ``seed`` on ``device`` (fast; the draws
    depend on the device type).

    Parameters
    ----------
    kernel_n : array_like (N, N)
        The kernel K_n in the units of ``lr`` (Θ/N/λ_max for α in units of 1/λ_max).
    residual0 : array_like (N,)
        Δf_0.
    lr, momentum
        α and β: scalars or one value per run.
    batch_size, steps
        B and T.
    times
        Increasing steps in [0, T] at which L_t = |Δf_t|²/(2N) is recorded.
    seeds, runs, seed
        Paired batches (``seeds``) or ``runs`` independent runs from ``seed`` (exactly one of the two).
    device
        Torch device (default :func:`sgdlab.device.default`).
    max_elements
        Runs are processed in blocks whose per-step work array stays below this many float64 numbers.
    method : {"auto", "gather", "dense"}
        ``gather``: G = K[batch]ᵀ Δf[batch] (cost R·B·N per step); ``dense``: G = (P_B Δf) K as one
        matrix product (R·N²), better for B ≳ N/8 on a GPU; ``auto`` picks by B.

    Returns
    -------
    ndarray (len(times), R); ``inf`` once a run's loss is not finite (divergence is a result).

    References
    ----------
    Velikanov et al. (ICLR 2023), the "linearized" regime; reproduction note §5.0; book chapter
    ``generating_functions/06_networks`` (full-scale section).
    """
    import torch

    from .. import device as _device
    from ..linear import batch_sequence

    K = np.asarray(kernel_n, dtype=np.float64)
    d0 = np.asarray(residual0, dtype=np.float64)
    N = d0.size
    if d0.ndim != 1 or K.shape != (N, N):
        raise ValueError(f"kernel_n must have shape ({N}, {N}) for residual0 of shape ({N},)")
    b = _pos_int("batch_size", batch_size)
    if b > N:
        raise ValueError(f"batch_size={b} must be <= N={N}")
    steps = _pos_int("steps", steps, 0)
    t_rec = _times(times, steps)
    if (seeds is None) == (runs is None):
        raise ValueError("give exactly one of seeds (paired batches) and runs (independent runs)")
    seeds = None if seeds is None else [int(s) for s in seeds]
    R = len(seeds) if seeds is not None else _pos_int("runs", runs)
    if R == 0:
        raise ValueError("seeds must not be empty")
    lrs, moms = _per_run("lr", lr, R), _per_run("momentum", momentum, R)
    if np.any(~np.isfinite(lrs)) or np.any(lrs <= 0):
        raise ValueError("lr must be finite and > 0")
    if np.any(~(np.abs(moms) < 1)):
        raise ValueError("momentum must lie in (-1, 1)")
    if method not in ("auto", "gather", "dense"):
        raise ValueError(f"method={method!r} must be 'auto', 'gather' or 'dense'")
    dense = method == "dense" or (method == "auto" and 8 * b >= N)
    dev = _device.resolve(device)
    Kt = torch.as_tensor(K, device=dev)
    per_run = 4 * N if dense else b * N          # float64 numbers of one run's per-step work arrays
    block = max(1, min(R, int(max_elements) // per_run))
    out = np.full((t_rec.size, R), np.inf)
    gen = torch.Generator(device=dev).manual_seed(int(seed)) if seeds is None else None
    for lo in range(0, R, block):
        hi = min(R, lo + block)
        r = hi - lo
        if seeds is not None:
            bat = torch.as_tensor(np.stack([batch_sequence(s, N, b, steps) for s in seeds[lo:hi]], axis=1),
                                  device=dev)
        D = torch.as_tensor(d0, device=dev).repeat(r, 1)
        V = torch.zeros_like(D)
        al = torch.as_tensor(lrs[lo:hi], device=dev)[:, None]
        be = torch.as_tensor(moms[lo:hi], device=dev)[:, None]
        alive = torch.ones(r, dtype=torch.bool, device=dev)
        j = 0
        for t in range(steps + 1):
            if j < t_rec.size and t == t_rec[j]:
                lt = 0.5 * (D * D).sum(dim=1) / N
                alive &= torch.isfinite(lt)
                out[j, lo:hi] = torch.where(alive, lt, torch.full_like(lt, math.inf)).cpu().numpy()
                j += 1
            if t == steps:
                break
            if seeds is not None:
                idx = bat[t]
            elif b == N:
                idx = None
            else:
                idx = torch.rand((r, N), generator=gen, device=dev).argsort(dim=1)[:, :b]
            if idx is None:
                G = D @ Kt
            elif dense:
                S = torch.zeros_like(D).scatter_(1, idx, D.gather(1, idx))
                G = (S @ Kt) * (N / b)
            else:
                Ksel = Kt.index_select(0, idx.reshape(-1)).view(r, b, N)
                G = torch.bmm(D.gather(1, idx).unsqueeze(1), Ksel).squeeze(1) * (N / b)
            V = be * V - al * G
            D = D + V
    return out


# --------------------------------------------------------------------------- the registered sweep
CONFIGS = {
    "book": {"dataset": "fashion", "n_train": 48, "width": 32, "init_seed": 0, "data_seed": 0, "steps": 30,
             "n_times": 6, "settings": [[4, 0.8, 0.5], [8, 1.0, 0.0]], "network_seeds": 4, "seeds_per_point": 2,
             "linearised_runs": 32, "runs_per_point": 16, "exact": True, "fit_ranges": [[3, 20], [3, 24]]},
    "full": {"dataset": "fashion", "n_train": 10_000, "width": 1000, "init_seed": 0, "data_seed": 0, "steps": 10_000,
             "n_times": 41, "settings": [[10, 1.2, 0.0], [100, 1.2, 0.0], [10, 0.8, 0.5]], "network_seeds": 32,
             "seeds_per_point": 32, "linearised_runs": 500, "runs_per_point": 250, "exact": False,
             "fit_ranges": [[5, 300], [10, 310]]},
}

_LIN_SEED0 = 1_000_000   # independent Monte-Carlo runs use batch seeds from here (the networks use 0, 1, …)


def grid(cfg):
    pts = [{"part": "kernel"}]
    for i in range(len(cfg["settings"])):
        pts.append({"part": "theory", "setting": i})
        k = cfg["seeds_per_point"]
        pts += [{"part": "network", "setting": i, "seeds": [lo, min(lo + k, cfg["network_seeds"])]}
                for lo in range(0, cfg["network_seeds"], k)]
        k = cfg["runs_per_point"]
        pts += [{"part": "linearised", "setting": i, "seeds": [_LIN_SEED0 + lo, _LIN_SEED0 + min(lo + k, cfg["linearised_runs"])]}
                for lo in range(0, cfg["linearised_runs"], k)]
    return pts


def _gamma(N, B):
    return (N - B) / ((N - 1) * B)


def run_point(point, cfg, device):
    from .. import linear

    prob = network_problem(cfg, device)
    T = int(cfg["steps"])
    times = log_times(T, cfg["n_times"])
    N = prob["eigs"].size
    if point["part"] == "kernel":
        lam, c = prob["eigs"], prob["c"]
        (n0, n1), (k0, k1) = cfg["fit_ranges"]
        fit = linear.fit_power_laws(lam, c, nu_range=(n0, n1), kappa_range=(k0, k1))
        ks = np.unique(np.round(np.geomspace(1, N, 200)).astype(np.int64))
        return {"N": N, "lambda_scale": prob["lambda_scale"], "L0": 0.5 * float(np.sum(c)),
                "fit": fit, "k": ks.tolist(), "eigs": lam[ks - 1].tolist(), "c": c[ks - 1].tolist(),
                "kurtosis_top": prob["kurtosis"][:10].tolist(), "kurtosis_median": float(np.median(prob["kurtosis"]))}
    B, lr, beta = cfg["settings"][point["setting"]]
    B = int(B)
    if point["part"] == "theory":
        keep = prob["eigs"] > 0
        e, c, g = prob["eigs"][keep], prob["c"][keep], _gamma(N, B)
        out = {"times": times.tolist(), "gamma": g,
               "U1_plus": float(linear.U_at_one(e, lr, beta, g, tau2=1.0)),
               "se_plus": linear.se_loss(e, c, lr, beta, g, T, tau2=1.0, times=times).tolist(),
               "se_minus": linear.se_loss(e, c, lr, beta, g, T, tau2=-1.0, times=times).tolist(),
               "se_kurt": linear.se_loss(e, c, lr, beta, g, T, times=times,
                                         mode_tau2=2 - prob["kurtosis"][keep]).tolist()}
        if cfg["exact"]:
            out["exact"] = linear.exact_finite_loss(prob["eigs"], prob["vecs"], prob["residual0"], lr, beta, B, T,
                                                    times=times).tolist()
        return out
    lo, hi = point["seeds"]
    seeds = list(range(lo, hi))
    if point["part"] == "network":
        nn = train_network_ensemble(prob["x"], prob["y"], lr / prob["lambda_scale"], beta, B, T, times=times,
                                    seeds=seeds, width=cfg["width"], init_seed=cfg.get("init_seed", 0), device=device)
        lin = linearised_ensemble(prob["kernel_n"], prob["residual0"], lr, beta, B, T, times=times, seeds=seeds,
                                  device=device)
        return {"times": times.tolist(), "seeds": seeds, "network": nn.T.tolist(), "linearised_paired": lin.T.tolist()}
    if point["part"] == "linearised":
        lin = linearised_ensemble(prob["kernel_n"], prob["residual0"], lr, beta, B, T, times=times, seeds=seeds,
                                  device=device)
        return {"times": times.tolist(), "n_runs": len(seeds), "sum": lin.sum(axis=1).tolist(),
                "sum_sq": (lin**2).sum(axis=1).tolist(), "n_finite": np.isfinite(lin).sum(axis=1).tolist(),
                "median": np.median(lin, axis=1).tolist()}
    raise ValueError(f"point part={point['part']!r} is not kernel, theory, network or linearised")


def _f(v):
    return np.asarray(v, dtype=np.float64)


def _max_rel(a, b, ok):
    ok = ok & np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[ok] / b[ok] - 1))) if ok.any() else math.inf


def summarize(cfg, pairs):
    """Per setting: mean curves of networks and linearised runs, the theory, and the largest relative gaps."""
    kernel = next(r for p, r in pairs if p["part"] == "kernel")
    out = {"kernel": kernel, "settings": []}
    for i, (B, lr, beta) in enumerate(cfg["settings"]):
        th = next(r for p, r in pairs if p["part"] == "theory" and p["setting"] == i)
        nets = [r for p, r in pairs if p["part"] == "network" and p["setting"] == i]
        lins = [r for p, r in pairs if p["part"] == "linearised" and p["setting"] == i]
        t = _f(th["times"])
        nn = np.concatenate([_f(r["network"]) for r in nets], axis=0)            # (seeds, times)
        lp = np.concatenate([_f(r["linearised_paired"]) for r in nets], axis=0)
        n_runs = sum(r["n_runs"] for r in lins)
        s1 = np.sum([_f(r["sum"]) for r in lins], axis=0)
        s2 = np.sum([_f(r["sum_sq"]) for r in lins], axis=0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lin_mean = s1 / n_runs
            lin_sem = np.sqrt(np.maximum(s2 / n_runs - lin_mean**2, 0.0) * n_runs / (n_runs - 1) / n_runs)
            R = nn.shape[0]
            nn_mean = nn.mean(axis=0)
            nn_sem = nn.std(axis=0, ddof=1) / np.sqrt(R) if R > 1 else np.full_like(nn_mean, np.nan)
            paired = nn / lp - 1
            p_mean = paired.mean(axis=0)
            p_sem = paired.std(axis=0, ddof=1) / np.sqrt(R) if R > 1 else np.full_like(p_mean, np.nan)
        pos = t >= 1
        row = {"batch_size": int(B), "lr": lr, "momentum": beta, "gamma": th["gamma"], "U1_plus": th["U1_plus"],
               "times": th["times"], "network_mean": nn_mean, "network_sem": nn_sem, "n_network": int(R),
               "n_network_diverged": int(np.sum(~np.isfinite(nn[:, -1]))),
               "paired_mean": p_mean, "paired_sem": p_sem, "linearised_mean": lin_mean, "linearised_sem": lin_sem,
               "n_linearised": int(n_runs), "se_plus": th["se_plus"], "se_minus": th["se_minus"],
               "se_kurt": th["se_kurt"],
               "max_rel_network_vs_linearised": _max_rel(nn_mean, lin_mean, pos),
               "max_rel_linearised_vs_se_plus": _max_rel(lin_mean, _f(th["se_plus"]), pos),
               "max_rel_linearised_vs_se_minus": _max_rel(lin_mean, _f(th["se_minus"]), pos),
               "max_rel_network_vs_se_plus": _max_rel(nn_mean, _f(th["se_plus"]), pos),
               "max_rel_network_vs_se_minus": _max_rel(nn_mean, _f(th["se_minus"]), pos),
               "max_abs_paired_z": float(np.nanmax(np.abs(p_mean[pos]) / np.maximum(p_sem[pos], 1e-300)))
               if R > 1 and np.isfinite(p_mean[pos]).any() else None}
        if "exact" in th:
            row["exact"] = th["exact"]
            row["max_rel_se_plus_vs_exact"] = _max_rel(_f(th["se_plus"]), _f(th["exact"]), pos)
            row["max_rel_linearised_vs_exact"] = _max_rel(lin_mean, _f(th["exact"]), pos)
        out["settings"].append(row)
    return out


def plot_summary(results, ax, setting: int = 0):
    """Loss curves of one setting: networks and linearised runs (markers) against SE(±1) (lines).

    ``results`` from ``load_results("p1_network_theory", scale)``.
    """
    from .. import plotting

    s = results["summary"]["settings"][setting]
    t = _f(s["times"])
    m = t >= 1
    if "exact" in s:
        plotting.theory(ax, t[m], _f(s["exact"])[m], label="exact N×N recursion", i=7)
    plotting.theory(ax, t[m], _f(s["se_plus"])[m], label="SE τ₂=+1", i=0, linestyle="--")
    plotting.theory(ax, t[m], _f(s["se_minus"])[m], label="SE τ₂=−1", i=1, linestyle=":")
    plotting.simulation(ax, t[m], _f(s["linearised_mean"])[m], yerr=_f(s["linearised_sem"])[m],
                        label=f"linearised, {s['n_linearised']} runs", i=2)
    plotting.simulation(ax, t[m], _f(s["network_mean"])[m], yerr=_f(s["network_sem"])[m],
                        label=f"network (torch SGD), {s['n_network']} runs", i=4)
    cfg = results["config"]
    ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="training loss $L_t$",
           title=f"{results['scale']}: N={cfg['n_train']}, width {cfg['width']}, B={s['batch_size']}, "
                 f"α={s['lr']}, β={s['momentum']}")
    ax.legend(fontsize="x-small")
    return ax


# --------------------------------------------------------------------------- suite planning
def estimate(cfg):
    """Planned work (:class:`sgdlab.experiments._cost.Work`): the N×N empirical NTK and its eigh, then per
    setting one block of networks (stacked, float64) and one block of linearised runs, ``steps`` each."""
    from ._cost import Work, mlp_macs, train_flops

    N, m, T, S = int(cfg["n_train"]), int(cfg["width"]), int(cfg["steps"]), len(cfg["settings"])
    P = mlp_macs([784, m, 1])
    blocks_net = -(-int(cfg["network_seeds"]) // int(cfg["seeds_per_point"]))
    blocks_lin = -(-int(cfg["linearised_runs"]) // int(cfg["runs_per_point"]))
    batch = sum(int(s[0]) for s in cfg["settings"])
    flops = (2.0 * N * N * (784 + m)           # analytic empirical NTK of a one-hidden-layer ReLU network
             + 4.0 * N ** 3                    # eigh
             + train_flops(P, T * batch * int(cfg["network_seeds"]))
             + 4.0 * T * batch * N * (int(cfg["linearised_runs"]) + int(cfg["network_seeds"])))
    return Work(points=len(grid(cfg)), runs=S * (int(cfg["network_seeds"]) + int(cfg["linearised_runs"])),
                seq_steps=S * T * (blocks_net * 2 + blocks_lin), flops=flops, step_s=4e-4, precision="fp64",
                note="float64 throughout: the check compares curves at the 1 % level; 500 Monte-Carlo linearised runs "
                     "per setting (was 1000) in blocks of 250 (the gathered kernel rows of a block take 2 GB)")


def tiny(cfg):
    """The full configuration on a slice a CPU runs in seconds: same width and code path, 64 points, 5 steps."""
    return {**cfg, "n_train": 64, "steps": 5, "n_times": 3, "network_seeds": 2, "seeds_per_point": 2,
            "linearised_runs": 4, "runs_per_point": 4, "fit_ranges": [[2, 10], [2, 12]]}

EXPERIMENT = register(Experiment(
    name="p1_network_theory",
    description="P1.C7: width-1000 ReLU network (torch SGD), its linearisation and SE(±1) on Fashion-MNIST",
    configs=CONFIGS,
    grid=grid,
    run_point=run_point,
    summarize=summarize,
    inputs=["lib/sgdlab/data.py", "lib/sgdlab/train/models.py", "lib/sgdlab/linear/_ntk.py",
            "lib/sgdlab/linear/_se.py", "lib/sgdlab/linear/_se_kernel.py", "lib/sgdlab/linear/_finite.py"],
))
