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
    """The losses ``ℓ_i`` of a batch, shape ``(n,)`` (see the module docstring).

    Raises
    ------
    ValueError
        Naming ``y`` if its batch size differs from ``out``'s, if its shape does not match a float target,
        or (on the CPU) if an integer label lies outside ``[0, number of outputs)``.
    """
    if out.shape[0] != y.shape[0]:
        raise ValueError(f"y has {y.shape[0]} samples but the model's output has {out.shape[0]}")
    if name == "cross_entropy":
        try:
            return F.cross_entropy(out, y, reduction="none")
        except IndexError:
            raise ValueError(f"y: class labels must lie in [0, {out.shape[-1]}) for a model with "
                             f"{out.shape[-1]} outputs") from None
    if name == "mse":
        try:
            target = _mse_target(out, y)
        except RuntimeError as exc:
            raise ValueError(f"y of shape {tuple(y.shape)} does not match the output of shape {tuple(out.shape)}") from exc
        d = out - target
        return 0.5 * d.reshape(d.shape[0], -1).square().sum(-1)
    raise ValueError(f"loss={name!r} is unknown; allowed: {', '.join(LOSSES)}")


def mean_loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean of :func:`per_sample_loss` over the batch (same errors)."""
    if name == "cross_entropy":
        if out.shape[0] != y.shape[0]:
            raise ValueError(f"y has {y.shape[0]} samples but the model's output has {out.shape[0]}")
        try:
            return F.cross_entropy(out, y)
        except IndexError:
            raise ValueError(f"y: class labels must lie in [0, {out.shape[-1]}) for a model with "
                             f"{out.shape[-1]} outputs") from None
    return per_sample_loss(name, out, y).mean()


def correct(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Number of correct predictions (argmax of ``out`` equal to integer ``y``); ``None`` for regression."""
    if y.is_floating_point() or out.dim() != 2 or out.shape[1] < 2:
        return None
    return (out.argmax(-1) == y).sum()
