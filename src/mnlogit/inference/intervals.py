"""Confidence intervals for predicted class probabilities.

Each probability is mapped to the logit scale, ``logit(P_k) = log(P_k / (1 - P_k))``,
where the delta method is accurate, then the interval is mapped back with the
logistic function, so the bounds always lie in (0, 1)::

    d logit(P_k) / d B_mt = P_k (I(k = m) - P_m) x_t / (P_k (1 - P_k))
    se_k = sqrt(g_k^T cov g_k)

The bounds of different classes are marginal (each class separately); they need not
sum to one.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats
from numpy.typing import NDArray

from mnlogit.objective import log_softmax

__all__ = ["log_odds_standard_errors", "probability_intervals"]

FloatArray = NDArray[np.float64]
_CHUNK_ELEMENTS = 2**22


def probability_intervals(
    X: FloatArray, B: FloatArray, cov: FloatArray, fit_intercept: bool, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper ``1 - alpha`` bounds of each class probability.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    B : ndarray of shape (p1, K)
    cov : ndarray of shape (K * p1, K * p1)
        Covariance of ``vec(B)``.
    fit_intercept : bool
    alpha : float

    Returns
    -------
    lower, upper : ndarray of shape (n, K)
    """
    n = X.shape[0]
    p1, K = B.shape
    off = int(fit_intercept)
    C = cov.reshape(K, p1, K, p1)
    z = float(scipy.stats.norm.ppf(1 - alpha / 2))
    lower = np.empty((n, K))
    upper = np.empty((n, K))
    eye = np.eye(K)
    step = max(1, _CHUNK_ELEMENTS // max(K * K + p1, 1))
    for start in range(0, n, step):
        Xc = X[start : start + step]
        eta = Xc @ B[off:]
        if fit_intercept:
            eta = eta + B[0]
        logp = log_softmax(eta)
        P = np.exp(logp)
        Xt = np.hstack([np.ones((Xc.shape[0], 1)), Xc]) if fit_intercept else Xc
        Q = np.einsum("it,mtnu,iu->imn", Xt, C, Xt, optimize=True)  # (m, K, K)
        D = P[:, :, None] * (eye[None] - P[:, None, :])
        var_p = np.einsum("ikm,imn,ikn->ik", D, Q, D)
        denom = np.maximum(P * (1.0 - P), np.finfo(np.float64).tiny)
        se = np.sqrt(np.maximum(var_p, 0.0)) / denom
        logit = logp - np.log1p(-np.minimum(P, 1.0 - 1e-16))
        lower[start : start + step] = scipy.special.expit(logit - z * se)
        upper[start : start + step] = scipy.special.expit(logit + z * se)
    return lower, upper


def log_odds_standard_errors(
    X: FloatArray, cov: FloatArray, fit_intercept: bool, reference: int
) -> FloatArray:
    """Standard errors of the log-odds ``eta_k - eta_r`` against class ``r`` at each row.

    ``eta_k - eta_r = x~ . (B_k - B_r)`` with ``x~ = [1, x]``, so its variance is
    ``x~' (C_kk - C_kr - C_rk + C_rr) x~`` with ``C`` the blocks of ``cov``. Exact (the
    log-odds are linear in the coefficients), whichever reference the model uses.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    cov : ndarray of shape (K * p1, K * p1)
        Covariance of ``vec(B)``.
    fit_intercept : bool
    reference : int
        Position of the class the log-odds are against.

    Returns
    -------
    ndarray of shape (n, K)
        Column ``reference`` is zero.
    """
    n = X.shape[0]
    p1 = X.shape[1] + int(fit_intercept)
    K = cov.shape[0] // p1
    C = cov.reshape(K, p1, K, p1)
    out = np.zeros((n, K))
    step = max(1, _CHUNK_ELEMENTS // max(p1, 1))
    for start in range(0, n, step):
        Xc = X[start : start + step]
        Xt = np.hstack([np.ones((Xc.shape[0], 1)), Xc]) if fit_intercept else Xc
        for k in range(K):
            if k == reference:
                continue
            D = C[k, :, k] - C[k, :, reference] - C[reference, :, k] + C[reference, :, reference]
            var = np.einsum("it,tu,iu->i", Xt, D, Xt)
            out[start : start + step, k] = np.sqrt(np.maximum(var, 0.0))
    return out
