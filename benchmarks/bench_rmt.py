"""Part 5 sweeps: vectorised learning-rate sweeps vs a loop of single runs, and the SLQ learner's cost.

Run: ``.venv/bin/python benchmarks/bench_rmt.py``. Prints numbers only.

- ``sgdlab.rmt.lr_sweep_least_squares`` (Adam, all learning rates and seeds of a batch size in one
  batched product per step) against the same runs one at a time (chapter *Adaptive methods*: 9 batch
  sizes × 15 learning rates × 3 seeds); the results agree to round-off.
- ``sgdlab.rmt.slq_learning_rates``: Lanczos (m = 20) per curvature batch and draw (chapter *Spectra by
  SLQ and the on-the-fly learner*).
"""
from __future__ import annotations

import time

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before numpy/torch)
import numpy as np
import scipy.linalg  # noqa: F401
import threadpoolctl

from sgdlab import rmt


def main():
    threadpoolctl.threadpool_limits(1)
    rng = np.random.default_rng(0)
    p, n = 128, 4096
    x = rng.standard_normal((n, p))
    y = x @ (rng.standard_normal(p) / np.sqrt(p)) + rng.standard_normal(n)
    bs = np.array([4, 16, 64])
    lrs = np.geomspace(1e-3, 1e-1, 15)
    steps = 1000
    t = time.perf_counter()
    vec = rmt.lr_sweep_least_squares(x, y, bs, lrs, steps=steps, seeds=(0, 1, 2))
    t_vec = time.perf_counter() - t
    t = time.perf_counter()
    loop = np.empty_like(vec["excess"])
    for i, b in enumerate(bs):
        for j, lr in enumerate(lrs):
            for s in range(3):
                loop[i, j, s] = rmt.lr_sweep_least_squares(x, y, [b], [lr], steps=steps, seeds=(s,))["excess"][0, 0, 0]
    t_loop = time.perf_counter() - t
    print(f"Adam sweep, B ∈ {bs.tolist()}, 15 lrs × 3 seeds, {steps} steps: vectorised {t_vec:.2f} s, "
          f"loop of runs {t_loop:.2f} s (speed-up {t_loop / t_vec:.1f}×); max rel. difference "
          f"{np.max(np.abs(vec['excess'] / loop - 1)):.1e}")

    pop = np.concatenate([[20.0], rng.uniform(0.02, 1.0, 199)])
    x2 = rng.standard_normal((4000, 200)) * np.sqrt(pop)
    t = time.perf_counter()
    rmt.slq_learning_rates(x2, [32, 256, 4000], draws=16, m=20)
    dt = time.perf_counter() - t
    print(f"SLQ learner: 3 curvature batches × 16 draws × (20 Lanczos steps + exact check) in {dt:.2f} s "
          f"({dt / 48 * 1e3:.1f} ms per draw)")


if __name__ == "__main__":
    main()
