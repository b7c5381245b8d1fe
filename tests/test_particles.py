"""Vectorised mini-batch SGD / SGDM / Euler–Maruyama and first passages (sgdlab.sde.particles)."""
from __future__ import annotations

from math import comb

import numpy as np
import pytest

from sgdlab.landscapes.double_well import TiltedDoubleWell
from sgdlab.sde.particles import batch_noise, euler_maruyama, first_passage, simulate

WELL = TiltedDoubleWell(0.6)


@pytest.mark.parametrize("B", [1, 2, 3, 5])
def test_two_point_batch_mean_has_the_law_of_sampling_with_replacement(B):
    sigma = 2.0
    rng = np.random.default_rng(B)
    xi = batch_noise(rng, B, sigma, (200000,))
    # brute force: a data set of N per-sample shifts a_i = ±σ (half each), B indices with replacement
    N = 10
    a = np.where(np.arange(N) < N // 2, sigma, -sigma)
    brute = a[np.random.default_rng(99).integers(0, N, (200000, B))].mean(axis=1)
    support = sigma * (2 * np.arange(B + 1) - B) / B
    exact = np.array([comb(B, k) for k in range(B + 1)]) / 2**B
    for sample in (xi, brute):
        freq = np.array([(np.isclose(sample, v)).mean() for v in support])
        np.testing.assert_allclose(freq, exact, atol=0.005)
    assert xi.var() == pytest.approx(sigma**2 / B, rel=0.02)


def test_gaussian_batch_noise_variance():
    xi = batch_noise(np.random.default_rng(0), 4, 3.0, (100000,), noise="gaussian")
    assert xi.var() == pytest.approx(9.0 / 4, rel=0.02)


def test_noiseless_simulation_is_gradient_descent():
    x0 = np.array([-0.5, 0.2, 1.7])
    lr, steps = 0.01, 137
    x = x0.copy()
    for _ in range(steps):
        x = x - lr * WELL.grad(x)
    out = simulate(WELL.grad, x0, lr=lr, times=[0.0, steps * lr])
    np.testing.assert_array_equal(out[0], x0)
    np.testing.assert_allclose(out[1], x, rtol=1e-13)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_simulation_matches_a_brute_force_loop_with_the_same_noise(momentum):
    x0 = np.linspace(-1.5, 1.5, 7)
    lr, steps, B, sigma = 0.003, 200, 3, 10.0
    xi = batch_noise(np.random.default_rng(5), B, sigma, (steps,) + x0.shape)
    x, m = x0.copy(), np.zeros_like(x0)
    for k in range(steps):
        g = WELL.grad(x) + xi[k]
        m = momentum * m + (1 - momentum) * g
        x = x - lr * m
    out = simulate(WELL.grad, x0, lr=lr, times=[steps * lr], batch_size=B, noise_std=sigma,
                   momentum=momentum, seed=np.random.default_rng(5))
    np.testing.assert_allclose(out[0], x, rtol=1e-12, atol=1e-12)


def test_sgd_on_a_quadratic_has_the_exact_discrete_stationary_variance():
    lam, lr, B, sigma = 2.0, 0.05, 2, 3.0
    out = simulate(lambda x: lam * x, np.zeros(40000), lr=lr, times=[30.0], batch_size=B,
                   noise_std=sigma, noise="gaussian", seed=1)
    exact = lr * sigma**2 / (B * lam * (2 - lr * lam))
    assert out[0].var() == pytest.approx(exact, rel=0.03)


def test_euler_maruyama_samples_the_ou_variance():
    k, D, dt = 1.5, 0.4, 0.002
    out = euler_maruyama(lambda x: k * x, np.zeros(20000), temperature=D, dt=dt, times=[6.0], seed=2)
    assert out[0].var() == pytest.approx(D / k / (1 - k * dt / 2), rel=0.03)


def test_simulation_handles_two_dimensional_particles_and_divergence():
    out = simulate(lambda z: -z * z, np.array([[1.0, 2.0], [0.0, 0.0]]), lr=0.5, times=[40.0])
    assert out.shape == (1, 2, 2)
    assert not np.all(np.isfinite(out[0, 0])) and np.all(out[0, 1] == 0)


def test_first_passage_of_constant_drift_is_exact_and_censors_at_the_horizon():
    grad = lambda x: -np.ones_like(x)  # noqa: E731  (x grows by lr per step)
    times, esc = first_passage(grad, np.zeros(3), np.array([0.5, 1.0, 5.0]), lr=0.01, horizon=2.0)
    np.testing.assert_allclose(times, [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(esc, [True, True, False])
    times, _ = first_passage(grad, np.zeros(2), 1.0, lr=0.01, horizon=2.0, check_every=7)
    assert 1.0 <= times[0] < 1.0 + 7 * 0.01


def test_first_passage_in_both_directions_at_once():
    grad = lambda x: np.sign(x)  # noqa: E731  (moves towards 0)
    times, esc = first_passage(grad, np.array([1.0, -2.0]), 0.0, lr=0.01, horizon=5.0)
    np.testing.assert_allclose(times, [1.0, 2.0])
    assert esc.all()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"lr": 0.0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"noise": "levy"}, "noise"),
     ({"momentum": 1.0}, "momentum"), ({"times": [2.0, 1.0]}, "times")],
)
def test_simulate_validates_inputs(kwargs, match):
    args = {"lr": 0.01, "times": [1.0]} | kwargs
    with pytest.raises(ValueError, match=match):
        simulate(WELL.grad, np.zeros(3), **args)


def test_first_passage_validates_inputs():
    with pytest.raises(ValueError, match="side"):
        first_passage(WELL.grad, np.array([0.0, 1.0]), 1.0, lr=0.01, horizon=1.0)
    with pytest.raises(ValueError, match="horizon"):
        first_passage(WELL.grad, np.zeros(2), 1.0, lr=0.01, horizon=0.0)
    with pytest.raises(ValueError, match="check_every"):
        first_passage(WELL.grad, np.zeros(2), 1.0, lr=0.01, horizon=1.0, check_every=0)
