"""sgdlab.train.models: shapes, seeding, NTK parametrisation, devices, bad input."""
import math

import pytest
import torch

from sgdlab.train import NTKLinear, mlp, num_params, small_cnn


def test_mlp_shapes_and_parameter_count():
    m = mlp([784, 256, 10])
    assert num_params(m) == 784 * 256 + 256 + 256 * 10 + 10
    assert m(torch.randn(3, 784)).shape == (3, 10)
    assert m.widths == (784, 256, 10)


def test_same_seed_same_weights_on_every_device(device):
    a = mlp([5, 7, 7, 2], "tanh", seed=3, dtype=torch.float64, device=device)
    b = mlp([5, 7, 7, 2], "tanh", seed=3, dtype=torch.float64)
    c = mlp([5, 7, 7, 2], "tanh", seed=4, dtype=torch.float64)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert p.device.type == device and p.dtype == torch.float64
        torch.testing.assert_close(p.cpu(), q, rtol=0, atol=0)
        assert not torch.equal(q, r)


def test_ntk_parametrisation_scales_and_output_bias():
    m = mlp([100, 1000, 1], "relu", parametrization="ntk", seed=0, dtype=torch.float64)
    first, last = m[0], m[2]
    assert isinstance(first, NTKLinear) and last.bias is None and first.bias is not None
    assert first.w_scale == pytest.approx(1 / math.sqrt(100))
    w = first.weight.detach()
    assert abs(float(w.mean())) < 0.01 and float(w.std()) == pytest.approx(1.0, abs=0.01)
    x = torch.randn(2000, 100, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True) * math.sqrt(100)  # |x|² = fan_in: pre-activation variance σ_w² + σ_b² = 2
    z = first(x)
    assert float(z.detach().var()) == pytest.approx(2.0, rel=0.05)


def test_standard_init_matches_pytorch_default_bounds():
    m = mlp([50, 20, 3], seed=0, dtype=torch.float64)
    assert float(m[0].weight.detach().abs().max()) <= 1 / math.sqrt(50)
    assert float(m[0].weight.detach().abs().max()) > 0.9 / math.sqrt(50)


def test_small_cnn_accepts_flat_and_image_inputs(device):
    m = small_cnn(seed=0, device=device)
    x = torch.randn(4, 1, 28, 28, device=device)
    out = m(x)
    assert out.shape == (4, 10)
    torch.testing.assert_close(m(x.reshape(4, -1)), out)
    torch.testing.assert_close(m(x[:, 0]), out)
    assert not any(isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) for mod in m.modules())
    assert num_params(m) == 215370


@pytest.mark.parametrize("kw,name", [
    ({"widths": [5]}, "widths"), ({"widths": [5, 0]}, "widths"), ({"widths": [5, 2], "activation": "swish"}, "activation"),
    ({"widths": [5, 2], "parametrization": "mup"}, "parametrization"), ({"widths": [5, 2], "seed": -1}, "seed"),
    ({"widths": [5, 2], "dtype": torch.int64}, "dtype"),
])
def test_bad_model_arguments_name_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        mlp(**kw)
    with pytest.raises(ValueError, match="image_size"):
        small_cnn(image_size=30)
