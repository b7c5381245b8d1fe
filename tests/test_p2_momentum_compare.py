"""Unit tests of sgdlab.sde.momentum_compare: the SGD-vs-SGDM comparisons of part 2 and their controls."""
from __future__ import annotations

import numpy as np
import pytest

from sgdlab.sde import momentum_compare as mc
from sgdlab.sde import sgdm
from sgdlab.sde.sgdm_nets import train_mlp_ensemble

H = np.array([1.0, 4.0])
X0 = np.array([2.0, 2.0])


# --------------------------------------------------------------------------- quadratic, exact moments
def test_sgdm_without_momentum_is_sgd_and_so_is_its_control():
    r = mc.quadratic_runs(H, X0, 1.0, 0.05, 0.0)
    np.testing.assert_array_equal(r["sgdm"]["loss"], r["sgd"]["loss"])
    np.testing.assert_array_equal(r["naive"]["loss"], r["sgd"]["loss"])


def test_the_control_runs_at_effective_lr_eta_over_one_minus_beta_on_sgds_clock():
    eta, beta = 0.02, 0.9
    r = mc.quadratic_runs(H, X0, 1.0, eta, beta)
    direct = sgdm.quadratic_moments(H, np.ones(2) / eta, X0, eta / (1 - beta), beta, 50)
    np.testing.assert_allclose(r["naive"]["loss"], direct["loss"], rtol=1e-14)
    np.testing.assert_allclose(r["naive"]["time"], r["sgd"]["time"])


def test_weak_gaps_equal_a_direct_computation():
    etas = [0.04, 0.02]
    g = mc.weak_gaps(H, X0, 2.0, etas, lambda e: 0.9, t_min=0.5)
    for j, eta in enumerate(etas):
        r = mc.quadratic_runs(H, X0, 2.0, eta, 0.9)
        assert g["sgdm"][j] == sgdm.weak_gap(r["sgd"], r["sgdm"], t_min=0.5)
        assert g["sgdm_all"][j] == sgdm.weak_gap(r["sgd"], r["sgdm"])
        assert g["naive"][j] == sgdm.weak_gap(r["sgd"], r["naive"], t_min=0.5)
        assert g["sde"][j] == sgdm.weak_gap(r["sgd"], r["sde"], t_min=0.5)


def test_sgd_to_sde_weak_distance_is_first_order_in_eta():
    g = mc.weak_gaps(H, X0, 3.0, [0.005, 0.0025], lambda e: 0.9, t_min=0.5)
    assert g["sde"][0] / g["sde"][1] == pytest.approx(2.0, rel=0.1)


def test_matched_gap_shrinks_and_the_equal_lr_control_does_not():
    g = mc.weak_gaps(H, X0, 3.0, [0.005, 0.00125], lambda e: 0.9, t_min=0.5)
    assert g["sgdm"][1] < g["sgdm"][0] / 3
    assert g["naive"][1] > 0.8 * g["naive"][0]


@pytest.mark.parametrize("kw, msg", [({"horizon": 0.0}, "horizon"), ({"effective_lr": -1.0}, "effective_lr"),
                                     ({"momentum": 1.0}, "momentum")])
def test_quadratic_runs_validates_its_inputs(kw, msg):
    args = {"horizon": 1.0, "effective_lr": 0.1, "momentum": 0.5} | kw
    with pytest.raises(ValueError, match=msg):
        mc.quadratic_runs(H, X0, args["horizon"], args["effective_lr"], args["momentum"])


# --------------------------------------------------------------------------- paired statistics
def test_paired_relative_gap_of_a_constant_multiple_is_exact_with_zero_se():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    gap, se = mc.paired_relative_gap(a, 1.1 * a)
    assert gap == pytest.approx(0.1) and se == pytest.approx(0.0, abs=1e-15)


def test_paired_relative_gap_se_matches_the_spread_over_replications():
    rng = np.random.default_rng(0)
    n, reps = 40, 3000
    a = 1.0 + 0.3 * rng.standard_normal((reps, n))
    b = 1.05 * a + 0.05 * rng.standard_normal((reps, n))
    out = np.array([mc.paired_relative_gap(x, y) for x, y in zip(a, b)])
    assert out[:, 1].mean() == pytest.approx(out[:, 0].std(), rel=0.1)
    assert out[:, 0].mean() == pytest.approx(0.05, abs=3 * out[:, 1].mean() / np.sqrt(reps))


def test_paired_difference_is_the_mean_and_sem_of_the_differences():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 7.0])
    m, se = mc.paired_difference(a, b)
    assert m == pytest.approx(4 / 3) and se == pytest.approx(np.std([1, 0, 3], ddof=1) / np.sqrt(3))


@pytest.mark.parametrize("fn", [mc.paired_relative_gap, mc.paired_difference])
def test_paired_statistics_refuse_unpaired_samples(fn):
    with pytest.raises(ValueError, match="same length"):
        fn([1.0, 2.0], [1.0, 2.0, 3.0])


# --------------------------------------------------------------------------- networks
@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def test_sgd_vs_sgdm_arms_are_the_single_ensemble_runs(data):
    x, y = data
    out = mc.sgd_vs_sgdm(x, y, effective_lrs=[0.2, 0.1], horizon=2.0, seeds=[3, 4], momentum=0.9, control=True,
                         batch_size=4, hidden=6)
    assert out[0.1]["steps"] == 20 and out[0.2]["steps"] == 10
    for eta, arm, lr, beta in [(0.1, "sgd", 0.1, 0.0), (0.1, "sgdm", 0.1, 0.9), (0.2, "naive", 2.0, 0.9)]:
        ref = train_mlp_ensemble(x, y, effective_lr=lr, momentum=beta, seeds=[3, 4], steps=out[eta]["steps"],
                                 batch_size=4, hidden=6)
        np.testing.assert_allclose(out[eta]["train_loss"][arm], ref["train_loss"], rtol=1e-12)


def test_equal_lr_comparison_arms_and_late_average(data):
    x, y = data
    out = mc.equal_lr_comparison(x, y, lr=0.02, seeds=[1, 2], steps=40, momentum=0.9, record_every=5,
                                 batch_size=4, hidden=6)
    ref = train_mlp_ensemble(x, y, effective_lr=0.2, momentum=0.9, seeds=[1, 2], steps=40, batch_size=4, hidden=6)
    np.testing.assert_allclose(out["curves"]["sgdm_lr"][:, -1], ref["train_loss"], rtol=1e-12)
    late = out["record_steps"] >= 30
    np.testing.assert_allclose(out["late"]["sgd_eta"], out["curves"]["sgd_eta"][:, late].mean(-1))
    assert out["record_steps"][-1] == 40 and not out["diverged"].any()


def test_network_comparisons_need_paired_seeds(data):
    x, y = data
    with pytest.raises(ValueError, match="seeds"):
        mc.sgd_vs_sgdm(x, y, effective_lrs=[0.1], horizon=1.0, seeds=[0])
    with pytest.raises(ValueError, match="lr"):
        mc.equal_lr_comparison(x, y, lr=0.0, seeds=[0, 1], steps=10)


def test_quadratic_runs_accept_negative_momentum_and_report_divergence_as_inf():
    r = mc.quadratic_runs(H, X0, 0.5, 0.05, -0.5)
    direct = sgdm.quadratic_moments(H, np.ones(2) / 0.05, X0, 0.05, -0.5, 10)
    np.testing.assert_array_equal(r["sgdm"]["loss"], direct["loss"])
    g = mc.weak_gaps(H, X0, 6000.0, [20.0], lambda e: 0.0)
    assert np.all(np.isinf(g["sgdm"])) and not np.isnan(g["sde"]).any()


def test_paired_statistics_of_a_diverged_pair_are_inf_not_nan():
    assert mc.paired_relative_gap([1.0, 2.0, 3.0], [1.0, np.inf, 2.0]) == (np.inf, np.inf)
    assert mc.paired_difference([np.inf, 2.0, 3.0], [1.0, 2.0, 2.0]) == (np.inf, np.inf)
