"""The dense lasso's outer steps (issue-dlasso10): the blocked gradient product
(``coordinate_descent.dense_products``) and the residual matrix and loss by one flat index,
against NumPy; an inner solve on curvatures carried from another centre
(``proximal_newton._kept_curvatures``) reaches the same minimizer of the model, checked on
its optimality conditions in NumPy; and paths with the curvatures carried equal the paths
without, with the KKT conditions from an independent gradient at every alpha."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, softmax

from lasso_checks import (
    inner_solve,
    model_centre,
    model_kkt,
    path_kkt,
    penalized_objective,
    sparse_truth_data,
)
from mnlogit import regularization_path
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.coordinate_descent import LAZY_CURVATURE, dense_products
from mnlogit.solvers.proximal_newton import ColumnData, _kept_curvatures


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [2, 5])
def test_dense_products_equal_numpy(dtype, K):
    # n not a multiple of the row block, m not a multiple of the column group; columns
    # asked in any order, the others left as they were
    rng = np.random.default_rng(0)
    n, p = 1_100, 23
    X = np.asfortranarray((rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)).astype(dtype))
    M = rng.standard_normal((K, n))
    ref = X.astype(np.float64).T @ M.T
    for features in (np.arange(p), rng.permutation(p)[:19], np.array([4]), np.zeros(0, int)):
        features = features.astype(np.intp)
        out = np.full((p, K), np.nan)
        dense_products(X, features, M, out)
        np.testing.assert_allclose(out[features], ref[features], rtol=1e-12, atol=1e-12)
        rest = np.setdiff1d(np.arange(p), features)
        assert np.isnan(out[rest]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [5, proximal_newton.PRODUCTS_MAX_CLASSES + 2])
def test_column_data_products_equal_numpy(dtype, K):
    # the compiled kernel, or (float64, many classes, most columns) BLAS over every column:
    # the rows asked for equal X^T M^T either way, and the return says whether all are
    rng = np.random.default_rng(4)
    n, p = 700, 16
    y = np.arange(n) % K
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)).astype(dtype)
    data = ColumnData.from_arrays(X, y, K, np.ones(n), True)
    M = rng.standard_normal((K, n))
    ref = np.asarray(data.Xd, dtype=np.float64).T @ M.T
    for features in (np.arange(p), rng.permutation(p)[:13], rng.permutation(p)[:3]):
        features = np.sort(features).astype(np.intp)
        out = np.full((p, K), np.nan)
        complete = data.products(features, M, out)
        np.testing.assert_allclose(out[features], ref[features], rtol=1e-12, atol=1e-12)
        written = np.flatnonzero(~np.isnan(out).any(axis=1))
        assert complete == (written.size == p)
        blas = dtype == np.float64 and K > proximal_newton.PRODUCTS_MAX_CLASSES
        assert complete == (features.size == p or (blas and 4 * features.size >= 3 * p))


@pytest.mark.parametrize("sparse", [False, True])
def test_loss_pass_residual_matrix_and_loss_equal_scratch(sparse):
    X, y = sparse_truth_data(n=120, p=6, K=4, seed=3)
    w = np.random.default_rng(1).uniform(0.2, 2.0, y.size)
    data = ColumnData.from_arrays(sp.csr_matrix(X) if sparse else X, y, 4, w, True)
    rng = np.random.default_rng(2)
    eta = data.empty_predictor()
    eta[:] = rng.standard_normal((4, y.size)) * 3.0
    ws = w / w.sum()
    nll = logsumexp(eta, axis=0) - eta[y, np.arange(y.size)]
    loss, P = data.loss(eta)
    assert loss == pytest.approx(float(ws @ nll), rel=1e-13)
    assert data.value(eta) == pytest.approx(float(ws @ nll), rel=1e-13)
    np.testing.assert_allclose(P, softmax(eta, axis=0), rtol=1e-13, atol=1e-16)
    ref = (softmax(eta, axis=0) - np.eye(4)[y].T) * ws
    point = data.evaluate(eta)[1]
    np.testing.assert_allclose(point.M, ref, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(point.wP, softmax(eta, axis=0) * ws, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(data.value(np.asfortranarray(eta)), loss, rtol=1e-13)


def test_kept_curvatures_are_carried_once_and_only_when_close():
    rng = np.random.default_rng(0)
    P = softmax(rng.standard_normal((3, 50)), axis=0)
    P[:, 7] = [0.1, 0.3, 0.6]
    h, centre = _kept_curvatures(P, (7, 3), None)
    assert (h == LAZY_CURVATURE).all() and h.shape == (7, 3) and centre is P
    h[2, 1] = 0.25  # (as a sweep computes one)
    near = softmax(np.log(P) + 0.01 * rng.standard_normal(P.shape), axis=0)
    carried, mark = _kept_curvatures(near, (7, 3), (h, P))
    assert carried is h and mark.size == 0
    # not twice
    again, centre = _kept_curvatures(near, (7, 3), (carried, mark))
    assert again is not h and (again == LAZY_CURVATURE).all() and centre is near
    # not when one p (1 - p) moved by more than CURVATURE_DRIFT (0.5), either way
    v = P * (1 - P)
    for factor in (1.55, 0.45):
        far = P.copy()
        far[0, 7] = (1 - np.sqrt(1 - 4 * factor * v[0, 7])) / 2  # p (1 - p) = factor v
        assert far[0, 7] * (1 - far[0, 7]) == pytest.approx(factor * v[0, 7])
        fresh, _ = _kept_curvatures(far, (7, 3), (h, P))
        assert fresh is not h and (fresh == LAZY_CURVATURE).all()
    for factor in (1.45, 0.55):  # within it: carried
        close = P.copy()
        close[0, 7] = (1 - np.sqrt(1 - 4 * factor * v[0, 7])) / 2
        assert _kept_curvatures(close, (7, 3), (h, P))[0] is h


@pytest.mark.parametrize(("dtype", "weighted"), [(np.float64, False), (np.float32, True)])
@pytest.mark.parametrize("lam2", [0.0, 0.002])
def test_inner_solve_on_carried_curvatures_reaches_the_model_minimizer(dtype, weighted, lam2):
    rng = np.random.default_rng(5)
    n, p, K = 300, 9, 5  # odd K: the lasso's row shift, so the minimizer, is unique
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)).astype(dtype)
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.3, 2.0, n) if weighted else None
    W0 = np.where(rng.random((p, K)) < 0.5, rng.standard_normal((p, K)) * 0.3, 0.0)
    b0 = rng.standard_normal(K) * 0.3
    data, X64, P, G, g0 = model_centre(X, codes, K, sw, W0, b0, False)
    # curvatures from another centre: each p (1 - p) within 50% of this centre's
    other = model_centre(X, codes, K, sw, 1.06 * W0, b0 + 0.03, False)[2]
    v, v_other = P * (1 - P), other * (1 - other)
    assert np.all(np.abs(v - v_other) <= 0.5 * v_other)
    stale = (X64**2).T @ (data.weights * v_other).T
    exact = (X64**2).T @ (data.weights * v).T
    assert np.abs(stale / exact - 1).max() > 0.01  # really not this centre's
    kept = stale.copy()
    kept[::2, 1] = LAZY_CURVATURE  # some not known: computed by the sweeps (here, exactly)
    lam1, lam2v = np.full(p, 0.003), np.full(p, lam2)
    W, b, _, sweeps = inner_solve(data, P, G, g0, W0, b0, lam1, lam2v, 0, 1e-13, 10_000, kept)
    assert sweeps < 10_000
    nonzero, zero, intercepts = model_kkt(data, X64, P, G, g0, W0, b0, W, b, lam1, lam2v)
    assert max(nonzero, zero, intercepts) <= 1e-10
    Wr, br, _, _ = inner_solve(data, P, G, g0, W0, b0, lam1, lam2v, 0, 1e-13, 10_000)
    np.testing.assert_allclose(W, Wr, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b, br, rtol=0, atol=1e-9)
    # the carried ones kept, the missing ones that were needed computed in place
    known = kept != LAZY_CURVATURE
    np.testing.assert_array_equal(kept[::2][:, [0, 2, 3]], stale[::2][:, [0, 2, 3]])
    filled = known[::2, 1]
    assert filled.any()
    np.testing.assert_allclose(kept[::2, 1][filled], exact[::2, 1][filled], rtol=1e-10)


def _objectives(X, y, path, w):
    return np.array(
        [
            penalized_objective(
                X, y, path.coef[i].T, path.intercept[i], a, path.penalty_factor, path.l1_ratio, w
            )
            for i, a in enumerate(path.alphas)
        ]
    )


@pytest.mark.parametrize(
    ("dtype", "weighted", "penalty"),
    [(np.float64, False, "l1"), (np.float32, True, "l1"), (np.float64, True, "elasticnet")],
)
def test_paths_with_carried_curvatures_equal_the_paths_without(
    monkeypatch, dtype, weighted, penalty
):
    X, y = sparse_truth_data(n=400, p=15, K=4, seed=7)
    X = X.astype(dtype)
    sw = np.random.default_rng(8).uniform(0.5, 2.0, y.size) if weighted else None
    w = np.ones(y.size) if sw is None else sw
    kw = dict(penalty=penalty, n_alphas=15, alpha_min_ratio=0.01, tol=1e-8, sample_weight=sw)
    if penalty == "elasticnet":
        kw["l1_ratio"] = 0.6
    monkeypatch.setattr(proximal_newton, "CURVATURE_REUSE", False)
    ref = regularization_path(X, y, **kw)
    carried: list[bool] = []
    kept = proximal_newton._kept_curvatures

    def spy(P, shape, previous):  # type: ignore[no-untyped-def]
        out = kept(P, shape, previous)
        carried.append(out[1].size == 0)
        return out

    monkeypatch.setattr(proximal_newton, "CURVATURE_REUSE", True)
    monkeypatch.setattr(proximal_newton, "_kept_curvatures", spy)
    path = regularization_path(X, y, **kw)
    assert any(carried)  # the carried curvatures were used
    assert path.converged.all() and ref.converged.all()
    assert path_kkt(X, y, path, w) <= 1e-8 * (1 + 1e-6)
    gap = _objectives(X, y, path, w) - _objectives(X, y, ref, w)
    assert np.abs(gap).max() < 1e-12
