"""Stochastic differential equations as limits of SGD (parts 2 and 4).

Modules: ``sgdm`` (part 2: exact moment propagation of SGD/SGDM on quadratics, stationary variances,
SVAG, the slow SDE near a manifold of minimisers); ``fokker_planck``, ``particles``, ``escape``
(part 4: finite-volume Fokker–Planck generators, vectorised Euler–Maruyama and mini-batch SGD,
mean first-passage times and Kramers' rates); ``momentum_compare`` (part 2: SGD against SGDM at
matched effective learning rate, with the equal-PyTorch-lr control). Import from the modules directly.
"""

from . import momentum_compare  # noqa: E402,F401  (part 2: SGD vs SGDM comparisons and their controls)
