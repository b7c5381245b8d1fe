"""sgdlab.rmt: the on-the-fly SLQ learner's rules and the heavy-ball runner (part 5, chapter 5).

Oracles: numpy eigendecompositions, hand-worked rule values, the 2×2 companion matrix of heavy ball
on one mode, and a plain loop for the vectorised runner.
"""
from __future__ import annotations

import numpy as np
import pytest

import sgdlab  # noqa: F401
import torch

from sgdlab import rmt
from sgdlab.hessian import lanczos


def _data(n=300, p=30, seed=0):
    rng = np.random.default_rng(seed)
    pop = np.r_[10.0, rng.uniform(0.1, 1.0, p - 1)]
    return rng.standard_normal((n, p)) * np.sqrt(pop)


def test_gram_operator_is_the_batch_hessian():
    x = _data(n=20)
    op = rmt.GramOperator(x)
    v = torch.as_tensor(np.random.default_rng(1).standard_normal(x.shape[1]))
    assert np.allclose((op @ v).numpy(), x.T @ (x @ v.numpy()) / 20)
    assert op.n_products == 1
    with pytest.raises(ValueError, match="2-d"):
        rmt.GramOperator(np.ones(3))


def test_step_size_rules_by_hand():
    theta = np.array([-0.5, 1.0, 4.0, 9.0])
    w = np.array([0.1, 0.6, 0.2, 0.1])
    r = rmt.step_size_rules(theta, w)
    assert r["L"] == 9.0 and r["median"] == pytest.approx(2.5)
    assert r["mu_min"] == 0.5  # drop θ = 1 (weight 0.6 > 1/2), then the smallest |θ| is 0.5
    assert r["lr_sgd"] == pytest.approx(2 / 11.5)
    assert r["lr_hb_min"] == pytest.approx(4 / (3 + np.sqrt(0.5)) ** 2)
    assert r["beta_hb_min"] == pytest.approx(((3 - np.sqrt(0.5)) / (3 + np.sqrt(0.5))) ** 2)
    assert rmt.step_size_rules(theta, w, safety=0.9)["lr_hb_med"] == pytest.approx(0.9 * r["lr_hb_med"])
    with pytest.raises(ValueError, match="safety"):
        rmt.step_size_rules(theta, w, safety=1.5)


def test_polyak_heavy_ball_is_optimal_and_its_edge_is_where_the_companion_matrix_has_radius_one():
    L, mu = 9.0, 0.25
    r = rmt.step_size_rules(np.array([mu, L]), np.array([0.5, 0.5]))
    a, b = r["lr_hb_min"], r["beta_hb_min"]

    def radius(a, b, lam):
        comp = np.array([[1 + b - a * lam, -b], [1.0, 0.0]])
        return np.max(np.abs(np.linalg.eigvals(comp)))

    # Polyak's optimum: every mode in [μ, L] contracts at rate √β
    for lam in np.linspace(mu, L, 7):
        assert radius(a, b, lam) == pytest.approx(np.sqrt(b), rel=1e-6)
    # the edge 2(1 + β)/λ
    for beta in (0.0, 0.5, 0.9):
        edge = 2 * (1 + beta) / L
        assert rmt.heavy_ball_edge_ratio(edge, beta, L) == pytest.approx(1.0)
        assert radius(0.999 * edge, beta, L) < 1 < radius(1.001 * edge, beta, L)
    with pytest.raises(ValueError, match="beta"):
        rmt.heavy_ball_edge_ratio(0.1, 1.0, L)


def test_slq_learning_rates_full_batch_is_exact_and_subsamples_are_fixed_per_draw():
    x = _data()
    n = x.shape[0]
    h = x.T @ x / n
    out = rmt.slq_learning_rates(x, [40, n], draws=3, m=30)
    assert out["L"].shape == (2, 3)
    top = np.linalg.eigvalsh(h)[-1]
    assert np.allclose(out["L"][1], top, rtol=1e-10) and np.allclose(out["top_exact"][1], top)
    assert np.all(out["L"][0] <= out["top_exact"][0] * (1 + 1e-10))  # Ritz values never exceed λ_max(H_B)
    again = rmt.slq_learning_rates(x, [40], draws=3, m=30)
    assert np.array_equal(again["lr_sgd"][0], out["lr_sgd"][0])
    # the same batch and start by hand
    rng = np.random.default_rng([0, 40, 1])
    xb = x[rng.choice(n, size=40, replace=False)]
    res = lanczos(xb.T @ xb / 40, 30, v0=torch.as_tensor(rng.standard_normal(x.shape[1])))
    th, s = res.ritz()
    assert out["lr_sgd"][0, 1] == pytest.approx(rmt.step_size_rules(th, s[0] ** 2)["lr_sgd"], rel=1e-10)
    with pytest.raises(ValueError, match="curvature_batches"):
        rmt.slq_learning_rates(x, [n + 1])


def test_momentum_runner_matches_a_plain_loop_and_flags_divergence():
    x = _data(n=50, p=5)
    n, p = x.shape
    lrs, betas = np.array([0.05, 0.1, 5.0]), np.array([0.5, 0.0, 0.9])
    out = rmt.momentum_sgd_least_squares(x, lrs, betas, 4, steps=60, seeds=[2], record_every=20)
    idx = np.random.default_rng([2, 4]).integers(n, size=(60, 4))
    for j in range(2):
        e = e_prev = np.ones(p) / np.sqrt(p)
        for t in range(60):
            xb = x[idx[t]]
            e, e_prev = e - lrs[j] * xb.T @ (xb @ e) / 4 + betas[j] * (e - e_prev), e
        assert out["final_norm"][0, j] == pytest.approx(np.linalg.norm(e), rel=1e-10)
    assert out["diverged"][0, 2] and np.isinf(out["final_norm"][0, 2])
    assert out["loss"].shape == (3, 1, 3) and list(out["steps"]) == [20, 40, 60]
    full = rmt.momentum_sgd_least_squares(x, [0.05], [0.0], n, steps=3)
    h = x.T @ x / n
    e = np.ones(p) / np.sqrt(p)
    for _ in range(3):
        e = e - 0.05 * h @ e
    assert full["final_norm"][0, 0] == pytest.approx(np.linalg.norm(e))
