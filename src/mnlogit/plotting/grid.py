"""Shared helpers of the plots: typical rows, grids, feature resolution, class colours.

Plots along predictors build their rows by copying a *typical row* of ``X`` and varying
the chosen feature(s) over a grid: numeric columns are held at their means, non-numeric
DataFrame columns (strings, categoricals, booleans) at their most frequent value, and any
feature named in ``at={feature: value}`` at that value. The grid keeps the type of ``X``
(a DataFrame stays a DataFrame with the same columns), so models fitted with feature names
keep working. Features are addressed by column name (DataFrames), by position, or by the
model's feature names (``x0, x1, ...`` for models fitted on bare arrays).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.validation import label_codes

__all__ = [
    "REFERENCE_LINE",
    "as_data",
    "category_levels",
    "class_codes",
    "class_colors",
    "column_values",
    "for_model",
    "grid_rows",
    "held_note",
    "is_numeric_column",
    "joined_names",
    "label_text",
    "lighten",
    "new_axes",
    "numeric_range",
    "resolve_feature",
    "shown_classes",
    "typical_row",
]

FloatArray = NDArray[np.float64]
Data = pd.DataFrame | NDArray[Any] | sp.csc_array
Feature = Hashable

REFERENCE_LINE: dict[str, Any] = {"color": "0.45", "linestyle": "--", "linewidth": 1.0}


# ---------------------------------------------------------------------- shared helpers
def class_colors(n: int) -> list[tuple[float, float, float, float]]:
    """The colours given to classes ``0 .. n-1`` by every plot of this module.

    Parameters
    ----------
    n : int
        Number of classes.

    Returns
    -------
    list of n RGBA tuples
        ``tab10`` for up to 10 classes, ``tab20`` up to 20, evenly spaced ``viridis``
        beyond.
    """
    if n <= 10:
        cmap = colormaps["tab10"]
        return [to_rgba(cmap(k)) for k in range(n)]
    if n <= 20:
        cmap = colormaps["tab20"]
        return [to_rgba(cmap(k)) for k in range(n)]
    cmap = colormaps["viridis"]
    return [to_rgba(cmap(t)) for t in np.linspace(0.0, 1.0, n)]


def lighten(
    color: tuple[float, float, float, float], amount: float
) -> tuple[float, float, float, float]:
    """Mix ``color`` with white (``amount`` = share of white)."""
    r, g, b, _ = color
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount, 1.0)


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.4)) -> Axes:
    """``ax`` itself, or the single Axes of a new (pyplot-free) Figure."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def as_data(X: Any) -> Data:
    """X as a DataFrame, a sparse matrix or a 2-d array (polars frames become pandas)."""
    if isinstance(X, pd.DataFrame):
        return X
    if sp.issparse(X):
        sparse: sp.csc_array = sp.csc_array(cast(Any, X))
        return sparse
    if hasattr(X, "to_pandas") and hasattr(X, "columns"):
        return X.to_pandas()
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise InvalidInputError(f"X must be 2-dimensional (n, p), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        arr = arr.astype(np.float64)
    return arr


def _n_features(data: Data) -> int:
    return int(data.shape[1])


def _formula_categoricals(model: Any, data: pd.DataFrame) -> set[str]:
    """The columns of ``data`` a formula model encodes as categorical (``C(educ)``, ...).

    Empty for models without a formula. A numeric column wrapped in ``C()`` is one of
    them: it has levels, not a mean.
    """
    design = getattr(getattr(model, "fitted_", None), "design", None)
    if design is None:
        return set()
    return set(design.categorical_levels(data))


def is_numeric_column(data: Data, j: int, model: Any = None) -> bool:
    """Whether column ``j`` is a number to average and run a grid over.

    Non-numeric DataFrame columns (strings, categoricals, booleans) are not, and neither
    is a numeric column that ``model``'s formula encodes as categorical (``C(educ)``).
    """
    if isinstance(data, pd.DataFrame):
        s = data.iloc[:, j]
        if str(data.columns[j]) in _formula_categoricals(model, data):
            return False
        return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))
    return True


def _array_names(model: Any, p: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == p:
        return [str(n) for n in names]
    return [f"x{j}" for j in range(p)]


def resolve_feature(model: Any, data: Data, key: Feature) -> tuple[int, str]:
    """Column position and display name of ``key``."""
    p = _n_features(data)
    position = (
        int(key)
        if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_)
        else None
    )
    if isinstance(data, pd.DataFrame):
        cols = list(data.columns)
        if key in cols:
            j = cols.index(key)
        elif position is not None and 0 <= position < p:
            j = position
        else:
            raise InvalidInputError(f"feature {key!r} is not a column of X; columns are {cols}")
        return j, str(cols[j])
    names = _array_names(model, p)
    if position is not None:
        j = position
        if not 0 <= j < p:
            raise InvalidInputError(f"feature index {j} is out of range for X with {p} columns")
        return j, names[j]
    if isinstance(key, str):
        if key in names:
            return names.index(key), key
        match = re.fullmatch(r"x(\d+)", key)
        if match is not None and int(match.group(1)) < p:
            j = int(match.group(1))
            return j, names[j]
    raise InvalidInputError(
        f"feature {key!r} not found: use a column position 0..{p - 1} or one of {names}"
    )


def column_values(data: Data, j: int) -> NDArray[Any]:
    """Column ``j`` as a 1-d array."""
    if isinstance(data, pd.DataFrame):
        return data.iloc[:, j].to_numpy()
    if sp.issparse(data):
        return np.asarray(data[:, [j]].toarray()).ravel()
    return np.asarray(data)[:, j]


def _mode(s: pd.Series) -> Any:
    modes = s.mode(dropna=True)
    if len(modes) == 0:
        raise InvalidInputError(f"column {s.name!r} has no non-missing value to hold it at")
    return modes.iloc[0]


def typical_row(
    model: Any, data: Data, at: Mapping[Feature, Any] | None, varied: Sequence[int]
) -> pd.DataFrame | FloatArray:
    """One row: means (numeric) or modes (other DataFrame columns), then ``at`` values.

    Returns a one-row DataFrame when ``data`` is one, else a float array of shape (p,).
    """
    fixed: dict[int, Any] = {}
    for key, value in (at or {}).items():
        j, name = resolve_feature(model, data, key)
        if j in varied:
            raise InvalidInputError(f"feature {name!r} is varied by the plot; remove it from at")
        fixed[j] = value
    if isinstance(data, pd.DataFrame):
        columns: dict[Hashable, pd.Series] = {}
        for j, col in enumerate(data.columns):
            s = data.iloc[:, j]
            numeric = is_numeric_column(data, j, model)
            if j in fixed:
                value = fixed[j]
                if isinstance(s.dtype, pd.CategoricalDtype) and value not in s.cat.categories:
                    raise InvalidInputError(
                        f"at: {value!r} is not a category of {col!r} "
                        f"({joined_names(s.cat.categories)})"
                    )
            else:
                value = float(s.mean()) if numeric else _mode(s)
            columns[col] = (
                pd.Series([float(value)], dtype=np.float64)
                if numeric
                else pd.Series([value], dtype=s.dtype)
            )
        return pd.DataFrame(columns)
    if sp.issparse(data):
        base = np.asarray(data.mean(axis=0), dtype=np.float64).ravel()
    else:
        base = np.nanmean(np.asarray(data, dtype=np.float64), axis=0)
    for j, value in fixed.items():
        base[j] = float(value)
    return base


def grid_rows(
    base: pd.DataFrame | FloatArray, values: Mapping[int, ArrayLike | pd.Series]
) -> pd.DataFrame | FloatArray:
    """Copies of the typical row with columns ``j`` set to ``values[j]`` (all length m)."""
    m = len(next(iter(values.values())))  # type: ignore[arg-type]
    if isinstance(base, pd.DataFrame):
        rows = base.loc[base.index.repeat(m)].reset_index(drop=True)
        for j, v in values.items():
            rows.isetitem(j, pd.Series(v).array)
        return rows
    out = np.tile(base, (m, 1))
    for j, v in values.items():
        out[:, j] = np.asarray(v, dtype=np.float64)
    return out


def numeric_range(
    data: Data, j: int, name: str, pad: float, model: Any = None
) -> tuple[float, float]:
    if not is_numeric_column(data, j, model):
        raise InvalidInputError(
            f"feature {name!r} is categorical (non-numeric, or C() in the formula); "
            "this plot needs a numeric predictor"
        )
    col = np.asarray(column_values(data, j), dtype=np.float64)
    if not np.isfinite(col).any():
        raise InvalidInputError(f"feature {name!r} has no finite value")
    lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    width = hi - lo
    return lo - pad * width, hi + pad * width


def category_levels(data: pd.DataFrame, j: int) -> pd.Series:
    """The levels of a non-numeric column, in category (or sorted) order, dtype kept."""
    s = data.iloc[:, j]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series(s.cat.categories, dtype=s.dtype)
    uniques = pd.unique(s.dropna())
    with contextlib.suppress(TypeError):
        uniques = np.sort(np.asarray(uniques))
    return pd.Series(uniques, dtype=s.dtype)


def for_model(model: Any, X: Any) -> Any:
    """A bare 2-d array as a DataFrame with the model's feature names, when it has them.

    Keeps scikit-learn from warning that X lacks the feature names the model was fitted
    (or built by ``from_coefficients``) with; anything else passes through unchanged.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is not None and isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == len(names):
        return pd.DataFrame(X, columns=[str(n) for n in names])
    return X


def class_codes(classes: NDArray[Any], labels: ArrayLike) -> NDArray[np.intp]:
    """Positions of ``labels`` in the model's ``classes`` (its order); unknown labels raise."""
    return label_codes(classes, labels)


def shown_classes(model: Any, classes: Sequence[Any] | None) -> list[int]:
    all_classes = np.asarray(model.classes_)
    if classes is None:
        return list(range(all_classes.size))
    return [int(k) for k in class_codes(all_classes, np.asarray(list(classes)))]


def label_text(value: Any) -> str:
    return str(value)


def joined_names(values: Any) -> str:
    """``a, b, c`` for messages."""
    return ", ".join(str(v) for v in values)


def _is_predictor(model: Any, column: Any) -> bool:
    """Whether a data column is one the model reads (a formula's response is not)."""
    design = getattr(getattr(model, "fitted_", None), "design", None)
    if design is None:
        return True
    return str(column) in design.spec.required_variables and str(column) != design.response


def held_note(at: Mapping[Feature, Any] | None, model: Any = None, data: Any = None) -> str:
    """Title text saying where the other predictors are held."""
    categorical = isinstance(data, pd.DataFrame) and any(
        not is_numeric_column(data, j, model)
        for j in range(data.shape[1])
        if _is_predictor(model, data.columns[j])
    )
    others = "other predictors at their means" + (
        " (categorical: most frequent level)" if categorical else ""
    )
    if not at:
        return others
    fixed = ", ".join(f"{k} = {v}" for k, v in at.items())
    return f"{fixed}, {others}"
