"""Part 3's numerics in ``sgdlab.dynamics.gd_map``: the chain's stationary law, the Kramers clock, orbit
periods, exact 2-cycles, band edges and the success-rate helpers (analytic oracles)."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from _problems import Quadratic
from sgdlab.dynamics import gd_map as G
from sgdlab.landscapes.rugged import QuarticWell


def test_the_one_dimensional_dynamics_do_not_import_torch():
    code = "import sys; from sgdlab.dynamics import gd_map; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_stationary_mass_of_a_quadratic_is_the_discrete_chains_gaussian_not_gibbs():
    # AR(1): x' = (1 − ηλ) x − ησξ has variance ησ²/(λ(2 − ηλ)); Gibbs says ησ²/(2λ)
    lam, lr, sigma = 500.0, 1e-3, 30.0
    var_chain = lr * sigma**2 / (lam * (2 - lr * lam))
    var_gibbs = lr * sigma**2 / (2 * lam)
    half = 0.03
    exact = stats.norm.cdf(half / math.sqrt(var_chain)) * 2 - 1
    gibbs = stats.norm.cdf(half / math.sqrt(var_gibbs)) * 2 - 1
    got = G.stationary_mass(Quadratic(lam), lr, sigma, -half, half, support=(-0.2, 0.2), n_grid=1601)
    assert got == pytest.approx(exact, abs=2e-3)
    assert abs(got - gibbs) > 10 * abs(got - exact)


def test_stationary_mass_tends_to_gibbs_for_a_small_step():
    lam, lr, sigma = 1.0, 1e-3, 30.0
    gibbs = G.gibbs_mass(Quadratic(lam), G.temperature(lr, sigma), -0.5, 0.5)
    got = G.stationary_mass(Quadratic(lam), lr, np.array([sigma]), -0.5, 0.5, support=(-4, 4), n_grid=4001)
    assert got.shape == (1,) and got[0] == pytest.approx(gibbs, abs=2e-3)


def test_stationary_mass_refuses_a_grid_that_does_not_resolve_the_kernel():
    with pytest.raises(ValueError, match="n_grid"):
        G.stationary_mass(Quadratic(1.0), 1e-3, 1.0, -1, 1, n_grid=101)
    with pytest.raises(ValueError, match="noise"):
        G.stationary_mass(Quadratic(1.0), 1e-3, 0.0, -1, 1)


def test_kramers_time_of_the_quartic_well_is_the_closed_form():
    # from the minimum at +1 (f'' = 2) over the maximum at 0 (f'' = −1, barrier 1/4) towards −1
    lr, temp = 1e-2, np.array([0.05, 0.1])
    got = G.kramers_time(QuarticWell(), lr, temp, 1.5, -0.5)
    want = 2 * np.pi / np.sqrt(2.0) * np.exp(0.25 / temp) / lr
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert G.kramers_time(QuarticWell(), lr, 0.1, 1.5, 1.2) == 0.0          # no minimum in between
    with pytest.raises(ValueError, match="temp"):
        G.kramers_time(QuarticWell(), lr, 0.0, 1.5, -0.5)


def test_orbit_period_finds_fixed_points_cycles_and_nothing():
    t = np.arange(12)
    tail = np.stack([np.full(12, 3.0), np.where(t % 2, 1.0, 2.0), np.array([1.0, 2, 3, 4] * 3),
                     np.random.default_rng(0).normal(size=12)], axis=1)
    assert G.orbit_period(tail).tolist() == [1, 2, 4, 0]
    with pytest.raises(ValueError, match="tail"):
        G.orbit_period(tail[:5])
    with pytest.raises(ValueError, match="periods"):
        G.orbit_period(tail, periods=(0,))


@pytest.mark.parametrize("lr", [sp.Rational(99, 100), sp.Rational(101, 100), sp.Rational(11, 10)])
def test_exact_two_cycles_agree_with_the_numerical_orbits(lr):
    x = sp.Symbol("x", real=True)
    exact = G.exact_two_cycles(QuarticWell.expr(x), x, lr)
    pairs, _ = G.period_two_orbits(QuarticWell(), float(lr), -3.0, 3.0)
    np.testing.assert_allclose(np.sort(pairs.ravel()), exact, atol=1e-9)


def test_exact_two_cycles_refuse_a_non_polynomial():
    x = sp.Symbol("x", real=True)
    with pytest.raises(Exception):
        G.exact_two_cycles(sp.sin(x), x, sp.Rational(1, 2))


def test_quartic_well_derivatives_match_sympy():
    x = sp.Symbol("x", real=True)
    e = QuarticWell.expr(x)
    grid = np.linspace(-2, 2, 41)
    q = QuarticWell()
    for k, m in enumerate(("value", "grad", "hess")):
        np.testing.assert_allclose(getattr(q, m)(grid), sp.lambdify(x, sp.diff(e, x, k))(grid), atol=1e-12)


def test_grid_band_takes_the_longest_run_and_its_bracket():
    g = np.array([1.0, 2, 3, 4, 5, 6, 7])
    ok = np.array([True, False, True, True, True, False, True])
    assert G.grid_band(g, ok) == (3.0, 5.0, 2.0, 6.0)
    assert G.grid_band(g[:3], [True, True, True]) == (1.0, 3.0, -math.inf, math.inf)
    with pytest.raises(ValueError, match="no grid point"):
        G.grid_band(g, np.zeros(7, bool))


def test_proportion_se_is_never_zero_and_validates():
    se = G.proportion_se(np.array([0, 150, 300]), 300)
    assert np.all(se > 0) and se[1] == pytest.approx(math.sqrt(0.25 / 300), rel=1e-2)
    with pytest.raises(ValueError):
        G.proportion_se(5, 3)


def test_budget_to_reach_interpolates_and_reports_never():
    b = np.arange(0, 1001, 100.0)
    r = b / 1000
    t, se = G.budget_to_reach(b, r, 0.45, 300)
    assert t == pytest.approx(450.0) and 0 < se < 100
    assert G.budget_to_reach(b, r, 1.5, 300) == (math.inf, math.inf)
    assert G.first_budget(b, r, 0.45) == 500.0 and G.first_budget(b, r, 2.0) == math.inf
