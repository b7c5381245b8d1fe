"""A small ResNet-style CNN without BatchNorm (SkipInit residual gains), for 28×28 images.

Architecture (pre-activation residual blocks, He et al. 2016, "Identity mappings in deep residual
networks")::

    conv3×3(w₀) → stage₀ → stage₁ → stage₂ → act → global average pool → linear(num_classes)
    stage_s = blocks[s] × [ x ↦ shortcut(x) + α · conv3×3(act(conv3×3(act(x)))) ]

The first block of every stage after the first halves the resolution (stride 2) and its shortcut
is a 1×1 convolution with stride 2 (also used where the width changes); otherwise the shortcut is
the identity. Without BatchNorm a deep residual network is kept trainable by a learnable scalar
gain α per block initialised at ``skip_init`` (0 by default: every block starts as its shortcut),
the "SkipInit" of De & Smith (2020). ``blocks=(5, 5, 5)`` with ``widths=(16, 32, 64)`` is the
CIFAR ResNet-32 layout of the paper's Figure 2 (1 + 2·15 + 1 = 32 weight layers).

Convolutions are He-initialised, ``W ~ N(0, 2/fan_in)`` with zero biases (He et al. 2015; the
initialisation SkipInit is used with); the head has PyTorch's default initialisation. Everything is
drawn from ``seed`` on the CPU (:func:`sgdlab.train.models.mlp`'s convention), so a seed gives the
same network on every device.
BatchNorm is avoided throughout the book: its batch statistics couple the samples of a batch and
change the gradient noise the SDE pictures describe.

Used by part 2's full-scale experiments (``sgdlab.experiments.p2_batch_sweep``, ``p2_svag``) and
drawn in ``book/momentum/05_networks``.

References
----------
De, Smith, *Batch normalization biases residual blocks towards the identity function in deep
networks*, NeurIPS 2020 (SkipInit). Wang, Malladi, Wang, Lyu, Li, *The Marginal Value of Momentum
for Small Learning Rate SGD*, ICLR 2024, Sec. 6 / Figure 2 (ResNet-32).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

import math

from .models import _activation, _check_seed, _dtype

__all__ = ["ResNet", "ResidualBlock", "resnet"]


class ResidualBlock(nn.Module):
    """``x ↦ shortcut(x) + α · conv(act(conv(act(x))))`` with a learnable scalar gain α."""

    def __init__(self, c_in: int, c_out: int, stride: int, activation: str, skip_init: float):
        super().__init__()
        self.act1 = _activation(activation)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.act2 = _activation(activation)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.gain = nn.Parameter(torch.tensor(float(skip_init)))
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.gain * self.conv2(self.act2(self.conv1(self.act1(x))))


class ResNet(nn.Module):
    """See :func:`resnet`."""

    def __init__(self, in_channels: int, num_classes: int, blocks: tuple[int, ...], widths: tuple[int, ...],
                 activation: str, skip_init: float, image_size: int):
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        layers, c = [], widths[0]
        for s, (n, w) in enumerate(zip(blocks, widths)):
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                layers.append(ResidualBlock(c, w, stride, activation, skip_init))
                c = w
        self.blocks = nn.Sequential(*layers)
        self.act = _activation(activation)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # flattened images
            x = x.reshape(x.shape[0], self.in_channels, self.image_size, self.image_size)
        elif x.dim() == 3:  # (n, H, W)
            x = x.unsqueeze(1)
        h = self.act(self.blocks(self.stem(x)))
        return self.head(h.mean(dim=(-2, -1)))


def _init_resnet_(model: ResNet, seed: int) -> None:
    """He-normal convolutions with zero bias, PyTorch-default head, drawn in module order from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen, dtype=torch.float64) * math.sqrt(2 / fan_in))
                mod.bias.zero_()
            elif isinstance(mod, nn.Linear):
                bound = 1.0 / math.sqrt(mod.in_features)
                for p in (mod.weight, mod.bias):
                    p.copy_((2 * torch.rand(p.shape, generator=gen, dtype=torch.float64) - 1) * bound)


def resnet(
    *,
    blocks: Sequence[int] = (5, 5, 5),
    widths: Sequence[int] = (16, 32, 64),
    in_channels: int = 1,
    num_classes: int = 10,
    image_size: int = 28,
    activation: str = "relu",
    skip_init: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device=None,
) -> ResNet:
    """A ResNet-style CNN without BatchNorm (see the module docstring).

    Parameters
    ----------
    blocks : sequence of int
        Residual blocks per stage (each ≥ 1); ``(5, 5, 5)`` is ResNet-32.
    widths : sequence of int
        Channels per stage (same length as ``blocks``).
    in_channels, num_classes, image_size : int
        Input channels, classes, and the side of the (square) input images; flattened inputs
        ``(n, C·H·W)`` are reshaped.
    activation : str
        One of :data:`sgdlab.train.models.ACTIVATIONS`.
    skip_init : float
        Initial value of every block's residual gain α (0: SkipInit).
    seed, dtype, device
        As for :func:`sgdlab.train.mlp`.

    Returns
    -------
    ResNet

    Raises
    ------
    ValueError
        If a parameter is out of range (its name is in the message).
    """
    blocks, widths = tuple(blocks), tuple(widths)
    if not blocks or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in blocks):
        raise ValueError(f"blocks={blocks!r} must be a non-empty sequence of integers >= 1")
    if len(widths) != len(blocks) or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"widths={widths!r} must hold one integer >= 1 per stage ({len(blocks)})")
    for name, val in (("in_channels", in_channels), ("num_classes", num_classes), ("image_size", image_size)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name}={val!r} must be a positive integer")
    if not (isinstance(skip_init, (int, float)) and abs(float(skip_init)) < float("inf")):
        raise ValueError(f"skip_init={skip_init!r} must be a finite number")
    _activation(activation)
    seed = _check_seed(seed)
    dtype = _dtype(dtype)
    model = ResNet(in_channels, num_classes, blocks, widths, activation, float(skip_init), image_size)
    model.to(dtype=torch.float64)
    _init_resnet_(model, seed)
    from ..device import resolve

    return model.to(dtype=dtype, device=resolve(device) if device is not None else "cpu")
