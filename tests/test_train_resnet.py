"""The ResNet-style CNN without BatchNorm (sgdlab.train.resnet)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sgdlab.train import TrainConfig, num_params, train, train_ensemble
from sgdlab.train.resnet import resnet


def _expected_params(blocks, widths, c_in=1, k=10):
    """Brute-force count: stem, per block two 3×3 convs (+ a 1×1 shortcut when shape changes) and a gain, head."""
    total, c = widths[0] * (9 * c_in + 1), widths[0]
    for s, (n, w) in enumerate(zip(blocks, widths)):
        for b in range(n):
            total += w * (9 * c + 1) + w * (9 * w + 1) + 1
            if (s > 0 and b == 0) or c != w:
                total += w * (c + 1)
            c = w
    return total + k * (c + 1)


@pytest.mark.parametrize("blocks,widths", [((1, 1, 1), (4, 8, 8)), ((5, 5, 5), (16, 32, 64)), ((2,), (3,))])
def test_parameter_count_and_output_shape(blocks, widths):
    m = resnet(blocks=blocks, widths=widths, dtype=torch.float64)
    assert num_params(m) == _expected_params(blocks, widths)
    x = torch.randn(3, 784, dtype=torch.float64)
    assert m(x).shape == (3, 10)
    torch.testing.assert_close(m(x.reshape(3, 28, 28)), m(x))
    torch.testing.assert_close(m(x.reshape(3, 1, 28, 28)), m(x))


def test_resnet32_has_32_weight_layers():
    m = resnet(blocks=(5, 5, 5), widths=(16, 32, 64))
    convs3 = sum(1 for mod in m.modules() if isinstance(mod, torch.nn.Conv2d) and mod.kernel_size == (3, 3))
    linears = sum(1 for mod in m.modules() if isinstance(mod, torch.nn.Linear))
    assert convs3 + linears == 32


def test_seed_fixes_the_initial_weights():
    a, b, c = (resnet(blocks=(1, 1), widths=(4, 8), seed=s) for s in (3, 3, 4))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        torch.testing.assert_close(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()) if pa.numel() > 1)


def test_skip_init_zero_makes_every_block_its_shortcut():
    """With α = 0 the network is stem → shortcuts → act → pool → head, and the branches get no gradient."""
    m = resnet(blocks=(2, 1), widths=(4, 6), skip_init=0.0, dtype=torch.float64)
    x = torch.randn(5, 784, dtype=torch.float64)
    h = m.stem(x.reshape(5, 1, 28, 28))
    for blk in m.blocks:
        h = blk.shortcut(h)
    ref = m.head(torch.relu(h).mean(dim=(-2, -1)))
    torch.testing.assert_close(m(x), ref, rtol=1e-12, atol=1e-12)
    torch.nn.functional.cross_entropy(m(x), torch.arange(5) % 10).backward()
    blk = m.blocks[0]
    assert float(blk.conv1.weight.grad.abs().max()) == 0.0 and float(blk.gain.grad.abs()) > 0
    m1 = resnet(blocks=(2, 1), widths=(4, 6), skip_init=1.0, dtype=torch.float64)
    assert not torch.allclose(m1(x), ref)


def test_an_ensemble_member_follows_the_single_run():
    """vmap over convolutions and the scalar gains gives the iterates of sgdlab.train.train."""
    rng = np.random.default_rng(0)
    data = {"x_train": rng.standard_normal((64, 784)), "y_train": rng.integers(0, 10, 64)}
    cfg = TrainConfig(optimizer="sgdm_normalized", lr=0.2, momentum=0.9, steps=6, batch_size=8, eval_every=3)

    def model_fn(s):
        return resnet(blocks=(1, 1), widths=(3, 4), skip_init=0.5, seed=s, dtype=torch.float64)

    ens = train_ensemble(model_fn, data, cfg, seeds=[1, 2])
    single = train(model_fn(2), data, cfg.replace(seed=2))
    np.testing.assert_allclose(ens.history["train_loss"][:, 1], single.history["train_loss"], rtol=1e-10)


@pytest.mark.parametrize("kw,name", [
    ({"blocks": ()}, "blocks"), ({"blocks": (1, 0)}, "blocks"), ({"widths": (4, 8)}, "widths"),
    ({"in_channels": 0}, "in_channels"), ({"image_size": 0}, "image_size"), ({"skip_init": float("nan")}, "skip_init"),
    ({"activation": "swishy"}, "activation"), ({"seed": -1}, "seed"),
])
def test_invalid_inputs_raise_value_error_naming_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        resnet(**kw)
