"""Formulas: ``MultinomialLogit(formula="risk ~ age + income + C(region)")``.

The design matrices here are built independently (pandas ``get_dummies``), not with
formulaic, so that a fit through a formula is checked against a fit on plain arrays.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.stats
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError, MnlogitWarning
from mnlogit.formula import MissingValuesDropped

FORMULA = "risk ~ age + income + C(region)"
REGIONS = ["east", "north", "south", "west"]
RISKS = ["low", "medium", "high"]


def customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Synthetic customers whose risk depends on age, income and region."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 65, n).round(1)
    income = rng.uniform(20, 100, n).round(1)
    region = rng.choice(REGIONS, n)
    north = (region == "north").astype(float)
    west = (region == "west").astype(float)
    eta = np.column_stack(
        [
            np.zeros(n),
            -1.5 + 0.04 * age - 0.01 * income + 0.8 * north,
            1.0 - 0.03 * income + 0.02 * age - 0.9 * west,
        ]
    )
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    codes = (rng.uniform(size=(n, 1)) > np.cumsum(prob, axis=1)).sum(axis=1)
    risk = np.asarray(RISKS)[np.minimum(codes, 2)]
    return pd.DataFrame({"age": age, "income": income, "region": region, "risk": risk})


def manual_design(df: pd.DataFrame, reference_level: str) -> pd.DataFrame:
    """``age, income`` and region indicators with ``reference_level`` dropped (sorted)."""
    dummies = pd.get_dummies(df["region"], dtype=float)
    dummies = dummies[[c for c in sorted(dummies.columns) if c != reference_level]]
    return pd.concat([df[["age", "income"]].astype(float), dummies], axis=1)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return customers()


@pytest.fixture(scope="module")
def fitted(data: pd.DataFrame) -> MultinomialLogit:
    return MultinomialLogit(formula=FORMULA).fit(data)


def as_polars(df: pd.DataFrame) -> pl.DataFrame:
    return pl.DataFrame({c: df[c].to_numpy() for c in df.columns})


# --------------------------------------------------------------------------- fitting
def test_formula_fit_equals_fit_on_independent_design(
    data: pd.DataFrame, fitted: MultinomialLogit
) -> None:
    X = manual_design(data, reference_level="east")
    plain = MultinomialLogit().fit(X.to_numpy(), data["risk"].to_numpy())
    assert list(fitted.classes_) == sorted(RISKS)
    assert fitted.coef_.shape == (3, 5)
    assert_allclose(fitted.coef_, plain.coef_, rtol=1e-8, atol=1e-10)
    assert_allclose(fitted.intercept_, plain.intercept_, rtol=1e-8, atol=1e-10)
    assert_allclose(fitted.predict_proba(data), plain.predict_proba(X.to_numpy()), atol=1e-12)
    assert_allclose(fitted.loglik_, plain.loglik_, rtol=1e-12)
    assert fitted.fit_intercept_ is True
    assert fitted.n_features_in_ == 5


def test_term_names_are_formulaic_column_names(fitted: MultinomialLogit) -> None:
    table = fitted.coef_table()
    terms = list(dict.fromkeys(table.index.get_level_values("term")))
    assert terms == [
        "Intercept",
        "age",
        "income",
        "C(region)[T.north]",
        "C(region)[T.south]",
        "C(region)[T.west]",
    ]
    # the reference class (first sorted: "high") is not shown
    assert list(dict.fromkeys(table.index.get_level_values("class"))) == ["low", "medium"]
    assert fitted.design_.columns == terms[1:]


def test_reference_level_via_contrasts(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    formula = "risk ~ age + income + C(region, contr.treatment('south'))"
    model = MultinomialLogit(formula=formula).fit(data)
    columns = model.design_.columns
    assert len(columns) == 5
    assert not any("[T.south]" in c for c in columns)
    assert any("[T.east]" in c for c in columns)
    X = manual_design(data, reference_level="south")
    plain = MultinomialLogit().fit(X.to_numpy(), data["risk"].to_numpy())
    assert_allclose(model.coef_, plain.coef_, rtol=1e-8, atol=1e-10)
    # another coding of the same column space: same fitted probabilities
    assert_allclose(model.predict_proba(data), fitted.predict_proba(data), atol=1e-9)
    assert_allclose(model.loglik_, fitted.loglik_, rtol=1e-12)
    # age and income do not depend on the region coding
    assert_allclose(model.coef_[:, :2], fitted.coef_[:, :2], rtol=1e-7, atol=1e-10)


def test_string_and_categorical_columns_expand(
    data: pd.DataFrame, fitted: MultinomialLogit
) -> None:
    strings = MultinomialLogit(formula="risk ~ age + income + region").fit(data)
    assert strings.design_.columns[2:] == ["region[T.north]", "region[T.south]", "region[T.west]"]
    assert_allclose(strings.coef_, fitted.coef_, rtol=1e-10, atol=1e-12)

    # a pandas categorical: its own category order decides the dropped (first) level
    cat = data.assign(region=pd.Categorical(data["region"], categories=["west", *REGIONS[:3]]))
    model = MultinomialLogit(formula="risk ~ age + income + region").fit(cat)
    assert model.design_.columns[2:] == ["region[T.east]", "region[T.north]", "region[T.south]"]
    assert_allclose(model.predict_proba(cat), fitted.predict_proba(data), atol=1e-9)

    # a categorical response gives plain labels
    ycat = data.assign(risk=pd.Categorical(data["risk"]))
    model = MultinomialLogit(formula=FORMULA).fit(ycat)
    assert list(model.classes_) == sorted(RISKS)
    assert_allclose(model.coef_, fitted.coef_, rtol=1e-10, atol=1e-12)


def test_no_intercept_formula(data: pd.DataFrame) -> None:
    """``~ 0 + x`` fits without an intercept: intercept_ zero, fit_intercept_ False."""
    model = MultinomialLogit(formula="risk ~ 0 + age + income").fit(data)
    assert model.fit_intercept_ is False
    assert model.design_.has_intercept is False
    np.testing.assert_array_equal(model.intercept_, np.zeros(3))
    plain = MultinomialLogit(fit_intercept=False).fit(
        data[["age", "income"]].to_numpy(), data["risk"].to_numpy()
    )
    assert_allclose(model.coef_, plain.coef_, rtol=1e-8, atol=1e-10)
    assert "Intercept" not in model.coef_table().index.get_level_values("term")


@pytest.mark.parametrize("formula", ["risk ~ age + income - 1", "risk ~ age + income + 0"])
def test_intercept_removed_other_spellings(data: pd.DataFrame, formula: str) -> None:
    model = MultinomialLogit(formula=formula).fit(data)
    assert model.fit_intercept_ is False
    np.testing.assert_array_equal(model.intercept_, np.zeros(3))


def test_fit_intercept_false_with_formula(data: pd.DataFrame) -> None:
    # The intercept follows the formula: fit_intercept=False would encode categoricals as if
    # there were an intercept (one level dropped) and then fit without one, so it is refused
    # with the way to say it in the formula.
    with pytest.raises(InvalidInputError, match=r"~ 0 \+"):
        MultinomialLogit(formula="risk ~ age + income", fit_intercept=False).fit(data)
    model = MultinomialLogit(formula="risk ~ 0 + age + income").fit(data)
    assert model.fit_intercept_ is False
    np.testing.assert_array_equal(model.intercept_, np.zeros(3))


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("risk ~ age + {age ** 2}", ["age", "age ** 2"]),
        ("risk ~ age + I(age ** 2)", ["age", "I(age ** 2)"]),
        ("risk ~ `annual income` + age", ["annual income", "age"]),
    ],
)
def test_formula_terms_survive_parsing(data: pd.DataFrame, formula: str, expected: list) -> None:
    """Every term the user wrote is a design column (quoted names, ``{...}`` python)."""
    frame = data.rename(columns={"income": "annual income"})
    model = MultinomialLogit(formula=formula).fit(frame)
    assert model.design_.columns == expected
    assert model.coef_.shape == (3, len(expected))


def test_scale_uses_training_mean_and_sd(data: pd.DataFrame) -> None:
    model = MultinomialLogit(formula="risk ~ scale(age) + income").fit(data)
    # the coefficient of scale(age) is the age coefficient times the training sd
    raw = MultinomialLogit(formula="risk ~ age + income").fit(data)
    sd = data["age"].std(ddof=1)
    assert_allclose(model.coef_[:, 0], raw.coef_[:, 0] * sd, rtol=1e-6, atol=1e-10)
    # predicting a subset uses the training constants, not the subset's own
    subset = data.iloc[:7]
    assert_allclose(model.predict_proba(subset), model.predict_proba(data)[:7], atol=1e-14)
    one_row = data.iloc[[11]]
    assert_allclose(model.predict_proba(one_row), model.predict_proba(data)[[11]], atol=1e-14)
    assert_allclose(model.predict_proba(data), raw.predict_proba(data), atol=1e-8)


def test_polars_frames(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    frame = as_polars(data)
    model = MultinomialLogit(formula=FORMULA).fit(frame)
    assert_allclose(model.coef_, fitted.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(model.intercept_, fitted.intercept_, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(model.predict(frame), fitted.predict(data))
    assert_allclose(fitted.predict_proba(frame), fitted.predict_proba(data), atol=1e-15)
    assert model.score(frame) == pytest.approx(fitted.score(data))
    with_cat = frame.with_columns(pl.col("region").cast(pl.Categorical))
    assert_allclose(fitted.predict_proba(with_cat), fitted.predict_proba(data), atol=1e-15)


def test_polars_missing_values_are_counted(data: pd.DataFrame) -> None:
    frame = as_polars(data).with_columns(
        pl.when(pl.col("age") > 60).then(None).otherwise(pl.col("age")).alias("age")
    )
    n_missing = int((data["age"] > 60).sum())
    with pytest.raises(InvalidInputError, match=rf"'age': {n_missing}\b"):
        MultinomialLogit(formula=FORMULA).fit(frame)


# --------------------------------------------------------------------------- prediction
def test_predict_applies_the_same_spec(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    X = manual_design(data, reference_level="east").to_numpy()
    new = customers(n=40, seed=7)
    new = new[new["region"] != "north"].drop(columns="risk")  # a level may be absent
    X_new = manual_design(new.assign(region=pd.Categorical(new["region"], REGIONS)), "east")
    plain = MultinomialLogit().fit(X, data["risk"].to_numpy())
    assert_allclose(fitted.predict_proba(new), plain.predict_proba(X_new.to_numpy()), atol=1e-9)
    np.testing.assert_array_equal(fitted.predict(new), plain.predict(X_new.to_numpy()))
    eta = fitted.linear_predictor(new)
    assert eta.shape == (len(new), 3)
    # columns in another order, extra columns: fine
    shuffled = new[["region", "income", "age"]].assign(extra=1.0)
    assert_allclose(fitted.predict_proba(shuffled), fitted.predict_proba(new), atol=1e-15)


def test_unseen_level_raises_naming_column_and_level(
    data: pd.DataFrame, fitted: MultinomialLogit
) -> None:
    new = data.iloc[:5].copy()
    new.loc[new.index[2], "region"] = "mars"
    with pytest.raises(InvalidInputError, match=r"'region'.*mars") as info:
        fitted.predict(new)
    assert "not seen in training" in str(info.value)
    strings = MultinomialLogit(formula="risk ~ age + region").fit(data)
    with pytest.raises(InvalidInputError, match=r"'region'.*mars"):
        strings.predict_proba(new)


def test_missing_column_raises_naming_it(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    with pytest.raises(InvalidInputError, match="income"):
        fitted.predict(data.drop(columns="income"))
    # the response is not needed to predict
    np.testing.assert_array_equal(fitted.predict(data.drop(columns="risk")), fitted.predict(data))


def test_predict_with_missing_values_raises(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    new = data.iloc[:10].copy()
    new.loc[new.index[4], "age"] = np.nan
    with pytest.raises(InvalidInputError, match=r"'age': 1.*row 4"):
        fitted.predict_proba(new)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("risk ~ age +", "cannot parse"),
        ("risk ~ C(region", "cannot parse"),
        ("~ age + income", "no left-hand side"),
        ("age + income", "no left-hand side"),
        ("risk + region ~ age", "left-hand side"),
        ("risk ~ age + salary", "salary"),
        ("outcome ~ age", "outcome"),
    ],
)
def test_bad_formulas_raise(data: pd.DataFrame, formula: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MultinomialLogit(formula=formula).fit(data)


def test_formula_must_be_a_string(data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="formula must be a string"):
        MultinomialLogit(formula=["risk ~ age"]).fit(data)  # type: ignore[arg-type]


def test_y_with_a_formula_raises(data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="left-hand side"):
        MultinomialLogit(formula=FORMULA).fit(data, data["risk"])


def test_formula_needs_a_data_frame(data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="DataFrame"):
        MultinomialLogit(formula="risk ~ age").fit(data[["age"]].to_numpy())


def test_no_formula_needs_y(data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="requires y"):
        MultinomialLogit().fit(data[["age", "income"]])


def test_refit_without_formula_forgets_the_design(
    data: pd.DataFrame, fitted: MultinomialLogit
) -> None:
    model = clone(fitted).fit(data)
    model.set_params(formula=None).fit(data[["age", "income"]].to_numpy(), data["risk"])
    assert model.design_ is None
    assert model.predict(data[["age", "income"]].to_numpy()).shape == (len(data),)


# --------------------------------------------------------------------------- missing values
def with_missing(data: pd.DataFrame) -> pd.DataFrame:
    frame = data.copy()
    frame.loc[[3, 8, 40], "age"] = np.nan
    frame.loc[[8, 12], "region"] = None
    frame.loc[20, "risk"] = None
    frame.loc[25, "unused"] = np.nan  # a column the formula does not use
    return frame


def test_missing_values_default_error(data: pd.DataFrame) -> None:
    frame = with_missing(data)
    with pytest.raises(InvalidInputError) as info:
        MultinomialLogit(formula=FORMULA).fit(frame)
    message = str(info.value)
    assert "5 of 300 rows" in message
    assert "'age': 3" in message
    assert "'region': 2" in message
    assert "'risk': 1" in message
    assert "unused" not in message
    assert "first at row 3" in message
    assert "missing='drop'" in message


def test_missing_drop_equals_fit_on_dropped_frame(data: pd.DataFrame) -> None:
    frame = with_missing(data)
    assert issubclass(MissingValuesDropped, MnlogitWarning)
    with pytest.warns(MissingValuesDropped, match="dropped 5 of 300 rows"):
        model = MultinomialLogit(formula=FORMULA, missing="drop").fit(frame)
    assert model.n_missing_dropped_ == 5
    clean = frame.dropna(subset=["age", "income", "region", "risk"])
    assert len(clean) == 295
    reference = MultinomialLogit(formula=FORMULA).fit(clean)
    assert reference.n_missing_dropped_ == 0
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    np.testing.assert_array_equal(model.intercept_, reference.intercept_)
    assert model.nobs_ == 295
    # a drop model predicts incomplete rows as missing (issue 17); the default refuses them
    with pytest.warns(MissingValuesDropped, match="their predictions are NaN"):
        labels = model.predict(frame)
    incomplete = frame[["age", "income", "region"]].isna().any(axis=1).to_numpy()
    assert all(v is None for v in labels[incomplete])
    with pytest.raises(InvalidInputError, match="missing"):
        reference.predict(frame)


def test_missing_drop_subsets_sample_weight(data: pd.DataFrame) -> None:
    frame = with_missing(data)
    weights = np.random.default_rng(3).integers(1, 4, len(frame)).astype(float)
    with pytest.warns(MissingValuesDropped):
        model = MultinomialLogit(formula=FORMULA, missing="drop").fit(frame, sample_weight=weights)
    kept = frame[["age", "income", "region", "risk"]].notna().all(axis=1).to_numpy()
    reference = MultinomialLogit(formula=FORMULA).fit(frame[kept], sample_weight=weights[kept])
    assert_allclose(model.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    assert model.nobs_ == pytest.approx(weights[kept].sum())


def test_missing_drop_without_missing_values_does_not_warn(data: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", MnlogitWarning)
        model = MultinomialLogit(formula=FORMULA, missing="drop").fit(data)
    assert model.n_missing_dropped_ == 0


def test_missing_parameter_is_validated(data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="missing must be"):
        MultinomialLogit(formula=FORMULA, missing="impute").fit(data)


# --------------------------------------------------------------------------- model selection
def test_score_uses_the_response_column(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    expected = float(np.mean(fitted.predict(data) == data["risk"].to_numpy()))
    assert fitted.score(data) == pytest.approx(expected)
    flipped = data.assign(risk=np.where(data["risk"] == "low", "high", data["risk"]))
    assert fitted.score(flipped) != pytest.approx(expected)
    with pytest.raises(InvalidInputError, match="risk"):
        fitted.score(data.drop(columns="risk"))


def test_cross_val_score_with_formula(data: pd.DataFrame) -> None:
    model = MultinomialLogit(formula=FORMULA)
    scores = cross_val_score(model, data, cv=KFold(3))
    expected = []
    for train, test in KFold(3).split(data):
        fold = MultinomialLogit(formula=FORMULA).fit(data.iloc[train])
        expected.append(fold.score(data.iloc[test]))
    assert_allclose(scores, expected)
    assert np.all((scores > 0.2) & (scores <= 1.0))


def test_grid_search_with_formula(data: pd.DataFrame) -> None:
    grid = [{"penalty": [None]}, {"penalty": ["l2"], "alpha": [1e-3, 1.0]}]
    search = GridSearchCV(MultinomialLogit(formula=FORMULA), grid, cv=KFold(3))
    search.fit(data)
    assert len(search.cv_results_["params"]) == 3
    best = search.best_estimator_
    assert best.formula == FORMULA
    assert best.design_.columns == [
        "age",
        "income",
        "C(region)[T.north]",
        "C(region)[T.south]",
        "C(region)[T.west]",
    ]
    assert search.predict(data).shape == (len(data),)
    assert search.score(data) == pytest.approx(best.score(data))
    # the ridge strength reaches the formula fits: strong ridge shrinks the coefficients
    unpenalized = MultinomialLogit(formula=FORMULA).fit(data)
    strong = clone(search.estimator).set_params(penalty="l2", alpha=1.0).fit(data)
    assert np.linalg.norm(strong.coef_) < 0.5 * np.linalg.norm(unpenalized.coef_)


def test_clone_keeps_the_formula(fitted: MultinomialLogit) -> None:
    copy = clone(fitted)
    assert copy.formula == FORMULA
    assert copy.get_params()["missing"] == "error"
    assert not hasattr(copy, "coef_")
    assert not hasattr(copy, "design_")


# --------------------------------------------------------------------------- term tests
def test_term_tests_joint_over_categorical(data: pd.DataFrame, fitted: MultinomialLogit) -> None:
    table = fitted.term_tests(data)
    assert list(table.index) == ["age", "income", "C(region)"]
    K, levels = 3, 4
    assert table.loc["C(region)", "wald_df"] == (K - 1) * (levels - 1)
    assert table.loc["C(region)", "lr_df"] == (K - 1) * (levels - 1)
    assert table.loc["age", "lr_df"] == K - 1

    reduced = MultinomialLogit(formula="risk ~ age + income").fit(data)
    lr = 2.0 * (fitted.loglik_ - reduced.loglik_)
    assert table.loc["C(region)", "lr_chi2"] == pytest.approx(lr, rel=1e-8)
    assert table.loc["C(region)", "lr_p"] == pytest.approx(scipy.stats.chi2.sf(lr, 6), rel=1e-6)
    no_age = MultinomialLogit(formula="risk ~ income + C(region)").fit(data)
    lr_age = 2.0 * (fitted.loglik_ - no_age.loglik_)
    assert table.loc["age", "lr_chi2"] == pytest.approx(lr_age, rel=1e-8)

    # the Wald statistic equals the one over the term's rows of cov_params
    cov = fitted.cov_params()
    coef = fitted.coef_table()["coef"]
    mask = coef.index.get_level_values("term").str.startswith("C(region)")
    b = coef[mask].to_numpy()
    V = cov.loc[mask, mask].to_numpy()
    wald = float(b @ np.linalg.solve(V, b))
    assert table.loc["C(region)", "wald_chi2"] == pytest.approx(wald, rel=1e-8)
    # without data: Wald only
    assert list(fitted.term_tests().columns) == ["wald_chi2", "wald_df", "wald_p"]


def test_term_tests_after_missing_drop(data: pd.DataFrame) -> None:
    """The model dropped rows with missing values; term_tests on the same training
    frame must drop them too (the LR refits are on the fitted rows)."""
    frame = with_missing(data)
    with pytest.warns(MissingValuesDropped):
        model = MultinomialLogit(formula=FORMULA, missing="drop").fit(frame)
    clean = frame.dropna(subset=["age", "income", "region", "risk"])
    expected = MultinomialLogit(formula=FORMULA).fit(clean).term_tests(clean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingValuesDropped)
        table = model.term_tests(frame)
    assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-8)


# --------------------------------------------------------------------------- docs example
def docs_customers() -> pd.DataFrame:
    """The customer-risk example of the docs (12 customers)."""
    return pd.DataFrame(
        {
            "age": [25, 30, 35, 40, 45, 50, 25, 30, 35, 40, 45, 50],
            "income": [30, 40, 50, 60, 70, 80, 35, 45, 55, 65, 75, 85],
            "risk": ["low"] * 3 + ["medium"] * 5 + ["high"] * 4,
        }
    )


def test_docs_customer_risk_example() -> None:
    frame = docs_customers()
    model = MultinomialLogit(formula="risk ~ age + income", penalty="l2").fit(frame)
    assert model.converged_
    assert list(model.classes_) == ["high", "low", "medium"]
    # equal to the same penalized fit on arrays
    plain = MultinomialLogit(penalty="l2").fit(frame[["age", "income"]], frame["risk"])
    assert_allclose(model.coef_, plain.coef_, rtol=1e-8, atol=1e-10)
    proba = model.predict_proba(frame)
    assert_allclose(proba.sum(axis=1), 1.0)
    new = pd.DataFrame({"age": [28, 47], "income": [33, 82]})
    predicted = model.predict(new)
    assert set(predicted) <= {"high", "low", "medium"}
    # young and poor looks "low"-risk, old and rich "high"-risk in these data
    assert predicted[0] == "low"
    assert predicted[1] == "high"
    assert model.score(frame) >= 0.5
