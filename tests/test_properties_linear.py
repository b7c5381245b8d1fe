"""Property-based checks of sgdlab.linear (see tests/prop_harness.py): every public function rejects bad input
with a ValueError naming the parameter, and every function with a learning rate reports divergence as a flag
and ``inf`` (never NaN, never a warning)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from prop_harness import Spec, check_bad_input, run_bad_inputs, run_divergence
from sgdlab import linear as L
from sgdlab.train import mlp

NAN, INF = float("nan"), float("inf")
#: values no real parameter (scalar or array) accepts
NOT_REAL = [NAN, INF, -INF, "1", None, 1 + 2j]
RAGGED = [[1.0, [2.0, 3.0]]]

# ---------------------------------------------------------------- small problems
K_MODES = np.arange(1, 21, dtype=np.float64)
LAM = K_MODES**-1.5
C = LAM * K_MODES**-1.0
BETA, GAMMA = 0.3, 0.1
CRIT = L.critical_lr(LAM, BETA, GAMMA, full=True)
LC, EDGE = CRIT["lr"], CRIT["mode_edge"]
LC0 = L.critical_lr(LAM, 0.0, GAMMA)
LC_MAX = float(np.max(L.critical_lr(LAM, np.array([0.0, 0.5]), GAMMA)))


def bad_modes(v):
    """Bad spectra / coefficient vectors derived from a valid one."""
    return [np.r_[v[:-1], NAN], np.r_[v[:-1], INF], -v, v.astype(complex) + 1e-3j, v[None, :], np.array([]),
            "x", None] + RAGGED


def bad_coefs(v):
    return [np.r_[v[:-1], NAN], -v, v[:-1], v.astype(complex), "x", None]


BAD_MULT = [np.zeros(LAM.size), -np.ones(LAM.size), np.ones(LAM.size + 1), np.full(LAM.size, NAN), "x"]
BAD_LR = [0.0, -1.0, NAN, INF, "0.5", None, 0.5 + 1j]
BAD_MOMENTUM = [1.0, -1.0, 1.5, NAN, INF, "0.3", 0.3 + 0j]
BAD_NOISE = [-0.1, NAN, INF, "0.1", None]
BAD_STEPS = [-1, 2.5, "3", None, NAN]
BAD_INT0 = [-1, 1.5, "0", None]

# power-law spectrum in the noise-dominated phase (ζ = 2 > 2 − 1/ν)
PL_LAM, PL_C, _ = L.power_law_modes(1.5, 3.0, 400)
PL_LC = L.critical_lr(PL_LAM, 0.0, 0.01)
PL = {"eigs": PL_LAM, "c": PL_C, "nu": 1.5, "kappa": 3.0, "lr": 0.5, "momentum": 0.0, "noise_factor": 0.01}

# a finite, rank-deficient kernel (rank 5 on 12 points) scaled to λ_max(K/N) = 1
N = 12
_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(N, 5))
_K = _X @ _X.T
_K = _K / np.linalg.eigvalsh(_K / N).max()
Y = _RNG.normal(size=N)
W, V = np.linalg.eigh(_K / N)            # raw eigh: round-off negatives ~ −1e-16 in the null space
PROB = L.kernel_problem(_K, Y)
FINITE = {"eigs": W, "vecs": V, "residual0": -Y, "lr": 0.5, "momentum": 0.3, "batch_size": 4, "steps": 10}

# a small network in NTK parametrisation
D_IN = 3
NET = mlp([D_IN, 8, 1], "relu", parametrization="ntk", seed=0, dtype=torch.float64)
XN = _RNG.normal(size=(6, D_IN))
YN = _RNG.normal(size=6)


def _net():
    return mlp([D_IN, 8, 1], "relu", parametrization="ntk", seed=0, dtype=torch.float64)


def inf_at_end(res):
    return bool(np.all(np.isinf(np.asarray(res)[..., -1])))


def all_inf(res):
    return bool(np.all(np.isinf(np.asarray(res))))


def lr_above(lo, hi, **extra):
    """Overrides with lr drawn from [lo, hi] (above the critical lr) and ``extra`` (values or strategies)."""
    return st.fixed_dictionaries({"lr": st.floats(lo, hi), **{
        k: v if isinstance(v, st.SearchStrategy) else st.just(v) for k, v in extra.items()}})


def last_time_inf(res):
    """(times, runs) arrays: every run is inf at the last recorded time."""
    return bool(np.all(np.isinf(np.asarray(res)[-1])))


def _linear_net():
    """A linear model (ReLU networks at huge lr die and stay finite instead of diverging)."""
    torch.manual_seed(0)
    return torch.nn.Linear(D_IN, 1, dtype=torch.float64)


SE = {"eigs": LAM, "c": C, "lr": 0.5, "momentum": BETA, "noise_factor": GAMMA}
GF = {"z": np.array([0.3, -0.5 + 0.2j]), "eigs": LAM, "lr": 0.5, "momentum": BETA, "noise_factor": GAMMA}
GRID_HYPER_BAD = {"lr": BAD_LR, "momentum": BAD_MOMENTUM, "noise_factor": BAD_NOISE,
                  "tau1": [NAN, INF, "1"], "tau2": [NAN, INF, "1"], "eigs": bad_modes(LAM), "mult": BAD_MULT}
#: the generating functions and the propagators take one point of the grid: a vector lr is a bad input
SCALAR_HYPER_BAD = {**GRID_HYPER_BAD, "lr": BAD_LR + [[0.5, 0.6]], "momentum": BAD_MOMENTUM + [[0.1, 0.2]]}

SPECS = [
    Spec("sgdlab.linear.noise_factor", L.noise_factor, {"batch_size": 4, "n_samples": 100},
         {"batch_size": [0, -1, 2.5, NAN, INF, "4", None, 1 + 2j] + RAGGED,
          "n_samples": [1, 3, 2.5, NAN, INF, "100", 1j]}),
    Spec("sgdlab.linear.transfer_matrix", L.transfer_matrix, {"a": 0.5, "momentum": BETA, "s": 0.1},
         {"a": NOT_REAL + RAGGED, "momentum": NOT_REAL, "s": NOT_REAL}),
    Spec("sgdlab.linear.se_loss", L.se_loss, {**SE, "steps": 20},
         {"eigs": bad_modes(LAM), "c": bad_coefs(C), "lr": BAD_LR, "momentum": BAD_MOMENTUM,
          "noise_factor": BAD_NOISE, "steps": BAD_STEPS, "tau1": [NAN, INF], "tau2": [NAN, "1"], "mult": BAD_MULT,
          "times": [[3, 1], [-1], [25], [0.5], [NAN], [], "x"], "diverge_at": [0.0, -1.0, NAN, "1"],
          "mode_tau2": [np.full(LAM.size, NAN), np.ones(3), "x"], "method": ["foo", None], "engine": ["gpu", None]},
         diverge=(lr_above(3 * LC, 100 * LC, steps=st.integers(400, 500)), inf_at_end)),
    Spec("sgdlab.linear.det_poly", L.det_poly, {"a": 0.5, "momentum": BETA, "s": 0.1, "z": 0.5 + 0.1j},
         {"a": NOT_REAL, "momentum": NOT_REAL, "s": NOT_REAL, "z": [NAN, INF, complex(NAN, 0), "1", None]}),
    Spec("sgdlab.linear.U_of_z", L.U_of_z, GF,
         {**SCALAR_HYPER_BAD, "z": [NAN, INF, complex(0, INF), "1", None]}),
    Spec("sgdlab.linear.V_of_z", L.V_of_z, {**GF, "c": C},
         {**{k: v for k, v in SCALAR_HYPER_BAD.items() if k != "tau1"}, "c": bad_coefs(C), "z": [NAN, "1"]}),
    Spec("sgdlab.linear.L_of_z", L.L_of_z, {**GF, "c": C},
         {**SCALAR_HYPER_BAD, "c": bad_coefs(C), "z": [NAN, None]}),
    Spec("sgdlab.linear.loss_from_genfun", L.loss_from_genfun, {**SE, "steps": 20},
         {**SCALAR_HYPER_BAD, "c": bad_coefs(C), "steps": BAD_STEPS, "oversample": [1, 0, 2.5, "8"],
          "eps": [0.0, 1.0, -1.0, NAN, "x", None], "chunk": [0, -1, 1.5]},
         diverge=(lr_above(1.01 * LC, 100 * LC), all_inf)),
    Spec("sgdlab.linear.mode_stable", L.mode_stable, {"a": 0.5, "momentum": BETA, "s": 0.1},
         {"a": NOT_REAL, "momentum": NOT_REAL, "s": NOT_REAL}),
    Spec("sgdlab.linear.U_at_one", L.U_at_one, {k: SE[k] for k in ("eigs", "lr", "momentum", "noise_factor")},
         GRID_HYPER_BAD,
         diverge=(lr_above(1.01 * LC, 1e3 * LC), lambda r: bool(np.all(r >= 1)))),   # the flag is U(1) >= 1
    Spec("sgdlab.linear.V_at_one", L.V_at_one, SE,
         {**{k: v for k, v in GRID_HYPER_BAD.items() if k != "tau1"}, "c": bad_coefs(C)},
         diverge=(lr_above(1.01 * EDGE, 1e3 * EDGE), all_inf)),
    Spec("sgdlab.linear.loss_sum", L.loss_sum, SE, {**GRID_HYPER_BAD, "c": bad_coefs(C)},
         diverge=(lr_above(1.01 * LC, 1e3 * LC), all_inf)),
    Spec("sgdlab.linear.critical_lr", L.critical_lr, {"eigs": LAM, "momentum": BETA, "noise_factor": GAMMA},
         {"eigs": bad_modes(LAM), "momentum": BAD_MOMENTUM, "noise_factor": BAD_NOISE, "tau1": [NAN, "1"],
          "tau2": [INF], "mult": BAD_MULT, "iters": [0, -1, 2.5, None], "full": ["yes", 1, None]}),
    Spec("sgdlab.linear.lambda_crit", L.lambda_crit, {"eigs": LAM},
         {"eigs": bad_modes(LAM) + [np.array([1.0])], "mult": BAD_MULT}),
    Spec("sgdlab.linear.effective_lr_limit", L.effective_lr_limit, {"eigs": LAM, "noise_factor": GAMMA},
         {"eigs": bad_modes(LAM), "noise_factor": [0.0] + BAD_NOISE + [[0.1, 0.2]], "tau1": [NAN, "1"],
          "tau2": [-1.0, NAN, None], "mult": BAD_MULT}),
    Spec("sgdlab.linear.propagators", L.propagators, {**SE, "steps": 10},
         {**SCALAR_HYPER_BAD, "c": bad_coefs(C), "steps": BAD_STEPS},
         diverge=(lr_above(100 * EDGE, 1e4 * EDGE, steps=300),
                  lambda r: bool(np.isinf(r[0][-1]) and np.isinf(r[1][-1])))),
    Spec("sgdlab.linear.renewal_loss", L.renewal_loss, {"U": np.r_[0.0, np.full(9, 0.05)], "V": np.ones(10)},
         {"U": [np.full(10, NAN), np.zeros(9), np.zeros((2, 5)), "x", np.zeros(10, complex), None],
          "V": [np.r_[np.ones(9), INF], np.ones(11), np.array([]), "x", None]},
         diverge=(st.floats(1.5, 10.0).map(lambda u: {"U": np.r_[0.0, np.full(999, u)], "V": np.ones(1000)}),
                  inf_at_end)),
    Spec("sgdlab.linear.power_law_modes", L.power_law_modes, {"nu": 1.5, "kappa": 1.0, "n_modes": 100},
         {"nu": [0.0, -1.0] + NOT_REAL, "kappa": [0.0, -1.0] + NOT_REAL, "n_modes": [0, -1, 2.5, "10", None],
          "n_exact": [10, 0], "n_bins": [5, -1], "lambda_max": [0.0, -1.0, NAN, INF, "1"],
          "c0": [0.0, -1.0, NAN, INF, "1"]}),
    Spec("sgdlab.linear.asymptotic_constants", L.asymptotic_constants,
         {"nu": 1.5, "kappa": 1.0, "lr": 0.5, "momentum": BETA, "noise_factor": GAMMA},
         {"nu": [1.0, 0.5] + NOT_REAL, "kappa": [0.0] + NOT_REAL, "lr": BAD_LR, "momentum": BAD_MOMENTUM,
          "noise_factor": BAD_NOISE, "lambda_max": [0.0, NAN, "1"], "c0": [0.0, NAN, None], "tau1": [NAN, INF]}),
    Spec("sgdlab.linear.loss_asymptotics", L.loss_asymptotics, {"t": np.array([10.0, 100.0]), **PL},
         {"t": [0.0, -1.0, NAN, INF, "1", None, np.array([1.0, NAN])], "eigs": bad_modes(PL_LAM),
          "c": bad_coefs(PL_C), "nu": [1.0, NAN, "1.5"], "kappa": [0.0, NAN], "lr": BAD_LR + [[0.5, 0.6]],
          "momentum": BAD_MOMENTUM, "noise_factor": BAD_NOISE, "tau2": [NAN, "1"], "lambda_max": [0.0]},
         diverge=(lr_above(1.01 * PL_LC, 1e3 * PL_LC), all_inf)),
    Spec("sgdlab.linear.transition_time", L.transition_time, PL,
         {"kappa": [0.75, 0.0, NAN, "3"], "nu": [1.0, NAN], "lr": [0.0, NAN], "momentum": [1.0],
          "noise_factor": [-1.0], "eigs": [-PL_LAM], "c": [PL_C[:-1]]},
         diverge=(lr_above(1.01 * PL_LC, 1e3 * PL_LC), all_inf)),
    Spec("sgdlab.linear.negative_momentum_condition", L.negative_momentum_condition,
         {"eigs": LAM, "c": C, "nu": 1.5},
         {"eigs": bad_modes(LAM), "c": bad_coefs(C), "nu": [1.0, 0.5] + NOT_REAL, "mult": BAD_MULT}),
    Spec("sgdlab.linear.local_exponent", L.local_exponent,
         {"times": [1.0, 10.0, 100.0, 1000.0], "loss": [1.0, 0.1, 0.01, 0.001]},
         {"times": [[1.0, 0.5, 2.0, 3.0], [-1.0, 1.0, 2.0, 3.0], [1.0, NAN, 2.0, 3.0], [1.0, 2.0, 3.0],
                    [1.0, 2.0, 3.0, 4.0j], "x", None],
          "loss": [[1.0, 0.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [1.0, NAN, 1.0, 1.0], [1.0, INF, 1.0, 1.0],
                   [1.0, 1.0], "x"]}),
    Spec("sgdlab.linear.crossing_time", L.crossing_time,
         {"times": [1.0, 10.0, 100.0], "values": [3.0, 2.0, 1.0], "level": 1.5},
         {"times": [[-1.0, 2.0, 3.0], [1.0, NAN, 3.0], [3.0, 2.0, 1.0], [1.0], "x"],
          "values": [[3.0, NAN, 1.0], [3.0, 2.0], "x", None], "level": NOT_REAL + [[1.0, 2.0]]}),
    Spec("sgdlab.linear.kernel_problem", L.kernel_problem, {"kernel": _K, "targets": Y},
         {"kernel": [np.where(np.eye(N, dtype=bool), NAN, _K), _K[:-1], -_K, _K - 0.3 * np.eye(N), "x", None,
                     _K.astype(complex), np.zeros((0, 0))],
          "targets": [Y[:-1], np.r_[Y[:-1], NAN], Y.astype(complex), "x", None],
          "psd_rtol": [-1.0, NAN, "1"]}),
    Spec("sgdlab.linear.exact_finite_loss", L.exact_finite_loss, FINITE,
         {"eigs": [W - 0.1, np.r_[W[:-1], NAN], W.astype(complex), W[:-1], "x", None],
          "vecs": [V[:-1], np.where(np.eye(N, dtype=bool), NAN, V), V.astype(complex), "x"],
          "residual0": [Y[:-1], np.r_[Y[:-1], NAN], "x"], "lr": BAD_LR, "momentum": BAD_MOMENTUM,
          "batch_size": [0, N + 1, 2.5, None], "steps": BAD_STEPS, "times": [[5, 2], [11], [0.5], "x"],
          "psd_rtol": [-1.0, NAN], "diverge_at": [0.0, NAN]},
         diverge=(lr_above(6.0, 100.0, steps=300), inf_at_end)),
    Spec("sgdlab.linear.sd_from_kernel", L.sd_from_kernel, {"problem": PROB, "batch_size": 4},
         {"problem": [None, {}, "x", {"eigs": np.array([1.0]), "c": np.array([1.0])},
                      {"eigs": np.array([1.0, NAN]), "c": np.ones(2)}],
          "batch_size": [0, N + 1, 2.5, None]}),
    Spec("sgdlab.linear.mc_gaussian_loss", L.mc_gaussian_loss, {"eigs": LAM, "c": C, "lr": 0.5, "momentum": BETA,
                                                                 "batch_size": 4, "steps": 10, "runs": 8},
         {"eigs": bad_modes(LAM), "c": bad_coefs(C), "lr": BAD_LR, "momentum": BAD_MOMENTUM,
          "batch_size": [0, 2.5, None], "steps": BAD_STEPS, "runs": [1, 0, 2.5], "times": [[20], [3, 1]],
          "seed": BAD_INT0},
         diverge=(lr_above(3 * LC, 100 * LC, steps=300),
                  lambda r: bool(np.isinf(r[0][-1]) and np.isinf(r[1][-1])))),
    Spec("sgdlab.linear.mc_finite_loss", L.mc_finite_loss,
         {"kernel_n": PROB["kernel_n"], "residual0": PROB["residual0"], "lr": 0.5, "momentum": BETA,
          "batch_size": 4, "steps": 10, "runs": 8},
         {"kernel_n": [PROB["kernel_n"][:-1], np.full((N, N), NAN), "x", None],
          "residual0": [np.r_[Y[:-1], NAN], Y[None, :], np.array([]), "x"], "lr": BAD_LR, "momentum": BAD_MOMENTUM,
          "batch_size": [0, N + 1, 2.5], "steps": BAD_STEPS, "runs": [1, 2.5], "seed": BAD_INT0,
          "times": [[11], [NAN]], "replace_batches": ["yes", None, 1]},
         diverge=(lr_above(10.0, 100.0, steps=300),
                  lambda r: bool(np.isinf(r[0][-1]) and np.isinf(r[1][-1])))),
    Spec("sgdlab.linear.eigvec_kurtosis", L.eigvec_kurtosis, {"vecs": V},
         {"vecs": [V[0], np.full((N, N), NAN), V.astype(complex), np.zeros((0, 0)), "x", None]}),
    Spec("sgdlab.linear.relu_ntk", L.relu_ntk, {"x": _X},
         {"x": [np.where(_X > 1, NAN, _X), _X[0], _X.astype(complex), np.zeros((0, 3)), "x", None],
          "sigma_w": [0.0, -1.0] + NOT_REAL, "sigma_b": [-1.0] + NOT_REAL, "repo_formula": ["yes", None, 1]}),
    Spec("sgdlab.linear.fit_power_laws", L.fit_power_laws,
         {"eigs": PL_LAM, "c": PL_C, "nu_range": (5, 100), "kappa_range": (10, 200)},
         {"eigs": [np.r_[PL_LAM[:-1], NAN], PL_LAM[:-1], "x"], "c": [-PL_C, 0 * PL_C, PL_C[:-1], PL_C + 1j],
          "nu_range": [(0, 10), (10, 5), (5, 2000), "x", (5.5, 10), None],
          "kappa_range": [(10, 400), (0, 10), (10,)], "n_windows": [0, 1.5, None]}),
    Spec("sgdlab.linear.optimal_lr", L.optimal_lr,
         {"eigs": LAM, "c": C, "momentum": [0.0, 0.5], "noise_factor": GAMMA, "steps": 20,
          "lrs": np.geomspace(0.05, 1.0, 8)},
         {"momentum": [[1.0], [NAN], "x", [[0.1]]], "noise_factor": BAD_NOISE, "steps": [0, -1, 2.5],
          "lrs": [[0.1, 0.2], np.geomspace(1.0, 0.05, 8), np.r_[0.1, NAN, 0.3], np.r_[-0.1, 0.2, 0.3],
                  np.ones((3, 8)), "x"],
          "n_refine": [-1, 1.5], "method": ["foo"], "tau1": [NAN], "eigs": [-LAM], "c": [C[:-1]]},
         diverge=(st.floats(1.5, 50.0).map(lambda f: {"lrs": f * LC_MAX * np.geomspace(1.0, 4.0, 5), "steps": 500}),
                  lambda r: bool(np.all(r["at_edge"]) and np.all(np.isinf(r["loss"]))))),
    Spec("sgdlab.linear.noise_constant", L.noise_constant,
         {"eigs": LAM, "c": C, "nu": 1.5, "effective_lr": 0.5, "momentum": 0.0, "noise_factor": GAMMA},
         {"nu": [1.0, NAN, "1.5"], "effective_lr": [0.0, -1.0, NAN, INF, "x"], "momentum": BAD_MOMENTUM,
          "noise_factor": BAD_NOISE, "lambda_max": [0.0, NAN], "eigs": [-LAM], "c": [C[:-1]], "tau2": [NAN]},
         diverge=(st.floats(1.01 * LC0, 1e3 * LC0).map(lambda a: {"effective_lr": a}), all_inf)),
    Spec("sgdlab.linear.optimal_noise_lr", L.optimal_noise_lr, {"eigs": LAM, "c": C, "nu": 1.5, "noise_factor": GAMMA},
         {"nu": [1.0, NAN, None], "noise_factor": [0.0, -1.0, NAN, "0.1"], "momentum": [1.0, NAN, "0"],
          "eigs": [-LAM, None], "c": [-C, C[:-1]]}),
    Spec("sgdlab.linear.noise_constant_momentum_slope", L.noise_constant_momentum_slope,
         {"eigs": LAM, "c": C, "nu": 1.5, "noise_factor": GAMMA},
         {"h": [0.0, -1.0, 1.0, NAN, "x"], "nu": [1.0, NAN], "noise_factor": [0.0, NAN], "eigs": [-LAM]}),
    Spec("sgdlab.linear.empirical_ntk_mlp", L.empirical_ntk_mlp, {"model": NET, "x": XN},
         {"model": [None, "x", torch.nn.Linear(D_IN, 1), mlp([D_IN, 4, 4, 1], "relu", parametrization="ntk")],
          "x": [XN[:, :2], XN[0], np.full((2, D_IN), NAN), "x", None]}),
    Spec("sgdlab.linear.network_outputs", L.network_outputs, {"model": NET, "x": XN},
         {"model": [None, "x", torch.nn.ReLU()], "x": [XN[:, :2], np.full((2, D_IN), NAN), "x", None, XN[:0]]}),
    Spec("sgdlab.linear.train_network_sgd", L.train_network_sgd,
         {"model_fn": _net, "x": XN, "y": YN, "lr": 0.1, "momentum": 0.0, "batch_size": 2, "steps": 3,
          "times": [0, 3], "seeds": [0, 1]},
         {"model_fn": [None, "x"], "x": [np.full((6, D_IN), NAN), XN[0], "x"], "y": [YN[:-1], np.r_[YN[:-1], NAN]],
          "lr": BAD_LR, "momentum": BAD_MOMENTUM, "batch_size": [0, 7, 2.5], "steps": BAD_STEPS,
          "times": [[0, 5], [3, 0], None], "seeds": [[], [-1], None, [0.5]]},
         diverge=(lr_above(10.0, 1e3, model_fn=_linear_net, steps=20, times=[0, 20]), last_time_inf)),
    Spec("sgdlab.linear.linearised_sgd_paired", L.linearised_sgd_paired,
         {"kernel_n": PROB["kernel_n"], "residual0": PROB["residual0"], "lr": 0.5, "momentum": BETA,
          "batch_size": 4, "steps": 10, "times": [0, 10], "seeds": [0, 1]},
         {"kernel_n": [PROB["kernel_n"][:-1], np.full((N, N), NAN), None], "residual0": [np.r_[Y[:-1], NAN], "x"],
          "lr": BAD_LR, "momentum": BAD_MOMENTUM, "batch_size": [0, N + 1], "steps": BAD_STEPS,
          "times": [[0, 11], [NAN], None], "seeds": [[], [-1], None]},
         diverge=(lr_above(10.0, 100.0, steps=300, times=[0, 300]), last_time_inf)),
    Spec("sgdlab.linear.batch_sequence", L.batch_sequence, {"seed": 0, "n_samples": 10, "batch_size": 3, "steps": 5},
         {"seed": BAD_INT0, "n_samples": [0, -1, 2.5, None], "batch_size": [0, 11, 2.5, None],
          "steps": [-1, 1.5, None]}),
]


def test_every_public_function_has_a_spec():
    public = {n for n in L.__all__ if inspect.isfunction(getattr(L, n))}
    covered = {s.name.rsplit(".", 1)[1] for s in SPECS}
    assert public <= covered, f"public functions without a property spec: {sorted(public - covered)}"


def test_every_declared_bad_value_is_a_value_error_naming_the_parameter():
    """Exhaustive pass over the declared lists (the hypothesis test below samples them)."""
    failures = []
    for spec in SPECS:
        for param, values in spec.bad.items():
            for value in values:
                try:
                    check_bad_input(spec, param, value)
                except AssertionError as exc:
                    failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_bad_inputs_are_value_errors_naming_the_parameter():
    run_bad_inputs(SPECS, per_parameter=3)()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.diverge], ids=lambda s: s.name.rsplit(".", 1)[1])
def test_divergence_is_a_flag_and_inf(spec):
    run_divergence(spec, max_examples=4)()
