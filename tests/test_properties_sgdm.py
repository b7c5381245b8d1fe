"""Property-based checks of sgdlab.sde.sgdm, sgdlab.sde.sgdm_nets, sgdlab.sde.momentum_compare and
sgdlab.train.ensemble (see tests/prop_harness.py): bad input is a ValueError naming the parameter; a
divergent setting is a flag and ``inf``, never NaN and never a warning."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from prop_harness import NOT_A_NUMBER, Spec, run_bad_inputs, run_divergence
from sgdlab.sde import momentum_compare as mc
from sgdlab.sde import sgdm as S
from sgdlab.sde.sgdm_nets import train_mlp_ensemble
from sgdlab.train import TrainConfig, mlp, train_ensemble

NAN, INF = float("nan"), float("inf")
BAD_MOMENTUM = [NAN, INF, 1.0, -1.0, 1.5, "0.9", None, True]
BAD_POSITIVE = NOT_A_NUMBER + [0.0, -1.0, True]
BAD_COUNT = [-1, 2.5, "3", None, NAN]
BAD_MATRIX = [[[1.0, 2.0], [0.0, 1.0]], [[NAN]], [INF], "1", None, [[1.0, 2.0]], [], [[1.0], [1.0, 2.0]]]

_RNG = np.random.default_rng(0)
X, Y = _RNG.normal(size=(24, 4)), _RNG.integers(0, 3, 24)
XT, YT = _RNG.normal(size=(8, 4)), _RNG.integers(0, 3, 8)
NETS = {"x_train": X, "y_train": Y, "batch_size": 4, "hidden": 6, "dtype": torch.float64, "device": "cpu"}


def _finite_quadratic(**k):
    return S.quadratic_moments(**k)


def _div_moments(eta, beta):  # a run whose moments overflow: loss inf from some step on
    return S.quadratic_moments([1.0], [1.0], [1.0], eta, beta, 600)


GOOD_RUN = S.quadratic_moments([1.0], [1.0], [1.0], 0.1, 0.0, 10)


def _ensemble(lrs=(0.1, 0.1), seeds=(0, 1), momenta=None, model_fn="mlp", optimizer="sgd", steps=6,
              diverged_accuracy="last"):
    fn = (lambda s: mlp([4, 6, 3], seed=s, dtype=torch.float64)) if model_fn == "mlp" else model_fn
    data = {"x_train": X, "y_train": Y, "x_test": XT, "y_test": YT}
    cfg = TrainConfig(optimizer=optimizer, lr=0.1, steps=steps, batch_size=4, eval_every=2, check_every=1)
    return train_ensemble(fn, data, cfg, seeds=seeds, lrs=lrs, momenta=momenta, diverged_accuracy=diverged_accuracy)


SPECS = [
    # ---------------------------------------------------------------- sgdlab.sde.sgdm
    Spec("sgdlab.sde.sgdm.sgdm_matrices", S.sgdm_matrices,
         {"hessian": [1.0, 2.0], "noise_cov": [1.0, 1.0], "effective_lr": 0.1, "momentum": -0.5, "svag_l": 2},
         {"hessian": BAD_MATRIX, "noise_cov": BAD_MATRIX + [[1.0, 1.0, 1.0]], "effective_lr": BAD_POSITIVE,
          "momentum": BAD_MOMENTUM, "svag_l": [0, -1, 1.5, "2", None, True]}),
    Spec("sgdlab.sde.sgdm.quadratic_moments", _finite_quadratic,
         {"hessian": [1.0, 4.0], "noise_cov": [1.0, 1.0], "x0": [1.0, -1.0], "effective_lr": 0.05,
          "momentum": 0.5, "steps": 20, "svag_l": 1, "record_every": 5},
         {"hessian": BAD_MATRIX, "noise_cov": BAD_MATRIX, "x0": [[1.0], [NAN, 1.0], "ab", None, [1.0, 2.0, 3.0]],
          "effective_lr": BAD_POSITIVE, "momentum": BAD_MOMENTUM, "steps": BAD_COUNT,
          "svag_l": [0, 1.5, None], "record_every": [0, -1, 1.5, None]},
         diverge=(st.fixed_dictionaries({"hessian": st.just([1.0]), "noise_cov": st.just([1.0]), "x0": st.just([1.0]),
                                         "effective_lr": st.floats(50.0, 1e3), "momentum": st.floats(-0.5, 0.5),
                                         "steps": st.integers(300, 600)}),
                  lambda r: r["diverged"] and np.isinf(r["loss"][-1]) and np.all(np.isinf(r["cov"][-1])))),
    Spec("sgdlab.sde.sgdm.ou_moments", S.ou_moments,
         {"hessian": [1.0, 0.0], "noise_cov": [1.0, 1.0], "x0": [1.0, 1.0], "times": [0.0, 1.0], "effective_lr": 0.1},
         {"hessian": BAD_MATRIX + [[-1.0, 1.0]], "noise_cov": BAD_MATRIX, "x0": [[1.0], [NAN, 0.0], None],
          "times": [[-1.0], [NAN], [INF], [[1.0]], "1", None], "effective_lr": BAD_POSITIVE}),
    Spec("sgdlab.sde.sgdm.weak_gap", S.weak_gap,
         {"a": GOOD_RUN, "b": GOOD_RUN, "t_min": 0.0, "t_max": 1.0},
         {"a": [None, {}, {"time": [0.0]}, {"time": [0.0, 1.0], "loss": [0.0]}, {"time": [NAN], "loss": [0.0]},
                {"time": [0.0], "loss": [NAN]}, "a"],
          "b": [None, {"loss": [1.0]}, {"time": "x", "loss": [1.0]}],
          "t_min": [NAN, INF, None, "0", 5.0], "t_max": [NAN, None, -1.0, "1"]},
         diverge=(st.builds(lambda eta: {"a": _div_moments(eta, 0.0), "b": _div_moments(eta, 0.3), "t_max": INF},
                            st.floats(50.0, 1e3)),
                  lambda g: math.isinf(g))),
    Spec("sgdlab.sde.sgdm.stationary_variance", S.stationary_variance,
         {"curvature": [1.0, 3.0], "noise_var": 1.0, "effective_lr": 0.1, "momentum": -0.3, "svag_l": 2},
         {"curvature": NOT_A_NUMBER[:5] + [0.0, -1.0, [1.0, -1.0], True],
          "noise_var": NOT_A_NUMBER[:5] + [-1.0, [1.0, 2.0, 3.0]],
          "effective_lr": NOT_A_NUMBER[:5] + [0.0, -1.0], "momentum": [NAN, INF, 1.0, -1.0, "0.5", None, [0.1, 1.2]],
          "svag_l": [0.5, NAN, INF, None, "2"]},
         diverge=(st.fixed_dictionaries({"curvature": st.just(1.0), "effective_lr": st.floats(6.0, 1e300),
                                         "momentum": st.floats(-0.99, 0.5)}),
                  lambda v: np.all(np.isinf(v)))),
    Spec("sgdlab.sde.sgdm.stationary_covariance", S.stationary_covariance,
         {"hessian": [1.0, 2.0], "noise_cov": [1.0, 1.0], "effective_lr": 0.1, "momentum": -0.5, "full_state": True},
         {"hessian": BAD_MATRIX, "noise_cov": BAD_MATRIX, "effective_lr": BAD_POSITIVE, "momentum": BAD_MOMENTUM,
          "svag_l": [0, 1.5], "full_state": [None, 1, "yes"]},
         diverge=(st.fixed_dictionaries({"effective_lr": st.floats(6.0, 1e300), "momentum": st.floats(-0.99, 0.5),
                                         "full_state": st.booleans()}),
                  lambda c: np.all(np.isinf(c)))),
    Spec("sgdlab.sde.sgdm.spectral_radius", S.spectral_radius, {"matrix": [[0.5, 1.0], [0.0, 0.2]]},
         {"matrix": [[[NAN]], [1.0, 2.0], [[1.0, 2.0]], [], "1", None, [[INF, 0.0], [0.0, 1.0]]]}),
    Spec("sgdlab.sde.sgdm.max_stable_effective_lr", S.max_stable_effective_lr,
         {"curvature": 2.0, "momentum": -0.5, "tol": 1e-6},
         {"curvature": BAD_POSITIVE, "momentum": BAD_MOMENTUM, "tol": [0.0, 1.0, -1.0, NAN, "1e-6", None]}),
    Spec("sgdlab.sde.sgdm.max_stable_lr", S.max_stable_lr, {"curvature": 2.0, "momentum": 0.5},
         {"curvature": [0.0, NAN], "momentum": [1.0, NAN]}),
    Spec("sgdlab.sde.sgdm.svag_coefficients", S.svag_coefficients, {"svag_l": 4},
         {"svag_l": [0, -2, 1.5, "2", None, True, NAN]}),
    Spec("sgdlab.sde.sgdm.simulate_quadratic", S.simulate_quadratic,
         {"curvature": 1.0, "noise_var": 1.0, "effective_lr": 0.5, "momentum": -0.5, "svag_l": 1, "n_chains": 4,
          "burn_in": 0, "samples": 20, "seed": 0},
         {"curvature": BAD_POSITIVE, "noise_var": NOT_A_NUMBER + [-1.0], "effective_lr": BAD_POSITIVE,
          "momentum": BAD_MOMENTUM, "svag_l": [0, 1.5], "n_chains": [1, 0, 2.5, None], "burn_in": BAD_COUNT,
          "samples": [19, 0, 20.5, None], "seed": [-1, 1.5, "0", None]},
         diverge=(st.fixed_dictionaries({"effective_lr": st.floats(6.0, 1e6), "momentum": st.floats(-0.9, 0.5),
                                         "burn_in": st.integers(0, 50)}),
                  lambda r: r["diverged"] and math.isinf(r["var"]) and math.isinf(r["sem"]))),
    Spec("sgdlab.sde.sgdm.simulate_label_noise", S.simulate_label_noise,
         {"effective_lr": 0.2, "momenta": [0.0, -0.5, 0.9], "times": [0.04, 0.08], "n_chains": 3, "seed": 0},
         {"effective_lr": BAD_POSITIVE, "momenta": [[], [1.0], [NAN], [-1.0], "0.5", None, [[0.1]], ["a"]],
          "times": [[], [0.0], [-1.0], [NAN], [INF], [0.08, 0.04], "1", None],
          "noise_std": NOT_A_NUMBER + [-1.0], "x0": [[1.0], [1.0, 1.0], [NAN, 1.0], "ab", None],
          "n_chains": [0, 1.5, None], "seed": [-1, 1.5, None], "lr": [0.0, -1.0, NAN, "1"],
          "clock_effective_lr": [0.0, -1.0, NAN, INF, "1", 1e-200]},
         diverge=(st.fixed_dictionaries({"effective_lr": st.floats(3.0, 1e3), "clock_effective_lr": st.just(0.1),
                                         "times": st.just([0.5])}),
                  lambda r: bool(np.all(r["diverged"])) and np.all(np.isinf(r["log_ratio"])))),
    # ---------------------------------------------------------------- sgdlab.sde.momentum_compare
    Spec("sgdlab.sde.momentum_compare.quadratic_runs", mc.quadratic_runs,
         {"hessian": [1.0, 4.0], "x0": [1.0, 1.0], "horizon": 0.5, "effective_lr": 0.05, "momentum": -0.5},
         {"hessian": BAD_MATRIX, "x0": [[1.0], [NAN, 1.0], None], "horizon": BAD_POSITIVE + [1e9],
          "effective_lr": BAD_POSITIVE, "momentum": BAD_MOMENTUM},
         diverge=(st.fixed_dictionaries({"effective_lr": st.floats(10.0, 30.0), "momentum": st.floats(-0.3, 0.3),
                                         "horizon": st.just(6000.0)}),
                  lambda r: r["sgd"]["diverged"] and r["naive"]["diverged"] and np.isinf(r["sgd"]["loss"][-1]))),
    Spec("sgdlab.sde.momentum_compare.weak_gaps", mc.weak_gaps,
         {"hessian": [1.0, 4.0], "x0": [1.0, 1.0], "horizon": 0.2, "effective_lrs": [0.05, 0.1],
          "momentum_of": lambda e: -0.5, "t_min": 0.1},
         {"effective_lrs": [[], [0.0], [NAN], [-0.1], "0.1", None, [[0.1]]], "horizon": [0.0, NAN, None],
          "momentum_of": [None, 0.9, lambda e: 1.0, lambda e: NAN, lambda e: "0.9"], "t_min": [-1.0, NAN, None, "0"]},
         names={"momentum_of": "momentum"},
         diverge=(st.fixed_dictionaries({"effective_lrs": st.lists(st.floats(10.0, 30.0), min_size=1, max_size=2),
                                         "horizon": st.just(6000.0), "momentum_of": st.just(lambda e: 0.0),
                                         "t_min": st.just(0.0)}),
                  lambda g: np.all(np.isinf(g["sgdm"])) and np.all(np.isinf(g["naive"])))),
    Spec("sgdlab.sde.momentum_compare.paired_relative_gap", mc.paired_relative_gap,
         {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.0, 2.5]},
         {"a": [[1.0], [NAN, 1.0, 1.0], [0.0, 0.0, 0.0], "abc", None, [[1.0, 2.0, 3.0]]], "b": [[1.0, 2.0], None, "x"]},
         diverge=(st.builds(lambda v: {"b": [1.0, v, 2.0]}, st.sampled_from([INF, -INF])),
                  lambda r: math.isinf(r[0]) and math.isinf(r[1]))),
    Spec("sgdlab.sde.momentum_compare.paired_difference", mc.paired_difference,
         {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.0, 2.5]},
         {"a": [[1.0], [NAN, 1.0, 1.0], "abc", None], "b": [[1.0, 2.0], [1.0, NAN, 1.0], None]},
         diverge=(st.builds(lambda v: {"a": [v, 1.0, 2.0]}, st.sampled_from([INF, -INF, 1e308])),
                  lambda r: math.isinf(r[0]) or math.isinf(r[1]))),
    Spec("sgdlab.sde.momentum_compare.sgd_vs_sgdm", mc.sgd_vs_sgdm,
         {**NETS, "x_test": XT, "y_test": YT, "effective_lrs": [0.2], "horizon": 0.6, "seeds": [0, 1],
          "momentum": -0.3, "control": True},
         {"effective_lrs": [[], [0.0], [NAN], "0.1", None], "horizon": BAD_POSITIVE + [1e9],
          "seeds": [[0], [0, -1], [0, 1.5], None, "01"], "momentum": BAD_MOMENTUM, "control": [None, "yes"]},
         diverge=(st.fixed_dictionaries({"effective_lrs": st.lists(st.floats(1e5, 1e6), min_size=1, max_size=1),
                                         "horizon": st.just(2e7)}),
                  lambda r: all(v["diverged"].all() and np.all(np.isinf(v["train_loss"]["sgd"])) for v in r.values()))),
    Spec("sgdlab.sde.momentum_compare.equal_lr_comparison", mc.equal_lr_comparison,
         {**NETS, "lr": 0.05, "seeds": [0, 1], "steps": 8, "momentum": 0.5, "record_every": 2},
         {"lr": BAD_POSITIVE, "seeds": [[0], None, [0, -1]], "steps": [3, 4.5, None, "8"], "momentum": BAD_MOMENTUM,
          "late_from": [-1, 9, 2.5], "record_every": [0, 1.5, None]},
         diverge=(st.fixed_dictionaries({"lr": st.floats(1e5, 1e7), "steps": st.integers(10, 20)}),
                  lambda r: r["diverged"].all() and all(np.all(np.isinf(v)) for v in r["late"].values()))),
    # ---------------------------------------------------------------- sgdlab.sde.sgdm_nets
    Spec("sgdlab.sde.sgdm_nets.train_mlp_ensemble", train_mlp_ensemble,
         {**NETS, "x_test": XT, "y_test": YT, "effective_lr": [0.1, 0.2], "momentum": [0.0, -0.5], "seeds": 0,
          "steps": 3},
         {"effective_lr": [[0.0], [NAN], [INF], [-0.1], "0.1", None, [0.1, 0.1, 0.1]],
          "momentum": [[1.0], [-1.0], [NAN], "0.5", None], "seeds": [-1, 1.5, None, "0"],
          "steps": [0, 2.5, None, [1, 2, 3]], "batch_size": [0, 1.5, None], "hidden": [0, -1, None],
          "x_train": [X[:, 0], np.full((24, 4), NAN), "x", None], "y_train": [Y[:5], Y + 0.5, -Y - 1],
          "x_test": [XT[:, :2], None], "record_steps": [[-1], [10], [1.5], "1"]},
         diverge=(st.fixed_dictionaries({"effective_lr": st.floats(1e5, 1e8), "steps": st.integers(5, 15)}),
                  lambda r: r["diverged"].all() and np.all(np.isinf(r["train_loss"])))),
    # ---------------------------------------------------------------- sgdlab.train.ensemble
    Spec("sgdlab.train.ensemble.train_ensemble", _ensemble, {},
         {"lrs": [(0.1, NAN), (0.1, -1.0), ("0.1", 0.1), (0.1,), (0.1, None), (0.1, INF)],
          "seeds": [None, (0, -1), (0, 1.5), "01", ()], "model_fn": [None, 3],
          "momenta": [(0.0, 1.0), (0.0, NAN), (0.0, "0.5")], "diverged_accuracy": ["zero", None]},
         diverge=(st.builds(lambda lr, steps: {"lrs": (0.1, lr), "steps": steps}, st.floats(1e5, 1e9),
                            st.integers(6, 12)),
                  lambda r: list(r.diverged) == [False, True] and np.isinf(r.history["train_loss"][-1, 1]))),
]


def test_bad_inputs_are_value_errors_naming_the_parameter():
    run_bad_inputs(SPECS, per_parameter=3)()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.diverge], ids=lambda s: s.name)
def test_divergence_is_a_flag_and_inf(spec):
    run_divergence(spec, max_examples=4)()


def test_negative_momentum_is_accepted_where_the_mathematics_allows():
    # the stationary variance, the Lyapunov solution and Monte Carlo agree at β < 0
    for beta in (-0.3, -0.8):
        f = S.stationary_variance(2.0, 1.0, 0.1, beta)
        assert S.stationary_covariance([2.0], [1.0], 0.1, beta)[0, 0] == pytest.approx(f, rel=1e-10)
        assert S.max_stable_effective_lr(2.0, beta) == pytest.approx(2 * (1 + beta) / ((1 - beta) * 2.0), rel=1e-8)
    full = S.stationary_covariance([2.0, 1.0], [1.0, 0.5], 0.1, -0.3, full_state=True)
    a, q = S.sgdm_matrices([2.0, 1.0], [1.0, 0.5], 0.1, -0.3)
    np.testing.assert_allclose(full, a @ full @ a.T + q, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(full[:2, :2], S.stationary_covariance([2.0, 1.0], [1.0, 0.5], 0.1, -0.3))
