"""Marginal effects of device rows (PyTorch, CuPy, ...): the sums on the device.

:func:`mnlogit.inference.margins.average_effects` on rows held by another array
namespace: the effects and their Jacobian with respect to ``vec(B)`` are additive sums over
rows, formed on ``X``'s device block by block as products of the array API (the numpy
code's ``einsum`` contractions written as matrix products), and only the ``(K, p)``
effects and the ``(K p, K p1)`` Jacobian come to the host; the standard errors, tests and
the table are then the numpy path's. The representative rows of ``at`` are formed on the
device too: ``"mean"`` (weighted column means), ``"median"`` (unweighted: each column
sorted on the device), a dict (columns fixed in every row, block by block).

With ``c_ikj = W_kj - (P W)_ij``, ``f_ij = w_i`` (``x_ij w_i`` for ``..ex``) and
``a_ik = P_ik`` for ``dy..`` (else 1), and ``D_ikm = P_ik (δ_km - P_im)``::

    effect[k, j]     = Σ_i f_ij a_ik c_ikj
    J[k, j, m, t]    = δ_{t, j+off} (δ_km (aᵀf)_kj - Σ_i a_ik f_ij P_im)
                       - Σ_i f_ij a_ik P_im c_imj x_it
                       + [dy] Σ_i f_ij D_ikm c_ikj x_it

(``x_it`` the design row with its leading 1), all divided by ``Σ_i w_i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.arrays import Placement, to_host
from mnlogit.exceptions import InvalidInputError
from mnlogit.inference.margins import METHODS, average_effects
from mnlogit.objective import xp_kernels as xk

__all__ = ["device_effects"]

FloatArray = NDArray[np.float64]


def _fixed_columns(at: dict[Any, Any], names: list[str], p: int) -> dict[int, float]:
    fixed: dict[int, float] = {}
    for key, value in at.items():
        j = names.index(key) if key in names else key
        if not isinstance(j, int | np.integer) or not 0 <= j < p:
            raise InvalidInputError(f"at: {key!r} is not a feature ({names})")
        fixed[int(j)] = float(value)
    return fixed


def _representative_row(placement: Placement, X: Any, at: str, w: Any) -> FloatArray:
    """The ``(1, p)`` row of ``at="mean"`` or ``"median"``, formed on the device."""
    xp = placement.xp
    work = placement.work_dtype
    n, p = int(X.shape[0]), int(X.shape[1])
    if at == "mean":
        total = xp.zeros(p, dtype=work, device=placement.device)
        for sl in _slices(n, p):
            Xb = xp.astype(X[sl, :], work)
            total = total + (xp.sum(Xb, axis=0) if w is None else xp.reshape(w[sl], (1, -1)) @ Xb)
        count = float(n) if w is None else float(xp.sum(w))
        return (to_host(xp.reshape(total, (1, p))).astype(np.float64)) / count
    if w is not None:
        raise InvalidInputError(
            "at='median' with sample_weight is not available for device arrays (a weighted "
            "median needs every column sorted with its weights on the host); use at='mean', "
            "or numpy arrays"
        )
    out = np.empty((1, p))
    lo, hi = (n - 1) // 2, n // 2
    for j in range(p):  # np.median: the middle value, or the mean of the two middle ones
        column = xp.sort(xp.astype(X[:, j], work))
        out[0, j] = 0.5 * (float(column[lo]) + float(column[hi]))
    return out


def _slices(n: int, width: int) -> list[slice]:
    step = xk.device_rows(width)
    return [slice(a, min(a + step, n)) for a in range(0, n, step)]


def _block_sums(
    xp: Any,
    Xb: Any,
    Wk: Any,
    b: Any,
    wb: Any,
    method: str,
    work: Any,
) -> tuple[Any, Any, Any]:
    """One block's ``effect``, the ``E`` part ``(K, p, K)`` and the rest ``(K p K, p1)``."""
    r, p = Xb.shape
    K = Wk.shape[0]
    eta = Xb @ Wk.T if b is None else Xb @ Wk.T + b
    eta = eta - xp.max(eta, axis=1, keepdims=True)
    P = xp.exp(eta)
    P = P / xp.sum(P, axis=1, keepdims=True)
    PW = P @ Wk  # (r, p)
    c = xp.reshape(Wk, (1, K, p)) - xp.reshape(PW, (r, 1, p))  # (r, K, p)
    f = Xb if method.endswith("ex") else xp.ones((r, p), dtype=work, device=Xb.device)
    f = f * xp.reshape(wb, (-1, 1))
    a = P if method.startswith("dy") else xp.ones((r, K), dtype=work, device=Xb.device)
    af = xp.reshape(a, (r, K, 1)) * xp.reshape(f, (r, 1, p))  # (r, K, p)
    effect = xp.sum(af * c, axis=0)
    E = xp.reshape(xp.reshape(af, (r, K * p)).T @ P, (K, p, K))  # Σ a_ik f_ij P_im
    Pc = xp.reshape(P, (r, K, 1)) * c  # P_im c_imj, (r, m, j)
    A1 = xp.reshape(af, (r, K, p, 1)) * xp.reshape(xp.permute_dims(Pc, (0, 2, 1)), (r, 1, p, K))
    A = -A1
    if method.startswith("dy"):
        eye = xp.eye(K, dtype=work, device=Xb.device)
        D = xp.reshape(P, (r, K, 1)) * (xp.reshape(eye, (1, K, K)) - xp.reshape(P, (r, 1, K)))
        fc = xp.reshape(f, (r, 1, p)) * c  # f_ij c_ikj, (r, k, j)
        A = A + xp.reshape(fc, (r, K, p, 1)) * xp.reshape(D, (r, K, 1, K))
    return effect, E, xp.reshape(A, (r, K * p * K))


def device_effects(
    placement: Placement,
    X: Any,
    B: FloatArray,
    fit_intercept: bool,
    method: str,
    at: Any,
    names: list[str],
    sample_weight: Any,
) -> tuple[FloatArray, FloatArray]:
    """Averaged effects of device rows and their Jacobian, as ``average_effects``.

    Parameters
    ----------
    placement : Placement
        Of ``X``.
    X : device array of shape (n, p)
    B : ndarray of shape (p1, K)
    fit_intercept : bool
    method : {"dydx", "eyex", "dyex", "eydx"}
    at : "overall", "mean", "median" or dict
    names : list of str, length p
    sample_weight : array of shape (n,) or None
        On the device or the host (moved to the device).

    Returns
    -------
    effects : ndarray of shape (K, p)
    jacobian : ndarray of shape (K * p, K * p1)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    xp = placement.xp
    work = placement.work_dtype
    X = placement.data(X)
    n, p = int(X.shape[0]), int(X.shape[1])
    if X.ndim != 2 or p != B.shape[0] - int(fit_intercept):
        raise InvalidInputError(
            f"X has shape {tuple(X.shape)}, the model expects {B.shape[0] - int(fit_intercept)} "
            "features"
        )
    w = None
    if sample_weight is not None:
        w = xp.astype(placement.take(sample_weight), work)
        if w.shape != (n,) or not bool(xp.all(xp.isfinite(w))) or bool(xp.any(w < 0)):
            raise InvalidInputError(f"sample_weight must be {n} finite non-negative numbers")
        if not float(xp.sum(w)) > 0:
            raise InvalidInputError("sample_weight must have a positive sum")
    if at in ("mean", "median"):
        return average_effects(_representative_row(placement, X, at, w), B, fit_intercept, method)
    if isinstance(at, dict):
        fixed = _fixed_columns(at, names, p)
    elif at == "overall":
        fixed = {}
    else:
        raise InvalidInputError(f"at must be 'overall', 'mean', 'median' or a dict, got {at!r}")
    off = int(fit_intercept)
    K = B.shape[1]
    Wk = placement.put(np.ascontiguousarray(B[off:].T))
    b = placement.put(B[0]) if fit_intercept else None
    mask = placement.put(np.isin(np.arange(p), list(fixed)))
    values = placement.put(np.array([fixed.get(j, 0.0) for j in range(p)]))
    effect = np.zeros((K, p))
    E = np.zeros((K, p, K))
    rest = np.zeros((K * p * K, p + off))
    for sl in _slices(n, K * K * max(p, 1)):
        Xb = xp.astype(X[sl, :], work)
        if fixed:
            Xb = xp.where(mask, values, Xb)
        wb = xp.ones(Xb.shape[0], dtype=work, device=Xb.device) if w is None else w[sl]
        e, Eb, A = _block_sums(xp, Xb, Wk, b, wb, method, work)
        Xt = Xb
        if fit_intercept:
            Xt = xp.concat([xp.ones((Xb.shape[0], 1), dtype=work, device=Xb.device), Xb], axis=1)
        effect += to_host(e).astype(np.float64)
        E += to_host(Eb).astype(np.float64)
        rest += to_host(A.T @ Xt).astype(np.float64)
    total = float(n) if w is None else float(xp.sum(w))
    J = rest.reshape(K, p, K, p + off)
    # the δ_{t, j+off} part: δ_km (aᵀf)_kj - Σ a_ik f_ij P_im, with (aᵀf)_kj = Σ_m E[k, j, m]
    diag = -E
    for k in range(K):
        diag[k, :, k] += E[k].sum(axis=1)
    for j in range(p):
        J[:, j, :, j + off] += diag[:, j, :]
    return effect / total, J.reshape(K * p, K * (p + off)) / total
