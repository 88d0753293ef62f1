"""Working precision: float32 data fitted with float32 products, finished in float64.

A float32 ``X`` is never converted as a whole. Solvers first iterate on float32 BLAS
products (half the memory traffic) down to :data:`FLOAT32_TOL`, then the objective
switches to exact mode -- float64 products of row chunks converted on the fly
(:func:`float64_product`) -- and the same solver finishes to the requested ``tol``
(:func:`solve_in_precision`). See docs/solvers.md, "float32 data".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.solvers import SolverOptions

__all__ = [
    "FLOAT32_TOL",
    "VALIDATE_DTYPES",
    "float32_sparse",
    "float64_product",
    "row_chunks",
    "solve_in_precision",
]

FloatArray = NDArray[np.float64]

# validate_data's dtype for each value of the estimator's dtype parameter: None keeps
# float32 (and float64) X as it is.
VALIDATE_DTYPES: dict[str | None, Any] = {
    None: (np.float64, np.float32),
    "float32": np.float32,
    "float64": np.float64,
}

# With float32 X the solver first iterates on float32 products down to this tolerance,
# then finishes in float64. The float32 gradient's error was measured at 2e-9 to 5e-9
# at the optimum of the benchmark problems (docs/solvers.md), so 1e-6 is safely above
# its floor.
FLOAT32_TOL = 1e-6

# Numbers of X per converted row chunk (2 MiB in float64).
CHUNK_ELEMENTS = 2**18


def row_chunks(n_rows: int, n_cols: int, elements: int = CHUNK_ELEMENTS) -> list[slice]:
    """Row slices of about ``elements`` numbers each (at least one row)."""
    step = max(1, elements // max(n_cols, 1))
    return [slice(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def float64_product(
    X: Any, W: FloatArray, out: FloatArray | None = None, elements: int = CHUNK_ELEMENTS
) -> FloatArray:
    """``X @ W`` in float64, into ``out`` when given, never copying ``X`` whole.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        A dense float32 ``X`` is converted ``elements`` numbers at a time.
    W : ndarray of shape (p, K)
    out : ndarray of shape (n, K), optional

    Returns
    -------
    ndarray of shape (n, K)
    """
    if out is None:
        out = np.empty((X.shape[0], W.shape[1]))
    if not isinstance(X, np.ndarray):  # sparse (or another matrix type)
        M: Any = X
        out[...] = M @ W
    elif X.dtype == np.float64:
        np.matmul(X, W, out=out)
    else:
        for sl in row_chunks(X.shape[0], X.shape[1], elements):
            np.matmul(X[sl].astype(np.float64), W, out=out[sl])
    return out


# A float32 copy of sparse X is made only when every nonzero value (after column
# scaling) lies in [1e-30, 1e30]: products and sums of many terms then stay far from
# float32's overflow (3e38) and underflow (1e-38).
_FLOAT32_RANGE = (1e-30, 1e30)


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
        magnitude: float32 products would lose it.
    """
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


def solve_in_precision(solve: Any, obj: Any, x0: FloatArray, options: SolverOptions) -> Any:
    """Run ``solve``; for float32 X in two phases, float32 products then float64 ones.

    The second phase starts where the first ended, with the first result's ``state``
    when the solver returned one (``subsample-newton``: its preconditioner and pairs,
    so no second warm start). ``max_iter`` bounds both phases together; the returned
    result counts the iterations of both and concatenates their histories.
    """
    if not getattr(obj, "low_precision", False):
        return solve(obj, x0, options)
    fast = replace(options, tol=max(options.tol, FLOAT32_TOL), stop_on_stall=True)
    first = solve(obj, x0, fast)
    obj.set_exact(True)
    offset = first.n_iter
    rest = replace(options, max_iter=max(options.max_iter - offset, 0))
    if first.state is not None:
        second = solve(obj, first.x, rest, state=first.state)
    else:
        second = solve(obj, first.x, rest)
    tail = [replace(rec, iteration=rec.iteration + offset) for rec in second.history[1:]]
    second.history = list(first.history) + tail
    total = second.n_iter + offset
    second.message = second.message.replace(
        f"after {second.n_iter} iterations",
        f"after {total} iterations ({offset} on float32 products)",
    )
    if not second.converged and options.max_iter - offset <= 0:
        second.message = (
            f"did not converge: reached max_iter={options.max_iter} "
            f"({offset} iterations on float32 products)"
        )
    second.n_iter = total
    return second
