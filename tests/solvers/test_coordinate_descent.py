"""The compiled kernels of the lasso-family solver, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mnlogit.solvers.coordinate_descent import linear_predictor
from mnlogit.solvers.proximal_newton import ColumnData


@pytest.mark.parametrize("a", [0.0, 0.3, 0.8, 1.0])
def testbest_shift_minimizes_the_row_penalty(a):
    from mnlogit.solvers.coordinate_descent import best_shift

    rng = np.random.default_rng(int(a * 10))
    for K in (2, 3, 4, 7):
        row = rng.standard_normal(K)
        row[: K // 3] = 0.0
        grid = np.linspace(row.min() - 1, row.max() + 1, 200001)
        pen = a * np.abs(row[:, None] - grid).sum(0) + 0.5 * (1 - a) * (
            (row[:, None] - grid) ** 2
        ).sum(0)
        c = best_shift(row, a)
        value = a * np.abs(row - c).sum() + 0.5 * (1 - a) * ((row - c) ** 2).sum()
        assert value <= pen.min() + 1e-9


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_kernels_match_numpy(sparse, dtype):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 6)).astype(dtype)
    X[rng.random(X.shape) < 0.5] = 0
    Xs = sp.csr_matrix(X) if sparse else X
    data = ColumnData.from_arrays(Xs, rng.integers(0, 3, 40), 3, None, True)
    args = (data.Xd, data.indptr, data.indices, data.data, data.sparse)
    W, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    eta = np.empty((3, 40))
    linear_predictor(*args, np.arange(6), W, b, eta)
    np.testing.assert_allclose(eta, (X.astype(np.float64) @ W + b).T, rtol=1e-12)
    rms = np.sqrt((X.astype(np.float64) ** 2).mean(axis=0))
    np.testing.assert_allclose(data.rms, np.where(rms > 0, rms, 1.0), rtol=1e-12)


def test_block_hessians_match_the_softmax_hessian_of_each_column():
    """The BLAS block Hessians (chunked over rows) against the definition, row by row."""
    from mnlogit.solvers.coordinate_descent import block_hessians

    rng = np.random.default_rng(5)
    n, p, K = 37, 5, 4
    X = np.asfortranarray(rng.standard_normal((n, p)))
    w = rng.random(n)
    w /= w.sum()
    E = rng.standard_normal((K, n))
    P = np.exp(E) / np.exp(E).sum(axis=0)
    features = np.array([4, 0, 2], dtype=np.intp)
    H = block_hessians(X, features, P * w, P, rows=10)  # 4 chunks, the last one short
    for t, j in enumerate(features):
        expected = sum(
            w[i] * X[i, j] ** 2 * (np.diag(P[:, i]) - np.outer(P[:, i], P[:, i])) for i in range(n)
        )
        np.testing.assert_allclose(H[t], expected, rtol=1e-12, atol=1e-15)
