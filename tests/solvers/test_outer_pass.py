"""The sparse lasso's outer steps in one pass (``solvers/outer_kernels.py``,
``ColumnData.evaluate``): the trial point, its loss, probabilities, residual matrix, ``w P``
and the intercepts' gradient against their NumPy definitions; the gradient products, the
predicted start's extrapolation; and the reused arrays (what a pass returns lives in the
data's own memory, a trial point is a new array)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, softmax

from mnlogit.solvers.local_array import LOCAL_DOUBLES
from mnlogit.solvers.outer_kernels import gradient_products, predicted_coefficients, step_slope
from mnlogit.solvers.proximal_newton import ColumnData, _weighted_sum


def _data(n, p, K, sparse, fit_intercept=True, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.3, random_state=seed, format="csr")
    codes = rng.integers(0, K, n)
    codes[:K] = np.arange(K)
    sw = rng.uniform(0.2, 3.0, n)
    sw[5] = 0.0  # a row of weight 0
    return ColumnData.from_arrays(X if sparse else X.toarray(), codes, K, sw, fit_intercept)


def _predictor(data, rng, scale):
    eta = data.empty_predictor()
    eta[:] = scale * rng.standard_normal(eta.shape)
    return eta


def _definitions(data, eta):
    """Loss, P, M, w P and g0 at ``eta`` by NumPy and scipy."""
    ws = data.weights
    n = data.n_rows
    nll = logsumexp(eta, axis=0) - eta[data.codes, np.arange(n)]
    P = softmax(eta, axis=0)
    Y = np.zeros_like(P)
    Y[data.codes, np.arange(n)] = 1.0
    M = (P - Y) * ws
    g0 = M.sum(axis=1) if data.fit_intercept else np.zeros(data.n_classes)
    return float(ws @ nll), P, M, P * ws, g0


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("K", [3, 10, 17])
@pytest.mark.parametrize("sparse", [True, False])
def test_a_pass_equals_its_definitions(sparse, K, fit_intercept):
    # eta's spread makes some probabilities underflow (exp below -745)
    n = 589
    data = _data(n, 9, K, sparse, fit_intercept, seed=K)
    rng = np.random.default_rng(1)
    eta = _predictor(data, rng, 300.0)
    D = _predictor(data, rng, 3.0)
    for step in (None, (D, 1.0), (D, 0.5), (D, 0.0)):
        point, got = data.evaluate(eta, step)
        expected_eta = eta if step is None else eta + step[1] * step[0]
        assert point is eta if step is None else point is not eta
        np.testing.assert_array_equal(point, expected_eta)  # one rounding, as NumPy's
        loss, P, M, wP, g0 = _definitions(data, expected_eta)
        assert got.loss == pytest.approx(loss, rel=1e-14)
        np.testing.assert_allclose(got.P, P, rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(got.P.sum(axis=0), 1.0, rtol=1e-15)
        np.testing.assert_allclose(got.M, M, rtol=1e-14, atol=1e-18)
        np.testing.assert_allclose(got.g0, g0, rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose(got.wP, wP, rtol=1e-14, atol=1e-300)
        assert (got.P == 0.0).any()  # some underflowed (exp of below -745)
    # the plain loss: new arrays, the same values
    loss, P = data.loss(eta)
    assert loss == pytest.approx(_definitions(data, eta)[0], rel=1e-14)
    np.testing.assert_allclose(P, softmax(eta, axis=0), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("sparse", [True, False])
def test_the_loss_over_more_rows_than_blas_splits_equals_its_definition(sparse):
    # the weighted sum of the rows' losses is NumPy's own loop (OpenBLAS runs a dot of more
    # than 10,000 entries on its threads, which then spin): the same value to rounding
    n = 12_001
    data = _data(n, 5, 4, sparse, seed=7)
    eta = _predictor(data, np.random.default_rng(2), 4.0)
    loss = _definitions(data, eta)[0]
    assert data.evaluate(eta)[1].loss == pytest.approx(loss, rel=1e-14)
    assert data.loss(eta)[0] == pytest.approx(loss, rel=1e-14)
    assert data.value(eta) == pytest.approx(loss, rel=1e-14)
    rng = np.random.default_rng(4)
    w, v = rng.uniform(0.0, 2.0, 25_000), 10.0 * rng.standard_normal(25_000)
    assert _weighted_sum(w, v) == pytest.approx(math.fsum(w * v), rel=1e-12, abs=1e-10)


def test_a_pass_lives_in_the_datas_own_arrays_and_a_trial_point_is_new():
    data = _data(300, 7, 4, True)
    rng = np.random.default_rng(2)
    eta, D = _predictor(data, rng, 2.0), _predictor(data, rng, 1.0)
    first_eta, first = data.evaluate(eta, (D, 1.0))
    kept = first_eta.copy(), first.P.copy(), first.M.copy()
    second_eta, second = data.evaluate(eta, (D, 0.5))
    for a, b in ((first.P, second.P), (first.M, second.M), (first.wP, second.wP)):
        assert np.shares_memory(a, b) and np.shares_memory(a, data.work)
    # the trial points are new arrays, never the data's: an accepted one outlives the pass
    assert not np.shares_memory(first_eta, second_eta)
    assert not np.shares_memory(first_eta, data.work)
    np.testing.assert_array_equal(first_eta, kept[0])
    assert not np.array_equal(second.P, kept[1])  # overwritten by the second pass
    again = data.evaluate(first_eta)[1]
    np.testing.assert_array_equal(again.P, kept[1])
    np.testing.assert_array_equal(again.M, kept[2])
    # the step array: zeros in the data's memory, apart from the pass's
    D0 = data.zero_step()
    assert np.shares_memory(D0, data.work) and not np.shares_memory(D0, again.P)
    assert not np.shares_memory(D0, again.M) and not np.shares_memory(D0, again.wP)
    assert np.all(D0 == 0.0) and D0.shape == (4, 300)
    D0[:] = 7.0
    assert np.all(data.zero_step() == 0.0)
    dense = _data(300, 7, 4, False)
    assert dense.work.size == 0 and not np.shares_memory(dense.zero_step(), dense.zero_step())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [6, LOCAL_DOUBLES, LOCAL_DOUBLES + 3])
def test_gradient_products_equal_numpy(dtype, K):
    rng = np.random.default_rng(K)
    n, p = 80, 12
    X = sp.random(n, p, density=0.25, random_state=2, format="csc", dtype=dtype)
    M = rng.standard_normal((n, K))
    ref = np.asarray(X.toarray(), dtype=np.float64).T @ M
    features = np.array([0, 3, 4, 11], dtype=np.intp)
    out = np.full((p, K), np.nan)
    gradient_products(X.indptr, X.indices, X.data, features, M, out)
    np.testing.assert_allclose(out[features], ref[features], rtol=1e-12, atol=1e-14)
    assert np.isnan(out[np.setdiff1d(np.arange(p), features)]).all()
    data = ColumnData.from_arrays(X.tocsr(), rng.integers(0, K, n), K, None, True)
    out = np.zeros((p, K))
    assert data.products(np.arange(p, dtype=np.intp), data_layout(data, M), out)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14)


def data_layout(data, M):
    """``M`` (n, K) as a ``(K, n)`` array in sparse X's layout."""
    out = data.empty_predictor()
    out[:] = M.T
    return out


@pytest.mark.parametrize("clipped", [False, True])
def test_extrapolated_predictor_equals_its_definition(clipped):
    rng = np.random.default_rng(3)
    n, p, K = 200, 15, 5
    sparse_data = _data(n, p, K, True)
    dense_data = _data(n, p, K, False)
    X = sp.random(n, p, density=0.3, random_state=0, format="csr").toarray()
    cut = None
    if clipped:
        cut = np.zeros((p, K))
        cut[[1, 4, 9], [0, 2, 4]] = [0.3, -1.1, 2.0]
        cut[12] = 0.5
    for data in (sparse_data, dense_data):
        e1, e2 = _predictor(data, rng, 2.0), _predictor(data, rng, 2.0)
        t = 0.8
        ref = e1 + t * (e1 - e2)
        if cut is not None:
            ref = ref - (X @ cut).T
        got = data.extrapolated(e1, e2, t, cut)
        np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-14)
        assert got.strides == data.empty_predictor().strides  # the data's layout
        assert not np.shares_memory(got, e1) and not np.shares_memory(got, e2)


def test_step_slope_equals_numpy():
    rng = np.random.default_rng(4)
    p, K = 40, 7
    G, W, Wn = (rng.standard_normal((p, K)) for _ in range(3))
    for features in (np.arange(p), np.sort(rng.permutation(p)[:11]), np.zeros(0, np.intp)):
        features = features.astype(np.intp)
        ref = float(np.sum(G[features] * (Wn - W)[features]))
        assert step_slope(features, G, Wn, W) == pytest.approx(ref, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_solutions_keep_their_own_linear_predictors_along_a_sparse_path(fit_intercept):
    # the passes' arrays are reused by every outer step; each solution's linear predictor
    # (the next alphas' predicted starts read two of them) must stay its own and current
    from mnlogit.objective.sparse_penalties import SparsePenalty
    from mnlogit.solvers.proximal_newton import null_model, solve_path

    rng = np.random.default_rng(5)
    n, p, K = 150, 30, 4
    X = sp.random(n, p, density=0.3, random_state=5, format="csr")
    W_true = rng.standard_normal((p, K)) * (rng.random((p, 1)) < 0.3)
    codes = np.argmax(X @ W_true + rng.gumbel(size=(n, K)), axis=1)
    data = ColumnData.from_arrays(X, codes, K, rng.uniform(0.5, 2.0, n), fit_intercept)
    penalty = SparsePenalty("l1", 1.0, np.ones(p))
    null = null_model(data, penalty, 1e-8, 100)
    top = penalty.alpha_max(null.G)
    alphas = top * np.geomspace(0.9, 0.02, 12)
    solutions = solve_path(data, penalty, alphas, 1e-8, 100, null, top)
    assert sum(s.n_iter for s in solutions) > 12  # outer steps taken (line searches)
    for s in solutions:
        assert s.converged
        np.testing.assert_allclose(s.eta, data.eta(s.W, s.b), rtol=0, atol=1e-12)
        assert not np.shares_memory(s.eta, data.work)
        loss, _ = data.loss(s.eta)
        assert s.loss == pytest.approx(loss, rel=1e-13)
    for a in range(len(solutions)):
        for b in range(a + 1, len(solutions)):
            assert not np.shares_memory(solutions[a].eta, solutions[b].eta) or (
                solutions[a].eta is solutions[b].eta and solutions[b].n_iter == 0
            )


@pytest.mark.parametrize("group", [False, True])
def test_predicted_coefficients_equal_the_clipped_line(group):
    rng = np.random.default_rng(6)
    p, K = 30, 5
    W1, W2 = rng.standard_normal((p, K)), rng.standard_normal((p, K))
    W1[rng.random((p, K)) < 0.3] = 0.0  # zero in W_1: kept zero
    W2[:4] = -3.0 * W1[:4]  # the line flips these signs
    factor = np.ones(p)
    factor[7] = 0.0  # unpenalized: never clipped
    W1[7, 0] = 0.0
    t = 0.7
    line = W1 + t * (W1 - W2)
    clip = (factor > 0)[:, None] & ((W1 == 0) | (line * W1 < 0)) & (not group)
    clip_rows = (factor > 0) & (not group)
    W, cut = np.full((p, K), np.nan), np.full((p, K), np.nan)
    clipped = predicted_coefficients(W1, W2, t, clip_rows, W, cut)
    assert clipped == bool(clip.any()) and clipped != group
    np.testing.assert_allclose(W, np.where(clip, 0.0, line), rtol=0, atol=1e-14)  # (an FMA)
    np.testing.assert_allclose(cut, np.where(clip, line, 0.0), rtol=0, atol=1e-14)
    assert W[7, 0] != 0.0 and not clip[7].any()


@pytest.mark.parametrize("sparse", [False, True])
def test_a_probability_underflowing_to_zero_is_not_an_error(sparse):
    # the loss's exp runs under errstate(under="ignore"): a user's np.seterr(under="raise")
    # must not turn a probability of 0 (eta - max below about -745) into an error
    rng = np.random.default_rng(3)
    n, p, K = 30, 6, 3
    X = sp.random(n, p, density=0.5, random_state=1, format="csr")
    data = ColumnData.from_arrays(
        X if sparse else X.toarray(), rng.integers(0, K, n), K, None, True
    )
    eta = data.empty_predictor()
    eta[:] = 0.0
    eta[0] = 800.0
    with np.errstate(all="raise"):
        loss, P = data.loss(eta)
        _, point = data.evaluate(eta)
    assert np.all(P[1:] == 0.0) and np.all(P[0] == 1.0)
    np.testing.assert_allclose(point.P[0], 1.0)
    picked = (data.codes != 0).astype(float)
    assert loss == pytest.approx(800.0 * float(data.weights @ picked), rel=1e-12)
