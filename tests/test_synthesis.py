"""Tests of sgdlab.synthesis: the glue of the synthesis chapter, checked against oracles."""
from __future__ import annotations

import numpy as np
import pytest

from sgdlab import rmt, synthesis


def _eigenbasis_problem(n=40, p=3, seed=0, noise=0.3):
    """A small least-squares testbed in H's eigenbasis (x.T x / N diagonal), with a noise floor."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, p)) * np.array([1.5, 1.0, 0.5])[:p]
    lam, v = np.linalg.eigh(z.T @ z / n)
    order = np.argsort(lam)[::-1]
    x = z @ v[:, order]
    y = x @ rng.standard_normal(p) + noise * rng.standard_normal(n)
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    eigs = lam[order]
    return {"x": x, "y": y, "eigs": eigs, "w_star": w_star, "trace": float(eigs.sum()), "dim": p,
            "n_samples": n, "c": np.ones(p) / p,
            "loss_min": 0.5 * float(np.mean((x @ w_star - y) ** 2))}


@pytest.fixture(scope="module")
def digits_testbed():
    return synthesis.ntk_testbed(120, dataset="digits", seed=1)


def test_ntk_testbed_features_have_the_normalised_kernel_spectrum(digits_testbed):
    tb = digits_testbed
    n = tb["n_samples"]
    assert np.allclose(tb["x"].T @ tb["x"] / n, np.diag(tb["eigs"]), atol=1e-12)
    assert tb["eigs"][0] == pytest.approx(1.0)
    assert np.all(np.diff(tb["eigs"]) <= 0)
    # the centred target is fitted exactly by all modes, and ½ Σ c_k = L(0) = ½ mean y²
    assert tb["loss_min"] < 1e-20
    assert 0.5 * tb["c"].sum() == pytest.approx(0.5 * np.mean(tb["y"] ** 2), rel=1e-10)


def test_restrict_loss_min_is_the_target_mass_of_the_dropped_modes(digits_testbed):
    tb = digits_testbed
    small = synthesis.restrict(tb, 10)
    assert small["x"].shape == (tb["n_samples"], 10)
    assert small["loss_min"] == pytest.approx(0.5 * tb["c"][10:].sum(), rel=1e-9)
    with pytest.raises(ValueError, match="n_features"):
        synthesis.restrict(tb, tb["dim"] + 1)


def test_gaussian_u1_boundary_is_the_closed_form_mean_square_threshold(digits_testbed):
    batch = np.array([1, 3, 10, 100])
    th = synthesis.theory_thresholds(digits_testbed, batch, exact=False)
    assert np.allclose(th["U1_gauss"], rmt.ms_threshold(batch, digits_testbed["eigs"]), rtol=1e-10)
    assert np.allclose(th["heavy_ball"], 2.0)
    # the paper's rule with the Wishart shift is 2/tr H at B = 1 and tends to 2/λ_max
    assert th["paper_rule"][0] == pytest.approx(2 / digits_testbed["trace"])
    assert np.all(np.diff(th["paper_rule"]) > 0) and th["paper_rule"][-1] < 2
    assert np.isnan(th["ms_exact"]).all()
    th9 = synthesis.theory_thresholds(digits_testbed, batch, momentum=0.9, exact=False)
    assert np.allclose(th9["heavy_ball"], 3.8) and np.isnan(th9["paper_rule"]).all()
    # small batches: α_c(β)/(1 − β) is near 2B/tr H whatever β (to O(α_eff λ) corrections), and momentum
    # never lowers the effective threshold
    assert th9["U1_plus"][0] / 0.1 == pytest.approx(th["U1_plus"][0], rel=0.1)
    assert np.all(th9["U1_plus"] / 0.1 >= th["U1_plus"])


def test_heavy_ball_lyapunov_reproduces_rmt_at_zero_momentum():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 6))
    batch = np.array([1, 4, 16])
    lrs = np.array([0.05, 0.2, 0.5])
    ours = synthesis.heavy_ball_lyapunov(x, batch, lrs, 0.0, steps=300, burn=50, seed=7)
    ref = rmt.lyapunov_exponents(x, batch, lrs, steps=300, burn=50, seed=7)
    assert np.allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_divergence_threshold_of_deterministic_heavy_ball_is_polyak_bound(beta):
    # identical rows: every batch Hessian equals H = λ, so SGD is heavy-ball GD; stable iff αλ < 2(1 + β)
    lam = 2.5
    x = np.full((20, 1), np.sqrt(lam))
    res = synthesis.divergence_threshold(x, [1, 5], beta, grid=8, rounds=4, steps=400, burn=100)
    assert np.allclose(res["lr"], 2 * (1 + beta) / lam, rtol=0.01)
    assert np.all(res["lo"] < 2 * (1 + beta) / lam) and np.all(res["hi"] > 2 * (1 + beta) / lam)


def test_divergence_threshold_brackets_the_mean_square_threshold_from_above():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)) * np.linspace(1.5, 0.3, 8)
    batch = np.array([1, 8])
    ms = rmt.ms_threshold_empirical(x, batch)
    res = synthesis.divergence_threshold(x, batch, steps=3000, burn=500, seed=2)
    # Jensen: the almost-sure threshold is not below the mean-square one (up to the grid resolution)
    assert np.all(res["lr"] >= 0.97 * ms) and np.all(res["lr"] <= 1.5 * ms)


def _brute_force_second_moment(tb, c_hmh, c_k, c_sig):
    """Dense solve of HM + MH − c_hmh HMH − c_k K(M) = c_sig Σ (P²×P², from the per-sample sums); ½ tr(HM)."""
    x, n, p = tb["x"], tb["x"].shape[0], tb["x"].shape[1]
    h = x.T @ x / n
    r = x @ tb["w_star"] - tb["y"]
    sig = (x * r[:, None] ** 2).T @ x / n
    eye = np.eye(p)
    # vec(AMB) = (A ⊗ Bᵀ) vec(M) in row-major order; every matrix here is symmetric
    k4 = sum(np.kron(np.outer(xi, xi), np.outer(xi, xi)) for xi in x) / n
    op = np.kron(h, eye) + np.kron(eye, h) - c_hmh * np.kron(h, h) - c_k * k4
    m = np.linalg.solve(op, (c_sig * sig).ravel()).reshape(p, p)
    return 0.5 * np.trace(h @ m)


@pytest.mark.parametrize("lr,b", [(0.05, 1), (0.3, 4), (0.6, 16)])
def test_stationary_excess_matches_a_dense_solve(lr, b):
    tb = _eigenbasis_problem()
    assert lr < rmt.ms_threshold_empirical(tb["x"], [b])[0]
    expected = _brute_force_second_moment(tb, lr * (1 - 1 / b), lr / b, lr / b)
    assert synthesis.stationary_excess(tb, lr, b) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("tau", [0.01, 0.1])
def test_sde_excess_matches_a_dense_solve_of_the_state_dependent_sde(tau):
    tb = _eigenbasis_problem()
    expected = _brute_force_second_moment(tb, -tau, tau, tau)
    assert synthesis.sde_excess(tb, tau) == pytest.approx(expected, rel=1e-7)
    # the state-dependent noise only adds: it exceeds the Ornstein–Uhlenbeck value τ tr Σ/4
    assert synthesis.sde_excess(tb, tau) > synthesis.sde_excess(tb, tau, multiplicative=False)


def test_stationary_excess_tends_to_the_sde_at_fixed_temperature_and_diverges_past_the_threshold():
    tb = _eigenbasis_problem()
    tau = 0.05
    # at fixed η/B the exact excess approaches the SDE's as η → 0 (error O(ηλ_max))
    errs = [abs(synthesis.stationary_excess(tb, tau * b, b) / synthesis.sde_excess(tb, tau) - 1) for b in (1, 0.1 / tau)]
    small = 1e-4  # corrections are O(ηλ_max) ≈ 1e-3 here
    assert errs[0] < errs[1] and errs[0] < 0.1
    assert synthesis.stationary_excess(tb, small, 1) == pytest.approx(synthesis.sde_excess(tb, small), rel=2e-3)
    add = synthesis.additive_noise_excess(tb, small * np.array([1, 2, 4]), np.array([1, 2, 4]))
    assert np.allclose(add, synthesis.sde_excess(tb, small, multiplicative=False), rtol=2e-3)
    # the excess grows with η at fixed η/B, and is inf past the mean-square threshold
    big = synthesis.stationary_excess(tb, np.array([0.2, 0.8]), np.array([10, 40]))
    assert big[1] > big[0] > synthesis.sde_excess(tb, 0.02)
    ms = rmt.ms_threshold_empirical(tb["x"], [4])[0]
    assert synthesis.stationary_excess(tb, 1.01 * ms, 4) == np.inf


def test_stationary_excess_matches_monte_carlo_sgd():
    tb = _eigenbasis_problem(n=60, seed=4)
    lr, b = 0.3, 2
    sim = rmt.lr_sweep_least_squares(tb["x"], tb["y"], [b], [lr], optimizer="sgd", steps=20000, average_last=0.9,
                                     seeds=range(4), w0=tb["w_star"], record_every=2)
    measured = sim["excess"].mean()
    assert measured == pytest.approx(synthesis.stationary_excess(tb, lr, b), rel=0.08)


def test_inputs_are_validated():
    tb = _eigenbasis_problem()
    with pytest.raises(ValueError, match="momentum"):
        synthesis.divergence_threshold(tb["x"], [1], 1.0)
    with pytest.raises(ValueError, match="batch_size"):
        synthesis.theory_thresholds(tb, [0], exact=False)
    with pytest.raises(ValueError, match="lr"):
        synthesis.stationary_excess(tb, -0.1, 1)
    with pytest.raises(ValueError, match="temperature"):
        synthesis.sde_excess(tb, -1.0)
    with pytest.raises(ValueError, match="n_samples"):
        synthesis.ntk_testbed(3)
    bad = dict(tb, x=tb["x"] @ np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]]) + 1.0)
    with pytest.raises(ValueError, match="eigenbasis"):
        synthesis.stationary_excess(bad, 0.1, 1)


# --------------------------------------------------------------------------- what momentum buys
@pytest.fixture(scope="module")
def small_kernel_testbed():
    return synthesis.ntk_testbed(40, dataset="digits", seed=2)


@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_matched_lr_runs_agree_with_the_exact_finite_recursion_at_batch_one(small_kernel_testbed, beta):
    # at B = 1 batches with and without replacement coincide, so the exact N×N moment recursion is the oracle
    from sgdlab import linear

    tb = small_kernel_testbed
    n, eta, steps = tb["n_samples"], 0.3, 60
    res = synthesis.matched_lr_runs(tb, [eta], [beta], 1, steps, runs=400, seed=3)
    k = tb["x"] @ tb["x"].T / n
    lam, vecs = np.linalg.eigh(k)
    exact = linear.exact_finite_loss(lam, vecs, -tb["y"], eta * (1 - beta), beta, 1, steps, times=[steps])[0]
    assert not res["diverged"].any()
    assert abs(res["mean"][0, 0] - exact) <= 4 * res["sem"][0, 0]
    # the SE recursion is returned on the same grid, for both closures
    assert res["recursion"].shape == res["recursion_gauss"].shape == (1, 1)


def test_matched_lr_runs_flag_divergence_and_pair_the_batches(small_kernel_testbed):
    tb = small_kernel_testbed
    res = synthesis.matched_lr_runs(tb, [0.05, 50.0], [0.0, 0.5], 4, 200, runs=8, seed=0)
    assert not res["diverged"][:, 0].any() and res["diverged"][:, 1].all()
    assert np.isinf(res["mean"][:, 1]).all() and np.isnan(res["sem"][:, 1]).all()
    assert np.isfinite(res["recursion"][:, 0]).all() and np.isinf(res["recursion"][:, 1]).all()
    # β = 0 is mc_finite_loss with batches drawn with replacement from the stream seed + j
    from sgdlab import linear

    n = tb["n_samples"]
    mean, _, _ = linear.mc_finite_loss(tb["x"] @ tb["x"].T / n, -tb["y"], 0.05, 0.0, 4, 200, runs=8, times=[200],
                                       seed=0, replace_batches=True)
    assert res["mean"][0, 0] == pytest.approx(mean[0], rel=1e-12)
    with pytest.raises(ValueError, match="momenta"):
        synthesis.matched_lr_runs(tb, [0.1], [1.0], 4, 10)
    with pytest.raises(ValueError, match="effective_lrs"):
        synthesis.matched_lr_runs(tb, [-0.1], [0.0], 4, 10)


def test_ratio_of_means_is_exact_for_proportional_runs_and_matches_the_delta_method():
    rng = np.random.default_rng(0)
    b = rng.uniform(1, 2, size=(3, 50))
    r, se = synthesis.ratio_of_means(2.5 * b, b)
    assert np.allclose(r, 2.5) and np.allclose(se, 0, atol=1e-12)
    a = b + rng.normal(0, 0.1, size=b.shape)
    r, se = synthesis.ratio_of_means(a, b)
    # the delta method for the ratio of paired means, written out for one row
    ra = a[0].mean() / b[0].mean()
    d = a[0] - ra * b[0]
    assert r[0] == pytest.approx(ra) and se[0] == pytest.approx(d.std(ddof=1) / np.sqrt(50) / b[0].mean())
    r, se = synthesis.ratio_of_means(np.array([[1.0, np.inf]]), np.array([[1.0, 1.0]]))
    assert np.isinf(r[0]) and np.isnan(se[0])


def test_best_momentum_minimises_the_recursion_over_rate_and_momentum(digits_testbed):
    from sgdlab import linear

    tb = digits_testbed
    betas = np.array([-0.3, 0.0, 0.3, 0.6])
    res = synthesis.best_momentum(tb["eigs"], tb["c"], 4, 200, betas)
    assert res["rel"][1] == pytest.approx(1.0) and res["loss_ratio"] == pytest.approx(res["rel"].min())
    assert res["beta"] == betas[np.argmin(res["loss"])]
    # no grid rate of any β beats its reported optimum
    ac = linear.critical_lr(tb["eigs"], betas, 1 / 4)
    grid = np.asarray(ac)[:, None] * np.geomspace(0.05, 0.98, 14)
    L = linear.se_loss(tb["eigs"], tb["c"], grid, betas[:, None], 1 / 4, 200, times=[200])[..., 0]
    assert np.all(res["loss"] <= np.nanmin(L, axis=1) * (1 + 1e-12))
    with pytest.raises(ValueError, match="momenta"):
        synthesis.best_momentum(tb["eigs"], tb["c"], 4, 200, [0.1, 0.2])
