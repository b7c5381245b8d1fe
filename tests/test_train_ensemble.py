"""Vectorised ensembles: every member follows the iterates of its own single run."""

import numpy as np
import pytest
import torch

from sgdlab.train import TrainConfig, mlp, train, train_ensemble

from test_train_loop import _data


def _fn(device="cpu"):
    return lambda s: mlp([10, 16, 3], "tanh", seed=s, dtype=torch.float64, device=device)


@pytest.mark.parametrize("cfg", [
    TrainConfig(optimizer="sgdm", lr=0.05, momentum=0.8, steps=25, batch_size=8, eval_every=10),
    TrainConfig(optimizer="adam", lr=0.01, steps=20, batch_size=16, sampling="with_replacement", eval_every=10),
    TrainConfig(optimizer="sgd", lr=0.2, steps=8, batch_size=8, gradient="svag", svag_l=2, eval_every=4),
    TrainConfig(optimizer="gd", lr=0.5, steps=6, batch_size=None, eval_every=3),
    TrainConfig(optimizer="gd", lr=0.3, steps=6, batch_size=8, gradient="gd_plus_noise", noise_k=2.0, eval_every=3),
], ids=["sgdm", "adam", "svag", "gd", "gd_plus_noise"])
def test_each_member_equals_its_single_run(device, cfg):
    data = _data()
    seeds, lrs = [0, 1, 2], [cfg.lr, cfg.lr * 0.5, cfg.lr * 2]
    ens = train_ensemble(_fn(device), data, cfg, seeds=seeds, lrs=lrs)
    assert ens.history["train_loss"].shape == (len(cfg.schedule()), 3)
    for i, (s, lr) in enumerate(zip(seeds, lrs)):
        model = _fn(device)(s)
        single = train(model, data, cfg.replace(seed=s, lr=lr))
        np.testing.assert_allclose(ens.member_history(i)["train_loss"], single.history["train_loss"], rtol=1e-10)
        np.testing.assert_allclose(ens.member_history(i)["test_acc"], single.history["test_acc"], rtol=1e-12)
        for p, q in zip(ens.member_model(i).parameters(), model.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)
    assert not ens.diverged.any()


def test_per_member_momentum():
    data = _data()
    cfg = TrainConfig(optimizer="sgdm_normalized", lr=0.2, steps=15, batch_size=8, eval_every=15)
    ens = train_ensemble(_fn(), data, cfg, seeds=[5, 5], momenta=[0.0, 0.9])
    for i, mom in enumerate([0.0, 0.9]):
        single = train(_fn()(5), data, cfg.replace(seed=5, momentum=mom))
        np.testing.assert_allclose(ens.member_history(i)["train_loss"], single.history["train_loss"], rtol=1e-10)


def test_a_diverging_member_is_frozen_and_the_others_go_on():
    data = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=60, batch_size=16, eval_every=20, check_every=5)
    ens = train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.1, 1e4])
    assert list(ens.diverged) == [False, True] and ens.diverged_at[0] is None and ens.diverged_at[1] is not None
    assert np.isinf(ens.history["train_loss"][-1, 1]) and np.isfinite(ens.history["train_loss"][-1, 0])
    single = train(_fn()(0), data, cfg.replace(seed=0))
    np.testing.assert_allclose(ens.member_history(0)["train_loss"], single.history["train_loss"], rtol=1e-10)
    d = train(_fn()(1), data, cfg.replace(seed=1, lr=1e4))
    assert d.diverged and d.diverged_at == ens.diverged_at[1]
    all_bad = train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[1e4, 1e4])
    assert all_bad.diverged.all() and all_bad.history["iteration"][-1] < 60  # stops early
    assert ens.to_dict()["diverged"] == [False, True]


def test_bad_ensemble_input_names_the_parameter():
    data = _data()
    cfg = TrainConfig(batch_size=8, steps=2)
    with pytest.raises(ValueError, match="lrs"):
        train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.1])
    with pytest.raises(ValueError, match="lr"):
        train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.1, -0.1])
    with pytest.raises(ValueError, match="momentum"):
        train_ensemble(_fn(), data, cfg.replace(optimizer="sgdm"), seeds=[0], momenta=[1.2])
    with pytest.raises(ValueError, match="seeds"):
        train_ensemble(_fn(), data, cfg, seeds=[])
    with pytest.raises(ValueError, match="batch_size"):
        train_ensemble(_fn(), _data(n=5), cfg, seeds=[0])


def test_gd_plus_noise_with_k_zero_is_plain_gd():
    data = _data()
    gd = TrainConfig(optimizer="gd", lr=0.5, steps=9, batch_size=None, eval_every=3)
    plain = train_ensemble(_fn(), data, gd, seeds=[0, 1])
    noisy = train_ensemble(_fn(), data, gd.replace(gradient="gd_plus_noise", noise_k=0.0, batch_size=12), seeds=[0, 1])
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(noisy.history[k], plain.history[k], rtol=1e-13, atol=0)
    for name, p in plain.params.items():
        torch.testing.assert_close(noisy.params[name], p, rtol=1e-13, atol=1e-15)
    assert noisy.config["gradient"] == "gd_plus_noise" and noisy.config["batch_size"] == 12
    # the epoch counter counts the noise batches too: one full pass + 2B samples per step
    np.testing.assert_allclose(noisy.history["epoch"], np.asarray(plain.history["epoch"]) * (240 + 24) / 240)


def test_gd_plus_noise_freezes_a_member_whose_full_loss_diverges():
    data = _data()
    cfg = TrainConfig(optimizer="gd", lr=0.3, steps=40, batch_size=16, gradient="gd_plus_noise", noise_k=2.0,
                      eval_every=10, check_every=1, divergence_factor=5.0)
    ens = train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.3, 1e3])
    assert list(ens.diverged) == [False, True]
    assert np.isinf(ens.history["train_loss"][-1, 1]) and np.isfinite(ens.history["train_acc"][-1, 1])
    single = train(_fn()(1), data, cfg.replace(seed=1, lr=1e3))
    assert single.diverged and single.diverged_at == ens.diverged_at[1]
    with pytest.raises(ValueError, match="batch_size"):
        train_ensemble(_fn(), _data(n=30), cfg, seeds=[0])


def test_a_diverged_members_accuracy_is_carried_from_its_last_evaluation_never_nan():
    data = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=30, batch_size=8, eval_every=10, check_every=1)
    ens = train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.1, 1e6])
    h = ens.history
    assert list(ens.diverged) == [False, True]
    dead = np.asarray(h["iteration"]) >= ens.diverged_at[1]
    assert dead.any() and not dead[0]
    last_alive = np.flatnonzero(~dead)[-1]
    for key in ("train_acc", "test_acc"):
        assert not np.isnan(h[key]).any()
        np.testing.assert_array_equal(h[key][dead, 1], h[key][last_alive, 1])
    assert np.all(np.isinf(h["train_loss"][dead, 1])) and np.all(np.isinf(h["test_loss"][dead, 1]))


def test_per_member_values_are_validated_and_named():
    data, cfg = _data(), TrainConfig(optimizer="sgd", lr=0.1, steps=2, batch_size=8)
    for kwargs, name in [({"lrs": [0.1, float("nan")]}, "lrs"), ({"lrs": ["0.1", 0.1]}, "lrs"),
                         ({"lrs": None, "seeds": [0, 1.5]}, "seeds"), ({"seeds": None}, "seeds"),
                         ({"momenta": [0.0, 1.0]}, "momenta")]:
        kw = {"seeds": [0, 1], **kwargs}
        with pytest.raises(ValueError, match=name):
            train_ensemble(_fn(), data, cfg.replace(optimizer="sgdm") if "momenta" in kw else cfg, **kw)


def test_the_former_nan_accuracy_convention_is_kept_behind_a_keyword():
    data = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=20, batch_size=8, eval_every=10, check_every=1)
    new = train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.1, 1e6])
    old = train_ensemble(_fn(), data, cfg, seeds=[0, 1], lrs=[0.1, 1e6], diverged_accuracy="nan")
    assert np.isnan(old.history["train_acc"][-1, 1]) and not np.isnan(new.history["train_acc"][-1, 1])
    np.testing.assert_array_equal(old.history["train_acc"][:, 0], new.history["train_acc"][:, 0])
    np.testing.assert_array_equal(old.history["train_loss"], new.history["train_loss"])
    with pytest.raises(ValueError, match="diverged_accuracy"):
        train_ensemble(_fn(), data, cfg, seeds=[0], diverged_accuracy="zero")
