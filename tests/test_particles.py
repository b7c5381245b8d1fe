"""Vectorised mini-batch SGD / SGDM / Euler–Maruyama and first passages (sgdlab.sde.particles)."""
from __future__ import annotations

import math
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


def _first_passage_per_step(grad, x0, target, *, lr, horizon, batch_size=1, noise_std=0.0, noise="two-point",
                            momentum=0.0, seed=0, check_every=1):
    """The former implementation of first_passage (a crossing test after every checked step), for reference."""
    from sgdlab.sde.particles import _block_len

    x = np.array(x0, dtype=float)
    first = x if x.ndim == 1 else x[:, 0]
    tgt = np.broadcast_to(np.asarray(target, dtype=float), first.shape).copy()
    sgn = np.sign(tgt - first)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = x.shape[0]
    times, escaped, idx, m = np.full(n, float(horizon)), np.zeros(n, dtype=bool), np.arange(n), np.zeros_like(x)
    max_steps = int(np.ceil(horizon / lr))
    k = 0
    while k < max_steps and idx.size:
        K = int(min(_block_len(x.size), max_steps - k))
        xi = batch_noise(rng, batch_size, noise_std, (K,) + x.shape, noise=noise)
        hit = np.zeros(idx.size, dtype=bool)
        for i in range(K):
            g = grad(x)
            g += xi[i]
            if momentum:
                m *= momentum
                m += (1.0 - momentum) * g
                x -= lr * m
            else:
                x -= lr * g
            if (k + i + 1) % check_every == 0 or i == K - 1:
                c = x if x.ndim == 1 else x[:, 0]
                new = (sgn * (c - tgt) >= 0) & ~hit
                if new.any():
                    hit |= new
                    times[idx[new]] = (k + i + 1) * lr
        k += K
        escaped[idx[hit]] = True
        keep = ~hit & np.isfinite(x if x.ndim == 1 else x[:, 0])
        idx, x, m, sgn, tgt = idx[keep], x[keep], m[keep], sgn[keep], tgt[keep]
    return np.minimum(times, horizon), escaped


@pytest.mark.parametrize("check_every", [1, 4, 7])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_block_vectorised_first_passage_is_identical_to_the_per_step_loop(check_every, momentum):
    # both directions over the barrier at once, many escapes within the horizon, several blocks
    x0 = np.concatenate([np.full(300, 1.0), np.full(300, -1.0)])
    kw = dict(lr=0.002, horizon=6.0, batch_size=1, noise_std=np.sqrt(500.0), momentum=momentum, seed=3,
              check_every=check_every)
    t_new, e_new = first_passage(WELL.grad, x0, -x0, **kw)
    t_ref, e_ref = _first_passage_per_step(WELL.grad, x0, -x0, **kw)
    assert 50 < e_new.sum() < x0.size                       # escapes and censored chains both present
    np.testing.assert_array_equal(t_new, t_ref)
    np.testing.assert_array_equal(e_new, e_ref)


def test_block_vectorised_first_passage_is_identical_in_two_dimensions():
    from sgdlab.landscapes.double_well import DoubleWell2D

    w2 = DoubleWell2D(0.6, 4.0, -0.9)
    x0 = np.column_stack([np.full(400, 1.0), np.random.default_rng(0).normal(0.0, 0.2, 400)])
    kw = dict(lr=0.008, horizon=5.0, noise="gaussian", noise_std=np.sqrt(2 * 0.25 / 0.008), check_every=10)
    t_new, e_new = first_passage(w2.grad, x0, -1.0, seed=np.random.default_rng(70), **kw)
    t_ref, e_ref = _first_passage_per_step(w2.grad, x0, -1.0, seed=np.random.default_rng(70), **kw)
    assert e_new.any()
    np.testing.assert_array_equal(t_new, t_ref)
    np.testing.assert_array_equal(e_new, e_ref)


def _no_warnings(call):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_step_above_the_stability_limit_gives_inf_and_a_flag_not_nan(momentum):
    # lr f''(±1) = 40 * (4.3 or 11.7): far above 2 (SGD) and 2(1+β)/(1-β) = 38 (SGDM). A particle started
    # at a minimum, where grad is exactly 0, with no noise stays put and is not flagged
    x0 = np.array([2.0, -2.0, 1.0])
    lr = 40.0
    out, diverged = _no_warnings(lambda: simulate(WELL.grad, x0, lr=lr, times=[0.0, lr, 500 * lr], momentum=momentum,
                                                  return_diverged=True))
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out[0], x0)
    np.testing.assert_array_equal(diverged, [True, True, False])
    assert np.all(np.isinf(out[-1, :2])) and out[-1, 2] == 1.0
    assert np.all(np.isfinite(out[1]))                     # one step: large but finite, not yet flagged


def test_a_diverging_particle_does_not_change_the_others():
    x_ok = np.linspace(-1.2, 1.2, 5)
    kw = dict(lr=0.01, times=[1.0, 3.0], batch_size=2, noise_std=5.0, seed=7, return_diverged=True)
    blow_up = lambda x: WELL.grad(np.clip(x, -3, 3)) - np.where(x > 5, x**3, 0.0)  # noqa: E731
    ref, d_ref = simulate(blow_up, np.r_[x_ok, 0.0], **kw)
    out, d_out = _no_warnings(lambda: simulate(blow_up, np.r_[x_ok, 6.0], **kw))
    assert not d_ref.any() and d_out.tolist() == [False] * 5 + [True]
    np.testing.assert_array_equal(out[:, :5], ref[:, :5])
    assert np.all(np.isinf(out[:, 5]))


def test_euler_maruyama_flags_divergence():
    out, diverged = _no_warnings(lambda: euler_maruyama(WELL.grad, [2.0, -2.0], temperature=0.1, dt=2.0,
                                                        times=[0.0, 400.0], return_diverged=True))
    assert diverged.all() and np.all(np.isinf(out[-1])) and not np.isnan(out).any()


def test_first_passage_of_a_blow_up_is_inf_and_a_crossing_before_it_counts():
    outward = lambda x: -x**3  # noqa: E731  (dx/dt = x^3 blows up at t = 1/(2 x0^2))
    times, esc = _no_warnings(lambda: first_passage(outward, np.array([2.0, -2.0]), -5.0, lr=0.01, horizon=10.0))
    # the first runs to +inf away from the target: diverged (inf, not escaped); the second crosses -5 on its
    # way to -inf: an escape at a finite time before it diverges
    assert math.isinf(times[0]) and not esc[0]
    assert esc[1] and 0 < times[1] < 0.2
    from sgdlab.sde.escape import censored_exponential, escape_rate

    est = censored_exponential(times, esc)
    assert est.diverged and est.n_diverged == 1 and math.isinf(est.rate) and math.isinf(est.mean_time)
    rate = escape_rate(outward, np.array([2.0, -2.0, -3.0]), -5.0, lr=0.01, horizon=10.0,
                       groups=np.array(["up", "down", "down"]))
    assert rate["up"].diverged and not rate["down"].diverged and rate["down"].n_escaped == 2


def test_simulate_and_first_passage_reject_non_finite_starts_and_bad_seeds():
    for bad in ([np.nan, 0.0], [np.inf], "ab", None):
        with pytest.raises(ValueError, match="x0"):
            simulate(WELL.grad, bad, lr=0.01, times=[1.0])
    with pytest.raises(ValueError, match="seed"):
        first_passage(WELL.grad, np.zeros(2), 1.0, lr=0.01, horizon=1.0, seed=-1)
    with pytest.raises(ValueError, match="grad"):
        simulate(lambda x: np.zeros(7), np.zeros(2), lr=0.01, times=[1.0])
