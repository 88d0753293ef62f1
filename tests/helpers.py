"""Synthetic data shared by the tests (imported as ``helpers``; tests/ is on pythonpath)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def make_data(
    n: int = 400,
    p: int = 3,
    K: int = 3,
    seed: int = 0,
    scale: float = 0.7,
    unequal: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Draw ``(X, y, B)`` from a multinomial logit with well-conditioned features.

    ``X`` is (n, p) standard normal (columns given different means), ``B`` is the true
    (p + 1, K) coefficient matrix with column 0 zero, and ``y`` (n,) holds codes 0..K-1.
    With ``unequal`` the intercepts make class sizes unequal. Labels always include all
    K classes (the draw is repeated with another seed if one is missing).
    """
    rng = np.random.default_rng(seed)
    for _ in range(100):
        X = rng.standard_normal((n, p)) + rng.uniform(-1, 1, size=p)
        B = scale * rng.standard_normal((p + 1, K))
        if unequal:
            B[0] = np.linspace(0.8, -0.8, K)
        B[:, 0] = 0.0
        eta = B[0] + X @ B[1:]
        prob = np.exp(eta - eta.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        u = rng.uniform(size=(n, 1))
        y = (u > np.cumsum(prob, axis=1)).sum(axis=1)
        y = np.minimum(y, K - 1)
        if np.unique(y).size == K:
            return X, y.astype(np.int64), B
    raise RuntimeError("could not draw data containing every class")


def fd_jacobian(F, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of a vector function (column j = d F / d theta_j)."""
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        cols.append((F(theta + e) - F(theta - e)) / (2 * h))
    return np.column_stack(cols)


def hessian_by_definition(Y, P1, w, T=None):
    """The loss Hessian from its definition, for checking the kernels.

    Blocks ``Yᵀ diag(w P_a (δ_ac − P_c)) Y`` (float64) for the free classes' probabilities
    ``P1`` (``n × k1``) and design ``Y`` (``n × p1``), then ``(T ⊗ I) H (T ⊗ I)ᵀ`` when a
    class map ``T`` is given.
    """
    k1, p1 = P1.shape[1], Y.shape[1]
    H = np.zeros((k1 * p1, k1 * p1))
    for a in range(k1):
        for c in range(k1):
            h = w * P1[:, a] * (float(a == c) - P1[:, c])
            H[a * p1 : (a + 1) * p1, c * p1 : (c + 1) * p1] = Y.T @ (h[:, None] * Y)
    if T is None:
        return H
    TI = np.kron(T, np.eye(p1))
    return TI @ H @ TI.T


def rare_indicator_problem(seed: int = 0, n: int = 10_001) -> tuple[np.ndarray, np.ndarray]:
    """Issue 16's quasi-separation: three normal features and an indicator of five rows,
    all of class 2 (of 3 random classes). X of shape (n, 4), y of shape (n,)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = rng.integers(0, 3, n)
    rows = rng.choice(n, 5, replace=False)
    indicator = np.zeros(n)
    indicator[rows] = 1.0
    y[rows] = 2
    return np.column_stack([X, indicator]), y


def assert_exact_newtons_fit(model, X: np.ndarray, y: np.ndarray) -> None:
    """``model`` (a default fit) reached the fit of exact Newton at ``tol=1e-10`` on the same
    data: the objective to 1e-12, the coefficients to 1e-5 and the standard errors to 1e-5."""
    import pytest
    from numpy.testing import assert_allclose

    from mnlogit import MultinomialLogit

    newton = MultinomialLogit(solver="newton", tol=1e-10).fit(X, y)
    assert model.convergence_.objective == pytest.approx(newton.convergence_.objective, rel=1e-12)
    assert_allclose(model.coef_, newton.coef_, rtol=1e-5, atol=1e-7)
    se = np.sqrt(np.diag(model.cov_params().to_numpy()))
    se_newton = np.sqrt(np.diag(newton.cov_params().to_numpy()))
    assert_allclose(se, se_newton, rtol=1e-5)
