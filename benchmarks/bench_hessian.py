"""Hessian tools: HVP cost / gradient cost, and Lanczos vs power iteration to 1e-6 on λ_max.

Run: ``.venv/bin/python benchmarks/bench_hessian.py [--device cuda] [--batch 1000]``. Prints numbers only.

- The part-1 MLP (784-1000-10 ReLU, ~795k parameters) on a fixed batch of Fashion-MNIST images,
  cross-entropy. A gradient is one forward + one backward; an HVP by double backward through the
  cached gradient graph (PyHessian's scheme, our default) or by forward-over-reverse ``torch.func``.
  The physical floor of HVP/gradient is about 2.
- Products needed to get λ_max to 1e-6 relative: Lanczos (full reorthogonalisation, our
  ``top_eigenpairs``) vs power iteration (PyHessian's method), against a tight Lanczos reference.
"""
from __future__ import annotations

import argparse
import time

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch)
import numpy as np
import torch

from sgdlab import data as sdata
from sgdlab.hessian import hessian_operator, lanczos, power_iteration, top_eigenpairs
from sgdlab.train import mlp


def _timeit(f, n):
    f()
    f()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def hvp_ratio(device, batch, dtype=torch.float32, n=10):
    d = sdata.image_classification("fashion", n_train=batch, n_test=10, seed=0)
    x = torch.as_tensor(d["x_train"], dtype=dtype, device=device)
    y = torch.as_tensor(d["y_train"], device=device)
    model = mlp([784, 1000, 10], "relu", seed=0, dtype=dtype, device=device)
    params = list(model.parameters())

    def grad():
        g = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), params)
        if device != "cpu":
            torch.cuda.synchronize()
        return g

    tg = _timeit(grad, n)
    out = {"grad_ms": 1e3 * tg, "params": sum(p.numel() for p in params)}
    v = torch.randn(out["params"], dtype=dtype, device=device)
    for method in ("double_backward", "func"):
        op = hessian_operator(model, "cross_entropy", x, y, method=method)

        def hv():
            r = op.matvec(v)
            if device != "cpu":
                torch.cuda.synchronize()
            return r

        th = _timeit(hv, n)
        out[f"hvp_{method}_ms"] = 1e3 * th
        out[f"ratio_{method}"] = th / tg
    # first product of a fresh operator includes building the gradient graph (a forward + backward)
    t = time.perf_counter()
    hessian_operator(model, "cross_entropy", x, y).matvec(v)
    out["first_hvp_double_backward_ms"] = 1e3 * (time.perf_counter() - t)
    return out


def products_to_tolerance(device, batch, tol=1e-6, dtype=torch.float64, seed=0, max_power=500):
    d = sdata.image_classification("fashion", n_train=batch, n_test=10, seed=0)
    x = torch.as_tensor(d["x_train"], dtype=dtype, device=device)
    y = torch.as_tensor(d["y_train"], device=device)
    model = mlp([784, 1000, 10], "relu", seed=0, dtype=dtype, device=device)
    op = hessian_operator(model, "cross_entropy", x, y)
    ref = top_eigenpairs(op, k=1, tol=1e-12, max_iter=200, seed=seed + 1)
    lam = float(ref.eigenvalues[0])
    # Lanczos: top Ritz value after each step (same start vector kind as power iteration)
    hist = []
    lanczos(op, 80, seed=seed, callback=lambda a, b: hist.append(
        float(np.linalg.eigvalsh(np.diag(a) + np.diag(b[:-1], 1) + np.diag(b[:-1], -1))[-1])) or
        abs(hist[-1] - lam) <= tol * abs(lam) * 0.01)
    n_lz = next((i + 1 for i, h in enumerate(hist) if abs(h - lam) <= tol * abs(lam)), None)
    pw = power_iteration(op, tol=1e-12, max_iter=max_power, seed=seed)
    n_pw = next((i + 1 for i, h in enumerate(pw.history) if abs(h - lam) <= tol * abs(lam)), None)
    # PyHessian's own stopping rule (relative change < 1e-3 is its default; 1e-6 here)
    pw6 = power_iteration(op, tol=tol, max_iter=max_power, seed=seed)
    err6 = abs(pw6.eigenvalues[0] - lam) / abs(lam)
    lz6 = top_eigenpairs(op, k=1, tol=1e-6, seed=seed)
    errl = abs(lz6.eigenvalues[0] - lam) / abs(lam)
    return {"lambda_max": lam, "lanczos_products": n_lz, "power_products": n_pw,
            "power_rule_products": pw6.n_products, "power_rule_rel_error": err6,
            "lanczos_rule_products": lz6.n_products, "lanczos_rule_rel_error": errl,
            "ref_products": ref.n_products}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--eig-batch", type=int, default=1000)
    a = ap.parse_args(argv)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}")
    r = hvp_ratio(a.device, a.batch)
    print(f"MLP 784-1000-10 ReLU ({r['params']} params), batch {a.batch}, float32: gradient {r['grad_ms']:.1f} ms; "
          f"HVP double-backward (cached graph) {r['hvp_double_backward_ms']:.1f} ms = {r['ratio_double_backward']:.2f}x; "
          f"HVP torch.func fwd-over-rev {r['hvp_func_ms']:.1f} ms = {r['ratio_func']:.2f}x; "
          f"first HVP incl. graph build {r['first_hvp_double_backward_ms']:.1f} ms")
    e = products_to_tolerance(a.device, a.eig_batch)
    print(f"lambda_max = {e['lambda_max']:.8g} (float64, batch {a.eig_batch}); HVPs to 1e-6 relative: "
          f"Lanczos {e['lanczos_products']}, power iteration {e['power_products']}")
    print(f"  with each method's own stopping rule at 1e-6: Lanczos (residual) {e['lanczos_rule_products']} HVPs, "
          f"rel. error {e['lanczos_rule_rel_error']:.1e}; power (rel. change, PyHessian) {e['power_rule_products']} HVPs, "
          f"rel. error {e['power_rule_rel_error']:.1e}")


if __name__ == "__main__":
    main()
