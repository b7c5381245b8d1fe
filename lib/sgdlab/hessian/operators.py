"""Curvature operators on a FIXED batch: Hessian- and Gauss–Newton-vector products.

A batch Hessian is one matrix, ``H_B = ∇²(1/|B|) Σ_{i∈B} ℓ_i(θ)``: every product uses the same
samples (unlike the classic ``hessian-eigenthings`` operator, which drew a new mini-batch at every
product; see the note on paper 5, §6). Three products are offered:

- ``method="double_backward"`` (Pearlmutter's trick as in PyHessian): ``Hv = ∇(∇L·v)``. The
  gradient graph is built once and kept, so each product is one backward pass through it (about
  one gradient's cost on the part-1 MLP, 1.4–2.1 gradients for the first product, which builds the
  graph; see ``benchmarks/README.md``).
- ``method="func"``: forward-over-reverse, ``torch.func.jvp(torch.func.grad(L), θ, v)``.
- ``kind="ggn"``: the Gauss–Newton matrix ``G = Jᵀ H_out J`` (``J`` the Jacobian of the outputs,
  ``H_out`` the Hessian of the loss in the outputs), by ``jvp`` → output Hessian → ``vjp``.

Large batches can be split into chunks (``chunk_size``); the product is the sample-weighted sum
of the chunks' products (then the graph is rebuilt for each product, to bound memory).

Used by parts 3, 4 and 5 (λ_max, traces and spectra of batch Hessians) and by part 1's checks.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp

from ..train.losses import check_loss, mean_loss
from .flat import flatten, params_dict, unflatten

METHODS = ("double_backward", "func")

_FWD_AD_READY = False


def _forward_ad_warmup() -> None:
    """Load torch's forward-mode AD decompositions once, hiding the DeprecationWarning that torch's
    own use of ``torch.jit.script`` emits there (torch internals, nothing the caller can act on)."""
    global _FWD_AD_READY
    if _FWD_AD_READY:
        return
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        try:
            import torch._decomp.decompositions_for_jvp  # noqa: F401
        except ImportError:  # pragma: no cover - layout of a future torch
            pass
    _FWD_AD_READY = True
KINDS = ("hessian", "ggn")
_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


class LinearOperator:
    """Minimal interface of a symmetric operator: ``size``, ``dtype``, ``device``, ``matvec``.

    ``n_products`` counts the calls of :meth:`matvec` (the cost unit of Lanczos and power
    iteration). ``op @ v`` is ``op.matvec(v)``.
    """

    size: int
    dtype: torch.dtype
    device: torch.device
    n_products: int = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __matmul__(self, v: torch.Tensor) -> torch.Tensor:
        return self.matvec(v)

    def dense(self) -> torch.Tensor:
        """The operator as a dense ``(size, size)`` matrix, column by column (small problems only)."""
        eye = torch.eye(self.size, dtype=self.dtype, device=self.device)
        return torch.stack([self.matvec(eye[i]) for i in range(self.size)], dim=1)


class DenseOperator(LinearOperator):
    """Wrap a symmetric matrix (torch tensor or numpy array) as a :class:`LinearOperator`."""

    def __init__(self, matrix, *, dtype: torch.dtype | None = None, device=None):
        if matrix is None or isinstance(matrix, (str, bytes)):
            raise ValueError(f"matrix must be a square real matrix, got {matrix!r}")
        try:
            m = matrix if isinstance(matrix, torch.Tensor) else torch.as_tensor(np.asarray(matrix))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"matrix must be a square real matrix: {exc}") from None
        if m.is_complex() or m.dtype == torch.bool or not (m.is_floating_point() or m.dtype in _INT_DTYPES):
            raise ValueError(f"matrix must be real-valued, got dtype {m.dtype}")
        if m.dim() != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
            raise ValueError(f"matrix must be square and non-empty; got shape {tuple(m.shape)}")
        if not bool(torch.isfinite(m).all()):
            raise ValueError("matrix must be finite (no NaN or inf)")
        scale = float(m.abs().max())
        eps = torch.finfo(m.dtype).eps if m.is_floating_point() else torch.finfo(torch.float64).eps
        if float((m - m.T).abs().max()) > 100 * eps**0.5 * max(scale, 1e-300):  # round-off passes, a typo does not
            raise ValueError("matrix must be symmetric")
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype={dtype!r} must be a floating torch.dtype or None")
        if dtype is None:
            dtype = m.dtype if m.is_floating_point() else torch.float64
        self.matrix = m.to(dtype=dtype, device=device if device is not None else m.device)
        self.size = m.shape[0]
        self.dtype, self.device = self.matrix.dtype, self.matrix.device
        self.n_products = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        self.n_products += 1
        return self.matrix @ v

    def dense(self) -> torch.Tensor:
        return self.matrix


def as_operator(op) -> LinearOperator:
    """``op`` itself if it has a ``matvec``; a :class:`DenseOperator` for a matrix."""
    if hasattr(op, "matvec") and hasattr(op, "size"):
        return op
    return DenseOperator(op)


class CurvatureOperator(LinearOperator):
    """Hessian (or Gauss–Newton) of a model's mean loss on a fixed batch, as a linear operator.

    Parameters
    ----------
    model : torch.nn.Module
        The network; its trainable parameters (in ``model.parameters()`` order) are the variables.
        The model's current parameters are used; change them and build a new operator.
    loss : {"cross_entropy", "mse"}
        See :mod:`sgdlab.train.losses`.
    x, y : torch.Tensor
        The fixed batch (moved to the model's device).
    kind : {"hessian", "ggn"}
        The Hessian ``∇²L`` or the generalised Gauss–Newton matrix ``Jᵀ H_out J``.
    method : {"double_backward", "func"}
        How Hessian-vector products are computed (ignored for ``kind="ggn"``).
    chunk_size : int, optional
        Split the batch into chunks of this many samples (bounded memory, no graph caching).

    Attributes
    ----------
    size : int
        Number of parameters ``P``.
    n_products : int
        Number of :meth:`matvec` calls so far.

    Examples
    --------
    >>> op = CurvatureOperator(model, "cross_entropy", x, y)        # doctest: +SKIP
    >>> lam = top_eigenpairs(op, k=1).eigenvalues[0]                # doctest: +SKIP
    """

    def __init__(self, model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor, *,
                 kind: str = "hessian", method: str = "double_backward", chunk_size: int | None = None):
        check_loss(loss)
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is unknown; allowed: {', '.join(KINDS)}")
        if method not in METHODS:
            raise ValueError(f"method={method!r} is unknown; allowed: {', '.join(METHODS)}")
        if x.shape[0] != y.shape[0] or x.shape[0] < 1:
            raise ValueError(f"x ({x.shape[0]} samples) and y ({y.shape[0]}) must hold the same number >= 1")
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size={chunk_size!r} must be a positive integer")
        self.model, self.loss_name, self.kind, self.method = model, loss, kind, method
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("model has no trainable parameters")
        self.dtype, self.device = self.params[0].dtype, self.params[0].device
        self.x, self.y = x.to(self.device), y.to(self.device)
        if self.x.is_floating_point():
            self.x = self.x.to(self.dtype)
        self.size = sum(p.numel() for p in self.params)
        self.n = x.shape[0]
        cs = self.n if chunk_size is None else min(chunk_size, self.n)
        self.chunks = [(i, min(i + cs, self.n)) for i in range(0, self.n, cs)]
        self.n_products = 0
        self._cached = None  # gradient graph (double_backward) or vjp function (ggn), single chunk only

    # ------------------------------------------------------------------ helpers
    def _loss_of(self, p: dict, xb, yb):
        return mean_loss(self.loss_name, functional_call(self.model, p, (xb,)), yb)

    def loss(self) -> float:
        """The mean loss on the batch."""
        with torch.no_grad():
            return float(sum((b - a) / self.n * mean_loss(self.loss_name, self.model(self.x[a:b]), self.y[a:b])
                             for a, b in self.chunks))

    def gradient(self) -> torch.Tensor:
        """The flat gradient of the mean loss on the batch."""
        g = torch.zeros(self.size, dtype=self.dtype, device=self.device)
        for a, b in self.chunks:
            lo = mean_loss(self.loss_name, self.model(self.x[a:b]), self.y[a:b])
            g += (b - a) / self.n * flatten(torch.autograd.grad(lo, self.params))
        return g

    def _check(self, v: torch.Tensor) -> torch.Tensor:
        if v.dim() != 1 or v.numel() != self.size:
            raise ValueError(f"v has shape {tuple(v.shape)}; expected ({self.size},)")
        return v.to(dtype=self.dtype, device=self.device)

    # ------------------------------------------------------------------ products
    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """The product ``H v`` (or ``G v``) for a flat vector ``v`` of length :attr:`size`."""
        v = self._check(v)
        self.n_products += 1
        if self.kind == "ggn" or self.method == "func":
            _forward_ad_warmup()
        if self.kind == "ggn":
            return self._ggn(v)
        if self.method == "func":
            return self._hvp_func(v)
        return self._hvp_db(v)

    def _hvp_db(self, v):
        vs = unflatten(v, self.params)
        if len(self.chunks) == 1:
            if self._cached is None:
                lo = mean_loss(self.loss_name, self.model(self.x), self.y)
                self._cached = torch.autograd.grad(lo, self.params, create_graph=True)
            hv = torch.autograd.grad(self._cached, self.params, vs, retain_graph=True)
            return flatten(hv).detach()
        out = torch.zeros(self.size, dtype=self.dtype, device=self.device)
        for a, b in self.chunks:
            lo = mean_loss(self.loss_name, self.model(self.x[a:b]), self.y[a:b])
            g = torch.autograd.grad(lo, self.params, create_graph=True)
            out += (b - a) / self.n * flatten(torch.autograd.grad(g, self.params, vs)).detach()
        return out

    def _hvp_func(self, v):
        p = params_dict(self.model)
        vs = dict(zip(p, unflatten(v, self.params)))
        out = torch.zeros(self.size, dtype=self.dtype, device=self.device)
        for a, b in self.chunks:
            xb, yb = self.x[a:b], self.y[a:b]
            _, hv = jvp(grad(lambda q: self._loss_of(q, xb, yb)), (p,), (vs,))
            out += (b - a) / self.n * flatten(hv)
        return out

    def _ggn(self, v):
        p = params_dict(self.model)
        vs = dict(zip(p, unflatten(v, self.params)))
        out = torch.zeros(self.size, dtype=self.dtype, device=self.device)
        for a, b in self.chunks:
            xb, yb = self.x[a:b], self.y[a:b]

            def f(q):
                return functional_call(self.model, q, (xb,))

            if len(self.chunks) == 1 and self._cached is not None:
                outputs, vjp_fn = self._cached
            else:
                outputs, vjp_fn = vjp(f, p)
                if len(self.chunks) == 1:
                    self._cached = (outputs, vjp_fn)
            _, jv = jvp(f, (p,), (vs,))
            outputs = outputs.detach()
            # output Hessian times Jv: forward-over-reverse on the (small) loss-of-outputs function
            _, hjv = jvp(grad(lambda o: mean_loss(self.loss_name, o, yb)), (outputs,), (jv,))
            (g,) = vjp_fn(hjv)
            out += (b - a) / self.n * flatten(g)
        return out

    def dense(self) -> torch.Tensor:
        """The dense ``P×P`` matrix via ``torch.func.hessian`` (Hessian) or ``P`` products (GGN)."""
        if self.kind == "ggn":
            return super().dense()
        _forward_ad_warmup()
        p = params_dict(self.model)
        flat0 = flatten(p)

        def f(w):
            return sum((b - a) / self.n * self._loss_of(dict(zip(p, unflatten(w, list(p.values())))),
                                                       self.x[a:b], self.y[a:b]) for a, b in self.chunks)

        return torch.func.hessian(f)(flat0)


def hessian_operator(model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor, **kw) -> CurvatureOperator:
    """The batch Hessian of ``model``'s mean ``loss`` on ``(x, y)``; see :class:`CurvatureOperator`."""
    return CurvatureOperator(model, loss, x, y, kind="hessian", **kw)


def ggn_operator(model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor, **kw) -> CurvatureOperator:
    """The Gauss–Newton matrix ``Jᵀ H_out J`` on ``(x, y)``; see :class:`CurvatureOperator`."""
    return CurvatureOperator(model, loss, x, y, kind="ggn", **kw)


def hvp(model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, *,
        method: str = "double_backward") -> torch.Tensor:
    """One Hessian-vector product ``∇²L_B(θ) v`` on the batch ``(x, y)`` (flat ``v``)."""
    return CurvatureOperator(model, loss, x, y, method=method).matvec(v)


def ggnvp(model: nn.Module, loss: str, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One Gauss–Newton-vector product ``Jᵀ H_out J v`` on the batch ``(x, y)`` (flat ``v``)."""
    return CurvatureOperator(model, loss, x, y, kind="ggn").matvec(v)
