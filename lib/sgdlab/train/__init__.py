"""Training on torch: models, optimisers and loops (parts 1–5 of the book).

Public surface::

    from sgdlab.train import NormalizedSGDM, effective_lr, pytorch_lr
"""
from .optim import NormalizedSGDM, effective_lr, pytorch_lr

__all__ = ["NormalizedSGDM", "effective_lr", "pytorch_lr"]
