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
    assert np.isinf(h.final("train_loss")).all() and np.isnan(h.final("test_acc")).all()
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


def test_p3_noise_vs_lr_experiment_runs_at_book_scale(tmp_path):
    from sgdlab import data
    from sgdlab.experiments import is_fresh, load_results, run

    if not data.available("fashion"):
        pytest.skip("Fashion-MNIST is not installed")
    out = run("p3_noise_vs_lr", scale="book", data_dir=tmp_path, progress=False, log=lambda *a, **k: None)
    assert out["complete"]
    res = load_results("p3_noise_vs_lr", "book", tmp_path)
    (row,) = res["summary"]["final"]
    assert row["model"] == "mlp"
    for arm in ("large_then_small", "small", "small_amplified", "small_long"):
        assert row[arm]["n_diverged"] == 0 and 0.1 < row[arm]["test_acc_mean"] <= 1.0
    assert row["small_long"]["train_loss_mean"] < row["small"]["train_loss_mean"]
    assert is_fresh("p3_noise_vs_lr", "book", tmp_path)[0]


def test_p3_noise_vs_lr_cnn_point_runs():
    from sgdlab import data
    from sgdlab.experiments.p3_noise_vs_lr import CONFIGS, run_point

    if not data.available("fashion"):
        pytest.skip("Fashion-MNIST is not installed")
    cfg = {**CONFIGS["book"], "n_train": 300, "n_test": 100, "seeds": 1, "epochs_explore": 1, "epochs_refine": 1,
           "long_factor": 1}
    r = run_point({"model": "cnn"}, cfg, "cpu")
    assert set(r["arms"]) == {"large_then_small", "small", "small_amplified"}
    assert r["noise_k"] == pytest.approx(3.0)
    assert all(np.isfinite(r["arms"][a]["train_loss"][0][-1]) for a in r["arms"])
