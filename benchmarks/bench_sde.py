"""Speed of the part-4 numerics (``sgdlab.sde``): not part of the test run.

- particle-steps per second of the vectorised mini-batch SGD simulator against a plain Python loop
  over particles (the same update, one particle at a time);
- the finite-volume Fokker–Planck stationary law and spectral gap on a 1000-cell grid.

Run: ``.venv/bin/python benchmarks/bench_sde.py``.
"""
from __future__ import annotations

import math
import time

import numpy as np

from sgdlab.landscapes.double_well import TiltedDoubleWell
from sgdlab.sde.fokker_planck import FokkerPlanck1D
from sgdlab.sde.particles import simulate

WELL = TiltedDoubleWell(0.6)


def _loop(x0, lr, steps, batch_size, sigma, seed):
    rng = np.random.default_rng(seed)
    c = WELL.tilt
    out = []
    for x in x0.tolist():
        for _ in range(steps):
            t = math.tanh(x)
            q = x * x - 1.0
            g = q * (4.0 * x * (1.0 + c * t) + c * q * (1.0 - t * t))
            k = bin(int(rng.integers(0, 2**batch_size))).count("1")
            x -= lr * (g + sigma * (2 * k - batch_size) / batch_size)
        out.append(x)
    return np.array(out)


def main() -> None:
    lr, sigma, B = 0.002, math.sqrt(500.0), 2
    for n, steps in ((400, 5000), (4000, 2000)):
        x0 = np.full(n, -1.0)
        t0 = time.perf_counter()
        simulate(WELL.grad, x0, lr=lr, times=[steps * lr], batch_size=B, noise_std=sigma, seed=0)
        dt = time.perf_counter() - t0
        print(f"vectorised SGD: {n} particles x {steps} steps: {n * steps / dt:.3g} particle-steps/s")
    n, steps = 20, 2000
    t0 = time.perf_counter()
    _loop(np.full(n, -1.0), lr, steps, B, sigma, 0)
    dt = time.perf_counter() - t0
    print(f"plain loop:     {n} particles x {steps} steps: {n * steps / dt:.3g} particle-steps/s")
    for D in (0.125, 0.25):
        t0 = time.perf_counter()
        fp = FokkerPlanck1D(WELL.grad, D, -3.0, 3.0, 1000, value=WELL.value)
        pi = fp.stationary()
        gap = fp.spectral_gap()
        dt = time.perf_counter() - t0
        print(f"Fokker-Planck, 1000 cells, D = {D}: stationary + spectral gap {gap:.3e} in {1e3 * dt:.1f} ms "
              f"(mass {pi.sum():.6f})")


if __name__ == "__main__":
    main()
