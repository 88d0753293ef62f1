"""Block kernels: the multinomial loss's products for one block of rows, as pure functions.

Every function here takes explicit arrays and nothing else -- no objective, no cache, no
global state beyond the block size of :mod:`mnlogit.objective.blocks` -- so the in-memory
objective, a Dask partition (``map_blocks`` and a tree reduction) and, later, another
array namespace can call the same code. The shared vocabulary:

``X_b``
    ``(m, p)`` block of rows: a float64 or float32 ndarray, or a scipy sparse matrix
    (never densified). Kernels read it in row sub-blocks of
    :func:`mnlogit.objective.blocks.block_rows`, never copying it whole.
``y_b``
    ``(m,)`` integer class codes in ``0 .. K-1``.
``w_b``
    ``(m,)`` float64 weights, usually the sample weights divided by their total ``S``
    over *all* rows (so that partial sums add up to the mean-scale objective); ``None``
    means a weight of 1 on every row.
``W``, ``b``
    ``(p, K)`` coefficients on ``X``'s own scale and ``(K,)`` intercepts, or ``b=None``
    for a model without intercept.
``fast``
    Only for float32 ``X_b``: products in float32 (``True``), or in float64 on row
    sub-blocks converted on the fly (``False``, the exact mode). float64 ``X_b`` always
    gives float64 products.

Results that are sums over rows are *additive partial sums*: the kernel's value on the
rows of ``X`` equals the sum of its values on any split of those rows into blocks. Per-row
results (linear predictor, probabilities) are returned for the block's rows. Sums over
rows that meet the intercept are returned row-stacked as ``[colsum(U); X_bᵀ U]`` of shape
``(p1, K)``, ``p1 = p + 1`` with intercept and ``p`` without.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective.blocks import column_read_blocks, row_blocks

__all__ = [
    "backproject",
    "class_sums",
    "class_sums_from_rows",
    "curvature_sums",
    "float64_product",
    "is_sparse",
    "linear_predictor",
    "log_softmax",
    "row_max",
    "smallest_probability",
    "softmax_probabilities",
    "weighted_column_squares",
    "weighted_gram",
]

FloatArray = NDArray[np.float64]


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy sparse matrix (a plain bool: no type narrowing)."""
    return bool(sp.issparse(X))


def log_softmax(eta: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Row-wise log-softmax, stable for any finite input.

    Parameters
    ----------
    eta : ndarray of shape (n, K)
    out : ndarray of shape (n, K), optional
        Buffer for the result (may be ``eta`` itself).

    Returns
    -------
    ndarray of shape (n, K)
        ``eta - logsumexp(eta, axis=1)``; every entry finite when ``eta`` is.
    """
    if out is None:
        out = np.empty_like(eta)
    m = eta.max(axis=1, keepdims=True)
    np.subtract(eta, m, out=out)
    lse = np.log(np.exp(out).sum(axis=1, keepdims=True))
    out -= lse
    return out


def _is_fast32(X_b: Any, fast: bool) -> bool:
    """Whether products with ``X_b`` run in float32 (float32 data in fast mode)."""
    return bool(fast and getattr(X_b, "dtype", np.float64) == np.float32)


def _with_intercept(colsum: FloatArray, XtU: FloatArray, intercept: bool) -> FloatArray:
    """``[colsum; XtU]`` (``(p + 1, K)``) with intercept, else ``XtU`` (``(p, K)``)."""
    if not intercept:
        return XtU
    return np.vstack([colsum[None, :], XtU])


def float64_product(X: Any, W: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """``X @ W`` in float64, into ``out`` when given, never copying ``X`` whole.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (m, p)
        A dense float32 ``X`` is converted one row block at a time.
    W : ndarray of shape (p, K), float64
    out : ndarray of shape (m, K), optional

    Returns
    -------
    ndarray of shape (m, K), float64
    """
    if out is None:
        out = np.empty((X.shape[0], W.shape[1]))
    if not isinstance(X, np.ndarray):  # sparse (or another matrix type)
        M: Any = X
        out[...] = M @ W
    elif X.dtype == np.float64:
        np.matmul(X, W, out=out)
    else:
        for sl in row_blocks(X.shape[0], X.shape[1]):
            np.matmul(X[sl].astype(np.float64), W, out=out[sl])
    return out


def linear_predictor(
    X_b: Any,
    W: FloatArray,
    b: FloatArray | None = None,
    *,
    fast: bool = False,
    out: FloatArray | None = None,
) -> FloatArray:
    """``eta_b = X_b @ W + b`` for one block of rows (per-row result).

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    W : ndarray of shape (p, K), float64
    b : ndarray of shape (K,), optional
    fast : bool, default=False
        float32 ``X_b``: a float32 product (the result is still stored as float64).
    out : ndarray of shape (m, K), float64, optional
        Where to write the result.

    Returns
    -------
    ndarray of shape (m, K), float64
    """
    if out is None:
        out = np.empty((X_b.shape[0], W.shape[1]))
    if _is_fast32(X_b, fast):
        out[...] = X_b @ W.astype(np.float32)
    elif is_sparse(X_b) or not isinstance(X_b, np.ndarray):
        out[...] = X_b @ W
    else:
        float64_product(X_b, W, out)
    if b is not None:
        out += b
    return out


def softmax_probabilities(
    X_b: Any,
    W: FloatArray,
    b: FloatArray | None,
    *,
    fast: bool = False,
    out: FloatArray | None = None,
) -> FloatArray:
    """The probabilities of one block of rows, and nothing else (no loss).

    The operations of :func:`mnlogit.objective.loss.softmax_loss` that make its
    probabilities, in the same order (so the same numbers), without the labels' gather
    and the logarithms the loss needs: what the Hessian reads block by block.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    W : ndarray of shape (p, K), float64
    b : ndarray of shape (K,), optional
    fast : bool, default=False
    out : ndarray of shape (m, K), float64, optional
        The buffer the linear predictor is formed in and turned into the probabilities.

    Returns
    -------
    ndarray of shape (m, K)
        ``out`` when given.
    """
    prob = linear_predictor(X_b, W, b, fast=fast, out=out)
    prob -= row_max(prob)[:, None]
    np.exp(prob, out=prob)
    total = prob @ np.ones(prob.shape[1])
    prob *= (1.0 / total)[:, None]
    return prob


def row_max(A: FloatArray) -> FloatArray:
    """Row maxima of an ``(m, K)`` array, shape ``(m,)``; a loop over few columns beats
    ``max(axis=1)``."""
    if A.shape[1] > 32:
        return np.asarray(A.max(axis=1))
    m = A[:, 0].copy()
    for k in range(1, A.shape[1]):
        np.maximum(m, A[:, k], out=m)
    return m


def backproject(X_b: Any, U_b: FloatArray, *, intercept: bool, fast: bool = False) -> FloatArray:
    """``[colsum(U_b); X_bᵀ U_b]``: a per-row derivative carried back to the coefficients.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    U_b : ndarray of shape (m, K'), float64
        For instance ``w * (P - onehot(y))``, the loss's derivative in ``eta``.
    intercept : bool
        Whether to stack the column sums (the intercept's share) on top.
    fast : bool, default=False
        float32 ``X_b``: a float32 product.

    Returns
    -------
    ndarray of shape (p1, K'), float64
        Additive over row blocks. On ``X``'s own scale.
    """
    fast32 = _is_fast32(X_b, fast)
    colsum = np.asarray(U_b.sum(axis=0), dtype=np.float64)
    Uc = U_b.astype(np.float32) if fast32 else U_b
    if is_sparse(X_b):
        XtU = np.asarray(X_b.T @ Uc, dtype=np.float64)
    elif X_b.dtype == np.float64 or fast32:
        # (Uᵀ X)ᵀ: BLAS is faster with the long dimension inner here
        XtU = np.asarray((Uc.T @ X_b).T, dtype=np.float64)
    else:
        XtU = np.zeros((X_b.shape[1], U_b.shape[1]))
        for sl in row_blocks(X_b.shape[0], X_b.shape[1]):
            XtU += (U_b[sl].T @ X_b[sl].astype(np.float64)).T
    return _with_intercept(colsum, XtU, intercept)


def smallest_probability(P_b: FloatArray, w_b: FloatArray | None) -> float:
    """The smallest entry of ``P_b`` over the rows of positive weight (``inf`` if none).

    Parameters
    ----------
    P_b : ndarray of shape (m, K)
    w_b : ndarray of shape (m,), optional
        ``None``: every row counts.

    Returns
    -------
    float
        Combine blocks with ``min``.
    """
    block = P_b if w_b is None or bool(np.all(w_b > 0)) else P_b[w_b > 0]
    return float(block.min()) if block.size else float("inf")


def class_sums(
    X_b: Any, y_b: NDArray[np.intp], w_b: FloatArray | None, n_classes: int, *, intercept: bool
) -> FloatArray:
    """``sum_i w_i onehot(y_i) [1, x_i]``: the constant part of the loss's gradient.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    y_b : ndarray of shape (m,)
    w_b : ndarray of shape (m,), optional
    n_classes : int
        ``K``.
    intercept : bool

    Returns
    -------
    ndarray of shape (p1, K), float64
        Additive over row blocks; on ``X``'s own scale. Dense ``X_b``: one small one-hot
        block per row sub-block (no ``m``-sized temporaries).
    """
    K = n_classes
    m = X_b.shape[0]
    w = np.ones(m) if w_b is None else w_b
    if is_sparse(X_b):
        # row chunks of about BLOCK_ELEMENTS stored values, each against its dense
        # (rows, K) one-hot block (a whole sparse one-hot product took 2-3x X's memory)
        csr: Any = X_b.tocsr() if X_b.format != "csr" else X_b
        XtY = np.zeros((X_b.shape[1], K))
        width = max(1, -(-int(csr.nnz) // max(m, 1)), K)
        for sl in row_blocks(m, width):
            rows = sl.stop - sl.start
            block = np.zeros((rows, K))
            block[np.arange(rows), y_b[sl]] = w[sl]
            XtY += np.asarray(csr[sl].T @ block, dtype=np.float64)
        sums = XtY.T
    else:
        # the one-hot block as (K, rows), as in the sweep (a third faster than
        # Xc.T @ block, docs/solvers.md)
        YX = np.zeros((K, X_b.shape[1]))
        # blocks bounded in the one-hot block's width too (K = 100 with p = 20: 10 MB);
        # the preparation's column read's blocks (READ_ELEMENTS), whose class sums
        # must equal these bit for bit
        for sl in column_read_blocks(m, max(X_b.shape[1], K)):
            Xc = np.asarray(X_b[sl], dtype=np.float64)
            rows = Xc.shape[0]
            block = np.zeros((K, rows))
            block[y_b[sl], np.arange(rows)] = w[sl]
            YX += block @ Xc
        sums = YX
    return class_sums_from_rows(sums, y_b, w, intercept=intercept)


def class_sums_from_rows(
    class_rows: FloatArray, y_b: NDArray[np.intp], w_b: FloatArray, *, intercept: bool
) -> FloatArray:
    """:func:`class_sums` from its products ``class_rows`` (``sum_i w_i onehot(y_i) x_iᵀ``,
    shape ``(K, p)``, found elsewhere: the preparation's read of ``X``).

    Parameters
    ----------
    class_rows : ndarray of shape (K, p)
    y_b : ndarray of shape (m,)
    w_b : ndarray of shape (m,)
        The row weights ``class_rows`` was summed with.
    intercept : bool

    Returns
    -------
    ndarray of shape (p1, K), float64
    """
    XtY = np.ascontiguousarray(class_rows.T, dtype=np.float64)
    if not intercept:
        return XtY
    totals = np.bincount(y_b, weights=w_b, minlength=class_rows.shape[0]).astype(np.float64)
    return np.vstack([totals[None, :], XtY])


def _scaled_sparse(X_b: Any, column_factor: FloatArray | None) -> Any:
    """``X_b diag(column_factor)`` as a sparse matrix (``X_b`` itself without factor)."""
    if column_factor is None:
        return X_b
    return sp.csr_matrix(X_b) @ sp.diags(column_factor)


def weighted_gram(
    X_b: Any,
    h_b: FloatArray,
    *,
    intercept: bool,
    column_factor: FloatArray | None = None,
) -> FloatArray:
    """``Y_bᵀ diag(h_b) Y_b`` with ``Y_b = [1, X_b diag(column_factor)]``, never copying ``X_b``.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    h_b : ndarray of shape (m,)
    intercept : bool
        Whether ``Y_b`` has the column of ones first.
    column_factor : ndarray of shape (p,), optional
        Column scaling applied to the values *before* they are squared: the scaling
        exists for columns whose squares would overflow or underflow.

    Returns
    -------
    ndarray of shape (p1, p1), float64
        Additive over row blocks. Dense ``X_b``: one symmetric product (``syrk``) per
        row sub-block when ``h_b >= 0``.
    """
    p = X_b.shape[1]
    if is_sparse(X_b):
        Xs = _scaled_sparse(X_b, column_factor)
        XtHX = np.asarray((Xs.T @ Xs.multiply(h_b[:, None]).tocsc()).toarray())
        border = np.asarray(Xs.T @ h_b).ravel()
    else:
        XtHX = np.zeros((p, p))
        border = np.zeros(p)
        nonnegative = bool(np.all(h_b >= 0))
        for sl in row_blocks(X_b.shape[0], p):
            Xc = np.asarray(X_b[sl], dtype=np.float64)
            if column_factor is not None:
                Xc = Xc * column_factor
            hc = h_b[sl]
            if nonnegative:
                Z = Xc * np.sqrt(hc)[:, None]
                XtHX += Z.T @ Z  # numpy runs this as a syrk
            else:
                XtHX += Xc.T @ (Xc * hc[:, None])
            border += hc @ Xc
    if not intercept:
        return XtHX
    out = np.empty((p + 1, p + 1))
    out[0, 0] = h_b.sum()
    out[0, 1:] = border
    out[1:, 0] = border
    out[1:, 1:] = XtHX
    return out


def weighted_column_squares(
    X_b: Any,
    h_b: FloatArray,
    *,
    intercept: bool,
    column_factor: FloatArray | None = None,
) -> FloatArray:
    """``sum_i h_i y_ij²`` for ``y_i = [1, x_i diag(column_factor)]``: the Gram diagonal.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    h_b : ndarray of shape (m,)
    intercept : bool
    column_factor : ndarray of shape (p,), optional
        Applied before squaring (see :func:`weighted_gram`).

    Returns
    -------
    ndarray of shape (p1,), float64
        Additive over row blocks. Sparse CSR ``X_b`` in canonical format: the squares
        summed into the result a range of rows at a time (no ``nnz``-sized temporary);
        CSC: the squares share ``X_b``'s index arrays (one ``nnz``-sized temporary).
    """
    if is_sparse(X_b) and X_b.format == "csr" and X_b.has_canonical_format:
        out = _csr_column_squares(X_b, h_b, column_factor)
    elif is_sparse(X_b) and X_b.format == "csc" and X_b.has_canonical_format:
        # canonical format only: a duplicate entry's square is not the sum of squares
        if column_factor is None:
            values = np.square(X_b.data, dtype=np.float64)
        else:
            values = column_factor[np.repeat(np.arange(X_b.shape[1]), np.diff(X_b.indptr))]
            values *= X_b.data
            np.square(values, out=values)
        squares = type(X_b)((values, X_b.indices, X_b.indptr), shape=X_b.shape)
        out = np.asarray(squares.T @ h_b).ravel()
    elif is_sparse(X_b):
        Xs = _scaled_sparse(sp.csr_matrix(X_b, dtype=np.float64), column_factor)
        out = np.asarray(Xs.multiply(Xs).T @ h_b).ravel()
    else:
        out = np.zeros(X_b.shape[1])
        for sl in row_blocks(X_b.shape[0], X_b.shape[1]):
            Xc = np.asarray(X_b[sl], dtype=np.float64)
            if column_factor is not None:
                Xc = Xc * column_factor
            out += (Xc * Xc).T @ h_b[sl]
    if intercept:
        return np.concatenate([[float(h_b.sum())], out])
    return out


# Stored values per range of rows whose squares _csr_column_squares makes at once (2**18
# float64 numbers: 2 MiB of scratch instead of nnz x 8 bytes).
_SQUARES_CHUNK = 2**18


def _csr_column_squares(X_b: Any, h_b: FloatArray, column_factor: FloatArray | None) -> FloatArray:
    """``sum_i h_i (x_ij column_factor_j)²`` of shape ``(p,)`` for canonical CSR ``X_b``.

    In ranges of rows of about :data:`_SQUARES_CHUNK` stored values, each added into the
    result entry by entry in row order (``np.add.at``): the same products, summed in the
    same order, as ``squares.T @ h_b`` over the whole matrix -- the same numbers -- without
    its ``nnz``-sized float64 temporary (40 MB on a sparse text problem, made at every
    Newton-CG point by the block-diagonal preconditioner: the fit's peak memory,
    issue-sparse6).
    """
    n = X_b.shape[0]
    indptr = X_b.indptr
    out = np.zeros(X_b.shape[1])
    rows = max(1, int(_SQUARES_CHUNK * n / max(X_b.nnz, 1)))
    for a in range(0, n, rows):
        b = min(a + rows, n)
        first, last = int(indptr[a]), int(indptr[b])
        columns = X_b.indices[first:last]
        values = X_b.data[first:last].astype(np.float64)  # a copy, written in place
        if column_factor is not None:
            values *= column_factor[columns]
        np.square(values, out=values)
        values *= np.repeat(h_b[a:b], np.diff(indptr[a : b + 1]))
        np.add.at(out, columns, values)
    return out


def curvature_sums(
    X_b: Any,
    P_b: FloatArray,
    w_b: FloatArray | None,
    D_W: FloatArray,
    d_b: FloatArray | None,
    *,
    fast: bool = False,
) -> FloatArray:
    """The loss Hessian times a direction, as ``[colsum(R); X_bᵀ R]`` (``hessp``'s kernel).

    With ``D = X_b D_W + d_b`` (the direction's change of the linear predictor) the
    derivative of ``w * (P - onehot(y))`` along it is
    ``R = w * P * (D - rowsum(P * D))``.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    P_b : ndarray of shape (m, K)
        The probabilities at the point of the product.
    w_b : ndarray of shape (m,), optional
    D_W : ndarray of shape (p, K)
        The direction's coefficient rows, on ``X``'s own scale.
    d_b : ndarray of shape (K,), optional
        The direction's intercepts (``None``: no intercept).
    fast : bool, default=False

    Returns
    -------
    ndarray of shape (p1, K), float64
        Additive over row blocks. One ``X_b @ D_W`` and one ``X_bᵀ R``.
    """
    D = linear_predictor(X_b, D_W, d_b, fast=fast)
    R = P_b * (D - np.einsum("ij,ij->i", P_b, D)[:, None])
    if w_b is not None:
        R *= w_b[:, None]
    return backproject(X_b, R, intercept=d_b is not None, fast=fast)
