"""Dynamics of full-batch gradient descent on networks (part 3: catapult and edge of stability).

Public surface::

    from sgdlab.dynamics import full_batch_gd, FullBatchResult

The one-dimensional GD map and the simulations over many starts are in :mod:`sgdlab.gd_map`.
"""
from .full_batch import FullBatchResult, full_batch_gd

__all__ = ["full_batch_gd", "FullBatchResult"]
