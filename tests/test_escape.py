"""Mean first-passage times, Kramers laws and censored rate estimates (sgdlab.sde.escape)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from sgdlab.landscapes.double_well import TiltedDoubleWell
from sgdlab.sde.escape import (
    censored_exponential, eyring_kramers_time, kramers_time, kramers_time_kinetic, mfpt_1d,
)

WELL = TiltedDoubleWell(0.6)


@pytest.mark.parametrize("x0, target, wall", [(0.3, 1.0, 0.0), (-0.3, -1.0, 0.0)])
def test_mfpt_of_brownian_motion_with_a_reflecting_wall(x0, target, wall):
    D = 0.7
    T = mfpt_1d(lambda x: 0.0 * x, x0, target, D, wall=wall)
    assert T == pytest.approx((target**2 - x0**2) / (2 * D), rel=1e-8)


def test_mfpt_matches_scipy_double_quadrature():
    D, a = 0.5, -3.0
    f = WELL.value
    inner = lambda y: integrate.quad(lambda z: np.exp(-f(z) / D), a, y, limit=200)[0]  # noqa: E731
    ref = integrate.quad(lambda y: np.exp(f(y) / D) * inner(y), -1.0, 1.0, limit=200)[0] / D
    assert mfpt_1d(f, -1.0, 1.0, D, wall=a) == pytest.approx(ref, rel=1e-6)


def test_mfpt_approaches_kramers_at_low_temperature():
    s = WELL.saddle
    ratios = [mfpt_1d(WELL.value, -1, 1, D) / kramers_time(WELL.hess(-1.0), WELL.hess(s), WELL.barrier, D)
              for D in (0.2, 0.1, 0.05)]
    assert ratios[0] > ratios[1] > ratios[2] > 1.0
    assert ratios[2] < 1.03


def test_eyring_kramers_reduces_to_kramers_and_to_products_of_curvatures():
    km, ks, dF, D = 4.0, -3.0, 1.2, 0.15
    assert eyring_kramers_time([[km]], [[ks]], dF, D) == pytest.approx(kramers_time(km, ks, dF, D))
    Hm, Hs = np.diag([km, 5.0]), np.diag([ks, 2.0])
    expected = 2 * np.pi / 3.0 * np.sqrt(3.0 * 2.0 / (km * 5.0)) * np.exp(dF / D)
    assert eyring_kramers_time(Hm, Hs, dF, D) == pytest.approx(expected)
    with pytest.raises(ValueError, match="hess_saddle"):
        eyring_kramers_time(Hm, np.diag([1.0, 2.0]), dF, D)


def test_kinetic_kramers_tends_to_the_overdamped_law_at_large_friction():
    km, ks, dF, T = 4.0, 3.0, 1.0, 0.2
    gamma = 1e5
    # overdamped limit of dV = -γV - U' + noise: dX = -U'/γ dt + sqrt(2T/γ) dW, i.e. time scaled by γ
    assert kramers_time_kinetic(km, ks, dF, T, gamma) / gamma == pytest.approx(kramers_time(km, ks, dF, T), rel=1e-4)
    # at finite friction the rate is slower than the transition-state-theory bound
    tst = 2 * np.pi / np.sqrt(km) * np.exp(dF / T)
    assert kramers_time_kinetic(km, ks, dF, T, 0.5) > tst


def test_censored_exponential_without_censoring_is_the_sample_mean():
    t = np.array([1.0, 2.0, 3.0, 6.0])
    r = censored_exponential(t, np.ones(4, bool))
    assert r.mean_time == pytest.approx(3.0)
    assert r.mean_time_ci[0] < 3.0 < r.mean_time_ci[1]


def test_censored_exponential_recovers_the_rate_under_censoring():
    rng = np.random.default_rng(0)
    true_mean, horizon = 5.0, 6.0
    t = rng.exponential(true_mean, 20000)
    esc = t < horizon
    r = censored_exponential(np.minimum(t, horizon), esc)
    assert r.n_escaped == esc.sum() < 20000
    assert r.mean_time_ci[0] < true_mean < r.mean_time_ci[1]
    assert r.mean_time == pytest.approx(true_mean, rel=0.03)
    naive = t[esc].mean()
    assert naive < 0.8 * true_mean  # the biased estimator the docstring warns about


def test_censored_exponential_with_no_escapes_is_infinite():
    r = censored_exponential([2.0, 2.0], [False, False])
    assert r.mean_time == np.inf and r.rel_se == np.inf and r.mean_time_ci[1] == np.inf


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mfpt_1d(WELL.value, 0.0, 0.0, 0.1), "different"),
        (lambda: mfpt_1d(WELL.value, -1.0, 1.0, -0.1), "temperature"),
        (lambda: kramers_time(-1.0, 1.0, 1.0, 0.1), "curv_min"),
        (lambda: kramers_time_kinetic(1.0, 1.0, 1.0, 0.1, 0.0), "friction"),
        (lambda: censored_exponential([1.0], [True, False]), "equal length"),
        (lambda: censored_exponential([1.0], [True], confidence=1.0), "confidence"),
    ],
)
def test_escape_functions_validate_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_times_beyond_float64_are_inf_not_nan_or_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # ΔF/D = 1.04e4: exp overflows; the exact time and the Kramers laws say inf
        assert mfpt_1d(WELL.value, 1.0, -1.0, 1e-4) == np.inf
        np.testing.assert_array_equal(kramers_time(4.0, -2.0, 1.0, [1e-4, 1e-3]), [np.inf, np.inf])
        assert eyring_kramers_time(np.diag([4.0, 2.0]), np.diag([-2.0, 3.0]), 1.0, 1e-4) == np.inf
        assert kramers_time_kinetic(4.0, -2.0, 1.0, 1e-4, 2.0) == np.inf
        # at a friction so large that λ₊ = √(γ²/4+ω_b²) − γ/2 cancels to 0, λ₊ ≈ ω_b²/γ without cancellation
        big = kramers_time_kinetic(4.0, -2.0, 1.0, 0.2, 1e12)
        assert big == pytest.approx(1e12 * 2 * np.pi / (2.0 * np.sqrt(2.0)) * np.exp(5.0), rel=1e-9)


def test_censored_exponential_flags_a_diverged_chain():
    est = censored_exponential([1.0, np.inf, 3.0], [True, False, False])
    assert est.diverged and est.n_diverged == 1 and est.n_escaped == 1
    assert est.rate == est.mean_time == est.rel_se == np.inf and est.mean_time_ci == (np.inf, np.inf)
    assert not censored_exponential([1.0, 2.0], [True, False]).diverged
    with pytest.raises(ValueError, match="times"):
        censored_exponential([np.inf, 1.0], [True, False])      # an escape needs a finite time


@pytest.mark.parametrize("call, name", [
    (lambda: mfpt_1d(WELL.value, "1", -1.0, 0.3), "x0"),
    (lambda: mfpt_1d(WELL.value, 1.0, -1.0, 0.3, wall=np.nan), "wall"),
    (lambda: mfpt_1d(lambda y: np.full(np.shape(y), np.nan), 1.0, -1.0, 0.3), "value"),
    (lambda: kramers_time(4.0, "2", 1.0, 0.1), "curv_saddle"),
    (lambda: kramers_time(4.0, 2.0, 1.0, "0.1"), "temperature"),
    (lambda: eyring_kramers_time([[np.nan]], [[-1.0]], 1.0, 0.1), "hess_min"),
    (lambda: eyring_kramers_time([[1.0]], [[-1.0]], 1.0, -0.1), "temperature"),
    (lambda: censored_exponential([1.0], [2]), "escaped"),
    (lambda: censored_exponential([1.0], [True], confidence="0.9"), "confidence"),
])
def test_invalid_inputs_raise_value_errors_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
