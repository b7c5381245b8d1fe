"""sgdlab.rmt: Adam vs SGD largest usable learning rate on least squares (part 5, chapter 4).

Oracles: torch.optim.Adam / plain loops for the trajectories, the explicit second-moment operator of
SGD with label noise for the stationary excess loss, and closed forms for the interpolation.
"""
from __future__ import annotations

import numpy as np
import pytest

import sgdlab  # noqa: F401
import torch

from sgdlab import rmt


def _problem(n=40, p=3, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * np.array([2.0, 1.0, 0.5])[:p]
    y = x @ rng.standard_normal(p) + noise * rng.standard_normal(n)
    return x, y


def test_sweep_matches_torch_adam_and_a_plain_sgd_loop():
    x, y = _problem()
    n, p = x.shape
    steps, b, lr = 7, 4, 0.05
    res = rmt.lr_sweep_least_squares(x, y, [b], [lr], optimizer="adam", steps=steps, seeds=[3],
                                     average_last=1 / steps, record_every=1)
    idx = np.random.default_rng([3, b]).integers(n, size=(steps, b))
    w = torch.zeros(p, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    for t in range(steps):
        opt.zero_grad()
        loss = 0.5 * ((xt[idx[t]] @ w - yt[idx[t]]) ** 2).mean()
        loss.backward()
        opt.step()
    w_hat = np.linalg.lstsq(x, y, rcond=None)[0]
    e = w.detach().numpy() - w_hat
    h = x.T @ x / n
    assert res["excess"][0, 0, 0] == pytest.approx(0.5 * e @ h @ e, rel=1e-10)

    res = rmt.lr_sweep_least_squares(x, y, [b], [lr, 2 * lr], optimizer="sgd", steps=steps, seeds=[3],
                                     average_last=1 / steps, record_every=1)
    for j, a in enumerate([lr, 2 * lr]):
        w = np.zeros(p)
        for t in range(steps):
            xb, yb = x[idx[t]], y[idx[t]]
            w = w - a * xb.T @ (xb @ w - yb) / b
        e = w - w_hat
        assert res["excess"][0, j, 0] == pytest.approx(0.5 * e @ h @ e, rel=1e-10)
    assert res["loss_min"] == pytest.approx(0.5 * np.mean((x @ w_hat - y) ** 2))


def test_sweep_flags_sgd_divergence_as_inf():
    x, y = _problem()
    res = rmt.lr_sweep_least_squares(x, y, [2], [0.01, 10.0], optimizer="sgd", steps=200, seeds=[0, 1])
    assert np.all(np.isfinite(res["excess"][0, 0])) and not res["diverged"][0, 0].any()
    assert np.all(np.isinf(res["excess"][0, 1])) and res["diverged"][0, 1].all()


def test_sweep_validates_inputs():
    x, y = _problem()
    with pytest.raises(ValueError, match="optimizer"):
        rmt.lr_sweep_least_squares(x, y, [2], [0.1], optimizer="rmsprop")
    with pytest.raises(ValueError, match="lrs"):
        rmt.lr_sweep_least_squares(x, y, [2], [-0.1])
    with pytest.raises(ValueError, match="batch_size"):
        rmt.lr_sweep_least_squares(x, y, [0], [0.1])
    with pytest.raises(ValueError, match="average_last"):
        rmt.lr_sweep_least_squares(x, y, [2], [0.1], average_last=0)


def test_largest_usable_lr_interpolates_log_linearly_and_flags_edges():
    lrs = np.array([1.0, 2.0, 4.0, 8.0])
    # excess ∝ lr² above the optimum at lr = 1: crossing of 9 at lr = 3 exactly (log-linear)
    exc = np.array([[1.0, 4.0, 16.0, 64.0], [5.0, 1.0, 2.0, np.inf], [0.5, 0.6, 0.7, 0.8], [20, 30, 40, 50.0]])
    out = rmt.largest_usable_lr(lrs, exc, 9.0)
    assert out["lr"][0] == pytest.approx(3.0)
    assert out["lr"][1] == pytest.approx(4.0)  # next point diverged: last usable point
    assert out["lr"][2] == 8.0 and out["at_top"][2]
    assert np.isnan(out["lr"][3]) and out["none"][3]
    with pytest.raises(ValueError, match="increasing"):
        rmt.largest_usable_lr(lrs[::-1], exc, 9.0)


def _ms_with_noise(h, b, alpha, sigma2):
    """Stationary excess/floor of SGD with Gaussian features by solving the explicit moment equation."""
    p = h.shape[0]
    cols = []
    for i in range(p * p):
        m = np.zeros(p * p)
        m[i] = 1
        m = m.reshape(p, p)
        k_m = 2 * h @ m @ h + np.trace(h @ m) * h
        out = m - alpha * (h @ m + m @ h) + alpha**2 * ((1 - 1 / b) * h @ m @ h + k_m / b)
        cols.append(out.ravel())
    t_op = np.array(cols).T
    # noise: per-sample gradient x ξ adds α² σ² H / B
    m_stat = np.linalg.solve(np.eye(p * p) - t_op, (alpha**2 * sigma2 * h / b).ravel()).reshape(p, p)
    return 0.5 * np.trace(h @ m_stat) / (0.5 * sigma2)


@pytest.mark.parametrize("b", [1, 3, 20])
def test_ms_excess_ratio_is_the_stationary_solution_of_the_moment_recursion(b):
    lam = np.array([3.0, 1.0, 0.2])
    h = np.diag(lam)
    a = 0.6 * rmt.ms_threshold(b, lam)
    assert rmt.ms_excess_ratio(a, b, lam) == pytest.approx(_ms_with_noise(h, b, a, 0.7), rel=1e-9)
    assert np.isinf(rmt.ms_excess_ratio(1.01 * rmt.ms_threshold(b, lam), b, lam))


def test_ms_usable_lr_solves_the_ratio_equation_and_is_linear_at_small_batch():
    lam = np.linspace(0.5, 1.5, 200)
    bs = np.array([1, 2, 4, 1000])
    for ratio in (0.5, 1.0, 3.0):
        a = rmt.ms_usable_lr(bs, lam, ratio=ratio)
        assert np.allclose(rmt.ms_excess_ratio(a, bs, lam), ratio, rtol=1e-9)
        assert a[0] == pytest.approx(ratio / (1 + ratio) * 2 / lam.sum(), rel=0.02)
    with pytest.raises(ValueError, match="ratio"):
        rmt.ms_usable_lr(bs, lam, ratio=0)


def test_adam_frozen_prediction_scales_as_sqrt_b_and_reduces_to_sgd_for_identity():
    p = 100
    h = np.eye(p)
    bs = np.array([1.0, 4.0])
    a = rmt.adam_usable_lr_frozen(bs, h, 0.5, ratio=1.0)
    sgd = rmt.ms_usable_lr(bs, np.ones(p), ratio=1.0)
    assert np.allclose(a, np.sqrt(2 * 2 * 0.5 / bs) * sgd)
    # rescaling a coordinate changes nothing (Adam is diagonal-scale invariant)
    h2 = np.diag(np.r_[10.0, np.ones(p - 1)])
    assert np.allclose(rmt.adam_usable_lr_frozen(bs, h2, 0.5), a)
    with pytest.raises(ValueError, match="loss_min"):
        rmt.adam_usable_lr_frozen(bs, h, 0.0)
