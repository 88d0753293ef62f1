"""Checks of a fit's inputs that name what is wrong and where.

They run before (or beside) scikit-learn's ``validate_data``, whose messages do not name
columns or rows: missing labels, a single class, bad sample or class weights, non-numeric
or non-finite feature values (column and first row), classes seen only once, and
parameters that must be positive numbers. Each raises
:class:`~mnlogit.exceptions.InvalidInputError` with a message that says what happened,
where, and what to do.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight

from mnlogit.exceptions import InvalidInputError
from mnlogit.objective.blocks import row_blocks

#: The sums of effective weights a fit accepts: beyond them the summed log-likelihood,
#: the information ``S * H`` or its inverse leave the float64 range.
WEIGHT_TOTAL_RANGE = (1e-250, 1e250)

__all__ = [
    "WEIGHT_TOTAL_RANGE",
    "category_order",
    "check_class_sizes",
    "check_feature_values",
    "check_groups",
    "check_labels_present",
    "check_positive_number",
    "check_weights",
    "encode_labels",
    "encode_labels_and_counts",
    "label_codes",
]


def _label_kind(kind: type) -> str:
    """The kind of a label type for the mixed-type check: bool, number, str or its name."""
    if issubclass(kind, bool | np.bool_):
        return "bool"
    if issubclass(kind, numbers.Number):
        return "number"
    if issubclass(kind, str):
        return "str"
    return kind.__name__


def _missing_mask(values: NDArray[Any]) -> NDArray[np.bool_] | None:
    """Missing entries of a 1-d array (``None`` when its dtype cannot hold any)."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "M":
        return np.isnat(values)
    if values.dtype.kind == "O":
        import pandas as pd  # vectorized: None, NaN, pd.NA and NaT

        return np.asarray(pd.isna(values), dtype=bool)
    return None


def _as_1d_values(y: Any) -> NDArray[Any]:
    """``y`` as an ndarray, pandas' missing values (``pd.NA``) kept as objects."""
    to_numpy = getattr(y, "to_numpy", None)
    if to_numpy is not None and type(y).__module__.startswith("pandas"):
        try:
            return np.asarray(to_numpy(dtype=object))
        except (TypeError, ValueError):
            pass
    return np.asarray(y)


def check_labels_present(y: Any) -> None:
    """Refuse missing, mixed-type and non-integral float labels, naming a row.

    Runs before scikit-learn's validation, whose messages for these are bare or which
    raises a ``TypeError`` (``pd.NA`` labels, labels of several types that cannot be
    sorted together).

    Parameters
    ----------
    y : array-like of shape (n,)

    Raises
    ------
    InvalidInputError
        Missing labels (None, NaN, ``pd.NA``): count and first row. Labels of several
        kinds (numbers, strings, booleans): the kinds and the first row of the rarer one.
        Floats that are not integral (0.5): ``"Unknown label type: continuous"``, as
        scikit-learn says, with the first row.
    """
    values = _as_1d_values(y)
    if values.ndim != 1:
        return
    missing = _missing_mask(values)
    if missing is not None and missing.any():
        raise InvalidInputError(
            f"y has {int(missing.sum())} missing label(s) (None, NaN or pd.NA), first at row "
            f"{int(np.flatnonzero(missing)[0])}; drop those rows or give them a class"
        )
    if values.dtype.kind == "O" and values.size:
        kind_of = {t: _label_kind(t) for t in set(map(type, values))}
        if len(set(kind_of.values())) > 1:
            kinds = np.array([kind_of[type(v)] for v in values])
            distinct, counts = np.unique(kinds, return_counts=True)
            rare = distinct[np.argmin(counts)]
            row = int(np.flatnonzero(kinds == rare)[0])
            raise InvalidInputError(
                f"y mixes labels of different types ({', '.join(distinct.tolist())}): e.g. "
                f"{values[row]!r} ({rare}) at row {row}; labels of one type are sorted into "
                "classes, so convert them all to str (or all to numbers)"
            )
        if set(kind_of.values()) == {"number"}:
            values = np.asarray(values.tolist())
    if values.dtype.kind == "f":
        frac = np.flatnonzero(values != np.round(values))
        if frac.size:
            raise InvalidInputError(
                f"Unknown label type: continuous. y holds {frac.size} float label(s) that "
                f"are not whole numbers (e.g. {values[frac[0]].item()!r} at row {int(frac[0])}); "
                "class labels must be discrete, as in scikit-learn: pass them as strings "
                "(or integers)"
            )


def check_groups(groups: Any, n_rows: int) -> None:
    """Refuse cluster labels of the wrong length, missing or of mixed types.

    Parameters
    ----------
    groups : array-like of shape (n,) or None
    n_rows : int

    Raises
    ------
    InvalidInputError
    """
    if groups is None:
        return
    values = _as_1d_values(groups)
    if values.shape != (n_rows,):
        raise InvalidInputError(
            f"groups must have one cluster label per row ({n_rows}), got shape {values.shape}"
        )
    missing = _missing_mask(values)
    if missing is not None and missing.any():
        raise InvalidInputError(
            f"groups has {int(missing.sum())} missing cluster label(s) (None, NaN or pd.NA), "
            f"first at row {int(np.flatnonzero(missing)[0])}; give every row a cluster"
        )
    if values.dtype.kind == "O":
        kinds = sorted({_label_kind(t) for t in set(map(type, values))})
        if len(kinds) > 1:
            raise InvalidInputError(
                f"groups mixes cluster labels of different types ({', '.join(kinds)}); "
                "convert them all to str (or all to numbers)"
            )


def category_order(y: Any) -> list[Any] | None:
    """The categories of a pandas categorical ``y`` (Series or Categorical), in order.

    ``None`` for anything else. The order is the one classes take (R's factor levels,
    Stata's value order): ``pd.Categorical(y, categories=[...], ordered=True)``.
    """
    dtype: Any = getattr(y, "dtype", None)
    if type(y).__module__.startswith("pandas") and isinstance(dtype, _pd_categorical()):
        categories: Any = getattr(dtype, "categories", ())
        return [c.item() if isinstance(c, np.generic) else c for c in categories]
    return None


def label_codes(classes: NDArray[Any], labels: Any) -> NDArray[np.intp]:
    """Positions of ``labels`` in ``classes`` (any order); unknown labels raise.

    Parameters
    ----------
    classes : ndarray of shape (K,)
    labels : array-like of shape (n,)

    Returns
    -------
    ndarray of shape (n,)
    """
    lookup: dict[Any, int] = {}
    for i, c in enumerate(np.asarray(classes).tolist()):
        lookup.setdefault(c, i)
    values = np.asarray(labels).ravel().tolist()
    try:
        return np.asarray([lookup[v] for v in values], dtype=np.intp)
    except (KeyError, TypeError) as err:
        unknown = sorted({str(v) for v in values if _unknown(lookup, v)})[:5]
        known = ", ".join(str(c) for c in np.asarray(classes).tolist())
        raise InvalidInputError(f"labels {unknown} are not classes of the model ({known})") from err


def _unknown(lookup: dict[Any, int], value: Any) -> bool:
    try:
        return value not in lookup
    except TypeError:  # unhashable
        return True


#: Integer labels spanning at most this many values (and at most ``n``) are encoded by
#: counting (``bincount`` and a lookup table: linear time) instead of sorting.
COUNTING_MAX_SPAN = 1 << 16


def _unique_codes(
    y: NDArray[Any],
) -> tuple[NDArray[Any], NDArray[np.intp], NDArray[np.intp] | None]:
    """``np.unique(y, return_inverse=True)`` (flat codes), and each class's rows where the
    codes were found by counting (small-range integers: 1,000,000 labels, about 0.08 s by
    sorting, a few milliseconds by counting), else ``None``."""
    flat = np.asarray(y).ravel()
    if flat.dtype.kind in "iu" and flat.size:
        low, high = int(flat.min()), int(flat.max())
        span = high - low + 1
        if span <= min(COUNTING_MAX_SPAN, max(flat.size, 1)):
            # x - low lies in [0, span): exact in (u)int64; narrower types widen first
            base = flat.astype(np.int64) if flat.dtype.itemsize < 8 else flat
            shifted = (base - base.dtype.type(low) if low else base).astype(np.intp, copy=False)
            counts = np.bincount(shifted, minlength=span)
            present = np.flatnonzero(counts)
            lookup = np.zeros(span, dtype=np.intp)
            lookup[present] = np.arange(present.size)
            classes = present.astype(flat.dtype) + flat.dtype.type(low)
            return classes, lookup[shifted], counts[present]
    classes, codes = np.unique(flat, return_inverse=True)
    return classes, np.asarray(codes, dtype=np.intp).ravel(), None


def encode_labels(
    y: NDArray[Any], order: Sequence[Any] | None = None
) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Classes and integer codes, refusing a single class.

    Parameters
    ----------
    y : ndarray of shape (n,)
    order : sequence of labels, optional
        As in :func:`encode_labels_and_counts`.

    Returns
    -------
    classes : ndarray of shape (K,)
    codes : ndarray of shape (n,)
    """
    classes, codes, _ = _encoded(y, order)
    return classes, codes


def encode_labels_and_counts(
    y: NDArray[Any], order: Sequence[Any] | None = None
) -> tuple[NDArray[Any], NDArray[np.intp], NDArray[np.intp]]:
    """Classes, integer codes and each class's rows, refusing a single class.

    Parameters
    ----------
    y : ndarray of shape (n,)
    order : sequence of labels, optional
        The order the classes take (a categorical's categories, or the classes of the
        model refitted); those not present in ``y`` are left out, labels of ``y`` not in
        ``order`` follow in sorted order. Default: sorted order (scikit-learn's).

    Returns
    -------
    classes : ndarray of shape (K,)
    codes : ndarray of shape (n,)
    counts : ndarray of int of shape (K,)
        Rows of each class (``np.bincount(codes, minlength=K)``; for small-range integer
        labels the count the codes were found by, not a second pass).
    """
    classes, codes, counts = _encoded(y, order)
    if counts is None:
        counts = np.bincount(codes, minlength=classes.size)
    return classes, codes, counts


def _encoded(
    y: NDArray[Any], order: Sequence[Any] | None
) -> tuple[NDArray[Any], NDArray[np.intp], NDArray[np.intp] | None]:
    """:func:`encode_labels_and_counts`, the counts ``None`` where the codes were sorted."""
    classes, codes, counts = _unique_codes(y)
    if order is not None and classes.size:
        present = classes.tolist()
        seen = set(present)
        listed = [c for c in order if c in seen]
        ranked = listed + [c for c in present if c not in set(listed)]
        if ranked != present:
            position = {c: i for i, c in enumerate(ranked)}
            permutation = np.asarray([position[c] for c in present], dtype=np.intp)
            reordered = np.empty_like(classes)
            reordered[permutation] = classes
            classes, codes = reordered, permutation[codes.ravel()]
            if counts is not None:
                moved = np.empty_like(counts)
                moved[permutation] = counts
                counts = moved
    if classes.size < 2:
        only = classes[:1].tolist()[0] if classes.size else None
        raise InvalidInputError(
            f"y contains only one class ({only!r}); a multinomial model needs at least "
            "two classes to compare"
        )
    return classes, np.asarray(codes, dtype=np.intp).ravel(), counts


def check_weights(
    sample_weight: Any,
    X: Any,
    y: NDArray[Any],
    classes: NDArray[Any],
    codes: NDArray[np.intp],
    class_weight: Any,
) -> NDArray[np.float64]:
    """Validated effective weights: ``sample_weight * class_weight[y]``.

    Parameters
    ----------
    sample_weight : array-like of shape (n,) or None
    X : array-like of shape (n, p)
    y : ndarray of shape (n,)
    classes : ndarray of shape (K,)
    codes : ndarray of shape (n,)
    class_weight : dict, "balanced" or None
        As in scikit-learn (``"balanced"`` uses the weighted class counts).

    Returns
    -------
    ndarray of shape (n,)
    """
    _check_raw_sample_weight(sample_weight)
    sw = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True
    )
    if class_weight is not None:
        cw = np.asarray(
            compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sw),
            dtype=np.float64,
        )
        bad = ~np.isfinite(cw) | (cw < 0)
        if bad.any():
            raise InvalidInputError(
                f"class_weight must be finite and >= 0; got {cw[bad].tolist()} for class(es) "
                f"{classes[bad].tolist()}"
            )
        sw = sw * cw[codes]
    with np.errstate(over="ignore"):
        total = float(sw.sum())
    if not total > 0:
        raise InvalidInputError(
            "sample weights (times class weights) must contain at least one non-zero "
            "number; all weights are zero, so there is nothing to fit"
        )
    if not WEIGHT_TOTAL_RANGE[0] <= total <= WEIGHT_TOTAL_RANGE[1]:
        raise InvalidInputError(
            f"sample weights (times class weights) sum to {total:.3g}, outside "
            f"[{WEIGHT_TOTAL_RANGE[0]:g}, {WEIGHT_TOTAL_RANGE[1]:g}]: the log-likelihood, "
            "its derivatives and the covariance would over- or underflow. Rescale the "
            "weights (multiplying them all by one constant leaves the coefficients unchanged)"
        )
    return np.asarray(sw, dtype=np.float64)


def _check_raw_sample_weight(sample_weight: Any) -> None:
    """Refuse non-finite, negative and all-zero weights, naming the first bad row.

    scikit-learn's ``_check_sample_weight`` refuses them too, without saying where; only
    a 1-d numeric array is examined here (the rest is left to it).

    Parameters
    ----------
    sample_weight : array-like of shape (n,), scalar or None
    """
    if sample_weight is not None and not np.isscalar(sample_weight):
        raw = np.asarray(sample_weight)
        if raw.ndim == 1 and raw.dtype.kind in "biuf" and raw.size:
            values = raw.astype(np.float64)
            bad = ~np.isfinite(values)
            if bad.any():
                raise InvalidInputError(
                    f"sample_weight has {int(bad.sum())} NaN or infinite value(s), first at "
                    f"row {int(np.flatnonzero(bad)[0])}; weights must be finite"
                )
            if (values < 0).any():
                raise InvalidInputError(
                    f"sample_weight has {int((values < 0).sum())} negative value(s), first at "
                    f"row {int(np.flatnonzero(values < 0)[0])}; frequency weights must be >= 0"
                )
            if not values.any():
                raise InvalidInputError(
                    "sample weights must contain at least one non-zero number; all weights "
                    "are zero, so there is nothing to fit"
                )


def check_positive_number(name: str, value: Any, allow_zero: bool = False) -> float:
    """``value`` as a float, refusing anything but a finite positive real number.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
    allow_zero : bool, default=False
        Accept 0 as well (non-negative numbers).

    Returns
    -------
    float

    Raises
    ------
    InvalidInputError
        For booleans, non-numbers, NaN, infinities and out-of-range values.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise InvalidInputError(f"{name} must be a finite {bound} number, got {value!r}")
    return float(value)


def check_feature_values(X: Any, feature_names: Any = None, check_finite: bool = True) -> None:
    """Refuse non-numeric columns and non-finite values, saying where they are.

    Runs before scikit-learn's validation, whose messages do not name columns or rows.
    Inputs it cannot read as numbers of known type are left to scikit-learn.

    Parameters
    ----------
    X : array-like, DataFrame or sparse matrix of shape (n, p)
    feature_names : sequence of str of length p, optional
        Column names for the message (a data frame's own names come first).
    check_finite : bool, default=True
        False: only the types are checked (a data frame is not converted; the caller
        checks finiteness in its own pass over the values, as predictions do).

    Raises
    ------
    InvalidInputError
    """
    if sp.issparse(X):
        check_sparse_structure(X)
        if check_finite:
            _check_sparse_values(X)
        return
    if not check_finite and type(X).__module__.startswith("pandas") and hasattr(X, "dtypes"):
        _check_numeric_columns(X)
        return
    read = _numeric_values(X)
    if read is None or not check_finite:
        return
    values, names = read
    if values.ndim != 2 or values.dtype.kind not in "fc" or values.size == 0:
        return
    # row chunks: no n x p boolean temporary on the (usual) all-finite path
    if all(np.isfinite(values[sl]).all() for sl in row_blocks(*values.shape)):
        return
    if names is None:
        names = (
            [str(n) for n in feature_names]
            if feature_names is not None
            else [f"x{j}" for j in range(values.shape[1])]
        )
    raise InvalidInputError(_nonfinite_message(values, names))


def check_sparse_structure(X: Any) -> None:
    """Refuse a sparse ``X`` whose index arrays do not describe a matrix of its shape.

    scipy builds a CSR / CSC matrix from given arrays without looking at their values (its
    ``check_format`` by default checks their lengths only), so a row index of -1 or ``n``
    can reach the compiled kernels, which read and write by it without bounds checks (one
    O(nnz) pass; issue 14's review: the sparse lasso's record passes take the indices as
    unsigned, and a -1 would have moved a record row before the array). Other formats
    are checked after their conversion by scikit-learn.

    Parameters
    ----------
    X : sparse matrix or array of shape (n, p)

    Raises
    ------
    InvalidInputError
    """
    fmt = getattr(X, "format", None)
    try:
        if fmt in ("csr", "csc", "bsr"):
            X.check_format(full_check=True)
        elif fmt == "coo":
            rows, cols = np.asarray(X.row), np.asarray(X.col)
            n, p = X.shape
            if rows.size and not (
                rows.min() >= 0 and rows.max() < n and cols.min() >= 0 and cols.max() < p
            ):
                raise ValueError("row or column indices out of range")
    except ValueError as err:
        raise InvalidInputError(f"X is not a valid sparse matrix: {err}") from None


def _check_sparse_values(X: Any) -> None:
    """Refuse NaN and infinite stored values of a sparse ``X`` (counted, not located)."""
    data = np.asarray(X.tocoo().data)
    if data.dtype.kind in "fc" and not np.all(np.isfinite(data)):
        bad = int((~np.isfinite(data)).sum())
        raise InvalidInputError(
            f"X contains {bad} NaN or infinite stored values; remove or impute them"
        )


def _check_numeric_columns(X: Any) -> None:
    """Refuse a data frame's non-numeric columns (strings, categoricals), naming them."""
    non_numeric = [
        str(c)
        for c, dt in X.dtypes.items()
        if not (pd_is_numeric(dt) and not isinstance(dt, _pd_categorical()))
    ]
    if non_numeric:
        raise InvalidInputError(
            f"X has non-numeric column(s) {non_numeric[:10]}; encode them, or pass "
            "formula='y ~ ...' (strings and categoricals then become indicator columns)"
        )


def _numeric_values(X: Any) -> tuple[NDArray[Any], list[str] | None] | None:
    """``X`` as a numeric ndarray and its data-frame column names (None for arrays).

    Refuses non-numeric data-frame columns and strings that are not numbers; returns
    None for what numpy cannot read, or reads as neither numbers nor strings (left to
    scikit-learn's validation).
    """
    module = type(X).__module__
    if module.startswith("pandas") and hasattr(X, "dtypes"):
        _check_numeric_columns(X)
        return X.to_numpy(dtype=np.float64, na_value=np.nan), [str(c) for c in X.columns]
    try:
        values = np.asarray(X)
    except (TypeError, ValueError):
        return None
    if values.dtype.kind in "biufc":
        return values, None
    if values.dtype.kind not in "OUS":
        return None
    try:
        return values.astype(np.float64), None
    except ValueError as exc:  # a TypeError (dicts, objects) is numpy's to raise
        raise InvalidInputError(
            f"X has non-numeric values ({exc}); encode them, or use a DataFrame "
            "with formula='y ~ ...'"
        ) from exc


def _nonfinite_message(values: NDArray[Any], names: list[str]) -> str:
    """The message naming the first 10 columns with NaN or inf: counts and first row.

    Parameters
    ----------
    values : ndarray of shape (n, p)
        Float or complex, with some non-finite entry.
    names : list of str, length p
    """
    finite = np.isfinite(values)
    parts = []
    for j in np.flatnonzero(~finite.all(axis=0))[:10]:
        col = values[:, j]
        n_nan = int(np.isnan(col).sum())
        n_inf = int(np.isinf(col).sum())
        first = int(np.flatnonzero(~np.isfinite(col))[0])
        kinds = ", ".join(
            k for k in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} inf" if n_inf else "") if k
        )
        parts.append(f"{names[j]!r}: {kinds} (first at row {first})")
    return (
        f"X contains NaN or infinite values in {int((~finite.all(axis=0)).sum())} column(s): "
        + "; ".join(parts)
        + ". Drop or impute them (with a formula, missing='drop' drops such rows)"
    )


def pd_is_numeric(dtype: Any) -> bool:
    """Whether a pandas dtype holds numbers (booleans count)."""
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(dtype))


def _pd_categorical() -> type:
    """pandas' ``CategoricalDtype`` (pandas is imported only when a data frame is seen)."""
    import pandas as pd

    return pd.CategoricalDtype


def check_class_sizes(
    classes: NDArray[Any],
    codes: NDArray[np.intp],
    weights: Any,
    counts: NDArray[np.intp] | None = None,
) -> list[Any]:
    """Classes observed only once (among rows with positive weight).

    Parameters
    ----------
    classes : ndarray of shape (K,)
    codes : ndarray of shape (n,)
        Class codes in ``0 .. K - 1``.
    weights : array-like of shape (n,)
    counts : ndarray of int of shape (K,), optional
        The number of rows of positive weight in each class, when the caller knows it
        (every weight positive: the class counts of all rows); ``codes`` and ``weights``
        are then not read (no mask, no copy of the codes).

    Returns
    -------
    list
        The labels (from ``classes``) with exactly one row of positive weight.
    """
    if counts is None:
        positive = np.asarray(weights) > 0
        counts = np.bincount(codes[positive], minlength=classes.size)
    return [c for c, n in zip(classes.tolist(), counts, strict=True) if n == 1]
