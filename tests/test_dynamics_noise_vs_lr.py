"""Large learning rate vs amplified gradient noise (part 3, chapter 06): the three-arm protocol."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch threads start)
from sgdlab.dynamics.noise_vs_lr import continue_ensemble, lr_vs_noise, matched_noise_k
from sgdlab.train import TrainConfig, mlp, train, train_ensemble


def _data(n=120, n_test=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + n_test, d))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


def _model(seed):
    return mlp([6, 8, 3], seed=seed, dtype=torch.float64)


def test_matched_noise_k_equates_the_temperatures():
    # η_S (1 + k²) = η_L; a tenfold ratio needs k = 3
    assert matched_noise_k(0.2, 0.02) == pytest.approx(3.0, rel=1e-12)
    for lr_l, lr_s in ((1.0, 0.5), (0.3, 0.01)):
        k = matched_noise_k(lr_l, lr_s)
        assert lr_s * (1 + k**2) == pytest.approx(lr_l, rel=1e-12)


@pytest.mark.parametrize("args", [(0.02, 0.2), (0.1, 0.1), (0.1, 0.0), (math.inf, 0.1), (True, 0.1)])
def test_matched_noise_k_rejects_bad_rates(args):
    with pytest.raises(ValueError, match="lr_"):
        matched_noise_k(*args)


def test_continue_ensemble_starts_from_the_source_weights():
    d = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, batch_size=10, steps=7, eval_every=7)
    first = train_ensemble(_model, d, cfg, seeds=[0, 1, 2])
    nxt = continue_ensemble([(first, [2, 0])], _model, d, cfg, seeds=[2, 0], batch_seeds=[11, 12])
    # the step-0 evaluation of the continuation is the sources' final state, exactly
    np.testing.assert_array_equal(nxt.history["train_loss"][0], first.history["train_loss"][-1][[2, 0]])
    # and the continuation equals a single run from those weights with the new batch seed
    m = first.member_model(2)
    ref = train(m, d, cfg.replace(seed=11))
    np.testing.assert_allclose(nxt.history["train_loss"][-1][0], ref.history["train_loss"][-1], rtol=1e-10)


def test_continue_ensemble_validates_its_inputs():
    d = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, batch_size=10, steps=2)
    first = train_ensemble(_model, d, cfg, seeds=[0, 1])
    with pytest.raises(ValueError, match="out of range"):
        continue_ensemble([(first, [5])], _model, d, cfg, seeds=[0])
    with pytest.raises(ValueError, match="seeds has"):
        continue_ensemble([(first, [0, 1])], _model, d, cfg, seeds=[0])
    with pytest.raises(ValueError, match="distinct"):
        continue_ensemble([(first, [0, 1])], _model, d, cfg, seeds=[0, 1], batch_seeds=[3, 3])
    with pytest.raises(ValueError, match="architecture"):
        continue_ensemble([(first, [0])], lambda s: mlp([6, 5, 3], seed=s, dtype=torch.float64), d, cfg, seeds=[0])


def test_lr_vs_noise_arms_follow_the_protocol():
    d = _data()
    seeds, t1, t2, t3, B = [0, 1], 6, 4, 5, 10
    res = lr_vs_noise(_model, d, lr_large=0.3, lr_small=0.03, batch_size=B, steps_explore=t1, steps_refine=t2,
                      steps_long=t3, seeds=seeds, eval_every=2)
    assert set(res.arms) == {"large_then_small", "small", "small_amplified", "small_long"}
    assert res.noise_k == pytest.approx(3.0)
    cfg = TrainConfig(optimizer="sgd", batch_size=B, steps=t1, eval_every=2)
    for arm, lr in (("large_then_small", 0.3), ("small", 0.03)):
        h = res.arms[arm]
        np.testing.assert_array_equal(h.step, [0, 2, 4, 6, 8, 10])
        np.testing.assert_allclose(h.epoch, h.step * B / 120)
        assert h.train_loss.shape == (6, 2)
        # phase 1 of each member is a plain run at its learning rate with its seed
        for j, s in enumerate(seeds):
            ref = train(_model(s), d, cfg.replace(lr=lr, seed=s))
            np.testing.assert_allclose(h.train_loss[:4, j], ref.history["train_loss"], rtol=1e-10)
    # phase 1 of the amplified arm: the noise-amplified estimator at η_S with k = 3
    ref = train(_model(1), d, cfg.replace(lr=0.03, seed=1, gradient="noise_amplified", noise_k=3.0))
    np.testing.assert_allclose(res.arms["small_amplified"].train_loss[:4, 1], ref.history["train_loss"], rtol=1e-10)
    # the long control extends the small arm
    long = res.arms["small_long"]
    assert long.step[-1] == t1 + t2 + t3
    np.testing.assert_array_equal(long.train_loss[:6], res.arms["small"].train_loss)
    assert np.all(np.isfinite(long.train_loss)) and not long.diverged.any()


def test_lr_vs_noise_reports_divergence_and_keeps_it():
    d = _data()
    res = lr_vs_noise(_model, d, lr_large=1e4, lr_small=0.01, batch_size=10, steps_explore=20, steps_refine=4,
                      seeds=[0], eval_every=2)
    h = res.arms["large_then_small"]
    assert h.diverged.all()
    assert np.isinf(h.final("train_loss")).all()
    # the accuracy is carried forward from the last evaluation before the divergence: never NaN
    acc = h.test_acc[:, 0]
    assert np.isfinite(acc).all() and acc[-1] == acc[np.argmax(np.isinf(h.train_loss[:, 0])) - 1]
    assert not res.arms["small"].diverged.any() and np.isfinite(res.arms["small"].final("train_loss")).all()
    assert "small_long" not in res.arms


@pytest.mark.parametrize("kw, name", [
    (dict(lr_large=0.01), "lr_large"), (dict(batch_size=50), "batch_size"), (dict(steps_explore=0), "steps_explore"),
    (dict(steps_long=-1), "steps_long"), (dict(seeds=[0, 0]), "seeds"), (dict(noise_k=-1.0), "noise_k"),
    (dict(eval_every=0), "eval_every"),
])
def test_lr_vs_noise_validates_its_inputs(kw, name):
    base = dict(lr_large=0.3, lr_small=0.03, batch_size=10, steps_explore=2, steps_refine=2, seeds=[0])
    base.update(kw)
    with pytest.raises(ValueError, match=name):
        lr_vs_noise(_model, _data(), **base)


def test_p3_noise_vs_lr_experiment_runs_at_book_scale(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sgdlab import data
    from sgdlab.experiments import is_fresh, load_results, run
    from sgdlab.experiments.p3_noise_vs_lr import GD_ARM_NAMES, format_summary, plot_summary

    if not data.available("fashion"):
        pytest.skip("Fashion-MNIST is not installed")
    monkeypatch.setenv("SGDLAB_DATA_OUT", str(tmp_path))  # never the repository's data/
    out = run("p3_noise_vs_lr", scale="book", progress=False, log=lambda *a, **k: None)
    assert out["complete"] and out["results"].startswith(str(tmp_path))
    res = load_results("p3_noise_vs_lr", "book", tmp_path)
    (row,) = res["summary"]["final"]
    assert row["model"] == "mlp"
    for arm in ("large_then_small", "small", "small_amplified", "small_long") + GD_ARM_NAMES:
        assert row[arm]["n_diverged"] == 0 and 0.1 < row[arm]["test_acc_mean"] <= 1.0
    assert row["small_long"]["train_loss_mean"] < row["small"]["train_loss_mean"]
    assert row["gd_small_long"]["train_loss_mean"] < row["gd_small"]["train_loss_mean"]
    (pt,) = res["points"]
    r = pt["result"]
    assert r["gd_noise_k"] == pytest.approx(math.sqrt(10))
    gd = r["arms"]["gd_large_then_small"]
    assert gd["step"] == gd["epoch"] and gd["step"][-1] == 60
    assert is_fresh("p3_noise_vs_lr", "book", tmp_path)[0]
    # the summary's text and plot show every arm, the GD ones included
    text = format_summary(res["summary"])
    assert "(c) GD η_S + noise" in text and "(a) SGD η_L → η_S" in text and text.count("test acc") == 8
    ax = plot_summary(res["summary"])
    assert [t.get_text() for t in ax.get_xticklabels()][-4:] == ["(a) GD η_L → η_S", "(b) GD η_S",
                                                               "(c) GD η_S + noise", "(d) GD η_S, longer"]
    plt.close(ax.figure)


def test_p3_noise_vs_lr_cnn_point_runs():
    from sgdlab import data
    from sgdlab.experiments.p3_noise_vs_lr import CONFIGS, run_point

    if not data.available("fashion"):
        pytest.skip("Fashion-MNIST is not installed")
    cfg = {**CONFIGS["book"], "n_train": 300, "n_test": 100, "seeds": 1, "epochs_explore": 1, "epochs_refine": 1,
           "long_factor": 1}
    cfg.update(gd_n_train=200, gd_steps_explore=3, gd_steps_refine=2, gd_long_factor=1, gd_eval_every=1)
    r = run_point({"model": "cnn"}, cfg, "cpu")
    assert set(r["arms"]) == {"large_then_small", "small", "small_amplified", "gd_large_then_small", "gd_small",
                              "gd_small_amplified"}
    assert r["noise_k"] == pytest.approx(3.0) and r["gd_n_train"] == 200
    assert len(r["arms"]["gd_small"]["train_loss"][0]) == 6
    assert all(np.isfinite(r["arms"][a]["train_loss"][0][-1]) for a in r["arms"])


# --------------------------------------------------------------------------- full-batch GD arms
from sgdlab.dynamics.noise_vs_lr import (  # noqa: E402
    GD_ARMS,
    gd_lr_vs_noise,
    matched_gd_noise_k,
    train_gd_noise_ensemble,
)
from sgdlab.train import BatchSampler, evaluate  # noqa: E402
from sgdlab.train.losses import mean_loss  # noqa: E402


def _gd_cfg(lr, steps, every):
    return TrainConfig(optimizer="gd", lr=lr, batch_size=None, steps=steps, eval_every=every)


def _noisy_gd_reference(model, d, lr, steps, k, B, seed, every):
    """Brute force: one network, three autograd passes per step, the engine's batch sampler."""
    x, y = torch.as_tensor(d["x_train"]), torch.as_tensor(d["y_train"])
    sampler = BatchSampler(len(y), B, n_draws=2, seed=seed)
    params = list(model.parameters())
    losses = [evaluate(model, x, y, "cross_entropy")[0]]
    for t in range(1, steps + 1):
        idx = sampler.block(1)[0]
        gf = torch.autograd.grad(mean_loss("cross_entropy", model(x), y), params)
        g2 = torch.autograd.grad(mean_loss("cross_entropy", model(x[idx[:B]]), y[idx[:B]]), params)
        g3 = torch.autograd.grad(mean_loss("cross_entropy", model(x[idx[B:]]), y[idx[B:]]), params)
        with torch.no_grad():
            for p, a, b, c in zip(params, gf, g2, g3):
                p -= lr * (a + k * (b - c) / math.sqrt(2))
        if t % every == 0:
            losses.append(evaluate(model, x, y, "cross_entropy")[0])
    return np.array(losses)


def test_matched_gd_noise_k_gives_the_small_step_sgd_temperature_at_the_large_rate():
    # GD has no noise of its own: η_S k² = η_L (not η_S (1 + k²) as for the SGD arm)
    assert matched_gd_noise_k(0.2, 0.02) == pytest.approx(math.sqrt(10), rel=1e-12)
    for lr_l, lr_s in ((1.0, 0.5), (0.3, 0.01)):
        assert lr_s * matched_gd_noise_k(lr_l, lr_s) ** 2 == pytest.approx(lr_l, rel=1e-12)
    assert matched_gd_noise_k(0.2, 0.02) ** 2 == pytest.approx(matched_noise_k(0.2, 0.02) ** 2 + 1)
    with pytest.raises(ValueError, match="lr_large"):
        matched_gd_noise_k(0.01, 0.1)


def test_noisy_gd_with_k_zero_is_plain_gd():
    d = _data()
    cfg = _gd_cfg(0.5, 9, 3)
    res = train_gd_noise_ensemble(_model, d, cfg, seeds=[0, 1], noise_k=0.0, noise_batch_size=10)
    for j, s in enumerate((0, 1)):
        ref = train(_model(s), d, cfg.replace(seed=s))
        np.testing.assert_allclose(res.history["train_loss"][:, j], ref.history["train_loss"], rtol=1e-10)
        np.testing.assert_allclose(res.history["test_acc"][:, j], ref.history["test_acc"], rtol=1e-10)
        ref_model = _model(s)
        train(ref_model, d, cfg)
        for (name, p) in ref_model.named_parameters():
            np.testing.assert_allclose(res.params[name][j].numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_noisy_gd_equals_a_brute_force_loop():
    d = _data()
    k, B, steps = 2.5, 10, 8
    res = train_gd_noise_ensemble(_model, d, _gd_cfg(0.2, steps, 2), seeds=[3, 4], noise_k=k, noise_batch_size=B)
    for j, s in enumerate((3, 4)):
        ref = _noisy_gd_reference(_model(s), d, 0.2, steps, k, B, s, 2)
        np.testing.assert_allclose(res.history["train_loss"][:, j], ref, rtol=1e-10)
    # a thin wrapper over the engine's estimator; the single run agrees
    assert res.config["gradient"] == "gd_plus_noise" and res.config["noise_batch_size"] == B
    single = train(_model(4), d, _gd_cfg(0.2, steps, 2).replace(gradient="gd_plus_noise", noise_k=k, batch_size=B,
                                                                 seed=4))
    np.testing.assert_allclose(res.history["train_loss"][:, 1], single.history["train_loss"], rtol=1e-10)
    # the noise moves the iterates away from GD's
    plain = train(_model(3), d, _gd_cfg(0.2, steps, 2))
    assert abs(res.history["train_loss"][-1, 0] - plain.history["train_loss"][-1]) > 1e-6


def test_noisy_gd_reports_divergence_and_validates():
    d = _data()
    res = train_gd_noise_ensemble(_model, d, _gd_cfg(1e4, 20, 5), seeds=[0], noise_k=1.0, noise_batch_size=10)
    assert res.diverged.all() and np.isinf(res.history["train_loss"][-1]).all()
    assert np.isfinite(res.history["test_acc"]).all()  # carried forward, never NaN
    with pytest.raises(ValueError, match="optimizer='gd'"):
        train_gd_noise_ensemble(_model, d, TrainConfig(optimizer="sgd"), seeds=[0], noise_k=1.0, noise_batch_size=10)
    with pytest.raises(ValueError, match="noise_k"):
        train_gd_noise_ensemble(_model, d, _gd_cfg(0.1, 2, 1), seeds=[0], noise_k=-1.0, noise_batch_size=10)
    with pytest.raises(ValueError, match="noise_batch_size"):
        train_gd_noise_ensemble(_model, d, _gd_cfg(0.1, 2, 1), seeds=[0], noise_k=1.0, noise_batch_size=61)


def test_gd_arms_equal_plain_gd_runs():
    d = _data()
    seeds, t1, t2, t3, every = [0, 1], 6, 4, 4, 2
    res = gd_lr_vs_noise(_model, d, lr_large=1.5, lr_small=0.15, noise_batch_size=10, steps_explore=t1,
                         steps_refine=t2, steps_long=t3, seeds=seeds, eval_every=every)
    assert set(res.arms) == set(GD_ARMS)
    assert res.noise_k == pytest.approx(math.sqrt(10))
    for j, s in enumerate(seeds):
        # (a) and (b): one network trained by the engine's GD, phase after phase, in place
        for arm, lrs in (("gd_large_then_small", (1.5, 0.15)), ("gd_small", (0.15, 0.15))):
            m = _model(s)
            r1 = train(m, d, _gd_cfg(lrs[0], t1, every))
            r2 = train(m, d, _gd_cfg(lrs[1], t2, every))
            ref = np.concatenate([r1.history["train_loss"], r2.history["train_loss"][1:]])
            h = res.arms[arm]
            np.testing.assert_array_equal(h.step, [0, 2, 4, 6, 8, 10])
            np.testing.assert_array_equal(h.epoch, h.step)
            np.testing.assert_allclose(h.train_loss[:, j], ref, rtol=1e-10)
            if arm == "gd_small":
                r3 = train(m, d, _gd_cfg(0.15, t3, every))
                np.testing.assert_allclose(res.arms["gd_small_long"].train_loss[:, j],
                                           np.concatenate([ref, r3.history["train_loss"][1:]]), rtol=1e-10)
        # (c): noisy GD at η_S with k = √10 (brute force), then plain GD at η_S
        m = _model(s)
        ref1 = _noisy_gd_reference(m, d, 0.15, t1, math.sqrt(10), 10, s, every)
        r2 = train(m, d, _gd_cfg(0.15, t2, every))
        np.testing.assert_allclose(res.arms["gd_small_amplified"].train_loss[:, j],
                                   np.concatenate([ref1, r2.history["train_loss"][1:]]), rtol=1e-10)
    assert res.arms["gd_small_long"].step[-1] == t1 + t2 + t3


def test_gd_arms_keep_divergence_and_validate():
    d = _data()
    res = gd_lr_vs_noise(_model, d, lr_large=1e4, lr_small=0.01, noise_batch_size=10, steps_explore=20,
                         steps_refine=4, seeds=[0], eval_every=2)
    assert res.arms["gd_large_then_small"].diverged.all()
    assert np.isinf(res.arms["gd_large_then_small"].final("train_loss")).all()
    assert not res.arms["gd_small"].diverged.any() and "gd_small_long" not in res.arms
    base = dict(lr_large=0.3, lr_small=0.03, noise_batch_size=10, steps_explore=2, steps_refine=2, seeds=[0])
    for kw, name in ((dict(lr_small=0.5), "lr_large"), (dict(noise_batch_size=70), "noise_batch_size"),
                     (dict(steps_refine=0), "steps_refine"), (dict(seeds=[1, 1]), "seeds"),
                     (dict(noise_k=math.nan), "noise_k"), (dict(eval_every=0), "eval_every")):
        with pytest.raises(ValueError, match=name):
            gd_lr_vs_noise(_model, d, **{**base, **kw})
