"""Property-based checks of sgdlab.rmt and of the sgdlab.hessian functions that take plain inputs
(see tests/prop_harness.py): bad input is a ValueError naming the parameter; a divergent setting is a
flag and ``inf``, never NaN and never a warning."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from prop_harness import NOT_A_NUMBER, Spec, run_bad_inputs, run_divergence
from sgdlab import hessian, rmt

NAN, INF = float("nan"), float("inf")
_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(32, 4))
Y = X @ np.array([1.0, -0.5, 0.2, 0.0]) + 0.1 * _RNG.normal(size=32)
EIGS = np.array([1.0, 0.5, 0.2])
LAM_MAX = float(np.linalg.eigvalsh(X.T @ X / len(X))[-1])
BAD_X = [np.zeros((32, 4)), [[NAN, 1.0]], [1.0, 2.0, 3.0], "x", None, [[1.0, 2.0], [3.0]]]
BAD_SEED = [-1, 1.5, "0", None]
POS = NOT_A_NUMBER + [0.0, -1.0]  # a parameter that must be a finite number > 0

NET = rmt.TanhMLP(2, 3, 2)
THETA = NET.init(0)
XN = _RNG.normal(size=(12, 2))
YN = _RNG.integers(0, 2, 12)
_SYM = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 0.5]])
_EV, _VEC = np.linalg.eigh(_SYM)
_EPS = 0.01 * (_SYM - np.diag(np.diag(_SYM)))

SPECS = [
    # ---- limiting laws
    Spec("sgdlab.rmt.semicircle_density", rmt.semicircle_density, {"x": [0.0, 1.0], "sigma": 1.0},
         {"sigma": POS, "x": [[NAN], "x", None, [1.0, [2.0]]]}),
    Spec("sgdlab.rmt.semicircle_stieltjes", rmt.semicircle_stieltjes, {"z": [3.0, 1j], "sigma": 1.0},
         {"sigma": POS, "z": [NAN, INF, [1.0, NAN], "z", None]}),
    Spec("sgdlab.rmt.semicircle_r_transform", rmt.semicircle_r_transform, {"g": [0.1], "sigma": 1.0},
         {"sigma": POS, "g": [NAN, "g", None]}),
    Spec("sgdlab.rmt.mp_edges", rmt.mp_edges, {"ratio": 0.5, "scale": 1.0}, {"ratio": POS, "scale": POS}),
    Spec("sgdlab.rmt.mp_density", rmt.mp_density, {"x": [1.0], "ratio": 0.5},
         {"ratio": POS, "scale": POS, "x": [[NAN], "x", None]}),
    Spec("sgdlab.rmt.mp_stieltjes", rmt.mp_stieltjes, {"z": [3.0], "ratio": 0.5},
         {"ratio": POS, "scale": POS, "z": [0.0, [1.0, 0.0], NAN, "z", None]}),
    Spec("sgdlab.rmt.empirical_stieltjes", rmt.empirical_stieltjes, {"z": [3.0, 4.0], "eigs": [1.0, 2.0]},
         {"eigs": [[], [NAN, 1.0], "e", None, np.ones((3, 2))], "z": [NAN, 1.0, "z", None]}),
    # ---- spiked matrices
    Spec("sgdlab.rmt.wigner_outlier", rmt.wigner_outlier, {"theta": [0.5, 2.0]},
         {"theta": [-1.0, NAN, [INF], "t", None], "sigma": POS}),
    Spec("sgdlab.rmt.wigner_overlap", rmt.wigner_overlap, {"theta": [0.5, 2.0]},
         {"theta": [-1.0, NAN, [INF], "t", None], "sigma": POS}),
    Spec("sgdlab.rmt.wishart_outlier", rmt.wishart_outlier, {"spike": [2.0, 5.0], "ratio": 0.5},
         {"spike": [0.0, -1.0, NAN, "s", None], "ratio": POS, "scale": POS}),
    Spec("sgdlab.rmt.wishart_overlap", rmt.wishart_overlap, {"spike": [5.0, 6.0], "ratio": [0.5, 0.6]},
         {"ratio": [0.0, NAN, [INF], "r", None, [0.5, 0.6, 0.7]], "spike": [0.0, NAN, "s"], "scale": POS},
         names={}),
    Spec("sgdlab.rmt.free_addition_outlier", rmt.free_addition_outlier, {"theta": 2.0, "noise_eigs": [-1.0, 0.0, 1.0]},
         {"theta": [0.0, -1.0, NAN, "t", None], "noise_eigs": [[], [NAN], "e", None], "tol": [0.0, -1.0, NAN, 2.0]}),
    Spec("sgdlab.rmt.batch_hessian_outlier", rmt.batch_hessian_outlier,
         {"eig": 5.0, "dim": 10, "element_var": 1.0, "batch_size": [4, 8], "n_samples": 100},
         {"dim": [0, 2.5, "3", None, True], "element_var": NOT_A_NUMBER + [-1.0], "batch_size": [0.5, NAN, "b", [200]],
          "n_samples": [0, 2.5, "n"], "eig": [NAN, "e", None, [1.0, 2.0, 3.0]]}),
    Spec("sgdlab.rmt.goe_tridiagonal", rmt.goe_tridiagonal, {"dim": 5, "reps": 2},
         {"dim": [1, 2.5, "5", None], "reps": [0, 1.5], "method": ["qr", None], "sigma": POS, "seed": BAD_SEED}),
    Spec("sgdlab.rmt.spiked_goe_top", rmt.spiked_goe_top, {"dim": 5, "theta": [0.5, 2.0], "reps": 2},
         {"theta": [NAN, "t", [[1.0]]], "dim": [1, 2.5], "reps": [0]}),
    Spec("sgdlab.rmt.spiked_wishart_top", rmt.spiked_wishart_top,
         {"dim": 5, "spike": 3.0, "batch_sizes": [4, 8], "reps": 2},
         {"batch_sizes": [[0], [1.5], NAN, "b", [[4]]], "spike": POS, "method": ["svd"],
          "return_overlap": ["yes", None], "seed": BAD_SEED, "dim": [1, 2.5]}),
    # ---- learning rate versus batch size
    Spec("sgdlab.rmt.max_lr_sgd", rmt.max_lr_sgd, {"batch_size": [4, 8], "eig": 2.0, "dim": 10, "element_var": 1.0},
         {"batch_size": [0, NAN, INF, "b", None], "eig": POS, "dim": [0, 1.5, "3"], "element_var": [-1.0, NAN, "v"],
          "n_samples": [0, "n", 2]}),
    Spec("sgdlab.rmt.critical_batch_size", rmt.critical_batch_size, {"eig": 2.0, "dim": 10, "element_var": 1.0},
         {"eig": POS, "dim": [0, 1.5], "element_var": [-1.0, NAN, "v"]}),
    Spec("sgdlab.rmt.max_lr_adam", rmt.max_lr_adam,
         {"batch_size": [4], "eig": 2.0, "dim": 10, "element_var": 1.0, "grad_var": 1.0},
         {"grad_var": [-1.0, NAN, "g"], "eps": [-1.0, NAN], "grad_mean": [NAN, "m", None], "batch_size": [0]}),
    Spec("sgdlab.rmt.ms_threshold", rmt.ms_threshold, {"batch_size": [1, 4], "eigs": EIGS},
         {"eigs": [[], [-1.0], [0.0], [NAN], "e", [[1.0]], None], "batch_size": [0, NAN, INF, "b"],
          "tol": [0.0, NAN, 2.0]}),
    Spec("sgdlab.rmt.ms_threshold_empirical", rmt.ms_threshold_empirical, {"x": X, "batch_size": [2, 8]},
         {"x": BAD_X, "batch_size": [0, [[2]], NAN]}),
    Spec("sgdlab.rmt.expected_top_eig", rmt.expected_top_eig, {"x": X, "batch_size": [2, 4], "draws": 3},
         {"draws": [0, 1.5, "3"], "batch_size": [1.5, 0, NAN], "x": BAD_X[1:], "seed": BAD_SEED}),
    Spec("sgdlab.rmt.lyapunov_exponents", rmt.lyapunov_exponents,
         {"x": X, "batch_size": [2, 4], "lrs": [0.01, 0.1], "steps": 30, "burn": 10},
         {"lrs": [[-1.0], [NAN], "l", np.ones((3, 2)), []], "momentum": [1.0, -0.1, NAN, "0.5"],
          "steps": [0, 2.5, "30"], "burn": [-1, 30, 40], "renorm_every": [0, 1.5], "seed": BAD_SEED, "x": BAD_X[1:],
          "batch_size": [0, 1.5]},
         diverge=(st.fixed_dictionaries({"lrs": st.lists(st.floats(1e3, 1e300), min_size=1, max_size=3)}),
                  lambda r: bool(np.all(r > 0)))),
    Spec("sgdlab.rmt.lyapunov_threshold", rmt.lyapunov_threshold,
         {"x": X, "batch_sizes": [2, 4], "steps": 30, "burn": 10, "grid": 3, "rounds": 1},
         {"grid": [2, 3.5], "rounds": [0, 1.5], "chains": [0, 1.5, "2"], "return_se": ["yes", None],
          "lo": [0.0, -1.0, NAN, "a"], "hi": [NAN, 0.0], "steps": [0], "burn": [30], "batch_sizes": [[0]],
          "x": BAD_X, "seed": BAD_SEED}),
    # ---- Adam versus SGD
    Spec("sgdlab.rmt.lr_sweep_least_squares", rmt.lr_sweep_least_squares,
         {"x": X, "y": Y, "batch_sizes": [4], "lrs": [0.01, 0.1], "steps": 20, "seeds": (0,), "record_every": 5,
          "optimizer": "sgd"},
         {"optimizer": ["adamw", None], "y": [Y[:5], np.r_[Y[:-1], NAN], "y"], "lrs": [[0.0], [-1.0], [NAN]],
          "steps": [0, 2.5], "average_last": [0.0, 1.5, NAN], "betas": [(0.9,), (1.0, 0.9), "ab"],
          "eps": [-1.0, NAN], "seeds": [[], [-1], [1.5]], "w0": [np.zeros(3), [NAN] * 4], "record_every": [0],
          "blowup": [1.0, NAN], "batch_sizes": [[0]], "x": BAD_X[1:]},
         diverge=(st.fixed_dictionaries({"lrs": st.lists(st.floats(1e3, 1e200), min_size=1, max_size=3),
                                         "optimizer": st.sampled_from(["sgd", "adam"])}),
                  lambda r: bool(r["diverged"].all() and np.isinf(r["excess"]).all()))),
    Spec("sgdlab.rmt.largest_usable_lr", rmt.largest_usable_lr,
         {"lrs": [0.1, 0.2, 0.4], "excess": [0.1, 0.5, 3.0], "threshold": 1.0},
         {"lrs": [[0.1, 0.1, 0.2], [NAN, 1.0, 2.0], "l", [0.1, 0.2]], "excess": [[NAN, 1.0, 2.0], "e", []],
          "threshold": [0.0, -1.0, NAN, "t"]}),
    Spec("sgdlab.rmt.ms_excess_ratio", rmt.ms_excess_ratio, {"lr": [0.1], "batch_size": [4], "eigs": EIGS},
         {"lr": [-1.0, NAN, "l"], "batch_size": [0, NAN], "eigs": [[], [-1.0], [NAN]]},
         diverge=(st.fixed_dictionaries({"lr": st.floats(10.0, 1e300)}), lambda r: bool(np.all(np.isinf(r))))),
    Spec("sgdlab.rmt.ms_usable_lr", rmt.ms_usable_lr, {"batch_size": [4], "eigs": EIGS},
         {"ratio": POS, "tol": [0.0, NAN, 2.0], "eigs": [[0.0], [NAN]], "batch_size": [0]}),
    Spec("sgdlab.rmt.adam_usable_lr_frozen", rmt.adam_usable_lr_frozen,
         {"batch_size": [4], "cov": np.diag([1.0, 0.5]), "loss_min": 0.1},
         {"cov": [[[1.0, 2.0], [0.0, 1.0]], [[NAN]], np.ones(3), np.zeros((2, 2))], "loss_min": POS,
          "ratio": POS}),
    # ---- the SLQ learner
    Spec("sgdlab.rmt.GramOperator", rmt.GramOperator, {"x": X}, {"x": BAD_X[1:]}),
    Spec("sgdlab.rmt.step_size_rules", rmt.step_size_rules, {"theta": [0.1, 1.0, 2.0], "weights": [0.2, 0.3, 0.5]},
         {"theta": [[], [NAN, 1.0, 2.0], "t", [0.0, 0.0, 0.0]], "weights": [[1.0, 2.0], [-0.1, 0.5, 0.6], [NAN, 0, 0]],
          "safety": [0.0, 1.5, NAN, "s"]}),
    Spec("sgdlab.rmt.slq_learning_rates", rmt.slq_learning_rates, {"x": X, "curvature_batches": [8, 32], "draws": 2, "m": 3},
         {"curvature_batches": [[0], [33], [1.5]], "draws": [0], "m": [1], "seed": BAD_SEED, "safety": [0.0],
          "x": BAD_X}),
    Spec("sgdlab.rmt.heavy_ball_edge_ratio", rmt.heavy_ball_edge_ratio, {"lr": 0.1, "beta": 0.5, "lam_max": 2.0},
         {"lr": [-1.0, NAN, "l"], "beta": [1.0, -0.1, NAN], "lam_max": [0.0, NAN, "a"]}),
    Spec("sgdlab.rmt.momentum_sgd_least_squares", rmt.momentum_sgd_least_squares,
         {"x": X, "lrs": [0.01, 0.1], "betas": 0.5, "batch_size": 4, "steps": 20},
         {"lrs": [[-1.0], [NAN], np.ones((2, 2))], "betas": [1.0, [0.1, 0.2, 0.3]], "batch_size": [0, 33, 2.5],
          "steps": [0], "seeds": [[], [-1]], "record_every": [-1, 1.5], "blowup": [0.0, NAN], "x": BAD_X[1:]},
         diverge=(st.fixed_dictionaries({"lrs": st.lists(st.floats(10.0, 1e300), min_size=1, max_size=3),
                                         "record_every": st.sampled_from([0, 5])}),
                  lambda r: bool(r["diverged"].all() and np.isinf(r["final_norm"]).all()))),
    # full-batch heavy ball just above its edge 2(1 + β)/λ_max: the iterates grow geometrically
    Spec("sgdlab.rmt.momentum_sgd_least_squares", rmt.momentum_sgd_least_squares,
         {"x": X, "lrs": [0.01], "betas": 0.0, "batch_size": 32, "steps": 400},
         diverge=(st.fixed_dictionaries({"lrs": st.lists(st.floats(1.2, 3.0).map(lambda f: f * 2 / LAM_MAX),
                                                         min_size=1, max_size=3)}),
                  lambda r: bool(r["diverged"].all() and np.isinf(r["final_norm"]).all()))),
    # ---- exact Hessians of a tanh network
    Spec("sgdlab.rmt.TanhMLP", rmt.TanhMLP, {"n_in": 2, "n_hidden": 3, "n_classes": 2},
         {"n_in": [0, 1.5, "2", None, True], "n_hidden": [0], "n_classes": [-1]}),
    Spec("sgdlab.rmt.TanhMLP.hessian", NET.hessian, {"theta": THETA, "x": XN, "y": YN},
         {"x": [[[NAN, 1.0]] * 12, np.ones((12, 3))], "y": [np.full(12, 5), np.full(12, 0.5), YN[:3]],
          "theta": [THETA[:3], "t"]}),
    Spec("sgdlab.rmt.TanhMLP.train_sgd", NET.train_sgd,
         {"theta": THETA, "x": XN, "y": YN, "lr": 0.1, "batch_size": 4, "epochs": 1},
         {"lr": POS, "batch_size": [0, 1.5], "epochs": [-1, 1.5], "seed": BAD_SEED, "theta": [THETA[:3]]}),
    Spec("sgdlab.rmt.batch_hessian_fluctuation", rmt.batch_hessian_fluctuation,
         {"batch_size": [4], "per_sample_sqnorm_mean": 2.0, "full_sqnorm": 1.0, "n_samples": 32},
         {"n_samples": [1, 2.5], "batch_size": [0, 40, NAN], "per_sample_sqnorm_mean": [NAN, 0.5, "m"],
          "full_sqnorm": [NAN, -1.0]}),
    Spec("sgdlab.rmt.sample_batch_hessians", rmt.sample_batch_hessians,
         {"net": NET, "theta": THETA, "x": XN, "y": YN, "batch_sizes": [4], "draws": 1, "spectrum_draws": 1},
         {"net": ["mlp", None], "batch_sizes": [[0], [100], [1.5]], "draws": [0, [1, 2]], "spectrum_draws": [-1],
          "seed": BAD_SEED, "theta": [THETA[:3]]}),
    Spec("sgdlab.rmt.second_order_shift", rmt.second_order_shift, {"eigs": _EV, "vecs": _VEC, "eps": _EPS},
         {"eigs": [[1.0], [NAN, 1.0, 2.0], "e"], "vecs": [np.eye(2), [[NAN] * 3] * 3], "eps": [np.eye(2), [[NAN]]]}),
    Spec("sgdlab.rmt.field_dependent_shift", rmt.field_dependent_shift,
         {"eigs": _EV, "vecs": _VEC, "per_sample_hu": _RNG.normal(size=(5, 3)), "batch_size": [2], "n_samples": 5},
         {"per_sample_hu": [np.ones((3, 2)), [[NAN] * 3]], "n_samples": [1, 2.5], "batch_size": [0, NAN, 6]}),
    # ---- sgdlab.hessian on plain inputs
    Spec("sgdlab.hessian.DenseOperator", hessian.DenseOperator, {"matrix": _SYM},
         {"matrix": [[[1.0, 2.0], [3.0, 4.0]], np.ones(3), [[NAN]], "m", None, np.zeros((0, 0))],
          "dtype": [torch.int64, "float"]}),
    Spec("sgdlab.hessian.lanczos", hessian.lanczos, {"op": _SYM, "m": 3},
         {"m": [0, 1.5], "v0": [np.zeros(3), [NAN] * 3, np.ones(2), "v"], "seed": BAD_SEED[:2],
          "breakdown_tol": [0.0, NAN, 2.0], "callback": ["c"], "op": [np.ones((2, 3)), [[NAN]]]},
         names={"op": "matrix"}),
    Spec("sgdlab.hessian.top_eigenpairs", hessian.top_eigenpairs, {"op": _SYM, "k": 1},
         {"k": [0, 4, 1.5], "which": ["BE", None], "tol": [0.0, NAN, -1.0], "max_iter": [0], "min_iter": [0]}),
    Spec("sgdlab.hessian.power_iteration", hessian.power_iteration, {"op": _SYM},
         {"tol": [0.0, NAN, "t"], "max_iter": [0, 1.5]}),
    Spec("sgdlab.hessian.slq", hessian.slq, {"op": _SYM, "m": 3, "n_probes": 2},
         {"n_probes": [0], "probes": [np.zeros((1, 3)), np.ones((1, 2)), [[NAN, 1.0, 1.0]]],
          "distribution": ["uniform", None], "seed": [-1]}),
    Spec("sgdlab.hessian.spectral_density", hessian.spectral_density,
         {"nodes": [1.0, 2.0], "weights": [0.5, 0.5], "grid": [0.0, 1.0], "sigma": 0.1},
         {"sigma": POS, "nodes": [[INF, 1.0], "n"], "weights": [[-1.0, 2.0], [NAN, 1.0], [1.0]],
          "grid": [[NAN], "g"]}),
    Spec("sgdlab.hessian.hutchinson_trace", hessian.hutchinson_trace, {"op": _SYM, "n_probes": 3},
         {"n_probes": [0, 1.5], "distribution": [None, "uniform"], "seed": [-1]}),
    Spec("sgdlab.hessian.unflatten", hessian.unflatten, {"vec": torch.zeros(5), "like": [torch.zeros(2), torch.zeros(3)]},
         {"vec": [torch.zeros(4), torch.zeros(5, 1)]}),
]


def test_bad_inputs_are_value_errors_naming_the_parameter():
    run_bad_inputs(SPECS)()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.diverge], ids=lambda s: s.name)
def test_divergence_is_a_flag_and_inf(spec):
    run_divergence(spec, max_examples=5)()
