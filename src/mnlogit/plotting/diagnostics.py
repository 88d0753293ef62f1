"""Plots of fit on given data: confusion matrix and calibration (reliability) diagram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from numpy.typing import ArrayLike, NDArray
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix

from mnlogit.exceptions import InvalidInputError
from mnlogit.plotting.grid import (
    REFERENCE_LINE,
    class_colors,
    for_model,
    label_text,
    new_axes,
    shown_classes,
)

if TYPE_CHECKING:
    from mnlogit.estimator import MultinomialLogit


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
    pred = model.predict(for_model(model, X))
    cm = confusion_matrix(
        np.asarray(y), pred, labels=classes, sample_weight=sample_weight, normalize=normalize
    )
    if values_format is None:
        integral = normalize is None and np.allclose(cm, np.round(cm))
        values_format = "d" if integral else (".2f" if normalize is not None else ".4g")
    K = classes.size
    ax = new_axes(ax, (1.6 + 0.75 * K, 1.2 + 0.65 * K))
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
    names = [label_text(c) for c in classes]
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
        (x: mean predicted probability, y: observed frequency), each point labelled with
        the number of rows in its bin (``ax.texts``, in the same order). The legend sits
        outside the axes, off the data.
    """
    all_classes = np.asarray(model.classes_)
    P = np.asarray(model.predict_proba(for_model(model, X)), dtype=np.float64)
    truth = np.asarray(y)
    if truth.shape[0] != P.shape[0]:
        raise InvalidInputError(f"y has {truth.shape[0]} labels but X has {P.shape[0]} rows")
    colors = class_colors(all_classes.size)
    ax = new_axes(ax, (5.4, 5.0))
    ax.plot([0.0, 1.0], [0.0, 1.0], label="perfectly calibrated", **REFERENCE_LINE)
    for k in shown_classes(model, classes):
        hits = (truth == all_classes[k]).astype(np.int64)
        if not hits.any():
            continue
        frac, mean_pred = calibration_curve(
            hits, P[:, k], n_bins=n_bins, strategy=strategy, pos_label=1
        )
        ax.plot(mean_pred, frac, "o-", color=colors[k], label=label_text(all_classes[k]), ms=4)
        for x, y_, count in zip(
            mean_pred, frac, _bin_counts(P[:, k], n_bins, strategy), strict=True
        ):
            ax.annotate(
                str(count),
                (x, y_),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6,
                color=colors[k],
            )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_box_aspect(1.0)  # square, and room for the legend beside it
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("calibration (one vs rest); numbers: rows per bin", fontsize="medium")
    ax.legend(
        title="class",
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0,
    )
    return ax


def _bin_counts(prob: NDArray[np.float64], n_bins: int, strategy: str) -> list[int]:
    """Rows in each non-empty bin, binned as :func:`sklearn.calibration.calibration_curve`
    bins them (so the counts match its points one for one)."""
    if strategy == "quantile":
        bins = np.percentile(prob, np.linspace(0.0, 1.0, n_bins + 1) * 100)
    else:
        bins = np.linspace(0.0, 1.0, n_bins + 1)
    totals = np.bincount(np.searchsorted(bins[1:-1], prob), minlength=n_bins)
    return [int(t) for t in totals[totals > 0]]
