"""Regularization paths of the lasso family: KKT conditions at every alpha (checked with an
independent numpy gradient), alpha_max, dense = sparse, weights = repeated rows, float32,
and the interface of :func:`mnlogit.regularization_path`."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

import mnlogit
from lasso_checks import sparse_truth_data
from mnlogit import RegularizationPath, regularization_path
from mnlogit.exceptions import InvalidInputError


def _data(n=300, p=12, K=3, seed=0, density=None):
    return sparse_truth_data(n, p, K, seed, density, informative=4)


def _gradient(X, y, W, b, w):
    """The mean weighted loss's gradient (p, K) and intercept part (K,), from scratch."""
    K = W.shape[1]
    P = softmax(np.asarray(X @ W) + b, axis=1)
    R = (P - np.eye(K)[y]) * (w / w.sum())[:, None]
    return np.asarray(X.T @ R), R.sum(axis=0)


def _kkt_violation(X, y, path, w=None, l=None):
    """Largest violation of the optimality conditions over the path (or at index ``l``)."""
    n = X.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    worst = 0.0
    items = range(path.alphas.size) if l is None else [l]
    for i in items:
        W, b, alpha = path.coef[i].T, path.intercept[i], path.alphas[i]
        G, g0 = _gradient(X, y, W, b, w)
        lam1 = alpha * path.penalty_factor * path.l1_ratio
        lam2 = alpha * path.penalty_factor * (1 - path.l1_ratio)
        r = G + lam2[:, None] * W
        if path.penalty == "group":
            nw = np.linalg.norm(W, axis=1)
            nz = nw > 0
            v = np.maximum(np.linalg.norm(r, axis=1) - lam1, 0.0)
            v[nz] = np.linalg.norm(r[nz] + lam1[nz, None] * W[nz] / nw[nz, None], axis=1)
        else:
            v = np.where(
                W != 0,
                np.abs(r + lam1[:, None] * np.sign(W)),
                np.maximum(np.abs(r) - lam1[:, None], 0),
            )
            v = v.max(axis=1)
        scale = np.sqrt(
            np.asarray(X.multiply(X).T @ (w / w.sum()))
            if sp.issparse(X)
            else (X * X).T @ (w / w.sum())
        ).ravel()
        worst = max(worst, float(np.max(v / scale)), float(np.abs(g0).max()))
    return worst


@pytest.mark.parametrize(
    ("penalty", "l1_ratio"), [("l1", None), ("elasticnet", 0.5), ("group", None), ("group", 0.3)]
)
def test_kkt_at_every_alpha_dense(penalty, l1_ratio):
    X, y = _data()
    path = regularization_path(
        X, y, penalty=penalty, l1_ratio=l1_ratio, n_alphas=20, alpha_min_ratio=0.01
    )
    assert isinstance(path, RegularizationPath)
    assert path.converged.all()
    assert np.all(np.diff(path.alphas) < 0)
    assert _kkt_violation(X, y, path) < 1e-6
    assert path.n_nonzero[0] == 0 and path.n_nonzero[-1] > 4
    assert np.all(np.diff(path.deviance_ratio) >= -1e-9)
    assert np.allclose(path.intercept.sum(axis=1), 0.0, atol=1e-12)


def test_kkt_sparse_x_with_weights_and_penalty_factors():
    X, y = _data(n=400, p=30, K=4, density=0.2)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.2, 3.0, X.shape[0])
    factor = rng.uniform(0.5, 2.0, X.shape[1])
    factor[[0, 5]] = 0.0  # unpenalized
    path = regularization_path(
        X, y, sample_weight=w, penalty_factor=factor, n_alphas=15, alpha_min_ratio=0.02
    )
    assert path.converged.all()
    assert _kkt_violation(X, y, path, w) < 1e-6
    # unpenalized features are in the model from the first alpha on
    assert np.all(np.any(path.coef[:, :, [0, 5]] != 0, axis=1))
    group = regularization_path(
        X, y, penalty="group", sample_weight=w, penalty_factor=factor, n_alphas=10
    )
    assert _kkt_violation(X, y, group, w) < 1e-6


def test_alpha_max_zeroes_every_penalized_coefficient_exactly():
    X, y = _data(seed=3)
    path = regularization_path(X, y, n_alphas=5)
    a_max = path.alphas[0]
    assert np.all(path.coef[0] == 0)
    below = regularization_path(X, y, alphas=[a_max * (1 - 1e-6), a_max * 0.999])
    assert np.any(below.coef[1] != 0)
    # at alpha_max the KKT condition holds with equality for some feature
    G, _ = _gradient(X, y, path.coef[0].T, path.intercept[0], np.ones(len(y)))
    assert np.isclose(np.abs(G).max(), a_max, rtol=1e-6)


def test_dense_and_sparse_and_float32_agree():
    X, y = _data(n=250, p=15, seed=5)
    kwargs = dict(n_alphas=10, alpha_min_ratio=0.05, tol=1e-9)
    dense = regularization_path(X, y, **kwargs)
    sparse = regularization_path(sp.csr_matrix(X), y, **kwargs)
    single = regularization_path(X.astype(np.float32), y, **kwargs)
    np.testing.assert_allclose(sparse.coef, dense.coef, atol=1e-7)
    np.testing.assert_allclose(sparse.objective, dense.objective, rtol=1e-12)
    # float32 X is solved as is (float64 sums): the optimum of the rounded numbers
    X32 = X.astype(np.float32).astype(np.float64)
    again = regularization_path(X32, y, **kwargs)
    np.testing.assert_allclose(single.coef, again.coef, atol=1e-7)


def test_weights_equal_repeated_rows():
    X, y = _data(n=120, p=8, seed=7)
    counts = np.random.default_rng(2).integers(1, 4, size=len(y))
    kwargs = dict(penalty="elasticnet", l1_ratio=0.7, alphas=[0.1, 0.03, 0.01], tol=1e-10)
    weighted = regularization_path(X, y, sample_weight=counts, **kwargs)
    repeated = regularization_path(np.repeat(X, counts, axis=0), np.repeat(y, counts), **kwargs)
    np.testing.assert_allclose(weighted.coef, repeated.coef, atol=1e-7)


def test_path_metadata_and_names():
    import pandas as pd

    X, y = _data(n=100, p=4, seed=8)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    labels = np.array(["lo", "mid", "hi"])[y]
    path = mnlogit.regularization_path(frame, labels, n_alphas=7)
    assert path.feature_names == ("a", "b", "c", "d")
    assert list(path.classes) == ["hi", "lo", "mid"]
    assert path.coef.shape == (7, 3, 4) and path.intercept.shape == (7, 3)
    assert path.alphas[-1] == pytest.approx(path.alphas[0] * 1e-4)  # n > p: glmnet's 1e-4
    assert path.penalty == "l1" and path.l1_ratio == 1.0
    assert regularization_path(X, y).alphas.size == 100


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"penalty": "elasticnet"}, "l1_ratio"),
        ({"penalty": "l1", "l1_ratio": 0.5}, "elasticnet"),
        ({"penalty": "lasso"}, "penalty"),
        ({"penalty_factor": [1.0, 2.0]}, "penalty_factor"),
        ({"penalty_factor": [-1.0, 1, 1, 1]}, "non-negative"),
        ({"penalty_factor": [0.0, 0, 0, 0]}, "alphas="),
    ],
)
def test_refusals(kwargs, match):
    X, y = _data(n=60, p=4)
    with pytest.raises(InvalidInputError, match=match):
        regularization_path(X, y, **kwargs)


def _objective(X, y, path, i):
    """Mean NLL + alpha * penalty at the ``i``-th solution, recomputed with numpy."""
    W, b, alpha = path.coef[i].T, path.intercept[i], path.alphas[i]
    eta = np.asarray(X @ W) + b
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loss = float(np.mean(lse - eta[np.arange(y.size), y]))
    first = np.linalg.norm(W, axis=1) if path.penalty == "group" else np.abs(W).sum(axis=1)
    return loss + alpha * float(first.sum())


@pytest.mark.parametrize(("penalty", "density"), [("l1", None), ("group", None), ("l1", 0.05)])
def test_default_tol_reaches_the_objective_within_1e_8(penalty, density):
    # the default KKT tolerance (docs/penalties.md, "The default tolerance") must leave every
    # alpha's objective within 1e-8 of a tightly solved path on the same grid
    X, y = _data(n=1500, p=60, K=4, seed=3, density=density)
    default = regularization_path(X, y, penalty=penalty, n_alphas=30, alpha_min_ratio=0.01)
    tight = regularization_path(X, y, penalty=penalty, alphas=default.alphas, tol=1e-11)
    assert mnlogit.path.DEFAULT_TOL == 1e-6
    assert default.converged.all() and tight.converged.all()
    excess = [
        _objective(X, y, default, i) - _objective(X, y, tight, i)
        for i in range(default.alphas.size)
    ]
    assert max(excess) <= 1e-8
    assert min(excess) >= -1e-12  # the tight path is the better one
