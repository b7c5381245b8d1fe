"""The training loop: sampling, gradient estimators (SVAG, noise-amplified), evaluation, divergence, seeding."""
import math

import numpy as np
import pytest
import torch

from sgdlab.train import BatchSampler, TrainConfig, as_tensors, estimator_weights, mlp, train


def _data(n=240, d=10, k=3, seed=0, n_test=60):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, k))
    x = rng.standard_normal((n + n_test, d))
    y = np.argmax(x @ w + 0.3 * rng.standard_normal((n + n_test, k)), axis=1)
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


def _model(seed=0, device="cpu"):
    return mlp([10, 16, 3], "tanh", seed=seed, dtype=torch.float64, device=device)


def test_sgd_learns_and_records_the_schedule(device):
    cfg = TrainConfig(optimizer="sgd", lr=0.2, steps=120, batch_size=16, eval_every=40)
    res = train(_model(device=device), _data(), cfg)
    h = res.history
    assert h["step"] == [0, 40, 80, 120] and h["iteration"] == [0, 40, 80, 120]
    assert h["epoch"][-1] == pytest.approx(120 * 16 / 240)
    assert h["train_loss"][-1] < 0.6 * h["train_loss"][0]
    assert h["train_acc"][-1] > 0.8 and h["test_acc"][-1] > 0.7
    assert not res.diverged and res.iterations == 120


def test_same_seed_same_run_and_devices_agree(device):
    cfg = TrainConfig(optimizer="sgdm", lr=0.05, momentum=0.9, steps=30, batch_size=8, eval_every=10,
                      sampling="with_replacement", seed=3)
    a = train(_model(device=device), _data(), cfg).history
    b = train(_model(), _data(), cfg).history
    np.testing.assert_allclose(a["train_loss"], b["train_loss"], rtol=1e-10)
    c = train(_model(), _data(), cfg.replace(seed=4)).history
    assert c["train_loss"][-1] != b["train_loss"][-1]


def test_full_batch_gd_is_deterministic_gradient_descent():
    data = _data()
    m1, m2 = _model(), _model()
    train(m1, data, TrainConfig(optimizer="gd", lr=0.3, steps=5, batch_size=None))
    t = as_tensors(data, dtype=torch.float64)
    params = list(m2.parameters())
    for _ in range(5):
        g = torch.autograd.grad(torch.nn.functional.cross_entropy(m2(t.x_train), t.y_train), params)
        with torch.no_grad():
            for p, gi in zip(params, g):
                p -= 0.3 * gi
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)


def test_divergence_is_recorded_not_raised():
    res = train(_model(), _data(), TrainConfig(optimizer="sgd", lr=1e4, steps=200, batch_size=16, check_every=5))
    assert res.diverged and res.diverged_at is not None and res.iterations < 200
    assert res.history["iteration"][-1] == res.diverged_at
    last = res.history["train_loss"][-1]
    assert last == math.inf or last > 100 * res.history["train_loss"][0]
    assert not any(v != v for v in res.history["train_loss"])  # never a silent NaN


def test_epoch_sampling_visits_every_sample_once_per_epoch():
    s = BatchSampler(50, 8, sampling="epoch", seed=1)
    assert s.steps_per_epoch == 6
    idx = s.block(12).numpy()
    for e in range(2):
        ep = idx[6 * e:6 * e + 6].ravel()
        assert len(set(ep)) == 48  # 2 dropped (50 = 6·8 + 2)
    assert not np.array_equal(idx[:6], idx[6:])  # reshuffled
    s2 = BatchSampler(50, 8, sampling="epoch", seed=1)
    np.testing.assert_array_equal(np.concatenate([s2.block(5), s2.block(7)]), idx)  # blocks continue the stream


def test_other_samplings():
    s = BatchSampler(20, 6, sampling="without_replacement", n_draws=3, seed=0)
    idx = s.block(50).numpy()
    assert all(len(set(r)) == 18 for r in idx)
    r = BatchSampler(20, 15, sampling="with_replacement", n_draws=3, seed=0).block(200).numpy()
    assert r.min() >= 0 and r.max() < 20 and any(len(set(row)) < 45 for row in r)
    assert np.bincount(r.ravel(), minlength=20).min() > 0.8 * r.size / 20


def _estimator_samples(cfg, g, n_rep, seed=0):
    """Draw the configured estimator Σ_j c_j g(B_j) with the loop's own sampler and weights."""
    c = estimator_weights(cfg)
    B = cfg.batch_size
    w = np.concatenate([np.full(B, cj / B) for cj in c])
    idx = BatchSampler(len(g), B, sampling=cfg.sampling, n_draws=len(c), seed=seed).block(n_rep).numpy()
    return np.einsum("rb,rbp->rp", np.broadcast_to(w, idx.shape), g[idx])


@pytest.mark.parametrize("ell", [1, 2, 4, 8])
def test_svag_gradient_has_mean_grad_and_ell_times_the_covariance(ell):
    rng = np.random.default_rng(0)
    g = rng.standard_normal((30, 2)) @ np.array([[1.0, 0.5], [0.0, 2.0]]) + np.array([0.3, -1.0])
    cfg = TrainConfig(batch_size=4, gradient="svag", svag_l=ell, sampling="with_replacement")
    c = estimator_weights(cfg)
    assert sum(c) == pytest.approx(1.0) and sum(ci ** 2 for ci in c) == pytest.approx(ell)  # exact algebra
    est = _estimator_samples(cfg, g, 40000)
    sgd = _estimator_samples(cfg.replace(gradient="minibatch", svag_l=1), g, 40000, seed=1)
    cov_sgd = np.cov(g.T, bias=True) / 4  # exact covariance of a with-replacement batch mean
    se = np.sqrt(np.diag(cov_sgd) * ell / 40000)
    np.testing.assert_array_less(np.abs(est.mean(0) - g.mean(0)), 4.5 * se)
    np.testing.assert_allclose(np.cov(est.T), ell * cov_sgd, rtol=0.05, atol=0.03 * ell * np.abs(cov_sgd).max())
    np.testing.assert_allclose(np.cov(sgd.T), cov_sgd, rtol=0.05, atol=0.03 * np.abs(cov_sgd).max())


@pytest.mark.parametrize("k", [0.0, 1.0, 3.0])
def test_noise_amplified_gradient_has_mean_grad_and_one_plus_k2_times_the_covariance(k):
    rng = np.random.default_rng(1)
    g = rng.standard_normal((40, 2)) + np.array([1.0, 2.0])
    cfg = TrainConfig(batch_size=5, gradient="noise_amplified", noise_k=k, sampling="with_replacement")
    est = _estimator_samples(cfg, g, 40000)
    cov = np.cov(g.T, bias=True) / 5
    np.testing.assert_array_less(np.abs(est.mean(0) - g.mean(0)), 4.5 * np.sqrt(np.diag(cov) * (1 + k * k) / 40000))
    np.testing.assert_allclose(np.cov(est.T), (1 + k * k) * cov, rtol=0.05, atol=0.03 * (1 + k * k) * np.abs(cov).max())


@pytest.mark.parametrize("k,sampling", [(1.0, "with_replacement"), (3.0, "with_replacement"), (2.0, "epoch")])
def test_gd_plus_noise_gradient_has_mean_grad_and_k2_times_the_batch_covariance(k, sampling):
    # ∇L + k (g(B₁) − g(B₂))/√2: covariance k²Σ/B i.i.d., n/(n−1)·k²Σ/B for two disjoint batches
    rng = np.random.default_rng(2)
    n, B = 40, 5
    g = rng.standard_normal((n, 2)) + np.array([1.0, 2.0])
    cfg = TrainConfig(optimizer="gd", batch_size=B, gradient="gd_plus_noise", noise_k=k, sampling=sampling)
    assert estimator_weights(cfg) == pytest.approx([k / math.sqrt(2), -k / math.sqrt(2)], rel=1e-15)
    est = g.mean(0) + _estimator_samples(cfg, g, 40000)
    cov = k * k * np.cov(g.T, bias=True) / B * (n / (n - 1) if sampling == "epoch" else 1.0)
    np.testing.assert_array_less(np.abs(est.mean(0) - g.mean(0)), 4.5 * np.sqrt(np.diag(cov) / 40000))
    np.testing.assert_allclose(np.cov(est.T), cov, rtol=0.05, atol=0.03 * np.abs(cov).max())


def test_gd_plus_noise_step_is_the_full_gradient_plus_the_weighted_batch_difference():
    data = _data()
    k, B = 2.5, 8
    cfg = TrainConfig(optimizer="gd", lr=0.2, steps=3, batch_size=B, gradient="gd_plus_noise", noise_k=k, seed=4,
                      eval_every=1)
    m1, m2 = _model(), _model()
    res = train(m1, data, cfg)
    assert res.history["epoch"] == [s * (240 + 2 * B) / 240 for s in range(4)]  # full pass + 2B noise samples
    t = as_tensors(data, dtype=torch.float64)
    idx = BatchSampler(240, B, n_draws=2, seed=4).block(3)
    params = list(m2.parameters())
    lf = torch.nn.functional.cross_entropy
    for row in idx:
        gf = torch.autograd.grad(lf(m2(t.x_train), t.y_train), params)
        g1 = torch.autograd.grad(lf(m2(t.x_train[row[:B]]), t.y_train[row[:B]]), params)
        g2 = torch.autograd.grad(lf(m2(t.x_train[row[B:]]), t.y_train[row[B:]]), params)
        with torch.no_grad():
            for p, a, b, c in zip(params, gf, g1, g2):
                p -= 0.2 * (a + k * (b - c) / math.sqrt(2))
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)


def test_gd_plus_noise_with_k_zero_is_plain_gd_and_divergence_watches_the_full_loss():
    data = _data()
    gd = TrainConfig(optimizer="gd", lr=0.3, steps=6, batch_size=None, eval_every=2)
    m1, m2 = _model(), _model()
    a = train(m1, data, gd)
    b = train(m2, data, gd.replace(gradient="gd_plus_noise", noise_k=0.0, batch_size=16, seed=5))
    np.testing.assert_allclose(b.history["train_loss"], a.history["train_loss"], rtol=1e-13, atol=0)
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-13, atol=1e-15)
    # a huge k: the full training loss explodes and the run stops with a flag, never an exception
    big = train(_model(), data, gd.replace(steps=50, gradient="gd_plus_noise", noise_k=1e4, batch_size=16,
                                           check_every=1, divergence_factor=5.0))
    assert big.diverged and big.iterations < 50 and big.history["iteration"][-1] == big.diverged_at
    assert not any(v != v for v in big.history["train_loss"])


def test_svag_runs_ell_times_the_steps_at_lr_over_ell_and_one_step_is_the_weighted_gradient():
    data = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.2, steps=10, batch_size=8, gradient="svag", svag_l=4, eval_every=5, seed=2)
    res = train(_model(), data, cfg)
    assert res.iterations == 40 and res.history["iteration"] == [0, 20, 40] and res.history["step"] == [0, 5, 10]
    # the same ℓ·steps = 4 iterations by hand: θ ← θ − (η/ℓ)(c₁ g(B₁) + c₂ g(B₂)) with the sampler's batches
    m1, m2 = _model(), _model()
    train(m1, data, cfg.replace(steps=1))
    t = as_tensors(data, dtype=torch.float64)
    idx = BatchSampler(240, 8, n_draws=2, seed=2).block(4)
    c1, c2 = estimator_weights(cfg)
    params = list(m2.parameters())
    lf = torch.nn.functional.cross_entropy
    for row in idx:
        g1 = torch.autograd.grad(lf(m2(t.x_train[row[:8]]), t.y_train[row[:8]]), params)
        g2 = torch.autograd.grad(lf(m2(t.x_train[row[8:]]), t.y_train[row[8:]]), params)
        with torch.no_grad():
            for p, a, b in zip(params, g1, g2):
                p -= 0.2 / 4 * (c1 * a + c2 * b)
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kw,name", [
    ({"optimizer": "lbfgs"}, "optimizer"), ({"lr": 0}, "lr"), ({"lr": -0.1}, "lr"), ({"lr": float("nan")}, "lr"),
    ({"batch_size": 0}, "batch_size"), ({"batch_size": -4}, "batch_size"), ({"batch_size": None}, "batch_size"),
    ({"optimizer": "sgdm", "momentum": 1.0}, "momentum"), ({"optimizer": "sgdm", "momentum": -1.5}, "momentum"),
    ({"momentum": 0.5}, "momentum"), ({"loss": "hinge"}, "loss"), ({"sampling": "stratified"}, "sampling"),
    ({"gradient": "svag", "svag_l": 0}, "svag_l"), ({"svag_l": 2}, "svag_l"), ({"noise_k": -1}, "noise_k"),
    ({"steps": 0}, "steps"), ({"eval_steps": (0, 500)}, "eval_steps"), ({"seed": -1}, "seed"),
    ({"gradient": "gd_plus_noise", "noise_k": 1.0}, "gradient"),  # needs optimizer='gd'
    ({"optimizer": "gd", "batch_size": None, "gradient": "gd_plus_noise"}, "batch_size"),  # needs B
    ({"optimizer": "gd", "batch_size": None, "gradient": "noise_amplified"}, "gradient"),
    ({"optimizer": "gd", "batch_size": 4, "gradient": "gd_plus_noise", "noise_k": math.nan}, "noise_k"),
])
def test_bad_config_names_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**kw)


def test_batch_above_dataset_size_names_the_parameter():
    with pytest.raises(ValueError, match="batch_size"):
        train(_model(), _data(n=20), TrainConfig(batch_size=21))
    with pytest.raises(ValueError, match="batch_size"):
        train(_model(), _data(n=20), TrainConfig(batch_size=8, gradient="noise_amplified", noise_k=1.0))
    with pytest.raises(ValueError, match="batch_size=11"):  # two disjoint noise batches: 2B ≤ n
        train(_model(), _data(n=20), TrainConfig(optimizer="gd", batch_size=11, gradient="gd_plus_noise"))


def test_out_of_range_labels_are_a_value_error_naming_y():
    import numpy as np
    import torch

    from sgdlab.train import TrainConfig, mlp, train

    rng = np.random.default_rng(0)
    data = {"x_train": rng.normal(size=(16, 4)), "y_train": np.array([0, 1, 2, 7] * 4)}
    with pytest.raises(ValueError, match="y_train: class labels"):
        train(mlp([4, 3], seed=0, dtype=torch.float64), data,
              TrainConfig(optimizer="sgd", lr=0.1, steps=2, batch_size=4, loss="cross_entropy"))


def test_mismatched_shapes_are_a_value_error_naming_y():
    import torch

    from sgdlab.train.losses import per_sample_loss

    with pytest.raises(ValueError, match="^y"):
        per_sample_loss("mse", torch.zeros(4, 1), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="^y has 3"):
        per_sample_loss("cross_entropy", torch.zeros(4, 3), torch.zeros(3, dtype=torch.long))
