"""The sparse Hessian from products of stored values (objective.pair_hessian) against references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from numpy.testing import assert_allclose

import mnlogit.objective.pair_hessian as pair_module
from mnlogit import MultinomialLogit
from mnlogit.objective.hessian import loss_hessian
from mnlogit.objective.pair_hessian import dense_work, pair_hessian, pair_work
from mnlogit.parameterization import Parameterization


def onehot(n: int, features: int, levels: int, seed: int) -> sp.csr_matrix:
    """Indicator columns of ``features`` categorical variables (first level dropped)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, levels, (n, features))
    cols = (codes - 1) + np.arange(features) * (levels - 1)
    keep = codes > 0
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)[keep]
    shape = (n, features * (levels - 1))
    return sp.csr_matrix((np.ones(keep.sum()), (rows, cols[keep])), shape=shape)


def reference(Y: np.ndarray, P1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Blocks ``Yᵀ diag(w P_a (I(a=c) - P_c)) Y``, one numpy Gram per block pair."""
    k1, p1 = P1.shape[1], Y.shape[1]
    H = np.zeros((k1 * p1, k1 * p1))
    for a in range(k1):
        for c in range(k1):
            h = w * P1[:, a] * ((a == c) - P1[:, c])
            H[a * p1 : (a + 1) * p1, c * p1 : (c + 1) * p1] = Y.T @ (h[:, None] * Y)
    return H


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pair_hessian_equals_numpy_grams_over_many_blocks(monkeypatch, intercept, dtype):
    monkeypatch.setattr(pair_module, "_PAIRS_PER_BLOCK", 50)  # blocks of a few rows
    rng = np.random.default_rng(4)
    n, k1 = 400, 3
    X = onehot(n, 4, 5, seed=1).astype(dtype)
    X.data *= rng.uniform(0.5, 2.0, X.nnz).astype(dtype)  # not only ones
    dense = X.toarray()
    dense[7] = 0.0  # a row without stored values
    X = sp.csr_matrix(dense)
    P = rng.dirichlet(np.ones(k1 + 1), n)
    w = rng.uniform(0.0, 3.0, n)
    factor = rng.uniform(0.5, 2.0, X.shape[1])
    X64 = X.toarray().astype(np.float64) * factor
    Y = np.hstack([np.ones((n, 1)), X64]) if intercept else X64
    expected = reference(Y, P[:, 1:], w)
    got = pair_hessian(X, P[:, 1:], w, intercept, factor)
    assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_duplicate_entries_and_csc_input_and_the_free_coordinates():
    rng = np.random.default_rng(5)
    n, k1 = 300, 2
    X = onehot(n, 6, 4, seed=2)
    assert pair_work(X, k1, True) < dense_work(n, X.shape[1] + 1, k1)  # the pair path runs
    # a non-canonical CSR: one stored value split in two
    twice = np.repeat(np.arange(X.nnz), 2)  # every stored value twice, in its own row
    halves = np.tile([0.25, 0.75], X.nnz) * X.data[twice]
    dup = sp.csr_matrix((halves, X.indices[twice], 2 * X.indptr), shape=X.shape)
    assert dup.nnz == 2 * X.nnz  # the duplicates are kept as given
    P = rng.dirichlet(np.ones(k1 + 1), n)
    w = rng.uniform(0.5, 1.5, n)
    Y = np.hstack([np.ones((n, 1)), X.toarray()])
    expected = reference(Y, P[:, 1:], w)
    assert_allclose(pair_hessian(dup, P[:, 1:], w, True), expected, rtol=1e-12, atol=1e-12)
    assert_allclose(loss_hessian(X.tocsc(), P[:, 1:], w, intercept=True), expected, rtol=1e-12)
    T = Parameterization(k1 + 1, None).transform_to(Parameterization(k1 + 1, 0))
    TI = np.kron(T, np.eye(Y.shape[1]))
    got = loss_hessian(X, P[:, 1:], w, intercept=True, T=T)
    assert_allclose(got, TI @ expected @ TI.T, rtol=1e-12, atol=1e-12)


def test_sparse_one_hot_standard_errors_match_statsmodels_and_the_dense_fit():
    X = onehot(3000, 4, 4, seed=3)
    rng = np.random.default_rng(6)
    eta = X @ rng.normal(0, 0.6, (X.shape[1], 4))
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    sparse_fit = MultinomialLogit(tol=1e-10).fit(X, y)
    dense_fit = MultinomialLogit(tol=1e-10).fit(X.toarray(), y)
    res = sm.MNLogit(y, sm.add_constant(X.toarray())).fit(method="newton", tol=1e-12, disp=0)
    se_sparse = np.sqrt(np.diag(sparse_fit.cov_params().to_numpy()))
    se_dense = np.sqrt(np.diag(dense_fit.cov_params().to_numpy()))
    assert_allclose(se_sparse, se_dense, rtol=1e-8)
    # statsmodels' bse: (p + 1, K - 1), classes 1 .. K-1 against class 0
    p1 = X.shape[1] + 1
    ours = se_sparse.reshape(3, p1).T
    assert_allclose(ours, res.bse, rtol=1e-6)
