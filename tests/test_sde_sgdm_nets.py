"""Unit tests of sgdlab.sde.sgdm_nets: the batched MLP ensemble trained with normalised SGDM."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sgdlab.sde.sgdm_nets import _init_member, train_mlp_ensemble


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def _torch_reference(x, y, eta, beta, seed, steps, batch_size, hidden):
    """The same run with nn.Linear layers and torch.optim.SGD(lr=η(1−β), momentum=β)."""
    w1, b1, w2, b2 = _init_member(seed, (x.shape[1], hidden, int(y.max()) + 1), torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, int(y.max()) + 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(w1.T)
        model[0].bias.copy_(b1)
        model[2].weight.copy_(w2.T)
        model[2].bias.copy_(b2)
    opt = torch.optim.SGD(model.parameters(), lr=eta * (1 - beta), momentum=beta)
    xt, yt = torch.tensor(x), torch.tensor(y)
    gen = torch.Generator().manual_seed(10_007 + seed)
    for _ in range(steps):
        idx = torch.randint(len(yt), (batch_size,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
        opt.step()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(xt), yt))


@pytest.mark.parametrize("beta", [0.0, 0.9])
def test_ensemble_member_matches_torch_optim_sgd_at_pytorch_lr(data, beta):
    x, y = data
    out = train_mlp_ensemble(x, y, effective_lr=0.3, momentum=beta, seeds=2, steps=40, batch_size=5, hidden=7)
    ref = _torch_reference(x, y, 0.3, beta, 2, 40, 5, 7)
    assert out["train_loss"][0] == pytest.approx(ref, rel=1e-10)


def test_a_member_does_not_depend_on_the_rest_of_the_ensemble(data):
    x, y = data
    alone = train_mlp_ensemble(x, y, effective_lr=0.2, momentum=0.5, seeds=1, steps=30, hidden=5)
    many = train_mlp_ensemble(x, y, effective_lr=[0.1, 0.2, 0.2], momentum=[0.0, 0.5, 0.9], seeds=[0, 1, 1], steps=30, hidden=5)
    assert many["train_loss"][1] == pytest.approx(alone["train_loss"][0], rel=1e-10)
    assert many["train_loss"][2] != pytest.approx(alone["train_loss"][0], rel=1e-6)


def test_records_the_loss_curve_and_test_accuracy(data):
    x, y = data
    out = train_mlp_ensemble(x, y, effective_lr=0.2, momentum=[0.0, 0.9], seeds=0, steps=10, hidden=5,
                             record_every=5, x_test=x[:20], y_test=y[:20])
    np.testing.assert_array_equal(out["record_steps"], [0, 5, 10])
    assert out["loss_curve"].shape == (2, 3)
    np.testing.assert_allclose(out["loss_curve"][:, -1], out["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(out["loss_curve"][0, 0], out["loss_curve"][1, 0], rtol=1e-12)  # same init
    assert out["test_acc"].shape == (2,) and np.all((0 <= out["test_acc"]) & (out["test_acc"] <= 1))


def test_divergence_is_reported_not_raised(data):
    x, y = data
    out = train_mlp_ensemble(x, y, effective_lr=[0.1, 1e307], momentum=0.0, seeds=0, steps=20, hidden=5)
    assert out["diverged"].tolist() == [False, True]
    assert np.isfinite(out["train_loss"][0]) and np.isinf(out["train_loss"][1])


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(effective_lr=-0.1, momentum=0.0, seeds=0, steps=1), "effective_lr"),
        (dict(effective_lr=0.1, momentum=1.0, seeds=0, steps=1), "momentum"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=-1, steps=1), "seeds"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=0, steps=-1), "steps"),
        (dict(effective_lr=0.1, momentum=0.0, seeds=0, steps=1, batch_size=0), "batch_size"),
        (dict(effective_lr=[0.1, 0.2], momentum=[0.0, 0.1, 0.2], seeds=0, steps=1), "effective_lr"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_parameter(data, kwargs, name):
    x, y = data
    with pytest.raises(ValueError, match=name):
        train_mlp_ensemble(x, y, **kwargs)
