"""Speed of part 2's numerics (``sgdlab.sde.sgdm``, ``sgdlab.sde.sgdm_nets``); not part of the test run.

Measures:
1. exact moment propagation (``quadratic_moments``) per step, d = 2 (4×4 augmented state);
2. vectorised Monte Carlo (``simulate_quadratic``, ``simulate_label_noise``) per chain-step;
3. the batched MLP ensemble against a plain loop of ``torch.optim.SGD`` models, per member-step.

Run: ``.venv/bin/python benchmarks/bench_sgdm.py``.
"""
from __future__ import annotations

import time

import numpy as np

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch)
import torch

from sgdlab.data import image_classification
from sgdlab.sde import sgdm
from sgdlab.sde.sgdm_nets import train_mlp_ensemble


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    steps = 2400
    t = _best(lambda: sgdm.quadratic_moments([1.0, 4.0], [800.0, 800.0], [2.0, 2.0], 0.00125, 0.9, steps))
    print(f"quadratic_moments: {1e6 * t / steps:.1f} µs/step ({steps} steps, d = 2)")

    n_chains, samples = 4000, 1000
    t = _best(lambda: sgdm.simulate_quadratic(3.0, 2.0, 0.1, 0.9, n_chains=n_chains, burn_in=0, samples=samples))
    print(f"simulate_quadratic: {1e9 * t / (n_chains * samples):.1f} ns/chain-step ({n_chains} chains)")

    t = _best(lambda: sgdm.simulate_label_noise(0.02, [0.0, 0.9, 0.86, 0.98], [1.0], n_chains=2000), repeat=1)
    print(f"simulate_label_noise: {1e9 * t / (4 * 2000 * 2500):.1f} ns/chain-step (4 × 2000 chains, 2500 steps)")

    data = image_classification("digits", seed=0, dtype=np.float64)
    members, n_steps = 16, 200
    t_ens = _best(lambda: train_mlp_ensemble(data["x_train"], data["y_train"], effective_lr=0.1,
                                             momentum=[0.0] * 8 + [0.9] * 8, seeds=list(range(8)) * 2, steps=n_steps), repeat=1)
    x, y = torch.tensor(data["x_train"]), torch.tensor(data["y_train"])

    def loop():
        for m in range(members):
            torch.manual_seed(m)
            model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 10)).double()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            gen = torch.Generator().manual_seed(m)
            for _ in range(n_steps):
                idx = torch.randint(len(y), (8,), generator=gen)
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()

    t_loop = _best(loop, repeat=1)
    print(f"MLP ensemble ({members} members): {1e6 * t_ens / (members * n_steps):.0f} µs/member-step; "
          f"plain torch.optim.SGD loop: {1e6 * t_loop / (members * n_steps):.0f} µs/member-step "
          f"(speed-up {t_loop / t_ens:.1f}×)")


if __name__ == "__main__":
    main()
