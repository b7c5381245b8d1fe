"""Part 1 (sgdlab.linear): SE-recursion throughput and generating-function inversion cost.

Run: ``.venv/bin/python benchmarks/bench_linear.py [--steps 1000]``. Prints numbers only.

- An (α, β) map of 40 × 40 points at N = 1000 modes: ``sgdlab.linear.se_loss`` vectorised over the
  grid (in cache-sized chunks of grid points) against a plain per-point numpy loop (the reproduction
  note's 10-line reference implementation), in mode-steps per second. Timings at ``--steps`` steps
  extrapolate linearly to t = 10⁴ (the cost per step is constant).
- Time to L_0 … L_T by inverting L(z) (FFT on a circle) against the recursion, as T grows.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from sgdlab import linear


def per_point(lam, c, alpha, beta, gamma, T, tau1=1.0, tau2=1.0):
    """The reproduction note's reference loop (one grid point)."""
    C = c.copy(); J = 0 * C; P = 0 * C; al = alpha * lam  # noqa: E702
    for _ in range(T):
        S = C.sum()
        noise = gamma * al**2 * (tau1 * S - tau2 * C)
        Pn = al**2 * C - 2 * beta * al * J + beta**2 * P + noise
        Cn = C - 2 * al * C + 2 * beta * J + Pn
        J = beta * J - al * C + Pn
        C, P = Cn, Pn
    return 0.5 * C.sum()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--points", type=int, default=16, help="grid points timed with the per-point loop")
    args = ap.parse_args()
    lam, c, _ = linear.power_law_modes(1.5, 1.0, 1000)
    c = c / c.sum()
    alphas, betas = np.meshgrid(np.linspace(0.05, 2.0, 40), np.linspace(-0.9, 0.9, 40))
    alphas, betas = alphas.ravel(), betas.ravel()
    g, T = 0.1, args.steps
    mode_steps = alphas.size * lam.size * T
    t0 = time.perf_counter()
    for i in range(args.points):
        per_point(lam, c, alphas[i], betas[i], g, T)
    loop = (time.perf_counter() - t0) / args.points * alphas.size
    print(f"per-point loop: {loop:.1f} s for the 40x40 map at T={T} "
          f"({mode_steps / loop:.3g} mode-steps/s; t=1e4: {loop * 1e4 / T:.0f} s)")
    for chunk in (16, 64, 256, 1600):
        t0 = time.perf_counter()
        for s in range(0, alphas.size, chunk):
            linear.se_loss(lam, c, alphas[s:s + chunk], betas[s:s + chunk], g, T, times=[T])
        vec = time.perf_counter() - t0
        print(f"se_loss, chunks of {chunk:>4} points: {vec:.1f} s ({mode_steps / vec:.3g} mode-steps/s, "
              f"{loop / vec:.1f}x the loop; t=1e4: {vec * 1e4 / T:.0f} s)")
    # memory-bandwidth bound: ~20 array passes of 8 bytes read+write per mode-step
    a = np.random.rand(10_000_000)
    t0 = time.perf_counter()
    for _ in range(5):
        a *= 1.0000001
    bw = 5 * 16 * a.size / (time.perf_counter() - t0)
    print(f"streaming bandwidth ≈ {bw / 1e9:.1f} GB/s -> bound ≈ {bw / (20 * 16):.3g} mode-steps/s "
          "(for out-of-cache arrays)")
    for steps in (250, 1000, 4000):
        t0 = time.perf_counter()
        linear.se_loss(lam, c, 1.0, 0.5, g, steps)
        rec = time.perf_counter() - t0
        t0 = time.perf_counter()
        linear.loss_from_genfun(lam, c, 1.0, 0.5, g, steps)
        gf = time.perf_counter() - t0
        print(f"T={steps:>5}: recursion {rec:.2f} s, generating-function inversion {gf:.2f} s")


if __name__ == "__main__":
    main()
