"""Helpers of part 4 moved from the chapters into the library: KS critical values, discretised start
laws, censored escape rates, harmonic Gibbs starts and the barrier-orbit action."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from sgdlab.landscapes.double_well import TiltedDoubleWell
from sgdlab.sde.escape import censored_exponential, escape_rate
from sgdlab.sde.fokker_planck import FokkerPlanck1D, ks_critical, ks_distance, ks_null_sd
from sgdlab.sde.particles import first_passage, harmonic_gibbs_start

WELL = TiltedDoubleWell(0.6)


def test_ks_critical_matches_the_asymptotic_kolmogorov_quantile_and_its_null_rejection_rate():
    n = 4000
    assert ks_critical(n, 0.05) == pytest.approx(1.358 / math.sqrt(n), rel=0.01)
    assert ks_null_sd(n) == pytest.approx(0.2603 / math.sqrt(n), rel=0.01)
    # under the null the exact critical value is exceeded at rate alpha
    rng = np.random.default_rng(0)
    faces, cdf = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    d = np.array([ks_distance(rng.random(200), faces, cdf) for _ in range(4000)])
    assert (d > ks_critical(200, 0.1)).mean() == pytest.approx(0.1, abs=0.015)


@pytest.mark.parametrize("kw, match", [({"n_samples": 0, "alpha": 0.1}, "n_samples"),
                                       ({"n_samples": 10, "alpha": 1.0}, "alpha")])
def test_ks_critical_validates_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        ks_critical(**kw)


def test_normal_masses_are_the_discretised_start_law():
    fp = FokkerPlanck1D(WELL.grad, 0.5, -2.6, 2.6, 520, value=WELL.value)
    p = fp.normal_masses(WELL.saddle, 0.05)
    assert p.sum() == pytest.approx(1.0) and np.all(p >= 0)
    assert fp.x @ p == pytest.approx(WELL.saddle, abs=1e-6)
    assert np.sqrt(((fp.x - WELL.saddle) ** 2) @ p) == pytest.approx(0.05, rel=0.02)
    with pytest.raises(ValueError, match="mean"):
        fp.normal_masses(5.0, 0.05)
    with pytest.raises(ValueError, match="std"):
        fp.normal_masses(0.0, 0.0)


def test_escape_rate_equals_first_passage_censored_per_particle_and_per_group():
    x0 = np.concatenate([np.full(300, 1.0), np.full(300, -1.0)])
    h = np.where(x0 > 0, 20.0, 30.0)
    kw = dict(lr=0.002, batch_size=1, noise_std=math.sqrt(500.0), check_every=4)
    est = escape_rate(WELL.grad, x0, -x0, horizon=h, groups=np.where(x0 > 0, "sf", "fs"), seed=3, **kw)
    t, e = first_passage(WELL.grad, x0, -x0, horizon=30.0, seed=3, **kw)
    for label, sel, hh in (("sf", x0 > 0, 20.0), ("fs", x0 < 0, 30.0)):
        ref = censored_exponential(np.minimum(t[sel], hh), e[sel] & (t[sel] <= hh))
        assert est[label].rate == pytest.approx(ref.rate) and est[label].n_escaped == ref.n_escaped
    with pytest.raises(ValueError, match="horizon"):
        escape_rate(WELL.grad, x0, -x0, horizon=-1.0, **kw)


def test_harmonic_gibbs_start_has_covariance_d_times_inverse_hessian():
    H = np.array([[4.0, 1.0], [1.0, 2.0]])
    z = harmonic_gibbs_start([1.0, -0.5], H, 0.3, 200000, seed=1)
    assert z.shape == (200000, 2)
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -0.5], atol=0.01)
    np.testing.assert_allclose(np.cov(z.T), 0.3 * np.linalg.inv(H), rtol=0.02, atol=2e-3)
    with pytest.raises(ValueError, match="positive definite"):
        harmonic_gibbs_start([0.0, 0.0], -H, 0.3, 10)


@pytest.mark.parametrize("m", [-1.0, 1.0])
def test_barrier_orbit_action_matches_adaptive_quadrature(m):
    s, dF = WELL.saddle, WELL.barrier
    from scipy.optimize import brentq

    far = brentq(lambda x: WELL.value(x) - dF, m, m + math.copysign(3.0, m))
    lo, hi = sorted((s, far))
    ref = 2 * integrate.quad(lambda x: math.sqrt(max(2 * (dF - WELL.value(x)), 0.0)), lo, hi, limit=200)[0]
    assert WELL.barrier_orbit_action(m) == pytest.approx(ref, rel=1e-4)
    with pytest.raises(ValueError, match="minimum"):
        WELL.barrier_orbit_action(0.5)
