"""Discrete-change effects of indicator and categorical predictors.

For a predictor that takes a few values, the effect of interest is the change in each
class probability between two of them, not a derivative (Stata's ``margins, dydx()`` on
a factor variable, statsmodels' ``get_margeff(dummy=True)``)::

    dydx   mean_i s_i [P_k(x_i^hi) - P_k(x_i^lo)] / sum_i s_i
    eydx   mean_i s_i [log P_k(x_i^hi) - log P_k(x_i^lo)] / sum_i s_i

where ``x^hi``/``x^lo`` are the rows with the indicator at 1/0, or with a categorical
variable at a level and at its base level (all other predictors as observed, or at
their means/medians). With ``d P_k / d B_mt = P_k (I(k = m) - P_m) x_t`` the Jacobian of
the averaged change with respect to ``vec(B)`` is analytic, and the delta-method
standard errors are ``sqrt(diag(J cov J^T))``.

The base level of a categorical variable is the level whose rows have every design
column the variable affects at zero (treatment coding's base, whichever level
``contr.treatment`` names); with other contrasts, the first level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mnlogit.formula import FormulaDesign, as_pandas
from mnlogit.objective import log_softmax

__all__ = ["Contrast", "discrete_change", "indicator_columns", "level_contrasts"]

FloatArray = NDArray[np.float64]
_CHUNK_ROWS = 65536


@dataclass(frozen=True)
class Contrast:
    """One discrete change: the design rows at the high and the low value.

    Attributes
    ----------
    name : str
        The row's term name in the effects table.
    columns : tuple of int
        The design columns the change replaces in the table (their derivatives are not
        reported).
    high, low : ndarray of shape (n, p)
        Design rows with the predictor at the level (or 1) and at the base (or 0).
    """

    name: str
    columns: tuple[int, ...]
    high: FloatArray
    low: FloatArray


def indicator_columns(X: FloatArray) -> list[int]:
    """Columns holding only 0 and 1 (both present).

    Parameters
    ----------
    X : ndarray of shape (n, p)

    Returns
    -------
    list of int
    """
    out = []
    for j in range(X.shape[1]):
        col = X[:, j]
        if np.all((col == 0) | (col == 1)) and col.min() == 0 and col.max() == 1:
            out.append(j)
    return out


def _with_level(frame: pd.DataFrame, column: str, level: Any) -> pd.DataFrame:
    out = frame.copy()
    if isinstance(frame[column].dtype, pd.CategoricalDtype):
        cats = frame[column].cat.categories
        out[column] = pd.Categorical([level] * len(frame), categories=cats)
    else:
        out[column] = pd.Series([level] * len(frame), index=frame.index, dtype=object)
    return out


def level_contrasts(design: FormulaDesign, data: Any) -> list[Contrast]:
    """Discrete changes of every categorical variable of a formula, level against base.

    Parameters
    ----------
    design : FormulaDesign
    data : pandas or polars DataFrame of n rows
        The rows the changes are evaluated on.

    Returns
    -------
    list of Contrast
        One per non-base level, in the order of the variables' first design column.
    """
    frame = as_pandas(data)
    contrasts: list[tuple[int, Contrast]] = []
    for column, levels in design.categorical_levels(frame).items():
        rows = {level: design.transform(_with_level(frame, column, level)) for level in levels}
        stacked = np.stack(list(rows.values()))
        affected = np.flatnonzero(np.any(stacked != stacked[:1], axis=(0, 1)))
        if affected.size == 0:
            continue
        zero = [lv for lv in levels if not np.any(rows[lv][:, affected])]
        base = zero[0] if zero else levels[0]
        names = design.columns
        for level in levels:
            if level == base:
                continue
            high, low = rows[level], rows[base]
            own = [
                j
                for j in affected
                if np.all(high[:, j] == 1)
                and not np.any(stacked[:, :, j][[lv != level for lv in levels]])
            ]
            name = names[own[0]] if own else f"{column}[T.{level}]"
            contrast = Contrast(name, tuple(int(j) for j in affected), high, low)
            contrasts.append((int(affected[0]), contrast))
    return [c for _, c in sorted(contrasts, key=lambda item: item[0])]


def discrete_change(
    high: FloatArray,
    low: FloatArray,
    B: FloatArray,
    fit_intercept: bool,
    weights: FloatArray | None = None,
    log: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Weighted average change in each class probability (or its log) and its Jacobian.

    Parameters
    ----------
    high, low : ndarray of shape (n, p)
    B : ndarray of shape (p1, K)
    fit_intercept : bool
    weights : ndarray of shape (n,), optional
        Frequency weights (default equal).
    log : bool, default=False
        Change of ``log P_k`` instead of ``P_k``.

    Returns
    -------
    change : ndarray of shape (K,)
    jacobian : ndarray of shape (K, K * p1)
        Derivative of ``change`` with respect to ``vec(B)`` (class-major).
    """
    n = high.shape[0]
    p1, K = B.shape
    off = int(fit_intercept)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    change = np.zeros(K)
    J = np.zeros((K, K, p1))
    eye = np.eye(K)
    for start in range(0, n, _CHUNK_ROWS):
        wc = w[start : start + _CHUNK_ROWS]
        for rows, sign in ((high, 1.0), (low, -1.0)):
            Xc = rows[start : start + _CHUNK_ROWS]
            eta = Xc @ B[off:] + (B[0] if fit_intercept else 0.0)
            logP = log_softmax(eta)
            P = np.exp(logP)
            Xt = np.column_stack([np.ones(Xc.shape[0]), Xc]) if fit_intercept else Xc
            # d value_k / d B_mt = a_k (I(k = m) - P_m) x_t, a_k = P_k (or 1 for log P_k)
            a = np.ones_like(P) if log else P
            change += sign * (wc @ (logP if log else P))
            D = a[:, :, None] * (eye[None] - P[:, None, :])  # (m, K, K)
            J += sign * np.einsum("i,ikm,it->kmt", wc, D, Xt, optimize=True)
    return change / total, J.reshape(K, K * p1) / total
