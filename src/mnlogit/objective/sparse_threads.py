"""Row ranges of CSR matrices for Python threads: zero-copy views and their split.

scipy's sparse products (``csr_matvecs``, ``csc_matvecs``) release the GIL, so the two
products of a sparse Hessian-vector product can run on contiguous row ranges in
Python threads, each with its own partial sum, as the dense kernels do
(:mod:`mnlogit.objective.threads`). A row range of a CSR matrix is a view: its values
and column indices are slices of the matrix's own (``X[a:b]`` would copy them, as much
memory as ``X`` over all ranges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from mnlogit.objective.threads import map_row_ranges

__all__ = ["MIN_RANGE_WORK", "csr_row_view", "map_csr_row_ranges"]

T = TypeVar("T")

#: Stored values times columns of the dense operand below which a range is not split
#: further: a product of that size takes about a millisecond, a thread's start-up a
#: fraction of one.
MIN_RANGE_WORK = 2**21


def csr_row_view(X: Any, start: int, stop: int) -> Any:
    """Rows ``start .. stop - 1`` of a CSR matrix, sharing its values and indices.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array of shape (n, p)
    start, stop : int
        ``0 <= start <= stop <= n``.

    Returns
    -------
    CSR matrix of shape (stop - start, p), of X's dtype
        Its ``data`` and ``indices`` are views of X's; only ``indptr`` (``stop - start + 1``
        integers) is new. X must not change while it is in use.
    """
    if start == 0 and stop == X.shape[0]:
        return X
    indptr = X.indptr[start : stop + 1]
    first, last = int(indptr[0]), int(indptr[-1])
    # Made empty, then given its arrays: the constructor's format check copies a view
    # of less than half of its base array (scipy's _prune_array), which is the point
    # of a view here.
    view = sp.csr_matrix((stop - start, X.shape[1]), dtype=X.dtype)
    view.indptr = indptr - indptr[0]
    view.indices = X.indices[first:last]
    view.data = X.data[first:last]
    view.has_sorted_indices = False  # not known without a pass; products do not need it
    return view


def map_csr_row_ranges(
    work: Callable[[int, int], T], X: Any, threads: int, n_columns: int
) -> list[T]:
    """``work(start, stop)`` over at most ``threads`` contiguous row ranges of CSR ``X``.

    Parameters
    ----------
    work : callable ``(start, stop) -> partial``
        Safe to run concurrently on disjoint ranges (its own buffers).
    X : scipy.sparse CSR matrix of shape (n, p)
    threads : int
        Upper bound on the ranges (and Python threads).
    n_columns : int
        Columns of the dense operand the products multiply (``K``): with X's stored
        values, the work of a range, which must reach :data:`MIN_RANGE_WORK`.

    Returns
    -------
    list
        The partials in row order; one call in this thread when one range
        (:func:`mnlogit.objective.threads.map_row_ranges` with the fewest rows that
        reach :data:`MIN_RANGE_WORK`).
    """
    n = int(X.shape[0])
    per_row = max(X.nnz * max(n_columns, 1) / max(n, 1), 1e-300)
    return map_row_ranges(work, n, threads, int(np.ceil(MIN_RANGE_WORK / per_row)))
