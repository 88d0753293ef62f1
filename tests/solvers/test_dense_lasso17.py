"""The dense lasso's kernels after issue-dense17 (docs/penalties.md, "Nineteenth pass"):
``coordinate_descent.dense_products`` with its tile of eight columns and two classes
against NumPy, for even and odd ``K`` (an odd ``K``'s last class takes the one-class
loop), a column count not a multiple of the tile, float32 and float64 X in either memory
order, and rows whose weight (so whose ``M`` column) is zero; the dense loss's two
compiled passes (``dense_shifted``, ``dense_softmax_finish``) against scipy's
``logsumexp`` and ``softmax``, with and without a step, with probabilities that underflow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from mnlogit.solvers.coordinate_descent import (
    PRODUCT_COLUMNS,
    PRODUCT_ROWS,
    dense_products,
    dense_shifted,
    dense_softmax_finish,
)


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 7])
def test_dense_products_tile_equals_numpy(K, dtype, order):
    rng = np.random.default_rng(K)
    n, p = 2 * PRODUCT_ROWS + 77, 3 * PRODUCT_COLUMNS + 5
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)).astype(dtype)
    X = np.asarray(X, order=order)
    M = rng.standard_normal((K, n))
    M[:, rng.random(n) < 0.2] = 0.0  # rows of weight zero
    ref = X.astype(np.float64).T @ M.T
    for features in (
        np.arange(p),  # three full tiles and five columns left over
        rng.permutation(p)[: 2 * PRODUCT_COLUMNS + 1],  # any order
        rng.permutation(p)[:PRODUCT_COLUMNS],  # exactly one tile
        np.array([p - 1]),
        np.zeros(0, int),
    ):
        features = features.astype(np.intp)
        out = np.full((p, K), np.nan)
        dense_products(X, features, M, out)
        np.testing.assert_allclose(out[features], ref[features], rtol=1e-12, atol=1e-12)
        rest = np.setdiff1d(np.arange(p), features)
        assert np.isnan(out[rest]).all()  # the columns not asked for are left alone


def test_dense_products_sums_each_class_apart():
    # a wrong class index in the tile (k and k + 1 swapped, or the odd class skipped) gives
    # a different column here: each class of M is a different multiple of one vector
    rng = np.random.default_rng(7)
    n, p, K = 600, 11, 5
    X = np.asfortranarray(rng.standard_normal((n, p)))
    base = rng.standard_normal(n)
    M = np.vstack([(k + 1.0) * base for k in range(K)])
    out = np.zeros((p, K))
    dense_products(X, np.arange(p, dtype=np.intp), M, out)
    np.testing.assert_allclose(out / out[:, :1], np.tile(np.arange(1.0, K + 1), (p, 1)), rtol=1e-12)


@pytest.mark.parametrize("step", [False, True])
@pytest.mark.parametrize("K", [2, 5])
def test_dense_loss_passes_equal_scipy(K, step):
    rng = np.random.default_rng(10 + K)
    n = 1_037
    eta = 300.0 * rng.standard_normal((K, n))  # some exp(eta - max) underflow to 0
    D = 3.0 * rng.standard_normal((K, n)) if step else np.zeros((0, 0))
    t = 0.375
    codes = rng.integers(0, K, n)
    w = rng.uniform(0.2, 3.0, n)
    w[rng.random(n) < 0.1] = 0.0
    w /= w.sum()
    expected = eta + t * D if step else eta
    point = np.full((K, n), np.nan)
    Z, top = np.empty((K, n)), np.empty(n)
    dense_shifted(eta, D, t, point, Z, top)
    if step:  # (one rounding or two: a fused multiply-add is allowed)
        np.testing.assert_allclose(point, expected, rtol=1e-15, atol=1e-15)
    else:
        assert np.isnan(point).all()  # (no step: the point is eta itself, not copied)
        point = eta
    np.testing.assert_array_equal(top, point.max(axis=0))
    np.testing.assert_array_equal(Z, point - point.max(axis=0))
    with np.errstate(under="ignore"):
        np.exp(Z, out=Z)
    total = Z.sum(axis=0)
    wP, M, g0 = np.empty((K, n)), np.empty((K, n)), np.empty(K)
    loss = dense_softmax_finish(point, top, total, np.log(total), w, codes, Z, wP, M, g0)
    P = softmax(point, axis=0)  # (the definitions at the point the pass reports)
    Y = np.zeros((K, n))
    Y[codes, np.arange(n)] = 1.0
    nll = logsumexp(point, axis=0) - point[codes, np.arange(n)]
    assert loss == pytest.approx(float(w @ nll), rel=1e-13)
    np.testing.assert_allclose(Z, P, rtol=1e-14, atol=1e-300)
    assert (Z == 0.0).any()
    np.testing.assert_allclose(wP, w * P, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(M, w * (P - Y), rtol=1e-14, atol=1e-18)
    np.testing.assert_allclose(g0, (w * (P - Y)).sum(axis=1), rtol=1e-12, atol=1e-16)
