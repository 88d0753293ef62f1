"""Plots of the softmax link and of fitted multinomial logit models (matplotlib only).

Every function draws on one :class:`matplotlib.axes.Axes`: the one passed as ``ax=``, or a
new one on a new :class:`matplotlib.figure.Figure`. A new figure is not registered with
``pyplot``, so nothing is shown, nothing leaks between calls and any backend (Agg included)
works; save it with ``ax.figure.savefig(...)``, or pass ``ax`` from ``plt.subplots()`` to
draw into a pyplot figure. The functions return that Axes and never call ``plt.show``.

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
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, ListedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from numpy.typing import ArrayLike, NDArray
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix

from mnlogit.exceptions import InferenceUnavailableError, InvalidInputError

if TYPE_CHECKING:
    from mnlogit.estimator import MultinomialLogit

__all__ = [
    "class_colors",
    "plot_calibration",
    "plot_coefficients",
    "plot_confusion_matrix",
    "plot_decision_regions",
    "plot_log_odds",
    "plot_predicted_probabilities",
    "plot_probability_surface",
    "plot_softmax",
]

FloatArray = NDArray[np.float64]
Data = pd.DataFrame | NDArray[Any] | sp.csc_array
Feature = Hashable

_REFERENCE_LINE: dict[str, Any] = {"color": "0.45", "linestyle": "--", "linewidth": 1.0}


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


def _lighten(
    color: tuple[float, float, float, float], amount: float
) -> tuple[float, float, float, float]:
    """Mix ``color`` with white (``amount`` = share of white)."""
    r, g, b, _ = color
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount, 1.0)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.4)) -> Axes:
    """``ax`` itself, or the single Axes of a new (pyplot-free) Figure."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _as_data(X: Any) -> Data:
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


def _is_numeric_column(data: Data, j: int) -> bool:
    if isinstance(data, pd.DataFrame):
        s = data.iloc[:, j]
        return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))
    return True


def _array_names(model: Any, p: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == p:
        return [str(n) for n in names]
    return [f"x{j}" for j in range(p)]


def _resolve_feature(model: Any, data: Data, key: Feature) -> tuple[int, str]:
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


def _column(data: Data, j: int) -> NDArray[Any]:
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


def _typical_row(
    model: Any, data: Data, at: Mapping[Feature, Any] | None, varied: Sequence[int]
) -> pd.DataFrame | FloatArray:
    """One row: means (numeric) or modes (other DataFrame columns), then ``at`` values.

    Returns a one-row DataFrame when ``data`` is one, else a float array of shape (p,).
    """
    fixed: dict[int, Any] = {}
    for key, value in (at or {}).items():
        j, name = _resolve_feature(model, data, key)
        if j in varied:
            raise InvalidInputError(f"feature {name!r} is varied by the plot; remove it from at")
        fixed[j] = value
    if isinstance(data, pd.DataFrame):
        columns: dict[Hashable, pd.Series] = {}
        for j, col in enumerate(data.columns):
            s = data.iloc[:, j]
            numeric = _is_numeric_column(data, j)
            if j in fixed:
                value = fixed[j]
                if isinstance(s.dtype, pd.CategoricalDtype) and value not in s.cat.categories:
                    raise InvalidInputError(
                        f"at: {value!r} is not a category of {col!r} ({_names(s.cat.categories)})"
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


def _grid_rows(
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


def _numeric_range(data: Data, j: int, name: str, pad: float) -> tuple[float, float]:
    if not _is_numeric_column(data, j):
        raise InvalidInputError(f"feature {name!r} is not numeric; a numeric grid is needed")
    col = np.asarray(_column(data, j), dtype=np.float64)
    if not np.isfinite(col).any():
        raise InvalidInputError(f"feature {name!r} has no finite value")
    lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    width = hi - lo
    return lo - pad * width, hi + pad * width


def _levels(data: pd.DataFrame, j: int) -> pd.Series:
    """The levels of a non-numeric column, in category (or sorted) order, dtype kept."""
    s = data.iloc[:, j]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series(s.cat.categories, dtype=s.dtype)
    uniques = pd.unique(s.dropna())
    with contextlib.suppress(TypeError):
        uniques = np.sort(np.asarray(uniques))
    return pd.Series(uniques, dtype=s.dtype)


def _for_model(model: Any, X: Any) -> Any:
    """A bare 2-d array as a DataFrame with the model's feature names, when it has them.

    Keeps scikit-learn from warning that X lacks the feature names the model was fitted
    (or built by ``from_coefficients``) with; anything else passes through unchanged.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is not None and isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == len(names):
        return pd.DataFrame(X, columns=[str(n) for n in names])
    return X


def _class_codes(classes: NDArray[Any], labels: ArrayLike) -> NDArray[np.intp]:
    """Positions of ``labels`` in the sorted ``classes``; unknown labels raise."""
    lab = np.asarray(labels)
    if lab.ndim != 1:
        lab = lab.ravel()
    try:
        idx = np.clip(np.searchsorted(classes, lab), 0, classes.size - 1)
        bad = np.asarray(classes[idx] != lab)
    except TypeError as err:  # labels of another type than the classes
        raise InvalidInputError(
            f"labels of type {lab.dtype} do not match the model's classes ({_names(classes)})"
        ) from err
    if np.any(bad):
        unknown = sorted({str(v) for v in lab[bad]})[:5]
        raise InvalidInputError(
            f"labels {unknown} are not classes of the model ({_names(classes)})"
        )
    return idx.astype(np.intp)


def _shown_classes(model: Any, classes: Sequence[Any] | None) -> list[int]:
    all_classes = np.asarray(model.classes_)
    if classes is None:
        return list(range(all_classes.size))
    return [int(k) for k in _class_codes(all_classes, np.asarray(list(classes)))]


def _label(value: Any) -> str:
    return str(value)


def _names(values: Any) -> str:
    """``a, b, c`` for messages."""
    return ", ".join(str(v) for v in values)


# ---------------------------------------------------------------------- 1. softmax
def _softmax(eta: FloatArray) -> FloatArray:
    z = eta - eta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def plot_softmax(
    eta: ArrayLike | None = None,
    ax: Axes | None = None,
    *,
    kind: Literal["curves", "bars"] = "curves",
    vary: int = 0,
    span: float = 5.0,
    n_points: int = 201,
    labels: Sequence[str] | None = None,
) -> Axes:
    """The softmax map from K linear predictors to K probabilities.

    ``P_k = exp(eta_k) / sum_j exp(eta_j)``.

    Parameters
    ----------
    eta : array-like of shape (K,), optional
        Linear predictors, ``K >= 2``; default ``(1, 0, -1)``.
    ax : Axes, optional
        Where to draw; a new figure when omitted.
    kind : {"curves", "bars"}, default="curves"
        ``"curves"``: vary ``eta[vary]`` over ``eta[vary] ± span`` with the others fixed
        and draw all K probabilities (one line each, in class order) and their sum, a
        dotted line at one; ``eta`` itself is marked by a vertical line and K points.
        ``"bars"``: for the vector ``eta``, K bars of ``eta`` on ``ax`` beside K bars of
        the probabilities on a twin y axis (``ax.twinx()``) whose zero is aligned with
        ``ax``'s.
    vary : int, default=0
        Which linear predictor varies (``kind="curves"``).
    span : float, default=5.0
        Half-width of its range.
    n_points : int, default=201
        Grid points (``kind="curves"``).
    labels : sequence of K str, optional
        Class names; default ``"1" .. "K"``.

    Returns
    -------
    Axes
        With ``kind="curves"``: K + 1 lines of ``n_points`` points (probabilities, then
        the sum) and K marker lines of one point. With ``kind="bars"``: K bars of ``eta``
        (the probability bars are on the twin Axes).
    """
    e = np.array([1.0, 0.0, -1.0]) if eta is None else np.asarray(eta, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)):
        raise InvalidInputError(f"eta must be a finite vector of length >= 2, got {eta!r}")
    K = e.size
    names = [str(k + 1) for k in range(K)] if labels is None else [str(s) for s in labels]
    if len(names) != K:
        raise InvalidInputError(f"labels must have {K} entries, got {len(names)}")
    colors = class_colors(K)
    prob = _softmax(e)
    ax = _new_axes(ax)
    if kind == "curves":
        if not 0 <= vary < K:
            raise InvalidInputError(f"vary must be in 0..{K - 1}, got {vary}")
        if not span > 0 or n_points < 2:
            raise InvalidInputError("span must be positive and n_points at least 2")
        t = np.linspace(e[vary] - span, e[vary] + span, n_points)
        E = np.tile(e, (n_points, 1))
        E[:, vary] = t
        P = _softmax(E)
        for k in range(K):
            ax.plot(t, P[:, k], color=colors[k], label=f"P({names[k]})")
        ax.plot(t, P.sum(axis=1), color="k", linestyle=":", linewidth=1.2, label="sum")
        ax.axvline(e[vary], **_REFERENCE_LINE)
        for k in range(K):
            ax.plot([e[vary]], [prob[k]], "o", color=colors[k])
        fixed = ", ".join(f"η{names[k]} = {e[k]:g}" for k in range(K) if k != vary)
        ax.set_xlabel(f"η{names[vary]}  (fixed: {fixed})")
        ax.set_ylabel("probability")
        ax.set_ylim(-0.02, 1.05)
        ax.legend(loc="best", fontsize="small")
        ax.set_title("softmax: probabilities sum to one")
        return ax
    if kind != "bars":
        raise InvalidInputError(f"kind must be 'curves' or 'bars', got {kind!r}")
    x = np.arange(K, dtype=np.float64)
    width = 0.38
    ax.bar(x - width / 2, e, width, color="0.6", label="η (left axis)")
    ax.axhline(0.0, color="k", linewidth=0.8)
    ax.set_ylabel("linear predictor η")
    ax.set_xticks(x, names)
    ax.set_xlabel("class")
    twin = ax.twinx()
    twin.bar(x + width / 2, prob, width, color=colors, label="P (right axis)")
    for k in range(K):
        twin.annotate(
            f"{prob[k]:.3f}",
            (x[k] + width / 2, prob[k]),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    # Both axes share their zero line, so every bar starts from the same baseline.
    lo, hi = min(float(e.min()), 0.0), max(float(e.max()), 0.0)
    extent = hi - lo
    lo, hi = lo - (0.08 * extent if lo < 0 else 0.0), hi + 0.2 * extent
    ax.set_ylim(lo, hi)
    below = -lo / (hi - lo)
    twin.set_ylim(-below * 1.15 / (1 - below), 1.15)
    twin.set_yticks(np.linspace(0.0, 1.0, 5))
    twin.set_ylabel("probability softmax(η)")
    handles = [Patch(color="0.6", label="η (left)"), Patch(color=colors[0], label="P (right)")]
    ax.legend(handles=handles, loc="upper right", fontsize="small")
    ax.set_title("softmax: η ↦ probabilities")
    return ax


# ---------------------------------------------------------------------- 2. and 3. two predictors
def _plane(
    model: Any,
    X: Any,
    features: tuple[Feature, Feature],
    at: Mapping[Feature, Any] | None,
    resolution: int,
) -> tuple[Data, tuple[int, str], tuple[int, str], FloatArray, FloatArray, Any]:
    """Grid over two numeric features: axes values (r,) each and the (r*r) rows."""
    data = _as_data(X)
    if len(features) != 2:
        raise InvalidInputError(f"features must name two predictors, got {features!r}")
    if resolution < 2:
        raise InvalidInputError(f"resolution must be at least 2, got {resolution}")
    f1 = _resolve_feature(model, data, features[0])
    f2 = _resolve_feature(model, data, features[1])
    if f1[0] == f2[0]:
        raise InvalidInputError(f"features must be two different predictors, got {features!r}")
    xs = np.linspace(*_numeric_range(data, f1[0], f1[1], 0.05), resolution)
    ys = np.linspace(*_numeric_range(data, f2[0], f2[1], 0.05), resolution)
    base = _typical_row(model, data, at, (f1[0], f2[0]))
    gx, gy = np.meshgrid(xs, ys)
    rows = _grid_rows(base, {f1[0]: gx.ravel(), f2[0]: gy.ravel()})
    return data, f1, f2, xs, ys, _for_model(model, rows)


def _scatter_classes(
    ax: Axes,
    model: Any,
    data: Data,
    j1: int,
    j2: int,
    scatter_y: ArrayLike,
    colors: list[tuple[float, float, float, float]],
    edgecolor: str,
) -> None:
    codes = _class_codes(np.asarray(model.classes_), scatter_y)
    if codes.size != data.shape[0]:
        raise InvalidInputError(f"scatter_y has {codes.size} labels but X has {data.shape[0]} rows")
    ax.scatter(
        np.asarray(_column(data, j1), dtype=np.float64),
        np.asarray(_column(data, j2), dtype=np.float64),
        c=np.asarray(colors)[codes],
        s=16,
        edgecolors=edgecolor,
        linewidths=0.4,
        zorder=3,
    )


def _held_note(at: Mapping[Feature, Any] | None) -> str:
    if not at:
        return "other predictors at their means"
    fixed = ", ".join(f"{k} = {v}" for k, v in at.items())
    return f"{fixed}, other predictors at their means"


def plot_decision_regions(
    model: MultinomialLogit,
    X: ArrayLike | pd.DataFrame,
    features: tuple[Feature, Feature] = (0, 1),
    ax: Axes | None = None,
    resolution: int = 200,
    scatter_y: ArrayLike | None = None,
    *,
    at: Mapping[Feature, Any] | None = None,
) -> Axes:
    """The predicted class over a grid of two predictors.

    The grid spans the observed range of each feature in ``X`` plus 5% on each side;
    every other predictor is held at its mean (non-numeric DataFrame columns at their
    most frequent value) or at the value given in ``at``.

    Parameters
    ----------
    model : fitted MultinomialLogit
        Any fitted classifier with ``classes_`` and ``predict`` works.
    X : array-like or DataFrame of shape (n, p)
        The data that sets the ranges and the typical row (usually the training data).
    features : pair of feature names or positions, default=(0, 1)
        The horizontal and vertical predictors (numeric).
    ax : Axes, optional
    resolution : int, default=200
        Grid points per axis.
    scatter_y : array-like of shape (n,), optional
        True labels of the rows of ``X``: the rows are drawn as points coloured by class.
    at : dict, optional
        ``{feature: value}`` for predictors held at values other than their means.

    Returns
    -------
    Axes
        Holding one image (``ax.images[0]``) whose array, of shape
        (resolution, resolution), row ``i`` for the ``i``-th vertical grid value and
        column ``j`` for the ``j``-th horizontal one, holds the position in
        ``model.classes_`` of the predicted class; a legend with one patch per class; and,
        with ``scatter_y``, one collection of n points.
    """
    data, f1, f2, xs, ys, rows = _plane(model, X, features, at, resolution)
    classes = np.asarray(model.classes_)
    K = classes.size
    codes = _class_codes(classes, model.predict(rows)).reshape(ys.size, xs.size)
    colors = class_colors(K)
    cmap = ListedColormap([_lighten(c, 0.55) for c in colors])
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    ax = _new_axes(ax)
    ax.imshow(
        codes,
        origin="lower",
        extent=(xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2),
        aspect="auto",
        cmap=cmap,
        vmin=-0.5,
        vmax=K - 0.5,
        interpolation="nearest",
    )
    if scatter_y is not None:
        _scatter_classes(ax, model, data, f1[0], f2[0], scatter_y, colors, "k")
    ax.set_xlim(xs[0] - dx / 2, xs[-1] + dx / 2)
    ax.set_ylim(ys[0] - dy / 2, ys[-1] + dy / 2)
    ax.set_xlabel(f1[1])
    ax.set_ylabel(f2[1])
    ax.set_title(f"predicted class; {_held_note(at)}", fontsize="medium")
    handles = [
        Patch(facecolor=_lighten(colors[k], 0.55), edgecolor=colors[k], label=_label(c))
        for k, c in enumerate(classes)
    ]
    ax.legend(handles=handles, title="class", fontsize="small", loc="best")
    return ax


def plot_probability_surface(
    model: MultinomialLogit,
    X: ArrayLike | pd.DataFrame,
    features: tuple[Feature, Feature] = (0, 1),
    cls: Any = None,
    ax: Axes | None = None,
    *,
    at: Mapping[Feature, Any] | None = None,
    resolution: int = 100,
    levels: int | Sequence[float] = 10,
    scatter_y: ArrayLike | None = None,
    colorbar: bool = True,
    cmap: str | Colormap = "viridis",
) -> Axes:
    """Filled contours of one class's predicted probability over two predictors.

    Parameters
    ----------
    model : fitted MultinomialLogit
        Any fitted classifier with ``classes_`` and ``predict_proba`` works.
    X : array-like or DataFrame of shape (n, p)
        Sets the ranges (observed range plus 5% each side) and the typical row.
    features : pair of feature names or positions, default=(0, 1)
    cls : label, optional
        The class whose probability is drawn; default ``model.classes_[-1]`` (for two
        classes the "positive" class, as in scikit-learn).
    ax : Axes, optional
    at : dict, optional
        ``{feature: value}`` for predictors held at values other than their means.
    resolution : int, default=100
        Grid points per axis.
    levels : int or sequence of float, default=10
        Number of equal bands on [0, 1], or the band edges.
    scatter_y : array-like of shape (n,), optional
        True labels: the rows of ``X`` drawn as points coloured by class.
    colorbar : bool, default=True
        Add a colour bar (a second Axes on the figure).
    cmap : str or Colormap, default="viridis"

    Returns
    -------
    Axes
        Holding one :class:`~matplotlib.contour.QuadContourSet` (in ``ax.collections``)
        of the probabilities on the (resolution, resolution) grid.
    """
    data, f1, f2, xs, ys, rows = _plane(model, X, features, at, resolution)
    classes = np.asarray(model.classes_)
    label = classes[-1] if cls is None else cls
    k = int(_class_codes(classes, np.asarray([label]))[0])
    Z = np.asarray(model.predict_proba(rows), dtype=np.float64)[:, k].reshape(ys.size, xs.size)
    edges = (
        np.linspace(0.0, 1.0, int(levels) + 1)
        if isinstance(levels, int | np.integer)
        else np.asarray(levels, dtype=np.float64)
    )
    ax = _new_axes(ax)
    cs = ax.contourf(xs, ys, Z, levels=edges, cmap=cmap, vmin=0.0, vmax=1.0)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label=f"P({_label(label)})")
    if scatter_y is not None:
        _scatter_classes(ax, model, data, f1[0], f2[0], scatter_y, class_colors(classes.size), "w")
    ax.set_xlabel(f1[1])
    ax.set_ylabel(f2[1])
    ax.set_title(f"P({_label(label)}); {_held_note(at)}", fontsize="medium")
    return ax


# ---------------------------------------------------------------------- 4. and 5. one predictor
def _line_grid(
    model: Any,
    X: Any,
    feature: Feature,
    at: Mapping[Feature, Any] | None,
    n_points: int,
    grid: ArrayLike | None,
) -> tuple[str, NDArray[Any], list[str] | None, Any]:
    """x positions, tick labels (non-numeric features) and the rows along one feature."""
    data = _as_data(X)
    j, name = _resolve_feature(model, data, feature)
    base = _typical_row(model, data, at, (j,))
    if grid is not None:
        values: Any = np.asarray(grid)
        if values.ndim != 1 or values.size == 0:
            raise InvalidInputError("grid must be a non-empty 1-d array of feature values")
        if isinstance(data, pd.DataFrame) and not _is_numeric_column(data, j):
            values = pd.Series(values, dtype=data.iloc[:, j].dtype)
    elif isinstance(data, pd.DataFrame) and not _is_numeric_column(data, j):
        values = _levels(data, j)
    else:
        if n_points < 2:
            raise InvalidInputError(f"n_points must be at least 2, got {n_points}")
        values = np.linspace(*_numeric_range(data, j, name, 0.0), n_points)
    rows = _for_model(model, _grid_rows(base, {j: values}))
    if isinstance(data, pd.DataFrame) and not _is_numeric_column(data, j):
        ticks = [_label(v) for v in values]
        return name, np.arange(len(ticks), dtype=np.float64), ticks, rows
    return name, np.asarray(values, dtype=np.float64), None, rows


def plot_predicted_probabilities(
    model: MultinomialLogit,
    X: ArrayLike | pd.DataFrame,
    feature: Feature,
    at: Mapping[Feature, Any] | None = None,
    alpha: float = 0.05,
    ax: Axes | None = None,
    bands: bool = True,
    *,
    n_points: int = 100,
    grid: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
) -> Axes:
    """Predicted probability of each class along one predictor, with confidence bands.

    The predictor runs over its observed range in ``X`` (or over ``grid``); all others are
    held at their means (non-numeric DataFrame columns at their most frequent value) or at
    the values in ``at``. Bands are the pointwise ``1 - alpha`` intervals of
    ``model.predict_interval`` (delta method on the logit scale, so within (0, 1)); they
    are left out when the model has no covariance matrix. A non-numeric (categorical)
    predictor is drawn as points with error bars, one per level.

    Parameters
    ----------
    model : fitted MultinomialLogit
    X : array-like or DataFrame of shape (n, p)
        Sets the range of ``feature`` and the typical row (usually the training data).
    feature : feature name or position
    at : dict, optional
        ``{feature: value}`` for predictors held at values other than their means.
    alpha : float, default=0.05
        Bands are ``1 - alpha`` intervals.
    ax : Axes, optional
    bands : bool, default=True
        Draw confidence bands (skipped when the model has no covariance).
    n_points : int, default=100
        Grid points over the observed range of a numeric ``feature``.
    grid : array-like of shape (m,), optional
        The feature values to use instead.
    classes : sequence of labels, optional
        The classes to draw; default all (then the curves sum to one at every x).

    Returns
    -------
    Axes
        One line per drawn class (in ``classes_`` order, labelled with the class), each
        with m points (``n_points``, ``len(grid)`` or the number of levels); with bands,
        one filled polygon per class (``ax.collections``), or error bars for a
        categorical feature.
    """
    name, x, ticks, rows = _line_grid(model, X, feature, at, n_points, grid)
    P = np.asarray(model.predict_proba(rows), dtype=np.float64)
    lower: FloatArray | None = None
    upper: FloatArray | None = None
    if bands:
        try:
            lower, upper = model.predict_interval(rows, alpha=alpha)
        except InferenceUnavailableError:
            lower = upper = None
    shown = _shown_classes(model, classes)
    colors = class_colors(len(model.classes_))
    ax = _new_axes(ax)
    for k in shown:
        lab = _label(model.classes_[k])
        if ticks is None:
            ax.plot(x, P[:, k], color=colors[k], label=lab)
            if lower is not None and upper is not None:
                ax.fill_between(x, lower[:, k], upper[:, k], color=colors[k], alpha=0.2, lw=0)
        else:
            ax.plot(x, P[:, k], "o-", color=colors[k], label=lab, linewidth=0.8)
            if lower is not None and upper is not None:
                err = np.vstack([P[:, k] - lower[:, k], upper[:, k] - P[:, k]])
                ax.errorbar(x, P[:, k], yerr=err, fmt="none", ecolor=colors[k], capsize=3)
    if ticks is not None:
        ax.set_xticks(x, ticks)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    ax.set_xlabel(name)
    ax.set_ylabel("predicted probability")
    ax.set_ylim(0.0, 1.0)
    band_note = f", {100 * (1 - alpha):g}% bands" if lower is not None else ""
    ax.set_title(f"{_held_note(at)}{band_note}", fontsize="medium")
    ax.legend(title="class", fontsize="small", loc="best")
    return ax


def plot_log_odds(
    model: MultinomialLogit,
    X: ArrayLike | pd.DataFrame,
    feature: Feature,
    at: Mapping[Feature, Any] | None = None,
    ax: Axes | None = None,
    *,
    reference: Any = None,
    n_points: int = 100,
    grid: ArrayLike | None = None,
) -> Axes:
    """Log-odds of each class against the reference class along one predictor.

    ``log(P_k / P_r) = eta_k - eta_r`` from ``model.linear_predictor``: straight lines in a
    numeric predictor, with slope ``coef_[k, j] - coef_[r, j]``.

    Parameters
    ----------
    model : fitted MultinomialLogit
    X : array-like or DataFrame of shape (n, p)
        Sets the range of ``feature`` and the typical row.
    feature : feature name or position
    at : dict, optional
        ``{feature: value}`` for predictors held at values other than their means.
    ax : Axes, optional
    reference : label, optional
        The baseline class; default ``model.reference_``, or ``classes_[0]`` for a
        symmetric-form fit.
    n_points : int, default=100
    grid : array-like of shape (m,), optional
        Feature values to use instead of the observed range.

    Returns
    -------
    Axes
        K - 1 lines of m points, one per non-reference class in ``classes_`` order, and a
        horizontal line at zero.
    """
    name, x, ticks, rows = _line_grid(model, X, feature, at, n_points, grid)
    classes = np.asarray(model.classes_)
    ref = reference if reference is not None else getattr(model, "reference_", None)
    if ref is None:
        ref = classes[0]
    r = int(_class_codes(classes, np.asarray([ref]))[0])
    eta = np.asarray(model.linear_predictor(rows), dtype=np.float64)
    colors = class_colors(classes.size)
    ax = _new_axes(ax)
    ax.axhline(0.0, **_REFERENCE_LINE)
    style = "-" if ticks is None else "o-"
    for k in range(classes.size):
        if k == r:
            continue
        ax.plot(x, eta[:, k] - eta[:, r], style, color=colors[k], label=_label(classes[k]))
    if ticks is not None:
        ax.set_xticks(x, ticks)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    ax.set_xlabel(name)
    ax.set_ylabel(f"log odds against {_label(classes[r])}")
    ax.set_title(_held_note(at), fontsize="medium")
    ax.legend(title="class", fontsize="small", loc="best")
    return ax


# ---------------------------------------------------------------------- 6. coefficients
def _point_table(model: Any, exponentiate: bool) -> pd.DataFrame:
    """Estimates only (no covariance), in coef_table's layout, intervals NaN."""
    classes = np.asarray(model.classes_)
    coef = np.asarray(model.coef_, dtype=np.float64)
    names = _array_names(model, coef.shape[1])
    fit_intercept = bool(getattr(model, "fit_intercept", True))
    terms = ["Intercept", *names] if fit_intercept else names
    ref = getattr(model, "reference_", None)
    shown = [k for k in range(classes.size) if ref is None or classes[k] != ref]
    est = []
    for k in shown:
        row = list(coef[k])
        est.extend([float(model.intercept_[k]), *row] if fit_intercept else row)
    values = np.asarray(est)
    index = pd.MultiIndex.from_product([list(classes[shown]), terms], names=["class", "term"])
    column = "rrr" if exponentiate else "coef"
    nan = np.full(values.size, np.nan)
    return pd.DataFrame(
        {column: np.exp(values) if exponentiate else values, "ci_lower": nan, "ci_upper": nan},
        index=index,
    )


def plot_coefficients(
    model: MultinomialLogit,
    alpha: float = 0.05,
    exponentiate: bool = False,
    ax: Axes | None = None,
    *,
    include_intercept: bool = False,
    terms: Sequence[str] | None = None,
) -> Axes:
    """Forest plot of the coefficients (or relative risk ratios), grouped by class.

    One block per non-reference class (all classes for a symmetric-form fit), headed by
    the class name, with one row per term: the estimate as a point and its ``1 - alpha``
    interval from ``model.coef_table`` as a horizontal bar. Without a covariance matrix
    the points are drawn without intervals.

    Parameters
    ----------
    model : fitted MultinomialLogit
    alpha : float, default=0.05
    exponentiate : bool, default=False
        Relative risk ratios ``exp(coef)`` on a log axis, with the reference line at 1
        (else coefficients with the reference line at 0).
    ax : Axes, optional
        Default: a new figure whose height grows with the number of rows.
    include_intercept : bool, default=False
    terms : sequence of str, optional
        The terms to show (default all but the intercept).

    Returns
    -------
    Axes
        One error-bar set per class (``ax.containers``), whose marker line holds the
        estimates (x) of that class's terms; the y tick labels are, from top to bottom,
        a header per class (``"<class> vs <reference>"``, or the class for a
        symmetric-form fit) followed by its term names.
    """
    try:
        table = model.coef_table(alpha=alpha, exponentiate=exponentiate)
        has_ci = True
    except InferenceUnavailableError:
        table = _point_table(model, exponentiate)
        has_ci = False
    column = "rrr" if exponentiate else "coef"
    term_level = table.index.get_level_values("term")
    keep = np.ones(len(table), dtype=bool)
    if not include_intercept:
        keep &= term_level != "Intercept"
    if terms is not None:
        missing = sorted(set(terms) - set(term_level))
        if missing:
            raise InvalidInputError(
                f"terms {missing} are not in the model ({_names(dict.fromkeys(term_level))})"
            )
        keep &= term_level.isin(list(terms))
    table = table[keep]
    if table.empty:
        raise InvalidInputError("no coefficient left to plot")
    all_classes = list(np.asarray(model.classes_))
    colors = class_colors(len(all_classes))
    group_classes = list(dict.fromkeys(table.index.get_level_values("class")))
    n_rows = len(table) + len(group_classes)
    ax = _new_axes(ax, (6.4, min(2.0 + 0.26 * n_rows, 40.0)))
    ref = getattr(model, "reference_", None)
    ticks: list[float] = []
    tick_labels: list[str] = []
    headers: list[int] = []
    y = 0.0
    for cls in group_classes:
        block = table.xs(cls, level="class")
        headers.append(len(ticks))
        ticks.append(y)
        tick_labels.append(_label(cls) if ref is None else f"{cls} vs {ref}")
        y += 1.0
        pos = y + np.arange(len(block), dtype=np.float64)
        ticks.extend(pos.tolist())
        tick_labels.extend(str(t) for t in block.index)
        y += len(block) + 0.5
        est = block[column].to_numpy(dtype=np.float64)
        color = colors[all_classes.index(cls)] if cls in all_classes else "k"
        if has_ci:
            err = np.vstack(
                [
                    est - block["ci_lower"].to_numpy(dtype=np.float64),
                    block["ci_upper"].to_numpy(dtype=np.float64) - est,
                ]
            )
            ax.errorbar(est, pos, xerr=err, fmt="o", color=color, capsize=2, label=_label(cls))
        else:
            ax.errorbar(est, pos, fmt="o", color=color, label=_label(cls))
    ax.axvline(1.0 if exponentiate else 0.0, **_REFERENCE_LINE)
    if exponentiate:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("relative risk ratio (log scale)")
    else:
        ax.set_xlabel("coefficient (log relative-risk ratio)")
    ax.set_yticks(ticks, tick_labels)
    for i, text in enumerate(ax.get_yticklabels()):
        if i in headers:
            text.set_fontweight("bold")
    ax.set_ylim(y - 0.5, -0.8)
    interval = f"{100 * (1 - alpha):g}% intervals" if has_ci else "no covariance: no intervals"
    against = f"reference class {_label(ref)}" if ref is not None else "symmetric form"
    ax.set_title(f"{against}; {interval}", fontsize="medium")
    return ax


# ---------------------------------------------------------------------- 7. confusion matrix
def plot_confusion_matrix(
    model: MultinomialLogit,
    X: ArrayLike | pd.DataFrame,
    y: ArrayLike,
    normalize: Literal["true", "pred", "all"] | None = None,
    ax: Axes | None = None,
    *,
    sample_weight: ArrayLike | None = None,
    cmap: str | Colormap = "Blues",
    colorbar: bool = True,
    values_format: str | None = None,
) -> Axes:
    """Heat map of the confusion matrix of ``model.predict(X)`` against ``y``.

    Rows are the true classes, columns the predicted ones, both in ``classes_`` order;
    each cell shows its count (or proportion).

    Parameters
    ----------
    model : fitted MultinomialLogit
    X : array-like or DataFrame of shape (n, p)
    y : array-like of shape (n,)
        True labels.
    normalize : {"true", "pred", "all"} or None, default=None
        As in :func:`sklearn.metrics.confusion_matrix`: proportions within true classes
        (rows), predicted classes (columns) or overall; ``None`` gives counts.
    ax : Axes, optional
    sample_weight : array-like of shape (n,), optional
    cmap : str or Colormap, default="Blues"
    colorbar : bool, default=True
    values_format : str, optional
        Format of the cell texts; default ``"d"`` for integer counts, ``".2f"`` for
        proportions, ``".4g"`` otherwise.

    Returns
    -------
    Axes
        Holding one image of the (K, K) matrix and K * K texts, row-major.
    """
    classes = np.asarray(model.classes_)
    pred = model.predict(_for_model(model, X))
    cm = confusion_matrix(
        np.asarray(y), pred, labels=classes, sample_weight=sample_weight, normalize=normalize
    )
    if values_format is None:
        integral = normalize is None and np.allclose(cm, np.round(cm))
        values_format = "d" if integral else (".2f" if normalize is not None else ".4g")
    K = classes.size
    ax = _new_axes(ax, (1.6 + 0.75 * K, 1.2 + 0.65 * K))
    im = ax.imshow(cm, cmap=cmap, interpolation="nearest", vmin=0.0)
    vmax = float(cm.max()) if cm.size else 1.0
    cmap_obj = im.get_cmap()
    for i in range(K):
        for j in range(K):
            value = cm[i, j]
            text = format(round(value), values_format) if values_format == "d" else None
            if text is None:
                text = format(float(value), values_format)
            shade = cmap_obj(0.0 if vmax == 0 else float(value) / vmax)
            luminance = 0.2126 * shade[0] + 0.7152 * shade[1] + 0.0722 * shade[2]
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if luminance < 0.5 else "black",
                fontsize="small",
            )
    names = [_label(c) for c in classes]
    ax.set_xticks(
        np.arange(K), names, rotation=45 if K > 4 else 0, ha="right" if K > 4 else "center"
    )
    ax.set_yticks(np.arange(K), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="proportion" if normalize else "count")
    return ax


# ---------------------------------------------------------------------- 8. calibration
def plot_calibration(
    model: MultinomialLogit,
    X: ArrayLike | pd.DataFrame,
    y: ArrayLike,
    n_bins: int = 10,
    ax: Axes | None = None,
    *,
    strategy: Literal["uniform", "quantile"] = "uniform",
    classes: Sequence[Any] | None = None,
) -> Axes:
    """Reliability diagram: observed frequency against predicted probability, per class.

    For each class, one-vs-rest: the rows are binned by their predicted probability of
    the class, and the share of rows truly in the class is drawn against the mean
    predicted probability of each non-empty bin
    (:func:`sklearn.calibration.calibration_curve`). A calibrated model lies on the
    diagonal. Classes absent from ``y`` are skipped.

    Parameters
    ----------
    model : fitted MultinomialLogit
    X : array-like or DataFrame of shape (n, p)
    y : array-like of shape (n,)
        True labels.
    n_bins : int, default=10
    ax : Axes, optional
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins on [0, 1], or bins with equal numbers of rows.
    classes : sequence of labels, optional
        The classes to draw; default all.

    Returns
    -------
    Axes
        The diagonal (first line, label ``"perfectly calibrated"``), then one line per
        drawn class in ``classes_`` order with one point per non-empty bin
        (x: mean predicted probability, y: observed frequency).
    """
    all_classes = np.asarray(model.classes_)
    P = np.asarray(model.predict_proba(_for_model(model, X)), dtype=np.float64)
    truth = np.asarray(y)
    if truth.shape[0] != P.shape[0]:
        raise InvalidInputError(f"y has {truth.shape[0]} labels but X has {P.shape[0]} rows")
    colors = class_colors(all_classes.size)
    ax = _new_axes(ax, (5.4, 5.0))
    ax.plot([0.0, 1.0], [0.0, 1.0], label="perfectly calibrated", **_REFERENCE_LINE)
    for k in _shown_classes(model, classes):
        hits = (truth == all_classes[k]).astype(np.int64)
        if not hits.any():
            continue
        frac, mean_pred = calibration_curve(
            hits, P[:, k], n_bins=n_bins, strategy=strategy, pos_label=1
        )
        ax.plot(mean_pred, frac, "o-", color=colors[k], label=_label(all_classes[k]), ms=4)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("calibration (one vs rest)", fontsize="medium")
    ax.legend(title="class", fontsize="small", loc="upper left")
    return ax
