"""mnlogit.plotting: each plot draws the model's own numbers, on the right grid."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from matplotlib.axes import Axes
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.datasets import load_anes96
from mnlogit.exceptions import InvalidInputError, PenalizedInferenceWarning
from mnlogit.plotting import (
    class_colors,
    plot_calibration,
    plot_coefficients,
    plot_confusion_matrix,
    plot_decision_regions,
    plot_log_odds,
    plot_predicted_probabilities,
    plot_probability_surface,
    plot_softmax,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ANES_FEATURES = ["logpopul", "selfLR", "age", "educ", "income"]


# ---------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def synth() -> tuple[np.ndarray, np.ndarray, MultinomialLogit]:
    X, y, _ = make_data(n=300, p=3, K=3, seed=3)
    return X, y, MultinomialLogit().fit(X, y)


@pytest.fixture(scope="module")
def anes() -> tuple[pd.DataFrame, pd.Series, MultinomialLogit]:
    data = load_anes96()
    X, y = data[ANES_FEATURES], data["PID"]
    return X, y, MultinomialLogit().fit(X, y)


def save_png(ax: Axes, tmp_path: Path, name: str) -> Path:
    """Render the figure to a PNG and check that the file is one."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 2000
    return path


def grid_rows(base: np.ndarray, columns: dict[int, np.ndarray]) -> np.ndarray:
    m = len(next(iter(columns.values())))
    rows = np.tile(base, (m, 1))
    for j, v in columns.items():
        rows[:, j] = v
    return rows


def padded_grid(col: np.ndarray, n: int) -> np.ndarray:
    lo, hi = col.min(), col.max()
    return np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), n)


def labelled_lines(ax: Axes) -> dict[str, Any]:
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def band_bounds(poly: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a fill_between polygon at each x."""
    verts = poly.get_paths()[0].vertices
    lower = np.array([verts[np.isclose(verts[:, 0], xi), 1].min() for xi in x])
    upper = np.array([verts[np.isclose(verts[:, 0], xi), 1].max() for xi in x])
    return lower, upper


# ---------------------------------------------------------------------- softmax
def test_softmax_curves_are_probabilities_summing_to_one(tmp_path: Path) -> None:
    eta = np.array([0.5, -1.0, 2.0, 0.0])
    ax = plot_softmax(eta, vary=1, span=3.0, n_points=61, labels=list("abcd"))
    assert isinstance(ax, Axes)
    assert isinstance(ax.figure, Figure)
    lines = labelled_lines(ax)
    t = lines["P(a)"].get_xdata()
    np.testing.assert_allclose(t, np.linspace(-4.0, 2.0, 61))
    E = np.tile(eta, (61, 1))
    E[:, 1] = t
    expected = np.exp(E) / np.exp(E).sum(axis=1, keepdims=True)
    curves = np.column_stack([lines[f"P({c})"].get_ydata() for c in "abcd"])
    np.testing.assert_allclose(curves, expected, rtol=1e-12)
    np.testing.assert_allclose(lines["sum"].get_ydata(), 1.0, rtol=1e-12)
    # P(b) rises with its own predictor, the others fall.
    assert np.all(np.diff(curves[:, 1]) > 0)
    assert np.all(np.diff(curves[:, [0, 2, 3]], axis=0) < 0)
    save_png(ax, tmp_path, "softmax")


def test_softmax_bars_show_eta_and_probabilities(tmp_path: Path) -> None:
    eta = np.array([2.0, 0.5, -1.0])
    ax = plot_softmax(eta, kind="bars")
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, eta)
    twin = next(a for a in ax.figure.axes if a is not ax)
    prob = np.array([p.get_height() for p in twin.patches])
    np.testing.assert_allclose(prob, np.exp(eta) / np.exp(eta).sum())
    assert prob.sum() == pytest.approx(1.0)
    # The zero lines of both axes coincide, so all bars share one baseline.
    lo, hi = ax.get_ylim()
    tlo, thi = twin.get_ylim()
    assert -lo / (hi - lo) == pytest.approx(-tlo / (thi - tlo))
    save_png(ax, tmp_path, "softmax_bars")


def test_softmax_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        plot_softmax([1.0])
    with pytest.raises(InvalidInputError):
        plot_softmax([1.0, 2.0], vary=2)
    with pytest.raises(InvalidInputError):
        plot_softmax([1.0, 2.0], kind="pie")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- decision regions
def test_decision_regions_image_is_predict_on_the_grid(synth: Any, tmp_path: Path) -> None:
    X, y, model = synth
    ax = plot_decision_regions(model, X, features=("x0", 2), resolution=40, scatter_y=y)
    (image,) = ax.images
    assert isinstance(image, AxesImage)
    codes = np.asarray(image.get_array())
    assert codes.shape == (40, 40)
    xs, ys = padded_grid(X[:, 0], 40), padded_grid(X[:, 2], 40)
    gx, gy = np.meshgrid(xs, ys)
    rows = grid_rows(X.mean(axis=0), {0: gx.ravel(), 2: gy.ravel()})
    expected = model.predict(rows).reshape(40, 40)
    np.testing.assert_array_equal(model.classes_[codes], expected)
    assert len(np.unique(codes)) == 3  # every class wins somewhere on this grid
    # Row i of the array is drawn at ys[i] (origin "lower"), column j at xs[j]: the
    # pixel centres are the grid points.
    assert image.origin == "lower"
    left, right, bottom, top = image.get_extent()
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    assert (left + dx / 2, right - dx / 2) == pytest.approx((xs[0], xs[-1]))
    assert (bottom + dy / 2, top - dy / 2) == pytest.approx((ys[0], ys[-1]))
    assert ax.get_xlabel() == "x0" and ax.get_ylabel() == "x2"
    # The scatter shows the rows, coloured by their true class.
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), X[:, [0, 2]])
    np.testing.assert_allclose(points.get_facecolors(), np.asarray(class_colors(3))[y])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    save_png(ax, tmp_path, "decision_regions")


def test_decision_regions_data_frame_with_at(anes: Any, tmp_path: Path) -> None:
    X, _y, model = anes
    ax = plot_decision_regions(
        model, X, features=("selfLR", "age"), resolution=30, at={"income": 20}
    )
    codes = np.asarray(ax.images[0].get_array())
    xs, ys = padded_grid(X["selfLR"].to_numpy(), 30), padded_grid(X["age"].to_numpy(), 30)
    gx, gy = np.meshgrid(xs, ys)
    base = X.mean().to_numpy(copy=True)
    base[ANES_FEATURES.index("income")] = 20
    rows = pd.DataFrame(grid_rows(base, {1: gx.ravel(), 2: gy.ravel()}), columns=ANES_FEATURES)
    np.testing.assert_array_equal(model.classes_[codes], model.predict(rows).reshape(30, 30))
    assert "income = 20" in ax.get_title()
    save_png(ax, tmp_path, "decision_regions_anes")


# ---------------------------------------------------------------------- probability surface
def test_probability_surface_contours_the_class_probability(synth: Any, tmp_path: Path) -> None:
    X, _y, model = synth
    n = 25
    ax = plot_probability_surface(model, X, features=(0, 1), cls=2, resolution=n)
    (cs,) = [c for c in ax.collections if isinstance(c, QuadContourSet)]
    np.testing.assert_allclose(cs.levels, np.linspace(0, 1, 11))
    xs, ys = padded_grid(X[:, 0], n), padded_grid(X[:, 1], n)
    gx, gy = np.meshgrid(xs, ys)
    rows = grid_rows(X.mean(axis=0), {0: gx.ravel(), 1: gy.ravel()})
    Z = model.predict_proba(rows)[:, 2].reshape(n, n)
    assert cs.zmin == pytest.approx(Z.min()) and cs.zmax == pytest.approx(Z.max())
    # Each interior grid point lies in the filled band that holds its probability.
    paths = cs.get_paths()
    checked = 0
    for i in range(1, n - 1, 3):
        for j in range(1, n - 1, 3):
            z = Z[i, j]
            if np.min(np.abs(cs.levels - z)) < 0.01:
                continue
            band = int(np.searchsorted(cs.levels, z)) - 1
            assert paths[band].contains_point((gx[i, j], gy[i, j]))
            checked += 1
    assert checked > 30
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "P(2)"
    save_png(ax, tmp_path, "probability_surface")


def test_probability_surface_default_class_and_no_colorbar(synth: Any) -> None:
    X, y, model = synth
    ax = plot_probability_surface(model, X, resolution=10, colorbar=False, scatter_y=y)
    assert len(ax.figure.axes) == 1
    assert ax.get_title().startswith(f"P({model.classes_[-1]})")


# ---------------------------------------------------------------------- predicted probabilities
def test_predicted_probabilities_lines_and_bands(synth: Any, tmp_path: Path) -> None:
    X, _y, model = synth
    ax = plot_predicted_probabilities(model, X, "x1", n_points=50)
    lines = labelled_lines(ax)
    assert list(lines) == ["0", "1", "2"]
    x = lines["0"].get_xdata()
    np.testing.assert_allclose(x, np.linspace(X[:, 1].min(), X[:, 1].max(), 50))
    rows = grid_rows(X.mean(axis=0), {1: x})
    P = model.predict_proba(rows)
    curves = np.column_stack([lines[c].get_ydata() for c in "012"])
    np.testing.assert_allclose(curves, P, rtol=1e-12)
    np.testing.assert_allclose(curves.sum(axis=1), 1.0)
    lower, upper = model.predict_interval(rows, alpha=0.05)
    assert len(ax.collections) == 3
    for k, band in enumerate(ax.collections):
        lo, hi = band_bounds(band, x)
        np.testing.assert_allclose(lo, lower[:, k], rtol=1e-10)
        np.testing.assert_allclose(hi, upper[:, k], rtol=1e-10)
        assert np.all(lo < curves[:, k]) and np.all(curves[:, k] < hi)
    save_png(ax, tmp_path, "predicted_probabilities")


def test_predicted_probabilities_data_frame_at_and_alpha(anes: Any, tmp_path: Path) -> None:
    X, _y, model = anes
    ax = plot_predicted_probabilities(
        model, X, "selfLR", at={"age": 30}, alpha=0.1, classes=[0, 6], n_points=20
    )
    lines = labelled_lines(ax)
    assert list(lines) == ["0", "6"]
    x = lines["0"].get_xdata()
    base = X.mean().to_numpy(copy=True)
    base[ANES_FEATURES.index("age")] = 30
    rows = pd.DataFrame(grid_rows(base, {1: x}), columns=ANES_FEATURES)
    P = model.predict_proba(rows)
    np.testing.assert_allclose(lines["6"].get_ydata(), P[:, 6], rtol=1e-12)
    lower, upper = model.predict_interval(rows, alpha=0.1)
    lo, hi = band_bounds(ax.collections[1], x)
    np.testing.assert_allclose(lo, lower[:, 6], rtol=1e-10)
    np.testing.assert_allclose(hi, upper[:, 6], rtol=1e-10)
    assert ax.get_xlabel() == "selfLR"
    assert "90% bands" in ax.get_title()
    save_png(ax, tmp_path, "predicted_probabilities_anes")


def test_predicted_probabilities_without_covariance_skips_bands(synth: Any) -> None:
    X, y, _ = synth
    model = MultinomialLogit(cov_type=None).fit(X, y)
    ax = plot_predicted_probabilities(model, X, 0, n_points=10)
    assert len(ax.get_lines()) == 3
    assert len(ax.collections) == 0
    ax = plot_predicted_probabilities(model, X, 0, bands=False, grid=[-1.0, 0.0, 1.0])
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [-1.0, 0.0, 1.0])


def test_categorical_feature_of_a_formula_model(tmp_path: Path) -> None:
    data = load_anes96()
    data["educ_c"] = pd.Categorical(
        np.where(data["educ"] <= 3, "low", np.where(data["educ"] <= 5, "mid", "high")),
        categories=["low", "mid", "high"],
    )
    model = MultinomialLogit(formula="vote ~ selfLR + age + C(educ_c)").fit(data)
    ax = plot_predicted_probabilities(model, data, "educ_c")
    lines = labelled_lines(ax)
    # points at the levels, the classes side by side, no line joining the levels
    centre = (lines["0"].get_xdata() + lines["1"].get_xdata()) / 2
    np.testing.assert_allclose(centre, [0, 1, 2], atol=1e-12)
    assert np.all(lines["0"].get_xdata() < lines["1"].get_xdata())
    assert all(ln.get_linestyle() == "None" for ln in lines.values())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["low", "mid", "high"]
    rows = pd.concat([data.iloc[:1]] * 3, ignore_index=True)
    for col in data.columns:
        if col != "educ_c":
            rows[col] = data[col].mean()
    rows["educ_c"] = pd.Categorical(["low", "mid", "high"], categories=["low", "mid", "high"])
    np.testing.assert_allclose(lines["1"].get_ydata(), model.predict_proba(rows)[:, 1])
    save_png(ax, tmp_path, "predicted_probabilities_categorical")
    ax = plot_log_odds(model, data, "selfLR", at={"educ_c": "high"})
    assert len(labelled_lines(ax)) == 1


@pytest.mark.filterwarnings("ignore::mnlogit.exceptions.PenalizedInferenceWarning")
def test_numeric_column_in_C_is_held_at_its_most_frequent_level(tmp_path: Path) -> None:
    """The README's example: C(educ) on an integer column. educ is held at its mode (never
    at its mean, 4.57, which is no level), and plotting along it draws its seven levels."""
    data = load_anes96()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(formula="PID ~ selfLR + age + C(educ)", penalty="l2").fit(data)
    ax = plot_predicted_probabilities(model, data, "selfLR", n_points=7)
    lines = labelled_lines(ax)
    grid = np.linspace(data["selfLR"].min(), data["selfLR"].max(), 7)
    rows = pd.DataFrame(
        {
            "selfLR": grid,
            "age": data["age"].mean(),
            "educ": int(data["educ"].value_counts().idxmax()),
            "PID": 0,
        }
    )
    expected = model.predict_proba(rows)
    for k, cls in enumerate(model.classes_):
        np.testing.assert_allclose(lines[str(cls)].get_ydata(), expected[:, k], rtol=1e-12)
    assert "most frequent level" in ax.get_title()
    save_png(ax, tmp_path, "predicted_probabilities_C_educ_numeric")
    ax = plot_predicted_probabilities(model, data, "educ")
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in range(1, 8)]
    assert all(ln.get_linestyle() == "None" for ln in labelled_lines(ax).values())
    assert len(ax.collections) > 0  # error bars
    save_png(ax, tmp_path, "predicted_probabilities_along_C_educ")
    ax = plot_log_odds(model, data, "educ")
    assert len(labelled_lines(ax)) == model.classes_.size - 1
    with pytest.raises(InvalidInputError, match="'educ' is categorical"):
        plot_decision_regions(model, data, ("selfLR", "educ"))


# ---------------------------------------------------------------------- log odds
def test_log_odds_are_linear_predictor_differences(anes: Any, tmp_path: Path) -> None:
    X, _y, model = anes
    ax = plot_log_odds(model, X, "selfLR", n_points=40)
    lines = labelled_lines(ax)
    assert list(lines) == [str(c) for c in model.classes_[1:]]
    x = lines["1"].get_xdata()
    rows = pd.DataFrame(grid_rows(X.mean().to_numpy(), {1: x}), columns=ANES_FEATURES)
    eta = model.linear_predictor(rows)
    j = ANES_FEATURES.index("selfLR")
    for k, cls in enumerate(model.classes_):
        if k == 0:
            continue
        curve = lines[str(cls)].get_ydata()
        np.testing.assert_allclose(curve, eta[:, k] - eta[:, 0], rtol=1e-12, atol=1e-12)
        # A straight line whose slope is the coefficient difference.
        slope = np.diff(curve) / np.diff(x)
        np.testing.assert_allclose(slope, model.coef_[k, j] - model.coef_[0, j], rtol=1e-8)
    assert ax.get_ylabel() == "log odds against 0"
    save_png(ax, tmp_path, "log_odds")


def test_log_odds_against_another_reference(synth: Any) -> None:
    X, _y, model = synth
    ax = plot_log_odds(model, X, 2, reference=1, n_points=5)
    lines = labelled_lines(ax)
    assert list(lines) == ["0", "2"]
    x = lines["0"].get_xdata()
    eta = model.linear_predictor(grid_rows(X.mean(axis=0), {2: x}))
    np.testing.assert_allclose(lines["0"].get_ydata(), eta[:, 0] - eta[:, 1], atol=1e-12)
    np.testing.assert_allclose(lines["2"].get_ydata(), eta[:, 2] - eta[:, 1], atol=1e-12)


def test_log_odds_bands_are_normal_intervals_of_the_difference(synth: Any, tmp_path: Path) -> None:
    X, _y, model = synth
    ax = plot_log_odds(model, X, 0, reference=2, n_points=7, alpha=0.1)
    lines = labelled_lines(ax)
    x = lines["0"].get_xdata()
    rows = grid_rows(X.mean(axis=0), {0: x})
    eta = model.linear_predictor(rows)
    # The variance of eta_k - eta_r written out from cov_params (reference class 0,
    # whose coefficients are fixed at zero), independent of log_odds_se.
    V = model.cov_params().to_numpy()
    p1 = X.shape[1] + 1
    xt = np.column_stack([np.ones(len(x)), rows])
    z = 1.6448536269514722
    assert len(ax.collections) == 2
    for poly, k in zip(ax.collections, (0, 1), strict=True):
        g = np.zeros((len(x), V.shape[0]))
        if k == 1:
            g[:, :p1] = xt  # class 1 block
        g[:, p1:] -= xt  # minus class 2 block
        se = np.sqrt(np.einsum("ia,ab,ib->i", g, V, g))
        odds = eta[:, k] - eta[:, 2]
        verts = poly.get_paths()[0].vertices
        assert np.isclose(verts[:, 1].min(), (odds - z * se).min())
        assert np.isclose(verts[:, 1].max(), (odds + z * se).max())
    assert "90% bands" in ax.get_title()
    assert not plot_log_odds(model, X, 0, bands=False, n_points=5).collections
    save_png(ax, tmp_path, "log_odds_bands")


# ---------------------------------------------------------------------- coefficients
def forest_points(ax: Axes) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(estimates, interval lower, interval upper) of each class's error-bar set."""
    out = []
    for container in ax.containers:
        line = container.lines[0]
        x = np.asarray(line.get_xdata(), dtype=float)
        if container.has_xerr:
            segs = container.lines[2][0].get_segments()
            lo = np.array([s[0][0] for s in segs])
            hi = np.array([s[1][0] for s in segs])
        else:
            lo = hi = np.full_like(x, np.nan)
        out.append((x, lo, hi))
    return out


def test_coefficient_forest_plot_shows_coef_table(anes: Any, tmp_path: Path) -> None:
    _X, _y, model = anes
    ax = plot_coefficients(model, alpha=0.1)
    table = model.coef_table(alpha=0.1).drop(index="Intercept", level="term")
    points = forest_points(ax)
    assert len(points) == 6
    for (x, lo, hi), cls in zip(points, model.classes_[1:], strict=True):
        block = table.xs(cls, level="class")
        np.testing.assert_allclose(x, block["coef"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(lo, block["ci_lower"].to_numpy(), rtol=1e-10)
        np.testing.assert_allclose(hi, block["ci_upper"].to_numpy(), rtol=1e-10)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:6] == ["1 vs 0", *ANES_FEATURES]
    assert "Intercept" not in labels
    assert ax.get_xscale() == "linear"
    save_png(ax, tmp_path, "coefficients")


def test_coefficient_forest_plot_relative_risk_ratios(synth: Any, tmp_path: Path) -> None:
    _X, _y, model = synth
    ax = plot_coefficients(model, exponentiate=True, include_intercept=True)
    table = model.coef_table(exponentiate=True)
    x = np.concatenate([p[0] for p in forest_points(ax)])
    np.testing.assert_allclose(x, table["rrr"].to_numpy(), rtol=1e-12)
    assert ax.get_xscale() == "log"
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert vlines and np.allclose(vlines[0].get_xdata(), 1.0)
    assert "Intercept" in [t.get_text() for t in ax.get_yticklabels()]
    save_png(ax, tmp_path, "coefficients_rrr")


def test_coefficient_forest_plot_without_covariance_and_terms(synth: Any) -> None:
    X, y, _ = synth
    model = MultinomialLogit(cov_type=None).fit(X, y)
    ax = plot_coefficients(model, terms=["x2"])
    points = forest_points(ax)
    np.testing.assert_allclose([p[0][0] for p in points], model.coef_[1:, 2])
    assert all(np.isnan(p[1]).all() for p in points)
    with pytest.raises(InvalidInputError, match="not in the model"):
        plot_coefficients(model, terms=["nope"])


# ---------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_texts_are_sklearn_counts(anes: Any, tmp_path: Path) -> None:
    X, y, model = anes
    ax = plot_confusion_matrix(model, X, y)
    cm = confusion_matrix(y, model.predict(X), labels=model.classes_)
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in cm.ravel()]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    save_png(ax, tmp_path, "confusion_matrix")


def test_confusion_matrix_normalized(synth: Any) -> None:
    X, y, model = synth
    ax = plot_confusion_matrix(model, X, y, normalize="true", colorbar=False)
    cm = confusion_matrix(y, model.predict(X), labels=model.classes_, normalize="true")
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in cm.ravel()]
    assert len(ax.figure.axes) == 1


# ---------------------------------------------------------------------- calibration
def test_calibration_curves_are_sklearns(anes: Any, tmp_path: Path) -> None:
    X, y, model = anes
    ax = plot_calibration(model, X, y, n_bins=8)
    lines = labelled_lines(ax)
    np.testing.assert_allclose(lines["perfectly calibrated"].get_xydata(), [[0, 0], [1, 1]])
    P = model.predict_proba(X)
    for k, cls in enumerate(model.classes_):
        frac, mean_pred = calibration_curve(y == cls, P[:, k], n_bins=8)
        np.testing.assert_allclose(lines[str(cls)].get_xdata(), mean_pred)
        np.testing.assert_allclose(lines[str(cls)].get_ydata(), frac)
    save_png(ax, tmp_path, "calibration")


def test_calibration_quantile_bins_and_class_subset(synth: Any) -> None:
    X, y, model = synth
    ax = plot_calibration(model, X, y, n_bins=5, strategy="quantile", classes=[2])
    lines = labelled_lines(ax)
    assert list(lines) == ["perfectly calibrated", "2"]
    frac, _ = calibration_curve(y == 2, model.predict_proba(X)[:, 2], n_bins=5, strategy="quantile")
    np.testing.assert_allclose(lines["2"].get_ydata(), frac)


# ---------------------------------------------------------------------- common behaviour
def test_draws_on_a_given_axes_without_pyplot(synth: Any) -> None:
    X, _y, model = synth
    plt.close("all")
    fig = Figure()
    ax0, ax1 = fig.subplots(1, 2)
    assert plot_predicted_probabilities(model, X, 0, ax=ax0, n_points=5) is ax0
    assert plot_log_odds(model, X, 0, ax=ax1, n_points=5) is ax1
    assert plot_softmax() is not ax0
    assert plt.get_fignums() == []  # nothing was registered with pyplot


def test_features_by_position_and_name_agree(synth: Any) -> None:
    X, _y, model = synth
    a = plot_predicted_probabilities(model, X, 2, n_points=7, bands=False)
    b = plot_predicted_probabilities(model, X, "x2", n_points=7, bands=False)
    np.testing.assert_array_equal(a.get_lines()[1].get_ydata(), b.get_lines()[1].get_ydata())


def test_bad_arguments_raise(synth: Any) -> None:
    X, y, model = synth
    with pytest.raises(InvalidInputError, match="not found"):
        plot_log_odds(model, X, "age")
    with pytest.raises(InvalidInputError, match="out of range"):
        plot_log_odds(model, X, 7)
    with pytest.raises(InvalidInputError, match="varied"):
        plot_log_odds(model, X, 0, at={"x0": 1.0})
    with pytest.raises(InvalidInputError, match="two different"):
        plot_decision_regions(model, X, features=(1, "x1"))
    with pytest.raises(InvalidInputError, match="not classes"):
        plot_decision_regions(model, X, resolution=5, scatter_y=y + 5)
    with pytest.raises(InvalidInputError, match="not classes"):
        plot_probability_surface(model, X, cls="z", resolution=5)


def test_bare_arrays_for_a_model_with_feature_names(tmp_path: Path) -> None:
    # The worked example of docs/api.md: no covariance, feature names, bare-array data.
    model = MultinomialLogit.from_coefficients(
        ["low", "medium", "high"],
        [0.5, 1.2],
        [[0.1, -0.05], [0.15, -0.08]],
        reference="low",
        feature_names=["age", "income"],
    )
    X = np.column_stack([np.linspace(18, 80, 30), np.linspace(10, 100, 30)[::-1]])
    labels = model.predict(pd.DataFrame(X, columns=["age", "income"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        ax = plot_predicted_probabilities(model, X, "age", at={"income": 30}, grid=[25, 40])
        plot_decision_regions(model, X, features=("age", "income"), resolution=10)
        plot_confusion_matrix(model, X, labels)
        coef_ax = plot_coefficients(model)
    lines = labelled_lines(ax)
    np.testing.assert_allclose(lines["high"].get_ydata()[0], 0.700, atol=5e-4)  # api.md
    assert len(ax.collections) == 0  # no covariance, no bands
    estimates = [p[0] for p in forest_points(coef_ax)]
    np.testing.assert_allclose(estimates, [[0.15, -0.08], [0.1, -0.05]])  # high, medium
    save_png(coef_ax, tmp_path, "coefficients_no_cov")


def test_symmetric_form_shows_every_class(synth: Any) -> None:
    X, y, _ = synth
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PenalizedInferenceWarning)
        model = MultinomialLogit(penalty="l2").fit(X, y)
        assert model.reference_ is None
        ax = plot_coefficients(model)
        table = model.coef_table().drop(index="Intercept", level="term")
    x = np.concatenate([p[0] for p in forest_points(ax)])
    np.testing.assert_allclose(x, table["coef"].to_numpy())
    headers = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert headers == ["0", "1", "2"]
    ax = plot_log_odds(model, X, 0, n_points=4)
    assert ax.get_ylabel() == "log odds against 0"


def test_sparse_data(synth: Any) -> None:
    X, y, _ = synth
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    model = MultinomialLogit().fit(Xs, y)
    ax = plot_predicted_probabilities(model, Xs, 1, n_points=6, bands=False)
    dense = Xs.toarray()
    x = np.linspace(dense[:, 1].min(), dense[:, 1].max(), 6)
    expected = model.predict_proba(grid_rows(dense.mean(axis=0), {1: x}))
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), expected[:, 2])


def test_calibration_bins_carry_their_counts_and_legends_sit_off_the_data(synth: Any) -> None:
    X, y, model = synth
    ax = plot_calibration(model, X, y, n_bins=5)
    proba = model.predict_proba(X)
    counts = []
    for k in range(model.classes_.size):
        binned = np.clip(np.searchsorted(np.linspace(0, 1, 6)[1:-1], proba[:, k]), 0, 4)
        total = np.bincount(binned, minlength=5)
        counts += [int(c) for c in total[total > 0]]
    assert [int(t.get_text()) for t in ax.texts] == counts
    assert sum(counts) == model.classes_.size * len(y)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for axes in (ax, plot_decision_regions(model, X, (0, 1), scatter_y=y)):
        FigureCanvasAgg(axes.figure)
        axes.figure.canvas.draw()
        renderer = axes.figure.canvas.get_renderer()
        legend = axes.get_legend().get_window_extent(renderer)
        assert legend.x0 >= axes.get_window_extent(renderer).x1  # beside the axes
