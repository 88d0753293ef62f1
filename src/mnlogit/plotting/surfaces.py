"""Plots over two predictors: decision regions and one class's probability surface."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, ListedColormap
from matplotlib.patches import Patch
from numpy.typing import ArrayLike

from mnlogit.exceptions import InvalidInputError
from mnlogit.plotting.grid import (
    Data,
    Feature,
    FloatArray,
    as_data,
    class_codes,
    class_colors,
    column_values,
    for_model,
    grid_rows,
    held_note,
    label_text,
    lighten,
    new_axes,
    numeric_range,
    resolve_feature,
    typical_row,
)

if TYPE_CHECKING:
    from mnlogit.estimator import MultinomialLogit


def _plane(
    model: Any,
    X: Any,
    features: tuple[Feature, Feature],
    at: Mapping[Feature, Any] | None,
    resolution: int,
) -> tuple[Data, tuple[int, str], tuple[int, str], FloatArray, FloatArray, Any]:
    """Grid over two numeric features: axes values (r,) each and the (r*r) rows."""
    data = as_data(X)
    if len(features) != 2:
        raise InvalidInputError(f"features must name two predictors, got {features!r}")
    if resolution < 2:
        raise InvalidInputError(f"resolution must be at least 2, got {resolution}")
    f1 = resolve_feature(model, data, features[0])
    f2 = resolve_feature(model, data, features[1])
    if f1[0] == f2[0]:
        raise InvalidInputError(f"features must be two different predictors, got {features!r}")
    xs = np.linspace(*numeric_range(data, f1[0], f1[1], 0.05, model), resolution)
    ys = np.linspace(*numeric_range(data, f2[0], f2[1], 0.05, model), resolution)
    base = typical_row(model, data, at, (f1[0], f2[0]))
    gx, gy = np.meshgrid(xs, ys)
    rows = grid_rows(base, {f1[0]: gx.ravel(), f2[0]: gy.ravel()})
    return data, f1, f2, xs, ys, for_model(model, rows)


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
    codes = class_codes(np.asarray(model.classes_), scatter_y)
    if codes.size != data.shape[0]:
        raise InvalidInputError(f"scatter_y has {codes.size} labels but X has {data.shape[0]} rows")
    ax.scatter(
        np.asarray(column_values(data, j1), dtype=np.float64),
        np.asarray(column_values(data, j2), dtype=np.float64),
        c=np.asarray(colors)[codes],
        s=16,
        edgecolors=edgecolor,
        linewidths=0.4,
        zorder=3,
    )


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
    codes = class_codes(classes, model.predict(rows)).reshape(ys.size, xs.size)
    colors = class_colors(K)
    cmap = ListedColormap([lighten(c, 0.55) for c in colors])
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    ax = new_axes(ax)
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
    ax.set_title(f"predicted class; {held_note(at, model, data)}", fontsize="medium")
    handles = [
        Patch(facecolor=lighten(colors[k], 0.55), edgecolor=colors[k], label=label_text(c))
        for k, c in enumerate(classes)
    ]
    ax.legend(  # outside the axes, off the data
        handles=handles,
        title="class",
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0,
    )
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
    k = int(class_codes(classes, np.asarray([label]))[0])
    Z = np.asarray(model.predict_proba(rows), dtype=np.float64)[:, k].reshape(ys.size, xs.size)
    edges = (
        np.linspace(0.0, 1.0, int(levels) + 1)
        if isinstance(levels, int | np.integer)
        else np.asarray(levels, dtype=np.float64)
    )
    ax = new_axes(ax)
    cs = ax.contourf(xs, ys, Z, levels=edges, cmap=cmap, vmin=0.0, vmax=1.0)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label=f"P({label_text(label)})")
    if scatter_y is not None:
        _scatter_classes(ax, model, data, f1[0], f2[0], scatter_y, class_colors(classes.size), "w")
    ax.set_xlabel(f1[1])
    ax.set_ylabel(f2[1])
    ax.set_title(f"P({label_text(label)}); {held_note(at, model, data)}", fontsize="medium")
    return ax
