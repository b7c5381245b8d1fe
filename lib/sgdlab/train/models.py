"""Small networks without BatchNorm: MLPs (standard or NTK parametrisation) and a 28×28 CNN.

The papers of the book avoid BatchNorm (its batch statistics make per-batch Hessians non-additive,
see the note on paper 5), so none of these models has it. Every constructor takes a ``seed`` (the
initial weights are drawn on the CPU from ``torch.Generator().manual_seed(seed)`` and then moved,
so a seed gives the same network on every device), a ``dtype`` and a ``device``.

Used by part 1 (the width-1000 one-hidden-layer ReLU network in NTK parametrisation, Velikanov et
al. 2023, Sec. 6), parts 2–5 (MLPs and the CNN on digits and Fashion-MNIST) and by
:mod:`sgdlab.hessian`'s tests.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

#: Activations by name.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "identity": nn.Identity,
    "linear": nn.Identity,
}

PARAMETRIZATIONS = ("standard", "ntk")


def _activation(name: str) -> nn.Module:
    if not isinstance(name, str) or name.lower() not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is unknown; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name.lower()]()


def _dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype={dtype!r} must be a floating torch.dtype")
    return dtype


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an integer >= 0")
    return int(seed)


class NTKLinear(nn.Module):
    """Affine layer in NTK parametrisation: ``y = (σ_w/√fan_in) W x + σ_b b`` with ``W, b ~ N(0, 1)``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Whether the layer has a bias.
    sigma_w, sigma_b : float
        The weight and bias scales σ_w, σ_b (Jacot et al. 2018; part 1 uses σ_w = σ_b = 1).

    Notes
    -----
    The trainable tensors are the standard-normal ``W`` and ``b``; the scale factors are constants.
    Gradient descent on them is the NTK-parametrised dynamics of Velikanov et al. (2023), Sec. 6.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 sigma_w: float = 1.0, sigma_b: float = 1.0):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.w_scale = float(sigma_w) / math.sqrt(in_features)
        self.b_scale = float(sigma_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.linear(x, self.weight) * self.w_scale
        if self.bias is not None:
            out = out + self.b_scale * self.bias
        return out

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, w_scale={self.w_scale:.4g}, b_scale={self.b_scale:.4g}")


def _init_(model: nn.Module, seed: int, parametrization: str) -> None:
    """Draw the initial weights of ``model`` in place from ``seed`` (CPU generator, then copied)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, NTKLinear):
                for p in (mod.weight, mod.bias):
                    if p is not None:
                        p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
            elif isinstance(mod, (nn.Linear, nn.Conv2d)):
                # PyTorch's default (Kaiming-uniform with a = √5): U(−1/√fan_in, 1/√fan_in) for W and b.
                fan_in = mod.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                for p in (mod.weight, mod.bias):
                    if p is not None:
                        u = torch.rand(p.shape, generator=gen, dtype=torch.float64)
                        p.copy_((2 * u - 1) * bound)


class MLP(nn.Sequential):
    """A fully connected network (see :func:`mlp`); ``widths`` records its layer sizes."""

    widths: tuple[int, ...]


def mlp(
    widths: Sequence[int],
    activation: str = "relu",
    *,
    parametrization: str = "standard",
    bias: bool = True,
    output_bias: bool | None = None,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device=None,
) -> MLP:
    """A multilayer perceptron ``widths[0] → widths[1] → … → widths[-1]``.

    Parameters
    ----------
    widths : sequence of int
        Layer sizes, input first, output last (at least two entries, all ≥ 1), e.g. ``[784, 256, 10]``.
    activation : str
        One of :data:`ACTIVATIONS` (applied after every layer but the last).
    parametrization : {"standard", "ntk"}
        ``"standard"``: :class:`torch.nn.Linear` with PyTorch's default initialisation.
        ``"ntk"``: :class:`NTKLinear` layers, ``y = (σ_w/√fan_in) W x + σ_b b`` with ``W, b ~ N(0, 1)``.
    bias : bool
        Biases in the hidden layers.
    output_bias : bool, optional
        Bias in the last layer (default: ``bias`` for the standard parametrisation, ``False`` for
        NTK, as in part 1's network).
    sigma_w, sigma_b : float
        NTK scales (ignored in the standard parametrisation).
    seed : int
        Seed of the initial weights (identical on every device).
    dtype, device
        Of the parameters (default: torch's default dtype, CPU).

    Returns
    -------
    MLP
        An :class:`torch.nn.Sequential`; ``model.widths`` holds ``widths``.

    Notes
    -----
    Part 1 (Velikanov et al. 2023, Sec. 6) uses ``mlp([784, 1000, 1], "relu", parametrization="ntk")``.
    """
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"widths={widths!r} must hold at least two positive integers")
    widths = tuple(widths)
    if len(widths) < 2 or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"widths={widths!r} must hold at least two positive integers")
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization={parametrization!r} is unknown; allowed: {', '.join(PARAMETRIZATIONS)}")
    _activation(activation)
    seed = _check_seed(seed)
    dtype = _dtype(dtype)
    if output_bias is None:
        output_bias = bias if parametrization == "standard" else False
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        last = i == len(widths) - 2
        has_bias = output_bias if last else bias
        if parametrization == "ntk":
            layers.append(NTKLinear(a, b, bias=has_bias, sigma_w=sigma_w, sigma_b=sigma_b))
        else:
            layers.append(nn.Linear(a, b, bias=has_bias))
        if not last:
            layers.append(_activation(activation))
    model = MLP(*layers)
    model.widths = widths
    model.to(dtype=torch.float64)
    _init_(model, seed, parametrization)
    from ..device import resolve

    return model.to(dtype=dtype, device=resolve(device) if device is not None else "cpu")


class SmallCNN(nn.Module):
    """conv(c₁, 5×5) → act → maxpool 2 → conv(c₂, 5×5) → act → maxpool 2 → linear(h) → act → linear(k).

    For 28×28 (or 32×32) single- or multi-channel images; see :func:`small_cnn`.
    """

    def __init__(self, in_channels: int, num_classes: int, channels: tuple[int, int], hidden: int,
                 activation: str, image_size: int):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), _activation(activation), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), _activation(activation), nn.MaxPool2d(2),
        )
        side = image_size // 4
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, hidden), _activation(activation), nn.Linear(hidden, num_classes)
        )
        self.in_channels, self.image_size = in_channels, image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # flattened images
            x = x.reshape(x.shape[0], self.in_channels, self.image_size, self.image_size)
        elif x.dim() == 3:  # (n, H, W)
            x = x.unsqueeze(1)
        return self.head(self.features(x))


def small_cnn(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    channels: tuple[int, int] = (16, 32),
    hidden: int = 128,
    activation: str = "relu",
    image_size: int = 28,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device=None,
) -> SmallCNN:
    """A small CNN for 28×28 images (Fashion-MNIST), without BatchNorm.

    Accepts inputs of shape ``(n, C, H, W)``, ``(n, H, W)`` or flattened ``(n, C·H·W)``. With the
    defaults it has 215 370 parameters. Used by parts 3 and 4 where a convolutional model is wanted.

    Parameters
    ----------
    in_channels, num_classes, channels, hidden, image_size : int
        Architecture (``image_size`` divisible by 4).
    activation : str
        One of :data:`ACTIVATIONS`.
    seed, dtype, device
        As for :func:`mlp`.
    """
    for name, val in (("in_channels", in_channels), ("num_classes", num_classes), ("hidden", hidden),
                      ("image_size", image_size)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name}={val!r} must be a positive integer")
    if image_size % 4:
        raise ValueError(f"image_size={image_size!r} must be divisible by 4")
    if len(channels) != 2 or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels={channels!r} must be two positive integers")
    _activation(activation)
    seed = _check_seed(seed)
    dtype = _dtype(dtype)
    model = SmallCNN(in_channels, num_classes, tuple(int(c) for c in channels), hidden, activation, image_size)
    model.to(dtype=torch.float64)
    _init_(model, seed, "standard")
    from ..device import resolve

    return model.to(dtype=dtype, device=resolve(device) if device is not None else "cpu")


def num_params(model: nn.Module) -> int:
    """Number of trainable scalars of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
