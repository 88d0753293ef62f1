"""The lasso's block coordinate steps (a feature's ``K`` classes in two passes over its column,
with its block Hessian) against the one-pass-per-class steps they replace: the same iterates
after a fixed number of sweeps, the same minimizer of the quadratic model (checked on its
optimality conditions computed here in numpy), and the same paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from lasso_checks import inner_solve, lasso_centre, model_kkt
from mnlogit import regularization_path
from mnlogit.solvers import proximal_newton


def _problem(sparse: bool, dtype: Any, weighted: bool, seed: int = 0):
    """A model centre ``(W0, b0)`` with its probabilities and loss gradient."""
    return lasso_centre(sparse, dtype, weighted, seed=seed, n=150, p=9, K=5)


CASES = [
    (False, np.float64, False),
    (False, np.float32, True),
    (True, np.float64, True),
    (True, np.float32, False),
]


@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
@pytest.mark.parametrize("lam2_scale", [0.0, 1.0])
def test_block_steps_take_the_per_class_steps(sparse, dtype, weighted, lam2_scale):
    # the block Hessian's cross terms carry one class's step to the next class's gradient
    # inside a feature: wrong terms give different iterates after the first sweep
    data, X64, W0, b0, P, G, g0 = _problem(sparse, dtype, weighted)
    p = W0.shape[0]
    lam1 = np.full(p, 0.004)
    lam2 = np.full(p, 0.01 * lam2_scale)
    for max_sweeps in (1, 2, 3, 5):
        Wa, ba, _, sa = inner_solve(data, P, G, g0, W0, b0, lam1, lam2, 0, 0.0, max_sweeps)
        Wb, bb, Db, sb = inner_solve(data, P, G, g0, W0, b0, lam1, lam2, 1, 0.0, max_sweeps)
        assert sa == sb == max_sweeps
        assert np.count_nonzero(Wa != W0) > p  # the sweeps moved many coordinates
        np.testing.assert_allclose(Wb, Wa, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bb, ba, rtol=0, atol=1e-12)
        # the maintained predictor change is X dW + db
        np.testing.assert_allclose(Db, (X64 @ (Wb - W0) + (bb - b0)).T, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("sparse", "dtype", "weighted"), CASES)
@pytest.mark.parametrize("passes", [1, 10])
def test_block_steps_reach_the_minimizer_of_the_model(sparse, dtype, weighted, passes):
    data, X64, W0, b0, P, G, g0 = _problem(sparse, dtype, weighted, seed=2)
    p = W0.shape[0]
    lam1 = np.full(p, 0.003)
    lam2 = np.full(p, 0.002)
    W, b, _, sweeps = inner_solve(data, P, G, g0, W0, b0, lam1, lam2, passes, 1e-13, 10_000)
    assert sweeps < 10_000
    Wr, br, _, _ = inner_solve(data, P, G, g0, W0, b0, lam1, lam2, 0, 1e-13, 10_000)
    np.testing.assert_allclose(W, Wr, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b, br, rtol=0, atol=1e-10)
    # optimality of the model q(W, b) + penalty, its gradient computed in numpy
    nonzero, zero, intercepts = model_kkt(data, X64, P, G, g0, W0, b0, W, b, lam1, lam2)
    assert max(nonzero, zero, intercepts) <= 1e-10
    assert np.count_nonzero(W) > p  # not a trivial solution


def _sparse_data(n, p, K, seed, density):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, random_state=seed, format="csr") * 3.0
    B = np.zeros((p, K))
    B[: p // 2] = rng.standard_normal((p // 2, K)) * 2.0
    eta = np.asarray(X @ B)
    y = np.array([rng.choice(K, p=q) for q in softmax(eta, axis=1)])
    return X, y


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("passes", [1, 10])
def test_paths_with_block_steps_equal_the_per_class_paths(monkeypatch, weighted, dtype, passes):
    X, y = _sparse_data(400, 60, 5, 3, 0.08)  # odd K: the lasso's row shift is unique
    X = X.astype(dtype)
    sw = np.random.default_rng(4).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    kw = dict(penalty="l1", n_alphas=12, alpha_min_ratio=0.02, tol=1e-12, sample_weight=sw)
    monkeypatch.setattr(proximal_newton, "LASSO_BLOCKS", False)
    ref = regularization_path(X, y, **kw)
    monkeypatch.setattr(proximal_newton, "LASSO_BLOCKS", True)
    monkeypatch.setattr(proximal_newton, "LASSO_BLOCK_PASSES", passes)
    got = regularization_path(X, y, **kw)
    assert ref.converged.all() and got.converged.all()
    assert ref.n_nonzero[-1] > 20
    np.testing.assert_allclose(got.objective, ref.objective, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.coef, ref.coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.intercept, ref.intercept, rtol=0, atol=1e-8)
    X64 = X.astype(np.float64)
    for c, b, cr, br in zip(got.coef, got.intercept, ref.coef, ref.intercept, strict=True):
        np.testing.assert_allclose(
            softmax(X64 @ c.T + b, axis=1), softmax(X64 @ cr.T + br, axis=1), atol=1e-9
        )


def test_rows_of_weight_zero_are_rows_left_out():
    # the block moves read p_ik as (w_i p_ik) / w_i, undefined for w_i = 0: such rows must
    # not change the path
    X, y = _sparse_data(300, 40, 5, 6, 0.1)
    sw = np.random.default_rng(7).uniform(0.5, 2.0, X.shape[0])
    sw[::7] = 0.0
    keep = sw > 0
    kw = dict(penalty="l1", n_alphas=10, alpha_min_ratio=0.02, tol=1e-12)
    got = regularization_path(X, y, sample_weight=sw, **kw)
    ref = regularization_path(X[keep], y[keep], sample_weight=sw[keep], **kw)
    assert got.n_nonzero[-1] > 15
    np.testing.assert_allclose(got.alphas, ref.alphas, rtol=1e-12)
    np.testing.assert_allclose(got.objective, ref.objective, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.coef, ref.coef, rtol=0, atol=1e-8)


def test_sparse_group_path_with_block_intercept_steps_equals_the_dense_one():
    # with sparse X the group penalty's intercept steps go by their block Hessian, with
    # dense X class by class: the same paths
    X, y = _sparse_data(300, 30, 5, 8, 0.15)
    sw = np.random.default_rng(9).uniform(0.5, 2.0, X.shape[0])
    kw = dict(penalty="group", n_alphas=10, alpha_min_ratio=0.02, tol=1e-12, sample_weight=sw)
    got = regularization_path(X, y, **kw)
    ref = regularization_path(X.toarray(), y, **kw)
    assert got.n_nonzero[-1] > 10
    np.testing.assert_allclose(got.objective, ref.objective, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.coef, ref.coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.intercept, ref.intercept, rtol=0, atol=1e-8)


def test_block_passes_cut_short_at_the_tolerance_keep_the_kkt_answer(monkeypatch):
    # the class passes of a feature stop once their largest step is below a fraction of the
    # sweep's tolerance (BLOCK_PASS_FLOOR): at tol = 1e-6 the path must still satisfy the
    # KKT conditions (independent gradient) and stay within 1e-8 of the per-class path
    from lasso_checks import path_kkt, penalized_objective
    from mnlogit.solvers import coordinate_descent

    assert coordinate_descent.BLOCK_PASS_FLOOR > 0.0
    X, y = _sparse_data(400, 60, 6, 11, 0.08)
    kw = dict(penalty="l1", n_alphas=12, alpha_min_ratio=0.02, tol=1e-6)
    monkeypatch.setattr(proximal_newton, "LASSO_BLOCKS", False)
    ref = regularization_path(X, y, **kw)
    monkeypatch.setattr(proximal_newton, "LASSO_BLOCKS", True)
    monkeypatch.setattr(proximal_newton, "LASSO_BLOCK_PASSES", 10)
    got = regularization_path(X, y, **kw)
    assert got.converged.all() and got.n_nonzero[-1] > 20
    w, f = np.ones(X.shape[0]), np.ones(X.shape[1])
    assert path_kkt(X, y, got, w) <= 1e-6
    for i, alpha in enumerate(got.alphas):
        f_got = penalized_objective(X, y, got.coef[i].T, got.intercept[i], alpha, f, 1.0, w)
        f_ref = penalized_objective(X, y, ref.coef[i].T, ref.intercept[i], alpha, f, 1.0, w)
        assert abs(f_got - f_ref) <= 1e-8
