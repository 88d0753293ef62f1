"""Preparation of Dask data: what :func:`mnlogit.preparation.prepare` does in memory.

Two passes over the partitions before the solver runs:

1. **statistics** (:func:`partition_statistics`): rows per partition, the labels with their
   row counts and weight totals (so the classes, class weights and class totals come from
   this one pass), each column's largest absolute value (for the column scales and the
   range check), and the first non-finite feature, missing label or invalid weight,
   reported with its partition and row;
2. **Gram** (unpenalized and Firth fits, up to 2000 design columns): the weighted Gram
   matrix of ``[1, X / max|X|]`` reduced over partitions, from which
   :func:`mnlogit.identification.collinearity.collinearity_from_gram` applies R's alias
   rule; the same pass sums the gradient's constant part (the class sums).

When the data will fit in the workers' memory the raw partitions are persisted *before*
the statistics pass (:func:`mnlogit.distributed.partitions.persist_raw_if_it_fits`), so
the source is read once: the statistics pass and the encoded blocks (features without
aliased columns, class codes, normalized weights, persisted in turn) are computed from the
held partitions. Otherwise the encoded blocks are left as a graph that reads the source on
every pass (:func:`mnlogit.distributed.partitions.persist_if_it_fits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.delayed import Delayed, delayed
from numpy.typing import NDArray

from mnlogit.distributed.partitions import (
    Block,
    PassCounter,
    RawBlock,
    persist_if_it_fits,
    persist_raw_if_it_fits,
    persist_spread,
    run_pass,
    shared,
)
from mnlogit.distributed.sources import source_of
from mnlogit.distributed.statistics import PartStatistics, partition_statistics
from mnlogit.exceptions import CollinearityWarning, DataWarning, InvalidInputError, warn
from mnlogit.formula import FormulaDesign
from mnlogit.identification import CollinearityResult
from mnlogit.identification.aliasing import MAX_COLLINEARITY_COLUMNS, kept_rows
from mnlogit.identification.collinearity import collinearity_from_gram
from mnlogit.identification.scales import check_column_range, column_scales
from mnlogit.identification.validation import WEIGHT_TOTAL_RANGE, encode_labels
from mnlogit.objective import kernels
from mnlogit.parameterization import Parameterization
from mnlogit.preparation import FitSettings, penalty_strength

__all__ = ["DaskPrepared", "prepare_dask", "sorted_codes"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def sorted_codes(labels: NDArray[Any], classes: NDArray[Any]) -> IntArray:
    """Positions of ``labels`` in ``classes`` (any order), vectorized; unknown labels raise."""
    order = np.argsort(classes, kind="stable")
    ranked = classes[order]
    at = np.searchsorted(ranked, labels)
    at = np.minimum(at, ranked.size - 1)
    found = ranked[at] == labels
    if not bool(np.all(found)):
        unknown = sorted({str(v) for v in np.asarray(labels)[~found]})[:5]
        raise InvalidInputError(f"labels {unknown} are not classes of the model")
    return np.asarray(order[at], dtype=np.intp)


def _encode(
    raw: RawBlock,
    classes: NDArray[Any],
    class_factor: FloatArray | None,
    inv_total: float | None,
    kept: IntArray | None,
) -> Block:
    """A partition encoded for the kernels (module docstring of partitions)."""
    X = raw.X if raw.X.dtype in (np.float64, np.float32) else raw.X.astype(np.float64)
    if kept is not None:
        X = X[:, kept]
    codes = sorted_codes(raw.labels, classes)
    weights = None
    if inv_total is not None:
        w = np.ones(codes.size) if raw.weights is None else np.asarray(raw.weights, np.float64)
        if class_factor is not None:
            w = w * class_factor[codes]
        weights = w * inv_total
    return Block(np.ascontiguousarray(X), codes, weights, raw.groups)


@dataclass(frozen=True)
class DaskPrepared:
    """The model's Dask data, validated, encoded and identified (cf. ``PreparedData``).

    Attributes
    ----------
    blocks : list of Delayed
        Each evaluates to a :class:`~mnlogit.distributed.partitions.Block`.
    persisted : bool
        Whether the blocks are held in the workers' memory (else read on every pass).
    rows : list of int
        Rows of each partition.
    n_samples : int
    classes : ndarray of shape (K,)
    class_totals : ndarray of shape (K,)
        Effective weight of each class.
    sum_weights : float
        ``S``.
    equal_weights : bool
        No sample or class weights: every row weighs ``1 / n`` (blocks carry no weights).
    positive_rows : int
    fit_intercept : bool
    n_features : int
        ``p``, before aliased columns are dropped.
    feature_names_in : ndarray or None
    column_names : tuple of str
    design : FormulaDesign or None
    n_missing_dropped : int or None
    kept_columns : ndarray of shape (p_kept,) or None
    collinearity : CollinearityResult or None
    column_scale : ndarray of shape (p_kept,)
    class_sums : ndarray of shape (p1_kept, K)
        ``sum_i (s_i / S) onehot(y_i) [1, x_i]`` on X's own scale.
    reference_index : int or None
    alpha : float
    has_groups : bool
    counter : PassCounter
        The fit's pass counter (preparation's passes included).
    """

    blocks: list[Delayed]
    persisted: bool
    rows: list[int]
    n_samples: int
    classes: NDArray[Any]
    class_totals: FloatArray
    sum_weights: float
    equal_weights: bool
    positive_rows: int
    fit_intercept: bool
    n_features: int
    feature_names_in: NDArray[np.object_] | None
    column_names: tuple[str, ...]
    design: FormulaDesign | None
    n_missing_dropped: int | None
    kept_columns: IntArray | None
    collinearity: CollinearityResult | None
    column_scale: FloatArray
    class_sums: FloatArray
    reference_index: int | None
    alpha: float
    has_groups: bool
    counter: PassCounter

    @property
    def n_classes(self) -> int:
        return int(self.classes.size)

    @property
    def kept_names(self) -> list[str]:
        if self.kept_columns is None:
            return list(self.column_names)
        return [self.column_names[j] for j in self.kept_columns]

    @property
    def p1(self) -> int:
        return self.column_scale.size + int(self.fit_intercept)


def _classes(stats: PartStatistics, order: list[Any] | None) -> tuple[NDArray[Any], IntArray]:
    """Classes (sorted, or in a categorical's order) and each class's row in ``stats``."""
    classes, _ = encode_labels(stats.labels, order)
    return classes, sorted_codes(classes, stats.labels)


def _class_factor(settings: FitSettings, classes: NDArray[Any], weights: FloatArray) -> FloatArray:
    """The class weights ``(K,)`` as scikit-learn computes them (1 without class_weight)."""
    if settings.class_weight is None:
        return np.ones(classes.size)
    from sklearn.utils.class_weight import compute_class_weight

    # each class once, weighted by its total: the weighted counts "balanced" divides by
    cw = np.asarray(
        compute_class_weight(
            settings.class_weight, classes=classes, y=classes, sample_weight=weights
        ),
        dtype=np.float64,
    )
    bad = ~np.isfinite(cw) | (cw < 0)
    if bad.any():
        raise InvalidInputError(
            f"class_weight must be finite and >= 0; got {cw[bad].tolist()} for class(es) "
            f"{classes[bad].tolist()}"
        )
    return cw


def _check_total(total: float) -> None:
    if not total > 0:
        raise InvalidInputError(
            "sample weights (times class weights) must contain at least one non-zero number; "
            "all weights are zero, so there is nothing to fit"
        )
    if not WEIGHT_TOTAL_RANGE[0] <= total <= WEIGHT_TOTAL_RANGE[1]:
        raise InvalidInputError(
            f"sample weights (times class weights) sum to {total:.3g}, outside "
            f"[{WEIGHT_TOTAL_RANGE[0]:g}, {WEIGHT_TOTAL_RANGE[1]:g}]; rescale them"
        )


def _gram_part(block: Block, intercept: bool, column_factor: FloatArray) -> FloatArray:
    """The scaled weighted Gram matrix of one block (when the statistics pass had none)."""
    h = np.ones(block.n_rows) if block.weights is None else block.weights
    return kernels.weighted_gram(block.X, h, intercept=intercept, column_factor=column_factor)


def _add(*parts: FloatArray) -> FloatArray:
    return sum(parts[1:], parts[0].copy())


def _select_columns(block: Block, kept: IntArray) -> Block:
    return Block(np.ascontiguousarray(block.X[:, kept]), block.codes, block.weights, block.groups)


def _persist_blocks(
    blocks: list[Delayed], raws: list[Delayed], raw_persisted: bool, nbytes: float
) -> tuple[list[Delayed], bool]:
    """The encoded blocks persisted: from the persisted raw partitions (no second read;
    each on the worker that holds its raw partition), or, when those were not persisted,
    if they fit after all (``persist_if_it_fits``)."""
    if raw_persisted:
        return persist_spread(blocks, beside=raws), True
    return persist_if_it_fits(blocks, nbytes)


def prepare_dask(
    settings: FitSettings, X: Any, y: Any, sample_weight: Any, groups: Any
) -> DaskPrepared:
    """Validate, encode and identify Dask data (module docstring).

    Parameters
    ----------
    settings : FitSettings
    X : dask array of shape (n, p), dask DataFrame (numeric, or any with a formula)
    y : dask array or series of shape (n,), array-like, or None with a formula
    sample_weight, groups : dask array or series, array-like, column name or None

    Returns
    -------
    DaskPrepared
    """
    if settings.cov_type == "cluster" and groups is None:
        raise InvalidInputError("cov_type='cluster' needs groups= passed to fit")
    counter = PassCounter()
    source = source_of(settings, X, y, sample_weight, groups)
    names = list(source.column_names)
    p = len(names)
    intercept = source.fit_intercept
    check = settings.maximum_likelihood and p > 0 and p + int(intercept) <= MAX_COLLINEARITY_COLUMNS
    by_label = settings.class_weight is not None
    raws, raw_persisted = persist_raw_if_it_fits(source.parts)
    stats = partition_statistics(counter, raws, names, intercept, check, by_label)
    rows = [stats.rows[i] for i in range(len(raws))]
    classes, at = _classes(stats, source.category_order)
    weights = stats.weights[at]
    factor = _class_factor(settings, classes, weights)
    totals = weights * factor
    S = float(totals.sum())
    _check_total(S)
    positive = int(stats.positive[at][factor > 0].sum())
    equal = sample_weight is None and settings.class_weight is None
    check_column_range(stats.maxabs, names)
    blocks = [
        delayed(_encode, pure=True)(
            raw,
            shared(classes),
            None if equal else shared(factor),
            None if equal else 1.0 / S,
            None,
        )
        for raw in raws
    ]
    # sum_i (s_i / S) onehot(y_i) [1, x_i]: the gradient's constant part, (p1, K)
    class_sums = (stats.sums[at] * (factor / S)[:, None]).T
    if intercept:
        class_sums = np.vstack([totals[None, :] / S, class_sums])
    gram = None
    if check and stats.grams is not None:
        gram = np.einsum("k,kij->ij", factor, stats.grams[at]) if by_label else stats.grams[0]
    elif check:
        gram = run_pass(
            counter,
            "gram",
            blocks,
            _gram_part,
            _add,
            intercept,
            shared(1.0 / stats.divisors),
        )
    kept, collinearity = None, None
    if gram is not None:
        collinearity = collinearity_from_gram(gram, stats.maxabs, intercept, names)
        if collinearity.collinear:
            kept = np.asarray(collinearity.kept_features, dtype=np.intp)
            warn(
                CollinearityWarning(
                    f"{collinearity.message}\nmnlogit dropped the aliased column(s) "
                    f"{list(collinearity.aliased)} from the fit; their coefficients are "
                    "reported as not estimable (NaN in tables, 0 in coef_)."
                )
            )
            class_sums = class_sums[kept_rows(kept, intercept)]
            blocks = [delayed(_select_columns, pure=True)(b, shared(kept)) for b in blocks]
    maxabs = stats.maxabs if kept is None else stats.maxabs[kept]
    p1 = maxabs.size + int(source.fit_intercept)
    if p1 == 0:
        raise InvalidInputError("no column is left to estimate (all aliased, no intercept)")
    if settings.maximum_likelihood and p1 >= positive:
        raise InvalidInputError(
            f"an unpenalized fit with {p1} parameters per class and only {positive} rows "
            "(with positive weight) has no maximum-likelihood estimate. Use penalty='l2'"
        )
    _warn_single(classes, stats.positive[at])
    scale = column_scales(np.empty((1, maxabs.size)), maxabs=maxabs)
    if settings.ridge and not settings.maximum_likelihood:
        scale = np.maximum(scale, 1.0)
    nbytes = stats.n_rows * (maxabs.size * (source.itemsize or 8) + 16)
    blocks, persisted = _persist_blocks(blocks, raws, raw_persisted, nbytes)
    return DaskPrepared(
        blocks=blocks,
        persisted=persisted,
        rows=rows,
        n_samples=stats.n_rows,
        classes=classes,
        class_totals=totals,
        sum_weights=S,
        equal_weights=equal,
        positive_rows=positive,
        fit_intercept=source.fit_intercept,
        n_features=p,
        feature_names_in=source.feature_names_in,
        column_names=tuple(names),
        design=source.design,
        n_missing_dropped=None if source.design is None else stats.dropped,
        kept_columns=kept,
        collinearity=collinearity,
        column_scale=scale,
        class_sums=class_sums,
        reference_index=Parameterization.resolve_reference(
            settings.reference, classes, settings.ridge
        ),
        alpha=penalty_strength(settings, S),
        has_groups=groups is not None,
        counter=counter,
    )


def _warn_single(classes: NDArray[Any], positive: NDArray[np.int64]) -> None:
    single = classes[positive == 1].tolist()
    if single:
        warn(
            DataWarning(
                f"class(es) {single[:10]} have a single observation; their coefficients are "
                "barely identified (expect huge standard errors or separation)"
            )
        )
