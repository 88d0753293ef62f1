"""Issue 17, item 4: a formula model fitted with ``missing="drop"`` predicts, evaluates and
reports on data with missing values; one fitted with the default refuses them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings

import numpy as np
import pandas as pd
import pytest

from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.formula import MissingValuesDropped
from mnlogit.report import render_report

FORMULA = "risk ~ age + income + C(region)"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 300
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.normal(50, 15, n),
            "region": rng.choice(["east", "north", "south"], n),
        }
    )
    eta = np.column_stack([np.zeros(n), -2 + 0.05 * frame["age"], 1 - 0.03 * frame["income"]])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    frame["risk"] = np.array(["low", "medium", "high"])[(u > prob.cumsum(axis=1)).sum(axis=1)]
    frame.loc[[3, 50], "age"] = np.nan
    frame.loc[[7], "region"] = None
    frame.loc[[9], "risk"] = None  # a missing label: predictable, not evaluable
    return frame


@pytest.fixture(scope="module")
def model(data) -> MultinomialLogit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingValuesDropped)
        return MultinomialLogit(formula=FORMULA, missing="drop").fit(data)


def test_predictions_are_nan_for_incomplete_rows(model, data) -> None:
    incomplete = np.zeros(len(data), dtype=bool)
    incomplete[[3, 7, 50]] = True
    with pytest.warns(MissingValuesDropped, match="3 of 300 rows have missing values"):
        proba = model.predict_proba(data)
    assert proba.shape == (300, 3)
    assert np.isnan(proba[incomplete]).all()
    # the other rows are the predictions of the complete rows on their own
    complete = data.loc[~incomplete]
    np.testing.assert_array_equal(proba[~incomplete], model.predict_proba(complete))
    with pytest.warns(MissingValuesDropped):
        labels = model.predict(data)
    assert labels.dtype == object
    assert [labels[i] for i in (3, 7, 50)] == [None, None, None]
    np.testing.assert_array_equal(labels[~incomplete].astype(str), model.predict(complete))
    with pytest.warns(MissingValuesDropped):
        eta = model.linear_predictor(data)
    assert np.isnan(eta[incomplete]).all() and np.isfinite(eta[~incomplete]).all()


def test_a_model_fitted_with_missing_error_refuses_them(data) -> None:
    strict = MultinomialLogit(formula=FORMULA).fit(data.dropna())
    with pytest.raises(InvalidInputError, match="missing values in 3 of 300 rows"):
        strict.predict_proba(data)


def test_evaluation_skips_and_counts_incomplete_rows(model, data) -> None:
    report = model.evaluate(data)
    reference = model.evaluate(data.dropna())
    assert report.n_skipped == 4 and report.n == 296 == reference.n
    assert report.accuracy == reference.accuracy
    assert report.log_loss == reference.log_loss
    assert "Evaluation on 296 rows (4 rows with missing values skipped)" in str(report)
    assert "<td>4</td>" in report._repr_html_()


def test_report_on_data_with_missing_values(model, data) -> None:
    page = render_report(model, data, iia=False)
    assert "4 of 300 rows have missing values in the formula's columns and are skipped" in page
    assert "<p>296 rows, 0 with missing values skipped" not in page
    assert "<p>296 rows. In-sample" in page
    assert "could not be drawn" not in page
