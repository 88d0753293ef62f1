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

Modules: :mod:`~mnlogit.plotting.softmax` (the softmax link),
:mod:`~mnlogit.plotting.surfaces` (two predictors: decision regions, probability surface),
:mod:`~mnlogit.plotting.curves` (one predictor: predicted probabilities, log odds),
:mod:`~mnlogit.plotting.coefficients` (forest plot), :mod:`~mnlogit.plotting.diagnostics`
(confusion matrix, calibration), :mod:`~mnlogit.plotting.paths` (regularization path,
cross-validation curve); shared helpers and :func:`class_colors` live in
:mod:`~mnlogit.plotting.grid`.
"""

from __future__ import annotations

from mnlogit.plotting.coefficients import plot_coefficients
from mnlogit.plotting.curves import plot_log_odds, plot_predicted_probabilities
from mnlogit.plotting.diagnostics import plot_calibration, plot_confusion_matrix
from mnlogit.plotting.grid import class_colors
from mnlogit.plotting.paths import plot_coefficient_path, plot_cv_curve
from mnlogit.plotting.softmax import plot_softmax
from mnlogit.plotting.surfaces import plot_decision_regions, plot_probability_surface

__all__ = [
    "class_colors",
    "plot_calibration",
    "plot_coefficient_path",
    "plot_coefficients",
    "plot_confusion_matrix",
    "plot_cv_curve",
    "plot_decision_regions",
    "plot_log_odds",
    "plot_predicted_probabilities",
    "plot_probability_surface",
    "plot_softmax",
]
