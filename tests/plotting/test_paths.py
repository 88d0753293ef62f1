"""plot_coefficient_path and plot_cv_curve draw the path's and the CV model's own numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogitCV
from mnlogit.exceptions import InvalidInputError
from mnlogit.path import RegularizationPath, regularization_path
from mnlogit.plotting import class_colors, plot_coefficient_path, plot_cv_curve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = make_data(n=160, p=5, K=3, seed=7)
    return X, y


@pytest.fixture(scope="module")
def path(data) -> RegularizationPath:
    X, y = data
    return regularization_path(X, y, n_alphas=15)


@pytest.fixture(scope="module")
def cv_model(data) -> MultinomialLogitCV:
    X, y = data
    return MultinomialLogitCV(n_alphas=15, cv=4).fit(X, y)


def save_png(ax: Axes, tmp_path: Path, name: str) -> Path:
    out = tmp_path / f"{name}.png"
    ax.figure.savefig(out)
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    return out


def coefficient_lines(ax: Axes) -> list:
    return [line for line in ax.lines if line.get_gid()]


def test_path_lines_are_the_path(path, tmp_path):
    ax = plot_coefficient_path(path)
    assert isinstance(ax.figure, Figure)
    lines = coefficient_lines(ax)
    K, p = path.coef.shape[1:]
    drawn = {(k, j) for k in range(K) for j in range(p) if np.any(path.coef[:, k, j] != 0)}
    assert len(lines) == len(drawn) > 0
    colors = class_colors(K)
    for line in lines:
        cls, feature = line.get_gid().split(": ")
        k = list(path.classes.astype(str)).index(cls)
        j = path.feature_names.index(feature)
        x, y = line.get_data()
        assert_allclose(x, np.log(path.alphas))
        assert_allclose(y, path.coef[:, k, j])
        assert line.get_color() == colors[k]
    save_png(ax, tmp_path, "path")


def test_the_largest_coefficients_are_labelled(path):
    ax = plot_coefficient_path(path, n_labels=3)
    labels = sorted(t.get_text() for t in ax.texts)
    end = int(np.argmin(path.alphas))
    K, p = path.coef.shape[1:]
    pairs = sorted(
        ((k, j) for k in range(K) for j in range(p)),
        key=lambda kj: -abs(path.coef[end, kj[0], kj[1]]),
    )[:3]
    expected = sorted(f"{path.classes[k]}: {path.feature_names[j]}" for k, j in pairs)
    assert labels == expected
    assert len(plot_coefficient_path(path, n_labels=0).texts) == 0


def test_path_marks_and_nonzero_axis(path, tmp_path):
    ax = plot_coefficient_path(path, mark={"alpha_": float(path.alphas[5])})
    vertical = [line for line in ax.lines if line.get_label().startswith("alpha_")]
    assert len(vertical) == 1
    assert_allclose(vertical[0].get_xdata(), np.log(path.alphas[5]))
    top = ax.child_axes[0] if ax.child_axes else None
    assert top is not None
    ticks = [int(t.get_text()) for t in top.get_xticklabels()]
    assert set(ticks) <= set(int(c) for c in path.n_nonzero)
    assert ax.get_xlabel() == "log(alpha)"


def test_one_class_only(path):
    cls = path.classes[1]
    ax = plot_coefficient_path(path, classes=[cls])
    assert all(line.get_gid().startswith(f"{cls}: ") for line in coefficient_lines(ax))
    with pytest.raises(InvalidInputError):
        plot_coefficient_path(path, classes=["no such class"])


def test_cv_curve_draws_mean_and_se(cv_model, tmp_path):
    ax = plot_cv_curve(cv_model)
    bars = ax.containers[0]
    x, y = bars.lines[0].get_data()
    assert_allclose(x, np.log(cv_model.alphas_))
    assert_allclose(y, cv_model.cv_mean_)
    # the error bar segments span mean +- se
    segments = bars.lines[2][0].get_segments()
    low = np.array([s[:, 1].min() for s in segments])
    high = np.array([s[:, 1].max() for s in segments])
    assert_allclose(low, cv_model.cv_mean_ - cv_model.cv_se_)
    assert_allclose(high, cv_model.cv_mean_ + cv_model.cv_se_)
    marks = ax.lines[-2:]
    assert_allclose(marks[0].get_xdata(), np.log(cv_model.alpha_))
    assert_allclose(marks[1].get_xdata(), np.log(cv_model.alpha_1se_))
    assert "4-fold" in ax.get_ylabel()
    save_png(ax, tmp_path, "cv")


def test_into_a_given_axes(path, cv_model):
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_coefficient_path(path, ax=left) is left
    assert plot_cv_curve(cv_model, ax=right) is right


def test_unfitted_cv_model_is_refused():
    with pytest.raises(InvalidInputError, match="fitted"):
        plot_cv_curve(MultinomialLogitCV())


def test_a_one_alpha_path(data):
    X, y = data
    one = regularization_path(X, y, alphas=[0.01])
    ax = plot_coefficient_path(one)
    lo, hi = ax.get_xlim()
    assert lo < np.log(0.01) < hi


def test_long_labels_stay_inside_the_axes(data):
    """Labels left of the lines never run over the y tick labels, even when long."""
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    X, y = data
    names = [f"a rather long feature name {j}" for j in range(X.shape[1])]
    path = regularization_path(pd.DataFrame(X, columns=names), y, n_alphas=10)
    ax = plot_coefficient_path(path, n_labels=4)
    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    assert len(ax.texts) == 4
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= inside.x0 - 1 and box.x1 <= inside.x1 + 1, text.get_text()
