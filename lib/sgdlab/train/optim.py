"""Optimisers in the book's two parametrisations of SGD with momentum.

PyTorch's form (``torch.optim.SGD(lr=γ, momentum=β)``, dampening 0)::

    v ← β v + g,            θ ← θ − γ v

The normalised form, with effective learning rate η = γ/(1−β)::

    m ← β m + (1−β) g,      θ ← θ − η m

With ``v₀ = m₀ = 0`` the two give identical iterates, since ``m = (1−β) v`` at every step; the
notation chapter (``book/notation.ipynb``) derives this with sympy and checks it against
``torch.optim.SGD``.

References
----------
Wang, Malladi, Wang, Lyu, Li, *The Marginal Value of Momentum for Small Learning Rate SGD*, ICLR 2024,
Sec. 2 (the two parametrisations of SGDM).
"""
from __future__ import annotations

import math

import torch


def _check_momentum(momentum: float) -> float:
    if not (isinstance(momentum, (int, float)) and -1.0 < float(momentum) < 1.0):
        raise ValueError(f"momentum={momentum!r} must lie in (-1, 1)")
    return float(momentum)


def _check_positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def effective_lr(lr: float, momentum: float) -> float:
    """η = γ/(1−β): the effective learning rate of PyTorch's SGD with ``lr=γ``, ``momentum=β``."""
    return _check_positive("lr", lr) / (1.0 - _check_momentum(momentum))


def pytorch_lr(effective_lr: float, momentum: float) -> float:
    """γ = η(1−β): PyTorch's ``lr`` that gives effective learning rate η at momentum β."""
    return _check_positive("effective_lr", effective_lr) * (1.0 - _check_momentum(momentum))


class NormalizedSGDM(torch.optim.Optimizer):
    """SGD with momentum in the normalised form ``m ← βm + (1−β)g``, ``θ ← θ − ηm``.

    Parameters
    ----------
    params
        Parameters or parameter groups, as for any :class:`torch.optim.Optimizer`.
    effective_lr : float
        η > 0, the effective learning rate (``torch.optim.SGD``'s ``lr`` is ``η(1−β)``).
    momentum : float
        β in (−1, 1).

    Notes
    -----
    Used by the notation chapter and part 2 (momentum). Identical iterates to
    ``torch.optim.SGD(params, lr=effective_lr * (1 - momentum), momentum=momentum)``.
    """

    def __init__(self, params, effective_lr: float, momentum: float = 0.0):
        defaults = {
            "effective_lr": _check_positive("effective_lr", effective_lr),
            "momentum": _check_momentum(momentum),
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one update; returns the closure's loss if a closure is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eta, beta = group["effective_lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "m" not in state:
                    state["m"] = torch.zeros_like(p)
                m = state["m"]
                m.mul_(beta).add_(p.grad, alpha=1.0 - beta)
                p.add_(m, alpha=-eta)
        return loss
