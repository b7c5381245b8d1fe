"""The rugged bowl and the Gaussian dip (part 3): derivatives against sympy, closed-form curvatures."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from sgdlab.landscapes.rugged import GaussianDip, RuggedBowl

X = sp.Symbol("x", real=True)


def _bowl_sympy(f: RuggedBowl, region: str):
    """f as a sympy expression on x > 0 in one region: 'ball' (|x|<r), 'band' (r<|x|<r+d), 'outer'."""
    t = (X - f.radius) / f.width
    s = {"ball": sp.Integer(0), "band": t**2 * (3 - 2 * t), "outer": sp.Integer(1)}[region]
    return X**2 / 2 + f.amplitude * s * sp.sin(sp.pi * X / f.period) ** 2


@pytest.mark.parametrize("region,lo,hi", [("ball", 0.01, 0.49), ("band", 0.51, 0.74), ("outer", 0.76, 6.0)])
def test_rugged_bowl_derivatives_match_sympy_in_each_region(region, lo, hi):
    f = RuggedBowl(amplitude=1.3, period=0.17, radius=0.5, width=0.25)
    expr = _bowl_sympy(f, region)
    x = np.linspace(lo, hi, 301)
    for k, method in enumerate((f.value, f.grad, f.hess)):
        ref = sp.lambdify(X, sp.diff(expr, X, k), "numpy")(x)
        np.testing.assert_allclose(method(x), ref, rtol=1e-12, atol=1e-9)
        # the bowl is even: f(-x) = f(x), f'(-x) = -f'(x), f''(-x) = f''(x)
        np.testing.assert_allclose(method(-x), (-1) ** k * method(x), rtol=1e-12, atol=1e-12)


def test_rugged_bowl_is_c1_across_the_band_edges():
    f = RuggedBowl()
    eps = 1e-9
    for edge in (f.radius, f.radius + f.width):
        # a continuous function changes by at most 2ε·max|f'| across the edge, f' by 2ε·max|f''|
        assert abs(f.value(edge + eps) - f.value(edge - eps)) <= 2 * eps * 20
        assert abs(f.grad(edge + eps) - f.grad(edge - eps)) <= 2 * eps * 600
    # while f'' jumps: the C¹ smoothstep is not C²
    assert abs(f.hess(f.radius + eps) - f.hess(f.radius - eps)) > 1.0


def test_rugged_bowl_trough_curvature_is_two_a_pi_over_p_squared_plus_one():
    f = RuggedBowl(amplitude=1.0, period=0.2)
    trough = 2.0  # sin²(πx/p) = 0 at x = 2 (a multiple of p), in the outer region
    assert f.hess(trough) == pytest.approx(f.trough_curvature, rel=1e-12)
    assert f.trough_curvature == pytest.approx(2 * np.pi**2 / 0.04 + 1, rel=1e-15)


@pytest.mark.parametrize("kw", [{"amplitude": 0.0}, {"period": -1.0}, {"radius": float("nan")}, {"width": 0}])
def test_rugged_bowl_rejects_bad_parameters_by_name(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        RuggedBowl(**kw)


def test_gaussian_dip_derivatives_match_sympy():
    d = GaussianDip(depth=2.5, centre=-1.5, width=0.2)
    expr = X**2 / 2 - d.depth * sp.exp(-((X - d.centre) ** 2) / (2 * d.width**2))
    x = np.linspace(-3, 3, 401)
    for k, method in enumerate((d.value, d.grad, d.hess)):
        ref = sp.lambdify(X, sp.diff(expr, X, k), "numpy")(x)
        np.testing.assert_allclose(method(x), ref, rtol=1e-12, atol=1e-10)
    assert d.hess(d.centre) == pytest.approx(1 + d.depth / d.width**2, rel=1e-14)


@pytest.mark.parametrize("kw", [{"depth": -1.0}, {"width": 0.0}, {"centre": float("inf")}])
def test_gaussian_dip_rejects_bad_parameters_by_name(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        GaussianDip(**kw)


def test_landscapes_broadcast_over_arrays():
    f, d = RuggedBowl(), GaussianDip()
    x = np.random.default_rng(0).uniform(-5, 5, size=(3, 4, 5))
    for land in (f, d):
        for method in (land.value, land.grad, land.hess):
            out = method(x)
            assert out.shape == x.shape and out.dtype == np.float64
            np.testing.assert_array_equal(out[1, 2], method(x[1, 2]))
