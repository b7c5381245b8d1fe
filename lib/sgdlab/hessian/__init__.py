"""Curvature of networks on a fixed batch: HVPs, GGN products, Lanczos, SLQ, Hutchinson.

Public API (all torch; float64 supported throughout; products counted in ``op.n_products``)::

    from sgdlab.hessian import (
        CurvatureOperator, hessian_operator, ggn_operator, DenseOperator, as_operator,  # operators
        hvp, ggnvp,                                                                     # one product
        lanczos, top_eigenpairs, power_iteration,                                       # eigenvalues
        slq, spectral_density, hutchinson_trace,                                        # spectra, traces
        flatten, unflatten, parameters_vector, set_parameters_vector, params_dict,      # flat params
    )

Typical use (part 4: sharpness of a Fashion-MNIST MLP; part 5: batch-Hessian spectra)::

    op = hessian_operator(model, "cross_entropy", x_batch, y_batch)   # H_B at the current weights
    lam_max = top_eigenpairs(op, k=1).eigenvalues[0]                   # Lanczos, full reorth.
    tr = hutchinson_trace(op, n_probes=50).estimate                     # tr H_B
    q = slq(op, m=80, n_probes=4)                                       # Gauss rules per probe
    rho = q.density(grid, sigma=0.02 * (q.nodes.max() - q.nodes.min()))

- :class:`CurvatureOperator` — ``kind="hessian"`` (``method="double_backward"``, cached gradient graph,
  the fastest on CPU; or ``method="func"``, forward-over-reverse) or ``kind="ggn"``; ``chunk_size``
  bounds memory on large batches; ``.dense()`` for small nets (``torch.func.hessian``).
- :func:`top_eigenpairs` — Lanczos with full reorthogonalisation, ``which="LA"|"LM"|"SA"``, residual
  tolerance ``tol``; returns an :class:`EigResult` (eigenvalues, eigenvectors, residuals, products).
- :func:`power_iteration` — PyHessian's baseline, for comparison only.
- :func:`slq` / :func:`spectral_density` — nodes = Ritz values, weights = squared first components;
  Gaussian kernel of standard deviation ``sigma``; the density integrates to 1.
- :func:`hutchinson_trace` — Rademacher (default) or Gaussian probes; estimate ± standard error.

Tests: ``tests/test_hessian.py`` (against ``torch.func.hessian`` and ``numpy.linalg.eigh``).
Benchmarks: ``benchmarks/bench_hessian.py``.
"""
from .flat import flatten, params_dict, parameters_vector, set_parameters_vector, unflatten
from .lanczos import (
    EigResult,
    LanczosResult,
    SLQResult,
    TraceResult,
    hutchinson_trace,
    lanczos,
    power_iteration,
    slq,
    spectral_density,
    top_eigenpairs,
)
from .operators import (
    CurvatureOperator,
    DenseOperator,
    LinearOperator,
    as_operator,
    ggn_operator,
    ggnvp,
    hessian_operator,
    hvp,
)

__all__ = [
    "CurvatureOperator", "DenseOperator", "LinearOperator", "as_operator", "hessian_operator", "ggn_operator",
    "hvp", "ggnvp", "lanczos", "top_eigenpairs", "power_iteration", "slq", "spectral_density",
    "hutchinson_trace", "LanczosResult", "EigResult", "SLQResult", "TraceResult",
    "flatten", "unflatten", "parameters_vector", "set_parameters_vector", "params_dict",
]
