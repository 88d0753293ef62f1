"""The grouped lasso's path with extrapolated warm starts (issue 14, issue-group7): the start
is the line through the two previous solutions with its linear predictor, it falls back to
the previous solution when it should, and the path it gives equals the one from plain warm
starts (same optimum, every alpha's KKT conditions checked in numpy)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from lasso_checks import assert_same_group_paths, group_objective
from mnlogit import regularization_path
from mnlogit.objective.sparse_penalties import SparsePenalty
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.proximal_newton import ColumnData, _predicted_start, null_model, solve_path


def _data(n=400, p=15, K=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)
    B = np.zeros((p, K))
    B[:5] = rng.standard_normal((5, K))
    eta = X @ B + rng.standard_normal(K) * 0.3
    y = np.array([rng.choice(K, p=q) for q in softmax(eta, axis=1)])
    return X, y


def _two_solutions(X, y, alphas):
    """Solutions at ``alphas[0]`` and ``alphas[1]`` (plain warm starts), with their data and
    penalty."""
    data = ColumnData.from_arrays(X, y, int(y.max()) + 1, None, True)
    penalty = SparsePenalty("group", 1.0, np.ones(X.shape[1]))
    null = null_model(data, penalty, 1e-10, 100)
    sols = solve_path(data, penalty, np.asarray(alphas[:2]), 1e-10, 100, null, alphas[0] * 1.5)
    return data, penalty, sols


def test_predicted_start_is_the_line_through_the_two_solutions(monkeypatch):
    monkeypatch.setattr(proximal_newton, "PATH_PREDICTOR_GROUP", False)
    X, y = _data()
    alphas = (0.02, 0.015, 0.0112)
    data, penalty, (before, state) = _two_solutions(X, y, alphas)
    assert np.array_equal(np.any(before.W != 0, axis=1), np.any(state.W != 0, axis=1))
    start = _predicted_start(data, penalty, alphas[::-1], state, before)
    assert start is not state
    c = min(np.log(alphas[2] / alphas[1]) / np.log(alphas[1] / alphas[0]), 1.0)
    np.testing.assert_allclose(start.W, state.W + c * (state.W - before.W), rtol=1e-14)
    np.testing.assert_allclose(start.b, state.b + c * (state.b - before.b), rtol=1e-14)
    np.testing.assert_allclose(start.eta, (X @ start.W + start.b).T, rtol=1e-10, atol=1e-12)
    assert start.G is state.G  # the strong rule reads the previous solution's gradient
    here = group_objective(X, y, start.W, start.b, alphas[2])
    assert here < group_objective(X, y, state.W, state.b, alphas[2])


def test_predicted_start_falls_back_to_the_previous_solution(monkeypatch):
    monkeypatch.setattr(proximal_newton, "PATH_PREDICTOR_GROUP", False)
    X, y = _data(seed=2)
    alphas = (0.02, 0.015, 0.0112)
    data, penalty, (before, state) = _two_solutions(X, y, alphas)
    assert np.array_equal(np.any(before.W != 0, axis=1), np.any(state.W != 0, axis=1))
    # a feature nonzero before, zero now: the line would bring it back with the other sign
    gone = int(np.flatnonzero(~np.any(state.W != 0, axis=1))[0])
    left = proximal_newton.SparseSolution(
        before.W.copy(), before.b, before.G, 0.0, 0.0, 0.0, True, 0, before.eta
    )
    left.W[gone] = 0.1
    assert _predicted_start(data, penalty, alphas[::-1], state, left) is state
    # a line that raises the objective
    far = proximal_newton.SparseSolution(
        state.W - 50 * (state.W - before.W), state.b, before.G, 0.0, 0.0, 0.0, True, 0,
        state.eta - 50 * (state.eta - before.eta),
    )  # fmt: skip
    assert _predicted_start(data, penalty, alphas[::-1], state, far) is state
    # not a decreasing triple (the first alpha of a grid starting at alpha_max)
    assert _predicted_start(data, penalty, (0.01, 0.02, 0.02), state, before) is state


@pytest.mark.parametrize(
    ("sparse", "dtype", "weighted"),
    [(False, np.float64, False), (False, np.float32, True), (True, np.float64, True)],
)
def test_group_path_with_extrapolation_equals_the_plain_path(monkeypatch, sparse, dtype, weighted):
    X, y = _data(n=500, p=20, K=3, seed=4)
    sw = np.random.default_rng(1).uniform(0.3, 2.0, y.size) if weighted else np.ones(y.size)
    Xc: Any = X.astype(dtype)
    if sparse:
        Xc[np.random.default_rng(2).random(X.shape) < 0.6] = 0.0
        Xc = sp.csr_matrix(Xc)
    kwargs = dict(penalty="group", n_alphas=25, alpha_min_ratio=0.01, tol=1e-8)
    paths = {}
    for on in (False, True):
        monkeypatch.setattr(proximal_newton, "PATH_PREDICTOR_GROUP", on)
        paths[on] = regularization_path(Xc, y, sample_weight=sw if weighted else None, **kwargs)
    plain, fast = paths[False], paths[True]
    np.testing.assert_array_equal(plain.alphas, fast.alphas)
    assert fast.converged.all() and plain.converged.all()
    assert fast.n_iter.sum() < plain.n_iter.sum()  # the point of it: fewer outer steps
    X64 = Xc.astype(np.float64)
    assert_same_group_paths(X64, y, fast, plain, sw)


def test_sparse_group_path_extrapolates_by_default(monkeypatch):
    """With sparse X the extrapolated starts are on by default (``PATH_PREDICTOR_SPARSE_GROUP``,
    issue-group10, with the sparse group's inner tolerance ``INNER_FRACTION_SPARSE_GROUP``):
    fewer outer steps than with them off, and the same path (KKT in numpy at every alpha,
    objectives equal to the plain path's)."""
    X, y = _data(n=300, p=12, K=3, seed=6)
    X[np.random.default_rng(3).random(X.shape) < 0.6] = 0.0
    Xs = sp.csr_matrix(X)
    kwargs = dict(penalty="group", n_alphas=15, alpha_min_ratio=0.02, tol=1e-8)
    default = regularization_path(Xs, y, **kwargs)
    monkeypatch.setattr(proximal_newton, "PATH_PREDICTOR_SPARSE_GROUP", False)
    plain = regularization_path(Xs, y, **kwargs)
    assert default.n_iter.sum() < plain.n_iter.sum()
    assert default.converged.all() and plain.converged.all()
    assert_same_group_paths(Xs, y, default, plain, np.ones(y.size))
