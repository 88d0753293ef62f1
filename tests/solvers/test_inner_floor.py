"""The inner solves' tolerance floor (``INNER_FLOOR_DENSE_LASSO`` for the lasso and the
elastic net with dense X, ``INNER_FLOOR`` for the group penalty and sparse X): the floor only
decides where an inner solve stops, never the answer — the outer KKT check does. Paths whose
last inner solves stop above ``tol`` still satisfy the KKT conditions to ``tol`` (from an
independent gradient) and reach the tight path's objectives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from mnlogit import regularization_path
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.proximal_newton import ColumnData

TOL = 1e-6


# (the same problem and independent checks as tests/solvers/test_path_predictor.py)
def _data(n=300, p=12, K=3, seed=0, density=None):
    rng = np.random.default_rng(seed)
    if density is None:
        X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)
    else:
        X = sp.random(n, p, density=density, random_state=seed, format="csr") * 3.0
    B = np.zeros((p, K))
    B[:5] = rng.standard_normal((5, K)) * 1.5
    eta = np.asarray(X @ B) + rng.standard_normal(K) * 0.3
    y = np.array([rng.choice(K, p=q) for q in softmax(eta, axis=1)])
    return X, y


def _objective(X, y, W, b, alpha, factor, l1_ratio, w):
    """Mean weighted loss + alpha * elastic-net penalty, from scratch."""
    eta = np.asarray(X @ W) + b
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loss = float(w @ (lse - eta[np.arange(len(y)), y]) / w.sum())
    first = np.abs(W).sum(axis=1)
    sq = (W * W).sum(axis=1)
    return loss + alpha * float(factor @ (l1_ratio * first + 0.5 * (1 - l1_ratio) * sq))


def _kkt(X, y, path, w):
    """Largest standardized KKT residual over the path, from an independent gradient."""
    worst = 0.0
    K = path.coef.shape[1]
    for i, alpha in enumerate(path.alphas):
        W, b = path.coef[i].T, path.intercept[i]
        P = softmax(np.asarray(X @ W) + b, axis=1)
        R = (P - np.eye(K)[y]) * (w / w.sum())[:, None]
        G = np.asarray(X.T @ R) + alpha * (path.penalty_factor * (1 - path.l1_ratio))[:, None] * W
        lam1 = alpha * path.penalty_factor * path.l1_ratio
        v = np.where(W != 0, np.abs(G + lam1[:, None] * np.sign(W)), np.abs(G) - lam1[:, None])
        Xsq = X.multiply(X) if sp.issparse(X) else X * X
        scale = np.sqrt(np.asarray(Xsq.T @ (w / w.sum())).ravel())
        worst = max(worst, float(np.max(np.maximum(v, 0).max(axis=1) / scale)))
        worst = max(worst, float(np.abs(R.sum(axis=0)).max()))
    return worst


def _objectives(X, y, path):
    w = np.ones(len(y))
    return np.array(
        [
            _objective(
                X, y, path.coef[i].T, path.intercept[i], a, path.penalty_factor, path.l1_ratio, w
            )
            for i, a in enumerate(path.alphas)
        ]
    )


@pytest.mark.parametrize("floor", [2.0, 20.0])
@pytest.mark.parametrize(
    ("dtype", "penalty", "l1_ratio"),
    [(np.float64, "l1", None), (np.float32, "l1", None), (np.float64, "elasticnet", 0.5)],
)
def test_floor_above_tol_keeps_the_answer(monkeypatch, floor, dtype, penalty, l1_ratio):
    X, y = _data()
    X = X.astype(dtype)
    kwargs = dict(penalty=penalty, l1_ratio=l1_ratio, n_alphas=12, alpha_min_ratio=0.01)
    tight = regularization_path(X, y, tol=1e-10, **kwargs)
    monkeypatch.setattr(proximal_newton, "INNER_FLOOR_DENSE_LASSO", floor)
    path = regularization_path(X, y, tol=TOL, **kwargs)
    assert path.converged.all()
    # the outer check decides: every alpha within tol from an independent gradient
    assert _kkt(X, y, path, np.ones(len(y))) <= TOL * (1 + 1e-6)
    gap = _objectives(X, y, path) - _objectives(X, y, tight)
    assert gap.max() < 1e-9


@pytest.mark.parametrize(("penalty", "sparse"), [("l1", False), ("l1", True), ("group", False)])
def test_inner_tolerance_floor_per_penalty(monkeypatch, penalty, sparse):
    """The inner tolerance is ``max(floor * tol, INNER_FRACTION * kkt)`` with the dense
    lasso's floor for the lasso on dense X, ``INNER_FLOOR`` otherwise."""
    seen: list[float] = []
    cd = ColumnData.cd

    def spy(self, features, P, G, g0, lam, group, W, b, D, tol):  # type: ignore[no-untyped-def]
        seen.append(tol)
        return cd(self, features, P, G, g0, lam, group, W, b, D, tol)

    monkeypatch.setattr(ColumnData, "cd", spy)
    X, y = _data()
    if sparse:
        X = sp.csr_matrix(X)
    regularization_path(X, y, penalty=penalty, n_alphas=12, alpha_min_ratio=0.01, tol=TOL)
    dense_lasso = penalty == "l1" and not sparse
    floor = proximal_newton.INNER_FLOOR_DENSE_LASSO if dense_lasso else proximal_newton.INNER_FLOOR
    assert proximal_newton.INNER_FLOOR_DENSE_LASSO != proximal_newton.INNER_FLOOR
    assert min(seen) == pytest.approx(floor * TOL, rel=1e-12)  # the floor binds somewhere
