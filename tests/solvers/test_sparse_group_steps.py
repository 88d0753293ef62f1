"""One block step of the grouped lasso's inner solver on sparse and dense X (issue 14,
issue-group10: the step computed in the block Hessian's eigenbasis) against the block's
optimality conditions computed here in NumPy, with the maintained predictor change
checked against its definition."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lasso_checks import model_centre
from mnlogit.solvers.coordinate_descent import _group_step, _row_records


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


@pytest.mark.parametrize(("sparse", "records"), [(True, False), (True, True), (False, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("lam1", "lam2"), [(0.002, 0.0), (0.01, 0.003), (0.0, 0.004), (10.0, 0)])
def test_group_step_reaches_the_block_optimum(sparse, records, dtype, lam1, lam2):
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
    winv, rec = 1.0 / w, np.zeros((0, 0))
    if records:  # the row records (n, r): D, wP, pd and 1 / w as its strided views
        rec = _row_records(np.ascontiguousarray(wP), winv)
        rec[:, :K] = np.asarray(D).T
        rec[:, 2 * K] = pd
        D, wP, pd, winv = rec[:, :K].T, rec[:, K : 2 * K].T, rec[:, 2 * K], rec[:, 2 * K + 1]
    change = _group_step(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, j, P, wP, G, lam1, lam2,
        mu, np.ascontiguousarray(V), W, D, pd, np.empty((3, K)), winv, rec,
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


def test_block_optimum_without_a_finite_optimum_takes_no_step():
    """``c`` beyond ``lam1`` in the block Hessian's null space with no ridge: the block's
    model has no finite minimizer; the step is 0 (no division by zero)."""
    from mnlogit.solvers.coordinate_descent import _group_optimum

    out = np.full(2, np.nan)
    _group_optimum(np.zeros(2), np.array([1.0, 0.0]), 0.5, 0.0, out)
    assert np.array_equal(out, np.zeros(2))


@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_subnormal_weights_leave_the_fit_finite(penalty):
    """Rows of subnormal weight (1e-310: ``1 / w`` overflows) on sparse X: the fit is
    finite, converges, and equals the fit without those rows (they add ~1e-308 to every
    sum). Before the review of issue-group10 the group fit returned NaN."""
    import scipy.sparse as sp
    from scipy.special import softmax

    from mnlogit import MultinomialLogit

    rng = np.random.default_rng(0)
    n, p, K = 600, 30, 5
    X = sp.random(n, p, density=0.2, random_state=1, format="csr") * 3.0
    B = np.zeros((p, K))
    B[:6] = rng.standard_normal((6, K)) * 2
    y = np.array([rng.choice(K, p=q) for q in softmax(X.toarray() @ B, axis=1)])
    sw = rng.uniform(0.5, 2, n)
    sw[:50] = 1e-310
    fit = MultinomialLogit(penalty=penalty, alpha=0.002).fit(X, y, sample_weight=sw)
    assert fit.converged_
    assert np.isfinite(fit.coef_).all()
    kept = MultinomialLogit(penalty=penalty, alpha=0.002).fit(X[50:], y[50:], sample_weight=sw[50:])
    np.testing.assert_allclose(fit.predict_proba(X), kept.predict_proba(X), atol=1e-6)
