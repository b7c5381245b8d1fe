"""Two-dimensional escape: the Eyring–Kramers determinant factor of DoubleWell2D and the exact
MFPT of a 2-D diffusion by a sparse grid solve (sgdlab.sde.escape.mfpt_grid_2d)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sgdlab.landscapes.double_well import DoubleWell2D, TiltedDoubleWell
from sgdlab.sde.escape import censored_exponential, eyring_kramers_time, kramers_time, mfpt_1d, mfpt_grid_2d
from sgdlab.sde.particles import first_passage

W = DoubleWell2D(0.6, 4.0, -0.9)
BOX = dict(x_hi=2.3, y_half=4.0)


def _ek(w, m, D):
    s = w.line.saddle
    return eyring_kramers_time(w.hess_at_axis(m), w.hess_at_axis(s), w.line.barrier, D)


@pytest.mark.parametrize("m", [-1.0, 1.0])
def test_det_factor_is_the_ratio_of_eyring_kramers_to_one_dimensional_kramers(m):
    line = W.line
    kr = kramers_time(line.hess(m), line.hess(line.saddle), line.barrier, 0.2)
    assert W.det_factor(m) == pytest.approx(_ek(W, m, 0.2) / kr, rel=1e-12)
    # closed form sqrt(omega(s)/omega(m)) with omega = w0 (1 + b tanh x)
    s = line.saddle
    assert W.det_factor(m) == pytest.approx(math.sqrt((1 - 0.9 * math.tanh(s)) / (1 - 0.9 * math.tanh(m))))
    assert DoubleWell2D(0.6, 4.0, 0.0).det_factor(m) == pytest.approx(1.0)


def test_det_factor_rejects_a_point_that_is_not_a_minimum():
    with pytest.raises(ValueError, match="minimum"):
        W.det_factor(0.5)


def test_grid_mfpt_with_constant_transverse_stiffness_is_the_one_dimensional_mfpt():
    # omega constant: x decouples from y, so T(x, y) = T_1D(x) for every y
    w = DoubleWell2D(0.6, 4.0, 0.0)
    D = 0.25
    ref = mfpt_1d(TiltedDoubleWell(0.6).value, 1.0, -1.0, D)
    assert mfpt_grid_2d(w.value, (1.0, 0.0), -1.0, D, **BOX, nx=241, ny=41) == pytest.approx(ref, rel=1e-3)
    assert mfpt_grid_2d(w.value, (1.0, 0.7), -1.0, D, **BOX, nx=241, ny=41) == pytest.approx(ref, rel=1e-3)


def test_grid_mfpt_converges_at_second_order():
    D = W.line.barrier / 4
    t = [mfpt_grid_2d(W.value, (1.0, 0.0), -1.0, D, **BOX, nx=nx, ny=ny)
         for nx, ny in ((61, 31), (121, 61), (241, 121))]
    e1, e2 = abs(t[1] - t[0]), abs(t[2] - t[1])
    assert e1 / e2 > 3.0                      # ~4 for a second-order scheme
    assert e2 / t[2] < 2e-3


def test_grid_mfpt_approaches_eyring_kramers_at_low_temperature():
    dF = W.line.barrier
    r = [mfpt_grid_2d(W.value, (1.0, 0.0), -1.0, dF / k, **BOX) / _ek(W, 1.0, dF / k) for k in (4, 6, 10)]
    assert r[0] > r[1] > r[2] > 1.0
    assert r[2] < 1.06
    # first-order finite-temperature correction: (ratio - 1) * DeltaF/D of order one and roughly constant
    excess = [(ri - 1) * k for ri, k in zip(r, (4, 6, 10))]
    assert 0.3 < min(excess) and max(excess) < 0.8


def test_grid_mfpt_agrees_with_euler_maruyama_at_a_high_temperature():
    D = W.line.barrier / 3
    exact = mfpt_grid_2d(W.value, (1.0, 0.0), -1.0, D, **BOX)
    n, dt = 600, 0.004
    x0 = np.tile([1.0, 0.0], (n, 1))
    t, esc = first_passage(W.grad, x0, -1.0, lr=dt, horizon=3 * exact, noise="gaussian",
                           noise_std=math.sqrt(2 * D / dt), seed=3, check_every=5)
    est = censored_exponential(t, esc)
    assert est.n_escaped > 0.9 * n
    assert est.mean_time == pytest.approx(exact, rel=4 * est.rel_se)


@pytest.mark.parametrize("kw, match", [
    (dict(temperature=0.0), "temperature"),
    (dict(nx=5), "nx"),
    (dict(ny=2.5), "ny"),
    (dict(x_hi=-2.0), "x_hi"),
    (dict(y_half=-1.0), "y_half"),
    (dict(start=(-1.5, 0.0)), "start"),
])
def test_grid_mfpt_validates_its_inputs(kw, match):
    args = dict(start=(1.0, 0.0), temperature=0.3, x_hi=2.3, y_half=4.0)
    args.update(kw)
    start, temperature = args.pop("start"), args.pop("temperature")
    with pytest.raises(ValueError, match=match):
        mfpt_grid_2d(W.value, start, -1.0, temperature, **args)
