"""The dense lasso's curvatures computed lazily (``coordinate_descent.LAZY_DENSE``: a
coordinate's ``h_jk`` at its first step that needs it) against the curvatures computed for
every strong coordinate up front (the sparse kernels, on the same matrix stored as CSR): the
same iterates after a fixed number of sweeps, and the same paths with the KKT conditions
checked from an independent gradient at every alpha."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lasso_checks import inner_solve, model_centre, path_kkt, penalized_objective
from mnlogit import regularization_path
from mnlogit.solvers.coordinate_descent import LAZY_DENSE


def _centres(dtype, weighted, seed=0, n=160, p=10, K=4):
    """The same model centre on dense X and on its CSR copy (with an all-zero column, whose
    curvature is 0 and which neither solver may step)."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)).astype(dtype)
    X[rng.random(X.shape) < 0.5] = 0.0
    X[:, 3] = 0.0
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.3, 2.0, n) if weighted else None
    W0 = np.where(rng.random((p, K)) < 0.4, rng.standard_normal((p, K)) * 0.3, 0.0)
    W0[3] = 0.0
    b0 = rng.standard_normal(K) * 0.3
    return [model_centre(X, codes, K, sw, W0, b0, sparse) for sparse in (False, True)], W0, b0


def _sweeps(centre, W0, b0, lam1, lam2, max_sweeps):
    data, _, P, G, g0 = centre
    W, b, D, sweeps = inner_solve(data, P, G, g0, W0, b0, lam1, lam2, 0, 0.0, max_sweeps)
    return W, b, np.asarray(D), sweeps


def test_lazy_curvatures_are_on():
    assert LAZY_DENSE


@pytest.mark.parametrize(("dtype", "weighted"), [(np.float64, False), (np.float32, True)])
@pytest.mark.parametrize("lam2", [0.0, 0.01])
def test_lazy_curvatures_take_the_steps_of_the_eager_ones(dtype, weighted, lam2):
    # a zero coordinate whose model gradient passes its threshold needs its curvature on
    # the spot: computing it late, or not at all, changes the iterates after that sweep
    (dense, sparse), W0, b0 = _centres(dtype, weighted)
    p = W0.shape[0]
    lam1v, lam2v = np.full(p, 0.004), np.full(p, lam2)
    for max_sweeps in (1, 2, 3, 6):
        Wd, bd, Dd, sd = _sweeps(dense, W0, b0, lam1v, lam2v, max_sweeps)
        Ws, bs, Ds, ss = _sweeps(sparse, W0, b0, lam1v, lam2v, max_sweeps)
        assert sd == ss == max_sweeps
        np.testing.assert_allclose(Wd, Ws, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bd, bs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(Dd, Ds, rtol=0, atol=1e-12)
        X64 = dense[1]
        np.testing.assert_allclose(Dd, (X64 @ (Wd - W0) + (bd - b0)).T, rtol=0, atol=1e-12)
    entered = (W0 == 0) & (Wd != 0)
    assert entered.sum() >= 2  # zero coordinates entered (their curvature computed late)
    assert np.count_nonzero((W0 != 0) & (Wd == 0)) >= 1  # and nonzero ones left
    assert np.all(Wd[3] == 0)  # the column of curvature 0 is never stepped


@pytest.mark.parametrize(("penalty", "weighted"), [("l1", False), ("elasticnet", True)])
def test_dense_paths_with_lazy_curvatures_equal_the_sparse_paths(penalty, weighted):
    rng = np.random.default_rng(5)
    n, p, K = 240, 14, 4
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)
    B = np.zeros((p, K))
    B[:5] = rng.standard_normal((5, K))
    y = np.argmax(X @ B + rng.gumbel(size=(n, K)), axis=1)
    sw = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    l1_ratio = 0.6 if penalty == "elasticnet" else None
    kw = dict(penalty=penalty, l1_ratio=l1_ratio, n_alphas=12, sample_weight=sw, tol=1e-8)
    dense = regularization_path(X, y, **kw)
    sparse = regularization_path(sp.csr_matrix(X), y, **kw)
    assert dense.n_nonzero[-1] >= 8
    assert path_kkt(X, y, dense, sw) <= 1e-8
    for i, alpha in enumerate(dense.alphas):
        args = (alpha, dense.penalty_factor, dense.l1_ratio, sw)
        fd = penalized_objective(X, y, dense.coef[i].T, dense.intercept[i], *args)
        fs = penalized_objective(X, y, sparse.coef[i].T, sparse.intercept[i], *args)
        assert abs(fd - fs) <= 1e-12 + 1e-10 * abs(fs)
