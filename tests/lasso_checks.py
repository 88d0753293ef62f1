"""Independent checks shared by the lasso path tests (imported as ``lasso_checks``; tests/ is
on pythonpath): a problem with a sparse true model, the elastic-net objective and the KKT
residual of a path, and the inner solver's inputs at a model centre, each computed from
scratch in NumPy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax

__all__ = [
    "csc_arrays",
    "group_kkt",
    "group_objective",
    "inner_solve",
    "model_centre",
    "model_kkt",
    "path_kkt",
    "penalized_objective",
    "sparse_truth_data",
]


def sparse_truth_data(n=300, p=12, K=3, seed=0, density=None, informative=5, scale=1.5, shift=0.3):
    """Labels drawn from a model whose first ``informative`` features carry coefficients
    (normal times ``scale``), with class shifts (normal times ``shift``; ``None``: none,
    and no draw for them); X dense with column scales 0.5-3, or sparse CSR of ``density``."""
    rng = np.random.default_rng(seed)
    if density is None:
        X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)
    else:
        X = sp.random(n, p, density=density, random_state=seed, format="csr") * 3.0
    B = np.zeros((p, K))
    B[:informative] = rng.standard_normal((informative, K)) * scale
    eta = np.asarray(X @ B)
    if shift is not None:
        eta = eta + rng.standard_normal(K) * shift
    y = np.array([rng.choice(K, p=q) for q in softmax(eta, axis=1)])
    return X, y


def penalized_objective(X, y, W, b, alpha, factor, l1_ratio, w):
    """Mean weighted loss + alpha * elastic-net penalty, from scratch."""
    eta = np.asarray(X @ W) + b
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loss = float(w @ (lse - eta[np.arange(len(y)), y]) / w.sum())
    first = np.abs(W).sum(axis=1)
    sq = (W * W).sum(axis=1)
    return loss + alpha * float(factor @ (l1_ratio * first + 0.5 * (1 - l1_ratio) * sq))


def csc_arrays(X):
    """The CSC arrays ``(indptr, indices, data)`` of dense ``X`` (n, p), int32 indices, as the
    sparse kernels take them, built column by column (no scipy in between)."""
    cols = [np.flatnonzero(X[:, j]) for j in range(X.shape[1])]
    indptr = np.concatenate([[0], np.cumsum([c.size for c in cols])]).astype(np.int32)
    indices = np.concatenate(cols).astype(np.int32)
    data = np.concatenate([X[c, j] for j, c in enumerate(cols)])
    return indptr, indices, data


def sparse_sweep_problem(K, seed, n=300, p=14):
    """The common start of the sparse sweep kernels' test problems: X (n, p) with 85% zeros
    and column 5 empty, its CSC arrays (:func:`csc_arrays`), probabilities P (K, n), row
    weights w (n,) with every 11th row 0, and a gradient G (p, K); returned with the
    generator, which the rest of a problem draws from."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)
    X[rng.random(X.shape) < 0.85] = 0.0
    X[:, 5] = 0.0  # a column without stored values
    csc = csc_arrays(X)
    P = rng.dirichlet(np.ones(K), n).T
    w = rng.uniform(0.5, 2.0, n) / n
    w[::11] = 0.0  # rows of weight 0
    G = rng.standard_normal((p, K)) * 0.02
    return rng, X, csc, P, w, G


def assert_same_group_paths(X, y, path, other, sw):
    """Every alpha of the group path ``path`` meets the KKT conditions to 1e-8 (from
    :func:`group_kkt`) with the objective of ``other`` to 1e-12, and the supports agree."""
    for i, alpha in enumerate(path.alphas):
        W, b = path.coef[i].T, path.intercept[i]
        assert group_kkt(X, y, W, b, alpha, sw) <= 1e-8 * (1 + 1e-6)
        mine = group_objective(X, y, W, b, alpha, sw)
        theirs = group_objective(X, y, other.coef[i].T, other.intercept[i], alpha, sw)
        assert abs(mine - theirs) <= 1e-12
    assert np.array_equal(path.n_nonzero, other.n_nonzero)


def group_objective(X, y, W, b, alpha, sw=None):
    """Mean weighted NLL + alpha * sum_j ||W_j|| (the group lasso's objective), from scratch."""
    sw = np.ones(y.size) if sw is None else sw
    eta = np.asarray(X @ W) + b
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loss = float(sw @ (lse - eta[np.arange(y.size), y]) / sw.sum())
    return loss + alpha * float(np.linalg.norm(W, axis=1).sum())


def group_kkt(X, y, W, b, alpha, sw):
    """Largest standardized group KKT residual and intercept gradient, from scratch (a
    column without weight counts as of unit scale)."""
    K = W.shape[1]
    w = sw / sw.sum()
    P = softmax(np.asarray(X @ W) + b, axis=1)
    R = (P - np.eye(K)[y]) * w[:, None]
    G = np.asarray(X.T @ R)
    nw = np.linalg.norm(W, axis=1)
    v = np.maximum(np.linalg.norm(G, axis=1) - alpha, 0.0)
    nz = nw > 0
    v[nz] = np.linalg.norm(G[nz] + alpha * W[nz] / nw[nz, None], axis=1)
    Xsq = X.multiply(X) if sp.issparse(X) else X * X
    scale = np.sqrt(np.asarray(Xsq.T @ w).ravel())
    scale[scale == 0] = 1.0
    return max(float((v / scale).max()), float(np.abs(R.sum(axis=0)).max()))


def path_kkt(X, y, path, w):
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


def model_centre(X, codes, K, sw, W0, b0, sparse):
    """The inner solver's inputs at a model centre ``(W0, b0)``, computed in NumPy.

    Returns
    -------
    data : ColumnData
        Of ``X`` (as CSR when ``sparse``), the labels ``codes`` and weights ``sw``.
    X64 : ndarray of shape (n, p)
        ``X`` in float64.
    P : ndarray of shape (K, n)
        The probabilities, in ``data``'s layout.
    G : ndarray of shape (p, K)
        The loss gradient ``X^T M^T``, ``M[k, i] = w_i (P_ik - [y_i = k])``.
    g0 : ndarray of shape (K,)
        The intercepts' gradient.
    """
    from mnlogit.solvers.proximal_newton import ColumnData

    data = ColumnData.from_arrays(sp.csr_matrix(X) if sparse else X, codes, K, sw, True)
    X64 = np.asarray(X, dtype=np.float64)
    P = data.empty_predictor()
    P[:] = softmax(X64 @ W0 + b0, axis=1).T
    R = (P - np.eye(K)[codes].T) * data.weights
    return data, X64, P, X64.T @ R.T, R.sum(axis=1)


def inner_solve(data, P, G, g0, W0, b0, lam1, lam2, blocks, tol, max_sweeps, kept=None):
    """``cd_quadratic`` on every feature from the centre ``(W0, b0)`` (``blocks``: 0 for
    per-class steps, else the block steps' passes over a feature's classes; ``kept``: the
    lasso's carried curvatures (p, K), or none); returns ``(W, b, D, sweeps)``."""
    from mnlogit.solvers.coordinate_descent import cd_quadratic

    K = data.n_classes
    W, b = W0.copy(), b0.copy()
    D = data.empty_predictor()
    D[:] = 0.0
    features = np.arange(W.shape[0], dtype=np.intp)
    sweeps, _ = cd_quadratic(
        data.Xd, data.indptr, data.indices, data.data, data.sparse, features, data.weights,
        P, P * data.weights, G, g0, True, lam1, lam2, False, blocks, np.zeros((0, K, K)),
        data.rms, W, b, D, tol, max_sweeps, False, data.empty_predictor(),
        np.zeros((0, K)) if kept is None else kept,
    )  # fmt: skip
    return W, b, D, int(sweeps)


def model_kkt(data, X64, P, G, g0, W0, b0, W, b, lam1, lam2):
    """The optimality residuals of the quadratic model plus the elastic-net penalty at
    ``(W, b)``, its gradient computed here (the exact softmax Hessian at the centre applied
    to the change of the linear predictor): the largest standardized residual of the
    nonzero coordinates, of the zero ones (``|grad| - lam1``, positive when violated) and
    of the intercepts."""
    w = data.weights
    Dn = X64 @ (W - W0) + (b - b0)
    Pn = P.T
    HD = w[:, None] * Pn * (Dn - (Pn * Dn).sum(axis=1, keepdims=True))
    grad = G + X64.T @ HD
    nz = W != 0
    scale = data.rms[:, None]  # residuals per standardized column, as the solver's stop
    res = (grad + lam1[:, None] * np.sign(W) + lam2[:, None] * W) / scale
    zero = (np.abs(grad) - lam1[:, None]) / scale
    return (
        float(np.abs(res[nz]).max(initial=0.0)),
        float(zero[~nz].max(initial=-np.inf)),
        float(np.abs(g0 + HD.sum(axis=0)).max()),
    )


def lasso_centre(sparse, dtype, weighted, seed=0, n=150, p=9, K=5):
    """A random lasso model centre ``(W0, b0)`` (40% of the coefficients nonzero; with
    ``sparse``, 70% of X zero) with the inner solver's inputs there (:func:`model_centre`).

    Returns
    -------
    tuple
        ``(data, X64, W0 (p, K), b0 (K,), P, G, g0)``.
    """
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)).astype(dtype)
    if sparse:
        X[rng.random(X.shape) < 0.7] = 0.0
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.3, 2.0, n) if weighted else None
    W0 = np.where(rng.random((p, K)) < 0.4, rng.standard_normal((p, K)) * 0.3, 0.0)
    b0 = rng.standard_normal(K) * 0.3
    data, X64, P, G, g0 = model_centre(X, codes, K, sw, W0, b0, sparse)
    return data, X64, W0, b0, P, G, g0
