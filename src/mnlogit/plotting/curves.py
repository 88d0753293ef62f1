"""Plots along one predictor: predicted probabilities and log odds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.stats
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

from mnlogit.exceptions import InferenceUnavailableError, InvalidInputError
from mnlogit.parameterization import Parameterization
from mnlogit.plotting.grid import (
    REFERENCE_LINE,
    Feature,
    FloatArray,
    as_data,
    category_levels,
    class_colors,
    for_model,
    grid_rows,
    held_note,
    is_numeric_column,
    label_text,
    new_axes,
    numeric_range,
    resolve_feature,
    shown_classes,
    typical_row,
)

if TYPE_CHECKING:
    from mnlogit.estimator import MultinomialLogit


def _line_grid(
    model: Any,
    X: Any,
    feature: Feature,
    at: Mapping[Feature, Any] | None,
    n_points: int,
    grid: ArrayLike | None,
) -> tuple[str, NDArray[Any], list[str] | None, Any]:
    """x positions, tick labels (non-numeric features) and the rows along one feature."""
    data = as_data(X)
    j, name = resolve_feature(model, data, feature)
    base = typical_row(model, data, at, (j,))
    if grid is not None:
        values: Any = np.asarray(grid)
        if values.ndim != 1 or values.size == 0:
            raise InvalidInputError("grid must be a non-empty 1-d array of feature values")
        if isinstance(data, pd.DataFrame) and not is_numeric_column(data, j, model):
            values = pd.Series(values, dtype=data.iloc[:, j].dtype)
    elif isinstance(data, pd.DataFrame) and not is_numeric_column(data, j, model):
        values = category_levels(data, j)
    else:
        if n_points < 2:
            raise InvalidInputError(f"n_points must be at least 2, got {n_points}")
        values = np.linspace(*numeric_range(data, j, name, 0.0, model), n_points)
    rows = for_model(model, grid_rows(base, {j: values}))
    if isinstance(data, pd.DataFrame) and not is_numeric_column(data, j, model):
        ticks = [label_text(v) for v in values]
        return name, np.arange(len(ticks), dtype=np.float64), ticks, rows
    return name, np.asarray(values, dtype=np.float64), None, rows


def _dodge(i: int, n: int) -> float:
    """Horizontal offset of the i-th of n series at a categorical level (within +-0.3)."""
    return 0.0 if n == 1 else (i - (n - 1) / 2) * min(0.6 / (n - 1), 0.15)


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
    shown = shown_classes(model, classes)
    colors = class_colors(len(model.classes_))
    ax = new_axes(ax)
    for k in shown:
        lab = label_text(model.classes_[k])
        if ticks is None:
            ax.plot(x, P[:, k], color=colors[k], label=lab)
            if lower is not None and upper is not None:
                ax.fill_between(x, lower[:, k], upper[:, k], color=colors[k], alpha=0.2, lw=0)
        else:  # levels: points with intervals, side by side, no lines between levels
            xk = x + _dodge(shown.index(k), len(shown))
            ax.plot(xk, P[:, k], "o", color=colors[k], label=lab, markersize=5)
            if lower is not None and upper is not None:
                err = np.vstack([P[:, k] - lower[:, k], upper[:, k] - P[:, k]])
                ax.errorbar(xk, P[:, k], yerr=err, fmt="none", ecolor=colors[k], capsize=2)
    if ticks is not None:
        ax.set_xticks(x, ticks)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    ax.set_xlabel(name)
    ax.set_ylabel("predicted probability")
    ax.set_ylim(0.0, 1.0)
    band_note = f", {100 * (1 - alpha):g}% bands" if lower is not None else ""
    ax.set_title(f"{held_note(at, model, as_data(X))}{band_note}", fontsize="medium")
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
    bands: bool = True,
    alpha: float = 0.05,
) -> Axes:
    """Log-odds of each class against the reference class along one predictor.

    ``log(P_k / P_r) = eta_k - eta_r`` from ``model.linear_predictor``: straight lines in a
    numeric predictor, with slope ``coef_[k, j] - coef_[r, j]``. Bands are pointwise
    ``1 - alpha`` normal intervals ``+- z * se`` with ``se`` from
    ``model.log_odds_se`` (exact: the log-odds are linear in the coefficients); left
    out when the model has no covariance.

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
    bands : bool, default=True
        Draw confidence bands (skipped when the model has no covariance).
    alpha : float, default=0.05

    Returns
    -------
    Axes
        K - 1 lines of m points, one per non-reference class in ``classes_`` order, and a
        horizontal line at zero; with bands, one filled polygon per line
        (``ax.collections``), or error bars for a categorical feature.
    """
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
    name, x, ticks, rows = _line_grid(model, X, feature, at, n_points, grid)
    classes = np.asarray(model.classes_)
    if reference is not None:
        r = Parameterization.resolve_reference(reference, classes, keywords=False)
    else:
        r = model.fitted_.reference_index
    r = 0 if r is None else r
    eta = np.asarray(model.linear_predictor(rows), dtype=np.float64)
    se: FloatArray | None = None
    if bands:
        try:
            se = model.log_odds_se(rows, reference=classes[r])
        except InferenceUnavailableError:
            se = None
    z = float(scipy.stats.norm.ppf(1 - alpha / 2))
    colors = class_colors(classes.size)
    ax = new_axes(ax)
    ax.axhline(0.0, **REFERENCE_LINE)
    style = "-" if ticks is None else "o"
    others = [k for k in range(classes.size) if k != r]
    for i, k in enumerate(others):
        odds = eta[:, k] - eta[:, r]
        xk = x if ticks is None else x + _dodge(i, len(others))
        ax.plot(xk, odds, style, color=colors[k], label=label_text(classes[k]))
        if se is not None and ticks is None:
            half = z * se[:, k]
            ax.fill_between(x, odds - half, odds + half, color=colors[k], alpha=0.2, lw=0)
        elif se is not None:
            ax.errorbar(xk, odds, yerr=z * se[:, k], fmt="none", ecolor=colors[k], capsize=2)
    if ticks is not None:
        ax.set_xticks(x, ticks)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    ax.set_xlabel(name)
    ax.set_ylabel(f"log odds against {label_text(classes[r])}")
    band_note = f", {100 * (1 - alpha):g}% bands" if se is not None else ""
    ax.set_title(f"{held_note(at, model, as_data(X))}{band_note}", fontsize="medium")
    ax.legend(title="class", fontsize="small", loc="best")
    return ax
