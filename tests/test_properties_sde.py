"""Property-based checks of sgdlab.sde.particles, sgdlab.sde.escape, sgdlab.sde.fokker_planck and
sgdlab.landscapes.double_well (see tests/prop_harness.py): bad input is a ValueError naming the parameter;
divergence (a step above the stability limit, a drift that blows up, a temperature so low that a time
overflows) is a flag and ``inf``, never NaN and never a warning."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

from prop_harness import NOT_A_NUMBER, Spec, run_bad_inputs, run_divergence
from sgdlab.landscapes.double_well import DoubleWell2D, TiltedDoubleWell
from sgdlab.sde import escape as esc
from sgdlab.sde import fokker_planck as fpm
from sgdlab.sde import particles as par

NAN, INF = float("nan"), float("inf")
W = TiltedDoubleWell(0.6)
W2 = DoubleWell2D(0.6, 4.0, -0.6)
FP = fpm.FokkerPlanck1D(W.grad, 0.3, -2.5, 2.5, 50, value=W.value)
P_STAT = FP.stationary()
POS = NOT_A_NUMBER + [0.0, -1.0]            # a finite number > 0 is required
INTS = [2.5, "3", None, True]              # never an integer
SEEDS = [-1, 1.5, "0", None]
NAN_F = lambda x: np.full(np.shape(x), np.nan)  # noqa: E731  a callable that returns NaN


def _outward(x):
    """A drift that blows up in finite time: dx/dt = x^3."""
    return -x**3


def _huge(min_size=1):
    """Arrays with entries of either sign beyond 1e160 (or infinite): the landscapes overflow there."""
    entry = st.tuples(st.floats(1e160, 1e308) | st.just(INF), st.sampled_from([-1.0, 1.0])).map(lambda t: t[0] * t[1])
    return st.lists(entry, min_size=min_size, max_size=4).map(np.array)


def _unstable(lr, momentum):
    """Above the stability limit at both minima (lr f'' > 2, or > 2(1+beta)/(1-beta) with momentum), 400 steps."""
    return {"lr": lr, "momentum": momentum, "x0": [2.0, -2.0, 3.0], "times": [0.0, 400 * lr]}


def _all_inf(a) -> bool:
    return bool(np.all(np.isinf(a)))


# ----------------------------------------------------------------------------- particles
SIM = {"grad": W.grad, "x0": [0.0, 0.5], "lr": 0.01, "times": [0.0, 0.05], "return_diverged": True}
FPASS = {"grad": W.grad, "x0": [1.0, -1.0], "target": [-1.0, 1.0], "lr": 0.01, "horizon": 0.05, "noise_std": 1.0}
SGD_BAD = {"grad": [None, 3, "f", lambda x: np.zeros(7)],
           "x0": [[], [[[1.0]]], [NAN], [INF], "ab", None, [[1.0, 2.0], [3.0]]],
           "lr": POS, "batch_size": [0, -1] + INTS, "noise_std": NOT_A_NUMBER + [-1.0],
           "noise": ["levy", None, 3], "momentum": [NAN, 1.0, -0.1, "0.9", None, INF], "seed": SEEDS}

PARTICLES = [
    Spec("sgdlab.sde.particles.batch_noise", lambda **k: par.batch_noise(**k),
         {"rng": np.random.default_rng(0), "batch_size": 2, "noise_std": 1.0, "shape": (3,), "noise": "two-point"},
         {"rng": [0, None, "x"], "batch_size": [0, -1] + INTS, "noise_std": NOT_A_NUMBER + [-1.0],
          "shape": [(-1,), (2.5,), "3", None, (None,)], "noise": ["levy", None, 3]}),
    Spec("sgdlab.sde.particles.simulate", lambda **k: par.simulate(**k), SIM,
         {**SGD_BAD, "times": [[-1.0], [1.0, 0.5], [NAN], 1.0, "1", None, [[0.1]], [1e300]]},
         # above the stability limit at both minima: lr f'' > 2, and lr f'' > 2(1+beta)/(1-beta) for SGDM
         diverge=(st.floats(1.0, 100.0).map(lambda lr: _unstable(lr, 0.0))
                  | st.floats(50.0, 100.0).map(lambda lr: _unstable(lr, 0.9)),
                  lambda r: bool(r[1].all()) and _all_inf(r[0][-1]))),
    Spec("sgdlab.sde.particles.euler_maruyama", lambda **k: par.euler_maruyama(**k),
         {"grad": W.grad, "x0": [0.0], "temperature": 0.1, "dt": 0.01, "times": [0.0, 0.02], "return_diverged": True},
         {"grad": SGD_BAD["grad"], "x0": SGD_BAD["x0"], "temperature": NOT_A_NUMBER + [-1.0],
          "dt": POS + [5e-324], "times": [[-1.0], "1", None], "seed": SEEDS},
         diverge=(st.floats(1.0, 50.0).map(lambda dt: {"dt": dt, "x0": [2.0, -2.0], "times": [0.0, 400 * dt]}),
                  lambda r: bool(r[1].all()) and _all_inf(r[0][-1]))),
    Spec("sgdlab.sde.particles.first_passage", lambda **k: par.first_passage(**k), FPASS,
         {**SGD_BAD, "target": [NAN, INF, [1.0, 1.0, 1.0], "x", None, [1.0, -1.0]],
          "horizon": POS + [1e300], "check_every": [0, -1] + INTS}),
    Spec("sgdlab.sde.particles.harmonic_gibbs_start", lambda **k: par.harmonic_gibbs_start(**k),
         {"minimum": [1.0, 0.0], "hess": [[2.0, 0.0], [0.0, 1.0]], "temperature": 0.1, "n": 5},
         {"minimum": [[NAN, 0.0], "a", None, [1.0, 0.0, 0.0]],
          "hess": [[[1.0, 0.0], [0.0, -1.0]], [[INF, 0.0], [0.0, 1.0]], [[1.0]], "h", None],
          "temperature": POS, "n": [0, -1] + INTS, "seed": SEEDS}),
]


def _first_passage_outward(lr, x0):
    return par.first_passage(_outward, x0, -5.0, lr=lr, horizon=10.0, noise_std=0.1, seed=1)


def _simulate_outward(lr, x0):
    return par.simulate(_outward, x0, lr=lr, times=[0.0, 2.0], return_diverged=True)


EXPLODING = [
    Spec("sgdlab.sde.particles.simulate", _simulate_outward, {},
         diverge=(st.fixed_dictionaries({"lr": st.floats(0.01, 0.1), "x0": st.lists(st.floats(1.5, 10.0), min_size=1,
                                                                                      max_size=3)}),
                  lambda r: bool(r[1].all()) and _all_inf(r[0][-1]))),
    Spec("sgdlab.sde.particles.first_passage", _first_passage_outward, {},
         diverge=(st.fixed_dictionaries({"lr": st.floats(0.01, 0.1), "x0": st.lists(st.floats(1.5, 10.0), min_size=1,
                                                                                      max_size=3)}),
                  lambda r: _all_inf(r[0]) and not r[1].any())),
    Spec("sgdlab.sde.escape.escape_rate",
         lambda lr, x0: esc.escape_rate(_outward, x0, -5.0, lr=lr, horizon=10.0, noise_std=0.1, seed=1), {},
         diverge=(st.fixed_dictionaries({"lr": st.floats(0.01, 0.1), "x0": st.lists(st.floats(1.5, 10.0), min_size=1,
                                                                                      max_size=3)}),
                  lambda r: r.diverged and math.isinf(r.rate) and math.isinf(r.mean_time))),
]

# ----------------------------------------------------------------------------- escape
KR = {"curv_min": 4.0, "curv_saddle": -2.0, "barrier": 1.0, "temperature": 0.2}
KR_BAD = {"curv_min": POS, "curv_saddle": NOT_A_NUMBER + [0.0], "barrier": POS,
          "temperature": [NAN, INF, -INF, "1", None, 0.0, -1.0, [0.1, -0.1], [], [[NAN]]]}
COLD = st.fixed_dictionaries({"temperature": st.floats(1e-6, 1e-3)})
MOMENTUM_BAD = [NAN, 1.0, -0.1, "0.9", None, INF]

ESCAPE = [
    Spec("sgdlab.sde.escape.mfpt_1d", lambda **k: esc.mfpt_1d(**k),
         {"value": W.value, "x0": 1.0, "target": -1.0, "temperature": 0.3, "n": 2001},
         {"value": [None, 3, NAN_F], "x0": NOT_A_NUMBER + [-1.0], "target": NOT_A_NUMBER,
          "temperature": POS, "wall": [NAN, INF, "1", 0.5], "n": [100] + INTS},
         diverge=(COLD, lambda r: math.isinf(r))),
    Spec("sgdlab.sde.escape.kramers_time", lambda **k: esc.kramers_time(**k), KR, KR_BAD,
         diverge=(COLD, lambda r: math.isinf(r))),
    Spec("sgdlab.sde.escape.eyring_kramers_time", lambda **k: esc.eyring_kramers_time(**k),
         {"hess_min": [[4.0, 0.0], [0.0, 2.0]], "hess_saddle": [[-2.0, 0.0], [0.0, 3.0]], "barrier": 1.0,
          "temperature": 0.2},
         {"hess_min": [[[-1.0, 0.0], [0.0, 1.0]], [[NAN, 0.0], [0.0, 1.0]], "h", None, [[1.0, 0.0, 0.0]]],
          "hess_saddle": [[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, -1.0]], [[INF, 0.0], [0.0, 1.0]], None],
          "barrier": POS, "temperature": KR_BAD["temperature"]},
         diverge=(COLD, lambda r: math.isinf(r))),
    Spec("sgdlab.sde.escape.kramers_time_kinetic", lambda **k: esc.kramers_time_kinetic(**k),
         {**KR, "friction": 2.0}, {**KR_BAD, "friction": POS},
         diverge=(st.fixed_dictionaries({"temperature": st.floats(1e-6, 1e-3)})
                  | st.fixed_dictionaries({"friction": st.floats(1e306, 1e308)}), lambda r: math.isinf(r))),
    Spec("sgdlab.sde.escape.sgdm_friction", lambda **k: esc.sgdm_friction(**k), {"lr": 0.01, "momentum": 0.9},
         {"lr": POS, "momentum": MOMENTUM_BAD}),
    Spec("sgdlab.sde.escape.sgdm_kinetic_parameters", lambda **k: esc.sgdm_kinetic_parameters(**k),
         {"lr": 0.01, "momentum": 0.9, "temperature": 0.1},
         {"lr": POS, "momentum": MOMENTUM_BAD + [0.0], "temperature": POS}),
    Spec("sgdlab.sde.escape.sgdm_escape_factor", lambda **k: esc.sgdm_escape_factor(**k),
         {"curv_saddle": -2.0, "friction": 5.0},
         {"curv_saddle": NOT_A_NUMBER + [0.0], "friction": [NAN, 0.0, -1.0, -INF, "1", None, [1.0, -1.0], []]},
         diverge=(st.fixed_dictionaries({"friction": st.sampled_from([1e-310, 1e-315, 5e-324])}),
                  lambda r: math.isinf(r))),
    Spec("sgdlab.sde.escape.kramers_time_sgdm", lambda **k: esc.kramers_time_sgdm(**k),
         {**KR, "lr": 0.01, "momentum": 0.9},
         {**KR_BAD, "lr": POS, "momentum": MOMENTUM_BAD},
         diverge=(COLD, lambda r: math.isinf(r))),
    Spec("sgdlab.sde.escape.censored_exponential", lambda **k: esc.censored_exponential(**k),
         {"times": [1.0, 2.0, 3.0], "escaped": [True, False, True]},
         {"times": [[NAN, 1.0, 2.0], [-1.0, 1.0, 2.0], [-INF, 1.0, 2.0], [INF, 1.0, 2.0], "abc", None,
                    [1.0, 2.0], [0.0, 0.0, 0.0]],
          "escaped": [[2, 0, 1], ["a", "b", "c"], None, [True, False], [0.5, 1.0, 0.0]],
          "confidence": NOT_A_NUMBER + [0.0, 1.0]}),
    Spec("sgdlab.sde.escape.censored_exponential",
         lambda times: esc.censored_exponential(times, [False] * len(times)), {},
         diverge=(st.fixed_dictionaries({"times": st.lists(st.floats(0.1, 10.0), max_size=4).map(lambda t: t + [INF])}),
                  lambda r: r.diverged and r.n_diverged >= 1 and math.isinf(r.rate) and math.isinf(r.rel_se))),
    Spec("sgdlab.sde.escape.escape_rate", lambda **k: esc.escape_rate(**k), FPASS,
         {"grad": [None], "x0": [[NAN, 1.0], "x", None], "lr": POS, "check_every": [0],
          "horizon": [NAN, 0.0, -1.0, [1.0, 2.0, 3.0], "1", None, [1.0, -1.0]],
          "groups": [["a"], [["a", "b"]]], "confidence": NOT_A_NUMBER + [0.0, 1.0], "seed": SEEDS}),
    Spec("sgdlab.sde.escape.mfpt_grid_2d", lambda **k: esc.mfpt_grid_2d(**k),
         {"value": W2.value, "start": (1.0, 0.0), "target_x": -1.0, "temperature": 0.3, "x_hi": 2.3, "y_half": 4.0,
          "nx": 21, "ny": 11},
         {"value": [None, NAN_F], "start": [(1.0,), (NAN, 0.0), "s", None, (-1.5, 0.0)], "target_x": NOT_A_NUMBER,
          "temperature": POS, "x_hi": NOT_A_NUMBER + [-2.0], "y_half": POS,
          "nx": [10] + INTS, "ny": [10] + INTS},
         diverge=(st.fixed_dictionaries({"temperature": st.floats(1e-5, 1e-3)}), lambda r: math.isinf(r))),
]

# ----------------------------------------------------------------------------- fokker_planck
FP_KW = {"grad": W.grad, "temperature": 0.3, "lo": -2.5, "hi": 2.5, "n_cells": 50}
P_BAD = [np.ones(3), np.full(50, NAN), -P_STAT, "p", None]

FOKKER_PLANCK = [
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D", lambda **k: fpm.FokkerPlanck1D(**k), FP_KW,
         {"grad": [None, 3, NAN_F], "temperature": POS + [lambda x: -np.ones_like(x), NAN_F],
          "lo": NOT_A_NUMBER + [3.0], "hi": NOT_A_NUMBER + [-3.0], "n_cells": [2, 0] + INTS,
          "value": [3, "f", NAN_F]}),
    # at D = 1e-3, f/D jumps by more than 1400 between cells of a coarse grid: the rates would overflow
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D",
         lambda **k: fpm.FokkerPlanck1D(W.grad, 1e-3, -2.5, 2.5, k["n_cells"], value=W.value),
         {"n_cells": 2000}, {"n_cells": [3, 50]}),
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D.relaxation_rates", lambda **k: FP.relaxation_rates(**k), {"k": 2},
         {"k": [0, 50, -1] + INTS}),
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D.evolve", lambda **k: FP.evolve(**k),
         {"p0": P_STAT, "times": [0.0, 1.0]},
         {"p0": [np.ones(50), np.full(50, NAN), "p", None, np.ones(3) / 3],
          "times": [[-1.0], [NAN], "t", None, [[1.0]]], "method": ["dense", None, 3]}),
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D.normal_masses", lambda **k: FP.normal_masses(**k),
         {"mean": 0.0, "std": 0.2}, {"mean": NOT_A_NUMBER + [5.0], "std": POS}),
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D.cdf_at_faces", lambda **k: FP.cdf_at_faces(**k), {"p": P_STAT},
         {"p": P_BAD}),
    Spec("sgdlab.sde.fokker_planck.FokkerPlanck1D.mass_below", lambda **k: FP.mass_below(**k),
         {"p": P_STAT, "boundary": 0.1}, {"p": P_BAD, "boundary": NOT_A_NUMBER}),
    Spec("sgdlab.sde.fokker_planck.ks_distance", lambda **k: fpm.ks_distance(**k),
         {"samples": [0.1, 0.5], "faces": [0.0, 1.0], "cdf": [0.0, 1.0]},
         {"samples": [[], [NAN], "s", None], "faces": [[1.0, 0.0], [0.0], [0.0, NAN], "f", None],
          "cdf": [[0.0], [1.0, 0.0], [0.0, 0.0], [0.0, INF], None]}),
    Spec("sgdlab.sde.fokker_planck.ks_critical", lambda **k: fpm.ks_critical(**k), {"n_samples": 10, "alpha": 0.05},
         {"n_samples": [0, -1] + INTS, "alpha": NOT_A_NUMBER + [0.0, 1.0]}),
    Spec("sgdlab.sde.fokker_planck.ks_null_sd", lambda **k: fpm.ks_null_sd(**k), {"n_samples": 10},
         {"n_samples": [0, -1] + INTS}),
    Spec("sgdlab.sde.fokker_planck.gibbs_basin_mass", lambda **k: fpm.gibbs_basin_mass(**k),
         {"value": W.value, "temperature": 0.3, "boundary": 0.13, "lo": -2.5, "hi": 2.5, "n": 2001},
         {"value": [None, NAN_F], "temperature": POS, "boundary": NOT_A_NUMBER + [3.0],
          "lo": NOT_A_NUMBER + [1.0], "hi": NOT_A_NUMBER + [0.0], "n": [2] + INTS}),
]

# ----------------------------------------------------------------------------- double_well
X_BAD = [NAN, [0.0, NAN], "x", None, [[1.0], [2.0, 3.0]]]
Z_BAD = [[1.0], [[NAN, 0.0]], "z", None, 1.0]
HUGE_X = st.fixed_dictionaries({"x": _huge()})
HUGE_Z = st.fixed_dictionaries({"z": _huge(2).map(lambda a: np.stack([a, a[::-1]], axis=-1))})

DOUBLE_WELL = [
    Spec("sgdlab.landscapes.double_well.TiltedDoubleWell", lambda **k: TiltedDoubleWell(**k), {"tilt": 0.6},
         {"tilt": NOT_A_NUMBER + [1.0, -1.0, True]}),
    Spec("sgdlab.landscapes.double_well.TiltedDoubleWell.value", lambda **k: W.value(**k), {"x": [0.0, 1.0]},
         {"x": X_BAD}, diverge=(HUGE_X, _all_inf)),
    Spec("sgdlab.landscapes.double_well.TiltedDoubleWell.grad", lambda **k: W.grad(**k), {"x": [0.0, 1.0]},
         {"x": X_BAD}, diverge=(HUGE_X, _all_inf)),
    Spec("sgdlab.landscapes.double_well.TiltedDoubleWell.hess", lambda **k: W.hess(**k), {"x": [0.0, 1.0]},
         {"x": X_BAD}, diverge=(HUGE_X, _all_inf)),
    Spec("sgdlab.landscapes.double_well.TiltedDoubleWell.barrier_orbit_action",
         lambda **k: W.barrier_orbit_action(**k), {"minimum": 1.0, "n": 201},
         {"minimum": [0.0, NAN, "1", None, INF], "n": [100] + INTS}),
    Spec("sgdlab.landscapes.double_well.DoubleWell2D", lambda **k: DoubleWell2D(**k),
         {"tilt": 0.6, "stiffness": 4.0, "stiffness_tilt": -0.6},
         {"tilt": NOT_A_NUMBER + [1.0], "stiffness": POS, "stiffness_tilt": NOT_A_NUMBER + [1.0, -1.0]}),
    Spec("sgdlab.landscapes.double_well.DoubleWell2D.omega", lambda **k: W2.omega(**k), {"x": [0.0, 1.0]},
         {"x": [NAN, "x", None, [NAN]]}),
    Spec("sgdlab.landscapes.double_well.DoubleWell2D.value", lambda **k: W2.value(**k), {"z": [[0.0, 1.0]]},
         {"z": Z_BAD}, diverge=(HUGE_Z, _all_inf)),
    Spec("sgdlab.landscapes.double_well.DoubleWell2D.grad", lambda **k: W2.grad(**k), {"z": [[0.0, 1.0]]},
         {"z": Z_BAD}, diverge=(HUGE_Z, lambda r: bool(np.isinf(r[:, 0]).all()))),   # d/dx ~ 4x^3 overflows
    Spec("sgdlab.landscapes.double_well.DoubleWell2D.hess_at_axis", lambda **k: W2.hess_at_axis(**k), {"x": 1.0},
         {"x": NOT_A_NUMBER}),
    Spec("sgdlab.landscapes.double_well.DoubleWell2D.det_factor", lambda **k: W2.det_factor(**k), {"minimum": 1.0},
         {"minimum": [0.0, NAN, "1", None]}),
]

GROUPS = {"particles": PARTICLES, "escape": ESCAPE, "fokker_planck": FOKKER_PLANCK, "double_well": DOUBLE_WELL}
DIVERGENT = [s for specs in GROUPS.values() for s in specs if s.diverge] + EXPLODING


@pytest.mark.parametrize("group", list(GROUPS))
def test_bad_inputs_are_value_errors_naming_the_parameter(group):
    run_bad_inputs(GROUPS[group])()


@pytest.mark.parametrize("spec", DIVERGENT, ids=lambda s: s.name + ("[blow-up]" if s in EXPLODING else ""))
def test_divergence_is_a_flag_and_inf(spec):
    run_divergence(spec, max_examples=5)()


@pytest.mark.parametrize("call", [
    lambda: par.simulate(W.grad, [2.0, -2.0], lr=5.0, times=[0.0, 100.0], momentum=0.5),
    lambda: par.euler_maruyama(W.grad, [2.0], temperature=0.1, dt=5.0, times=[0.0, 100.0]),
    lambda: par.first_passage(_outward, [2.0], -5.0, lr=0.05, horizon=10.0),
    lambda: esc.escape_rate(_outward, [2.0, 3.0], -5.0, lr=0.05, horizon=10.0),
    lambda: esc.mfpt_1d(W.value, 1.0, -1.0, 1e-4),
    lambda: esc.kramers_time(4.0, -2.0, 1.0, [1e-4, 0.1]),
    lambda: esc.kramers_time_kinetic(4.0, -2.0, 1.0, 0.1, 1e200),
    lambda: esc.sgdm_escape_factor(2.0, 1e-320),
    lambda: esc.mfpt_grid_2d(W2.value, (1.0, 0.0), -1.0, 1e-4, x_hi=2.3, y_half=4.0, nx=21, ny=11),
    lambda: W.grad(np.array([1e200, -INF, 0.5])),
    lambda: W2.grad(np.array([[1e200, 1e200], [0.5, 0.1]])),
], ids=["simulate", "euler_maruyama", "first_passage", "escape_rate", "mfpt_1d", "kramers_time", "kramers_kinetic",
        "escape_factor", "mfpt_grid_2d", "well_grad", "well2d_grad"])
def test_divergence_emits_no_warning_without_an_errstate(call):
    """The harness silences numpy's floating-point errors around each call; here nothing is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = call()
    flat = res.__dict__.values() if hasattr(res, "__dict__") else (res if isinstance(res, tuple) else (res,))
    for part in flat:
        a = np.asarray(part, dtype=float) if not isinstance(part, tuple) else np.asarray(part, dtype=float)
        assert not np.any(np.isnan(a))
