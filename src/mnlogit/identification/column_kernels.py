"""Compiled one-read column statistics of a dense X: extremes and (class) sums per column.

The preparation reads a large dense ``X`` once for each column's largest absolute value
(the scales and the deferred finite check), its column sums and each class's column sums
(the constant part of the loss's gradient). By NumPy that read is several passes over
each row block (a maximum, a minimum, a product with ones, a one-hot product: 1M x 50,
one thread, 0.10 s); :func:`column_sums_and_extremes` makes it one pass over the rows,
each row's values compared and added while in registers (0.05 s: about the time of
``X.sum(axis=0)``).

The kernel skips NaN in the extremes (``v > high`` is false for NaN); a NaN or an
infinite value still reaches the sums, which the caller checks: when a sum is not finite
it reads ``X`` again by NumPy, whose results carry NaN and infinities exactly as
``np.abs(X).max(axis=0)`` does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.compiled import compiled

__all__ = ["column_sums_and_extremes", "load_compiled_kernels"]


@compiled
def column_sums_and_extremes(
    X: NDArray[np.float64],
    codes: NDArray[np.intp],
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    sums: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Fold rows of ``X`` into each column's largest and smallest value and its sums (each
    class's, or all rows'), in place.

    Parameters
    ----------
    X : ndarray of shape (n, p), float64, C-contiguous
    codes : ndarray of int of shape (n,) or (0,)
        Each row's class, ``0 .. K-1``; empty: every row counts in ``sums[0]``.
    high, low : ndarray of shape (p,), float64
        Running maximum and minimum (start at ``-inf`` / ``inf``); NaN is skipped.
    sums : ndarray of shape (K, p) or (1, p), float64
        Running sums of each class's rows (the column sums are their sum over classes).
    """
    n, p = X.shape
    by_class = codes.shape[0] > 0
    for i in range(n):
        row = X[i]
        acc = sums[codes[i] if by_class else 0]
        for j in range(p):
            v = row[j]
            if v > high[j]:
                high[j] = v
            if v < low[j]:
                low[j] = v
            acc[j] += v


def load_compiled_kernels() -> bool:
    """Load the kernels' machine code now (numba's on-disk cache; compiled the first
    time), rather than in the first fit whose ``X`` reaches
    :data:`mnlogit.identification.scales.COMPILED_READ_MIN_ELEMENTS` (a few milliseconds
    once per process; the first time ever, the compilation).

    For timings of steady-state fits (the benchmarks' warm-up); fits never need it.

    Returns
    -------
    bool
        Whether the kernels are compiled (numba installed).
    """
    from mnlogit.objective.compiled import HAVE_NUMBA

    if not HAVE_NUMBA:
        return False
    X = np.ones((2, 3))
    high, low = np.full(3, -np.inf), np.full(3, np.inf)
    for codes in (np.empty(0, dtype=np.intp), np.zeros(2, dtype=np.intp)):
        column_sums_and_extremes(X, codes, high, low, np.zeros((1, 3)))
    return True
