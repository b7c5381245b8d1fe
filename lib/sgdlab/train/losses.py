"""Per-sample losses shared by the training loop, the ensembles and the Hessian tools.

- ``"cross_entropy"``: ``ℓ_i = −log softmax(f(x_i))_{y_i}`` with integer labels.
- ``"mse"``: ``ℓ_i = ½‖f(x_i) − t_i‖²`` where ``t_i = y_i`` for float targets (a scalar output may
  have shape ``(n,)`` or ``(n, 1)``) and the one-hot vector of ``y_i`` for integer labels. For a
  scalar output this is part 1's ``L = (1/2N)|Δf|²`` (Velikanov et al. 2023, Sec. 2).

The loss of a batch is the mean of ``ℓ_i`` (or a weighted sum, for the SVAG and noise-amplified
gradient estimators of :mod:`sgdlab.train.loop`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("cross_entropy", "mse")


def check_loss(name: str) -> str:
    """Return ``name`` if it is one of :data:`LOSSES`, else raise ``ValueError`` naming ``loss``."""
    if name not in LOSSES:
        raise ValueError(f"loss={name!r} is unknown; allowed: {', '.join(LOSSES)}")
    return name


def _mse_target(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.dtype in (torch.int64, torch.int32, torch.uint8, torch.int16, torch.int8) and out.dim() == 2 and out.shape[1] > 1:
        return F.one_hot(y.long(), out.shape[-1]).to(out.dtype)
    return y.to(out.dtype).reshape(out.shape)


def per_sample_loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The losses ``ℓ_i`` of a batch, shape ``(n,)`` (see the module docstring)."""
    if name == "cross_entropy":
        return F.cross_entropy(out, y, reduction="none")
    if name == "mse":
        d = out - _mse_target(out, y)
        return 0.5 * d.reshape(d.shape[0], -1).square().sum(-1)
    raise ValueError(f"loss={name!r} is unknown; allowed: {', '.join(LOSSES)}")


def mean_loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean of :func:`per_sample_loss` over the batch."""
    if name == "cross_entropy":
        return F.cross_entropy(out, y)
    return per_sample_loss(name, out, y).mean()


def correct(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Number of correct predictions (argmax of ``out`` equal to integer ``y``); ``None`` for regression."""
    if y.is_floating_point() or out.dim() != 2 or out.shape[1] < 2:
        return None
    return (out.argmax(-1) == y).sum()
