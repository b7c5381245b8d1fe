"""Training speed: one Fashion-MNIST epoch of a 784-256-10 MLP, and an 8-seed ensemble vs 8 runs.

Run: ``.venv/bin/python benchmarks/bench_train.py [--device cuda] [--quick]``. Prints numbers only.

- Epoch: 60k images, batch 128 (468 steps), SGD lr 0.1, our :func:`sgdlab.train.train` (training
  time without the evaluations) next to a minimal hand-written loop (index batching,
  ``torch.optim.SGD``) timed in the same process, so machine load affects both alike.
  Toolchain note §6: ~2 s per epoch on the 2-core CPU with OMP_WAIT_POLICY=PASSIVE at load ~4.
- Ensemble: 8 seeds of an MLP trained by :func:`sgdlab.train.train_ensemble` (one vmap computation)
  vs 8 sequential :func:`sgdlab.train.train` runs, same steps.
"""
from __future__ import annotations

import argparse
import time

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch)
import torch

from sgdlab import data as sdata
from sgdlab.train import TrainConfig, evaluate, mlp, train, train_ensemble


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def epoch_times(device, repeats=2):
    d = sdata.image_classification("fashion")
    x = torch.as_tensor(d["x_train"], device=device)
    y = torch.as_tensor(d["y_train"], device=device)
    steps = len(y) // 128
    ours, hand, evals, acc = [], [], [], None
    for r in range(repeats):
        model = mlp([784, 256, 10], seed=r, device=device)
        t = time.perf_counter()
        evaluate(model, x, y, "cross_entropy")
        _sync(device)
        t_eval = time.perf_counter() - t
        res = train(model, {"x_train": x, "y_train": y}, TrainConfig(lr=0.1, batch_size=128, steps=steps, seed=r,
                                                                     eval_steps=(0,)))
        ours.append(res.wall_time_s - 2 * t_eval)  # train() evaluates at step 0 and at the end
        evals.append(t_eval)
        acc = res.history["train_acc"][-1]
        m = mlp([784, 256, 10], seed=r, device=device)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        g = torch.Generator().manual_seed(r)
        perm = torch.randperm(len(y), generator=g).to(device)
        t = time.perf_counter()
        for i in range(steps):
            idx = perm[i * 128:(i + 1) * 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x[idx]), y[idx]).backward()
            opt.step()
        _sync(device)
        hand.append(time.perf_counter() - t)
    return min(ours), min(hand), min(evals), acc, steps


def ensemble_vs_loop(device, n_seeds=8, steps=300, widths=(64, 128, 10), batch=32, dataset="digits", n_train=None):
    d = sdata.image_classification(dataset, n_train=n_train, n_test=1000 if n_train else None)
    cfg = TrainConfig(optimizer="sgdm", lr=0.05, momentum=0.9, batch_size=batch, steps=steps, eval_steps=(0, steps))

    def fn(s):
        return mlp(list(widths), seed=s, device=device)

    train_ensemble(fn, d, cfg.replace(steps=5, eval_steps=(0, 5)), seeds=range(2))  # warm-up
    train(fn(0), d, cfg.replace(steps=5, eval_steps=(0, 5)))
    t0 = time.perf_counter()
    train_ensemble(fn, d, cfg, seeds=range(n_seeds))
    _sync(device)
    t_ens = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in range(n_seeds):
        train(fn(s), d, cfg.replace(seed=s))
    _sync(device)
    return t_ens, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="skip the Fashion-MNIST runs")
    a = ap.parse_args(argv)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}")
    cases = [dict(widths=(64, 128, 10), batch=32, dataset="digits")]
    if not a.quick:
        cases.append(dict(widths=(784, 256, 10), batch=128, dataset="fashion", n_train=10000))
    for c in cases:
        t_ens, t_loop = ensemble_vs_loop(a.device, **c)
        print(f"8 seeds, MLP {'-'.join(map(str, c['widths']))} on {c['dataset']}, batch {c['batch']}, 300 SGDM steps: "
              f"ensemble (vmap) {t_ens:.2f} s vs 8 sequential runs {t_loop:.2f} s (speed-up {t_loop / t_ens:.2f}x)")
    if not a.quick:
        ours, hand, t_eval, acc, steps = epoch_times(a.device)
        print(f"one epoch 784-256-10 on 60k Fashion-MNIST, batch 128 ({steps} steps): sgdlab.train {ours:.2f} s, "
              f"hand-written loop {hand:.2f} s (one full-train-set evaluation {t_eval:.2f} s, not included); "
              f"train accuracy after the epoch {acc:.3f}")


if __name__ == "__main__":
    main()
