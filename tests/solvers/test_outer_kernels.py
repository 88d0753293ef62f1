"""The compiled kernels of the proximal Newton steps (the penalty's value and KKT residuals,
the one-pass sparse gradient products) against the NumPy definitions they replace; the
loss's pass and the products of ``solvers/outer_kernels.py``: ``test_outer_pass.py``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mnlogit.objective.sparse_penalties import SparsePenalty
from mnlogit.solvers.outer_kernels import gradient_products
from mnlogit.solvers.proximal_newton import ColumnData


def _coefficients(rng, p, K):
    W = rng.standard_normal((p, K))
    W[rng.random((p, K)) < 0.4] = 0.0
    W[0] = 0.0  # a zero row
    W[1, :] = 0.0
    W[1, 2] = -0.7  # one nonzero
    return W


def _numpy_value(W, lam1, lam2, group):
    """The penalty's definition, by NumPy (module docstring of sparse_penalties)."""
    sq = np.einsum("jk,jk->j", W, W)
    first = np.sqrt(sq) if group else np.abs(W).sum(axis=1)
    return float(lam1 @ first + 0.5 * (lam2 @ sq))


def _numpy_residuals(W, G, lam1, lam2, group):
    """The KKT residuals' definition, by NumPy: the distance from ``-G_j`` to the
    subdifferential of the penalty at ``W_j`` (max-norm for the lasso, 2-norm for the group)."""
    lam1, lam2 = lam1[:, None], lam2[:, None]
    r = G + lam2 * W
    if group:
        norm_w = np.sqrt(np.einsum("jk,jk->j", W, W))[:, None]
        nz = norm_w[:, 0] > 0
        out = np.maximum(np.sqrt(np.einsum("jk,jk->j", r, r)) - lam1[:, 0], 0.0)
        moved = r[nz] + lam1[nz] * W[nz] / norm_w[nz]
        out[nz] = np.sqrt(np.einsum("jk,jk->j", moved, moved))
        return out
    res = np.where(W != 0, np.abs(r + lam1 * np.sign(W)), np.maximum(np.abs(r) - lam1, 0.0))
    return res.max(axis=1)


@pytest.mark.parametrize(
    ("kind", "l1_ratio"), [("l1", 1.0), ("elasticnet", 0.4), ("group", 1.0), ("group", 0.6)]
)
def test_penalty_value_and_kkt_residuals_equal_their_definitions(kind, l1_ratio):
    rng = np.random.default_rng(4)
    p, K = 23, 5
    factor = rng.uniform(0.3, 2.0, p)
    factor[3] = 0.0  # an unpenalized feature
    penalty = SparsePenalty(kind, l1_ratio, factor)
    W = _coefficients(rng, p, K)
    alpha = 0.37
    lam1, lam2 = penalty.strengths(alpha)
    assert penalty.value(W, alpha) == pytest.approx(
        _numpy_value(W, lam1, lam2, penalty.group), rel=1e-14
    )
    G = 0.5 * rng.standard_normal((p, K))
    # gradients at the subdifferential's boundary and inside it: residual 0 there
    G[0] = 0.1 * lam1[0] / np.sqrt(K)
    G[1] = 0.1 * lam1[1] / np.sqrt(K)
    G[1, 2] = lam1[1] - lam2[1] * W[1, 2]
    rms = rng.uniform(0.5, 2.0, p)
    full = _numpy_residuals(W, G, lam1, lam2, penalty.group)
    np.testing.assert_allclose(penalty.residuals(W, G, alpha), full, rtol=1e-13, atol=1e-15)
    for features in (np.arange(p), np.sort(rng.permutation(p)[:9])):
        features = features.astype(np.intp)
        out = penalty.residuals(W, G, alpha, features, scale=rms)
        ref = full[features] / rms[features]
        np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-15)
        if features.size == p:  # the zero row under its threshold and the boundary case
            assert out[0] == 0.0 and (out[1] < 1e-15 or kind == "group")


@pytest.mark.parametrize("kind", ["l1", "group"])
def test_kkt_residuals_carry_nan(kind):
    """A NaN gradient (a diverged step) must not read as a zero residual (converged)."""
    rng = np.random.default_rng(5)
    p, K = 6, 4
    penalty = SparsePenalty(kind, 1.0, np.ones(p))
    W = _coefficients(rng, p, K)
    G = rng.standard_normal((p, K))
    G[0, 1] = np.nan  # a zero row
    G[2, 3] = np.nan
    W[4, 0] = np.nan
    out = penalty.residuals(W, G, 0.3)
    assert np.isnan(out[[0, 2, 4]]).all()
    assert np.isfinite(out[[1, 3, 5]]).all()
    assert np.isnan(penalty.value(W, 0.3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_products_in_one_pass_over_each_column(dtype):
    # the row-major (K, n) arrays of sparse X (their (n, K) transposes to the kernel) and a
    # subset of the features: only their rows
    # of ``out`` are written
    rng = np.random.default_rng(8)
    n, p, K = 64, 11, 6
    X = sp.random(n, p, density=0.25, random_state=2, format="csr", dtype=dtype)
    data = ColumnData.from_arrays(X, rng.integers(0, K, n), K, None, True)
    M = data.empty_predictor()
    M[:] = rng.standard_normal((K, n))
    assert not M.flags.c_contiguous
    ref = np.asarray(X.toarray(), dtype=np.float64).T @ M.T
    features = np.array([0, 3, 4, 10], dtype=np.intp)
    out = np.full((p, K), np.nan)
    gradient_products(data.indptr, data.indices, data.data, features, M.T, out)
    np.testing.assert_allclose(out[features], ref[features], rtol=1e-12, atol=1e-14)
    rest = np.setdiff1d(np.arange(p), features)
    assert np.isnan(out[rest]).all()
