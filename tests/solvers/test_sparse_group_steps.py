"""One block step of the grouped lasso's inner solver on sparse and dense X (issue 14,
issue-group10: the step computed in the block Hessian's eigenbasis) against the block's
optimality conditions computed here in NumPy, with the maintained predictor change
checked against its definition."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lasso_checks import model_centre
from mnlogit.solvers.coordinate_descent import _group_step


def _state(sparse: bool, dtype: Any, seed: int = 0, n=150, p=6, K=5):
    """A model centre and a predictor change from a move of feature 0."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)).astype(dtype)
    X[rng.random(X.shape) < 0.6] = 0.0
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.3, 2.0, n)
    W0 = rng.standard_normal((p, K)) * 0.2
    b0 = rng.standard_normal(K) * 0.3
    data, X64, P, G, _ = model_centre(X, codes, K, sw, W0, b0, sparse)
    W = W0.copy()
    delta = rng.standard_normal(K) * 0.3
    W[0] += delta
    D = data.empty_predictor()
    D[:] = np.outer(delta, X64[:, 0])
    pd = np.einsum("ki,ki->i", P, D)
    return data, X64, P, G, W0, W, D, pd


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("lam1", "lam2"), [(0.002, 0.0), (0.01, 0.003), (0.0, 0.004), (10.0, 0)])
def test_group_step_reaches_the_block_optimum(sparse, dtype, lam1, lam2):
    data, X64, P, G, W0, W, D, pd = _state(sparse, dtype)
    j, K = 3, data.n_classes
    w = data.weights
    x = X64[:, j]
    H = (P * (w * x * x)) @ P.T * -1.0 + np.diag(P @ (w * x * x))
    mu, V = np.linalg.eigh(H)
    mu = np.maximum(mu, 0.0)
    wP = P * w
    # the model's gradient of block j at the current iterate, from its definition
    g = G[j] + X64[:, j] @ (wP * (D - pd)).T
    z = W[j].copy()
    D_before = np.array(D)
    change = _group_step(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, j, P, wP, G, lam1, lam2,
        mu, np.ascontiguousarray(V), W, D, pd, np.empty((3, K)), 1.0 / w,
    )  # fmt: skip
    u = W[j]
    grad = g + H @ (u - z) + lam2 * u  # the smooth part's gradient at the new block
    if lam1 >= 10.0:
        assert np.all(u == 0.0)
        assert np.linalg.norm(g - H @ z) <= lam1
    else:
        norm = np.linalg.norm(u)
        assert norm > 0.0
        assert np.allclose(grad + lam1 * u / norm, 0.0, rtol=0.0, atol=1e-12)
    assert change == pytest.approx((mu[-1] + lam2) * np.linalg.norm(u - z), rel=1e-12)
    # the predictor change and p . d moved with the block (p read as (w p) / w, sparse X)
    assert np.allclose(D, D_before + np.outer(u - z, X64[:, j]), rtol=0.0, atol=1e-14)
    assert np.allclose(pd, np.einsum("ki,ki->i", P, D), rtol=0.0, atol=1e-14)
    assert np.array_equal(W[np.arange(6) != j], _state(sparse, dtype)[5][np.arange(6) != j])
    assert not np.array_equal(W0, W)
