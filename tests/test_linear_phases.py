"""Unit tests of the phases and momentum tools of sgdlab.linear (part 1, chapters 04_phases and 05_momentum).

Oracles: the 3×3 transfer-matrix iteration (for the fast SE paths), pure power laws (local exponent),
brute-force dense grids (learning-rate search), and closed forms that are exact at τ2γ = 1, β = 0
(noise-phase optimum and the negative-momentum condition).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from sgdlab import linear as L


def _problem(n=60, nu=1.5, kappa=2.5):
    lam, c, _ = L.power_law_modes(nu, kappa, n)
    return lam, c / c.sum()


def _matrix_iteration(lam, c, lr, beta, g, T, tau1=1.0, tau2=1.0):
    Tk = L.transfer_matrix(lr * lam, beta, tau2 * g)
    X = np.stack([c, 0 * c, 0 * c], axis=1)
    out = [0.5 * X[:, 0].sum()]
    for _ in range(T):
        inj = g * tau1 * lr**2 * lam**2 * X[:, 0].sum()
        X = np.einsum("kij,kj->ki", Tk, X) + inj[:, None]
        out.append(0.5 * X[:, 0].sum())
    return np.array(out)


# ------------------------------------------------------------------ fast SE paths
PATHS = [("matrix", "numba"), ("matrix", "numpy"), ("recurrence", "numpy")]


@pytest.mark.parametrize("method,engine", PATHS)
@pytest.mark.parametrize("beta,tau2", [(0.0, 1.0), (-0.4, 1.0), (0.6, -1.0), (0.9, 0.0)])
def test_se_loss_paths_match_transfer_matrix_iteration(method, engine, beta, tau2):
    lam, c = _problem(25)
    ref = _matrix_iteration(lam, c, 0.8, beta, 0.2, 60, tau2=tau2)
    for T in (0, 1, 2, 3, 60):
        out = L.se_loss(lam, c, 0.8, beta, 0.2, T, tau2=tau2, method=method, engine=engine)
        np.testing.assert_allclose(out, ref[: T + 1], rtol=1e-11, atol=0)


def test_mixed_grid_of_zero_and_nonzero_momentum_equals_pointwise():
    lam, c = _problem(40)
    lrs = np.array([0.5, 1.0, 1.5])[:, None]
    betas = np.array([0.0, 0.5, 0.0, -0.3])[None, :]
    for method, engine in PATHS:
        grid = L.se_loss(lam, c, lrs, betas, 0.1, 80, times=[0, 7, 80], method=method, engine=engine)
        for i in range(3):
            for j in range(4):
                ref = _matrix_iteration(lam, c, lrs[i, 0], betas[0, j], 0.1, 80)[[0, 7, 80]]
                np.testing.assert_allclose(grid[i, j], ref, rtol=1e-11)


def test_recurrence_flags_divergence_as_inf():
    lam, c = _problem(10)
    out = L.se_loss(lam, c, [0.5, 3.5], 0.3, 0.1, 400, times=[400], method="recurrence")
    assert np.isfinite(out[0, 0]) and out[1, 0] == np.inf


def test_se_loss_rejects_unknown_method():
    lam, c = _problem(5)
    with pytest.raises(ValueError, match="method"):
        L.se_loss(lam, c, 0.5, 0.0, 0.1, 3, method="fft")
    with pytest.raises(ValueError, match="engine"):
        L.se_loss(lam, c, 0.5, 0.0, 0.1, 3, engine="cuda")
    with pytest.raises(ValueError, match="engine='numba'"):
        L.se_loss(lam, c, 0.5, 0.0, 0.1, 3, method="recurrence", engine="numba")


def test_fused_kernel_equals_numpy_form_on_a_map_with_divergent_points():
    """The compiled kernel and the numpy array form: same divergence flags, same losses to round-off."""
    rng = np.random.default_rng(3)
    lam, c, _ = L.power_law_modes(1.5, 1.0, 301)           # odd K: the kernel's unrolled mode sum has a tail
    mult = rng.integers(1, 4, lam.size).astype(float)
    mt = rng.uniform(0.5, 1.5, lam.size)
    lrs = rng.uniform(0.05, 3.0, 60)
    betas = np.where(rng.random(60) < 0.3, 0.0, rng.uniform(-0.9, 0.95, 60))
    gam = rng.uniform(0.0, 0.5, 60)
    kw = dict(times=[0, 1, 5, 100, 999, 1500], tau1=0.7, tau2=1.3, mult=mult, mode_tau2=mt)
    a = L.se_loss(lam, c, lrs, betas, gam, 1500, engine="numba", **kw)
    b = L.se_loss(lam, c, lrs, betas, gam, 1500, engine="numpy", **kw)
    fin = np.isfinite(b)
    assert 0.2 < fin[:, -1].mean() < 0.9                   # both convergent and divergent points are tested
    np.testing.assert_array_equal(np.isfinite(a), fin)
    np.testing.assert_allclose(a[fin], b[fin], rtol=1e-12, atol=0)
    assert np.all(a[~fin] == np.inf)
    # same inputs, same numbers (grid points run in parallel, each in a fixed order)
    np.testing.assert_array_equal(L.se_loss(lam, c, lrs, betas, gam, 1500, engine="numba", **kw), a)


def test_fused_kernel_flags_divergence_once_and_for_all():
    lam, c = _problem(10)
    out = L.se_loss(lam, c, [0.5, 3.5], 0.3, 0.1, 400, times=[0, 3, 400], engine="numba")
    assert np.all(np.isfinite(out[0])) and np.isfinite(out[1, 0]) and out[1, 2] == np.inf
    ref = L.se_loss(lam, c, [0.5, 3.5], 0.3, 0.1, 400, times=[0, 3, 400], engine="numpy")
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(ref))


# ------------------------------------------------------------------ phases
def test_local_exponent_of_a_pure_power_law_is_exact():
    t = np.geomspace(1, 1e5, 50)
    np.testing.assert_allclose(L.local_exponent(t, 3.0 * t**-1.37), 1.37, rtol=1e-12)


def test_crossing_time_interpolates_in_log_time():
    t = np.geomspace(1, 1e4, 41)
    v = 2.0 - 0.5 * np.log10(t)           # falls through 1.0 at t = 100
    assert L.crossing_time(t, v, 1.0) == pytest.approx(100.0, rel=1e-12)
    assert np.isnan(L.crossing_time(t, v + 10, 1.0))


def test_transition_time_equalises_the_two_asymptotic_terms():
    lam, c, m = L.power_law_modes(1.5, 3.0, 10**5, n_exact=200, n_bins=300)
    tx = L.transition_time(lam, c, 1.5, 3.0, 1.0, 0.0, 0.01, mult=m)
    sig, noi = L.loss_asymptotics(np.array([tx]), lam, c, 1.5, 3.0, 1.0, 0.0, 0.01, mult=m)
    assert sig[0] == pytest.approx(noi[0], rel=1e-10)


# ------------------------------------------------------------------ learning-rate search
def test_optimal_lr_matches_a_dense_grid():
    lam, c = _problem(80, kappa=3.0)
    betas = np.array([-0.2, 0.0, 0.3])
    dense = np.linspace(0.3, 1.6, 2000)
    ref = L.se_loss(lam, c, dense[None, :], betas[:, None], 0.1, 300, times=[300])[..., 0]
    res = L.optimal_lr(lam, c, betas, 0.1, 300, np.geomspace(0.3, 1.6, 9))      # one refinement
    assert not res["at_edge"].any()
    np.testing.assert_allclose(res["lr"], dense[np.argmin(ref, axis=1)], rtol=3e-3)
    np.testing.assert_allclose(res["loss"], ref.min(axis=1), rtol=1e-5)
    coarse = L.optimal_lr(lam, c, betas, 0.1, 300, np.geomspace(0.3, 1.6, 9), n_refine=0)
    assert np.all(res["loss"] <= coarse["loss"])


def test_optimal_lr_reports_a_minimum_at_the_grid_edge():
    lam, c = _problem(30)
    res = L.optimal_lr(lam, c, [0.0], 0.0, 50, [0.01, 0.02, 0.03])    # no noise: larger is better here
    assert res["at_edge"][0] and res["lr"][0] == 0.03


def test_optimal_lr_validates_the_grid():
    lam, c = _problem(10)
    with pytest.raises(ValueError, match="lrs"):
        L.optimal_lr(lam, c, [0.0, 0.1], 0.1, 10, [0.1, 0.2])
    with pytest.raises(ValueError, match="lrs"):
        L.optimal_lr(lam, c, [0.0], 0.1, 10, [0.3, 0.2, 0.1])


# ------------------------------------------------------------------ noise constant and negative momentum
def test_noise_optimum_is_the_leading_order_value_when_tau2_gamma_is_one():
    # at β = 0 and τ2γ = 1 the closed forms are exactly U(1) = γΣx/2, V(1) = Σc/(2x): U* = (ν−1)/(3ν−1)
    for nu in (1.3, 1.5, 2.0):
        lam, c = _problem(200, nu=nu, kappa=2 * nu + 1)
        ae = L.optimal_noise_lr(lam, c, nu, 1.0)
        assert float(L.U_at_one(lam, ae, 0.0, 1.0)) == pytest.approx((nu - 1) / (3 * nu - 1), rel=1e-6)


def test_negative_momentum_condition_matches_exact_slope_when_tau2_gamma_is_one():
    # with τ2γ = 1 the leading-order derivation is exact: ∂_β log C_noise = K (Σc Σλ − (ν−1)/ν Σλ² Σc/λ),
    # K = 2(ν−1)/(Σ(c/λ) (Σλ)² γ τ1 (3ν−1)) (the SymPy result of chapter 05_momentum)
    rng = np.random.default_rng(0)
    for nu in (1.5, 2.0):
        lam, _ = _problem(300, nu=nu)
        for _ in range(3):
            c = rng.random(lam.size) * lam ** rng.uniform(0.5, 3.0)
            c /= c.sum()
            lhs, rhs = L.negative_momentum_condition(lam, c, nu)
            slope, _ = L.noise_constant_momentum_slope(lam, c, nu, 1.0)
            K = 2 * (nu - 1) / (np.sum(c / lam) * np.sum(lam) ** 2 * (3 * nu - 1))
            assert slope == pytest.approx(K * (lhs - rhs), rel=1e-5, abs=1e-9)


def test_negative_momentum_condition_is_the_lambdified_sympy_inequality():
    Sc, Sl, Sl2, Scl, nu = sp.symbols("S_c S_l S_l2 S_cl nu", positive=True)
    f = sp.lambdify((Sc, Sl, Sl2, Scl, nu), Sc * Sl - (nu - 1) / nu * Sl2 * Scl)
    lam, c = _problem(50)
    lhs, rhs = L.negative_momentum_condition(lam, c, 1.5)
    assert lhs - rhs == pytest.approx(f(c.sum(), lam.sum(), (lam**2).sum(), (c / lam).sum(), 1.5), rel=1e-12)
    # multiplicities are repeated modes
    rep = np.arange(1, 51) % 3 + 1
    a = L.negative_momentum_condition(lam, c, 1.5, mult=rep)
    b = L.negative_momentum_condition(np.repeat(lam, rep), np.repeat(c, rep), 1.5)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_negative_momentum_condition_validates_nu():
    lam, c = _problem(10)
    with pytest.raises(ValueError, match="nu"):
        L.negative_momentum_condition(lam, c, 1.0)


def test_noise_constant_is_inf_outside_the_convergent_region():
    lam, c = _problem(30)
    assert L.noise_constant(lam, c, 1.5, 5.0, 0.0, 0.5) == np.inf
    assert np.isfinite(L.noise_constant(lam, c, 1.5, 0.3, 0.0, 0.5))


# ------------------------------------------------------------------ the real network (chapter 06_networks)
def _tiny_net(seed=0, d=5, m=7):
    import torch

    from sgdlab.train import mlp

    return mlp([d, m, 1], "relu", parametrization="ntk", seed=seed, dtype=torch.float64)


def test_empirical_ntk_equals_jacobian_gram_matrix():
    import torch
    from torch.func import functional_call, jacrev

    net = _tiny_net()
    x = np.random.default_rng(0).standard_normal((6, 5))
    params = {k: v.detach() for k, v in net.named_parameters()}
    jac = jacrev(lambda p: functional_call(net, p, (torch.as_tensor(x),)).reshape(-1))(params)
    J = torch.cat([j.reshape(6, -1) for j in jac.values()], dim=1).numpy()
    np.testing.assert_allclose(L.empirical_ntk_mlp(net, x), J @ J.T, rtol=1e-12, atol=1e-12)


def test_empirical_ntk_rejects_other_architectures():
    import torch

    from sgdlab.train import mlp

    with pytest.raises(ValueError, match="model"):
        L.empirical_ntk_mlp(mlp([5, 7, 7, 1], "relu", parametrization="ntk", dtype=torch.float64), np.zeros((2, 5)))


def test_batch_sequence_draws_without_replacement_reproducibly():
    a = L.batch_sequence(3, 20, 6, 50)
    assert a.shape == (50, 6)
    assert all(len(set(row)) == 6 for row in a) and a.min() >= 0 and a.max() < 20
    np.testing.assert_array_equal(a, L.batch_sequence(3, 20, 6, 50))


def test_linearised_full_batch_is_deterministic_heavy_ball_in_function_space():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((8, 8))
    Kn = A @ A.T / 8
    d0 = rng.standard_normal(8)
    lr, beta, T = 0.3, 0.4, 25
    out = L.linearised_sgd_paired(Kn, d0, lr, beta, 8, T, times=np.arange(T + 1), seeds=[0, 1])
    D, V, ref = d0.copy(), np.zeros(8), [0.5 * d0 @ d0 / 8]
    for _ in range(T):
        V = beta * V - lr * Kn @ D
        D = D + V
        ref.append(0.5 * D @ D / 8)
    np.testing.assert_allclose(out, np.repeat(np.array(ref)[:, None], 2, axis=1), rtol=1e-12)


def test_network_sgd_follows_its_linearisation_for_small_steps():
    net_fn = lambda: _tiny_net(seed=2, d=5, m=400)  # noqa: E731
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, 5))
    y = rng.standard_normal(12)
    net = net_fn()
    K = L.empirical_ntk_mlp(net, x)
    d0 = L.network_outputs(net, x) - y
    lr, T = 0.05 / np.linalg.eigvalsh(K / 12).max(), 20
    times = np.arange(T + 1)
    nn_loss = L.train_network_sgd(net_fn, x, y, lr, 0.5, 3, T, times=times, seeds=[0, 1])
    lin = L.linearised_sgd_paired(K / 12, d0, lr, 0.5, 3, T, times=times, seeds=[0, 1])
    assert nn_loss[0, 0] == pytest.approx(0.5 * np.mean(d0**2), rel=1e-12)
    np.testing.assert_allclose(nn_loss, lin, rtol=2e-3)
    assert np.all(nn_loss[-1] < nn_loss[0])


def test_network_sgd_validates_inputs():
    with pytest.raises(ValueError, match="batch_size"):
        L.train_network_sgd(_tiny_net, np.zeros((4, 5)), np.zeros(4), 0.1, 0.0, 5, 3, times=[0], seeds=[0])
    with pytest.raises(ValueError, match="momentum"):
        L.train_network_sgd(_tiny_net, np.zeros((4, 5)), np.zeros(4), 0.1, 1.0, 2, 3, times=[0], seeds=[0])
