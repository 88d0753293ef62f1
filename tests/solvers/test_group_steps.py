"""The grouped lasso's inner solver on dense X (issue 14, issue-group7): its compiled column
kernels against numpy, its iterates against the same solver on the sparse (CSC) copy of the
data (whose kernels loop over a row's classes), and its minimizer of the quadratic model on
the model's optimality conditions computed here in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.special import softmax

from lasso_checks import model_centre
from mnlogit.solvers.coordinate_descent import (
    _block_gradient,
    _block_move,
    _dense_group_gradient,
    _dense_group_move,
    block_hessians,
    cd_quadratic,
)


def _problem(sparse: bool, dtype: Any, weighted: bool, seed: int = 0, n=120, p=8, K=4):
    """A model centre ``(W0, b0)`` with its probabilities and loss gradient."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)).astype(dtype)
    X[rng.random(X.shape) < 0.3] = 0.0
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.3, 2.0, n) if weighted else None
    W0 = np.where(rng.random((p, 1)) < 0.5, rng.standard_normal((p, K)) * 0.3, 0.0)
    b0 = rng.standard_normal(K) * 0.3
    data, X64, P, G, g0 = model_centre(X, codes, K, sw, W0, b0, sparse)
    return data, X64, W0, b0, P, G, g0


def _inner(data, P, G, g0, W0, b0, lam1, lam2, tol, max_sweeps, blocks: bool):
    """The group's ``cd_quadratic`` from the centre; returns ``(W, b, D, sweeps)``. With
    ``blocks`` (dense float64 X) the block Hessians come from :func:`block_hessians`, as
    the solver passes them."""
    K = data.n_classes
    W, b = W0.copy(), b0.copy()
    D = data.empty_predictor()
    D[:] = 0.0
    features = np.arange(W.shape[0], dtype=np.intp)
    wP = P * data.weights
    curvatures = block_hessians(data.Xd, features, wP, P) if blocks else np.zeros((0, K, K))
    sweeps, _ = cd_quadratic(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, wP, G, g0, True, lam1, lam2, True, 0, curvatures,
        data.rms, W, b, D, tol, max_sweeps, False, data.empty_predictor(), np.zeros((0, K)),
    )  # fmt: skip
    return W, b, np.asarray(D), int(sweeps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_group_kernels_equal_numpy_and_the_row_wise_kernels(dtype):
    rng = np.random.default_rng(1)
    n, p, K = 53, 4, 5
    X = np.asfortranarray(rng.standard_normal((n, p)).astype(dtype))
    X64 = X.astype(np.float64)
    P = softmax(rng.standard_normal((K, n)), axis=0)
    wP = P * rng.uniform(0.1, 1.0, n)
    D = rng.standard_normal((K, n))
    pd = (P * D).sum(axis=0)
    empty_i, empty_f = np.zeros(1, dtype=np.int32), np.zeros(0, dtype=dtype)
    out, ref = np.empty(K), np.empty(K)
    for j in range(p):
        _dense_group_gradient(X, j, wP, D, pd, out)
        expected = (wP * (D - pd) * X64[:, j]).sum(axis=1)
        np.testing.assert_allclose(out, expected, rtol=1e-11, atol=1e-14)
        _block_gradient(X, empty_i, empty_i, empty_f, False, j, wP, D, pd, ref)
        np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-14)
    steps = np.array([0.3, 0.0, -1.2, 0.5, 2.0])
    D1, pd1 = D.copy(), pd.copy()
    _dense_group_move(X, 2, steps, P, D1, pd1)
    move = np.outer(steps, X64[:, 2])
    np.testing.assert_allclose(D1, D + move, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(pd1, pd + (P * move).sum(axis=0), rtol=1e-12, atol=1e-14)
    D2, pd2 = D.copy(), pd.copy()
    _block_move(X, empty_i, empty_i, empty_f, False, 2, steps, P, D2, pd2)
    np.testing.assert_allclose(D1, D2, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(pd1, pd2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("dtype", "weighted"), [(np.float64, False), (np.float64, True), (np.float32, True)]
)
def test_dense_group_iterates_equal_the_sparse_ones(dtype, weighted):
    """The same cyclic block steps on dense X and on its CSC copy after 1, 2, 3 and 5 sweeps
    (dense float64 with its BLAS block Hessians, float32 with the compiled ones)."""
    dense = _problem(False, dtype, weighted)
    sparse = _problem(True, dtype, weighted)
    data, _, W0, b0, P, G, g0 = dense
    sdata, _, _, _, sP, sG, sg0 = sparse
    p = W0.shape[0]
    lam1 = np.full(p, 0.02)
    lam1[1] = 0.0  # an unpenalized feature
    lam2 = np.full(p, 0.01)
    for sweeps in (1, 2, 3, 5):
        W, b, D, done = _inner(data, P, G, g0, W0, b0, lam1, lam2, 0.0, sweeps, dtype == np.float64)
        sW, sb, sD, sdone = _inner(sdata, sP, sG, sg0, W0, b0, lam1, lam2, 0.0, sweeps, False)
        assert done == sdone == sweeps
        np.testing.assert_allclose(W, sW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b, sb, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(D, sD, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("dtype", "weighted"), [(np.float64, True), (np.float32, False)])
def test_dense_group_inner_solve_minimizes_the_model(dtype, weighted):
    """At the inner solve's end the quadratic model plus the group penalty is stationary:
    for each feature the distance from minus its model gradient to ``lam1``'s
    subdifferential, and the intercepts' gradient, are near 0 (numpy, from the definition)."""
    data, X64, W0, b0, P, G, g0 = _problem(False, dtype, weighted, seed=3)
    p = W0.shape[0]
    lam1 = np.full(p, 0.06)
    lam2 = np.zeros(p)
    W, b, D, _ = _inner(data, P, G, g0, W0, b0, lam1, lam2, 1e-12, 10_000, dtype == np.float64)
    d = X64 @ (W - W0) + (b - b0)
    np.testing.assert_allclose(D, d.T, rtol=1e-9, atol=1e-11)
    Pt = P.T
    R = data.weights[:, None] * Pt * (d - (Pt * d).sum(axis=1, keepdims=True))
    grad = G + X64.T @ R
    assert np.abs(g0 + R.sum(axis=0)).max() < 1e-10
    moved = 0
    for j in range(p):
        norm = np.linalg.norm(W[j])
        if norm > 0:
            moved += 1
            assert np.linalg.norm(grad[j] + lam1[j] * W[j] / norm) < 1e-9
        else:
            assert np.linalg.norm(grad[j]) <= lam1[j] + 1e-12
    assert 0 < moved < p
