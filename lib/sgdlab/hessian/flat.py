"""Flat-parameter helpers: a model's parameters as one vector and back.

Used by :mod:`sgdlab.hessian.operators` and by every chapter that projects on Hessian
eigenvectors (parts 3–5).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


def flatten(tensors: Sequence[torch.Tensor] | Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors (or a dict's values, in order) into one 1-d tensor."""
    if isinstance(tensors, Mapping):
        tensors = list(tensors.values())
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vec: torch.Tensor, like: Sequence[torch.Tensor] | Mapping[str, torch.Tensor]):
    """Split a 1-d ``vec`` into tensors shaped like ``like`` (a list, or a dict with the same keys).

    Raises
    ------
    ValueError
        If ``vec`` does not have exactly as many entries as ``like`` holds.
    """
    items = list(like.items()) if isinstance(like, Mapping) else list(enumerate(like))
    total = sum(t.numel() for _, t in items)
    if vec.dim() != 1 or vec.numel() != total:
        raise ValueError(f"vec has shape {tuple(vec.shape)}; expected ({total},)")
    out, i = {}, 0
    for k, t in items:
        out[k] = vec[i:i + t.numel()].view(t.shape)
        i += t.numel()
    return out if isinstance(like, Mapping) else [out[k] for k, _ in items]


def parameters_vector(model: nn.Module) -> torch.Tensor:
    """A detached copy of ``model``'s trainable parameters as one vector."""
    return flatten([p.detach() for p in model.parameters() if p.requires_grad]).clone()


def set_parameters_vector(model: nn.Module, vec: torch.Tensor) -> None:
    """Overwrite ``model``'s trainable parameters with the entries of ``vec`` (in place)."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        for p, v in zip(params, unflatten(vec.to(params[0].device), params)):
            p.copy_(v)


def params_dict(model: nn.Module, *, detach: bool = True) -> dict[str, torch.Tensor]:
    """``{name: tensor}`` of the trainable parameters (detached by default), for ``torch.func``."""
    return {k: (v.detach() if detach else v) for k, v in model.named_parameters() if v.requires_grad}
