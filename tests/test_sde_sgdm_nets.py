"""Unit tests of sgdlab.sde.sgdm_nets: SGD/SGDM MLP ensembles through sgdlab.train.train_ensemble."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sgdlab.sde.sgdm_nets import train_mlp_ensemble
from sgdlab.train import BatchSampler, mlp


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def _torch_reference(x, y, eta, beta, seed, steps, batch_size, hidden):
    """The same run as a plain nn.Module with torch.optim.SGD(lr=η(1−β), momentum=β) and the
    engine's batch stream for this seed."""
    model = copy.deepcopy(mlp([x.shape[1], hidden, int(y.max()) + 1], "tanh", seed=seed, dtype=torch.float64))
    opt = torch.optim.SGD(model.parameters(), lr=eta * (1 - beta), momentum=beta)
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = BatchSampler(len(y), batch_size, sampling="with_replacement", seed=seed).block(steps)
    for idx in batches:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
        opt.step()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(xt), yt))


@pytest.mark.parametrize("beta", [0.0, 0.9])
def test_ensemble_member_matches_torch_optim_sgd_at_pytorch_lr(data, beta):
    x, y = data
    out = train_mlp_ensemble(x, y, effective_lr=[0.1, 0.3], momentum=beta, seeds=[5, 2], steps=40, batch_size=5,
                             hidden=7, device="cpu")
    ref = _torch_reference(x, y, 0.3, beta, 2, 40, 5, 7)
    assert out["train_loss"][1] == pytest.approx(ref, rel=1e-10)


def test_a_member_does_not_depend_on_the_rest_of_the_ensemble(data):
    x, y = data
    alone = train_mlp_ensemble(x, y, effective_lr=0.2, momentum=0.5, seeds=1, steps=30, hidden=5)
    many = train_mlp_ensemble(x, y, effective_lr=[0.1, 0.2, 0.2], momentum=[0.0, 0.5, 0.9], seeds=[0, 1, 1],
                              steps=30, hidden=5)
    assert many["train_loss"][1] == pytest.approx(alone["train_loss"][0], rel=1e-10)
    assert many["train_loss"][2] != pytest.approx(alone["train_loss"][0], rel=1e-6)


def test_a_member_is_read_at_its_own_horizon(data):
    """Members with fewer steps give the numbers of a run of exactly that length (training is causal)."""
    x, y = data
    mixed = train_mlp_ensemble(x, y, effective_lr=[0.4, 0.1], momentum=0.9, seeds=3, steps=[10, 40], hidden=5,
                               x_test=x[:30], y_test=y[:30])
    short = train_mlp_ensemble(x, y, effective_lr=0.4, momentum=0.9, seeds=3, steps=10, hidden=5,
                               x_test=x[:30], y_test=y[:30])
    long = train_mlp_ensemble(x, y, effective_lr=0.1, momentum=0.9, seeds=3, steps=40, hidden=5)
    for key in ("train_loss", "train_acc", "test_acc"):
        assert mixed[key][0] == pytest.approx(short[key][0], rel=1e-12)
    assert mixed["train_loss"][1] == pytest.approx(long["train_loss"][0], rel=1e-12)


def test_records_the_loss_curve_and_test_accuracy(data):
    x, y = data
    out = train_mlp_ensemble(x, y, effective_lr=0.2, momentum=[0.0, 0.9, 0.9], seeds=0, steps=[10, 10, 5], hidden=5,
                             record_steps=[10, 0, 5], x_test=x[:20], y_test=y[:20])
    np.testing.assert_array_equal(out["record_steps"], [0, 5, 10])
    assert out["loss_curve"].shape == (3, 3)
    np.testing.assert_allclose(out["loss_curve"][:2, -1], out["train_loss"][:2], rtol=1e-12)
    np.testing.assert_allclose(out["loss_curve"][:, 0], out["loss_curve"][0, 0], rtol=1e-12)  # same init
    assert np.isnan(out["loss_curve"][2, 2]) and out["loss_curve"][2, 1] == pytest.approx(out["train_loss"][2])
    assert out["test_acc"].shape == (3,) and np.all((0 <= out["test_acc"]) & (out["test_acc"] <= 1))


def test_divergence_is_reported_not_raised(data):
    x, y = data
    out = train_mlp_ensemble(x, y, effective_lr=[0.1, 1e300], momentum=0.0, seeds=0, steps=20, hidden=5,
                             record_steps=[0, 10, 20])
    assert out["diverged"].tolist() == [False, True]
    assert np.isfinite(out["train_loss"][0]) and np.isinf(out["train_loss"][1])
    assert np.all(np.isfinite(out["train_acc"]))  # a diverged member's accuracy: its last evaluation, never NaN
    every = train_mlp_ensemble(x, y, effective_lr=1e300, momentum=[0.0, 0.5], seeds=0, steps=30, hidden=5,
                               record_steps=[0, 10, 20, 30])  # the engine stops early when every member has diverged
    assert every["diverged"].all() and np.isinf(every["train_loss"]).all()
    assert not np.isnan(every["loss_curve"]).any()
    assert not np.isnan(every["train_acc"]).any()


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(effective_lr=-0.1, momentum=0.0, seeds=0, steps=1), "effective_lr"),
        (dict(effective_lr=0.1, momentum=1.0, seeds=0, steps=1), "momentum"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=-1, steps=1), "seeds"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=0, steps=0), "steps"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=0, steps=1, batch_size=0), "batch_size"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=0, steps=1, record_steps=[0, 2]), "record_steps"),
        (dict(effective_lr=[0.1, 0.2], momentum=[0.0, 0.1, 0.2], seeds=0, steps=1), "effective_lr"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_parameter(data, kwargs, name):
    x, y = data
    with pytest.raises(ValueError, match=name):
        train_mlp_ensemble(x, y, **kwargs)


def test_negative_momentum_is_accepted_and_matches_the_pytorch_form_of_the_engine(data):
    # torch.optim.SGD refuses β < 0; the engine's PyTorch form ("sgdm", lr = γ = η(1−β)) is the oracle here
    from sgdlab.train import TrainConfig, mlp, train

    x, y = data
    beta, eta = -0.5, 0.2
    out = train_mlp_ensemble(x, y, effective_lr=eta, momentum=beta, seeds=3, steps=15, batch_size=5, hidden=7,
                             device="cpu")
    cfg = TrainConfig(optimizer="sgdm", lr=eta * (1 - beta), momentum=beta, steps=15, batch_size=5,
                      sampling="with_replacement", seed=3, eval_steps=(0, 15))
    ref = train(mlp([x.shape[1], 7, int(y.max()) + 1], "tanh", seed=3, dtype=torch.float64), {"x_train": x, "y_train": y},
                cfg)
    assert out["train_loss"][0] == pytest.approx(ref.final["train_loss"], rel=1e-8)
