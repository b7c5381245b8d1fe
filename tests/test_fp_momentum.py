"""Momentum and the kinetic Fokker–Planck equation (sgdlab.sde.escape: sgdm_* helpers; chapter 04_momentum)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from sgdlab.landscapes.double_well import TiltedDoubleWell
from sgdlab.sde.escape import (
    kramers_time, kramers_time_kinetic, kramers_time_sgdm, sgdm_escape_factor, sgdm_friction,
    sgdm_kinetic_parameters,
)
from sgdlab.sde.particles import simulate

WELL = TiltedDoubleWell(0.6)


def test_sgdm_friction_is_one_minus_beta_over_lr_and_infinite_for_sgd():
    assert sgdm_friction(0.002, 0.9) == pytest.approx(50.0)
    assert sgdm_friction(0.002, 0.996) == pytest.approx(2.0)
    assert math.isinf(sgdm_friction(0.002, 0.0))


def test_kinetic_parameters_of_sgdm():
    p = sgdm_kinetic_parameters(0.002, 0.99, 0.25)
    assert p["friction"] == pytest.approx(5.0)
    assert p["potential_scale"] == pytest.approx(5.0)
    assert p["kinetic_temperature"] == pytest.approx(1.25)
    assert p["velocity_variance"] == pytest.approx(1.25)


def test_escape_factor_matches_a_sympy_lambdified_ratio_of_kramers_rates():
    c, k = sp.symbols("c k", positive=True)
    lam = sp.sqrt(c**2 / 4 + c * k) - c / 2
    # kinetic time (omega_b^2 = c k, omega_0^2 = c k_m) over the overdamped one; k_m cancels
    km = sp.Symbol("k_m", positive=True)
    ratio = sp.simplify((2 * sp.pi * sp.sqrt(c * k) / (lam * sp.sqrt(c * km))) / (2 * sp.pi / sp.sqrt(km * k)))
    assert sp.simplify(ratio - k / lam) == 0
    assert sp.limit(k / lam, c, sp.oo) == 1
    f = sp.lambdify((c, k), k / lam, "numpy")
    cs = np.array([0.1, 1.0, 2.0, 5.0, 50.0, 1e4])
    ks = abs(WELL.hess(WELL.saddle))
    np.testing.assert_allclose(sgdm_escape_factor(-ks, cs), f(cs, ks), rtol=1e-6)
    assert sgdm_escape_factor(ks, np.inf) == 1.0


def test_escape_factor_limits():
    k = 4.859
    assert sgdm_escape_factor(k, 1e9) == pytest.approx(1.0, rel=1e-7)
    assert sgdm_escape_factor(k, 1e-6) == pytest.approx(math.sqrt(k / 1e-6), rel=1e-3)
    f = sgdm_escape_factor(k, np.geomspace(0.1, 100, 20))
    assert np.all(np.diff(f) < 0)


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99, 0.996])
def test_kramers_time_sgdm_is_the_overdamped_time_times_the_friction_factor(beta):
    lr, D = 0.002, 1 / 6
    km, ks, dF = WELL.hess(1.0), WELL.hess(WELL.saddle), WELL.barrier
    t = kramers_time_sgdm(km, ks, dF, D, lr=lr, momentum=beta)
    c = sgdm_friction(lr, beta)
    assert t == pytest.approx(kramers_time(km, ks, dF, D) * sgdm_escape_factor(ks, c), rel=1e-10)
    if beta:
        assert t == pytest.approx(kramers_time_kinetic(c * km, c * ks, c * dF, c * D, c), rel=1e-12)


def test_kramers_time_sgdm_accepts_arrays_of_temperatures():
    D = np.array([0.1, 0.2])
    t = kramers_time_sgdm(4.0, -3.0, 1.0, D, lr=0.002, momentum=0.99)
    assert t.shape == (2,) and t[0] > t[1]


def test_sgdm_on_a_quadratic_has_the_kinetic_stationary_variances():
    # f = k x^2 / 2, Gaussian noise: the kinetic OU law has Var x = D / k and Var v = c D
    k, lr, beta, sigma2, B = 4.0, 0.002, 0.99, 50.0, 1
    D = lr * sigma2 / (2 * B)
    c = sgdm_friction(lr, beta)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(4000) * math.sqrt(D / k)
    X, M = simulate(lambda x: k * x, x0, lr=lr, times=[4.0, 6.0], batch_size=B, noise_std=math.sqrt(sigma2),
                    noise="gaussian", momentum=beta, seed=1, return_velocity=True)
    assert X[-1].var() == pytest.approx(D / k, rel=0.06)
    assert M[-1].var() == pytest.approx(c * D, rel=0.06)


@pytest.mark.parametrize("call, name", [
    (lambda: sgdm_friction(0.0, 0.9), "lr"),
    (lambda: sgdm_friction(0.002, 1.0), "momentum"),
    (lambda: sgdm_kinetic_parameters(0.002, 0.0, 0.1), "momentum"),
    (lambda: sgdm_kinetic_parameters(0.002, 0.9, -0.1), "temperature"),
    (lambda: sgdm_escape_factor(0.0, 1.0), "curv_saddle"),
    (lambda: sgdm_escape_factor(1.0, 0.0), "friction"),
    (lambda: kramers_time_sgdm(1.0, 1.0, 1.0, 0.0, lr=0.002, momentum=0.9), "temperature"),
    (lambda: kramers_time_sgdm(-1.0, 1.0, 1.0, 0.1, lr=0.002, momentum=0.9), "curv_min"),
])
def test_invalid_inputs_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
