"""Dynamics of gradient descent with large learning rates (part 3).

Public surface::

    from sgdlab.dynamics import gd_map                      # the 1-d GD map, GD from many starts
    from sgdlab.dynamics import full_batch_gd, FullBatchResult
    from sgdlab.dynamics.noise_vs_lr import lr_vs_noise, matched_noise_k

:mod:`~sgdlab.dynamics.gd_map` holds the numerics of the one-dimensional chapters
(``book/large_lr/01_gd_map`` … ``04_instability_trap``): stability thresholds, critical points,
period-2 orbits and the orbit period, GD and noisy GD over many starts, the Gibbs law, the
stationary law of the discrete noisy chain and the Kramers clock. :mod:`~sgdlab.dynamics.full_batch`
trains networks by full-batch GD (``05_full_batch``) and :mod:`~sgdlab.dynamics.noise_vs_lr` runs the
network comparison of ``06_networks``. The torch-based modules are imported on first use, so the
one-dimensional chapters do not load torch.
"""
from importlib import import_module

from . import gd_map

__all__ = ["gd_map", "full_batch_gd", "FullBatchResult"]


def __getattr__(name: str):
    if name in ("full_batch_gd", "FullBatchResult"):
        return getattr(import_module(".full_batch", __name__), name)
    if name in ("full_batch", "noise_vs_lr"):
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
