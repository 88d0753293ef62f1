"""mnlogit.evaluation: every number of an EvaluationReport is scikit-learn's (or, for the
Brier score, computed here from its definition)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.model_selection import train_test_split

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.evaluation import EvaluationReport, evaluate
from mnlogit.exceptions import InvalidInputError

# The 12-row customer-risk example of the docs.
RISK_DATA = {
    "age": [25, 30, 35, 40, 45, 50, 25, 30, 35, 40, 45, 50],
    "income": [30, 40, 50, 60, 70, 80, 35, 45, 55, 65, 75, 85],
    "risk": ["low"] * 3 + ["medium"] * 5 + ["high"] * 4,
}
RISK_FORMULA = "risk ~ scale(age) + scale(income)"


def brier(proba: np.ndarray, y: Any, classes: np.ndarray) -> float:
    """Multiclass Brier score, mean_i sum_k (P_ik - 1[y_i = k])^2, from its definition."""
    y = np.asarray(y)
    total = 0.0
    for i in range(y.shape[0]):
        for k, c in enumerate(classes):
            total += (proba[i, k] - (1.0 if y[i] == c else 0.0)) ** 2
    return total / y.shape[0]


def check_against_sklearn(report: EvaluationReport, model: Any, X: Any, y: Any) -> None:
    """Compare every field of ``report`` with scikit-learn's metrics on the raw labels."""
    y = np.asarray(y)
    classes = model.classes_
    names = [str(c) for c in classes]
    proba = model.predict_proba(X)
    pred = model.predict(X)
    labels = list(classes)

    assert isinstance(report, EvaluationReport)
    assert report.n == y.shape[0]
    assert report.accuracy == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert report.log_loss == pytest.approx(log_loss(y, proba, labels=labels), rel=1e-10)
    assert report.brier == pytest.approx(brier(proba, y, classes), rel=1e-10)
    assert 0.0 <= report.brier <= 2.0

    # per class
    prec, rec, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0.0
    )
    assert list(report.per_class.columns) == ["precision", "recall", "f1", "support"]
    assert list(report.per_class.index) == [*names, "macro avg", "weighted avg"]
    body = report.per_class.loc[names]
    np.testing.assert_allclose(body["precision"].to_numpy(), prec, atol=1e-12)
    np.testing.assert_allclose(body["recall"].to_numpy(), rec, atol=1e-12)
    np.testing.assert_allclose(body["f1"].to_numpy(), f1, atol=1e-12)
    np.testing.assert_array_equal(body["support"].to_numpy(), support)
    assert pd.api.types.is_integer_dtype(report.per_class["support"])
    for avg in ("macro", "weighted"):
        p_, r_, f_, _ = precision_recall_fscore_support(
            y, pred, labels=labels, average=avg, zero_division=0.0
        )
        row = report.per_class.loc[f"{avg} avg"]
        assert row["precision"] == pytest.approx(p_, abs=1e-12)
        assert row["recall"] == pytest.approx(r_, abs=1e-12)
        assert row["f1"] == pytest.approx(f_, abs=1e-12)
        assert row["support"] == y.shape[0]

    # confusion: rows true, columns predicted, in the order of classes_
    expected = confusion_matrix(y, pred, labels=labels)
    np.testing.assert_array_equal(report.confusion.to_numpy(), expected)
    assert list(report.confusion.index) == names
    assert list(report.confusion.columns) == names
    assert report.confusion.index.name == "true"
    assert report.confusion.columns.name == "predicted"
    assert int(report.confusion.to_numpy().sum()) == y.shape[0]


# ---------------------------------------------------------------------- array and frame models
@pytest.fixture(scope="module")
def array_case() -> tuple[MultinomialLogit, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y, _ = make_data(n=400, p=3, K=4, seed=11)
    model = MultinomialLogit().fit(X[:300], y[:300])
    return model, X[:300], y[:300], X[300:], y[300:]


def test_evaluate_array_model_on_held_out_rows_matches_sklearn(array_case) -> None:
    model, _, _, X_test, y_test = array_case
    report = model.evaluate(X_test, y_test)
    check_against_sklearn(report, model, X_test, y_test)
    assert report.accuracy == pytest.approx(model.score(X_test, y_test), abs=1e-12)


def test_evaluate_function_and_method_agree(array_case) -> None:
    model, X, y, _, _ = array_case
    a = model.evaluate(X, y)
    b = evaluate(model, X, y)
    assert (a.n, a.accuracy, a.log_loss, a.brier) == (b.n, b.accuracy, b.log_loss, b.brier)
    pd.testing.assert_frame_equal(a.per_class, b.per_class)
    pd.testing.assert_frame_equal(a.confusion, b.confusion)
    check_against_sklearn(a, model, X, y)


def test_log_loss_is_mean_negative_loglik_on_training_rows(array_case) -> None:
    """On the training rows of an unweighted, unpenalized fit the log loss is -loglik/n."""
    model, X, y, _, _ = array_case
    report = model.evaluate(X, y)
    assert report.log_loss == pytest.approx(-model.loglik_ / y.shape[0], rel=1e-10)


def test_string_labels_dataframe_model_and_list_y() -> None:
    X, codes, _ = make_data(n=250, p=2, K=3, seed=5)
    names = np.array(["cat", "dog", "emu"])
    frame = pd.DataFrame(X, columns=["height", "weight"])
    y = names[codes]
    model = MultinomialLogit().fit(frame, y)
    report = model.evaluate(frame, list(y))
    check_against_sklearn(report, model, frame, y)
    # a pandas Series with a non-default index is fine too
    series = pd.Series(y, index=np.arange(1000, 1000 + y.size))
    report2 = model.evaluate(frame, series)
    assert report2.accuracy == report.accuracy
    assert report2.log_loss == report.log_loss


def test_categorical_y_and_integer_labels() -> None:
    X, codes, _ = make_data(n=200, p=2, K=3, seed=8)
    labels = np.array([10, 20, 30])[codes]
    model = MultinomialLogit().fit(X, labels)
    report = model.evaluate(X, pd.Series(pd.Categorical(labels)))
    check_against_sklearn(report, model, X, labels)
    assert list(report.confusion.index) == ["10", "20", "30"]


def test_a_class_absent_from_the_evaluation_rows(array_case) -> None:
    """Rows of only some classes: the other rows of the tables are there, with support 0."""
    model, X, y, _, _ = array_case
    keep = y != model.classes_[0]
    report = model.evaluate(X[keep], y[keep])
    check_against_sklearn(report, model, X[keep], y[keep])
    first = str(model.classes_[0])
    assert report.per_class.loc[first, "support"] == 0
    assert report.confusion.loc[first].sum() == 0
    assert report.confusion.shape == (model.classes_.size, model.classes_.size)


def test_perfect_and_worst_brier_bounds() -> None:
    """A model built from coefficients with near-certain predictions: Brier near 0 when
    right, near 2 when always wrong."""
    model = MultinomialLogit.from_coefficients(
        ["a", "b"], [0.0], [[50.0]], reference="a", feature_names=["x"]
    )
    X = pd.DataFrame({"x": [-1.0, 1.0, -2.0, 2.0]})
    right = np.array(["a", "b", "a", "b"])
    wrong = np.array(["b", "a", "b", "a"])
    good, bad = model.evaluate(X, right), model.evaluate(X, wrong)
    assert good.accuracy == 1.0 and bad.accuracy == 0.0
    assert good.brier == pytest.approx(0.0, abs=1e-12)
    assert bad.brier == pytest.approx(2.0, abs=1e-12)
    check_against_sklearn(good, model, X, right)
    check_against_sklearn(bad, model, X, wrong)


# ---------------------------------------------------------------------- formula models
@pytest.fixture(scope="module")
def formula_case() -> tuple[MultinomialLogit, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(2)
    n = 360
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "region": rng.choice(["north", "south", "west"], size=n),
        }
    )
    eta = np.column_stack([np.zeros(n), 0.8 * frame.x - 0.3, -0.7 * frame.z + 0.2])
    p = np.exp(eta)
    p /= p.sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    frame["outcome"] = np.array(["alpha", "beta", "gamma"])[(u > p.cumsum(axis=1)).sum(axis=1)]
    train, test = frame.iloc[:250], frame.iloc[250:].reset_index(drop=True)
    model = MultinomialLogit(formula="outcome ~ x + z + C(region)").fit(train)
    return model, train, test


def test_formula_model_takes_y_from_the_data(formula_case) -> None:
    model, _, test = formula_case
    report = model.evaluate(test)
    check_against_sklearn(report, model, test, test["outcome"])
    explicit = model.evaluate(test, test["outcome"].to_numpy())
    assert explicit.log_loss == report.log_loss
    assert explicit.brier == report.brier
    pd.testing.assert_frame_equal(explicit.confusion, report.confusion)
    via_function = evaluate(model, test)
    assert via_function.accuracy == report.accuracy


def test_formula_model_with_categorical_response(formula_case) -> None:
    model, _, test = formula_case
    cat = test.assign(outcome=pd.Categorical(test["outcome"]))
    report = model.evaluate(cat)
    check_against_sklearn(report, model, test, test["outcome"])


def test_formula_model_without_response_column_needs_y(formula_case) -> None:
    model, _, test = formula_case
    no_y = test.drop(columns="outcome")
    with pytest.raises(InvalidInputError, match="outcome"):
        model.evaluate(no_y)
    report = model.evaluate(no_y, test["outcome"])
    check_against_sklearn(report, model, no_y, test["outcome"])


def test_formula_model_with_polars_frame(formula_case) -> None:
    pl = pytest.importorskip("polars")
    model, _, test = formula_case
    report = model.evaluate(pl.from_pandas(test))
    check_against_sklearn(report, model, test, test["outcome"])


# ---------------------------------------------------------------------- errors
def test_unknown_labels_raise_naming_them(array_case) -> None:
    model, X, y, _, _ = array_case
    bad = y.copy()
    bad[:3] = 99
    bad[3] = 42
    with pytest.raises(InvalidInputError, match="not fitted on") as info:
        model.evaluate(X, bad)
    message = str(info.value)
    assert "99" in message and "42" in message


def test_unknown_string_labels_raise_naming_them() -> None:
    X, codes, _ = make_data(n=150, p=2, K=3, seed=1)
    y = np.array(["low", "medium", "high"])[codes]
    model = MultinomialLogit().fit(X, y)
    bad = y.copy().astype(object)
    bad[0] = "extreme"
    with pytest.raises(InvalidInputError, match="extreme"):
        model.evaluate(X, bad)
    with pytest.raises(ValueError, match="'extreme'"):  # InvalidInputError is a ValueError
        evaluate(model, X, bad)


def test_unknown_labels_in_formula_data_raise(formula_case) -> None:
    model, _, test = formula_case
    bad = test.copy()
    bad.loc[0, "outcome"] = "delta"
    with pytest.raises(InvalidInputError, match="delta"):
        model.evaluate(bad)


def test_array_model_needs_y(array_case) -> None:
    model, X, _, _, _ = array_case
    with pytest.raises(InvalidInputError, match="labels"):
        model.evaluate(X)


def test_row_count_mismatch(array_case) -> None:
    model, X, y, _, _ = array_case
    with pytest.raises(InvalidInputError, match="rows"):
        model.evaluate(X, y[:-5])


# ---------------------------------------------------------------------- rendering
def test_str_contains_the_numbers(array_case) -> None:
    model, _, _, X, y = array_case
    report = model.evaluate(X, y)
    text = str(report)
    assert f"Evaluation on {report.n} rows" in text
    assert f"{report.accuracy:.4f}" in text
    assert f"{report.log_loss:.4f}" in text
    assert f"{report.brier:.4f}" in text
    assert "macro avg" in text and "weighted avg" in text
    for c in model.classes_:
        assert str(c) in text
    for value in report.per_class["f1"]:
        assert f"{value:.4f}" in text
    # each confusion-matrix row appears with its counts
    lines = text.splitlines()
    for name, row in report.confusion.iterrows():
        assert any(line.split() == [str(name), *map(str, row.tolist())] for line in lines), (
            f"row {name} of the confusion matrix not printed"
        )


def test_repr_html_contains_the_numbers_and_escapes_labels() -> None:
    X, codes, _ = make_data(n=200, p=2, K=3, seed=4)
    y = np.array(["a<b", "c&d", "plain"])[codes]
    model = MultinomialLogit().fit(X, y)
    report = model.evaluate(X, y)
    page = report._repr_html_()
    assert page.startswith("<div") and page.endswith("</div>")
    assert f"<td>{report.n}</td>" in page
    assert f"{report.accuracy:.4f}" in page
    assert f"{report.log_loss:.4f}" in page
    assert f"{report.brier:.4f}" in page
    for value in report.per_class["precision"]:
        assert f"{value:.4f}" in page
    for count in np.unique(report.confusion.to_numpy()):
        assert f"<td>{count}</td>" in page
    assert "a&lt;b" in page and "c&amp;d" in page
    assert "a<b" not in page and "c&d" not in page


def test_to_dict(array_case) -> None:
    model, X, y, _, _ = array_case
    report = model.evaluate(X, y)
    d = report.to_dict()
    assert d["n"] == report.n and d["accuracy"] == report.accuracy
    assert d["log_loss"] == report.log_loss and d["brier"] == report.brier
    name = str(model.classes_[1])
    assert d["per_class"][name]["recall"] == report.per_class.loc[name, "recall"]
    assert d["confusion"][name][name] == report.confusion.loc[name, name]


# ---------------------------------------------------------------------- the docs' worked example
def test_worked_example_customer_risk() -> None:
    """docs/workflow.md's worked example: split the 12-row customer-risk data with
    stratification, fit a ridge model through a formula with standardized predictors, and
    evaluate: the classification report, the confusion matrix and the log loss equal
    scikit-learn's, and the printed report is the one the docs show."""
    data = pd.DataFrame(RISK_DATA)
    train, test = train_test_split(data, test_size=0.5, stratify=data["risk"], random_state=0)
    # stratification kept every class in both halves
    assert set(train["risk"]) == set(test["risk"]) == {"low", "medium", "high"}

    model = MultinomialLogit(formula=RISK_FORMULA, penalty="l2", alpha=0.05).fit(train)
    assert list(model.classes_) == ["high", "low", "medium"]
    assert model.converged_

    report = model.evaluate(test)
    y_true = test["risk"].to_numpy()
    y_pred = model.predict(test)
    proba = model.predict_proba(test)
    labels = list(model.classes_)

    # classification report, class by class and the averages
    expected = classification_report(
        y_true, y_pred, labels=labels, output_dict=True, zero_division=0.0
    )
    for label in labels:
        for ours, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert report.per_class.loc[label, ours] == pytest.approx(
                expected[label][theirs], abs=1e-12
            ), (label, ours)
        assert report.per_class.loc[label, "support"] == expected[label]["support"]
    for avg in ("macro avg", "weighted avg"):
        assert report.per_class.loc[avg, "precision"] == pytest.approx(expected[avg]["precision"])
        assert report.per_class.loc[avg, "recall"] == pytest.approx(expected[avg]["recall"])
        assert report.per_class.loc[avg, "f1"] == pytest.approx(expected[avg]["f1-score"])
        assert report.per_class.loc[avg, "support"] == expected[avg]["support"] == len(test)

    np.testing.assert_array_equal(
        report.confusion.to_numpy(), confusion_matrix(y_true, y_pred, labels=labels)
    )
    assert report.log_loss == pytest.approx(log_loss(y_true, proba, labels=labels), rel=1e-12)
    assert report.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert report.brier == pytest.approx(brier(proba, y_true, model.classes_), rel=1e-12)
    check_against_sklearn(report, model, test, y_true)

    # scale() keeps the training centre and spread: a row's prediction does not depend
    # on which other rows are scored with it
    for i in range(len(test)):
        np.testing.assert_allclose(
            model.predict_proba(test.iloc[[i]])[0], proba[i], rtol=1e-12, atol=1e-15
        )

    # the output printed in docs/workflow.md (compared without trailing blanks)
    printed = [line.rstrip() for line in str(report).splitlines()]
    assert printed == DOCS_OUTPUT.splitlines()


DOCS_OUTPUT = """Evaluation on 6 rows
  accuracy     0.5000
  log loss     1.1729
  Brier score  0.7338

Per class:
              precision  recall     f1  support
high             0.6667  1.0000 0.8000        2
low              0.0000  0.0000 0.0000        2
medium           0.3333  0.5000 0.4000        2
macro avg        0.3333  0.5000 0.4000        6
weighted avg     0.3333  0.5000 0.4000        6

Confusion matrix (rows: true, columns: predicted):
predicted  high  low  medium
true
high          2    0       0
low           0    0       2
medium        1    0       1"""
