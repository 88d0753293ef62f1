"""The lasso's first sweep of an inner solve skips the zero coordinates whose gradient at the
model's centre is below ``FIRST_SWEEP_SCREEN * lam1``; the full sweeps after it look at all,
so a skipped coordinate that the minimizer needs still enters. Checked on the optimality
conditions of the quadratic model computed here in numpy, dense and sparse, float32 and
float64, per-class and block steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from mnlogit.solvers.coordinate_descent import FIRST_SWEEP_SCREEN, cd_quadratic
from mnlogit.solvers.proximal_newton import ColumnData


def _model(sparse: bool, dtype: Any, n: int = 200, K: int = 4, seed: int = 0):
    """A model centre at 0 where feature 1 (correlated with feature 0) starts below the
    screen's threshold and must enter once feature 0 moves."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(n)
    X = np.column_stack([x0, 0.7 * (rng.standard_normal(n) - x0), rng.standard_normal((n, 3))])
    X = X.astype(dtype)
    if sparse:
        X[rng.random(X.shape) < 0.3] = 0.0
    Xs: Any = sp.csr_matrix(X) if sparse else X
    codes = rng.integers(0, K, n)
    data = ColumnData.from_arrays(Xs, codes, K, None, True)
    X64 = np.asarray(X, dtype=np.float64)
    p = X.shape[1]
    P = data.empty_predictor()
    P[:] = softmax(np.tile(rng.standard_normal(K) * 0.3, (n, 1)), axis=1).T
    lam1 = np.full(p, 0.01)
    G = np.zeros((p, K))
    G[0, 1] = -0.05  # feature 0, class 1: moves up at once
    G[1, 1] = -0.5 * lam1[1]  # feature 1 (about -0.7 x0): skipped by the first sweep
    G -= G.mean(axis=1, keepdims=True)  # a softmax gradient: each row sums to 0
    return data, X64, P, G, lam1


def _solve(data, P, G, lam1, blocks):
    K = data.n_classes
    p = G.shape[0]
    W, b = np.zeros((p, K)), np.zeros(K)
    D = data.empty_predictor()
    D[:] = 0.0
    features = np.arange(p, dtype=np.intp)
    sweeps, _ = cd_quadratic(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, P * data.weights, G, np.zeros(K), True, lam1, np.zeros(p), False, blocks,
        np.zeros((0, K, K)), data.rms, W, b, D, 1e-13, 10_000, False, data.empty_predictor(),
        np.zeros((0, K)),
    )  # fmt: skip
    return W, b, int(sweeps)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("blocks", [0, 1, 10])
def test_a_screened_coordinate_the_minimizer_needs_still_enters(sparse, dtype, blocks):
    data, X64, P, G, lam1 = _model(sparse, dtype)
    assert abs(G[1, 1]) < FIRST_SWEEP_SCREEN * lam1[1]  # skipped by the first sweep
    W, b, sweeps = _solve(data, P, G, lam1, blocks)
    assert sweeps < 10_000
    # optimality of q + penalty, its gradient from the exact softmax Hessian at the centre
    w = data.weights
    Dn = X64 @ W + b
    Pn = P.T
    HD = w[:, None] * Pn * (Dn - (Pn * Dn).sum(axis=1, keepdims=True))
    grad = G + X64.T @ HD
    np.testing.assert_allclose(HD.sum(axis=0), 0.0, atol=1e-10)
    nz = W != 0
    scale = data.rms[:, None]
    assert np.abs(((grad + lam1[:, None] * np.sign(W)) / scale)[nz]).max() <= 1e-10
    assert ((np.abs(grad) - lam1[:, None]) / scale)[~nz].max() <= 1e-10
    assert W[0, 1] != 0.0 and W[1, 1] != 0.0  # the skipped coordinate entered
