"""Full-batch GD with sharpness tracking (part 3, chapter 05): oracles on a linear least-squares model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch threads start)
from sgdlab.dynamics import full_batch_gd
from sgdlab.dynamics.full_batch import sharpness


def _linear_problem(seed=0, n=50, d=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    model = torch.nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    return model, x, y


def test_sharpness_of_least_squares_is_the_top_eigenvalue_of_the_covariance():
    # L = (1/2n) |X w − y|²: Hessian X^T X / n, independent of w
    model, x, y = _linear_problem()
    lam = float(torch.linalg.eigvalsh(x.T @ x / len(x))[-1])
    assert sharpness(model, "mse", x, y) == pytest.approx(lam, rel=1e-8)


def test_full_batch_gd_matches_the_closed_form_and_tracks_sharpness():
    model, x, y = _linear_problem()
    H = (x.T @ x / len(x)).numpy()
    b = (x.T @ y / len(x)).numpy()
    eta, steps = 0.3, 25
    res = full_batch_gd(model, "mse", x, y, eta, steps, sharpness_every=10)
    w = np.zeros(4)
    for _ in range(steps):
        w = w - eta * (H @ w - b)
    np.testing.assert_allclose(model.weight.detach().numpy().ravel(), w, rtol=1e-10)
    assert list(res.sharpness_steps) == [0, 10, 20]
    np.testing.assert_allclose(res.sharpness, np.linalg.eigvalsh(H)[-1], rtol=1e-8)
    assert len(res.loss) == steps and not res.diverged
    assert np.all(np.diff(res.loss) <= 1e-15)  # η < 2/λ_max: monotone on a quadratic


def test_full_batch_gd_reports_divergence_above_two_over_lambda():
    model, x, y = _linear_problem()
    lam = float(torch.linalg.eigvalsh(x.T @ x / len(x))[-1])
    res = full_batch_gd(model, "mse", x, y, 2.5 / lam, 2000)
    assert res.diverged and np.isinf(res.final_loss) and len(res.loss) < 2000


def test_full_batch_gd_follows_a_schedule_and_validates_inputs():
    model, x, y = _linear_problem()
    res = full_batch_gd(model, "mse", x, y, lambda t: 0.1 if t < 3 else 0.2, 5)
    np.testing.assert_allclose(res.lr, [0.1, 0.1, 0.1, 0.2, 0.2])
    with pytest.raises(ValueError, match="steps"):
        full_batch_gd(model, "mse", x, y, 0.1, 0)
    with pytest.raises(ValueError, match="lr"):
        full_batch_gd(model, "mse", x, y, lambda t: -1.0, 2)
    with pytest.raises(ValueError, match="loss"):
        full_batch_gd(model, "hinge", x, y, 0.1, 2)


def test_a_diverged_run_has_no_nan_side_fields():
    # the divergence flag comes with inf losses and an absent final sharpness, never NaN
    model, x, y = _linear_problem()
    lam = float(torch.linalg.eigvalsh(x.T @ x / len(x))[-1])
    res = full_batch_gd(model, "mse", x, y, 2.5 / lam, 2000, sharpness_every=20)
    assert res.diverged and np.isinf(res.final_loss) and np.isinf(res.loss[-1])
    assert res.final_sharpness is None
    assert not np.isnan(res.loss).any() and not np.isnan(res.sharpness).any()
    # without sharpness tracking a converged run has no final sharpness either (absent, not NaN)
    model, x, y = _linear_problem()
    ok = full_batch_gd(model, "mse", x, y, 0.5 / lam, 5)
    assert not ok.diverged and ok.final_sharpness is None
