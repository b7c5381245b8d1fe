r"""Full-batch gradient descent on a network, with the sharpness :math:`\lambda_{\max}` tracked.

GD on the full training set, :math:`\theta_{t+1} = \theta_t - \eta_t \nabla L(\theta_t)`, with a
learning-rate schedule :math:`\eta_t`. Every ``sharpness_every`` steps the top Hessian eigenvalue of
the full-batch loss is measured by Lanczos (:func:`sgdlab.hessian.top_eigenpairs` on
:func:`sgdlab.hessian.hessian_operator`). Divergence (a non-finite loss, or one above
``divergence_factor`` times the initial loss) stops the run and is reported, never raised.

Used by ``book/large_lr/05_full_batch`` (catapult after a switch to :math:`\eta>2/\lambda_{\max}`, and
the edge of stability :math:`\lambda_{\max}\to2/\eta`).

References
----------
Mohtashami, Jaggi, Stich, ICML 2023 (full-batch GD shows the large-learning-rate effects);
Lewkowycz et al., arXiv 2003.02218 (catapult); Cohen et al., ICLR 2021 (edge of stability).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..hessian import hessian_operator, top_eigenpairs
from ..train.losses import check_loss, mean_loss


def _check_tol(tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol={tol!r} must be a finite number in (0, 1)")
    return float(tol)


@dataclass(frozen=True)
class FullBatchResult:
    """History of :func:`full_batch_gd`.

    Attributes
    ----------
    loss : ndarray
        Training loss :math:`L(\\theta_t)` before each step ``t`` (length = steps completed; ``inf``
        where the run blew up).
    lr : ndarray
        :math:`\\eta_t` of each step.
    sharpness_steps, sharpness : ndarray
        Steps at which :math:`\\lambda_{\\max}` was measured, and the values.
    diverged : bool
    final_loss : float
        After the last step (``inf`` when diverged).
    final_sharpness : float or None
        :math:`\\lambda_{\\max}` after the last step; ``None`` (absent) when the run diverged or no
        sharpness was asked for (neither ``sharpness_every`` nor ``sharpness_at``), never NaN.
    """

    loss: np.ndarray
    lr: np.ndarray
    sharpness_steps: np.ndarray
    sharpness: np.ndarray
    diverged: bool
    final_loss: float
    final_sharpness: float | None


def sharpness(model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor, *, tol: float = 1e-6,
              seed: int = 0) -> float:
    """:math:`\\lambda_{\\max}` of the Hessian of the full-batch loss at the model's weights (Lanczos).

    Raises ``FloatingPointError`` when the Hessian products are not finite (weights that blew up);
    :func:`full_batch_gd` reports that as divergence.
    """
    _check_tol(tol)
    op = hessian_operator(model, loss, x, y)
    return float(top_eigenpairs(op, k=1, tol=tol, seed=seed, return_vectors=False).eigenvalues[0])


def _sharpness_or_inf(model, loss, x, y, tol) -> float:
    """:func:`sharpness`, or ``inf`` where the weights have blown up so far that the Hessian overflows."""
    with torch.no_grad():
        finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if not finite:
        return math.inf
    try:
        lam = sharpness(model, loss, x, y, tol=tol)
    except FloatingPointError:
        return math.inf
    return lam if math.isfinite(lam) else math.inf


def full_batch_gd(model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor,
                  lr: float | Callable[[int], float], steps: int, *, sharpness_every: int | None = None,
                  sharpness_at: tuple[int, ...] = (), divergence_factor: float = 1e4,
                  tol: float = 1e-6) -> FullBatchResult:
    r"""Full-batch GD on ``model`` (in place) with learning rate ``lr`` (a number or a schedule ``t -> η_t``).

    Parameters
    ----------
    model
        Trained in place.
    loss
        ``"mse"`` or ``"cross_entropy"`` (:mod:`sgdlab.train.losses`).
    x, y
        The whole training set.
    lr
        :math:`\eta>0`, or a callable giving :math:`\eta_t` for step ``t``.
    steps
        Number of GD steps.
    sharpness_every, sharpness_at
        Measure :math:`\lambda_{\max}` every this many steps and/or at these steps (before the step).
    divergence_factor
        A loss above this multiple of the initial loss (or non-finite) stops the run.
    tol
        Lanczos residual tolerance.

    Returns
    -------
    FullBatchResult
        A diverged run (a non-finite loss, or one above ``divergence_factor`` times the initial loss)
        has ``diverged=True``, ``final_loss=inf``, an ``inf`` last entry in ``loss`` and
        ``final_sharpness=None``; a sharpness measured where the Hessian overflows is ``inf``.
        Nothing is NaN and nothing is raised.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_loss(loss)
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if x.dim() < 1 or y.dim() < 1 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise ValueError(f"x and y must hold the same number (>= 1) of samples, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if not callable(lr):
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr={lr!r} must be a finite number > 0 or a schedule t -> lr")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps={steps!r} must be a positive integer")
    if sharpness_every is not None and (isinstance(sharpness_every, bool)
                                        or not isinstance(sharpness_every, (int, np.integer)) or sharpness_every < 1):
        raise ValueError(f"sharpness_every={sharpness_every!r} must be a positive integer")
    try:
        at = tuple(sharpness_at)
    except TypeError:
        raise ValueError(f"sharpness_at={sharpness_at!r} must be a sequence of integers >= 0") from None
    if any(isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0 for t in at):
        raise ValueError(f"sharpness_at={sharpness_at!r} must be a sequence of integers >= 0")
    if isinstance(divergence_factor, bool) or not isinstance(divergence_factor, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(divergence_factor) and divergence_factor > 1):
        raise ValueError(f"divergence_factor={divergence_factor!r} must be a finite number > 1")
    _check_tol(tol)
    schedule = lr if callable(lr) else (lambda _t, _v=lr: _v)
    params = [p for p in model.parameters() if p.requires_grad]
    when = set(at) | (set(range(0, steps + 1, sharpness_every)) if sharpness_every else set())
    losses, lrs, s_steps, s_vals = [], [], [], []
    diverged, limit = False, math.inf
    for t in range(steps):
        eta = float(schedule(t))
        if not (math.isfinite(eta) and eta > 0):
            raise ValueError(f"lr at step {t} is {eta!r}; it must be finite and > 0")
        if t in when:
            s_steps.append(t)
            s_vals.append(_sharpness_or_inf(model, loss, x, y, tol))
        value = mean_loss(loss, model(x), y)
        v = float(value.detach())
        if t == 0 and math.isfinite(v):
            limit = divergence_factor * max(v, 1e-12)
        if not math.isfinite(v) or v > limit:
            losses.append(math.inf)
            lrs.append(eta)
            diverged = True
            break
        grads = torch.autograd.grad(value, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(eta * g)
        losses.append(v)
        lrs.append(eta)
    final_sharp: float | None = None
    if diverged:
        final_loss = math.inf
    else:
        with torch.no_grad():
            final_loss = float(mean_loss(loss, model(x), y))
        if not math.isfinite(final_loss):
            final_loss, diverged = math.inf, True
        elif when:
            final_sharp = _sharpness_or_inf(model, loss, x, y, tol)
            if steps in when:
                s_steps.append(steps)
                s_vals.append(final_sharp)
    return FullBatchResult(np.asarray(losses), np.asarray(lrs), np.asarray(s_steps, dtype=int),
                           np.asarray(s_vals, dtype=float), diverged, final_loss, final_sharp)
