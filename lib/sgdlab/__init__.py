"""sgdlab: the numerics behind *SGD Dynamics — a reproducible companion*.

The library follows the mathematics, not the papers:

- :mod:`sgdlab.scale`, :mod:`sgdlab.device`, :mod:`sgdlab.plotting`, :mod:`sgdlab.data`,
  :mod:`sgdlab.claims`, :mod:`sgdlab.provenance` — the core every chapter uses;
- further subpackages (``linear``, ``sde``, ``landscapes``, ``rmt``, ``hessian``, ``train``,
  ``experiments``) hold the numerics of the book's parts.

Importing :mod:`sgdlab` sets ``OMP_WAIT_POLICY=PASSIVE`` when it is unset: on small shared CPUs the
OpenMP default (spin-waiting) makes PyTorch about ten times slower. The variable only has an effect
if :mod:`torch` has not been imported yet, so import :mod:`sgdlab` first.
"""
from __future__ import annotations

import os as _os

_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = ["__version__"]
