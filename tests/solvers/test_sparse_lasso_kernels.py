"""The sparse lasso's per-feature curvature kernels against the loss Hessian by its
definition (NumPy): the block Hessians ``H_j`` (gathered rows, one dot product per entry)
and the diagonal curvatures ``h[j, k]`` (one pass over a column for all classes)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import hessian_by_definition
from lasso_checks import model_centre
from mnlogit.solvers.coordinate_descent import (
    BLOCK_MIN_CLASSES,
    LAZY_CURVATURE,
    _inverse_weights,
    _lasso_block,
    _lasso_block_steps,
    _model_curvatures,
    _row_records,
)


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


@pytest.mark.parametrize("K", [6, 5, 3])  # (odd K: the products' padding row)
@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
def test_block_hessian_is_the_loss_hessian_of_the_feature(sparse, dtype, weighted, K):
    data, X64, P = _centre(sparse, dtype, weighted, K=K)
    p = X64.shape[1]
    wP = P * data.weights
    H = np.full((K, K), np.nan)
    # sparse X: also from the row records (w p gathered from them; wP their view)
    R = _row_records(wP, _inverse_weights(data.weights)) if sparse else np.zeros((0, 0))
    for rec, wPr in [(np.zeros((0, 0)), wP)] + ([(R, R[:, K : 2 * K].T)] if sparse else []):
        for j in range(p):
            args = (data.Xd, data.indptr, data.indices, data.data, data.sparse, j, wPr, P, H, rec)
            _lasso_block(*args)
            ref = hessian_by_definition(X64[:, [j]], P.T, data.weights)
            scale = max(np.abs(ref).max(), 1e-300)
            np.testing.assert_allclose(H, ref, rtol=0, atol=1e-13 * scale)
            assert np.array_equal(H, H.T)
        assert np.abs(ref).max() > 0.0  # the last column is not empty


@pytest.mark.parametrize("gap", [1e-9, 1e-12, 1e-14, 0.0])
@pytest.mark.parametrize("K", [2, 5])
def test_block_hessian_diagonal_where_one_class_takes_nearly_all(gap, K):
    # one class with probability 1 - gap on every row (the review of issue-slasso14): the
    # diagonal sum a (1 - p) is within a few ulps of 1 times sum a of the model's (1 - p
    # summed exactly from the other classes), from P's rows and from the row records
    # (where p is read back as (w p) (1 / w), an ulp or two from P's): the rounding of p
    # itself, not a cancellation relative to the whole sum
    rng = np.random.default_rng(int(gap * 1e15) + K)
    n = 200
    rest = rng.dirichlet(np.ones(K - 1), n).T * gap  # (K-1, n), each column sums to gap
    P = np.vstack([1.0 - rest.sum(axis=0), rest])
    w = rng.uniform(0.3, 3.0, n)
    x = rng.uniform(0.5, 2.0, n)
    indptr = np.array([0, n], dtype=np.intp)
    indices = np.arange(n, dtype=np.intp)
    wP = P * w
    R = _row_records(wP, _inverse_weights(w))
    a0 = x * x * w * P[0]
    exact = float(np.sum(a0 * rest.sum(axis=0)))
    for rec, wPr in [(np.zeros((0, 0)), wP), (R, R[:, K : 2 * K].T)]:
        H = np.full((K, K), np.nan)
        _lasso_block(np.zeros((0, 0)), indptr, indices, x, True, 0, wPr, P, H, rec)
        assert abs(H[0, 0] - exact) <= 8 * np.finfo(float).eps * a0.sum()
        if gap == 0.0 and rec.shape[0] == 0:
            assert H[0, 0] == 0.0  # 1 - P[0, i] = 0 exactly
        # the rest as by the definition (whose own 1 - p_0 rounds as the kernel's)
        ref = hessian_by_definition(x[:, None], P.T, w)
        ref[0, 0] = H[0, 0]
        np.testing.assert_allclose(H, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
def test_diagonal_curvatures_are_the_hessian_diagonal(sparse, dtype, weighted):
    data, X64, P = _centre(sparse, dtype, weighted, seed=1)
    K, p = P.shape[0], X64.shape[1]
    features = np.array([0, 2, 3, 4, 7], dtype=np.intp)  # a subset: the others stay 0
    # with the block steps (lasso_blocks) and not lazy, every curvature is computed
    h, _, _, blocks, ready = _model_curvatures(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, False, True, np.zeros((0, K, K)), p, False, np.zeros((0, K)),
    )  # fmt: skip
    assert blocks.shape == (features.size, K, K) and not ready.any()
    for j in range(p):
        if j in features:
            ref = np.diag(hessian_by_definition(X64[:, [j]], P.T, data.weights))
            np.testing.assert_allclose(h[j], ref, rtol=1e-13, atol=1e-300)
        else:
            assert not h[j].any()
    assert h[0].min() > 0.0


@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
def test_lazy_block_steps_take_the_curvatures_from_the_block_hessian(sparse, dtype, weighted):
    # lazy with the block steps: no curvature computed up front; a feature's first visit
    # that may step computes its block Hessian and takes the curvatures from its diagonal,
    # a feature whose coordinates are zero and under their thresholds computes neither
    data, X64, P = _centre(sparse, dtype, weighted, seed=2)
    K, p = P.shape[0], X64.shape[1]
    features = np.array([0, 2, 5, 7], dtype=np.intp)
    h, _, _, blocks, ready = _model_curvatures(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, False, True, np.zeros((0, K, K)), p, True, np.zeros((0, K)),
    )  # fmt: skip
    assert (h[features] == LAZY_CURVATURE).all() and not ready.any()
    wP = P * data.weights
    rng = np.random.default_rng(3)
    W = np.zeros((p, K))
    W[0] = rng.standard_normal(K)  # feature 0 nonzero: it steps
    G = np.zeros((p, K))  # feature 2: zero and its model gradient 0, under any threshold
    lam1 = np.full(p, 0.05)
    D = data.empty_predictor()
    D[:] = 0.0
    pd = np.zeros(data.n_rows)
    winv = np.where(data.weights > 0, 1.0 / np.where(data.weights > 0, data.weights, 1), 0.0)
    args = (data.Xd, data.indptr, data.indices, data.data, data.sparse)
    for t, j in enumerate(features[:2]):
        change = _lasso_block_steps(
            *args, j, False, 0.0, P, wP, G, lam1[j], 0.0, h, blocks[t], ready[t : t + 1],
            winv, W, D, pd, np.empty((3, K)), np.empty(K, dtype=np.int64), 10, 0.0,
            np.zeros((0, 0)),
        )  # fmt: skip
        if j == 0:
            assert ready[t] and change > 0.0
            H = hessian_by_definition(X64[:, [j]], P.T, data.weights)
            np.testing.assert_allclose(blocks[t], H, rtol=0, atol=1e-13 * np.abs(H).max())
            np.testing.assert_allclose(h[j], np.diag(H), rtol=1e-13, atol=1e-300)
        else:
            assert not ready[t] and change == 0.0
            assert (h[j] == LAZY_CURVATURE).all() and not W[j].any()
    assert (h[features[2:]] == LAZY_CURVATURE).all()


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


def test_sparse_and_dense_column_data_have_the_same_loss():
    # ColumnData.loss / value: the compiled pass for sparse X, NumPy for dense X
    import scipy.sparse as sp

    from mnlogit.solvers.proximal_newton import ColumnData

    rng = np.random.default_rng(9)
    n, K = 200, 5
    X = rng.standard_normal((n, 6))
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.5, 2.0, n)
    dense = ColumnData.from_arrays(X, codes, K, sw, True)
    sparse = ColumnData.from_arrays(sp.csr_matrix(X), codes, K, sw, True)
    E = rng.standard_normal((K, n)) * 2.0
    eta_d, eta_s = dense.empty_predictor(), sparse.empty_predictor()
    eta_d[:], eta_s[:] = E, E
    (ld, Pd), (ls, Ps) = dense.loss(eta_d), sparse.loss(eta_s)
    np.testing.assert_allclose(ls, ld, rtol=1e-13)
    np.testing.assert_allclose(Ps, Pd, rtol=0, atol=1e-15)
    np.testing.assert_allclose(sparse.value(eta_s), dense.value(eta_d), rtol=1e-13)
    assert Ps.strides == eta_s.strides  # the sparse layout kept


@pytest.mark.parametrize("nonzero", [1, 2])
def test_with_the_records_a_feature_of_few_classes_takes_the_block_step(nonzero):
    # with the row records, a feature with at most BLOCK_MIN_CLASSES coordinates to step
    # takes the two passes over the records and its block Hessian (not one pass per class
    # over the records' strided views); one pass over its classes is the per-class steps
    data, X64, P = _centre(True, np.float64, True, K=6, seed=4)
    K, p, n = P.shape[0], X64.shape[1], data.n_rows
    assert nonzero <= BLOCK_MIN_CLASSES
    j = 0
    wP = P * data.weights
    winv = _inverse_weights(data.weights)
    rng = np.random.default_rng(5)
    G = rng.standard_normal((p, K)) * 0.05
    W = np.zeros((p, K))
    W[j, :nonzero] = rng.standard_normal(nonzero)  # only these are stepped (only_nonzero)
    args = (data.Xd, data.indptr, data.indices, data.data, True)
    order = np.empty(K, dtype=np.int64)
    # per class, the separate arrays (no records)
    Wa, Da, pda, ha = W.copy(), np.zeros((K, n)), np.zeros(n), np.full((p, K), LAZY_CURVATURE)
    ready_a = np.zeros(1, dtype=np.bool_)
    big_a = _lasso_block_steps(
        *args, j, True, 0.0, P, wP, G, 0.01, 0.0, ha, np.empty((K, K)), ready_a, winv, Wa,
        Da, pda, np.empty((3, K)), order, 1, 0.0, np.zeros((0, 0)),
    )  # fmt: skip
    assert not ready_a[0]  # (the per-class steps: no block Hessian)
    R = _row_records(wP, winv)
    Dr, pdr = R[:, :K].T, R[:, 2 * K]
    Wb, hb, Hb = W.copy(), np.full((p, K), LAZY_CURVATURE), np.empty((K, K))
    ready_b = np.zeros(1, dtype=np.bool_)
    big_b = _lasso_block_steps(
        *args, j, True, 0.0, P, R[:, K : 2 * K].T, G, 0.01, 0.0, hb, Hb, ready_b,
        R[:, 2 * K + 1], Wb, Dr, pdr, np.empty((3, K)), order, 1, 0.0, R,
    )  # fmt: skip
    assert ready_b[0]  # the block step: its block Hessian computed
    H = hessian_by_definition(X64[:, [j]], P.T, data.weights)
    np.testing.assert_allclose(Hb, H, rtol=0, atol=1e-13 * np.abs(H).max())
    assert big_a > 0.0 and big_b == pytest.approx(big_a, rel=1e-10)
    np.testing.assert_allclose(Wb, Wa, rtol=0, atol=1e-12)
    assert (Wb[j, nonzero:] == 0.0).all()
    np.testing.assert_allclose(Dr, Da, rtol=0, atol=1e-12)
    used = data.weights > 0
    np.testing.assert_allclose(pdr[used], pda[used], rtol=0, atol=1e-12)
