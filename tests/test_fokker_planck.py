"""Finite-volume Fokker–Planck generator (sgdlab.sde.fokker_planck) and the tilted double well."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from sgdlab.landscapes.double_well import DoubleWell2D, TiltedDoubleWell
from sgdlab.sde.escape import mfpt_1d
from sgdlab.sde.fokker_planck import FokkerPlanck1D, gibbs_basin_mass, ks_distance

WELL = TiltedDoubleWell(0.6)


def _ou(k=2.0, D=0.3, n=400, L=4.0):
    return FokkerPlanck1D(lambda x: k * x, D, -L, L, n, value=lambda x: 0.5 * k * x * x)


# --------------------------------------------------------------------------- the landscape
def test_double_well_derivatives_match_sympy():
    x = sp.Symbol("x")
    f = (x**2 - 1) ** 2 * (1 + sp.Rational(3, 5) * sp.tanh(x))
    pts = np.linspace(-2.5, 2.5, 41)
    for expr, ours in ((f, WELL.value), (sp.diff(f, x), WELL.grad), (sp.diff(f, x, 2), WELL.hess)):
        ref = sp.lambdify(x, expr, "numpy")(pts)
        np.testing.assert_allclose(ours(pts), ref, rtol=1e-12, atol=1e-12)


def test_double_well_critical_points_and_curvatures():
    assert WELL.value(-1.0) == 0 and WELL.value(1.0) == 0
    np.testing.assert_allclose([WELL.hess(-1.0), WELL.hess(1.0)], [8 * (1 - 0.6 * np.tanh(1)), 8 * (1 + 0.6 * np.tanh(1))])
    assert abs(WELL.grad(WELL.saddle)) < 1e-12 and WELL.hess(WELL.saddle) < 0
    assert WELL.flat_minimum == -1.0 and WELL.sharp_minimum == 1.0
    np.testing.assert_allclose(WELL.laplace_flat_mass(), np.sqrt(WELL.hess(1.0)) / (np.sqrt(WELL.hess(1.0)) + np.sqrt(WELL.hess(-1.0))))


def test_double_well_2d_gradient_matches_finite_differences():
    w = DoubleWell2D()
    z = np.array([[0.3, -0.4], [-1.2, 0.7]])
    eps = 1e-6
    num = np.stack([(w.value(z + eps * e) - w.value(z - eps * e)) / (2 * eps) for e in np.eye(2)], axis=-1)
    np.testing.assert_allclose(w.grad(z), num, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(w.hess_at_axis(1.0), np.diag([WELL.hess(1.0), w.omega(1.0)]))


@pytest.mark.parametrize("bad", [1.0, -1.5, float("nan")])
def test_double_well_rejects_bad_tilt(bad):
    with pytest.raises(ValueError, match="tilt"):
        TiltedDoubleWell(bad)


# --------------------------------------------------------------------------- the generator
def test_generator_conserves_mass_and_has_the_gibbs_law_as_stationary_state():
    fp = FokkerPlanck1D(WELL.grad, 0.2, -3, 3, 300, value=WELL.value)
    L = fp.generator()
    np.testing.assert_allclose(np.asarray(L.sum(axis=0)).ravel(), 0, atol=1e-9 * abs(L).max())
    pi = fp.stationary()
    gibbs = np.exp(-WELL.value(fp.x) / 0.2)
    np.testing.assert_allclose(pi, gibbs / gibbs.sum(), rtol=1e-12)
    assert np.abs(L @ pi).max() < 1e-12 * abs(L).max()


def test_potential_integrated_from_the_gradient_matches_the_closed_form():
    a = FokkerPlanck1D(WELL.grad, 0.25, -2.5, 2.5, 200, value=WELL.value)
    b = FokkerPlanck1D(WELL.grad, 0.25, -2.5, 2.5, 200)
    np.testing.assert_allclose(a.stationary(), b.stationary(), rtol=1e-9)


def test_state_dependent_temperature_gives_the_ito_stationary_law():
    # f = x^2/2, D(x) = D0 (1 + x^2): p ∝ exp(-∫ x/D) / D = (1 + x^2)^(-1/(2 D0) - 1)
    D0 = 0.2
    fp = FokkerPlanck1D(lambda x: x, lambda x: D0 * (1 + x * x), -6, 6, 600)
    exact = (1 + fp.x**2) ** (-1 / (2 * D0) - 1)
    np.testing.assert_allclose(fp.stationary(), exact / exact.sum(), rtol=1e-9)


def test_ou_relaxation_rates_are_multiples_of_the_curvature():
    k = 2.0
    rates = _ou(k=k, n=800).relaxation_rates(3)
    np.testing.assert_allclose(rates, [k, 2 * k, 3 * k], rtol=2e-3)


def test_eig_and_expm_evolution_agree_and_conserve_mass():
    fp = _ou(n=80)
    p0 = np.zeros(fp.n)
    p0[60] = 1.0
    a = fp.evolve(p0, [0.0, 0.05, 0.3], method="eig")
    b = fp.evolve(p0, [0.0, 0.05, 0.3], method="expm")
    np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-10)
    late = fp.evolve(p0, [50.0])[0]
    np.testing.assert_allclose(late, fp.stationary(), atol=1e-10)


def test_ou_mean_decays_at_rate_k():
    k, t = 2.0, 0.4
    fp = _ou(k=k, n=800)
    p0 = np.exp(-((fp.x - 1.0) ** 2) / (2 * 0.05**2))
    p0 /= p0.sum()
    mean0 = fp.x @ p0
    p = fp.evolve(p0, [t])[0]
    np.testing.assert_allclose(fp.x @ p, mean0 * np.exp(-k * t), rtol=1e-3)


def test_double_well_gap_equals_the_sum_of_inverse_exact_passage_times():
    D = 0.2
    fp = FokkerPlanck1D(WELL.grad, D, -3, 3, 1000, value=WELL.value)
    exact = 1 / mfpt_1d(WELL.value, -1, 1, D) + 1 / mfpt_1d(WELL.value, 1, -1, D)
    np.testing.assert_allclose(fp.spectral_gap(), exact, rtol=0.03)


def test_mass_below_and_ks_distance():
    fp = _ou(n=100)
    pi = fp.stationary()
    assert abs(fp.mass_below(pi, 0.0) - 0.5) < 1e-12
    faces = np.array([0.0, 1.0])
    cdf = np.array([0.0, 1.0])
    assert ks_distance(np.array([0.5]), faces, cdf) == pytest.approx(0.5)
    u = np.random.default_rng(0).random(20000)
    assert ks_distance(u, faces, cdf) < 0.015


def test_gibbs_basin_mass_of_a_symmetric_well_is_one_half_and_tends_to_laplace():
    sym = lambda x: (x * x - 1) ** 2  # noqa: E731
    assert gibbs_basin_mass(sym, 0.3, 0.0, -3, 3) == pytest.approx(0.5, abs=1e-12)
    assert gibbs_basin_mass(WELL.value, 0.01, WELL.saddle, -3, 3) == pytest.approx(WELL.laplace_flat_mass(), abs=2e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"temperature": 0.0}, "temperature"), ({"n_cells": 2}, "n_cells"), ({"lo": 4.0}, "lo")],
)
def test_generator_validates_inputs(kwargs, match):
    args = {"temperature": 0.2, "lo": -3.0, "hi": 3.0, "n_cells": 50} | kwargs
    with pytest.raises(ValueError, match=match):
        FokkerPlanck1D(WELL.grad, args["temperature"], args["lo"], args["hi"], args["n_cells"])


def test_evolve_validates_inputs():
    fp = _ou(n=20)
    with pytest.raises(ValueError, match="p0"):
        fp.evolve(np.ones(20), [1.0])
    with pytest.raises(ValueError, match="times"):
        fp.evolve(fp.stationary(), [-1.0])
    with pytest.raises(ValueError, match="method"):
        fp.evolve(fp.stationary(), [1.0], method="dense")


def test_landscapes_at_infinity_are_inf_and_reject_nan():
    import warnings

    x = np.array([1e200, -1e200, np.inf, -np.inf, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v, g, h = WELL.value(x), WELL.grad(x), WELL.hess(x)
        g2 = DoubleWell2D().grad(np.array([[1e200, 0.0], [0.5, 0.1]]))
    np.testing.assert_array_equal(v[:4], np.inf)
    np.testing.assert_array_equal(g[:4], [np.inf, -np.inf, np.inf, -np.inf])
    np.testing.assert_array_equal(h[:4], np.inf)
    assert g[4] == WELL.grad(0.5) and g2[0, 0] == np.inf and np.all(np.isfinite(g2[1]))
    for f in (WELL.value, WELL.grad, WELL.hess):
        with pytest.raises(ValueError, match="x"):
            f(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="z"):
        DoubleWell2D().value(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="stiffness"):
        DoubleWell2D(stiffness="4")


def test_a_grid_too_coarse_for_the_temperature_is_a_value_error_not_an_overflow():
    with pytest.raises(ValueError, match="n_cells"):
        FokkerPlanck1D(WELL.grad, 1e-3, -2.5, 2.5, 50, value=WELL.value)
    fp = _ou(n=20)
    with pytest.raises(ValueError, match="p"):
        fp.cdf_at_faces(np.ones(3))
    with pytest.raises(ValueError, match="boundary"):
        fp.mass_below(fp.stationary(), np.nan)
    with pytest.raises(ValueError, match="samples"):
        ks_distance([0.1, np.nan], *fp.cdf_at_faces(fp.stationary()))
