"""Unit tests of sgdlab.sde.sgdm: exact SGD/SGDM moments on quadratics, stationary variances, SVAG,
stability, and the label-noise model (part 2 of the book). Oracles: closed forms, brute-force
iteration of single paths, sympy's Lyapunov solution, and Monte Carlo within its standard error."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from sgdlab.sde import sgdm as S


# --------------------------------------------------------------------------- matrices
def test_sgdm_matrices_reproduce_one_step_of_the_normalised_iteration():
    rng = np.random.default_rng(0)
    h = np.array([[2.0, 0.3], [0.3, 0.5]])
    c = np.eye(2)
    eta, beta = 0.1, 0.7
    a, _ = S.sgdm_matrices(h, c, eta, beta)
    x, m, xi = rng.standard_normal(2), rng.standard_normal(2), rng.standard_normal(2)
    m_new = beta * m + (1 - beta) * (h @ x + xi)
    x_new = x - eta * m_new
    b = np.vstack([-eta * (1 - beta) * np.eye(2), (1 - beta) * np.eye(2)])
    np.testing.assert_allclose(a @ np.concatenate([x, m]) + b @ xi, np.concatenate([x_new, m_new]), rtol=1e-14)


def test_sgdm_matches_pytorch_form_at_equal_effective_lr():
    # PyTorch's v ← βv + g, x ← x − γv with γ = η(1−β) gives the same path as the normalised form.
    rng = np.random.default_rng(1)
    lam, eta, beta = 1.5, 0.2, 0.9
    gamma = eta * (1 - beta)
    xi = rng.standard_normal(50)
    x_t, v, x_n, m = 1.0, 0.0, 1.0, 0.0
    for k in range(50):
        v = beta * v + lam * x_t + xi[k]
        x_t -= gamma * v
        m = beta * m + (1 - beta) * (lam * x_n + xi[k])
        x_n -= eta * m
    assert x_t == pytest.approx(x_n, rel=1e-12)


# --------------------------------------------------------------------------- exact moments
def test_quadratic_moments_of_sgd_match_the_closed_form_recursion():
    lam, s2, eta, x0, n = 2.0, 3.0, 0.05, 1.5, 40
    out = S.quadratic_moments([lam], [s2], [x0], eta, 0.0, n)
    k = np.arange(n + 1)
    q = 1 - eta * lam
    np.testing.assert_allclose(out["mean"][:, 0], q**k * x0, rtol=1e-12)
    var = eta**2 * s2 * (1 - q ** (2 * k)) / (1 - q**2)
    np.testing.assert_allclose(out["cov"][:, 0, 0], var, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out["loss"], 0.5 * lam * (var + (q**k * x0) ** 2), rtol=1e-12)
    np.testing.assert_allclose(out["time"], k * eta)


def test_quadratic_moments_of_sgdm_match_brute_force_unrolled_filter():
    # x_n − x_0-part = −η(1−β) Σ_j c ... : compare with explicit sums over the impulse response.
    h = np.array([[1.0, 0.2], [0.2, 3.0]])
    c = np.array([[1.0, 0.4], [0.4, 2.0]])
    eta, beta, n = 0.05, 0.8, 30
    x0 = np.array([1.0, -2.0])
    out = S.quadratic_moments(h, c, x0, eta, beta, n)
    a, _ = S.sgdm_matrices(h, c, eta, beta)
    b = np.vstack([-eta * (1 - beta) * np.eye(2), (1 - beta) * np.eye(2)])
    z0 = np.concatenate([x0, np.zeros(2)])
    mean = np.linalg.matrix_power(a, n) @ z0
    cov = sum(np.linalg.matrix_power(a, n - 1 - j) @ b @ c @ b.T @ np.linalg.matrix_power(a, n - 1 - j).T for j in range(n))
    np.testing.assert_allclose(out["mean"][-1], mean[:2], rtol=1e-12)
    np.testing.assert_allclose(out["cov"][-1], cov[:2, :2], rtol=1e-10)


def test_quadratic_moments_record_every_keeps_step_zero_and_multiples():
    out = S.quadratic_moments([1.0], [1.0], [1.0], 0.1, 0.5, 10, record_every=4)
    np.testing.assert_array_equal(out["step"], [0, 4, 8])


def test_quadratic_moments_report_divergence_as_inf():
    out = S.quadratic_moments([1.0], [1.0], [1.0], 2.5, 0.0, 2000)
    assert np.isinf(out["loss"][-1]) and out["diverged"]


def test_quadratic_moments_at_a_divergent_lr_flag_inf_without_nan_or_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = S.quadratic_moments([1.0, 4.0], [1.0, 1.0], [1.0, 1.0], 10.0, 0.0, 1000)
    assert out["diverged"]
    for key in ("mean", "cov", "loss"):
        assert not np.isnan(out[key]).any()
    assert np.isinf(out["loss"][-1]) and np.all(np.isinf(out["cov"][-1]))
    short = S.quadratic_moments([1.0], [0.0], [1.0], 2.1, 0.0, 200)  # unstable but still finite: exact values
    assert not short["diverged"] and short["loss"][-1] == pytest.approx(0.5 * 1.1**400, rel=1e-10)


def test_weak_gap_of_a_diverged_run_is_inf():
    a = S.quadratic_moments([1.0], [1.0], [1.0], 10.0, 0.0, 600)
    b = S.quadratic_moments([1.0], [1.0], [1.0], 10.0, 0.5, 600)
    assert S.weak_gap(a, b) == math.inf


@pytest.mark.parametrize("beta", [-0.4, -0.2, 0.0, 0.6])
def test_stationary_covariance_full_state_solves_the_lyapunov_equation(beta):
    h, c = np.array([[2.0, 0.3], [0.3, 1.0]]), np.array([[1.0, 0.2], [0.2, 0.5]])
    full = S.stationary_covariance(h, c, 0.2, beta, full_state=True)
    a, q = S.sgdm_matrices(h, c, 0.2, beta)
    assert full.shape == (4, 4)
    np.testing.assert_allclose(full, a @ full @ a.T + q, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(full[:2, :2], S.stationary_covariance(h, c, 0.2, beta), rtol=1e-14)
    assert np.all(np.isinf(S.stationary_covariance(h, c, 50.0, beta, full_state=True)))


@pytest.mark.parametrize("beta", [-0.8, -0.3])
def test_negative_momentum_closed_form_matches_lyapunov_and_monte_carlo(beta):
    lam, s2, eta = 1.0, 1.0, 0.1  # inside the stability range ηλ < 2(1+β)/(1−β) for both β
    f = S.stationary_variance(lam, s2, eta, beta)
    assert S.stationary_covariance([lam], [s2], eta, beta)[0, 0] == pytest.approx(f, rel=1e-10)
    mc = S.simulate_quadratic(lam, s2, eta, beta, n_chains=1000, burn_in=200, samples=200, seed=4)
    assert abs(mc["var"] - f) < 4 * mc["sem"] + 0.01 * f
    assert np.isinf(S.stationary_variance(lam, s2, 1.01 * 2 * (1 + beta) / (1 - beta), beta))


def test_monte_carlo_flags_an_unstable_setting_even_before_it_overflows():
    mc = S.simulate_quadratic(1.0, 1.0, 2.1, 0.0, n_chains=4, burn_in=0, samples=20)
    assert mc == {"var": math.inf, "sem": math.inf, "diverged": True}


def test_max_stable_lr_is_kept_as_the_old_name_of_max_stable_effective_lr():
    assert S.max_stable_lr(2.0, 0.5) == S.max_stable_effective_lr(2.0, 0.5)


def test_ou_moments_match_the_scalar_closed_form_and_the_small_lr_limit():
    lam, eta = 4.0, 1e-3
    t = np.linspace(0, 2, 5)
    out = S.ou_moments([lam], [1 / eta], [2.0], t, eta)
    np.testing.assert_allclose(out["mean"][:, 0], 2 * np.exp(-lam * t), rtol=1e-12)
    np.testing.assert_allclose(out["cov"][:, 0, 0], (1 - np.exp(-2 * lam * t)) / (2 * lam), rtol=1e-12, atol=1e-15)
    sgd = S.quadratic_moments([lam], [1 / eta], [2.0], eta, 0.0, 2000, record_every=500)
    np.testing.assert_allclose(sgd["loss"], out["loss"], rtol=2e-2)


def test_ou_moments_solve_the_lyapunov_ode_for_a_non_diagonal_hessian():
    h = np.array([[2.0, 0.5], [0.5, 1.0]])
    c = np.array([[1.0, 0.2], [0.2, 0.5]])
    eta = 0.5
    ts = np.array([0.7, 0.7 + 1e-6])
    out = S.ou_moments(h, c, [1.0, 1.0], ts, eta)
    deriv = (out["cov"][1] - out["cov"][0]) / 1e-6
    np.testing.assert_allclose(deriv, -h @ out["cov"][0] - out["cov"][0] @ h + eta * c, atol=1e-5)


def test_weak_gap_matches_times_and_respects_the_window():
    a = {"time": np.array([0.0, 0.5, 1.0]), "loss": np.array([0.0, 1.0, 2.0])}
    b = {"time": np.array([0.5, 1.0, 1.5]), "loss": np.array([1.5, 2.0, 9.0])}
    assert S.weak_gap(a, b) == pytest.approx(0.5)
    assert S.weak_gap(a, b, t_min=0.75) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="no recorded time"):
        S.weak_gap(a, b, t_min=5.0)


# --------------------------------------------------------------------------- stationarity
def test_stationary_variance_equals_sympys_discrete_lyapunov_solution():
    eta, lam, s2, beta = sp.symbols("eta lambda s2 beta", positive=True)
    gamma = eta * (1 - beta)
    a = sp.Matrix([[1 - gamma * lam, -gamma * beta], [lam, beta]])  # PyTorch state (x, v)
    b = sp.Matrix([-gamma, 1])
    sxx, sxv, svv = sp.symbols("sxx sxv svv")
    smat = sp.Matrix([[sxx, sxv], [sxv, svv]])
    sol = sp.solve(list(smat - a * smat * a.T - s2 * b * b.T), [sxx, sxv, svv], dict=True)[0]
    f = sp.lambdify((eta, lam, s2, beta), sol[sxx])
    for args in [(0.1, 3.0, 2.0, 0.9), (0.5, 1.0, 1.0, 0.5), (0.01, 10.0, 0.3, 0.99)]:
        assert S.stationary_variance(args[1], args[2], args[0], args[3]) == pytest.approx(f(*args), rel=1e-10)


@pytest.mark.parametrize("beta,ell", [(0.0, 1), (0.9, 1), (0.0, 4), (0.9, 4), (0.5, 2)])
def test_stationary_variance_matches_scipy_lyapunov(beta, ell):
    lam, s2, eta = 3.0, 2.0, 0.1
    cov = S.stationary_covariance([lam], [s2], eta, beta, ell)
    assert S.stationary_variance(lam, s2, eta, beta, ell) == pytest.approx(cov[0, 0], rel=1e-10)


def test_stationary_variance_note_numbers_and_sde_limit():
    assert S.stationary_variance(3.0, 2.0, 0.1, 0.0) == pytest.approx(0.039216, abs=1e-6)
    assert S.stationary_variance(3.0, 2.0, 0.1, 0.9) == pytest.approx(0.033599, abs=1e-6)
    etas = np.array([1e-2, 1e-3, 1e-4])
    for beta in (0.0, 0.9):
        ratio = S.stationary_variance(3.0, 2.0, etas, beta) / (etas * 2.0 / (2 * 3.0))
        assert np.all(np.abs(ratio - 1) < 3 * etas)


def test_stationary_variance_is_inf_outside_the_stability_range():
    assert np.isinf(S.stationary_variance(1.0, 1.0, 2.1, 0.0))
    assert np.isfinite(S.stationary_variance(1.0, 1.0, 2.1, 0.9))
    assert np.isinf(S.stationary_variance(1.0, 1.0, 38.5, 0.9))
    assert np.all(np.isinf(S.stationary_covariance([1.0], [1.0], 2.1, 0.0)))


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_max_stable_effective_lr_agrees_with_jury_conditions(beta):
    lam = 2.0
    assert S.max_stable_effective_lr(lam, beta) == pytest.approx(2 * (1 + beta) / ((1 - beta) * lam), rel=1e-8)


@pytest.mark.parametrize("ell", [1, 2, 4, 8])
def test_svag_coefficients_keep_the_mean_and_multiply_the_variance_by_l(ell):
    c1, c2 = S.svag_coefficients(ell)
    assert c1 + c2 == pytest.approx(1.0)
    assert c1**2 + c2**2 == pytest.approx(ell)


@pytest.mark.parametrize("beta,ell", [(0.0, 1), (0.9, 1), (0.0, 4), (0.9, 2)])
def test_monte_carlo_stationary_variance_within_four_standard_errors(beta, ell):
    lam, s2, eta = 1.0, 1.0, 1.0
    mc = S.simulate_quadratic(lam, s2, eta, beta, svag_l=ell, n_chains=1000, burn_in=200 * ell, samples=200 * ell, seed=3)
    f = S.stationary_variance(lam, s2, eta, beta, ell)
    assert abs(mc["var"] - f) < 4 * mc["sem"] + 0.01 * f


def test_monte_carlo_reports_divergence_as_a_result():
    mc = S.simulate_quadratic(1.0, 1.0, 2.5, 0.0, n_chains=10, burn_in=2000, samples=20)
    assert mc["diverged"] and np.isinf(mc["var"])


# --------------------------------------------------------------------------- label noise
def test_label_noise_without_noise_stays_on_the_manifold():
    out = S.simulate_label_noise(0.05, [0.0, 0.9], [0.5, 1.0], noise_std=0.0, n_chains=3)
    np.testing.assert_array_equal(out["log_ratio"], 0.0)


def test_label_noise_sgd_conserves_the_product_law_on_a_single_step():
    # D_{k+1} = D_k (1 − η² r²) exactly for SGD; with one chain and one step we can recompute it.
    eta, s = 0.3, 1.0
    out = S.simulate_label_noise(eta, [0.0], [eta**2], noise_std=s, n_chains=1, seed=5)
    delta = np.random.default_rng(5).standard_normal((1, 1))[0, 0]
    r = 2.0 * 0.5 - 1.0 - s * delta
    assert out["log_ratio"][0, 0] == pytest.approx(math.log(1 - eta**2 * r**2), rel=1e-12)


def test_label_noise_follows_the_slow_sde_at_small_lr():
    out = S.simulate_label_noise(0.05, [0.0, 0.9], [1.0], n_chains=200, seed=1)
    np.testing.assert_allclose(out["log_ratio"][:, 0], -1.0, rtol=0.1)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: S.quadratic_moments([1.0], [1.0], [1.0], -0.1, 0.0, 5), "effective_lr"),
        (lambda: S.quadratic_moments([1.0], [1.0], [1.0], 0.1, 1.0, 5), "momentum"),
        (lambda: S.quadratic_moments([1.0], [1.0], [1.0], 0.1, 0.0, -1), "steps"),
        (lambda: S.quadratic_moments([1.0], [1.0], [1.0, 2.0], 0.1, 0.0, 5), "x0"),
        (lambda: S.quadratic_moments([[1.0, 2.0], [0.0, 1.0]], [1.0, 1.0], [1.0, 1.0], 0.1, 0.0, 5), "hessian"),
        (lambda: S.sgdm_matrices([1.0], [1.0], 0.1, 0.0, svag_l=0), "svag_l"),
        (lambda: S.stationary_variance(-1.0, 1.0, 0.1), "curvature"),
        (lambda: S.simulate_label_noise(0.1, [0.0], [-1.0]), "times"),
        (lambda: S.simulate_label_noise(0.1, [0.0], [1.0], noise_std=-1.0), "noise_std"),
        (lambda: S.max_stable_effective_lr(0.0, 0.5), "curvature"),
        (lambda: S.quadratic_moments([1.0], [1.0], [1.0], 0.1, -1.0, 5), "momentum"),
        (lambda: S.simulate_label_noise(0.1, [0.0], [1.0], clock_effective_lr=0.0), "clock_effective_lr"),
        (lambda: S.stationary_variance("1", 1.0, 0.1), "curvature"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_label_noise_log_ratio_se_matches_the_spread_over_seeds():
    from sgdlab.sde.sgdm import simulate_label_noise

    runs = [simulate_label_noise(0.1, [0.0, 0.9], [0.5], n_chains=300, seed=s) for s in range(40)]
    logs = np.array([r["log_ratio"][:, 0] for r in runs])
    se = np.array([r["log_ratio_se"][:, 0] for r in runs]).mean(0)
    np.testing.assert_allclose(logs.std(0, ddof=1), se, rtol=0.3)
