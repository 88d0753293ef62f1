"""Regularization paths and cross-validation curves of the sparse penalties.

:func:`plot_coefficient_path` draws a :class:`~mnlogit.path.RegularizationPath` (glmnet's
``plot(fit, xvar="lambda")``); :func:`plot_cv_curve` the cross-validated score of a fitted
:class:`~mnlogit.selection.MultinomialLogitCV` (glmnet's ``plot(cv.fit)``). Both put
``log(alpha)`` (natural log, as glmnet) on the x axis and the number of features with a
nonzero coefficient on a second axis on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.plotting.grid import (
    REFERENCE_LINE,
    class_codes,
    class_colors,
    label_text,
    new_axes,
)

if TYPE_CHECKING:
    from mnlogit.path import RegularizationPath
    from mnlogit.selection import MultinomialLogitCV

__all__ = ["plot_coefficient_path", "plot_cv_curve"]

FloatArray = NDArray[np.float64]

#: line styles of the two chosen alphas (``alpha_`` and ``alpha_1se_``)
_CHOSEN_STYLES: tuple[dict[str, Any], ...] = (
    {"color": "0.2", "linestyle": ":"},
    {"color": "0.2", "linestyle": "--"},
)


def _log_alphas(alphas: Any) -> FloatArray:
    values = np.asarray(alphas, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(values > 0):
        raise InvalidInputError(
            "the path's alphas must be a non-empty 1-d array of positive values"
        )
    return np.log(values)


def _nonzero_axis(ax: Axes, log_alpha: FloatArray, n_nonzero: Any, n_ticks: int = 6) -> None:
    """A top axis labelling some alphas with the number of nonzero features there."""
    counts = np.asarray(n_nonzero).astype(np.int64)
    top = ax.secondary_xaxis("top")
    picks = np.unique(np.linspace(0, log_alpha.size - 1, min(n_ticks, log_alpha.size)).round())
    positions = picks.astype(np.intp)
    top.set_xticks(log_alpha[positions], [str(int(counts[i])) for i in positions])
    top.set_xlabel("features with a nonzero coefficient", fontsize="small")
    top.tick_params(labelsize="small")


def _mark_alphas(ax: Axes, marks: Mapping[str, float] | None) -> None:
    """Vertical lines at the given alphas, labelled in the legend."""
    for i, (label, value) in enumerate((marks or {}).items()):
        if not value > 0:
            raise InvalidInputError(f"mark {label!r}: alpha must be positive, got {value}")
        style = _CHOSEN_STYLES[i % len(_CHOSEN_STYLES)]
        ax.axvline(np.log(value), label=f"{label} = {value:.3g}", linewidth=1.2, **style)


def _labelled(ends: FloatArray, n_labels: int) -> NDArray[np.intp]:
    """Positions of the ``n_labels`` largest nonzero ``|ends|``."""
    if n_labels <= 0 or ends.size == 0:
        return np.empty(0, dtype=np.intp)
    order = np.argsort(-np.abs(ends), kind="stable")[:n_labels]
    return order[np.abs(ends[order]) > 0]


def _label_margin(ax: Axes, labels: list[str], span: float) -> float:
    """The room left of the lines, in x units, that the longest label needs.

    Estimated from the label's length in characters, the x-small font size and the axes'
    width in inches (at most 45% of the axes), so that labels stay off the tick labels.
    """
    if not labels:
        return 0.0
    size = FontProperties(size="x-small").get_size_in_points()
    root = ax.get_figure(root=True)
    dpi = root.dpi if root is not None else 100.0
    width = ax.get_window_extent().width / dpi  # inches, also inside a subfigure
    text = max(len(label) for label in labels) * 0.6 * size / 72 + 0.15  # inches
    share = min(0.45, max(0.12, text / width))
    return span * share / (1.0 - share)


def _label_ends(
    ax: Axes,
    x_end: float,
    ends: FloatArray,
    names: list[str],
    colors: list[Any],
    n_labels: int,
) -> None:
    """Label the ``n_labels`` largest coefficients at the path's end (smallest alpha).

    Labels are spread vertically so that they never overlap: sorted by their end value,
    each is placed at least 4.5% of the axis height above the previous one.
    """
    order = _labelled(ends, n_labels)
    if order.size == 0:
        return
    lo, hi = ax.get_ylim()
    gap = 0.045 * (hi - lo)
    placed = order[np.argsort(ends[order], kind="stable")]
    ys = ends[placed].astype(np.float64).copy()
    for i in range(1, ys.size):
        ys[i] = max(ys[i], ys[i - 1] + gap)
    shift = max(0.0, ys[-1] - hi + gap / 2) if ys.size else 0.0
    ys -= shift
    for j, y in zip(placed, ys, strict=True):
        ax.annotate(
            names[j],
            xy=(x_end, ends[j]),
            xytext=(x_end - 0.015 * (ax.get_xlim()[1] - ax.get_xlim()[0]), y),
            textcoords="data",
            ha="right",
            va="center",
            fontsize="x-small",
            color=colors[j],
            arrowprops={"arrowstyle": "-", "color": colors[j], "linewidth": 0.5},
        )


def plot_coefficient_path(
    path: RegularizationPath,
    ax: Axes | None = None,
    *,
    classes: Sequence[Any] | None = None,
    n_labels: int = 8,
    mark: Mapping[str, float] | None = None,
) -> Axes:
    """The coefficients along a regularization path, against ``log(alpha)``.

    One line per (class, feature) pair whose coefficient is nonzero somewhere on the path,
    coloured by class (:func:`~mnlogit.plotting.class_colors`, the same colours as every
    other plot); the symmetric form's coefficients, on the features' original scale, as
    :func:`mnlogit.regularization_path` returns them. The largest alpha (everything zero)
    is on the right, the smallest on the left, as glmnet draws it; a top axis gives the
    number of features with a nonzero coefficient in any class (glmnet's ``df``).

    Parameters
    ----------
    path : RegularizationPath
        ``path.coef`` of shape (L, K, p) along ``path.alphas`` of shape (L,).
    ax : Axes, optional
    classes : sequence of labels, optional
        Draw only these classes (default all).
    n_labels : int, default=8
        Label this many lines, the largest in absolute value at the smallest alpha, with
        ``"class: feature"`` at their left end (0: none).
    mark : mapping of str to float, optional
        Alphas to mark with vertical lines, by label (say ``{"alpha_": cv.alpha_}``).

    Returns
    -------
    Axes
        ``ax.lines`` holds the coefficient lines first (x = ``log(alpha)``, y = the
        coefficient), in class-major order over the drawn pairs, then the marks; each
        coefficient line's ``gid`` is ``"<class>: <feature>"``.
    """
    log_alpha = _log_alphas(path.alphas)
    coef = np.asarray(path.coef, dtype=np.float64)
    all_classes = np.asarray(path.classes)
    L = log_alpha.size
    if coef.ndim != 3 or coef.shape[0] != L or coef.shape[1] != all_classes.size:
        raise InvalidInputError(
            f"path.coef has shape {coef.shape}; expected ({L}, {all_classes.size}, p)"
        )
    shown = (
        list(range(all_classes.size))
        if classes is None
        else [int(k) for k in class_codes(all_classes, np.asarray(list(classes)))]
    )
    features = list(path.feature_names)
    colors_k = class_colors(all_classes.size)
    ax = new_axes(ax, (7.2, 4.8))
    names: list[str] = []
    colors: list[Any] = []
    ends: list[float] = []
    end = int(np.argmin(log_alpha))
    for k in shown:
        for j, feature in enumerate(features):
            values = coef[:, k, j]
            if not np.any(values != 0):
                continue
            name = f"{label_text(all_classes[k])}: {feature}"
            ax.plot(log_alpha, values, color=colors_k[k], linewidth=1.0, gid=name)
            names.append(name)
            colors.append(colors_k[k])
            ends.append(float(values[end]))
    ax.axhline(0.0, **REFERENCE_LINE)
    lo, hi = float(log_alpha.min()), float(log_alpha.max())
    if hi == lo:  # a one-alpha path
        lo, hi = lo - 0.5, hi + 0.5
    # labels sit left of the smallest alpha, in a margin kept free of lines
    labelled = [names[i] for i in _labelled(np.asarray(ends), n_labels)]
    ax.set_xlim(lo - _label_margin(ax, labelled, hi - lo), hi)
    _label_ends(ax, float(log_alpha[end]), np.asarray(ends), names, colors, n_labels)
    _mark_alphas(ax, mark)
    for k in shown:  # one legend entry per class, drawn outside the data
        ax.plot([], [], color=colors_k[k], label=label_text(all_classes[k]))
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    _nonzero_axis(ax, log_alpha, path.n_nonzero)
    ax.set_xlabel("log(alpha)")
    ax.set_ylabel("coefficient (symmetric form)")
    if not names:
        ax.set_title("every penalized coefficient is zero on this path", fontsize="medium")
    else:
        ax.set_title(f"{path.penalty} path, {len(names)} nonzero lines", fontsize="medium")
    return ax


def plot_cv_curve(cv_model: MultinomialLogitCV, ax: Axes | None = None) -> Axes:
    """The cross-validated score along the alpha grid, with the two chosen alphas.

    The mean score over folds at each alpha with error bars of one standard error
    (``cv_mean_ ± cv_se_``, glmnet's ``cvm ± cvsd``), against ``log(alpha)``; dotted
    and dashed vertical lines at ``alpha_`` (the best mean score) and ``alpha_1se_``
    (the largest alpha within one standard error of it); a top axis with the number of
    nonzero features of the full-data path.

    Parameters
    ----------
    cv_model : fitted MultinomialLogitCV
    ax : Axes, optional

    Returns
    -------
    Axes
        ``ax.containers[0]`` is the error-bar set (its marker line holds
        ``(log(alphas_), cv_mean_)``); ``ax.lines`` ends with the two vertical lines
        (``alpha_``, then ``alpha_1se_``).
    """
    if not hasattr(cv_model, "cv_mean_"):
        raise InvalidInputError("plot_cv_curve needs a fitted MultinomialLogitCV (call fit first)")
    log_alpha = _log_alphas(cv_model.alphas_)
    mean = np.asarray(cv_model.cv_mean_, dtype=np.float64)
    se = np.asarray(cv_model.cv_se_, dtype=np.float64)
    ax = new_axes(ax, (7.2, 4.8))
    ax.errorbar(
        log_alpha,
        mean,
        yerr=se,
        fmt="o",
        markersize=3.5,
        color="tab:red",
        ecolor="0.6",
        elinewidth=1.0,
        capsize=1.5,
        label="mean ± 1 SE over folds",
    )
    _mark_alphas(ax, {"alpha_": cv_model.alpha_, "alpha_1se_": cv_model.alpha_1se_})
    ax.legend(fontsize="small", frameon=False)
    _nonzero_axis(ax, log_alpha, cv_model.path_.n_nonzero)
    ax.set_xlabel("log(alpha)")
    n_folds = int(np.asarray(cv_model.cv_scores_).shape[0])
    ax.set_ylabel(f"{cv_model.score_name_} ({n_folds}-fold CV)")
    ax.set_title(
        f"alpha_ = {cv_model.alpha_:.3g}, alpha_1se_ = {cv_model.alpha_1se_:.3g} "
        f"(selected: {cv_model.select})",
        fontsize="medium",
    )
    return ax
