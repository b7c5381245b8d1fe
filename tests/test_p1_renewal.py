"""sgdlab.linear.renewal_loss: the loss rebuilt from the signal and noise propagators alone."""
from __future__ import annotations

import numpy as np
import pytest

from sgdlab import linear as L


def _problem(n=40, nu=1.5, kappa=1.0):
    lam, c, _ = L.power_law_modes(nu, kappa, n)
    return lam, c


def test_renewal_loss_without_noise_is_half_the_signal_propagator():
    V = np.geomspace(1.0, 1e-3, 30)
    np.testing.assert_array_equal(L.renewal_loss(np.zeros(30), V), 0.5 * V)


def test_renewal_loss_with_constant_noise_is_a_geometric_sum():
    # U_s = u for all s >= 1, V_t = 1 for all t: 2L_t = 1 + u Σ_{s<t} 2L_s, so 2L_t = (1 + u)^t.
    u, T = 0.3, 25
    U = np.r_[0.0, np.full(T, u)]
    out = L.renewal_loss(U, np.ones(T + 1))
    np.testing.assert_allclose(2 * out, (1 + u) ** np.arange(T + 1), rtol=1e-13)


@pytest.mark.parametrize("lr, beta, tau2", [(0.8, 0.4, -1.0), (1.2, 0.0, 1.0), (0.5, -0.3, 0.0)])
def test_renewal_loss_from_propagators_equals_the_moment_recursion(lr, beta, tau2):
    lam, c = _problem()
    U, V = L.propagators(lam, c, lr, beta, 0.2, 300, tau2=tau2)
    np.testing.assert_allclose(L.renewal_loss(U, V), L.se_loss(lam, c, lr, beta, 0.2, 300, tau2=tau2), rtol=1e-11)


def test_renewal_loss_rejects_mismatched_propagators():
    with pytest.raises(ValueError, match="same"):
        L.renewal_loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        L.renewal_loss(np.r_[0.0, np.inf], np.ones(2))
