"""Float32 curvature products on sparse X, for Newton-CG's search directions.

:meth:`mnlogit.objective.MultinomialObjective.curvature_product` uses them: the two sparse
products of a Hessian-vector product, and the ``m x K`` work between them, run in float32
on a float32 copy of X's (scaled) values that shares X's index arrays (``nnz x 4`` bytes,
made once), with float32 probabilities. That halves their cost; the result agrees with the
float64 product to about 1e-6 relative, far below the relative residual (1e-4 or more) to
which conjugate gradients solve a direction. Gradients and objective values stay float64,
so the fit's optimum is the float64 one.

The copy is made in chunks of the stored values (no whole-array float64 temporaries), and
for CSR ``X`` the products may run on contiguous row ranges in Python threads
(:mod:`mnlogit.objective.sparse_threads`).

Only for CSR or CSC ``X`` with at least :data:`MIN_WORK` stored values times classes:
below that the gain is milliseconds, and float64 products keep fits that should agree to
rounding (sample weights against repeated rows, say) on the same path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.kernels import is_sparse
from mnlogit.objective.sparse_threads import csr_row_view, map_csr_row_ranges

__all__ = [
    "MIN_WORK",
    "add_diagonal_product",
    "float32_curvature_sums",
    "float32_sparse",
    "worthwhile",
]

FloatArray = NDArray[np.float64]

# Stored values times classes from which the float32 products are used: below it the
# float64 products take milliseconds (docs/solvers.md).
MIN_WORK = 2**22

# A float32 copy of sparse X is made only when every nonzero value (after column
# scaling) lies in [1e-30, 1e30]: products and sums of many terms then stay far from
# float32's overflow (3e38) and underflow (1e-38).
_FLOAT32_RANGE = (1e-30, 1e30)
# Numbers of the n x K work done per row block by the products (256 KiB of float32).
_ELEMENTWISE_BLOCK = 2**16
# Stored values converted per chunk by float32_sparse (8 MB of float64 temporaries).
_CHUNK = 2**20


def worthwhile(X: Any, n_classes: int) -> bool:
    """Whether curvature products with ``X`` should run in float32 (CSR/CSC, large)."""
    return bool(is_sparse(X) and X.format in ("csr", "csc") and X.nnz * n_classes >= MIN_WORK)


def float32_sparse(X: Any, column_factor: FloatArray | None = None) -> Any:
    """Float32 copy of a CSR or CSC matrix's values, sharing its index arrays.

    Parameters
    ----------
    X : scipy.sparse CSR or CSC matrix of shape (n, p)
    column_factor : ndarray of shape (p,), optional
        Multiply column ``j`` by ``column_factor[j]`` on the way (the objective's
        feature scaling), so the copy holds the values the solver works with.

    Returns
    -------
    CSR or CSC matrix of shape (n, p) with float32 values, or None
        None when a scaled value is not finite or outside ``[1e-30, 1e30]`` in
        magnitude: float32 products would lose it. Float32 ``X`` without
        ``column_factor`` is returned as it is. The copy shares ``X``'s index arrays:
        ``X`` must not change (its indices sorted in place, say) while it is in use.
    """
    if X.dtype == np.float32 and column_factor is None:
        return X
    # In chunks of the stored values: a whole-array float64 copy, its scaled twin and
    # its magnitudes were 120 MB of temporaries for 5 million values -- the peak of the
    # whole fit on a sparse text problem (docs/benchmarks.md, issue-sparse5).
    size = X.data.size
    out = np.empty(size, dtype=np.float32)
    columns = _stored_columns(X) if column_factor is not None else None
    low, high = _FLOAT32_RANGE
    for start in range(0, size, _CHUNK):
        stop = min(start + _CHUNK, size)
        data = np.asarray(X.data[start:stop], dtype=np.float64)
        if columns is not None:
            data = data * column_factor[columns[start:stop]]  # type: ignore[index]
        magnitude = np.abs(data)
        nonzero = magnitude[magnitude != 0]  # nan kept: its comparisons below are False
        if nonzero.size and not (low <= nonzero.min() and nonzero.max() <= high):
            return None  # also catches nan and inf: the comparisons are False
        out[start:stop] = data
    return type(X)((out, X.indices, X.indptr), shape=X.shape)


def _stored_columns(X: Any) -> Any:
    """The column of each stored value of a CSR or CSC matrix, shape ``(nnz,)``.

    CSR: its index array itself (no copy); CSC: made from ``indptr``.
    """
    if X.format == "csr":
        return X.indices
    return np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))


def float32_curvature_sums(
    X32_b: Any,
    P_b: NDArray[np.floating[Any]],
    w32_b: NDArray[np.float32] | None,
    V32: NDArray[np.float32],
    *,
    intercept: bool,
    threads: int = 1,
) -> NDArray[np.float32]:
    """The float32 twin of :func:`mnlogit.objective.kernels.curvature_sums`.

    Parameters
    ----------
    X32_b : sparse matrix of shape (m, p), float32
        From :func:`float32_sparse` (already scaled).
    P_b : ndarray of shape (m, K), float32 or float64
        The probabilities at the point of the product; float64 ones are rounded to
        float32 a row block at a time.
    w32_b : ndarray of shape (m,), float32, optional
    V32 : ndarray of shape (p1, K), float32, C-ordered
        The direction (intercepts first when ``intercept``), on the scaled features;
        callers divide it by its largest entry first (the product is linear), so its
        scale cannot overflow.
    intercept : bool
    threads : int, default=1
        For CSR ``X32_b``: contiguous row ranges run on up to this many Python threads
        (:func:`mnlogit.objective.sparse_threads.map_csr_row_ranges`; scipy's products
        release the GIL), each with its own partial sums, added in row order. One range
        gives the same numbers as the whole matrix at once.

    Returns
    -------
    ndarray of shape (p1, K), float32
        ``[colsum(R); X_bᵀ R]`` with ``R = w * P * (D - rowsum(P * D))``,
        ``D = X_b V_W + v_b``; additive over row blocks. Not checked for overflow: the
        caller checks that the result is finite.
    """
    VW = V32[int(intercept) :]
    vb = V32[0] if intercept else None

    def rows(start: int, stop: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        X_r = csr_row_view(X32_b, start, stop)
        return _range_sums(
            X_r, P_b[start:stop], None if w32_b is None else w32_b[start:stop], VW, vb
        )

    if X32_b.format == "csr":
        parts = map_csr_row_ranges(rows, X32_b, threads, V32.shape[1])
    else:
        parts = [_range_sums(X32_b, P_b, w32_b, VW, vb)]
    out = np.empty((V32.shape[0], V32.shape[1]), dtype=np.float32)
    body = out[int(intercept) :]
    for j, (colsum, XtR) in enumerate(parts):
        if j == 0:
            body[...] = XtR
            if intercept:
                out[0] = colsum
        else:
            body += XtR
            if intercept:
                out[0] += colsum
    return out


def _range_sums(
    X_r: Any,
    P_r: NDArray[np.floating[Any]],
    w_r: NDArray[np.float32] | None,
    VW: NDArray[np.float32],
    vb: NDArray[np.float32] | None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``colsum(R)`` (K,) and ``X_rᵀ R`` (p, K) of one row range (see the caller)."""
    D = np.asarray(X_r @ VW)
    if vb is not None:
        D += vb
    # R = P * (D - rowsum(P * D)), in place in D, in row blocks: the probabilities are
    # converted to float32 a block at a time (the same values as a whole-array copy,
    # without keeping an n x K float32 copy through the fit)
    step = max(1, _ELEMENTWISE_BLOCK // max(D.shape[1], 1))
    for start in range(0, D.shape[0], step):
        Db = D[start : start + step]
        Pb = np.asarray(P_r[start : start + step], dtype=np.float32)
        Db -= np.einsum("ij,ij->i", Pb, Db)[:, None]
        Db *= Pb
        if w_r is not None:
            Db *= w_r[start : start + step, None]
    colsum = np.ones(D.shape[0], dtype=np.float32) @ D
    return colsum, np.asarray(X_r.T @ D)


def add_diagonal_product(out: FloatArray, diagonal: FloatArray, v: FloatArray) -> None:
    """``out += D * v`` in place, a class at a time (no temporary the size of ``v``).

    Parameters
    ----------
    out, v : ndarray of shape (m,)
        Class-major free vectors, ``m = k1 * p1``: ``m`` can be a million (a sparse text
        problem's parameters), and the whole ``D * v`` was one more such array per
        Hessian-vector product.
    diagonal : ndarray of shape (k1, p1) or (1, p1)
        ``D`` as the free vector's ``(k1, p1)`` view, or one row shared by every class
        (a penalty the same for all classes: ``p1`` numbers kept instead of ``m``).
    """
    rows, p1 = diagonal.shape
    O = out.reshape(-1, p1)
    V = v.reshape(-1, p1)
    for k in range(O.shape[0]):
        O[k] += diagonal[k if rows > 1 else 0] * V[k]
