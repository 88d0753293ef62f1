"""Tests that two classes can be combined (SPost's ``mlogtest, combine`` and ``lrcomb``).

Two classes ``a`` and ``b`` are indistinguishable with respect to the predictors when
all their non-intercept coefficients are equal, ``w_a = w_b``: then the odds
``P_a / P_b = exp(b_a - b_b)`` do not depend on ``x``.

``"wald"``
    The Wald test of ``w_aj - w_bj = 0`` for every (non-aliased) feature ``j``, with the
    model's covariance (so a robust or cluster fit gives a robust test), df = p.
``"lr"``
    The likelihood-ratio test against the *constrained model*: the multinomial logit
    with ``w_a = w_b`` and free intercepts. It needs no constrained optimizer (Long &
    Freese's ``lrcomb`` equivalence): its probabilities factor as
    ``P(merged | x) * P(a | merged)`` with ``P(a | merged) = e^{b_a} / (e^{b_a} + e^{b_b})``
    constant, so its maximized log-likelihood is that of the model fitted with ``a`` and
    ``b`` merged into one class, plus ``S_a log(S_a / S_ab) + S_b log(S_b / S_ab)``
    (``S`` the summed weights of the classes' rows) — without an intercept,
    ``S_ab log(1/2)``. ``LR = 2 (loglik - loglik_constrained)`` on ``df`` = the
    difference of the free-parameter counts (p, fewer if the merged fit aliases columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.fitted import FittedModel
from mnlogit.inference.hypotheses import wald_statistic
from mnlogit.inference.refits import NotTestable, Refit, TrainingData, checked_fit

__all__ = [
    "COMBINE_METHODS",
    "combine_pairs",
    "combine_restrictions",
    "combine_table",
    "combined_loglik",
]

FloatArray = NDArray[np.float64]
COMBINE_METHODS = ("wald", "lr")


def combine_pairs(
    classes: NDArray[Any], pairs: Sequence[Sequence[Any]] | None
) -> list[tuple[Any, Any]]:
    """Every pair of classes in ``classes_`` order, or the given pairs checked."""
    labels = list(classes)
    if pairs is None:
        return list(combinations(labels, 2))
    out = []
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise InvalidInputError(f"pairs: {pair!r} is not a pair of two different classes")
        unknown = [c for c in pair if c not in labels]
        if unknown:
            raise InvalidInputError(f"pairs: {unknown} are not classes of the model ({labels})")
        out.append((pair[0], pair[1]))
    return out


def combine_restrictions(state: FittedModel, a: int, b: int) -> FloatArray:
    """``R`` with rows ``e_{a,j} - e_{b,j}`` over the non-aliased features ``j``.

    Parameters
    ----------
    state : FittedModel
    a, b : int
        Class positions.

    Returns
    -------
    ndarray of shape (p_estimated, K * p1)
        Columns follow ``vec(B)`` (class-major).
    """
    p1, off = state.p1, int(state.fit_intercept)
    aliased = state.aliased_mask
    rows = []
    for t in range(off, p1):
        if aliased[a * p1 + t]:
            continue
        r = np.zeros(state.n_classes * p1)
        r[a * p1 + t] = 1.0
        r[b * p1 + t] = -1.0
        rows.append(r)
    if not rows:
        raise InvalidInputError("the model has no estimable slopes to compare")
    return np.vstack(rows)


def combined_loglik(
    merged_loglik: float, data: TrainingData, a: Any, b: Any, fit_intercept: bool
) -> float:
    """The constrained model's log-likelihood from the merged model's (see the module).

    Parameters
    ----------
    merged_loglik : float
        Maximized log-likelihood of the model with ``a`` and ``b`` merged.
    data : TrainingData
        With the original labels.
    a, b : label
    fit_intercept : bool

    Returns
    -------
    float
    """
    w = data.weights()
    s_a = float(w[data.y == a].sum())
    s_b = float(w[data.y == b].sum())
    s_ab = s_a + s_b
    if not fit_intercept:
        return merged_loglik + s_ab * np.log(0.5)
    split = sum(s * np.log(s / s_ab) for s in (s_a, s_b) if s > 0)
    return merged_loglik + float(split)


def _wald_row(state: FittedModel, beta: FloatArray, cov: FloatArray, a: int, b: int) -> list[Any]:
    R = combine_restrictions(state, a, b)
    try:
        res = wald_statistic(beta, cov, R, np.zeros(R.shape[0]))
    except ValueError as exc:
        nan = float("nan")
        return [nan, nan, nan, str(exc)]
    return [res.statistic, float(res.df), res.p_value, ""]


def _lr_row(state: FittedModel, data: TrainingData, refit: Refit, a: Any, b: Any) -> list[Any]:
    assert state.outcome is not None
    stats = state.outcome.statistics
    merged_y = np.where(data.y == b, a, data.y)
    reference = state.reference
    if reference is not None and reference == b:
        reference = a
    try:
        merged = checked_fit(refit, data.with_labels(merged_y), reference, False, "merged model")
    except NotTestable as exc:
        nan = float("nan")
        return [nan, nan, nan, str(exc)]
    assert merged.outcome is not None
    ll_c = combined_loglik(float(merged.outcome.statistics.loglik), data, a, b, state.fit_intercept)
    n_c = int(merged.outcome.statistics.n_params) + int(state.fit_intercept)
    df = int(stats.n_params) - n_c
    stat = 2.0 * (float(stats.loglik) - ll_c)
    return [stat, float(df), float(scipy.stats.chi2.sf(stat, df)), ""]


def combine_table(
    state: FittedModel,
    method: str,
    pairs: list[tuple[Any, Any]],
    cov: FloatArray | None = None,
    data: TrainingData | None = None,
    refit: Refit | None = None,
) -> pd.DataFrame:
    """The table of :meth:`~mnlogit.inference.methods.InferenceMixin.combine_test`.

    Parameters
    ----------
    state : FittedModel
    method : {"wald", "lr"}
    pairs : list of (label, label)
    cov : ndarray of shape (K * p1, K * p1), optional
        Needed for ``"wald"``.
    data : TrainingData, optional
        Needed for ``"lr"``, with ``refit``.
    refit : Refit, optional

    Returns
    -------
    DataFrame of shape (len(pairs), 4)
        Indexed by ``(class_a, class_b)``; columns ``statistic, df, p_value, note``.
    """
    labels = list(state.classes)
    beta = state.coefficient_vector()
    rows = []
    for a, b in pairs:
        if method == "wald":
            assert cov is not None
            rows.append(_wald_row(state, beta, cov, labels.index(a), labels.index(b)))
        else:
            assert data is not None and refit is not None
            rows.append(_lr_row(state, data, refit, a, b))
    index = pd.MultiIndex.from_tuples(pairs, names=["class_a", "class_b"])
    frame = pd.DataFrame(rows, index=index, columns=["statistic", "df", "p_value", "note"])
    frame.attrs["method"] = method
    return frame
