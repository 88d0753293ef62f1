"""Issue 17, item 7: smaller surprises -- reference keywords in ``with_reference``, formula
terms in ``wald_test``, ``compute_covariance`` keeping ``get_params()`` true, warnings at the
caller's line."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.base import clone

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 400
    data = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "region": rng.choice(["east", "north", "south"], n),
        }
    )
    eta = np.column_stack([np.zeros(n), -2 + 0.05 * data["age"], 0.8 * (data["region"] == "south")])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    data["y"] = np.array(["a", "b", "c"])[(u > prob.cumsum(axis=1)).sum(axis=1)]
    return data


def test_with_reference_takes_the_constructors_keywords() -> None:
    X, y, _ = make_data(n=300, p=2, K=4, seed=2)
    model = MultinomialLogit().fit(X, y)
    for keyword, label in (("first", 0), ("last", 3)):
        moved = model.with_reference(keyword)
        direct = MultinomialLogit(reference=keyword).fit(X, y)
        assert moved.reference_ == label == direct.reference_
        np.testing.assert_allclose(moved.coef_, direct.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(
            moved.coef_table()["std_err"], direct.coef_table()["std_err"], rtol=1e-5
        )
        assert moved.get_params()["reference"] == keyword
    with pytest.raises(InvalidInputError, match="not one of the classes"):
        model.with_reference("middle")


def test_wald_test_of_a_formula_term_equals_the_term_test_and_statsmodels(frame) -> None:
    model = MultinomialLogit(formula="y ~ age + C(region)").fit(frame)
    result = model.wald_test("C(region)")
    assert result.df == 4
    table = model.term_tests()
    assert result.statistic == pytest.approx(table.loc["C(region)", "wald_chi2"], rel=1e-12)
    # statsmodels: the same joint restriction on its MNLogit fit of the same design
    X = pd.get_dummies(frame["region"], drop_first=True, dtype=float)
    X.insert(0, "age", frame["age"])
    sm_fit = sm.MNLogit(pd.Categorical(frame["y"]).codes, sm.add_constant(X)).fit(disp=0)
    names = sm_fit.model.exog_names  # const, age, north, south
    R = np.zeros((4, 2 * len(names)))
    for r, (k, j) in enumerate((k, j) for k in range(2) for j in (2, 3)):
        R[r, k * len(names) + j] = 1.0
    reference = sm_fit.wald_test(R, scalar=True)
    assert result.statistic == pytest.approx(float(reference.statistic), rel=1e-6)
    assert result.p_value == pytest.approx(float(reference.pvalue), rel=1e-5)


@pytest.mark.parametrize("bad", ["nonsense", "[zz]age = 0", "C(region", "age = = 0", ""])
def test_bad_hypotheses_are_invalid_input(frame, bad) -> None:
    model = MultinomialLogit(formula="y ~ age + C(region)").fit(frame)
    with pytest.raises(InvalidInputError):
        model.wald_test(bad)


def test_compute_covariance_changes_the_model_and_its_parameters(frame) -> None:
    model = MultinomialLogit(formula="y ~ age + C(region)", cov_type=None).fit(frame)
    assert model.get_params()["cov_type"] is None
    returned = model.compute_covariance(frame, cov_type="robust")
    assert returned is model
    assert model.cov_type_ == "robust" == model.get_params()["cov_type"]
    # the parameters describe the model: a clone refitted has the same covariance
    again = clone(model).fit(frame)
    np.testing.assert_allclose(
        again.coef_table()["std_err"], model.coef_table()["std_err"], rtol=1e-6
    )
    # a failing call changes nothing
    with pytest.raises(InvalidInputError):
        model.compute_covariance(frame, cov_type="jackknife")
    assert model.get_params()["cov_type"] == "robust"


def test_warnings_point_at_the_callers_line(frame) -> None:
    X, y, _ = make_data(n=200, p=2, K=3, seed=1)
    lonely = np.r_[y[:-1], 7]  # a class with one observation: DataWarning
    with_nan = frame.copy()
    with_nan.loc[3, "age"] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MultinomialLogit().fit(X, lonely)
        MultinomialLogit(formula="y ~ age + C(region)", missing="drop").fit(with_nan)
        MultinomialLogit(formula="y ~ age + I(2 * age)").fit(frame)
        MultinomialLogit(alpha=1.0).fit(X, y)
        model = MultinomialLogit(penalty="l2").fit(X, y)
        model.coef_table()
    kinds = {type(w.message).__name__ for w in caught}
    assert {"DataWarning", "MissingValuesDropped", "CollinearityWarning"} <= kinds
    assert {"UserWarning", "PenalizedInferenceWarning"} <= kinds
    assert [w.filename for w in caught] == [__file__] * len(caught)
