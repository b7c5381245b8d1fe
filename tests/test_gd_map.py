"""The GD map (part 3): stability thresholds, critical points, period-2 orbits, GD from many starts."""
from __future__ import annotations


import numpy as np
import pytest
import sympy as sp

from _problems import Quadratic
from sgdlab.dynamics import gd_map as G
from sgdlab.landscapes.rugged import GaussianDip, RuggedBowl


class Quartic:
    """f = x⁴/4 − x²/2: minima at ±1 with f'' = 2, a maximum at 0."""

    def value(self, x):
        x = np.asarray(x, float)
        return x**4 / 4 - x**2 / 2

    def grad(self, x):
        x = np.asarray(x, float)
        return x**3 - x

    def hess(self, x):
        x = np.asarray(x, float)
        return 3 * x**2 - 1


def test_stability_threshold_is_two_over_curvature_and_zero_for_maxima():
    assert G.stability_threshold(4.0) == 0.5
    np.testing.assert_array_equal(G.stability_threshold(np.array([1.0, -2.0, 0.0])), [2.0, 0.0, 0.0])
    lam = 3.0
    assert G.is_linearly_stable(lam, 0.66) and not G.is_linearly_stable(lam, 0.67)
    assert G.multiplier(lam, 2 / lam) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="lr"):
        G.multiplier(1.0, -0.1)
    with pytest.raises(ValueError, match="curvature"):
        G.stability_threshold(np.nan)


def test_stable_window_and_its_validation():
    assert G.stable_window(1.0, [400.0, 141.7, 494.5]) == pytest.approx((2 / 141.7, 2.0))
    with pytest.raises(ValueError, match="spurious_curvatures"):
        G.stable_window(1.0, [])
    with pytest.raises(ValueError, match="global_curvature"):
        G.stable_window(0.0, [1.0])


def test_gd_on_a_quadratic_matches_the_closed_form_and_flags_divergence():
    lam, x0 = 2.0, np.array([1.0, -0.5])
    lrs = np.array([0.3, 0.99, 1.01])[:, None]
    res = G.run_gd(Quadratic(lam).grad, x0, lrs, 50)
    expected = x0 * (1 - lrs * lam) ** 50
    np.testing.assert_allclose(res.x, expected, rtol=1e-12)
    assert not res.diverged.any()
    far = G.run_gd(Quadratic(lam).grad, x0, 1.5, 200, bound=1e3)
    assert far.diverged.all() and np.isposinf(far.x).all()  # x0 (−2)^n first exceeds 1e3 at a positive value
    away = G.run_gd(Quadratic(-1.0).grad, x0, 0.5, 100, bound=1e3)  # x0 1.5^t: no sign change
    np.testing.assert_array_equal(away.x, [np.inf, -np.inf])  # the sign of the escape is kept


def test_run_gd_records_history_and_is_reproducible_with_a_seed():
    q = Quadratic(1.0)
    res = G.run_gd(q.grad, np.ones(4), 0.1, 10, record_every=5)
    assert res.history.shape == (3, 4)
    np.testing.assert_allclose(res.history[1], 0.9**5)
    a = G.run_gd(q.grad, np.zeros(100), 0.01, 300, noise=2.0, seed=7, block=64)
    b = G.run_gd(q.grad, np.zeros(100), 0.01, 300, noise=2.0, seed=7, block=64)
    np.testing.assert_array_equal(a.x, b.x)


def test_noisy_gd_on_a_quadratic_has_the_exact_stationary_variance():
    # x_{t+1} = (1 - ηλ) x_t - ησ ξ_t: stationary variance η²σ² / (1 - (1-ηλ)²)
    lam, lr, sigma = 1.0, 0.1, 3.0
    res = G.run_gd(Quadratic(lam).grad, np.zeros(20_000), lr, 200, noise=sigma, seed=0)
    exact = lr**2 * sigma**2 / (1 - (1 - lr * lam) ** 2)
    assert res.x.var() == pytest.approx(exact, rel=0.04)  # 20,000 samples: sd of the estimate ≈ 1 %


def test_annealed_noise_decays_linearly_to_zero():
    # with λ = 0, x_T - x_0 = -η Σ σ(1 - t/T) ξ_t: variance η² σ² Σ (1 - t/T)²
    class Flat:
        def grad(self, x):
            return np.zeros_like(np.asarray(x, float))

    lr, sigma, steps = 0.5, 2.0, 40
    res = G.run_gd(Flat().grad, np.zeros(50_000), lr, steps, noise=sigma, anneal=True, seed=1)
    t = np.arange(steps)
    exact = lr**2 * sigma**2 * np.sum((1 - t / steps) ** 2)
    assert res.x.var() == pytest.approx(exact, rel=0.03)


@pytest.mark.parametrize(
    "kw,name",
    [({"steps": -1}, "steps"), ({"lr": 0.0}, "lr"), ({"noise": -1.0}, "noise"), ({"bound": np.inf}, "bound"),
     ({"record_every": 0}, "record_every")],
)
def test_run_gd_rejects_bad_inputs_by_name(kw, name):
    args = {"x0": np.zeros(3), "lr": 0.1, "steps": 5} | kw
    with pytest.raises(ValueError, match=name):
        G.run_gd(Quadratic(1.0).grad, **args)


def test_critical_points_of_the_quartic_are_exact():
    cp = G.critical_points(Quartic(), -2.0, 2.3, n_grid=1001)
    np.testing.assert_allclose(cp.x, [-1.0, 0.0, 1.0], atol=1e-12)
    assert list(cp.kind) == ["min", "max", "min"]
    np.testing.assert_allclose(cp.curvature, [2.0, -1.0, 2.0], atol=1e-10)


def test_rugged_bowl_has_38_spurious_minima_on_0_8_sharper_than_the_global_one():
    f = RuggedBowl()
    cp = G.critical_points(f, 0.0, 8.0)
    mins = cp.x[cp.minima]
    assert mins[0] == pytest.approx(0.0, abs=1e-12)
    assert len(mins) - 1 == 38  # one ripple trough per period p = 0.2 from the band on, up to 8
    assert cp.curvature[cp.minima][1:].min() > 100 * f.hess(0.0)
    # between two minima there is exactly one maximum
    assert np.all(np.diff((cp.kind == "min").astype(int)) != 0)


def test_period_two_orbits_of_the_quartic_match_sympy():
    x, eta = sp.symbols("x eta", real=True)
    f = x**4 / 4 - x**2 / 2
    T = x - eta * sp.diff(f, x)
    lr = sp.Rational(11, 10)
    poly = sp.Poly(sp.expand((T.subs(x, T) - x).subs(eta, lr)), x)
    fixed = sp.Poly(sp.expand((T - x).subs(eta, lr)), x)
    q, r = sp.div(poly, fixed)
    assert r.is_zero
    exact = sorted(float(sp.re(z)) for z in q.nroots(n=30) if abs(sp.im(z)) < 1e-20)
    pairs, mult = G.period_two_orbits(Quartic(), float(lr), -3.0, 3.0)
    np.testing.assert_allclose(np.sort(pairs.ravel()), exact, atol=1e-10)
    # the new orbits next to ±1 (born at η = 2/f''(±1) = 1) attract; the symmetric one repels
    near = np.abs(np.abs(pairs).mean(axis=1) - 1) < 0.2
    assert np.all(np.abs(mult[near]) < 1) and np.all(np.abs(mult[~near]) > 1)


def test_period_two_orbit_of_a_quadratic_exists_only_at_two_over_lambda():
    lam = 4.0
    pairs, _ = G.period_two_orbits(Quadratic(lam), 0.4, -1.0, 1.0, n_grid=1001)
    assert pairs.shape == (0, 2)


def test_gaussian_dip_sharp_minimum_and_its_threshold():
    d = GaussianDip()
    cp = G.critical_points(d, -1.0, 5.0)
    assert list(cp.kind) == ["min", "max", "min"]
    x_loc, c_loc = cp.x[2], cp.curvature[2]
    assert x_loc == pytest.approx(2.98998, abs=1e-5) and c_loc == pytest.approx(296.5, abs=0.1)
    assert G.stability_threshold(c_loc) == pytest.approx(0.00675, abs=1e-5)


def test_basin_of_separates_global_and_spurious_minima_and_fails_diverged_runs():
    f = RuggedBowl()
    x = np.array([0.3, -0.45, 2.0, -3.05, np.inf, np.nan])
    np.testing.assert_array_equal(G.basin_of(f, x), [True, True, False, False, False, False])
    with pytest.raises(ValueError, match="tol"):
        G.basin_of(f, x, tol=0.0)


def test_gibbs_mass_of_a_quadratic_is_the_gaussian_probability():
    from scipy.special import erf

    m, temps = 0.7, np.array([0.05, 0.3, 2.0])
    got = G.gibbs_mass(Quadratic(1.0), temps, -m, m)
    np.testing.assert_allclose(got, erf(m / np.sqrt(2 * temps)), atol=1e-6)
    assert G.temperature(1e-3, 25.0) == pytest.approx(0.3125)
    with pytest.raises(ValueError, match="temp"):
        G.gibbs_mass(Quadratic(1.0), 0.0, -1, 1)
    with pytest.raises(ValueError, match="noise"):
        G.temperature(0.1, -1.0)
