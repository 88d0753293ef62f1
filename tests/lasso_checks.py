"""Independent checks shared by the lasso path tests (imported as ``lasso_checks``; tests/ is
on pythonpath): a problem with a sparse true model, the elastic-net objective and the KKT
residual of a path, each computed from scratch in NumPy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax

__all__ = ["path_kkt", "penalized_objective", "sparse_truth_data"]


def sparse_truth_data(n=300, p=12, K=3, seed=0, density=None):
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


def penalized_objective(X, y, W, b, alpha, factor, l1_ratio, w):
    """Mean weighted loss + alpha * elastic-net penalty, from scratch."""
    eta = np.asarray(X @ W) + b
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loss = float(w @ (lse - eta[np.arange(len(y)), y]) / w.sum())
    first = np.abs(W).sum(axis=1)
    sq = (W * W).sum(axis=1)
    return loss + alpha * float(factor @ (l1_ratio * first + 0.5 * (1 - l1_ratio) * sq))


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
