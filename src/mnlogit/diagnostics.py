"""Input checks that sit between scikit-learn's validation and the objective.

scikit-learn's ``validate_data`` already rejects NaN/inf, complex and non-numeric X
and mismatched lengths; this module checks what is specific to this model: labels,
weights, the reference class and the parameters.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight

from mnlogit.exceptions import InvalidInputError
from mnlogit.precision import row_chunks

_SCALE_LOW, _SCALE_HIGH = 1e-3, 1e3

__all__ = [
    "check_class_sizes",
    "check_feature_values",
    "check_labels_present",
    "check_positive_number",
    "check_weights",
    "column_maxabs",
    "column_scales",
    "encode_labels",
    "resolve_reference",
]


def check_labels_present(y: Any) -> None:
    """Refuse missing labels (None or NaN) in ``y``, naming the first row."""
    values = np.asarray(y)
    if values.dtype.kind == "f":
        missing = np.isnan(values)
    elif values.dtype.kind == "O":
        missing = np.array([v is None or (isinstance(v, float) and v != v) for v in values.ravel()])
    else:
        return
    if missing.any():
        raise InvalidInputError(
            f"y has {int(missing.sum())} missing label(s) (None or NaN), first at row "
            f"{int(np.flatnonzero(missing)[0])}; drop those rows or give them a class"
        )


def encode_labels(y: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted unique classes and integer codes, refusing a single class.

    Parameters
    ----------
    y : ndarray of shape (n,)

    Returns
    -------
    classes : ndarray of shape (K,)
    codes : ndarray of shape (n,)
    """
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        only = classes[:1].tolist()[0] if classes.size else None
        raise InvalidInputError(
            f"y contains only one class ({only!r}); a multinomial model needs at least "
            "two classes to compare"
        )
    return classes, codes.astype(np.intp, copy=False)


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
    total = float(sw.sum())
    if not total > 0:
        raise InvalidInputError(
            "sample weights (times class weights) must contain at least one non-zero "
            "number; all weights are zero, so there is nothing to fit"
        )
    return np.asarray(sw, dtype=np.float64)


def resolve_reference(reference: Any, classes: NDArray[Any], penalized: bool) -> int | None:
    """Index of the reference class in ``classes``, or ``None`` for the symmetric form.

    ``"auto"``: the first class for unpenalized fits, the symmetric form for penalized
    ones with three or more classes. With two classes a penalized fit also uses the
    first class: the ridge penalty on the single log-odds vector does not depend on
    which class is the reference (switching only flips its sign), and it is then the
    penalty of ordinary binary ridge logistic regression (scikit-learn's).
    ``"first"`` / ``"last"``: by sorted order. Any other value must be one of the
    classes. The keywords are checked before the labels: a class literally named
    ``"first"``, ``"last"`` or ``"auto"`` is chosen by its sorted position instead.
    """
    if isinstance(reference, str) and reference in ("auto", "first", "last"):
        if reference == "auto":
            return None if penalized and classes.size > 2 else 0
        return 0 if reference == "first" else int(classes.size - 1)
    if reference is None:
        return None
    matches = np.flatnonzero(classes == reference)
    if matches.size != 1:
        shown = ", ".join(repr(c) for c in classes[:10].tolist())
        raise InvalidInputError(
            f"reference={reference!r} is not one of the classes ({shown}); pass a class "
            "label, 'first', 'last', 'auto' or None (symmetric form)"
        )
    return int(matches[0])


def check_positive_number(name: str, value: Any, allow_zero: bool = False) -> float:
    """A finite real number, positive (or non-negative), as float."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise InvalidInputError(f"{name} must be a finite {bound} number, got {value!r}")
    return float(value)


def column_maxabs(X: Any) -> NDArray[np.float64]:
    """Largest absolute value of each column, shape ``(p,)`` (no ``n x p`` temporary).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    """
    M: Any = X
    if M.shape[0] == 0:
        return np.zeros(M.shape[1])
    if isinstance(M, np.ndarray) and M.ndim == 2:
        # row chunks: the chunk's minimum is taken while it is still in cache (one read of
        # X instead of two)
        out = np.zeros(M.shape[1])
        for sl in row_chunks(*M.shape):
            chunk = np.asarray(M[sl])  # a plain ndarray (np.matrix keeps 2-d reductions)
            if chunk.dtype.kind in "iub":  # -min would overflow at the type's minimum
                chunk = chunk.astype(np.float64)
            np.maximum(out, np.maximum(chunk.max(axis=0), -chunk.min(axis=0)), out=out)
        return out
    raw: Any = (
        abs(M).max(axis=0)  # type: ignore[arg-type]
        if sp.issparse(M)
        else np.maximum(M.max(axis=0), -M.min(axis=0))
    )
    dense: Any = raw.todense() if sp.issparse(raw) else raw  # type: ignore[attr-defined]
    return np.asarray(dense, dtype=np.float64).ravel()


def column_scales(X: Any, maxabs: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """Internal column scales: 1, except for columns of extreme magnitude.

    A column whose largest absolute value lies outside ``[1e-3, 1e3]`` is scaled to
    largest absolute value 1; the others are left alone (scale 1). The objective works
    on ``X / s`` (without copying X), so features in wildly different units (1e-150 next
    to 1e150) are fitted as accurately as unit-scale ones and their Gram products do
    not overflow; coefficients, covariances and tests are reported on the original
    scale. The gradient convergence criterion applies to the scaled parameters, which
    makes it comparable across such columns.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    maxabs : ndarray of shape (p,), optional
        :func:`column_maxabs` of ``X`` when already known.

    Returns
    -------
    ndarray of shape (p,)
    """
    if X.shape[0] == 0:
        return np.ones(X.shape[1])
    s = np.array(column_maxabs(X) if maxabs is None else maxabs, dtype=np.float64)
    keep = ~np.isfinite(s) | (s == 0) | ((s >= _SCALE_LOW) & (s <= _SCALE_HIGH))
    s[keep] = 1.0
    return s


def check_feature_values(X: Any, feature_names: Any = None) -> None:
    """Refuse non-numeric columns and non-finite values, saying where they are.

    Runs before scikit-learn's validation, whose messages do not name columns or rows.

    Parameters
    ----------
    X : array-like, DataFrame or sparse matrix of shape (n, p)
    feature_names : sequence of str, optional

    Raises
    ------
    InvalidInputError
    """
    if sp.issparse(X):
        data = np.asarray(X.tocoo().data)  # type: ignore[attr-defined]
        if data.dtype.kind in "fc" and not np.all(np.isfinite(data)):
            bad = int((~np.isfinite(data)).sum())
            raise InvalidInputError(
                f"X contains {bad} NaN or infinite stored values; remove or impute them"
            )
        return
    module = type(X).__module__
    if module.startswith("pandas") and hasattr(X, "dtypes"):
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
        names = [str(c) for c in X.columns]
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.asarray(X)
        except (TypeError, ValueError):
            return
        if values.dtype.kind not in "biufc":
            if values.dtype.kind in "OUS":
                try:
                    values = values.astype(np.float64)
                except ValueError as exc:  # a TypeError (dicts, objects) is numpy's to raise
                    raise InvalidInputError(
                        f"X has non-numeric values ({exc}); encode them, or use a DataFrame "
                        "with formula='y ~ ...'"
                    ) from exc
            else:
                return
        names = None
    if values.ndim != 2 or values.dtype.kind not in "fc" or values.size == 0:
        return
    # row chunks: no n x p boolean temporary on the (usual) all-finite path
    if all(np.isfinite(values[sl]).all() for sl in row_chunks(*values.shape)):
        return
    finite = np.isfinite(values)
    if names is None:
        names = (
            [str(n) for n in feature_names]
            if feature_names is not None
            else [f"x{j}" for j in range(values.shape[1])]
        )
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
    raise InvalidInputError(
        f"X contains NaN or infinite values in {int((~finite.all(axis=0)).sum())} column(s): "
        + "; ".join(parts)
        + ". Drop or impute them (with a formula, missing='drop' drops such rows)"
    )


def pd_is_numeric(dtype: Any) -> bool:
    """Whether a pandas dtype holds numbers (booleans count)."""
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(dtype))


def _pd_categorical() -> type:
    import pandas as pd

    return pd.CategoricalDtype


def check_class_sizes(classes: NDArray[Any], codes: NDArray[np.intp], weights: Any) -> list[Any]:
    """Classes observed only once (among rows with positive weight)."""
    positive = np.asarray(weights) > 0
    counts = np.bincount(codes[positive], minlength=classes.size)
    return [c for c, n in zip(classes.tolist(), counts, strict=True) if n == 1]
