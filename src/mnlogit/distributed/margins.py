"""Average marginal effects of a model on Dask data, by partition sums.

:func:`mnlogit.inference.margins.average_effects` returns, for a block of rows, the
weighted average effect and its Jacobian with respect to ``vec(B)``; multiplied by the
block's weight total they are additive partial sums. One pass reduces them, and the
delta-method standard errors use the model's covariance, as in memory. Only the average
over the rows (``at="overall"``) of continuous features is offered: representative rows
(means, medians) and discrete changes of categorical or 0/1 columns read the data in ways
that are not partition sums yet.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.stats
from dask.delayed import delayed
from numpy.typing import NDArray

from mnlogit.distributed.partitions import PassCounter, paired_parts, run_pass, shared
from mnlogit.distributed.prediction import design_rows
from mnlogit.exceptions import InvalidInputError
from mnlogit.fitted import FittedModel
from mnlogit.inference.margins import METHODS, average_effects

__all__ = ["dask_marginal_effects"]

FloatArray = NDArray[np.float64]


class EffectSums(NamedTuple):
    """Weight-total times the averaged effects ``(K, p)`` and Jacobian, and the total."""

    effects: FloatArray
    jacobian: FloatArray
    total: float


def _effects_part(piece: tuple[Any, Any, int], state: FittedModel, method: str) -> EffectSums:
    part, weights, index = piece
    X = design_rows(part, state, index)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w is not None and w.shape[0] != X.shape[0]:
        raise InvalidInputError(
            f"partition {index}: X has {X.shape[0]} rows but sample_weight has {w.shape[0]}"
        )
    total = float(X.shape[0] if w is None else w.sum())
    B = state.coefficient_matrix()
    if total == 0.0:
        p1, K = B.shape
        p = p1 - int(state.fit_intercept)
        return EffectSums(np.zeros((K, p)), np.zeros((K * p, K * p1)), 0.0)
    effects, J = average_effects(X, B, state.fit_intercept, method, w)
    return EffectSums(effects * total, J * total, total)


def _add(*parts: EffectSums) -> EffectSums:
    return EffectSums(
        sum((p.effects for p in parts[1:]), parts[0].effects.copy()),
        sum((p.jacobian for p in parts[1:]), parts[0].jacobian.copy()),
        sum(p.total for p in parts),
    )


def _piece(part: Any, weights: Any, index: int) -> tuple[Any, Any, int]:
    return part, weights, index


def dask_marginal_effects(
    state: FittedModel,
    cov: FloatArray,
    X: Any,
    at: Any = "overall",
    method: str = "dydx",
    alpha: float = 0.05,
    dummy: bool = False,
    sample_weight: Any = None,
) -> pd.DataFrame:
    """``marginal_effects`` of a fitted state over Dask rows (module docstring).

    Returns
    -------
    DataFrame of shape (K * p, 6)
        Indexed by ``(class, term)``; ``effect, std_err, z, p_value, ci_lower, ci_upper``.
    """
    if at != "overall" or dummy:
        raise InvalidInputError(
            "on Dask data marginal_effects averages over the rows (at='overall', "
            "dummy=False); representative rows and discrete changes need data in memory"
        )
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
    design = state.design
    if design is not None and design.categorical_levels(pd.DataFrame(columns=list(X.columns))):
        raise InvalidInputError(
            "on Dask data marginal_effects does not yet give the discrete changes of "
            "categorical terms; compute them on a data frame in memory"
        )
    parts, weights = paired_parts(X, sample_weight, as_frames=design is not None)
    pieces = [
        delayed(_piece, pure=True)(p, w, i)
        for i, (p, w) in enumerate(zip(parts, weights, strict=True))
    ]
    found: EffectSums = run_pass(
        PassCounter(), "marginal effects", pieces, _effects_part, _add, shared(state), method
    )
    if not found.total > 0:
        raise InvalidInputError("the rows' weights sum to zero")
    effects = found.effects / found.total
    J = found.jacobian / found.total
    se = np.sqrt(np.maximum(np.einsum("ab,bc,ac->a", J, cov, J), 0.0)).reshape(effects.shape)
    off = int(state.fit_intercept)
    gone = state.aliased_mask[off : state.p1]
    effects[:, gone] = np.nan
    se[:, gone] = np.nan
    est, err = effects.ravel(), se.ravel()
    crit = float(scipy.stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(err > 0, est / err, np.nan)
    index = pd.MultiIndex.from_product(
        [list(state.classes), list(state.feature_names)], names=["class", "term"]
    )
    table = pd.DataFrame(
        {
            "effect": est,
            "std_err": err,
            "z": z,
            "p_value": 2 * scipy.stats.norm.sf(np.abs(z)),
            "ci_lower": est - crit * err,
            "ci_upper": est + crit * err,
        },
        index=index,
    )
    table.attrs["discrete"] = []
    return table
