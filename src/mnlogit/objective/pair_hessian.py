"""The loss Hessian of very sparse ``X`` in work proportional to its stored values.

Block ``(a, c)`` of the reference-0 loss Hessian is ``Yᵀ diag(h_ac) Y`` with
``h_ac = w P_a (I(a=c) - P_c)`` and ``Y = [1, X diag(column_factor)]``. Its entry ``(j, l)``
sums ``h_ac,i y_ij y_il`` over the rows whose ``y_i`` stores both ``j`` and ``l``. A row
with ``r`` stored values (intercept included) contributes ``r (r + 1) / 2`` products
``y_ij y_il`` (``j <= l``); collected as a sparse matrix ``E`` of shape
``(m, p1 * p1)``, every block pair at once is ``Eᵀ [h_ac]`` -- one sparse-times-dense
product with ``K (K - 1) / 2`` columns, no sparse-times-sparse product, no size pass, no
format conversion. One-hot rows (a dozen values among hundreds of columns) cost
``n · r² · K² / 4`` multiply-adds instead of the dense ``n · (K p1)² / 2``.

:func:`pair_work` and :func:`dense_work` estimate both costs so the caller picks the cheaper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

__all__ = ["dense_work", "pair_grams", "pair_hessian", "pair_work"]

FloatArray = NDArray[np.float64]

# Products per block of rows (about 1 MiB per array of pair indices and values; the
# block's temporaries peak near 16 bytes x 8 arrays per product). 2**17 rather than
# 2**20: on onehot-300k-120-8 (K = 8) the Hessian's peak fell from 82.8 to 17.1 MiB
# (tracemalloc) and its time from 2.7 s to 2.1 s (one thread, cache-sized blocks).
_PAIRS_PER_BLOCK = 2**17
# A multiply-add of the sparse-times-dense product against one of a dense syrk.
_SPARSE_COST = 8.0


def _row_counts(X: Any, intercept: bool) -> NDArray[np.int64]:
    """Stored values per row of ``Y`` (the intercept counted)."""
    return np.diff(X.indptr).astype(np.int64) + int(intercept)


def pair_work(X: Any, k1: int, intercept: bool) -> float:
    """Estimated cost of :func:`pair_hessian` (in dense multiply-adds)."""
    r = _row_counts(X, intercept)
    pairs = float((r * (r + 1) // 2).sum())
    return _SPARSE_COST * pairs * k1 * (k1 + 1) / 2


def dense_work(n: int, p1: int, k1: int) -> float:
    """Estimated cost of the dense-block ``syrk`` Hessian (multiply-adds)."""
    m = k1 * p1
    return n * (m * m / 2.0 + p1 * m)


def _augmented(X: Any, intercept: bool, column_factor: FloatArray | None) -> Any:
    """``Y = [1, X diag(column_factor)]`` as canonical CSR in float64 (small: one block)."""
    Y = sp.csr_matrix(X, dtype=np.float64, copy=True)
    Y.sum_duplicates()
    if column_factor is not None:
        Y.data *= column_factor[Y.indices]
    if not intercept:
        return Y
    m = Y.shape[0]
    ones = sp.csr_matrix((np.ones(m), np.zeros(m, np.int64), np.arange(m + 1)), shape=(m, 1))
    return sp.hstack([ones, Y], format="csr")


def _pair_matrix(Y: Any) -> Any:
    """``E`` of shape (m, p1 * p1): row ``i`` holds ``y_ij y_il`` at ``j * p1 + l``, ``j <= l``."""
    m, p1 = Y.shape
    r = np.diff(Y.indptr).astype(np.int64)
    row_end = np.repeat(Y.indptr[1:].astype(np.int64), r)
    count = row_end - np.arange(Y.nnz, dtype=np.int64)  # partners at or after each value
    left = np.repeat(np.arange(Y.nnz, dtype=np.int64), count)
    first = np.cumsum(count) - count
    right = left + (np.arange(left.size, dtype=np.int64) - np.repeat(first, count))
    idx = Y.indices.astype(np.int64)
    j, l_ = idx[left], idx[right]
    q = np.minimum(j, l_) * p1 + np.maximum(j, l_)
    indptr = np.concatenate([[0], np.cumsum(r * (r + 1) // 2)])
    return sp.csr_matrix((Y.data[left] * Y.data[right], q, indptr), shape=(m, p1 * p1))


def pair_grams(
    X: Any,
    row_weights: Callable[[slice], FloatArray],
    k1: int,
    intercept: bool,
    column_factor: FloatArray | None = None,
) -> FloatArray:
    """The symmetric block matrix whose block ``(a, c)`` is ``Yᵀ diag(h_ac) Y``.

    Parameters
    ----------
    X : CSR matrix of shape (n, p)
    row_weights : callable (slice) -> ndarray of shape (rows, k1 (k1 + 1) / 2)
        ``h_ac`` of the rows in the slice, one column per block pair ``a <= c`` in the
        order ``(0, 0), (0, 1), ..., (0, k1-1), (1, 1), ...``.
    k1 : int
        Number of block rows (and columns).
    intercept : bool
    column_factor : ndarray of shape (p,), optional

    Returns
    -------
    ndarray of shape (k1 * p1, k1 * p1)
        Symmetric, block ``(c, a)`` the transpose of block ``(a, c)``.
    """
    n = X.shape[0]
    p1 = X.shape[1] + int(intercept)
    pairs = [(a, c) for a in range(k1) for c in range(a, k1)]
    r = _row_counts(X, intercept)
    ends = np.cumsum(r * (r + 1) // 2)  # products up to and including each row
    G = np.zeros((p1 * p1, len(pairs)))
    start = 0
    while start < n:
        # rows until the block holds _PAIRS_PER_BLOCK products (at least one row)
        done = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, done + _PAIRS_PER_BLOCK, side="right"))
        stop = min(n, max(stop, start + 1))
        rows = slice(start, stop)
        E = _pair_matrix(_augmented(X[rows], intercept, column_factor))
        G += E.T @ row_weights(rows)
        start = stop
    H = np.empty((k1 * p1, k1 * p1))
    for t, (a, c) in enumerate(pairs):
        U = G[:, t].reshape(p1, p1)
        B = U + U.T
        B[np.diag_indices(p1)] -= np.diag(U)
        H[a * p1 : (a + 1) * p1, c * p1 : (c + 1) * p1] = B
        H[c * p1 : (c + 1) * p1, a * p1 : (a + 1) * p1] = B.T
    return H


def pair_hessian(
    X: Any,
    P1: FloatArray,
    w: FloatArray,
    intercept: bool,
    column_factor: FloatArray | None = None,
) -> FloatArray:
    """Reference-0 loss Hessian of CSR ``X`` from the products of stored values.

    Parameters
    ----------
    X : CSR matrix of shape (n, p)
    P1 : ndarray of shape (n, K-1)
        The probabilities of classes ``1 .. K-1``.
    w : ndarray of shape (n,)
        Row weights.
    intercept : bool
    column_factor : ndarray of shape (p,), optional

    Returns
    -------
    ndarray of shape ((K-1) * p1, (K-1) * p1)
        Symmetric, class-major blocks; equal to the dense kernel's result.
    """
    k1 = P1.shape[1]
    pairs = [(a, c) for a in range(k1) for c in range(a, k1)]

    def weights(rows: slice) -> FloatArray:
        D = np.empty((rows.stop - rows.start, len(pairs)))
        for t, (a, c) in enumerate(pairs):
            np.multiply(w[rows] * P1[rows, a], float(a == c) - P1[rows, c], out=D[:, t])
        return D

    return pair_grams(X, weights, k1, intercept, column_factor)
