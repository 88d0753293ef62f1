"""Forest plot of the coefficients (or relative risk ratios): :func:`plot_coefficients`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from mnlogit.exceptions import InferenceUnavailableError, InvalidInputError
from mnlogit.plotting.grid import (
    REFERENCE_LINE,
    class_colors,
    joined_names,
    label_text,
    new_axes,
)

if TYPE_CHECKING:
    from mnlogit.estimator import MultinomialLogit
    from mnlogit.fitted import FittedModel


def _point_table(state: FittedModel, exponentiate: bool) -> pd.DataFrame:
    """Estimates only (no covariance), in coef_table's layout, intervals NaN."""
    shown = state.free_classes()
    p1 = state.p1
    values = np.concatenate(
        [state.coefficient_vector()[k * p1 : (k + 1) * p1] for k in shown]
    ).astype(np.float64)
    index = pd.MultiIndex.from_product(
        [list(state.classes[shown]), list(state.term_names)], names=["class", "term"]
    )
    column = "rrr" if exponentiate else "coef"
    nan = np.full(values.size, np.nan)
    return pd.DataFrame(
        {column: np.exp(values) if exponentiate else values, "ci_lower": nan, "ci_upper": nan},
        index=index,
    )


def _selected(table: pd.DataFrame, include_intercept: bool, terms: Any) -> pd.DataFrame:
    """The rows to draw: the intercept only if asked, only ``terms`` when given."""
    term_level = table.index.get_level_values("term")
    keep = np.ones(len(table), dtype=bool)
    if not include_intercept:
        keep &= term_level != "Intercept"
    if terms is not None:
        missing = sorted(set(terms) - set(term_level))
        if missing:
            raise InvalidInputError(
                f"terms {missing} are not in the model ({joined_names(dict.fromkeys(term_level))})"
            )
        keep &= term_level.isin(list(terms))
    table = table[keep]
    if table.empty:
        raise InvalidInputError("no coefficient left to plot")
    return table


def _format_x_axis(ax: Axes, exponentiate: bool) -> None:
    ax.axvline(1.0 if exponentiate else 0.0, **REFERENCE_LINE)
    if exponentiate:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("relative risk ratio (log scale)")
    else:
        ax.set_xlabel("coefficient (log relative-risk ratio)")


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
        table = _point_table(model.fitted_, exponentiate)
        has_ci = False
    column = "rrr" if exponentiate else "coef"
    table = _selected(table, include_intercept, terms)
    all_classes = list(np.asarray(model.classes_))
    colors = class_colors(len(all_classes))
    group_classes = list(dict.fromkeys(table.index.get_level_values("class")))
    n_rows = len(table) + len(group_classes)
    ax = new_axes(ax, (6.4, min(2.0 + 0.26 * n_rows, 40.0)))
    ref = getattr(model, "reference_", None)
    ticks: list[float] = []
    tick_labels: list[str] = []
    headers: list[int] = []
    y = 0.0
    for cls in group_classes:
        block = table.xs(cls, level="class")
        headers.append(len(ticks))
        ticks.append(y)
        tick_labels.append(label_text(cls) if ref is None else f"{cls} vs {ref}")
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
            ax.errorbar(est, pos, xerr=err, fmt="o", color=color, capsize=2, label=label_text(cls))
        else:
            ax.errorbar(est, pos, fmt="o", color=color, label=label_text(cls))
    _format_x_axis(ax, exponentiate)
    ax.set_yticks(ticks, tick_labels)
    for i, text in enumerate(ax.get_yticklabels()):
        if i in headers:
            text.set_fontweight("bold")
    ax.set_ylim(y - 0.5, -0.8)
    interval = f"{100 * (1 - alpha):g}% intervals" if has_ci else "no covariance: no intervals"
    against = f"reference class {label_text(ref)}" if ref is not None else "symmetric form"
    # right-aligned: a title longer than the axes runs left over the (empty) label column
    # instead of past the figure's right edge
    ax.set_title(f"{against}; {interval}", fontsize="medium", loc="right")
    return ax
