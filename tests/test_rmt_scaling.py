"""sgdlab.rmt: learning rate versus batch size (part 5, chapters 3 and 4).

Oracles: brute-force spectral radii of the explicit second-moment operator on small problems, scalar
problems with closed-form Lyapunov exponents, and the closed forms of the paper's rule.
"""
from __future__ import annotations

import numpy as np
import pytest

import sgdlab  # noqa: F401
from sgdlab import rmt


def _ms_operator(h, k_op, b, alpha):
    """Explicit P²×P² matrix of M ↦ M − α(HM + MH) + α²[(1 − 1/B)HMH + K(M)/B]."""
    p = h.shape[0]
    cols = []
    for i in range(p * p):
        m = np.zeros(p * p)
        m[i] = 1
        m = m.reshape(p, p)
        out = m - alpha * (h @ m + m @ h) + alpha**2 * ((1 - 1 / b) * h @ m @ h + k_op(m) / b)
        cols.append(out.ravel())
    return np.array(cols).T


def _radius(h, k_op, b, alpha):
    return np.max(np.abs(np.linalg.eigvals(_ms_operator(h, k_op, b, alpha))))


def test_gaussian_ms_threshold_is_where_the_second_moment_operator_has_radius_one():
    h = np.diag([3.0, 1.0, 0.2])
    k_gauss = lambda m: 2 * h @ m @ h + np.trace(h @ m) * h  # noqa: E731  Isserlis
    for b in (1, 4, 50):
        a = rmt.ms_threshold(b, np.diag(h))
        assert _radius(h, k_gauss, b, a) == pytest.approx(1.0, abs=1e-9)
        assert _radius(h, k_gauss, b, 0.99 * a) < 1 < _radius(h, k_gauss, b, 1.01 * a)


def test_ms_threshold_asymptotes():
    lam = np.linspace(0.1, 1.0, 400)
    assert rmt.ms_threshold(1e6, lam) == pytest.approx(2 / lam.max(), rel=1e-3)
    # leading order 2B/tr H for B ≪ tr H/λ_max; relative corrections ≈ 2B Σλ²/(tr H)² (here ≈ 0.6 % B)
    b = np.array([1.0, 2.0])
    assert np.allclose(rmt.ms_threshold(b, lam * 1e-3), 2 * b / (lam.sum() * 1e-3), rtol=0.02)
    # monotone in B
    assert np.all(np.diff(rmt.ms_threshold(np.geomspace(1, 1e4, 30), lam)) > 0)


def test_empirical_ms_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)) * np.array([2.0, 1.0, 0.5])
    x[0] *= 4  # one heavy sample
    n = len(x)
    h = x.T @ x / n
    k_emp = lambda m: sum(np.outer(v, v) * (v @ m @ v) for v in x) / n  # noqa: E731
    for b in (1, 3, 20):
        a = rmt.ms_threshold_empirical(x, [b])[0]
        assert _radius(h, k_emp, b, a) == pytest.approx(1.0, abs=1e-7)


def test_empirical_ms_threshold_reduces_to_gaussian_formula_for_gaussian_data():
    rng = np.random.default_rng(1)
    lam = np.array([2.0, 1.0, 0.5, 0.25])
    x = rng.standard_normal((200_000, 4)) * np.sqrt(lam)
    emp = rmt.ms_threshold_empirical(x, [1, 8, 64])
    gauss = rmt.ms_threshold([1, 8, 64], np.linalg.eigvalsh(x.T @ x / len(x)))
    assert np.allclose(emp, gauss, rtol=0.01)


def test_empirical_ms_threshold_ignores_the_null_space():
    rng = np.random.default_rng(2)
    x = np.zeros((30, 5))
    x[:, :2] = rng.standard_normal((30, 2))  # three constant-zero features
    a5 = rmt.ms_threshold_empirical(x, [2])
    a2 = rmt.ms_threshold_empirical(x[:, :2], [2])
    assert a5 == pytest.approx(a2, rel=1e-9)


def test_lyapunov_exponent_of_a_single_sample_is_exact():
    x = np.array([[2.0]])
    lrs = np.array([0.1, 0.4, 0.6])
    lyap = rmt.lyapunov_exponents(x, 1, lrs, steps=50, burn=10)
    assert np.allclose(lyap, np.log(np.abs(1 - 4 * lrs)), atol=1e-12)


def test_lyapunov_exponent_of_a_two_point_scalar_dataset():
    x = np.array([[1.0], [3.0]])
    lrs = np.array([0.05, 0.15])
    lyap = rmt.lyapunov_exponents(x, 1, lrs, steps=40_000, burn=100, seed=3)
    exact = 0.5 * (np.log(np.abs(1 - lrs)) + np.log(np.abs(1 - 9 * lrs)))
    assert np.allclose(lyap, exact, rtol=0.03)


def test_lyapunov_threshold_finds_the_worst_orthogonal_direction():
    # rows ±a e1 and ±b e2: each coordinate is hit independently, so the threshold is 2/max(a², b²)
    x = np.array([[2.0, 0.0], [0.0, 1.0], [-2.0, 0.0], [0.0, -1.0]])
    res = rmt.lyapunov_threshold(x, [1, 2], lo=0.05, hi=2.0, grid=8, rounds=4, steps=3000, burn=100)
    assert res["lr"][0] == pytest.approx(0.5, rel=0.01)
    assert np.all(res["lo"] <= res["hi"])


def test_lyapunov_threshold_widens_a_bad_bracket():
    x = np.array([[2.0]])
    res = rmt.lyapunov_threshold(x, [1], lo=0.01, hi=0.02, grid=5, rounds=5, steps=20, burn=1)
    assert res["lr"][0] == pytest.approx(0.5, rel=0.01)


def test_lyapunov_threshold_lies_above_the_mean_square_threshold():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 10)) * np.linspace(0.3, 2.0, 10)
    bs = np.array([1, 4, 16])
    ly = rmt.lyapunov_threshold(x, bs, steps=3000, burn=300, grid=6, rounds=3)
    ms = rmt.ms_threshold_empirical(x, bs)
    assert np.all(ms <= ly["hi"])


def test_expected_top_eig_of_batch_size_one_is_the_squared_norm():
    x = np.array([[3.0, 4.0], [0.0, 5.0], [5.0, 0.0]])  # all ‖x‖² = 25
    assert np.allclose(rmt.expected_top_eig(x, [1], draws=7), 25.0)
    big = rmt.expected_top_eig(x, [10_000], draws=2)
    assert np.allclose(big, np.linalg.eigvalsh(x.T @ x / 3)[-1], rtol=0.05)


def test_paper_rule_is_linear_then_saturates_with_half_value_at_b_star():
    lam, p, s2 = 2.0, 10_000, 0.4
    b_star = rmt.critical_batch_size(eig=lam, dim=p, element_var=s2)
    assert b_star == pytest.approx(p * s2 / lam**2)
    assert rmt.max_lr_sgd(b_star, eig=lam, dim=p, element_var=s2) == pytest.approx(1 / lam)
    small = rmt.max_lr_sgd(np.array([1.0, 2.0]), eig=lam, dim=p, element_var=s2)
    assert small[1] / small[0] == pytest.approx(2.0, rel=2e-3)
    assert rmt.max_lr_sgd(1e9, eig=lam, dim=p, element_var=s2) == pytest.approx(2 / lam, rel=1e-6)
    # finite N: at B = N the fluctuation vanishes
    assert rmt.max_lr_sgd(100, eig=lam, dim=p, element_var=s2, n_samples=100) == pytest.approx(2 / lam)


def test_adam_rule_grows_as_square_root_below_b_star_and_peaks_at_b_star():
    lam, p, s2 = 2.0, 10_000, 0.4
    b = np.array([1.0, 4.0])
    a = rmt.max_lr_adam(b, eig=lam, dim=p, element_var=s2, grad_var=1.0)
    assert a[1] / a[0] == pytest.approx(2.0, rel=0.01)
    bb = np.geomspace(10, 100_000, 2001)
    peak = bb[np.argmax(rmt.max_lr_adam(bb, eig=lam, dim=p, element_var=s2, grad_var=1.0))]
    assert peak == pytest.approx(rmt.critical_batch_size(eig=lam, dim=p, element_var=s2), rel=0.01)


def test_scaling_functions_validate_inputs():
    with pytest.raises(ValueError, match="batch_size"):
        rmt.ms_threshold(0, [1.0])
    with pytest.raises(ValueError, match="eigs"):
        rmt.ms_threshold(1, [0.0, 0.0])
    with pytest.raises(ValueError, match="burn"):
        rmt.lyapunov_exponents(np.ones((3, 2)), 1, [0.1], steps=10, burn=10)
    with pytest.raises(ValueError, match="eig"):
        rmt.max_lr_sgd(1, eig=-1.0, dim=3, element_var=1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        rmt.lyapunov_threshold(np.ones((3, 2)), [1], lo=1.0, hi=0.5)


# --------------------------------------------------------------------------- chains and standard errors
def _lyap_problem():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 6)) * np.linspace(1.0, 0.3, 6)
    return x, np.array([4, 16])


def test_lyapunov_threshold_one_chain_is_the_multisection_of_lyapunov_exponents():
    from sgdlab.rmt._scaling import multisect_threshold

    x, bs = _lyap_problem()
    kw = dict(steps=120, burn=20, seed=5)
    got = rmt.lyapunov_threshold(x, bs, grid=5, rounds=2, **kw)
    h = np.linalg.eigvalsh(x.T @ x / len(x))
    ref = np.minimum(2 * bs / h.sum(), 2 / h.max())
    want = multisect_threshold(lambda lrs: rmt.lyapunov_exponents(x, bs, lrs, **kw), ref / 64, 4 * ref,
                               grid=5, rounds=2, widen=16.0)
    for key in ("lr", "lo", "hi"):
        np.testing.assert_array_equal(got[key], want[key])
    assert got["found"].all()
    same = rmt.lyapunov_threshold(x, bs, grid=5, rounds=2, chains=1, return_se=True, **kw)
    np.testing.assert_array_equal(same["lr"], got["lr"])
    assert np.isinf(same["se"]).all()  # one chain cannot estimate its own spread


def test_lyapunov_threshold_standard_error_matches_the_spread_over_seeds():
    x, bs = _lyap_problem()
    ms = rmt.ms_threshold(bs, np.linalg.eigvalsh(x.T @ x / len(x)))
    kw = dict(lo=0.4 * ms, hi=2.5 * ms, grid=6, rounds=3, steps=150, burn=30, chains=4, return_se=True)
    runs = [rmt.lyapunov_threshold(x, bs, seed=s, **kw) for s in range(16)]
    means = np.array([r["lr"] for r in runs])  # (seeds, m)
    se = np.array([r["se"] for r in runs])
    for r in runs:  # the s.e. is the chains' standard deviation over √chains
        np.testing.assert_allclose(r["se"], r["lr_chains"].std(axis=0, ddof=1) / 2.0, rtol=1e-12)
        np.testing.assert_allclose(r["lr"], r["lr_chains"].mean(axis=0), rtol=1e-12)
    spread = means.std(axis=0, ddof=1)        # what the s.e. estimates, measured over 16 seeds
    predicted = np.sqrt(np.mean(se**2, axis=0))
    # 16 seeds: the spread is known to about ±18 % (1 s.d.); allow a factor 1.6 either way
    assert np.all(spread > 0) and np.all(predicted / spread < 1.6) and np.all(spread / predicted < 1.6), \
        (spread, predicted)
    # chain 0 of each seed is the single-chain estimate of that seed
    one = rmt.lyapunov_threshold(x, bs, seed=7, **{**kw, "chains": 1, "return_se": False})
    np.testing.assert_array_equal(runs[7]["lr_chains"][0], one["lr"])
