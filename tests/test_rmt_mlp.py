"""sgdlab.rmt.TanhMLP: closed-form gradients and Hessians against torch.func, and the sampling identities
used in part 5, chapter 2."""
from __future__ import annotations

import numpy as np
import pytest

import sgdlab  # noqa: F401  (before torch)
import torch

from sgdlab import rmt


def _torch_loss(net: rmt.TanhMLP, x, y):
    xt = torch.cat([torch.as_tensor(x), torch.ones(len(x), 1, dtype=torch.float64)], 1)
    yt = torch.as_tensor(y)
    n1 = net.n_hidden * (net.n_in + 1)

    def loss(theta):
        w1 = theta[:n1].view(net.n_hidden, net.n_in + 1)
        w2 = theta[n1:].view(net.n_classes, net.n_hidden + 1)
        h = torch.tanh(xt @ w1.T)
        ht = torch.cat([h, torch.ones(len(h), 1, dtype=torch.float64)], 1)
        return torch.nn.functional.cross_entropy(ht @ w2.T, yt)

    return loss


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    net = rmt.TanhMLP(5, 4, 3)
    x = rng.standard_normal((9, 5))
    y = rng.integers(0, 3, 9)
    return net, net.init(1) * 2, x, y


def test_loss_gradient_and_hessian_match_torch_func(small):
    net, th, x, y = small
    f = _torch_loss(net, x, y)
    t = torch.tensor(th)
    assert net.loss(th, x, y) == pytest.approx(f(t).item(), rel=1e-13)
    assert np.allclose(net.grad(th, x, y), torch.func.grad(f)(t).numpy(), atol=1e-14)
    h_ref = torch.func.hessian(f)(t).numpy()
    h = net.hessian(th, x, y)
    assert np.max(np.abs(h - h_ref)) < 1e-13 * np.max(np.abs(h_ref)) + 1e-15
    assert np.allclose(h, h.T, atol=1e-15)


def test_batch_hessian_is_the_mean_of_per_sample_hessians(small):
    net, th, x, y = small
    per = [net.hessian(th, x[i:i + 1], y[i:i + 1]) for i in range(len(y))]
    assert np.allclose(net.hessian(th, x, y), np.mean(per, axis=0), atol=1e-14)
    sq = net.per_sample_hessian_sqnorms(th, x, y)
    assert np.allclose(sq, [np.sum(p**2) for p in per], rtol=1e-12)


def test_fluctuation_formula_is_exact_for_sampling_without_replacement(small):
    # enumerate all batches of size 2 out of 9 and compare E‖H_B − H‖² with the closed form
    from itertools import combinations

    net, th, x, y = small
    h = net.hessian(th, x, y)
    sq = net.per_sample_hessian_sqnorms(th, x, y)
    vals = [np.sum((net.hessian(th, x[list(c)], y[list(c)]) - h) ** 2) for c in combinations(range(9), 2)]
    pred = rmt.batch_hessian_fluctuation(2, per_sample_sqnorm_mean=sq.mean(), full_sqnorm=np.sum(h**2), n_samples=9)
    assert np.mean(vals) == pytest.approx(pred, rel=1e-10)
    assert rmt.batch_hessian_fluctuation(9, per_sample_sqnorm_mean=sq.mean(), full_sqnorm=np.sum(h**2), n_samples=9) == 0


def test_second_order_shift_matches_a_small_exact_perturbation():
    rng = np.random.default_rng(3)
    h = np.diag([3.0, 1.0, 0.5, -0.2])
    a = rng.standard_normal((4, 4)) * 1e-4  # the error is third order, ≈ ‖ε‖³/gap² ≈ 1e-11
    eps = a + a.T
    eigs, vecs = np.linalg.eigh(h)
    exact = np.linalg.eigvalsh(h + eps)[-1] - 3.0
    assert rmt.second_order_shift(eigs, vecs, eps) == pytest.approx(exact, abs=1e-10)


def test_training_lowers_the_loss_and_sampling_returns_consistent_shapes(small):
    net, th, x, y = small
    th2 = net.train_sgd(th, x, y, lr=0.2, batch_size=3, epochs=20, seed=0)
    assert net.loss(th2, x, y) < net.loss(th, x, y)
    out = rmt.sample_batch_hessians(net, th2, x, y, [2, 5], draws=[3, 2], spectrum_draws=1, seed=0)
    assert [len(t) for t in out["top"]] == [3, 2]
    assert out["noise_eigs"][0].shape == (1, net.dim)
    assert np.all(out["top"][1] >= out["bottom"][1])


def test_mlp_validates_inputs(small):
    net, th, x, y = small
    with pytest.raises(ValueError, match="theta"):
        net.hessian(th[:-1], x, y)
    with pytest.raises(ValueError, match="labels"):
        net.loss(th, x, y + 5)
    with pytest.raises(ValueError, match="n_hidden"):
        rmt.TanhMLP(3, 0, 2)
    with pytest.raises(ValueError, match="batch_sizes"):
        rmt.sample_batch_hessians(net, th, x, y, [20])


# --------------------------------------------------------------------------- Gauss–Newton, per-sample products
def test_gauss_newton_matrix_is_j_lambda_j_and_positive_semidefinite(small):
    net, th, x, y = small
    t = torch.tensor(th)
    n1 = net.n_hidden * (net.n_in + 1)
    xt = torch.cat([torch.as_tensor(x), torch.ones(len(x), 1, dtype=torch.float64)], 1)

    def logits(theta):
        w1 = theta[:n1].view(net.n_hidden, net.n_in + 1)
        w2 = theta[n1:].view(net.n_classes, net.n_hidden + 1)
        h = torch.tanh(xt @ w1.T)
        return torch.cat([h, torch.ones(len(h), 1, dtype=torch.float64)], 1) @ w2.T

    jac = torch.func.jacrev(logits)(t).numpy()  # (B, K, P)
    p = torch.softmax(logits(t), dim=1).numpy()
    lam = np.einsum("bk,kl->bkl", p, np.eye(net.n_classes)) - p[:, :, None] * p[:, None, :]
    ggn = np.einsum("bkp,bkl,blq->pq", jac, lam, jac) / len(y)
    g = net.hessian(th, x, y, gauss_newton=True)
    assert np.max(np.abs(g - ggn)) < 1e-13 * np.max(np.abs(ggn))
    assert np.linalg.eigvalsh(g).min() > -1e-12


@pytest.mark.parametrize("gauss_newton", [False, True])
def test_per_sample_hvps_equal_per_sample_curvature_times_v(small, gauss_newton):
    net, th, x, y = small
    v = np.random.default_rng(4).standard_normal(net.dim)
    hv = net.per_sample_hvps(th, x, y, v, gauss_newton=gauss_newton)
    ref = np.array([net.hessian(th, x[i:i + 1], y[i:i + 1], gauss_newton=gauss_newton) @ v for i in range(len(y))])
    assert np.allclose(hv, ref, atol=1e-13)


def test_field_dependent_shift_is_the_exact_mean_of_the_second_order_term(small):
    # enumerate all batches of size 3 out of 9: the mean second-order shift equals the closed form
    from itertools import combinations
    net, th, x, y = small
    h = net.hessian(th, x, y)
    eigs, vecs = np.linalg.eigh(h)
    hu = net.per_sample_hvps(th, x, y, vecs[:, -1])
    so = [rmt.second_order_shift(eigs, vecs, net.hessian(th, x[list(c)], y[list(c)]) - h)
          for c in combinations(range(len(y)), 3)]
    assert rmt.field_dependent_shift(eigs, vecs, hu, 3, n_samples=len(y)) == pytest.approx(np.mean(so), rel=1e-10)
    assert rmt.field_dependent_shift(eigs, vecs, hu, len(y), n_samples=len(y)) == 0.0
    with pytest.raises(ValueError, match="batch_size"):
        rmt.field_dependent_shift(eigs, vecs, hu, 0, n_samples=len(y))
