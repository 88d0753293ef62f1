"""Separation of Dask data: never a silent answer.

A fit on data held by workers cannot run the exact linear program on all rows. What it
does instead, for unpenalized fits (:func:`dask_separation`):

- **small data** (at most :data:`~mnlogit.identification.separation_check.ALWAYS_CHECK_CELLS`
  cells): all rows are gathered and the exact LP decides, as in memory;
- **signs of separation** (the solver did not converge, or a fitted probability fell below
  :data:`~mnlogit.identification.separation_check.SUSPICIOUS_PROBABILITY` -- the signature of
  diverging coefficients): the exact LP runs on the rows with the smallest fitted
  probabilities (:data:`SAMPLE_ROWS`, gathered in one pass). Data separated along a
  direction are separated on every subset, so a subset that is *not* separated proves the
  data are not; a separated subset is reported as separation of the data (a warning
  naming the subset, no standard errors), the coefficients' divergence being the
  confirmation;
- **no signs** (converged, every fitted probability above the threshold): not separated;
  under separation the separated cells' probabilities go to zero.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mnlogit.distributed.objective import DaskObjective, probabilities_of
from mnlogit.distributed.partitions import Block, run_pass
from mnlogit.identification import SeparationResult, find_separation
from mnlogit.identification.separation_check import ALWAYS_CHECK_CELLS, SUSPICIOUS_PROBABILITY

__all__ = ["SAMPLE_ROWS", "dask_separation"]

FloatArray = NDArray[np.float64]

#: Rows (smallest fitted probability first) the LP examines when a large fit shows signs
#: of separation.
SAMPLE_ROWS = 5000


class Smallest(NamedTuple):
    """The ``limit`` rows with the smallest fitted probabilities: scores, features, codes,
    weights."""

    scores: FloatArray
    X: FloatArray
    codes: NDArray[np.intp]
    weights: FloatArray
    limit: int


def _keep(found: Smallest) -> Smallest:
    k = found.limit
    if found.scores.size <= k:
        return found
    rows = np.argpartition(found.scores, k - 1)[:k]
    return Smallest(found.scores[rows], found.X[rows], found.codes[rows], found.weights[rows], k)


def _smallest_part(block: Block, coef: tuple[FloatArray, FloatArray | None], k: int) -> Smallest:
    P = probabilities_of(block, *coef)
    w = np.ones(block.n_rows) if block.weights is None else block.weights
    scores = np.where(w > 0, P.min(axis=1), np.inf)
    return _keep(Smallest(scores, np.asarray(block.X, np.float64), block.codes, w, k))


def _merge(*parts: Smallest) -> Smallest:
    merged = Smallest(
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.X for p in parts]),
        np.concatenate([p.codes for p in parts]),
        np.concatenate([p.weights for p in parts]),
        parts[0].limit,
    )
    return _keep(merged)


def dask_separation(
    obj: DaskObjective,
    theta: FloatArray,
    converged: bool,
    names: list[str],
    classes: NDArray[Any],
    reference: int | None,
) -> SeparationResult | None:
    """The separation check of an unpenalized Dask fit (module docstring).

    Returns
    -------
    SeparationResult or None
        None when not separated; a ``SeparationWarning`` is issued otherwise.
    """
    K = obj.n_classes
    small = obj.data.positive_rows * (K - 1) <= ALWAYS_CHECK_CELLS
    if not small and converged and obj.min_probability(theta) >= SUSPICIOUS_PROBABILITY:
        return None
    k = obj.n_samples if small else SAMPLE_ROWS
    found: Smallest = run_pass(
        obj.counter,
        "separation rows",
        obj.blocks,
        _smallest_part,
        _merge,
        obj.coefficient_key(theta),
        k,
    )
    return find_separation(
        found.X,
        found.codes,
        K,
        found.weights,
        obj.fit_intercept,
        names,
        classes,
        reference,
        column_factor=obj.column_factor,
    )
