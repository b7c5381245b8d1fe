"""sgdlab.rmt: limiting laws, Stieltjes transforms and outlier equations (part 5, chapter 1).

Oracles: sympy closed forms lambdified, numerical quadrature of the densities, brute-force eigenvalue
problems on small matrices, and exact identities between the dense and tridiagonal samplers.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before numpy/torch)
from sgdlab import rmt


# --------------------------------------------------------------------------- semicircle
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
def test_semicircle_density_has_unit_mass_and_variance_sigma_squared(sigma):
    mass, _ = integrate.quad(rmt.semicircle_density, -2 * sigma, 2 * sigma, args=(sigma,))
    m2, _ = integrate.quad(lambda x: x**2 * rmt.semicircle_density(x, sigma), -2 * sigma, 2 * sigma)
    assert mass == pytest.approx(1.0, abs=1e-10)
    assert m2 == pytest.approx(sigma**2, rel=1e-8)


def test_semicircle_stieltjes_matches_sympy_and_quadrature():
    z, s = sp.symbols("z sigma", positive=True)
    g_expr = (z - sp.sqrt(z**2 - 4 * s**2)) / (2 * s**2)
    g_np = sp.lambdify((z, s), g_expr, "numpy")
    for zz in (2.5, 3.0, 10.0):
        assert rmt.semicircle_stieltjes(zz, 1.2).real == pytest.approx(g_np(zz, 1.2), rel=1e-13)
        quad, _ = integrate.quad(lambda x: rmt.semicircle_density(x, 1.2) / (zz - x), -2.4, 2.4)
        assert rmt.semicircle_stieltjes(zz, 1.2).real == pytest.approx(quad, rel=1e-8)


def test_semicircle_stieltjes_branch_behaves_like_one_over_z_everywhere():
    zs = np.array([3 + 0.1j, -3 + 0.1j, 0.5j, -0.5j, 1 - 2j, -50.0 + 0j])
    g = rmt.semicircle_stieltjes(zs, 1.0)
    assert np.allclose(g**2 - zs * g + 1, 0, atol=1e-12)  # σ²G² − zG + 1 = 0
    assert np.all(np.sign(g.imag[:-1]) == -np.sign(zs.imag[:-1]))  # Herglotz: Im G < 0 on Im z > 0
    assert g[-1].real == pytest.approx(1 / -50.0, rel=1e-3)


def test_density_is_minus_imaginary_part_of_stieltjes_over_pi():
    x = np.linspace(-1.9, 1.9, 9)
    g = rmt.semicircle_stieltjes(x + 1e-12j, 1.0)
    assert np.allclose(-g.imag / np.pi, rmt.semicircle_density(x, 1.0), atol=1e-6)


def test_r_transform_inverts_stieltjes():
    s = 0.7
    for zz in (1.6, 2.0, 5.0):
        g = rmt.semicircle_stieltjes(zz, s).real
        assert 1 / g + rmt.semicircle_r_transform(g, s) == pytest.approx(zz, rel=1e-12)


# --------------------------------------------------------------------------- Marchenko–Pastur
@pytest.mark.parametrize("q", [0.25, 0.5, 2.0, 4.0])
def test_mp_density_mass_and_mean(q):
    a, b = rmt.mp_edges(q, 1.5)
    mass, _ = integrate.quad(rmt.mp_density, a, b, args=(q, 1.5), limit=200)
    mean, _ = integrate.quad(lambda x: x * rmt.mp_density(x, q, 1.5), a, b, limit=200)
    assert mass == pytest.approx(min(1.0, 1 / q), rel=1e-7)  # the atom 1 − 1/q at 0 is not included
    assert mean == pytest.approx(1.5 * min(1.0, 1 / q) if q <= 1 else 1.5, rel=1e-7)


@pytest.mark.parametrize("q", [0.3, 3.0])
def test_mp_stieltjes_solves_its_quadratic_and_matches_quadrature(q):
    s2 = 0.8
    zs = np.array([10.0 + 0j, 1.0 + 0.5j, -2.0 + 0j])  # 10 lies right of both supports
    g = rmt.mp_stieltjes(zs, q, s2)
    assert np.allclose(q * s2 * zs * g**2 - (zs - s2 * (1 - q)) * g + 1, 0, atol=1e-12)
    a, b = rmt.mp_edges(q, s2)
    quad, _ = integrate.quad(lambda x: rmt.mp_density(x, q, s2) / (10.0 - x), a, b, limit=200)
    atom = max(0.0, 1 - 1 / q) / 10.0
    assert g[0].real == pytest.approx(quad + atom, rel=1e-7)


def test_mp_edges_match_a_large_sample():
    rng = np.random.default_rng(0)
    p, b = 300, 1200
    x = rng.standard_normal((b, p)) * np.sqrt(2.0)
    ev = np.linalg.eigvalsh(x.T @ x / b)
    lo, hi = rmt.mp_edges(p / b, 2.0)
    assert ev[0] == pytest.approx(lo, rel=0.08)
    assert ev[-1] == pytest.approx(hi, rel=0.03)


def test_empirical_stieltjes_equals_resolvent_trace():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 6))
    m = a + a.T
    z = 9.0 + 0.3j
    expected = np.trace(np.linalg.inv(z * np.eye(6) - m)) / 6
    assert rmt.empirical_stieltjes(z, np.linalg.eigvalsh(m)) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- outliers
def test_wigner_outlier_and_overlap_formulas():
    th = np.array([0.5, 1.0, 2.0])
    assert np.allclose(rmt.wigner_outlier(th, 1.0), [2.0, 2.0, 2.5])
    assert np.allclose(rmt.wigner_overlap(th, 1.0), [0.0, 0.0, 0.75])
    # continuity at the threshold θ = σ
    assert rmt.wigner_outlier(1.0 + 1e-9, 1.0) == pytest.approx(2.0, abs=1e-8)


def test_wishart_outlier_is_continuous_at_threshold_and_matches_bbp():
    q, s2 = 0.5, 1.3
    thr = s2 * (1 + np.sqrt(q))
    lo, hi = rmt.wishart_outlier([thr * (1 - 1e-9), thr * (1 + 1e-9)], q, s2)
    assert lo == pytest.approx(hi, rel=1e-6)
    assert rmt.wishart_outlier(10.0, q, s2) == pytest.approx(10 * (1 + q * s2 / (10 - s2)))


def test_free_addition_with_semicircle_noise_reproduces_bbp():
    # a large GOE-like empirical spectrum: the semicircle quantiles
    from scipy.optimize import brentq

    grid = np.linspace(-2, 2, 20001)
    cdf = np.concatenate([[0], np.cumsum(rmt.semicircle_density(grid[1:], 1.0) * np.diff(grid))])
    u = (np.arange(4000) + 0.5) / 4000
    eigs = np.interp(u, cdf / cdf[-1], grid)
    z = rmt.free_addition_outlier([1.5, 3.0], eigs)
    assert np.allclose(z, rmt.wigner_outlier([1.5, 3.0]), rtol=2e-3)
    # and it solves G(z) = 1/θ
    assert rmt.empirical_stieltjes(z[1], eigs) == pytest.approx(1 / 3.0, rel=1e-9)
    assert brentq(lambda t: rmt.empirical_stieltjes(t, eigs) - 1 / 3.0, 2.001, 10) == pytest.approx(z[1], rel=1e-8)


def test_free_addition_is_exact_for_a_rank_one_spike_on_a_diagonal_noise():
    # θ e eᵀ + diag(e_k) with e = (1,…,1)/√P: eigenvalues solve (1/P) Σ 1/(z − e_k) = 1/θ exactly
    rng = np.random.default_rng(2)
    p, theta = 50, 2.0
    e_k = rng.uniform(-1, 1, p)
    v = np.ones(p) / np.sqrt(p)
    top = np.linalg.eigvalsh(np.diag(e_k) + theta * np.outer(v, v))[-1]
    assert rmt.free_addition_outlier(theta, e_k) == pytest.approx(top, rel=1e-10)


def test_batch_hessian_outlier_theorem_limits():
    lam, p, s2 = 2.0, 100, 0.01
    out = rmt.batch_hessian_outlier(lam, dim=p, element_var=s2, batch_size=[1, 10, 1000])
    assert np.allclose(out, lam + p * s2 / np.array([1, 10, 1000]) / lam)
    assert rmt.batch_hessian_outlier(lam, dim=p, element_var=s2, batch_size=50, n_samples=50) == pytest.approx(lam)
    # below the BBP threshold the bulk edge wins
    assert rmt.batch_hessian_outlier(0.1, dim=p, element_var=s2, batch_size=1) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="batch_size"):
        rmt.batch_hessian_outlier(lam, dim=p, element_var=s2, batch_size=0)


# --------------------------------------------------------------------------- samplers
def test_dense_tridiagonalisation_keeps_the_spike_direction():
    # for the same W, the tridiagonal route gives the dense eigenpair exactly
    p, theta = 60, 1.7
    d, e = rmt.goe_tridiagonal(p, reps=1, method="dense", seed=3)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((p, p))
    w = (a + a.T) / np.sqrt(2 * p)
    w[0, 0] += theta
    vals, vecs = np.linalg.eigh(w)
    top, ov = rmt.spiked_goe_top(p, [theta], reps=1, method="dense", seed=3)
    assert top[0, 0] == pytest.approx(vals[-1], rel=1e-12)
    assert ov[0, 0] == pytest.approx(vecs[0, -1] ** 2, rel=1e-9)


def test_tridiagonal_goe_model_has_the_dense_moments():
    p, reps = 40, 400
    d1, e1 = rmt.goe_tridiagonal(p, reps=reps, method="tridiagonal", seed=0)
    d2, e2 = rmt.goe_tridiagonal(p, reps=reps, method="dense", seed=1)
    # tr W² / P = (Σ d² + 2 Σ e²)/P has mean ≈ 1 + 1/P in both
    m1 = (np.sum(d1**2, 1) + 2 * np.sum(e1**2, 1)) / p
    m2 = (np.sum(d2**2, 1) + 2 * np.sum(e2**2, 1)) / p
    assert m1.mean() == pytest.approx(1 + 1 / p, rel=0.02)
    assert m2.mean() == pytest.approx(1 + 1 / p, rel=0.02)
    # first off-diagonal: ‖W[1:, 0]‖² / 1 = (P − 1)/P in mean
    assert np.mean(e1[:, 0] ** 2) == pytest.approx((p - 1) / p, rel=0.1)
    assert np.mean(e2[:, 0] ** 2) == pytest.approx((p - 1) / p, rel=0.1)


def test_bidiagonal_wishart_sampler_matches_dense_in_distribution():
    bs = [3, 12, 40]
    w1 = rmt.spiked_wishart_top(15, 4.0, bs, reps=3000, seed=1)
    w2 = rmt.spiked_wishart_top(15, 4.0, bs, reps=3000, method="dense", seed=2)
    se = np.sqrt(w1.var(1) / 3000 + w2.var(1) / 3000)
    assert np.all(np.abs(w1.mean(1) - w2.mean(1)) < 4 * se)
    assert np.allclose(w1.std(1), w2.std(1), rtol=0.08)


def test_samplers_validate_inputs():
    with pytest.raises(ValueError, match="dim"):
        rmt.spiked_goe_top(1, [1.0])
    with pytest.raises(ValueError, match="method"):
        rmt.goe_tridiagonal(10, method="qr")
    with pytest.raises(ValueError, match="batch_sizes"):
        rmt.spiked_wishart_top(10, 2.0, [0])
    with pytest.raises(ValueError, match="sigma"):
        rmt.semicircle_density(0.0, sigma=-1)
    with pytest.raises(ValueError, match="ratio"):
        rmt.mp_edges(0.0)


# --------------------------------------------------------------------------- spiked-Wishart eigenvector overlap
def test_wishart_overlap_vanishes_below_threshold_and_tends_to_one_for_large_spikes():
    q = 0.5
    assert rmt.wishart_overlap(1 + np.sqrt(q) - 1e-9, q) == 0.0
    assert rmt.wishart_overlap(1e6, q) == pytest.approx(1.0, abs=1e-5)
    # broadcasting over the ratio, as the chapter uses it
    assert rmt.wishart_overlap(10.0, np.array([0.125, 8.0])).shape == (2,)
    with pytest.raises(ValueError, match="ratio"):
        rmt.wishart_overlap(10.0, 0.0)


@pytest.mark.parametrize("b", [20, 200])
def test_wishart_overlap_matches_simulation_and_both_samplers_agree(b):
    dim, ell = 100, 6.0
    top_b, ov_b = rmt.spiked_wishart_top(dim, ell, [b], reps=400, return_overlap=True, seed=1)
    top_d, ov_d = rmt.spiked_wishart_top(dim, ell, [b], reps=400, method="dense", return_overlap=True, seed=2)
    pred = rmt.wishart_overlap(ell, dim / b)
    # finite-P corrections are O(P^-1/2); the sampler agreement is within a few standard errors
    assert ov_b.mean() == pytest.approx(pred, abs=0.05)
    assert abs(ov_b.mean() - ov_d.mean()) < 4 * np.hypot(ov_b.std(), ov_d.std()) / np.sqrt(400)
    assert abs(top_b.mean() - top_d.mean()) < 4 * np.hypot(top_b.std(), top_d.std()) / np.sqrt(400)


def test_bidiagonal_overlap_equals_the_dense_overlap_of_the_same_matrix():
    # the dense method's overlap is the first component of the top right singular vector
    rng = np.random.default_rng(3)
    x = rng.standard_normal((30, 12))
    x[:, 0] *= 3.0
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    ev, vec = np.linalg.eigh(x.T @ x)
    assert vec[0, -1] ** 2 == pytest.approx(vt[0, 0] ** 2, rel=1e-12)
    assert ev[-1] == pytest.approx(s[0] ** 2, rel=1e-12)
