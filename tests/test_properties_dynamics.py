"""Property-based checks of sgdlab.dynamics and sgdlab.landscapes.rugged (see tests/prop_harness.py): bad
input is a ValueError naming the parameter; a divergent setting (a step above 2/λ_max, a huge learning
rate) is a flag and ``inf``, never NaN and never a warning."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import strategies as st

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch threads start)
from prop_harness import NOT_A_NUMBER, Spec, run_bad_inputs, run_divergence
from sgdlab.dynamics import gd_map as gm
from sgdlab.dynamics.full_batch import full_batch_gd, sharpness
from sgdlab.dynamics.noise_vs_lr import (gd_lr_vs_noise, lr_vs_noise, matched_gd_noise_k, matched_noise_k,
                                         train_gd_noise_ensemble)
from sgdlab.landscapes.rugged import GaussianDip, QuarticWell, RuggedBowl
from sgdlab.train import TrainConfig, mlp

NAN, INF = float("nan"), float("inf")
POS = NOT_A_NUMBER + [0.0, -1.0, True]  # a parameter that must be a finite number > 0
# a vectorised learning rate: arrays are fine, but not of a shape that does not broadcast against x
LR_VEC = [v for v in POS if not isinstance(v, list)] + [np.ones(3), [0.1, -0.1]]
BOWL, DIP, QUARTIC = RuggedBowl(), GaussianDip(), QuarticWell()
XS = sp.Symbol("x")
BAD_POINTS = [NAN, INF, [0.1, NAN], "x", None, [1.0, [2.0]]]


def _quadratic_grad(x):  # f = x², f'' = 2: GD is stable iff lr < 1
    return 2.0 * x


# ---- a least-squares network for full-batch GD
_G = torch.Generator().manual_seed(0)
XT = torch.randn(50, 4, generator=_G, dtype=torch.float64)
YT = torch.randn(50, generator=_G, dtype=torch.float64)
LAM = float(torch.linalg.eigvalsh(XT.T @ XT / len(XT))[-1])


def _linear():
    m = torch.nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():
        m.weight.zero_()
    return m


def _full_batch(model=None, **kw):
    return full_batch_gd(_linear() if model is None else model, **kw)


# ---- a small classification task for the noise-versus-lr protocol
def _data(n=120, n_test=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + n_test, d))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


DATA = _data()


def _model(seed):
    return mlp([6, 8, 3], seed=seed, dtype=torch.float64)


def _gd_cfg(lr, steps=2, every=1):
    return TrainConfig(optimizer="gd", lr=lr, batch_size=None, steps=steps, eval_every=every)


PROTOCOL = {"model_fn": _model, "data": DATA, "lr_large": 0.3, "lr_small": 0.03, "steps_explore": 2,
            "steps_refine": 2, "seeds": [0]}
BAD_SEEDS = [[0, 0], [-1], [1.5], "01", None, [], [True]]
_HUGE_LR = st.floats(1e4, 1e8)

SPECS = [
    # ---- the 1-d GD map
    Spec("sgdlab.dynamics.gd_map.gd_map", gm.gd_map, {"grad": BOWL.grad, "x": [0.1, 0.7], "lr": 0.1},
         {"lr": LR_VEC + [[]], "x": BAD_POINTS, "grad": ["g", None]}),
    Spec("sgdlab.dynamics.gd_map.multiplier", gm.multiplier, {"curvature": [1.0, 2.0], "lr": 0.1},
         {"curvature": [NAN, INF, "c", None], "lr": LR_VEC}),
    Spec("sgdlab.dynamics.gd_map.stability_threshold", gm.stability_threshold, {"curvature": [1.0, -1.0]},
         {"curvature": [NAN, INF, "c", None, [1.0, [2.0]]]}),
    Spec("sgdlab.dynamics.gd_map.is_linearly_stable", gm.is_linearly_stable, {"curvature": [1.0, 2.0], "lr": 0.1},
         {"curvature": [NAN, "c"], "lr": LR_VEC}),
    Spec("sgdlab.dynamics.gd_map.stable_window", gm.stable_window, {"global_curvature": 1.0, "spurious_curvatures": [5.0, 10.0]},
         {"global_curvature": POS, "spurious_curvatures": [[], [0.0], [NAN], "s", None]}),
    Spec("sgdlab.dynamics.gd_map.critical_points", gm.critical_points,
         {"landscape": DIP, "lo": 2.0, "hi": 4.0, "n_grid": 2001},
         {"landscape": [object(), "L", None], "lo": [NAN, INF, "a", None, 5.0], "hi": [NAN, -INF],
          "n_grid": [2, 10.5, "100", True]}),
    Spec("sgdlab.dynamics.gd_map.period_two_orbits", gm.period_two_orbits,
         {"landscape": QUARTIC, "lr": 1.2, "lo": -2.0, "hi": 2.0, "n_grid": 2001},
         {"lr": POS + [[1.0, 1.1]], "tol": [0.0, NAN, "t"], "lo": [NAN, 3.0], "landscape": [object()],
          "n_grid": [0]}),
    Spec("sgdlab.dynamics.gd_map.run_gd", gm.run_gd, {"grad": BOWL.grad, "x0": [0.3, 1.0], "lr": 0.1, "steps": 10},
         {"steps": [-1, 1.5, "10", True, None], "lr": LR_VEC, "noise": [-1.0, NAN, INF, "n"], "bound": [0.0, NAN, INF],
          "record_every": [0, 1.5], "block": [0, 2.5], "anneal": ["yes", None], "seed": [-1, 1.5, "0"],
          "x0": ["x", None, [1.0, [2.0]]], "grad": [None, 3.0]},
         diverge=(st.fixed_dictionaries({"grad": st.just(QUARTIC.grad), "x0": st.just([3.0, -3.0, 2.5]),
                                         "lr": st.floats(0.5, 1e6), "steps": st.integers(10, 60),
                                         "record_every": st.sampled_from([None, 5])}),
                  lambda r: bool(r.diverged.all() and np.isinf(r.x).all()))),
    # a step above 2/f'' on a quadratic: |1 − ηf''| > 1 and the iterates grow geometrically
    Spec("sgdlab.dynamics.gd_map.run_gd", gm.run_gd, {"grad": _quadratic_grad, "x0": [0.3, -1.0], "lr": 0.1, "steps": 600},
         diverge=(st.fixed_dictionaries({"lr": st.floats(1.1, 50.0), "noise": st.sampled_from([0.0, 0.5]),
                                         "seed": st.just(0)}),
                  lambda r: bool(r.diverged.all() and np.isinf(r.x).all()))),
    Spec("sgdlab.dynamics.gd_map.basin_of", gm.basin_of,
         {"landscape": BOWL, "x": [0.05, 1.0], "lr": 1e-3, "steps": 100, "check_every": 50},
         {"tol": [0.0, NAN, "t"], "steps": [-1, 2.5], "check_every": [0, 1.5], "lr": POS, "target": [NAN, "t", None],
          "grad_tol": [0.0, NAN], "x": ["x", None], "landscape": [object()]}),
    Spec("sgdlab.dynamics.gd_map.temperature", gm.temperature, {"lr": 0.1, "noise": [1.0, 2.0]},
         {"lr": LR_VEC, "noise": [-1.0, NAN, INF, "n", None]}),
    Spec("sgdlab.dynamics.gd_map.gibbs_mass", gm.gibbs_mass,
         {"landscape": BOWL, "temp": [0.5], "lo": -0.5, "hi": 0.5, "support": (-5.0, 5.0), "n_grid": 2001},
         {"temp": [0.0, -1.0, NAN, "t", [], None], "lo": [NAN, 1.0], "support": [(1.0, 0.0), (NAN, 1.0), "ab", 3],
          "n_grid": [2, 1.5], "landscape": [object()]}),
    Spec("sgdlab.dynamics.gd_map.stationary_mass", gm.stationary_mass,
         {"landscape": BOWL, "lr": 0.05, "noise": [1.0], "lo": -0.5, "hi": 0.5, "support": (-3.0, 3.0), "n_grid": 601},
         {"lr": POS + [[0.1, 0.2]], "noise": [0.0, NAN, "n", []], "width": [0.0, NAN, "w"], "support": [(3.0, -3.0)],
          "n_grid": [2, 601.0]}),
    Spec("sgdlab.dynamics.gd_map.kramers_time", gm.kramers_time,
         {"landscape": BOWL, "lr": 0.01, "temp": [0.5], "x_from": 1.5, "x_to": 0.0, "n_grid": 20001},
         {"temp": [0.0, NAN, "t"], "x_from": [NAN, "a", None, 0.0], "x_to": [INF], "lr": POS, "n_grid": [1]}),
    Spec("sgdlab.dynamics.gd_map.orbit_period", gm.orbit_period, {"tail": np.zeros((10, 3))},
         {"periods": [[0], [1.5], "ab", [], None], "tol": [0.0, NAN, "t"], "tail": [np.zeros((2, 3)), "t", None]}),
    Spec("sgdlab.dynamics.gd_map.exact_two_cycles", gm.exact_two_cycles,
         {"expr": XS**4 / 4 - XS**2 / 2, "symbol": XS, "lr": sp.Rational(6, 5)},
         {"lr": [0, -1, sp.nan, sp.oo, "l"], "symbol": ["x", None], "expr": [sp.sin(XS), "x +", XS * sp.Symbol("y")]}),
    Spec("sgdlab.dynamics.gd_map.grid_band", gm.grid_band,
         {"grid": [1.0, 2.0, 3.0, 4.0], "ok": [False, True, True, False]},
         {"grid": [[1.0, 1.0, 2.0, 3.0], [NAN, 1.0, 2.0, 3.0], "g", [1.0, 2.0]], "ok": [[False] * 4, ["a"] * 4]}),
    Spec("sgdlab.dynamics.gd_map.proportion_se", gm.proportion_se, {"successes": 3, "trials": 10},
         {"successes": [-1, 11, NAN, "s", None], "trials": [0, NAN, "t"]}),
    Spec("sgdlab.dynamics.gd_map.first_budget", gm.first_budget,
         {"budgets": [1.0, 2.0, 3.0], "rate": [0.1, 0.5, 0.9], "level": 0.5},
         {"budgets": [[3.0, 2.0, 1.0], [NAN, 1.0, 2.0], "b"], "rate": [[0.1, 0.2], [NAN] * 3], "level": [NAN, "l", None]}),
    Spec("sgdlab.dynamics.gd_map.budget_to_reach", gm.budget_to_reach,
         {"budgets": [1.0, 2.0, 3.0], "rate": [0.1, 0.5, 0.9], "level": 0.5, "n_runs": 10},
         {"n_runs": [0, 1.5, "10"], "window": [0, 1.5], "level": [NAN], "budgets": [[1.0]], "rate": [[NAN, 0.1, 0.2]]}),
    # ---- full-batch GD on a network
    Spec("sgdlab.dynamics.full_batch.full_batch_gd", _full_batch, {"loss": "mse", "x": XT, "y": YT, "lr": 0.1, "steps": 3},
         {"lr": POS, "steps": [0, 1.5, True, "3"], "sharpness_every": [0, 1.5, True], "sharpness_at": [[-1], [1.5], 3],
          "divergence_factor": [1.0, NAN, INF, "10"], "tol": [0.0, NAN, 1.5], "loss": ["hinge", None],
          "model": ["m", 3], "x": [XT.numpy()], "y": [YT[:3], None]},
         diverge=(st.fixed_dictionaries({"lr": st.floats(2.2 / LAM, 1e3), "steps": st.just(300),
                                         "sharpness_every": st.sampled_from([None, 50])}),
                  lambda r: bool(r.diverged and math.isinf(r.final_loss) and r.final_sharpness is None
                                 and np.isinf(r.loss[-1])))),
    Spec("sgdlab.dynamics.full_batch.sharpness", sharpness, {"model": _linear(), "loss": "mse", "x": XT, "y": YT},
         {"tol": [0.0, NAN, "t"], "loss": ["hinge"], "seed": [-1, 1.5]}),
    # ---- large lr versus amplified noise
    Spec("sgdlab.dynamics.noise_vs_lr.matched_noise_k", matched_noise_k, {"lr_large": 0.2, "lr_small": 0.02},
         {"lr_large": POS, "lr_small": POS + [0.3]}),
    Spec("sgdlab.dynamics.noise_vs_lr.matched_gd_noise_k", matched_gd_noise_k, {"lr_large": 0.2, "lr_small": 0.02},
         {"lr_large": POS, "lr_small": POS + [0.3]}),
    Spec("sgdlab.dynamics.noise_vs_lr.lr_vs_noise", lr_vs_noise, {**PROTOCOL, "batch_size": 10},
         {"seeds": BAD_SEEDS, "noise_k": [-1.0, NAN, "1", True], "batch_size": [0, 50, 1.5], "steps_explore": [0, 1.5],
          "steps_refine": [0], "steps_long": [-1], "eval_every": [0, 1.5], "model_fn": ["m", None],
          "lr_large": POS, "lr_small": [NAN, 1.0]},
         diverge=(st.fixed_dictionaries({"lr_large": _HUGE_LR, "steps_explore": st.just(12), "eval_every": st.just(3)}),
                  lambda r: bool(r.arms["large_then_small"].diverged.all()
                                 and np.isinf(r.arms["large_then_small"].final("train_loss")).all()))),
    Spec("sgdlab.dynamics.noise_vs_lr.gd_lr_vs_noise", gd_lr_vs_noise, {**PROTOCOL, "noise_batch_size": 10},
         {"seeds": BAD_SEEDS, "noise_k": [-1.0, NAN, True], "noise_batch_size": [0, 61, 1.5], "steps_long": [-1],
          "model_fn": ["m"], "lr_large": POS},
         diverge=(st.fixed_dictionaries({"lr_large": _HUGE_LR, "steps_explore": st.just(12), "eval_every": st.just(3)}),
                  lambda r: bool(r.arms["gd_large_then_small"].diverged.all()
                                 and np.isinf(r.arms["gd_large_then_small"].final("train_loss")).all()))),
    Spec("sgdlab.dynamics.noise_vs_lr.train_gd_noise_ensemble", train_gd_noise_ensemble,
         {"model_fn": _model, "data": DATA, "config": _gd_cfg(0.1), "seeds": [0], "noise_k": 1.0, "noise_batch_size": 10},
         {"config": [TrainConfig(optimizer="sgd"), "c", None], "noise_k": [-1.0, NAN, INF, True, "1"],
          "noise_batch_size": [0, 61, 1.5]},
         diverge=(_HUGE_LR.map(lambda lr: {"config": _gd_cfg(lr, 20, 5)}),
                  lambda r: bool(r.diverged.all() and np.isinf(r.history["train_loss"][-1]).all()))),
    # ---- the rugged landscapes
    Spec("sgdlab.landscapes.rugged.RuggedBowl", RuggedBowl, {},
         {"amplitude": POS, "period": POS, "radius": POS, "width": POS}),
    Spec("sgdlab.landscapes.rugged.RuggedBowl.value", BOWL.value, {"x": [0.1, 0.9]}, {"x": BAD_POINTS}),
    Spec("sgdlab.landscapes.rugged.RuggedBowl.grad", BOWL.grad, {"x": [0.1, 0.9]}, {"x": BAD_POINTS}),
    Spec("sgdlab.landscapes.rugged.RuggedBowl.hess", BOWL.hess, {"x": [0.1, 0.9]}, {"x": BAD_POINTS}),
    Spec("sgdlab.landscapes.rugged.GaussianDip", GaussianDip, {},
         {"depth": POS, "width": POS, "centre": [NAN, INF, "c", None, True]}),
    Spec("sgdlab.landscapes.rugged.GaussianDip.grad", DIP.grad, {"x": [0.1, 2.9]}, {"x": BAD_POINTS}),
    Spec("sgdlab.landscapes.rugged.QuarticWell.grad", QUARTIC.grad, {"x": [0.1, 2.9]}, {"x": BAD_POINTS}),
]


def test_bad_inputs_are_value_errors_naming_the_parameter():
    run_bad_inputs(SPECS, per_parameter=3)()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.diverge], ids=lambda s: s.name)
def test_divergence_is_a_flag_and_inf(spec):
    run_divergence(spec, max_examples=3 if "noise" in spec.name else 6)()
