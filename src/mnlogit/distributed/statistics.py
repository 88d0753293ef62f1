"""The first pass over Dask data: everything preparation needs, in one read.

Per partition, and per distinct label in it (:class:`PartStatistics`):

- rows, rows with positive sample weight, total sample weight -- the classes, their
  totals and the class weights come from these;
- the weighted feature sums ``sum_i w_i x_i`` -- the gradient's constant part (the class
  sums) once the class weights are known;
- the weighted Gram matrix of ``[1, X / d]`` (``d`` the partition's column maxima, so no
  square overflows), when it is small -- the collinearity check's Gram matrix is then
  ``sum_k cw_k G_k`` over the classes, without a second pass;
- each column's largest absolute value (the scales and the range check), and the first
  non-finite feature, missing label or invalid weight, named by partition and row.

The reduction (:meth:`PartStatistics.combine`) merges labels across partitions and puts
every partition's Gram matrices on the common column scale (the largest maxima).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.delayed import Delayed
from numpy.typing import NDArray

from mnlogit.distributed.partitions import PassCounter, RawBlock, run_pass
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.scales import as_divisors
from mnlogit.objective import kernels

__all__ = ["GRAM_MAX_NUMBERS", "PartStatistics", "partition_statistics", "statistics_of_part"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest ``L * p1^2`` (labels times the Gram matrix's size) for which the statistics
#: pass also forms the per-label Gram matrices (32 MiB); beyond, a separate pass forms
#: one Gram matrix.
GRAM_MAX_NUMBERS = 2**22


@dataclass(frozen=True)
class PartStatistics:
    """The statistics pass's partial result (combined by :meth:`combine`).

    Attributes
    ----------
    rows : dict of int to int
        Rows of each partition.
    labels : ndarray of shape (L,)
        Distinct labels seen.
    counts, positive, weights : ndarray of shape (L,)
        Rows, rows with positive weight, and total sample weight of each label.
    sums : ndarray of shape (L, p)
        ``sum_i w_i x_i`` over each label's rows (``w`` the sample weights).
    grams : ndarray of shape (L, p1, p1) or (1, p1, p1), or None
        ``sum_i w_i z_i z_iᵀ`` with ``z_i = [1, x_i / divisors]`` (the ones only with an
        intercept) per label, or over all rows (``by_label`` False: no class weights to
        apply); None when not asked for or too large.
    divisors : ndarray of shape (p,)
        The column scale of ``grams``: ``as_divisors(maxabs)``.
    maxabs : ndarray of shape (p,)
        Largest absolute value of each column.
    problem : str or None
        The first invalid value found (partition, row, column), for the error message.
    dropped : int
        Rows a formula fit dropped for missing values.
    by_label : bool
        Whether ``grams`` holds one matrix per label.
    problem_at : int or None
        The partition of ``problem``: partial results may be combined in any order (one
        task per worker takes every other partition), the one of the lowest partition is
        reported.
    """

    rows: dict[int, int]
    labels: NDArray[Any]
    counts: NDArray[np.int64]
    positive: NDArray[np.int64]
    weights: FloatArray
    sums: FloatArray
    grams: FloatArray | None
    divisors: FloatArray
    maxabs: FloatArray
    problem: str | None
    dropped: int = 0
    by_label: bool = True
    problem_at: int | None = None

    @staticmethod
    def combine(*parts: PartStatistics) -> PartStatistics:
        rows: dict[int, int] = {}
        for part in parts:
            rows.update(part.rows)
        try:
            distinct, inverse = np.unique(
                np.concatenate([p.labels for p in parts]), return_inverse=True
            )
        except TypeError as exc:
            raise InvalidInputError(f"labels of mixed, unorderable types: {exc}") from exc
        inverse = inverse.ravel()
        size = distinct.size

        def total(values: NDArray[Any]) -> NDArray[Any]:
            return np.bincount(inverse, weights=values, minlength=size)

        p = parts[0].maxabs.size
        sums = np.zeros((size, p))
        np.add.at(sums, inverse, np.vstack([q.sums for q in parts]))
        maxabs = np.maximum.reduce([q.maxabs for q in parts])
        divisors = as_divisors(maxabs)
        problems = sorted(
            (q.problem_at if q.problem_at is not None else -1, q.problem)
            for q in parts
            if q.problem is not None
        )
        return PartStatistics(
            rows=rows,
            labels=distinct,
            counts=total(np.concatenate([q.counts for q in parts])).astype(np.int64),
            positive=total(np.concatenate([q.positive for q in parts])).astype(np.int64),
            weights=total(np.concatenate([q.weights for q in parts])).astype(np.float64),
            sums=sums,
            grams=_combined_grams(parts, inverse, size, divisors),
            by_label=parts[0].by_label,
            divisors=divisors,
            maxabs=maxabs,
            problem=problems[0][1] if problems else None,
            problem_at=problems[0][0] if problems else None,
            dropped=sum(q.dropped for q in parts),
        )

    @property
    def n_rows(self) -> int:
        return int(sum(self.rows.values()))


def _combined_grams(
    parts: tuple[PartStatistics, ...], inverse: IntArray, size: int, divisors: FloatArray
) -> FloatArray | None:
    """The parts' per-label Gram matrices on the common scale ``divisors``, added."""
    if any(q.grams is None for q in parts):
        return None
    first = parts[0].grams
    assert first is not None
    p1 = first.shape[1]
    off = p1 - divisors.size
    out = np.zeros((size if parts[0].by_label else 1, p1, p1))
    at = 0
    for q in parts:
        assert q.grams is not None
        # <= 1: no overflow; 0 for columns that are zero in this part (their entries are 0)
        f = np.concatenate([np.ones(off), np.where(q.maxabs > 0, q.divisors / divisors, 0.0)])
        count = q.labels.size
        if q.by_label:
            np.add.at(out, inverse[at : at + count], q.grams * np.outer(f, f))
        elif q.grams.shape[0]:
            out[0] += q.grams[0] * np.outer(f, f)
        at += count
    return out


def _missing_labels(labels: NDArray[Any]) -> IntArray:
    """Rows whose label is missing (None or NaN)."""
    if labels.dtype.kind == "f":
        return np.flatnonzero(np.isnan(labels))
    if labels.dtype.kind == "O":
        return np.flatnonzero([v is None or (isinstance(v, float) and v != v) for v in labels])
    return np.zeros(0, dtype=np.intp)


def _first_problem(raw: RawBlock, names: list[str] | None) -> str | None:
    """The first invalid value of a partition, named by partition, row and column."""
    where = f"partition {raw.index}"
    missing = _missing_labels(raw.labels)
    if missing.size:
        return f"{where}, row {int(missing[0])}: the label is missing (y must have no NaN/None)"
    if raw.weights is not None:
        bad = np.flatnonzero(~np.isfinite(raw.weights) | (raw.weights < 0))
        if bad.size:
            return (
                f"{where}, row {int(bad[0])}: sample_weight {float(raw.weights[bad[0]])!r} is "
                "not a finite non-negative number"
            )
    X = raw.X
    if X.dtype.kind == "f" and X.size and not np.isfinite(X.sum()):
        row, col = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        name = names[col] if names is not None and col < len(names) else f"x{col}"
        return (
            f"{where}, row {row}, column {name!r}: the value {float(X[row, col])!r} is not "
            "finite (X must have no NaN or infinite values)"
        )
    return None


def _empty(raw: RawBlock, problem: str | None, intercept: bool, by_label: bool) -> PartStatistics:
    p = raw.X.shape[1]
    p1 = p + int(intercept)
    none = np.zeros(0, dtype=np.int64)
    return PartStatistics(
        rows={raw.index: int(raw.X.shape[0])},
        labels=raw.labels[:0],
        counts=none,
        positive=none,
        weights=np.zeros(0),
        sums=np.zeros((0, p)),
        grams=np.zeros((0, p1, p1)),
        divisors=np.ones(p),
        maxabs=np.zeros(p),
        problem=problem,
        dropped=raw.dropped,
        by_label=by_label,
        problem_at=None if problem is None else raw.index,
    )


def statistics_of_part(
    raw: RawBlock, names: list[str] | None, intercept: bool, with_grams: bool, by_label: bool
) -> PartStatistics:
    """The statistics of one partition (module docstring)."""
    problem = _first_problem(raw, names)
    m, p = raw.X.shape
    if problem is not None or m == 0:
        return _empty(raw, problem, intercept, by_label)
    w = np.ones(m) if raw.weights is None else raw.weights
    try:
        distinct, inverse = np.unique(raw.labels, return_inverse=True)
    except TypeError as exc:
        raise InvalidInputError(
            f"partition {raw.index}: labels of mixed, unorderable types: {exc}"
        ) from exc
    inverse = inverse.ravel()
    X = raw.X if raw.X.dtype.kind == "f" else raw.X.astype(np.float64)
    maxabs = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
    divisors = as_divisors(maxabs)
    L = distinct.size
    p1 = p + int(intercept)
    # sum_i w_i x_i per label: one product with the weighted one-hot (L, m) matrix, as
    # (p, m) @ (m, L) -- BLAS takes (L, m) @ (m, p) with L rows several times slower
    onehot = np.zeros((L, m))
    onehot[inverse, np.arange(m)] = w
    sums = np.ascontiguousarray((X.T @ onehot.T).T)
    del onehot
    grams = None
    factor = 1.0 / divisors
    if with_grams and not by_label and p1 * p1 <= GRAM_MAX_NUMBERS:
        grams = kernels.weighted_gram(X, w, intercept=intercept, column_factor=factor)[None]
    elif with_grams and by_label and L * p1 * p1 <= GRAM_MAX_NUMBERS:
        grams = np.zeros((L, p1, p1))
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(L + 1))
        for label in range(L):
            rows = order[bounds[label] : bounds[label + 1]]
            grams[label] = kernels.weighted_gram(
                X[rows], w[rows], intercept=intercept, column_factor=factor
            )
    return PartStatistics(
        rows={raw.index: m},
        labels=distinct,
        counts=np.bincount(inverse, minlength=L).astype(np.int64),
        positive=np.bincount(inverse, weights=(w > 0), minlength=L).astype(np.int64),
        weights=np.bincount(inverse, weights=w, minlength=L).astype(np.float64),
        sums=sums,
        grams=grams,
        divisors=divisors,
        maxabs=maxabs,
        problem=None,
        dropped=raw.dropped,
        by_label=by_label,
    )


def partition_statistics(
    counter: PassCounter,
    parts: list[Delayed],
    names: list[str] | None,
    intercept: bool,
    with_grams: bool,
    by_label: bool = True,
) -> PartStatistics:
    """The statistics pass (module docstring), refusing the first invalid value found.

    ``by_label``: the Gram matrices per label (class weights will multiply them), else
    one over all rows.
    """
    stats: PartStatistics = run_pass(
        counter,
        "statistics",
        parts,
        statistics_of_part,
        PartStatistics.combine,
        names,
        intercept,
        with_grams,
        by_label,
    )
    if stats.problem is not None:
        raise InvalidInputError(stats.problem)
    if stats.n_rows == 0:
        raise InvalidInputError("the Dask input has no rows")
    return stats
