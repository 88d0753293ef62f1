"""Marginal effects and elasticities with delta-method standard errors.

For class ``k`` and feature ``j`` at a row ``x``, with ``wbar_j = sum_l P_l w_lj``::

    dydx  dP_k/dx_j               = P_k (w_kj - wbar_j)
    eydx  d log P_k / dx_j        = w_kj - wbar_j
    dyex  dP_k / d log x_j        = P_k (w_kj - wbar_j) x_j
    eyex  d log P_k / d log x_j   = (w_kj - wbar_j) x_j

They are averaged over the rows (``at="overall"``, Stata's ``margins, dydx(*)``), with
frequency weights when given, or evaluated at one representative row (``"mean"``,
``"median"``, weighted when weights are given). A dict fixes the named features at the
given values in every row, then averages (Stata's ``at()``).

The Jacobian of the averaged effect with respect to ``vec(B)`` is computed
analytically, row chunk by row chunk, so memory is linear in the chunk size, not in
``n``; standard errors are ``sqrt(diag(J cov J^T))``. Features enter linearly: an
indicator column gets the derivative here; its discrete change is in
:mod:`mnlogit.inference.discrete_changes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.objective import log_softmax

__all__ = ["METHODS", "average_effects", "representative_rows", "weighted_median"]

FloatArray = NDArray[np.float64]
METHODS = ("dydx", "eyex", "dyex", "eydx")
_CHUNK_ELEMENTS = 2**22


def weighted_median(X: FloatArray, weights: FloatArray) -> FloatArray:
    """Column medians under frequency weights.

    The value where the cumulative weight first reaches half the total; when it reaches
    exactly half, the midpoint with the next value (so integer weights give
    ``np.median`` of the duplicated rows). Rows of zero weight are ignored.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    weights : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (p,)
    """
    positive = weights > 0
    X, weights = X[positive], weights[positive]
    out = np.empty(X.shape[1])
    half = 0.5 * float(weights.sum())
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        values = X[order, j]
        cum = np.cumsum(weights[order])
        i = int(np.searchsorted(cum, half * (1 - 1e-12)))
        exact = abs(cum[i] - half) <= 1e-12 * half and i + 1 < values.size
        out[j] = 0.5 * (values[i] + values[i + 1]) if exact else values[i]
    return out


def representative_rows(
    X: FloatArray, at: Any, names: Sequence[str], weights: FloatArray | None = None
) -> tuple[FloatArray, FloatArray | None]:
    """The rows effects are evaluated at, and their weights.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    at : "overall", "mean", "median" or dict
        See :meth:`~mnlogit.inference.methods.InferenceMixin.marginal_effects`.
    names : sequence of str
        The ``p`` feature names (keys of a dict ``at``).
    weights : ndarray of shape (n,), optional

    Returns
    -------
    rows : ndarray of shape (n, p) or (1, p)
    weights : ndarray of shape (n,) or None
        ``None`` for a single representative row.
    """
    if isinstance(at, dict):
        rows = X.copy()
        for key, value in at.items():
            j = list(names).index(key) if key in names else key
            if not isinstance(j, int | np.integer) or not 0 <= j < rows.shape[1]:
                raise InvalidInputError(f"at: {key!r} is not a feature ({list(names)})")
            rows[:, j] = value
        return rows, weights
    if at == "overall":
        return X, weights
    if at == "mean":
        return np.average(X, axis=0, weights=weights)[None, :], None
    if at == "median":
        if weights is None:
            return np.median(X, axis=0, keepdims=True), None
        return weighted_median(X, weights)[None, :], None
    raise InvalidInputError(f"at must be 'overall', 'mean', 'median' or a dict, got {at!r}")


def average_effects(
    X: FloatArray,
    B: FloatArray,
    fit_intercept: bool,
    method: str,
    weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Averaged effects over the rows of ``X`` and their Jacobian.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    B : ndarray of shape (p1, K)
        Full coefficient matrix (intercept row first when ``fit_intercept``).
    fit_intercept : bool
    method : {"dydx", "eyex", "dyex", "eydx"}
    weights : ndarray of shape (n,), optional
        Frequency weights of the rows (default equal).

    Returns
    -------
    effects : ndarray of shape (K, p)
    jacobian : ndarray of shape (K * p, K * p1)
        Derivative of ``effects.ravel()`` with respect to ``vec(B)`` (class-major).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    n, p = X.shape
    p1, K = B.shape
    off = int(fit_intercept)
    Wk = np.ascontiguousarray(B[off:].T)  # (K, p)
    eye = np.eye(K)
    value = np.zeros((K, p))
    J = np.zeros((K, p, K, p1))
    scale_by_x = method.endswith("ex")
    times_prob = method.startswith("dy")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    step = max(1, _CHUNK_ELEMENTS // max(K * K * p1, 1))
    for start in range(0, n, step):
        Xc = X[start : start + step]
        eta = Xc @ B[off:]
        if fit_intercept:
            eta = eta + B[0]
        P = np.exp(log_softmax(eta))
        c = Wk[None, :, :] - (P @ Wk)[:, None, :]  # (m, K, p)
        D = P[:, :, None] * (eye[None] - P[:, None, :])  # (m, K, K)
        F = np.einsum("ilm,lj->imj", D, Wk)  # (m, K, p)
        Xt = np.hstack([np.ones((Xc.shape[0], 1)), Xc]) if fit_intercept else Xc
        f = (Xc if scale_by_x else np.ones_like(Xc)) * w[start : start + step, None]
        a = P if times_prob else np.ones_like(P)
        value += np.einsum("ij,ik,ikj->kj", f, a, c)
        # d c_kj / d B_mt = delta_km delta_tj - F_mj x_t - P_m delta_tj
        E = np.einsum("ij,ik,ikm->kjm", f, a, eye[None] - P[:, None, :])
        for j in range(p):
            J[:, j, :, j + off] += E[:, j, :]
        J -= np.einsum("ij,ik,imj,it->kjmt", f, a, F, Xt, optimize=True)
        if times_prob:
            # d P_k / d B_mt = D_km x_t, times c_kj
            J += np.einsum("ij,ikm,it,ikj->kjmt", f, D, Xt, c, optimize=True)
    return value / total, J.reshape(K * p, K * p1) / total
