"""The compiled software prefetch (:mod:`mnlogit.solvers.prefetch`): a hint that changes no
value, callable from compiled kernels on any row and line of a C-contiguous array (with
numba an LLVM intrinsic; without it a Python no-op)."""

from __future__ import annotations

import numpy as np

from mnlogit.objective.compiled import compiled
from mnlogit.solvers.prefetch import prefetch


@compiled
def _prefetched_sum(R, rows):  # type: ignore[no-untyped-def]
    """Prefetch every line of the given rows of ``R``, then sum those rows."""
    total = 0.0
    for t in range(rows.shape[0]):
        for c in range(0, R.shape[1], 8):
            prefetch(R, rows[t], c)
    for t in range(rows.shape[0]):
        for c in range(R.shape[1]):
            total += R[rows[t], c]
    return total


def test_prefetch_changes_nothing_and_compiles_for_int32_and_int64_rows():
    rng = np.random.default_rng(0)
    R = rng.standard_normal((50, 24))
    before = R.copy()
    for dtype in (np.int32, np.int64):
        rows = np.array([0, 49, 7, 7, 31], dtype=dtype)  # first, last, repeated
        got = _prefetched_sum(R, rows)
        assert np.isclose(got, R[rows.astype(np.intp)].sum(), rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(R, before)
