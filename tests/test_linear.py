"""Unit tests of sgdlab.linear (part 1: generating functions). Oracles: brute-force expectations over
all batch sequences, deterministic heavy ball, eigenvalues of the transfer matrices, Hadamard kernels,
Monte Carlo, and closed forms."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.linalg import hadamard

from sgdlab import linear as L


def _problem(n=50, nu=1.5, kappa=1.0):
    lam, c, _ = L.power_law_modes(nu, kappa, n)
    return lam, c


# ------------------------------------------------------------------ SE recursion
def test_se_loss_without_noise_is_deterministic_heavy_ball():
    lam, c = _problem(20)
    lr, beta, T = 0.7, 0.5, 60
    w = -np.sqrt(c / lam)        # parameter-space Δw_0, λ w² = c
    v = np.zeros_like(w)
    ref = [0.5 * np.sum(lam * w * w)]
    for _ in range(T):
        v = beta * v - lr * lam * w
        w = w + v
        ref.append(0.5 * np.sum(lam * w * w))
    out = L.se_loss(lam, c, lr, beta, 0.0, T)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=0)


def test_se_loss_matches_transfer_matrix_iteration():
    lam, c = _problem(15)
    lr, beta, g, t1, t2, T = 0.9, -0.3, 0.2, 1.0, -1.0, 40
    Tk = L.transfer_matrix(lr * lam, beta, t2 * g)
    X = np.stack([c, 0 * c, 0 * c], axis=1)
    ref = [0.5 * X[:, 0].sum()]
    for _ in range(T):
        inj = g * t1 * lr**2 * lam**2 * X[:, 0].sum()
        X = np.einsum("kij,kj->ki", Tk, X) + inj[:, None]
        ref.append(0.5 * X[:, 0].sum())
    np.testing.assert_allclose(L.se_loss(lam, c, lr, beta, g, T, tau1=t1, tau2=t2), ref, rtol=1e-12)


def test_se_loss_vectorised_grid_equals_pointwise():
    lam, c = _problem(30)
    lrs = np.array([0.3, 1.0, 1.7])[:, None]
    betas = np.array([-0.5, 0.0, 0.6])[None, :]
    grid = L.se_loss(lam, c, lrs, betas, 0.1, 50, times=[0, 10, 50])
    assert grid.shape == (3, 3, 3)
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(grid[i, j], L.se_loss(lam, c, lrs[i, 0], betas[0, j], 0.1, 50)[[0, 10, 50]],
                                       rtol=1e-13)


def test_se_loss_flags_divergence_as_inf():
    lam, c = _problem(10)
    out = L.se_loss(lam, c, [0.5, 2.5], 0.0, 0.1, 500, times=[500])
    assert np.isfinite(out[0, 0]) and out[1, 0] == np.inf


def test_multiplicities_equal_repeated_modes():
    lam, c = _problem(5)
    rep = np.array([1, 3, 1, 2, 4])
    a = L.se_loss(lam, c, 0.8, 0.3, 0.3, 30, mult=rep)
    b = L.se_loss(np.repeat(lam, rep), np.repeat(c, rep), 0.8, 0.3, 0.3, 30)
    np.testing.assert_allclose(a, b, rtol=1e-12)


# ------------------------------------------------------------------ generating functions
@pytest.mark.parametrize("b,lr,beta,tau2", [(10, 1.0, 0.0, 1.0), (10, 0.5, 0.7, 1.0), (3, 0.8, -0.4, -1.0),
                                            (30, 2.5, 0.5, 0.0)])
def test_genfun_inversion_equals_recursion(b, lr, beta, tau2):
    lam, c = _problem(200, kappa=1.0)
    rec = L.se_loss(lam, c, lr, beta, 1 / b, 400, tau2=tau2)
    gf = L.loss_from_genfun(lam, c, lr, beta, 1 / b, 400, tau2=tau2)
    assert np.max(np.abs(gf / rec - 1)) < 1e-10


def test_values_at_one_match_generating_functions_and_loss_sum():
    lam, c = _problem(100)
    args = (lam, 0.6, 0.4, 0.1)
    assert L.U_at_one(*args) == pytest.approx(float(L.U_of_z(1.0, *args).real), rel=1e-12)
    assert L.V_at_one(lam, c, 0.6, 0.4, 0.1) == pytest.approx(float(L.V_of_z(1.0, lam, c, 0.6, 0.4, 0.1).real),
                                                            rel=1e-12)
    # Σ_t L_t over a long run equals L(1) (finite spectrum: exponential convergence)
    lam, c = _problem(20)
    total = L.se_loss(lam, c, 1.0, 0.3, 0.1, 30000).sum()
    assert total == pytest.approx(float(L.loss_sum(lam, c, 1.0, 0.3, 0.1)), rel=1e-8)


def test_beta_zero_reduction():
    lam, c = _problem(10)
    lr, g, t2 = 0.7, 0.2, 1.0
    q = (1 - lr * lam) ** 2 - t2 * g * lr**2 * lam**2
    z = np.array([0.3, -0.5 + 0.2j])
    U = g * lr**2 * np.sum(lam**2 * z[:, None] / (1 - q * z[:, None]), axis=1)
    np.testing.assert_allclose(L.U_of_z(z, lam, lr, 0.0, g, tau2=t2), U, rtol=1e-13)


# ------------------------------------------------------------------ stability
def test_jury_test_agrees_with_spectral_radius():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 5, 4000)
    b = rng.uniform(-0.99, 0.99, 4000)
    s = rng.uniform(-0.5, 1.0, 4000)
    rho = np.max(np.abs(np.linalg.eigvals(L.transfer_matrix(a, b, s))), axis=-1)
    stable = L.mode_stable(a, b, s)
    clear = np.abs(rho - 1) > 1e-9
    assert np.array_equal(stable[clear], (rho < 1)[clear])


def test_unstable_hyper_parameters_give_infinite_U1_not_negative():
    lam, _ = _problem(10)
    # α = 1.5 > 2(1+β) = 1.4 at β = −0.3: the closed form alone would be meaningless
    assert L.U_at_one(lam, 1.5, -0.3, 0.1) == np.inf


def test_critical_lr_is_the_convergence_boundary():
    lam, c = _problem(200)
    g = 0.1
    betas = np.array([-0.6, 0.0, 0.6, 0.9])
    ac = L.critical_lr(lam, betas, g)
    assert np.all(L.U_at_one(lam, (1 - 1e-9) * ac, betas, g) < 1)
    assert np.all(~(L.U_at_one(lam, (1 + 1e-9) * ac, betas, g) < 1))
    # and the recursion agrees: converges just inside, diverges just outside
    out = L.se_loss(lam, c, np.r_[0.9 * ac, 1.1 * ac], np.r_[betas, betas], g, 4000, times=[4000])[:, 0]
    assert np.all(out[:4] < 1e-3 * c.sum()) and np.all(out[4:] > c.sum())


def test_effective_lr_limit_equals_two_over_gamma_lambda_crit():
    lam, _ = _problem(300)
    g = 0.05
    assert L.effective_lr_limit(lam, g) == pytest.approx(2 / (g * L.lambda_crit(lam)), rel=1e-10)
    ac = L.critical_lr(lam, 0.999, g)
    assert ac / (1 - 0.999) == pytest.approx(L.effective_lr_limit(lam, g), rel=0.02)


# ------------------------------------------------------------------ power laws
def test_binned_spectrum_preserves_sums():
    nu, kappa, n = 1.5, 1.0, 200_000
    lam, c, _ = L.power_law_modes(nu, kappa, n)
    bl, bc, m = L.power_law_modes(nu, kappa, n, n_exact=100, n_bins=400)
    assert m.sum() == n
    assert np.sum(m * bl) == pytest.approx(lam.sum(), rel=1e-10)
    assert np.sum(m * bc) == pytest.approx(c.sum(), rel=1e-10)
    assert np.sum(m * bl**2) == pytest.approx(np.sum(lam**2), rel=1e-6)


def test_signal_constant_matches_mode_sum():
    nu, kappa, lr = 1.5, 0.75, 1.0
    lam, c, m = L.power_law_modes(nu, kappa, 10**7, n_exact=300, n_bins=3000)
    t = 1e4
    direct = np.sum(m * c * np.exp(-2 * lr * lam * t))
    k = L.asymptotic_constants(nu, kappa, lr, 0.0, 0.1)
    assert direct == pytest.approx(k["C_V"] * t ** -k["zeta"], rel=0.01)


def test_transition_time_requires_noise_phase():
    lam, c, m = L.power_law_modes(1.5, 0.75, 1000)
    with pytest.raises(ValueError, match="kappa"):
        L.transition_time(lam, c, 1.5, 0.75, 1.0, 0.0, 0.1, mult=m)


# ------------------------------------------------------------------ finite data
def _hadamard_problem(n=16, seed=0):
    U = hadamard(n) / np.sqrt(n)
    lam = np.sort(np.random.default_rng(seed).uniform(0.05, 1.0, n))[::-1]
    lam[0] = 1.0
    y = np.random.default_rng(seed + 1).standard_normal(n)
    return lam, U, y


def test_exact_recursion_matches_brute_force_over_all_batches():
    rng = np.random.default_rng(3)
    N, b, T, lr, beta = 4, 2, 3, 0.8, 0.4
    A = rng.standard_normal((N, N))
    prob = L.kernel_problem(A @ A.T + N * np.eye(N), rng.standard_normal(N))
    Kn, d0 = prob["kernel_n"], prob["residual0"]
    batches = list(itertools.combinations(range(N), b))
    losses = np.zeros(T + 1)
    for seq in itertools.product(batches, repeat=T):
        d, u = d0.copy(), np.zeros(N)
        losses[0] += 0.5 * d @ d / N
        for t, B in enumerate(seq):
            P = np.zeros(N)
            P[list(B)] = N / b
            u = beta * u - lr * Kn @ (P * d)
            d = d + u
            losses[t + 1] += 0.5 * d @ d / N
    losses /= len(batches) ** T
    exact = L.exact_finite_loss(prob["eigs"], prob["vecs"], d0, lr, beta, b, T)
    np.testing.assert_allclose(exact, losses, rtol=1e-12)


def test_se_tau_plus_one_is_exact_for_hadamard_eigenvectors():
    lam, U, y = _hadamard_problem(32)
    K = 32 * U @ np.diag(lam) @ U.T
    prob = L.kernel_problem(K, y)
    b = 16
    exact = L.exact_finite_loss(prob["eigs"], prob["vecs"], prob["residual0"], 0.6, 0.3, b, 100)
    eigs, c, g = L.sd_from_kernel(prob, b)
    se = L.se_loss(eigs, c, 0.6, 0.3, g, 100, tau2=1.0)
    assert exact[-1] < 0.1 * exact[0]
    assert np.max(np.abs(se / exact - 1)) < 1e-12
    np.testing.assert_allclose(L.eigvec_kurtosis(U), 1.0, rtol=1e-12)


def test_mc_finite_agrees_with_exact_recursion():
    lam, U, y = _hadamard_problem(16)
    prob = L.kernel_problem(16 * U @ np.diag(lam) @ U.T, y)
    exact = L.exact_finite_loss(prob["eigs"], prob["vecs"], prob["residual0"], 0.8, 0.2, 3, 20)
    mean, sem, _ = L.mc_finite_loss(prob["kernel_n"], prob["residual0"], 0.8, 0.2, 3, 20, runs=4000, seed=0)
    z = np.abs(mean - exact)[1:] / sem[1:]
    assert np.max(z) < 5


def test_mc_gaussian_agrees_with_se_tau_minus_one():
    lam, c = _problem(10)
    T = 30
    se = L.se_loss(lam, c, 0.4, 0.3, 1 / 3, T, tau1=1.0, tau2=-1.0)
    mean, sem = L.mc_gaussian_loss(lam, c, 0.4, 0.3, 3, T, runs=20000, seed=1)
    assert np.max(np.abs(mean - se)[1:] / sem[1:]) < 5


def test_relu_ntk_matches_wide_network_monte_carlo():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 7))
    m = 400_000
    W = rng.standard_normal((m, 7))
    bias = rng.standard_normal(m)
    a = rng.standard_normal(m)
    h = x @ W.T / np.sqrt(7) + bias
    act, der = np.maximum(h, 0), (h > 0) * 1.0
    emp = (act @ act.T + (der * a**2) @ der.T * (x @ x.T / 7 + 1)) / m
    np.testing.assert_allclose(L.relu_ntk(x), emp, rtol=0.02)


def test_fit_power_laws_recovers_exponents():
    lam, c, _ = L.power_law_modes(1.3, 0.6, 10**6)
    fit = L.fit_power_laws(lam, c)
    assert fit["nu"] == pytest.approx(1.3, abs=1e-6)
    assert fit["kappa"] == pytest.approx(0.6, abs=0.03)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kw,name", [({"lr": -1.0}, "lr"), ({"momentum": 1.0}, "momentum"),
                                     ({"noise_factor": -0.1}, "noise_factor")])
def test_invalid_hyper_parameters_raise_value_error(kw, name):
    lam, c = _problem(5)
    args = {"lr": 0.5, "momentum": 0.0, "noise_factor": 0.1} | kw
    with pytest.raises(ValueError, match=name):
        L.se_loss(lam, c, steps=5, **args)


def test_invalid_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="eigs"):
        L.se_loss([1.0, -1.0], [1.0, 1.0], 0.5, 0.0, 0.1, 5)
    with pytest.raises(ValueError, match="batch_size"):
        L.noise_factor(0)
    with pytest.raises(ValueError, match="n_modes"):
        L.power_law_modes(1.5, 1.0, 0)


def test_propagators_solve_the_renewal_equation():
    lam, c = _problem(40)
    args = (lam, c, 0.8, 0.4, 0.2)
    U, V = L.propagators(*args, 200, tau2=-1.0)
    two_L = 2 * L.se_loss(*args, 200, tau2=-1.0)
    conv = V + np.array([np.dot(U[1:t + 1], two_L[t - 1::-1][:t]) for t in range(201)])
    np.testing.assert_allclose(conv, two_L, rtol=1e-12)


# ------------------------------------------------------------------ reliability (divergence, validation)
def test_loss_from_genfun_flags_divergence_past_the_critical_lr():
    lam, c = _problem(50)
    lc = L.critical_lr(lam, 0.3, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = L.loss_from_genfun(lam, c, 1.1 * lc, 0.3, 0.1, 100)
    assert out.shape == (101,) and np.all(np.isinf(out))        # not a finite, wrong sequence
    assert np.isinf(L.se_loss(lam, c, 1.1 * lc, 0.3, 0.1, 5000)[-1])
    # just below the critical lr the inversion still agrees with the recursion
    np.testing.assert_allclose(L.loss_from_genfun(lam, c, 0.9 * lc, 0.3, 0.1, 50),
                               L.se_loss(lam, c, 0.9 * lc, 0.3, 0.1, 50), rtol=1e-9)
    with pytest.raises(ValueError, match="lr"):
        L.loss_from_genfun(lam, c, -1.0, 0.3, 0.1, 10)


def test_critical_lr_full_reports_the_binding_condition_and_the_mode_edge():
    lam, c = _problem(50)
    # no noise: U ≡ 0, so the per-mode edge of gradient descent, α λ_max < 2, binds
    res = L.critical_lr(lam, 0.0, 0.0, full=True)
    assert res["binding"] == "mode"
    assert res["lr"] == pytest.approx(2.0 / lam.max(), rel=1e-12)
    assert res["mode_edge"] == pytest.approx(2.0 / lam.max(), rel=1e-12)
    # with batch noise U(1) = 1 is reached first, below the edge
    res = L.critical_lr(lam, np.array([0.0, 0.5]), 0.1, full=True)
    np.testing.assert_array_equal(res["lr"], L.critical_lr(lam, np.array([0.0, 0.5]), 0.1))   # default unchanged
    assert list(res["binding"]) == ["noise", "noise"]
    assert np.all(res["lr"] < res["mode_edge"])
    np.testing.assert_allclose(L.U_at_one(lam, res["lr"], np.array([0.0, 0.5]), 0.1), 1.0, rtol=1e-9)


def test_monte_carlo_and_exact_recursions_flag_divergence_with_inf_not_nan():
    lam, c = _problem(20)
    lc = L.critical_lr(lam, 0.3, 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, sem = L.mc_gaussian_loss(lam, c, 5 * lc, 0.3, 4, 2000, runs=20)
        rng = np.random.default_rng(0)
        X = rng.normal(size=(12, 5))
        prob = L.kernel_problem(X @ X.T, rng.normal(size=12))
        m2, s2, med = L.mc_finite_loss(prob["kernel_n"], prob["residual0"], 20.0, 0.3, 4, 500, runs=10)
        ex = L.exact_finite_loss(prob["eigs"], prob["vecs"], prob["residual0"], 20.0, 0.3, 4, 500)
    for arr in (mean, sem, m2, s2, med, ex):
        assert not np.any(np.isnan(arr)) and np.isinf(arr[-1])
    assert np.isfinite(mean[0]) and np.isfinite(ex[0])


def test_exact_finite_loss_accepts_round_off_negatives_and_rejects_negative_eigenvalues():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))                       # rank 3 of 10: seven zero eigenvalues
    K = X @ X.T
    w, V = np.linalg.eigh(K / 10 / np.linalg.eigvalsh(K / 10).max())
    assert w.min() < 0                                 # eigh's round-off
    d0 = rng.normal(size=10)
    out = L.exact_finite_loss(w, V, d0, 0.5, 0.3, 3, 20)
    np.testing.assert_array_equal(out, L.exact_finite_loss(np.clip(w, 0, None), V, d0, 0.5, 0.3, 3, 20))
    with pytest.raises(ValueError, match="eigs"):
        L.exact_finite_loss(w - 1e-3, V, d0, 0.5, 0.3, 3, 20)
    with pytest.raises(ValueError, match="kernel"):
        L.kernel_problem(K - 0.1 * np.abs(K).max() * np.eye(10), d0)


@pytest.mark.parametrize("call,name", [
    (lambda: L.relu_ntk(np.array([[1.0, np.nan], [0.0, 1.0]])), "x"),
    (lambda: L.relu_ntk(np.array([[1.0, 0.0], [0.0, 0.0]]), sigma_b=0.0), "x"),     # 0/0 angle otherwise
    (lambda: L.U_of_z(0.5, [1.0, 0.5], 0.5, 0.0, -0.1), "noise_factor"),
    (lambda: L.mode_stable(0.5, np.nan, 0.1), "momentum"),
    (lambda: L.batch_sequence(0, 0, 0, 5), "n_samples"),
    (lambda: L.batch_sequence(0, 10, 0, 5), "batch_size"),
    (lambda: L.se_loss(np.array([1.0, 0.5]) + 0j, [1.0, 1.0], 0.5, 0.0, 0.1, 5), "eigs"),
])
def test_reported_bad_inputs_raise_value_errors_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_docstrings_cite_public_sources_only():
    import inspect
    import re

    for name in L.__all__:
        doc = inspect.getdoc(getattr(L, name)) or ""
        assert not re.search(r"reproduction note|pitfall|§|check R\d", doc), name
