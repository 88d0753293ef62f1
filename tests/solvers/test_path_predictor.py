"""The lasso path's predicted warm start (:func:`proximal_newton._predicted_start`): the
secant extrapolation of the two previous solutions, checked against numpy; paths with it
equal to paths without it (same optimum, KKT conditions from an independent gradient at
every alpha) on dense, sparse, float32, weighted and penalty-factor problems."""

from __future__ import annotations

import numpy as np
import pytest

from lasso_checks import path_kkt, penalized_objective, sparse_truth_data
from mnlogit import regularization_path
from mnlogit.objective.sparse_penalties import SparsePenalty
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.proximal_newton import ColumnData, SparseSolution, _predicted_start


@pytest.fixture
def no_predictor(monkeypatch):
    def solve(X, y, **kwargs):
        switches = ("PATH_PREDICTOR", "PATH_PREDICTOR_GROUP")
        saved = {name: getattr(proximal_newton, name) for name in switches}
        for name in switches:
            monkeypatch.setattr(proximal_newton, name, False)
        try:
            return regularization_path(X, y, **kwargs)
        finally:
            for name, value in saved.items():
                monkeypatch.setattr(proximal_newton, name, value)

    return solve


def _states(X, y, alphas, factor):
    """Two consecutive path solutions (as the solver holds them) and the ColumnData."""
    pen = SparsePenalty("l1", 1.0, factor)
    data = ColumnData.from_arrays(X, y, int(y.max()) + 1, None, True)
    path = regularization_path(X, y, alphas=alphas, penalty_factor=factor, tol=1e-10)
    states = []
    for i in range(2):
        W, b = path.coef[i].T.copy(), path.intercept[i].copy()
        eta = data.eta(W, b)
        loss = data.value(eta)
        states.append(SparseSolution(W, b, np.zeros_like(W), loss, 0.0, 0.0, True, 1, eta))
    return data, pen, path, states


def test_predicted_start_is_the_clipped_secant_and_its_predictor():
    X, y = sparse_truth_data(seed=1)
    factor = np.ones(X.shape[1])
    factor[2] = 0.0  # unpenalized: extrapolated without clipping
    alphas = [0.05, 0.03, 0.02]
    data, pen, _, (older, state) = _states(X, y, alphas, factor)
    guess = _predicted_start(data, pen, (alphas[2], alphas[1], alphas[0]), state, older)
    assert guess is not state
    t = np.log(alphas[1] / alphas[2]) / np.log(alphas[0] / alphas[1])
    W = state.W + t * (state.W - older.W)
    clip = (factor[:, None] > 0) & ((state.W == 0) | (np.sign(W) * np.sign(state.W) < 0))
    assert clip.any() and (~clip).any()
    W[clip] = 0.0
    b = state.b + t * (state.b - older.b)
    np.testing.assert_allclose(guess.W, W, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(guess.b, b, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(guess.eta, (X @ W + b).T, rtol=1e-11, atol=1e-12)
    # it is kept because it is better than the previous solution at the new alpha
    w = np.ones(len(y))
    new = penalized_objective(X, y, W, b, alphas[2], factor, 1.0, w)
    old = penalized_objective(X, y, state.W, state.b, alphas[2], factor, 1.0, w)
    assert new < old
    # and the gradient the strong rule reads is the previous solution's
    assert guess.G is state.G


def test_predicted_start_falls_back_when_the_guess_is_worse():
    X, y = sparse_truth_data(seed=2)
    factor = np.ones(X.shape[1])
    alphas = [0.05, 0.03, 0.02]
    data, pen, _, (older, state) = _states(X, y, alphas, factor)
    # an "older" solution far away: the secant overshoots and its objective is higher
    eta = data.eta(-5.0 * state.W, state.b)
    far = SparseSolution(-5.0 * state.W, state.b, state.G, data.value(eta), 0.0, 0.0, True, 1, eta)
    guess = _predicted_start(data, pen, (alphas[2], alphas[1], alphas[0]), state, far)
    assert guess is state
    # grid steps that do not decrease: no extrapolation
    assert _predicted_start(data, pen, (0.02, 0.03, 0.03), state, older) is state


@pytest.mark.parametrize(
    "case",
    ["dense", "sparse", "float32", "weights-factors", "elasticnet", "irregular-grid", "group"],
)
def test_paths_with_and_without_the_predictor_reach_the_same_optimum(
    case, no_predictor, monkeypatch
):
    X, y = sparse_truth_data(n=400, p=20, K=4, seed=3, density=0.3 if case == "sparse" else None)
    w = np.ones(len(y))
    kwargs: dict = dict(n_alphas=15, alpha_min_ratio=0.01, tol=1e-9)
    if case == "float32":
        X = X.astype(np.float32)
    if case == "weights-factors":
        rng = np.random.default_rng(4)
        w = rng.uniform(0.2, 3.0, len(y))
        factor = rng.uniform(0.5, 2.0, X.shape[1])
        factor[[1, 7]] = 0.0
        kwargs.update(sample_weight=w, penalty_factor=factor)
    if case == "elasticnet":
        kwargs.update(penalty="elasticnet", l1_ratio=0.6)
    if case == "irregular-grid":
        kwargs = dict(alphas=[0.08, 0.07, 0.04, 0.035, 0.01, 0.009, 0.002], tol=1e-9)
    if case == "group":  # (its KKT conditions at every alpha: tests/test_path.py)
        kwargs.update(penalty="group", sample_weight=np.random.default_rng(6).uniform(0.5, 2, 400))
        monkeypatch.setattr(proximal_newton, "PATH_PREDICTOR_GROUP", True)  # (the default)
    on = regularization_path(X, y, **kwargs)
    off = no_predictor(X, y, **kwargs)
    assert on.converged.all() and off.converged.all()
    np.testing.assert_allclose(on.objective, off.objective, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(on.n_nonzero, off.n_nonzero)
    if case == "group":
        return
    Xc = X.astype(np.float64)
    assert path_kkt(Xc, y, on, w) < 1e-8
    for i, alpha in enumerate(on.alphas):  # the reported objective is the true one
        value = penalized_objective(
            Xc, y, on.coef[i].T, on.intercept[i], alpha, on.penalty_factor, on.l1_ratio, w
        )
        assert value == pytest.approx(on.objective[i], rel=1e-10)


def test_the_predictor_saves_outer_iterations(no_predictor):
    X, y = sparse_truth_data(n=2000, p=40, K=4, seed=5)
    kwargs = dict(n_alphas=30, alpha_min_ratio=0.01, tol=1e-7)
    on = regularization_path(X, y, **kwargs)
    off = no_predictor(X, y, **kwargs)
    assert on.n_iter.sum() < off.n_iter.sum()
