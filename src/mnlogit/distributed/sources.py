"""Where a Dask fit's rows come from: arrays and labels, or a data frame and a formula.

:func:`source_of` turns the arguments of ``fit`` into a :class:`Source`: one ``Delayed``
per partition evaluating to a :class:`~mnlogit.distributed.partitions.RawBlock`, plus the
column names and the formula's design.

With a formula the design is learnt on the first partition, after one pass that finds
every level of the text and categorical columns the formula reads: those columns of the
first partition become categoricals holding all levels, so every partition is encoded
with the same columns (:meth:`mnlogit.formula.FormulaDesign.transform` per partition).
Stateful transforms (``center``, ``scale``, splines) would learn from the first partition
only and are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
import pandas as pd
from dask.delayed import Delayed, delayed
from numpy.typing import NDArray

from mnlogit.distributed.parquet import parquet_parts
from mnlogit.distributed.partitions import RawBlock, array_parts, is_frame_like
from mnlogit.exceptions import InvalidInputError
from mnlogit.formula import FormulaDesign
from mnlogit.preparation import FitSettings

__all__ = ["Source", "source_of"]


@dataclass(frozen=True)
class Source:
    """The raw partitions of a fit and what describes their columns.

    Attributes
    ----------
    parts : list of Delayed
        Each evaluates to a :class:`~mnlogit.distributed.partitions.RawBlock`.
    column_names : tuple of str
        The ``p`` design columns.
    feature_names_in : ndarray of shape (p,) or None
        A data frame's column names (no formula).
    design : FormulaDesign or None
    category_order : list or None
        The order of a categorical response's categories (the classes' order).
    fit_intercept : bool
    itemsize : int or None
        Bytes per feature value (None: float64 after encoding).
    """

    parts: list[Delayed]
    column_names: tuple[str, ...]
    feature_names_in: NDArray[np.object_] | None
    design: FormulaDesign | None
    category_order: list[Any] | None
    fit_intercept: bool
    itemsize: int | None


def _categories(series: Any) -> list[Any] | None:
    """Known categories of a (Dask) series with a categorical dtype, else None."""
    dtype = getattr(series, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None:
        cats = list(dtype.categories)
        if cats and cats != ["__UNKNOWN_CATEGORIES__"]:
            return cats
    return None


def source_of(settings: FitSettings, X: Any, y: Any, sample_weight: Any, groups: Any) -> Source:
    """The :class:`Source` of ``fit``'s arguments (module docstring)."""
    if settings.formula is not None:
        return _formula_source(settings, X, y, sample_weight, groups)
    if y is None:
        raise InvalidInputError(
            "MultinomialLogit requires y to be passed, but the target y is None "
            "(or give formula='y ~ ...' and a Dask data frame)"
        )
    if isinstance(sample_weight, str) or isinstance(groups, str):
        raise InvalidInputError("column names for sample_weight or groups need a formula fit")
    direct = parquet_parts(X, y, sample_weight, groups) if is_frame_like(X) else None
    parts, p = direct if direct is not None else array_parts(X, y, sample_weight, groups)
    columns = getattr(X, "columns", None)
    names_in = None
    if columns is not None and all(isinstance(c, str) for c in columns):
        names_in = np.asarray(list(columns), dtype=object)
    names = tuple(names_in.tolist()) if names_in is not None else tuple(f"x{j}" for j in range(p))
    dtype = getattr(X, "dtype", None)
    itemsize = int(dtype.itemsize) if dtype is not None and dtype in (np.float32,) else None
    return Source(parts, names, names_in, None, _categories(y), settings.fit_intercept, itemsize)


def _text_columns(frame: Any, columns: list[str]) -> list[str]:
    """The columns among ``columns`` that hold text or categories (formula factors)."""
    out = []
    for c in columns:
        dtype = frame[c].dtype
        if isinstance(dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            out.append(c)
    return out


def _levels(frame: Any, columns: list[str]) -> dict[str, list[Any]]:
    """Every level of the text and categorical ``columns``: one pass (or none for known
    categoricals)."""
    out: dict[str, list[Any]] = {}
    unknown = []
    for c in columns:
        cats = _categories(frame[c])
        if cats is not None:
            out[c] = cats
        else:
            unknown.append(c)
    if unknown:
        found = dask.compute(*[frame[c].dropna().unique() for c in unknown])
        for c, values in zip(unknown, found, strict=True):
            out[c] = sorted(pd.unique(np.asarray(values)).tolist())
    return out


def _formula_source(
    settings: FitSettings, frame: Any, y: Any, sample_weight: Any, groups: Any
) -> Source:
    """A formula over a Dask data frame (module docstring)."""
    formula = settings.formula
    assert formula is not None
    if y is not None:
        raise InvalidInputError(
            "with a formula, y comes from its left-hand side: call fit(data) without y"
        )
    if not settings.fit_intercept:
        raise InvalidInputError(
            "with a formula, the intercept follows the formula: write 'y ~ 0 + ...' "
            "instead of fit_intercept=False"
        )
    if not hasattr(frame, "npartitions") or not hasattr(frame, "columns"):
        raise InvalidInputError("a formula fit on Dask needs a dask.dataframe DataFrame")
    first = frame.get_partition(0).compute()
    response = FormulaDesign.response_of(formula)
    design, _, _, _ = FormulaDesign.fit(formula, first, "drop")
    if getattr(design.spec, "transform_state", None):
        raise InvalidInputError(
            "stateful transforms (center, scale, splines, ...) learn from the data, which a "
            "Dask fit does not hold in one place; compute such columns before the fit"
        )
    needed = [c for c in sorted(design.spec.required_variables) if c in frame.columns]
    levels = _levels(frame, _text_columns(frame, needed))
    prototype = first.copy()
    for c, values in levels.items():
        prototype[c] = pd.Categorical(prototype[c], categories=values)
    design, _, _, _ = FormulaDesign.fit(formula, prototype, "drop")
    extra = []
    for given, name in ((sample_weight, "sample_weight"), (groups, "groups")):
        if given is None or isinstance(given, str):
            extra.append([None] * frame.npartitions)
        elif hasattr(given, "npartitions") and given.npartitions == frame.npartitions:
            extra.append(list(given.to_delayed()))
        else:
            raise InvalidInputError(
                f"with a formula on Dask, {name} must be a column name or a Dask series with "
                "the data frame's partitions"
            )
    columns = (
        sample_weight if isinstance(sample_weight, str) else None,
        groups if isinstance(groups, str) else None,
    )
    parts = [
        delayed(_formula_block, pure=True)(
            part, i, design, settings.missing, extra[0][i], extra[1][i], *columns
        )
        for i, part in enumerate(frame.to_delayed())
    ]
    return Source(
        parts,
        tuple(design.columns),
        None,
        design,
        _categories(frame[response]),
        design.has_intercept,
        None,
    )


def _formula_block(
    part: pd.DataFrame,
    index: int,
    design: FormulaDesign,
    missing: str,
    weights: Any,
    groups: Any,
    weight_column: str | None,
    group_column: str | None,
) -> RawBlock:
    """One partition through the formula (missing values refused or dropped)."""
    complete = design.complete_rows(part, response=True)
    for column in (weight_column, group_column):
        if column is not None:
            if column not in part.columns:
                raise InvalidInputError(f"the data have no column {column!r}")
            complete &= part[column].notna().to_numpy()
    dropped = int((~complete).sum())
    if dropped and missing != "drop":
        row = int(np.flatnonzero(~complete)[0])
        raise InvalidInputError(
            f"partition {index}, row {row}: a missing value in the formula's columns "
            f"({dropped} row(s) in this partition); clean the data or pass missing='drop'"
        )
    frame = part.loc[complete] if dropped else part
    w = frame[weight_column].to_numpy() if weight_column is not None else weights
    g = frame[group_column].to_numpy() if group_column is not None else groups
    if dropped and weights is not None:
        w = np.asarray(weights)[complete]
    if dropped and groups is not None:
        g = np.asarray(groups)[complete]
    X = design.transform(frame) if len(frame) else np.zeros((0, len(design.columns)))
    labels = design.response_values(frame)
    return RawBlock(
        X,
        labels,
        None if w is None else np.asarray(w, dtype=np.float64),
        None if g is None else np.asarray(g),
        index,
        dropped,
    )
