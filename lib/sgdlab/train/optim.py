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


# --------------------------------------------------------------------------- functional optimisers
#: Optimiser names accepted by :class:`FunctionalOptimizer`, :func:`sgdlab.train.loop.train` and the
#: ensembles. ``"gd"`` is plain SGD's update on the full-batch gradient (the loop uses every sample).
OPTIMIZERS = ("sgd", "gd", "sgdm", "sgdm_normalized", "adam")


def check_optimizer(name: str) -> str:
    """Return ``name`` if it is in :data:`OPTIMIZERS`, else raise ``ValueError`` naming ``optimizer``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r} is unknown; allowed: {', '.join(OPTIMIZERS)}")
    return name


def _as_rate(name: str, value, lead: int | None):
    """A positive float, or (ensembles) a 1-d tensor of ``lead`` positive values."""
    if isinstance(value, torch.Tensor) and value.dim() > 0:
        if lead is None or value.shape != (lead,):
            raise ValueError(f"{name} must be a scalar or have shape ({lead},); got {tuple(value.shape)}")
        if not bool(torch.all(torch.isfinite(value) & (value > 0))):
            raise ValueError(f"{name} must be finite and > 0 for every member")
        return value
    if isinstance(value, torch.Tensor):
        value = float(value)
    return _check_positive(name, value)


class FunctionalOptimizer:
    """Optimiser updates on plain lists of tensors, optionally with a leading ensemble axis.

    The same code updates one network (``params`` = its parameters) and an ensemble of ``E``
    stacked networks (every tensor has a leading axis of length ``E``; ``lr`` and ``momentum`` may
    then be tensors of shape ``(E,)``, one value per member). Updates, in the book's notation:

    - ``"sgd"``, ``"gd"``: ``θ ← θ − γ g``;
    - ``"sgdm"`` (PyTorch's form, ``lr=γ``): ``v ← βv + g``, ``θ ← θ − γv``;
    - ``"sgdm_normalized"`` (``lr=η``): ``m ← βm + (1−β)g``, ``θ ← θ − ηm`` (identical iterates to
      ``"sgdm"`` at ``γ = η(1−β)``; Wang et al. 2024, Sec. 2);
    - ``"adam"``: ``torch.optim.Adam``'s update with bias correction (Kingma & Ba 2015, Alg. 1).

    ``weight_decay`` adds ``λθ`` to the gradient (coupled L2, as in ``torch.optim``). Momentum may be
    negative (part 1 needs β ∈ (−1, 0)); ``torch.optim.SGD`` rejects that.

    Parameters
    ----------
    name : str
        One of :data:`OPTIMIZERS`.
    params : list of torch.Tensor
        The tensors to update in place.
    lr : float or tensor of shape (E,)
        γ (``"sgd"``, ``"gd"``, ``"sgdm"``, ``"adam"``) or η (``"sgdm_normalized"``).
    momentum : float or tensor of shape (E,)
        β ∈ (−1, 1) (SGDM forms only).
    betas, eps : Adam's (β₁, β₂) and ε.
    weight_decay : float
        ≥ 0.
    ensemble : int, optional
        ``E`` when every tensor carries a leading ensemble axis.

    Notes
    -----
    Used by :func:`sgdlab.train.loop.train` and :func:`sgdlab.train.ensemble.train_ensemble`;
    tested against ``torch.optim.SGD``/``Adam`` in ``tests/test_train_optim.py``.
    """

    def __init__(self, name: str, params, *, lr, momentum=0.0, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, ensemble: int | None = None):
        self.name = check_optimizer(name)
        self.params = list(params)
        self.ensemble = ensemble
        self.lr = _as_rate("lr", lr, ensemble)
        if isinstance(momentum, torch.Tensor) and momentum.dim() > 0:
            if ensemble is None or momentum.shape != (ensemble,):
                raise ValueError(f"momentum must be a scalar or have shape ({ensemble},)")
            if not bool(torch.all((momentum > -1) & (momentum < 1))):
                raise ValueError("momentum must lie in (-1, 1) for every member")
        else:
            momentum = _check_momentum(float(momentum) if isinstance(momentum, torch.Tensor) else momentum)
        if name in ("sgd", "gd", "adam") and not (isinstance(momentum, float) and momentum == 0.0):
            raise ValueError(f"momentum={momentum!r} is only used by 'sgdm' and 'sgdm_normalized'; "
                             f"optimizer={name!r} takes momentum=0")
        self.momentum = momentum
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas={betas!r} must lie in [0, 1)")
        self.betas = (float(b1), float(b2))
        self.eps = _check_positive("eps", eps)
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ValueError(f"weight_decay={weight_decay!r} must be >= 0")
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]
        self._lr_b = [self._bcast(self.lr, p) for p in self.params]
        self._mom_b = [self._bcast(self.momentum, p) for p in self.params]

    @staticmethod
    def _bcast(value, p: torch.Tensor):
        if isinstance(value, torch.Tensor):
            return value.to(dtype=p.dtype, device=p.device).reshape((-1,) + (1,) * (p.dim() - 1))
        return value

    def set_lr_(self, lr) -> None:
        """Replace the learning rate(s) (e.g. 0 for diverged ensemble members; no validation)."""
        self.lr = lr
        self._lr_b = [self._bcast(lr, p) for p in self.params]

    @torch.no_grad()
    def step(self, grads) -> None:
        """Update ``self.params`` in place from ``grads`` (same shapes)."""
        self.t += 1
        name = self.name
        if self.weight_decay:
            grads = [g + self.weight_decay * p for g, p in zip(grads, self.params)]
        if name in ("sgd", "gd"):
            if isinstance(self.lr, float):
                torch._foreach_add_(self.params, list(grads), alpha=-self.lr)
            else:
                for p, g, lr in zip(self.params, grads, self._lr_b):
                    p.sub_(lr * g)
            return
        if name in ("sgdm", "sgdm_normalized"):
            for p, g, lr, beta, st in zip(self.params, grads, self._lr_b, self._mom_b, self.state):
                buf = st.get("buf")
                if buf is None:
                    buf = st["buf"] = torch.zeros_like(p)
                if name == "sgdm":
                    buf.mul_(beta).add_(g)
                else:
                    buf.mul_(beta).add_((1 - beta) * g)
                if isinstance(lr, float):
                    p.add_(buf, alpha=-lr)
                else:
                    p.sub_(lr * buf)
            return
        b1, b2 = self.betas
        bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, lr, st in zip(self.params, grads, self._lr_b, self.state):
            if "m" not in st:
                st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
            m, v = st["m"], st["v"]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / math.sqrt(bc2)).add_(self.eps)
            if isinstance(lr, float):
                p.addcdiv_(m, denom, value=-lr / bc1)
            else:
                p.sub_((lr / bc1) * m / denom)
