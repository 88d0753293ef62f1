"""The compiled kernels' local array (:mod:`mnlogit.solvers.local_array`): ``LOCAL_DOUBLES``
float64 values in the calling kernel's stack frame, writable and readable like any array,
fresh in each call (a kernel called in a loop, or two in one kernel, do not share it), and
never the memory of an argument."""

from __future__ import annotations

import numpy as np

from mnlogit.objective.compiled import compiled
from mnlogit.solvers.local_array import LOCAL_DOUBLES, local_doubles


@compiled
def _weighted_column_sums(A, rows, out):  # type: ignore[no-untyped-def]
    """``out[k] = sum_t (t + 1) A[rows[t], k]`` summed in a local array, copied out."""
    acc = local_doubles()
    K = out.shape[0]
    for k in range(K):
        acc[k] = 0.0
    for t in range(rows.shape[0]):
        row = A[rows[t]]
        for k in range(K):
            acc[k] += (t + 1) * row[k]
    for k in range(K):
        out[k] = acc[k]
    return acc.shape[0]


@compiled
def _twice(A, rows, out):  # type: ignore[no-untyped-def]
    """Two local arrays in one kernel (and one in each callee): independent memory."""
    first = local_doubles()
    second = local_doubles()
    for k in range(LOCAL_DOUBLES):
        first[k] = 1.0 * k
        second[k] = -1.0
    total = 0.0
    for t in range(out.shape[0]):
        _weighted_column_sums(A, rows[t : t + 1], out[t])
        total += out[t, 0]
    for k in range(LOCAL_DOUBLES):
        total += first[k] + second[k]
    return total


def test_local_sums_equal_numpy_for_every_width_up_to_the_room():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, LOCAL_DOUBLES))
    rows = rng.integers(0, 40, 25)
    scale = np.arange(1, 26, dtype=float)
    for K in range(1, LOCAL_DOUBLES + 1):
        before = A.copy()
        out = np.full(K, np.nan)
        assert _weighted_column_sums(A, rows, out) == LOCAL_DOUBLES
        np.testing.assert_allclose(out, scale @ A[rows, :K], rtol=1e-13, atol=1e-13)
        np.testing.assert_array_equal(A, before)


def test_local_arrays_are_separate_within_and_across_calls():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 6))
    rows = rng.integers(0, 30, 8)
    out = np.full((8, 6), np.nan)
    total = _twice(A, rows, out)
    np.testing.assert_array_equal(out, A[rows])  # one row each, weight 1: no sums carried
    ramp = sum(range(LOCAL_DOUBLES)) - LOCAL_DOUBLES
    assert np.isclose(total, A[rows, 0].sum() + ramp, rtol=1e-13, atol=1e-13)


def test_the_gradient_pass_never_indexes_past_the_local_room():
    # the review of issue-slasso14b: _record_gradient must hand K > LOCAL_DOUBLES classes
    # to its fallback; compiled again with bounds checks, a wrong threshold raises
    # IndexError on the local array instead of silently writing past it on the stack
    import numba
    import scipy.sparse as sp

    from mnlogit.solvers.coordinate_descent import _record_gradient, _record_width

    checked = numba.njit(boundscheck=True)(_record_gradient.py_func)
    rng = np.random.default_rng(2)
    n = 30
    X = sp.random(n, 3, density=0.5, format="csc", random_state=3)
    for K in (LOCAL_DOUBLES - 1, LOCAL_DOUBLES, LOCAL_DOUBLES + 1, LOCAL_DOUBLES + 4):
        R = rng.standard_normal((n, _record_width(K)))
        for j in range(3):
            lo, hi = X.indptr[j], X.indptr[j + 1]
            rows, x = X.indices[lo:hi], X.data[lo:hi]
            expected = (x[:, None] * R[rows, K : 2 * K] * (R[rows, :K] - R[rows, 2 * K, None])).sum(
                axis=0
            )
            out = np.full(K, np.nan)
            checked(X.indptr, X.indices, X.data, j, R, out)
            np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
