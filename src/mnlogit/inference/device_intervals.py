"""Per-row standard errors and probability intervals of device rows, on the device.

:func:`mnlogit.inference.intervals.log_odds_standard_errors` and
:func:`~mnlogit.inference.intervals.probability_intervals` for rows held by another array
namespace (PyTorch, CuPy, ...): the covariance's blocks go to the device (``(K p1)²``
numbers) and the ``(n, K)`` results are arrays of ``X``'s namespace on its device, as
``predict_proba``'s are. The formulas are the numpy module's; its ``einsum`` contractions
are written as matrix products.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.stats
from numpy.typing import NDArray

from mnlogit.arrays import Placement
from mnlogit.exceptions import InvalidInputError
from mnlogit.objective import xp_kernels as xk

__all__ = ["device_log_odds_se", "device_probability_intervals"]

FloatArray = NDArray[np.float64]


def _design_blocks(
    placement: Placement, X: Any, p: int, fit_intercept: bool, width: int
) -> Iterator[Any]:
    """The design rows ``[1, X_b]`` of device ``X`` block by block, in the work dtype."""
    xp = placement.xp
    work = placement.work_dtype
    X = placement.data(X)
    if X.ndim != 2 or int(X.shape[1]) != p:
        raise InvalidInputError(f"X has shape {tuple(X.shape)}, the model expects {p} features")
    n = int(X.shape[0])
    step = xk.device_rows(width)
    for start in range(0, n, step):
        Xb = xp.astype(X[start : min(start + step, n), :], work)
        if fit_intercept:
            ones = xp.ones((Xb.shape[0], 1), dtype=work, device=Xb.device)
            Xb = xp.concat([ones, Xb], axis=1)
        yield Xb


def _concat(placement: Placement, parts: list[Any], K: int) -> Any:
    xp = placement.xp
    if not parts:
        return xp.zeros((0, K), dtype=placement.work_dtype, device=placement.device)
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def device_log_odds_se(
    placement: Placement, X: Any, cov: FloatArray, fit_intercept: bool, reference: int
) -> Any:
    """Standard errors of ``eta_k - eta_r`` at each device row, ``(n, K)`` on the device.

    Parameters
    ----------
    placement : Placement
    X : device array of shape (n, p)
    cov : ndarray of shape (K * p1, K * p1)
    fit_intercept : bool
    reference : int

    Returns
    -------
    device array of shape (n, K)
        Column ``reference`` is zero.
    """
    xp = placement.xp
    p = int(X.shape[1]) if X.ndim == 2 else -1
    p1 = p + int(fit_intercept)
    K = cov.shape[0] // max(p1, 1)
    C = cov.reshape(K, p1, K, p1)
    r = reference
    D = np.stack(
        [
            np.zeros((p1, p1)) if k == r else C[k, :, k] - C[k, :, r] - C[r, :, k] + C[r, :, r]
            for k in range(K)
        ]
    )  # (K, p1, p1)
    Dd = placement.put(np.ascontiguousarray(D.transpose(1, 0, 2).reshape(p1, K * p1)))
    parts = []
    for Xt in _design_blocks(placement, X, p, fit_intercept, K * p1):
        m = Xt.shape[0]
        var = xp.sum(xp.reshape(Xt @ Dd, (m, K, p1)) * xp.reshape(Xt, (m, 1, p1)), axis=2)
        parts.append(xp.sqrt(xp.maximum(var, 0.0)))
    return _concat(placement, parts, K)


def device_probability_intervals(
    placement: Placement,
    X: Any,
    B: FloatArray,
    cov: FloatArray,
    fit_intercept: bool,
    alpha: float,
) -> tuple[Any, Any]:
    """Lower and upper ``1 - alpha`` bounds of each class probability at device rows.

    Parameters
    ----------
    placement : Placement
    X : device array of shape (n, p)
    B : ndarray of shape (p1, K)
    cov : ndarray of shape (K * p1, K * p1)
    fit_intercept : bool
    alpha : float

    Returns
    -------
    lower, upper : device arrays of shape (n, K)
    """
    xp = placement.xp
    work = placement.work_dtype
    p1, K = B.shape
    off = int(fit_intercept)
    C = cov.reshape(K, p1, K, p1)
    z = float(scipy.stats.norm.ppf(1 - alpha / 2))
    Bd = placement.put(B)
    # Q[:, m, :] = Xt C[m] Xt per row: C[m] as (p1, K p1)
    Cm = [placement.put(np.ascontiguousarray(C[m].reshape(p1, K * p1))) for m in range(K)]
    eye = xp.reshape(xp.eye(K, dtype=work, device=placement.device), (1, K, K))
    tiny = float(np.finfo(np.float64).tiny) if work == xp.float64 else 1e-38
    lowers, uppers = [], []
    for Xt in _design_blocks(placement, X, p1 - off, fit_intercept, K * p1 + K * K):
        m = Xt.shape[0]
        eta = Xt @ Bd
        eta = eta - xp.max(eta, axis=1, keepdims=True)
        logp = eta - xp.log(xp.sum(xp.exp(eta), axis=1, keepdims=True))
        P = xp.exp(logp)
        Q = xp.stack(
            [
                xp.sum(xp.reshape(Xt @ Cm[a], (m, K, p1)) * xp.reshape(Xt, (m, 1, p1)), axis=2)
                for a in range(K)
            ],
            axis=1,
        )  # (m, K, K)
        D = xp.reshape(P, (m, K, 1)) * (eye - xp.reshape(P, (m, 1, K)))
        var_p = xp.sum((D @ Q) * D, axis=2)
        denom = xp.maximum(P * (1.0 - P), tiny)
        se = xp.sqrt(xp.maximum(var_p, 0.0)) / denom
        logit = logp - xp.log1p(-xp.minimum(P, 1.0 - 1e-16))
        lowers.append(1.0 / (1.0 + xp.exp(-(logit - z * se))))
        uppers.append(1.0 / (1.0 + xp.exp(-(logit + z * se))))
    return _concat(placement, lowers, K), _concat(placement, uppers, K)
