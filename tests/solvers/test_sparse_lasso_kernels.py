"""The sparse lasso's per-feature curvature kernels against the loss Hessian by its
definition (NumPy): the block Hessians ``H_j`` (gathered rows, one dot product per entry)
and the diagonal curvatures ``h[j, k]`` (one pass over a column for all classes)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import hessian_by_definition
from lasso_checks import model_centre
from mnlogit.solvers.coordinate_descent import _lasso_block, _model_curvatures


def _centre(sparse: bool, dtype, weighted: bool, n=120, p=8, K=6, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)).astype(dtype)
    if sparse:
        X[rng.random(X.shape) < 0.8] = 0.0
        X[:, 3] = 0.0  # a column without stored values
        X[5, 4] = 2.5  # and one with a single stored value
        X[np.arange(n) != 5, 4] = 0.0
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    if weighted:
        sw[::9] = 0.0  # rows of weight 0
    W0 = rng.standard_normal((p, K)) * 0.4
    b0 = rng.standard_normal(K) * 0.3
    data, X64, P, _, _ = model_centre(X, codes, K, sw, W0, b0, sparse)
    return data, X64, P


CASES = [
    (True, np.float64, False),
    (True, np.float32, True),
    (True, np.float64, True),
    (False, np.float64, True),
    (False, np.float32, False),
]


@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
def test_block_hessian_is_the_loss_hessian_of_the_feature(sparse, dtype, weighted):
    data, X64, P = _centre(sparse, dtype, weighted)
    K, p = P.shape[0], X64.shape[1]
    wP = P * data.weights
    H = np.full((K, K), np.nan)
    for j in range(p):
        _lasso_block(data.Xd, data.indptr, data.indices, data.data, data.sparse, j, wP, P, H)
        ref = hessian_by_definition(X64[:, [j]], P.T, data.weights)
        scale = max(np.abs(ref).max(), 1e-300)
        np.testing.assert_allclose(H, ref, rtol=0, atol=1e-13 * scale)
        assert np.array_equal(H, H.T)
    assert np.abs(ref).max() > 0.0  # the last column is not empty


@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
def test_diagonal_curvatures_are_the_hessian_diagonal(sparse, dtype, weighted):
    data, X64, P = _centre(sparse, dtype, weighted, seed=1)
    K, p = P.shape[0], X64.shape[1]
    features = np.array([0, 2, 3, 4, 7], dtype=np.intp)  # a subset: the others stay 0
    h, _, _, blocks, ready = _model_curvatures(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, False, True, np.zeros((0, K, K)), p,
    )  # fmt: skip
    assert blocks.shape == (features.size, K, K) and not ready.any()
    for j in range(p):
        if j in features:
            ref = np.diag(hessian_by_definition(X64[:, [j]], P.T, data.weights))
            np.testing.assert_allclose(h[j], ref, rtol=1e-13, atol=1e-300)
        else:
            assert not h[j].any()
    assert h[0].min() > 0.0


def test_lasso_row_shift_is_the_median_point_nearest_zero():
    # best_shift's no-sort exit (0 inside the median interval) against the median interval
    # from np.sort: rows with zeros, ties and signs on either side, K even and odd
    from mnlogit.solvers.coordinate_descent import best_shift

    rng = np.random.default_rng(5)
    exits = 0
    for K in (2, 3, 4, 5, 10, 11):
        for _ in range(400):
            row = rng.choice([-2.0, -1.0, 0.0, 0.0, 1.0, 3.0], K) * rng.uniform(0.5, 1.5)
            w = np.sort(row)
            expected = min(max(0.0, w[(K - 1) // 2]), w[K // 2])
            assert best_shift(row, 1.0) == expected
            exits += expected == 0.0
    assert 200 < exits < 2000  # both branches taken
