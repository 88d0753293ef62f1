"""The conjugate-gradient solve on the lasso's settled support (``support_cg``) and the inner
method that uses it: the restricted minimizer against one built from finite differences of
the loss gradient, no sign change, descent, and paths equal to coordinate descent alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from lasso_checks import sparse_truth_data
from mnlogit import regularization_path
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.proximal_newton import ColumnData
from mnlogit.solvers.support_cg import support_cg


def _loss_gradient(X, codes, w, W, b):
    """Gradient (p, K) and intercept part (K,) of the mean weighted loss, in numpy."""
    K = W.shape[1]
    P = softmax(np.asarray(X @ W) + b, axis=1)
    R = (P - np.eye(K)[codes]) * w[:, None]
    return np.asarray(X.T @ R), R.sum(axis=0)


def _hessian_times(X, codes, w, b0, dW, db, eps=1e-5):
    """The loss Hessian at ``(0, b0)`` times ``(dW, db)``, by central differences."""
    Gp, gp = _loss_gradient(X, codes, w, eps * dW, b0 + eps * db)
    Gm, gm = _loss_gradient(X, codes, w, -eps * dW, b0 - eps * db)
    return (Gp - Gm) / (2 * eps), (gp - gm) / (2 * eps)


def _problem(sparse, dtype, lam2_scale, seed=0, n=120, p=7, K=4):
    """Centre ``(0, b0)``, a support with at most ``K - 1`` classes per feature, a target
    ``(T, bT)`` on it, and the gradient that makes the target the restricted minimizer of
    the model plus the (linear on the support) penalty."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(dtype)
    if sparse:
        X[rng.random(X.shape) < 0.6] = 0.0
    Xs: Any = sp.csr_matrix(X) if sparse else X
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.3, 2.0, n)
    data = ColumnData.from_arrays(Xs, codes, K, sw, True)
    X64 = np.asarray(X, dtype=np.float64)
    b0 = rng.standard_normal(K) * 0.5
    support = rng.random((p, K)) < 0.5
    support[:, -1] = False  # no feature with all K classes (no flat direction in W)
    support[0, 0] = True
    T = np.where(support, rng.choice([-1.0, 1.0], (p, K)) * rng.uniform(0.3, 1.0, (p, K)), 0.0)
    bT = b0 + rng.standard_normal(K) * 0.2
    lam1 = rng.uniform(0.01, 0.05, p)
    lam2 = lam2_scale * rng.uniform(0.01, 0.05, p)
    HT, hb = _hessian_times(X64, codes, data.weights, b0, T, bT - b0)
    G = -(HT + lam1[:, None] * np.sign(T) + lam2[:, None] * T)
    g0 = -hb
    return data, X64, codes, b0, support, T, bT, G, g0, lam1, lam2


def _run(data, X64, b0, G, g0, lam1, lam2, W, b, project, tol=1e-10, max_iter=500):
    """``support_cg`` from ``(W, b)`` with the model centred at ``(0, b0)``."""
    K = data.n_classes
    P = data.empty_predictor()
    P[:] = softmax(np.zeros((data.n_rows, K)) + b0, axis=1).T
    wP = P * data.weights
    h = (X64 * X64).T @ (data.weights[:, None] * (P * (1 - P)).T)
    D = data.empty_predictor()
    D[:] = (X64 @ W + (b - b0)).T
    pd = (P * D).sum(axis=0)
    work = data.empty_predictor()
    features = np.arange(X64.shape[1], dtype=np.intp)
    products = support_cg(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, wP, G, g0, True, lam1, lam2, h, data.rms, W, b, D, pd, work, tol, max_iter, project,
    )  # fmt: skip
    return products, D, pd, P


def _model_plus_penalty(X64, data, b0, G, g0, lam1, lam2, W, b):
    """The quadratic model (Hessian by finite differences) plus the penalty at ``(W, b)``."""
    HW, hb = _hessian_times(X64, np.asarray(data.codes), data.weights, b0, W, b - b0)
    quad = 0.5 * (np.sum(W * HW) + (b - b0) @ hb)
    pen = np.sum(lam1 * np.abs(W).sum(axis=1) + 0.5 * lam2 * (W * W).sum(axis=1))
    return float(np.sum(G * W) + g0 @ (b - b0) + quad + pen)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lam2_scale", [0.0, 1.0])
@pytest.mark.parametrize("project", [False, True])
def test_support_cg_reaches_the_restricted_minimizer(sparse, dtype, lam2_scale, project):
    data, X64, _, b0, _, T, bT, G, g0, lam1, lam2 = _problem(sparse, dtype, lam2_scale)
    rng = np.random.default_rng(1)
    W = T * rng.uniform(0.6, 1.4, T.shape)  # same signs, same support
    b = b0.copy()
    products, D, pd, P = _run(data, X64, b0, G, g0, lam1, lam2, W, b, project)
    assert 0 < products < 100
    np.testing.assert_allclose(W, T, atol=1e-7)
    np.testing.assert_allclose(b - b.mean(), bT - bT.mean(), atol=1e-7)
    # the maintained predictor change moved with the coefficients
    np.testing.assert_allclose(D, (X64 @ W + (b - b0)).T, atol=1e-10)
    np.testing.assert_allclose(pd, (P * D).sum(axis=0), atol=1e-10)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("project", [False, True])
def test_support_cg_stops_a_coordinate_at_zero_and_descends(sparse, project):
    # project=False: a step reaching zero stops there (descent guaranteed); project=True:
    # the solve runs to the restricted minimizer and then zeroes the coordinate that crossed
    data, X64, _, b0, support, T, _, G, g0, lam1, lam2 = _problem(sparse, np.float64, 1.0)
    W = T.copy()
    W[0, 0] = -0.5 * T[0, 0]  # the minimizer lies across zero for this coordinate
    W[support & (W == 0)] = 0.1  # stays a support coordinate
    start = W.copy()
    b = b0.copy()
    before = _model_plus_penalty(X64, data, b0, G, g0, lam1, lam2, W, b)
    products, D, pd, P = _run(data, X64, b0, G, g0, lam1, lam2, W, b, project)
    assert products > 0
    assert np.all(W * start >= 0)  # no coordinate changed sign
    assert np.all(W[start == 0] == 0)  # nothing off the support moved
    assert W[0, 0] == 0.0  # the one that would have crossed stops at zero
    after = _model_plus_penalty(X64, data, b0, G, g0, lam1, lam2, W, b)
    assert after < before - 1e-6
    np.testing.assert_allclose(D, (X64 @ W + (b - b0)).T, atol=1e-10)
    np.testing.assert_allclose(pd, (P * D).sum(axis=0), atol=1e-10)


def _data(n, p, K, seed, density=None):
    return sparse_truth_data(n, p, K, seed, density, informative=p // 2, scale=1.0, shift=None)


@pytest.fixture
def counted(monkeypatch):
    """Count the support solves' products while a test runs."""
    counts = {"products": 0}
    inner = proximal_newton.cd_quadratic

    def wrapped(*args):
        sweeps, products = inner(*args)
        counts["products"] += int(products)
        return sweeps, products

    monkeypatch.setattr(proximal_newton, "cd_quadratic", wrapped)
    return counts


@pytest.mark.parametrize(
    ("penalty", "l1_ratio", "density", "dtype", "weighted"),
    [
        ("l1", None, None, np.float64, False),
        ("l1", None, 0.1, np.float64, True),
        ("elasticnet", 0.5, None, np.float32, True),
        ("elasticnet", 0.7, 0.1, np.float32, False),
    ],
)
def test_path_equals_coordinate_descent_alone(
    monkeypatch, counted, penalty, l1_ratio, density, dtype, weighted
):
    X, y = _data(600, 40, 4, seed=7, density=density)
    X = X.astype(dtype)
    rng = np.random.default_rng(2)
    w = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    factor = rng.uniform(0.5, 2.0, X.shape[1])
    factor[3] = 0.0
    kwargs = dict(
        penalty=penalty, l1_ratio=l1_ratio, sample_weight=w, penalty_factor=factor,
        n_alphas=25, alpha_min_ratio=0.005, tol=1e-8,
    )  # fmt: skip
    monkeypatch.setattr(proximal_newton, "SUPPORT_NEWTON", True)
    monkeypatch.setattr(proximal_newton, "SUPPORT_NEWTON_DENSE", True)
    with_cg = regularization_path(X, y, **kwargs)
    assert counted["products"] > 0  # the support solves ran
    monkeypatch.setattr(proximal_newton, "SUPPORT_NEWTON", False)
    counted["products"] = 0
    alone = regularization_path(X, y, **kwargs)
    assert counted["products"] == 0
    assert with_cg.converged.all() and alone.converged.all()
    np.testing.assert_allclose(with_cg.objective, alone.objective, rtol=0, atol=1e-8)
    # the coefficients themselves are not unique (a row's shift inside its median interval
    # leaves the loss and an even-K lasso penalty unchanged); the fitted probabilities are
    for i in range(with_cg.alphas.size):
        probs = [
            softmax(np.asarray(X @ path.coef[i].T, dtype=np.float64) + path.intercept[i], axis=1)
            for path in (with_cg, alone)
        ]
        np.testing.assert_allclose(probs[0], probs[1], rtol=0, atol=1e-5)
