"""Float32 curvature products on sparse X, for Newton-CG's search directions.

:meth:`mnlogit.objective.MultinomialObjective.curvature_product` uses them: the two sparse
products of a Hessian-vector product, and the ``m x K`` work between them, run in float32
on a float32 copy of X's (scaled) values that shares X's index arrays (``nnz x 4`` bytes,
made once), with float32 probabilities. That halves their cost; the result agrees with the
float64 product to about 1e-6 relative, far below the relative residual (1e-4 or more) to
which conjugate gradients solve a direction. Gradients and objective values stay float64,
so the fit's optimum is the float64 one.

Only for CSR or CSC ``X`` with at least :data:`MIN_WORK` stored values times classes:
below that the gain is milliseconds, and float64 products keep fits that should agree to
rounding (sample weights against repeated rows, say) on the same path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.kernels import is_sparse

__all__ = ["MIN_WORK", "float32_curvature_sums", "float32_sparse", "worthwhile"]

FloatArray = NDArray[np.float64]

# Stored values times classes from which the float32 products are used: below it the
# float64 products take milliseconds (docs/solvers.md).
MIN_WORK = 2**22

# A float32 copy of sparse X is made only when every nonzero value (after column
# scaling) lies in [1e-30, 1e30]: products and sums of many terms then stay far from
# float32's overflow (3e38) and underflow (1e-38).
_FLOAT32_RANGE = (1e-30, 1e30)


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
    data = np.asarray(X.data, dtype=np.float64)
    if column_factor is not None:
        if X.format == "csr":
            columns = X.indices
        else:
            columns = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
        data = data * column_factor[columns]
    magnitude = np.abs(data)
    nonzero = magnitude[magnitude > 0]
    low, high = _FLOAT32_RANGE
    if nonzero.size and not (low <= nonzero.min() and nonzero.max() <= high):
        return None  # also catches nan and inf: the comparisons are False
    return type(X)((data.astype(np.float32), X.indices, X.indptr), shape=X.shape)


def float32_curvature_sums(
    X32_b: Any,
    P32_b: NDArray[np.float32],
    w32_b: NDArray[np.float32] | None,
    V32: NDArray[np.float32],
    *,
    intercept: bool,
) -> NDArray[np.float32]:
    """The float32 twin of :func:`mnlogit.objective.kernels.curvature_sums`.

    Parameters
    ----------
    X32_b : sparse matrix of shape (m, p), float32
        From :func:`float32_sparse` (already scaled).
    P32_b : ndarray of shape (m, K), float32
        The probabilities at the point of the product.
    w32_b : ndarray of shape (m,), float32, optional
    V32 : ndarray of shape (p1, K), float32, C-ordered
        The direction (intercepts first when ``intercept``), on the scaled features;
        callers divide it by its largest entry first (the product is linear), so its
        scale cannot overflow.
    intercept : bool

    Returns
    -------
    ndarray of shape (p1, K), float32
        ``[colsum(R); X_bᵀ R]`` with ``R = w * P * (D - rowsum(P * D))``,
        ``D = X_b V_W + v_b``; additive over row blocks. Not checked for overflow: the
        caller checks that the result is finite.
    """
    D = np.asarray(X32_b @ V32[int(intercept) :])
    if intercept:
        D += V32[0]
    # R = P * (D - rowsum(P * D)), in place in D
    D -= np.einsum("ij,ij->i", P32_b, D)[:, None]
    D *= P32_b
    if w32_b is not None:
        D *= w32_b[:, None]
    XtR = np.asarray(X32_b.T @ D)
    if intercept:
        XtR = np.vstack([np.ones(D.shape[0], dtype=np.float32) @ D, XtR])
    return XtR
