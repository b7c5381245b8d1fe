"""sgdlab.hessian against exact Hessians (torch.func.hessian) and numpy.linalg.eigh on small nets."""
import numpy as np
import pytest
import torch

from sgdlab.hessian import (
    CurvatureOperator, DenseOperator, flatten, ggn_operator, hessian_operator, hutchinson_trace, lanczos,
    parameters_vector, power_iteration, set_parameters_vector, slq, spectral_density, top_eigenpairs, unflatten,
)
from sgdlab.train import mlp


def _problem(loss="cross_entropy", device="cpu", act="tanh", widths=(5, 6, 3), n=40, seed=0):
    torch.manual_seed(seed)
    model = mlp(list(widths), act, seed=seed, dtype=torch.float64, device=device)
    x = torch.randn(n, widths[0], dtype=torch.float64, device=device)
    y = torch.randint(0, widths[-1], (n,), device=device) if loss == "cross_entropy" else \
        torch.randn(n, widths[-1], dtype=torch.float64, device=device)
    return model, x, y


def _exact_hessian(model, loss, x, y):
    return CurvatureOperator(model, loss, x, y).dense()


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("method", ["double_backward", "func"])
def test_hvp_matches_exact_hessian(device, loss, method):
    model, x, y = _problem(loss, device)
    H = _exact_hessian(model, loss, x, y)
    assert torch.allclose(H, H.T, atol=1e-12)
    op = hessian_operator(model, loss, x, y, method=method)
    v = torch.randn(op.size, dtype=torch.float64, device=device)
    torch.testing.assert_close(op.matvec(v), H @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op.matvec(2 * v), 2 * H @ v, rtol=1e-10, atol=1e-12)  # cached graph reused
    assert op.n_products == 2


def test_chunked_products_equal_whole_batch():
    model, x, y = _problem()
    v = torch.randn(sum(p.numel() for p in model.parameters()), dtype=torch.float64)
    whole = hessian_operator(model, "cross_entropy", x, y).matvec(v)
    for kw in ({"chunk_size": 7}, {"chunk_size": 7, "method": "func"}):
        torch.testing.assert_close(hessian_operator(model, "cross_entropy", x, y, **kw).matvec(v), whole,
                                   rtol=1e-10, atol=1e-12)
    g = ggn_operator(model, "cross_entropy", x, y)
    torch.testing.assert_close(ggn_operator(model, "cross_entropy", x, y, chunk_size=9).matvec(v), g.matvec(v),
                               rtol=1e-10, atol=1e-12)


def test_ggn_equals_hessian_for_a_linear_model_and_mse(device):
    # f linear in θ (no hidden layer) and squared loss: G = H exactly.
    model, x, y = _problem("mse", device, widths=(4, 3))
    H = _exact_hessian(model, "mse", x, y)
    G = ggn_operator(model, "mse", x, y).dense()
    torch.testing.assert_close(G, H, rtol=1e-10, atol=1e-12)


def test_ggn_matches_jacobian_formula():
    model, x, y = _problem("cross_entropy", widths=(3, 4, 3), n=10)
    from torch.func import functional_call, jacrev
    from sgdlab.hessian import params_dict
    p = params_dict(model)
    w0 = flatten(p)

    def f(w):
        return functional_call(model, dict(zip(p, unflatten(w, list(p.values())))), (x,))

    J = jacrev(f)(w0)  # (n, k, P)
    prob = torch.softmax(f(w0), -1)
    Hout = (torch.diag_embed(prob) - prob[:, :, None] * prob[:, None, :]) / x.shape[0]
    G_ref = torch.einsum("nkp,nkl,nlq->pq", J, Hout, J)
    G = ggn_operator(model, "cross_entropy", x, y).dense()
    torch.testing.assert_close(G, G_ref, rtol=1e-10, atol=1e-12)
    assert torch.linalg.eigvalsh(G).min() > -1e-12  # PSD


def test_lanczos_top_eigenvalue_to_1e8_relative(device):
    model, x, y = _problem("cross_entropy", device, widths=(6, 8, 4), n=60)
    H = _exact_hessian(model, "cross_entropy", x, y).cpu().numpy()
    exact = np.linalg.eigh(H)[0]
    op = hessian_operator(model, "cross_entropy", x, y)
    r = top_eigenpairs(op, k=3, tol=1e-10)
    assert r.converged
    assert abs(r.eigenvalues[0] - exact[-1]) <= 1e-8 * abs(exact[-1])
    np.testing.assert_allclose(r.eigenvalues, exact[::-1][:3], rtol=1e-8)
    v = r.eigenvectors[0]
    torch.testing.assert_close(op.matvec(v), r.eigenvalues[0] * v, rtol=0, atol=1e-7 * abs(exact[-1]))
    assert r.n_products < op.size  # converged before exhausting the space
    s = top_eigenpairs(op, k=1, which="SA")
    assert abs(s.eigenvalues[0] - exact[0]) <= 1e-8 * np.abs(exact).max()


def test_lanczos_tridiagonal_is_a_projection_of_the_matrix():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 30)); A = A + A.T
    r = lanczos(A, 30, return_basis=True, seed=3)
    Q = r.basis.numpy()
    np.testing.assert_allclose(Q @ Q.T, np.eye(r.steps), atol=1e-12)        # full reorthogonalisation
    np.testing.assert_allclose(Q @ A @ Q.T, r.tridiagonal(), atol=1e-10)
    np.testing.assert_allclose(np.sort(r.ritz()[0]), np.linalg.eigvalsh(A), atol=1e-10)


def test_lanczos_stops_on_an_invariant_subspace():
    A = np.diag([3.0, 1.0, 1.0, 1.0, 1.0, -2.0])  # three distinct eigenvalues
    r = top_eigenpairs(A, k=1, max_iter=6)
    assert r.n_products == 3 and r.converged
    assert r.eigenvalues[0] == pytest.approx(3.0, rel=1e-13)


def test_power_iteration_finds_largest_magnitude_and_counts_products():
    A = np.diag([5.0, 4.0, 1.0, -0.5])
    op = DenseOperator(A)
    r = power_iteration(op, tol=1e-10, max_iter=500)
    assert r.converged and r.eigenvalues[0] == pytest.approx(5.0, rel=1e-8)
    assert r.n_products == op.n_products  # including the final residual product
    lz = top_eigenpairs(A, k=1, tol=1e-12)
    assert lz.n_products < r.n_products


def test_slq_quadrature_is_exact_per_probe_and_moments_match_traces():
    model, x, y = _problem("cross_entropy", widths=(4, 5, 3), n=30)
    H = _exact_hessian(model, "cross_entropy", x, y)
    P = H.shape[0]
    m = 6
    op = hessian_operator(model, "cross_entropy", x, y)
    # random probes: Σ_k τ_k² θ_k^j = vᵀH^j v/‖v‖² for j ≤ 2m − 1
    q = slq(op, m=m, n_probes=3, seed=4)
    z = torch.randint(0, 2, (3, P), generator=torch.Generator().manual_seed(4)).double() * 2 - 1
    for i in range(3):
        v = z[i] / z[i].norm()
        for j in range(2 * m):
            exact = float(v @ torch.linalg.matrix_power(H, j) @ v)
            got = float(np.sum(q.weights[i] * q.nodes[i] ** j))
            assert got == pytest.approx(exact, rel=1e-8, abs=1e-12 * float(H.abs().max()) ** j)
    np.testing.assert_allclose(q.weights.sum(1), 1.0, rtol=1e-12)
    # orthonormal probes (the P columns of an orthogonal matrix): averaged moments = tr(H^j)/P exactly
    Qm = torch.linalg.qr(torch.randn(P, P, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))[0]
    q = slq(op, m=m, probes=Qm.T)
    for j in range(1, 5):
        exact = float(torch.trace(torch.linalg.matrix_power(H, j))) / P
        assert q.moment(j) == pytest.approx(exact, rel=1e-8)


def test_spectral_density_integrates_to_one_and_has_the_right_moments():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((80, 80)); A = (A + A.T) / np.sqrt(160)
    q = slq(A, m=30, n_probes=4, seed=1)
    sigma = 0.05
    grid = np.linspace(np.nanmin(q.nodes) - 10 * sigma, np.nanmax(q.nodes) + 10 * sigma, 4001)
    rho = spectral_density(q.nodes, q.weights, grid, sigma)
    assert np.trapezoid(rho, grid) == pytest.approx(1.0, abs=1e-8)
    assert np.trapezoid(grid * rho, grid) == pytest.approx(q.moment(1), abs=1e-8)
    assert np.trapezoid(grid ** 2 * rho, grid) == pytest.approx(q.moment(2) + sigma ** 2, abs=1e-8)
    assert q.moment(2) == pytest.approx(np.trace(A @ A) / 80, rel=0.15)  # stochastic: 4 probes


def test_hutchinson_trace_is_unbiased_within_its_error_bar():
    model, x, y = _problem("mse", widths=(4, 6, 2), n=30)
    H = _exact_hessian(model, "mse", x, y)
    op = hessian_operator(model, "mse", x, y)
    r = hutchinson_trace(op, n_probes=200, seed=2)
    exact = float(torch.trace(H))
    assert abs(r.estimate - exact) < 4 * r.stderr
    offdiag = float((H ** 2).sum() - (torch.diag(H) ** 2).sum())
    assert r.samples.var(ddof=1) == pytest.approx(2 * offdiag, rel=0.3)


def test_flat_helpers_round_trip():
    model = mlp([3, 4, 2], seed=1, dtype=torch.float64)
    w = parameters_vector(model)
    parts = unflatten(w, list(model.parameters()))
    torch.testing.assert_close(flatten(parts), w)
    set_parameters_vector(model, 2 * w)
    torch.testing.assert_close(parameters_vector(model), 2 * w)
    with pytest.raises(ValueError, match="shape"):
        unflatten(w[:-1], list(model.parameters()))


def test_bad_input_names_the_parameter():
    model, x, y = _problem()
    with pytest.raises(ValueError, match="loss"):
        CurvatureOperator(model, "hinge", x, y)
    with pytest.raises(ValueError, match="kind"):
        CurvatureOperator(model, "mse", x, y, kind="fisher")
    with pytest.raises(ValueError, match="method"):
        CurvatureOperator(model, "mse", x, y, method="fd")
    with pytest.raises(ValueError, match="chunk_size"):
        CurvatureOperator(model, "mse", x, y, chunk_size=0)
    with pytest.raises(ValueError, match="k="):
        top_eigenpairs(np.eye(3), k=4)
    with pytest.raises(ValueError, match="which"):
        top_eigenpairs(np.eye(3), which="BE")
    with pytest.raises(ValueError, match="sigma"):
        spectral_density([1.0], [1.0], [0.0], 0.0)
    with pytest.raises(ValueError, match="distribution"):
        hutchinson_trace(np.eye(3), distribution="uniform")
    with pytest.raises(ValueError, match="matrix"):  # a bad matrix is bad input, caught before Lanczos
        top_eigenpairs(np.full((3, 3), np.inf))
