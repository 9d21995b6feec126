"""Sparse adjacency (CSR) and the sparse matmul the graph models propagate with.

Everything is plain ``torch``, so the same code runs on CPU and CUDA.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor


def sparse_adj(rows: Tensor, cols: Tensor, values: Tensor, n: int) -> Tensor:
    """A ``[n, n]`` CSR matrix (duplicates summed): ``A @ X`` aggregates ``X[cols]`` into rows.

    CSR because its ``mm`` is the fastest sparse kernel on CPU and its backward to the dense
    operand is supported.
    """
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (n, n), check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
        return coo.to_sparse_csr()


class CSRPattern:
    """The sparsity pattern of ``A[rows, cols]`` fixed once, so new values cost one scatter.

    Attention models recompute their edge weights every epoch but never their edges; building
    the CSR structure (sort, coalesce, compress) once and then only scattering the values into
    their slots makes :meth:`CKGEncoder.refresh` an order of magnitude cheaper.

    Args:
        rows, cols: int64 ``[E]`` (duplicates share a slot; their values are summed).
        n: matrix size (square ``[n, n]``).
    """

    def __init__(self, rows: Tensor, cols: Tensor, n: int) -> None:
        key = rows * n + cols
        uniq, self.slot = torch.unique(key, sorted=True, return_inverse=True)
        self.n = n
        self.col = (uniq % n).contiguous()
        counts = torch.bincount(uniq // n, minlength=n)
        self.crow = torch.zeros(n + 1, dtype=torch.int64, device=rows.device)
        self.crow[1:] = torch.cumsum(counts, 0)

    def matrix(self, values: Tensor) -> Tensor:
        """The CSR ``[n, n]`` with ``values`` (``[E]``, in the order of the edges given)."""
        v = torch.zeros(len(self.col), dtype=values.dtype, device=values.device)
        v.index_add_(0, self.slot, values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
            return torch.sparse_csr_tensor(self.crow, self.col, v, (self.n, self.n))


class _SpMM(torch.autograd.Function):
    """``A @ x`` whose backward uses a precomputed ``Aᵀ`` (CSR).

    torch's own backward for a sparse operand converts the gradient path to CSR on every call,
    which costs ~10x the forward; the transpose is fixed per graph, so it is built once.
    """

    @staticmethod
    def forward(ctx, a: Tensor, a_t: Tensor, x: Tensor) -> Tensor:
        ctx.a_t = a_t
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.a_t, grad)


def spmm(a: Tensor, a_t: Tensor, x: Tensor) -> Tensor:
    """Sparse ``a @ x`` differentiable in ``x`` only (the adjacency is not learned by gradient).

    Args:
        a: CSR ``[n, m]``.
        a_t: CSR ``[m, n]``, the transpose of ``a`` (``a`` itself when symmetric).
        x: dense ``[m, d]``.
    """
    return _SpMM.apply(a, a_t, x)


def sym_norm_adj(rows: Tensor, cols: Tensor, n: int) -> Tensor:
    """``D^{-1/2} A D^{-1/2}`` of the undirected graph with the given (one-way) edges.

    Shapes:
        rows, cols: ``[E]``; returns a CSR ``[n, n]``.
    """
    r = torch.cat([rows, cols])
    c = torch.cat([cols, rows])
    deg = torch.bincount(r, minlength=n).float().clamp(min=1)
    dinv = deg.pow(-0.5)
    return sparse_adj(r, c, dinv[r] * dinv[c], n)
