"""Reliability of the estimator on bad input: validation, separation and collinearity.

The detection algorithms themselves are tested in ``test_separation.py`` and
``test_collinearity.py``; this file tests what a user of ``MultinomialLogit`` sees:
which exception or warning, whether its message says what happened, where (column, row,
class) and what to do, the ``separation_`` / ``collinearity_`` attributes, the refusal of
inference after separation, and the reporting of aliased coefficients as not estimable.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import (
    CollinearityWarning,
    ConvergenceWarning,
    DataWarning,
    InferenceUnavailableError,
    InvalidInputError,
    SeparationError,
    SeparationWarning,
)

# The 12-row customer-risk example of the project's issue: completely separated (a linear
# rule in age and income classifies every customer correctly).
AGE = [25, 30, 35, 40, 45, 50, 25, 30, 35, 40, 45, 50]
INCOME = [30, 40, 50, 60, 70, 80, 35, 45, 55, 65, 75, 85]
RISK = ["low"] * 3 + ["medium"] * 5 + ["high"] * 4


def customer_risk() -> tuple[pd.DataFrame, np.ndarray]:
    return pd.DataFrame({"age": AGE, "income": INCOME}, dtype=float), np.array(RISK)


def fit_recording(model: MultinomialLogit, *args, **kwargs):
    """Fit, returning the model and the warnings raised (all of them, always shown)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*args, **kwargs)
    return model, caught


def of_type(caught, category) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, category)]


@pytest.fixture(scope="module")
def data():
    return make_data(n=120, p=3, K=3, seed=11)


# ============================================================================ 1. input validation


class TestNonFiniteValues:
    def test_array_names_column_count_and_first_row(self, data) -> None:
        X, y, _ = data
        X = X.copy()
        X[[7, 40], 1] = np.nan
        X[15, 2] = np.inf
        X[90, 2] = -np.inf
        with pytest.raises(InvalidInputError) as info:
            MultinomialLogit().fit(X, y)
        msg = str(info.value)
        assert "'x1': 2 NaN (first at row 7)" in msg
        assert "'x2': 2 inf (first at row 15)" in msg
        assert "2 column(s)" in msg
        assert "impute" in msg  # what to do
        assert "'x0'" not in msg

    def test_data_frame_uses_column_names(self, data) -> None:
        X, y, _ = data
        frame = pd.DataFrame(X, columns=["age", "income", "tenure"])
        frame.loc[3, "tenure"] = np.nan
        with pytest.raises(InvalidInputError, match=r"'tenure': 1 NaN \(first at row 3\)"):
            MultinomialLogit().fit(frame, y)

    def test_formula_missing_counted_or_dropped(self, data) -> None:
        X, y, _ = data
        frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y})
        frame.loc[[4, 9], "b"] = np.nan
        with pytest.raises(ValueError, match="b"):
            MultinomialLogit(formula="y ~ a + b").fit(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MultinomialLogit(formula="y ~ a + b", missing="drop").fit(frame)
        assert model.n_missing_dropped_ == 2
        assert model.nobs_ == len(y) - 2

    def test_at_predict_time_names_column_and_row(self, data) -> None:
        """The issue asks every NaN/inf to be reported with its column and first row —
        at prediction time too, where the output must keep one row per input row."""
        X, y, _ = data
        model = MultinomialLogit().fit(X, y)
        Xbad = X[:10].copy()
        Xbad[6, 2] = np.nan
        for method in (model.predict, model.predict_proba):
            with pytest.raises(ValueError) as info:
                method(Xbad)
            msg = str(info.value)
            assert "x2" in msg and "row 6" in msg, msg


class TestShapesAndLabels:
    def test_empty_data(self) -> None:
        with pytest.raises(ValueError, match="0 sample"):
            MultinomialLogit().fit(np.empty((0, 2)), np.empty(0))

    def test_no_features(self, data) -> None:
        _, y, _ = data
        with pytest.raises(ValueError, match="0 feature"):
            MultinomialLogit().fit(np.empty((y.size, 0)), y)

    @pytest.mark.parametrize("label", [3, "only", True])
    def test_one_class_only(self, data, label) -> None:
        X, y, _ = data
        with pytest.raises(InvalidInputError) as info:
            MultinomialLogit().fit(X, np.full(y.size, label))
        msg = str(info.value)
        assert "only one class" in msg and repr(label) in msg and "two classes" in msg

    def test_one_class_with_positive_weight_still_fits_as_separated(self, data) -> None:
        """Two labels present, but one only on zero-weight rows: the class is kept (it
        is in the data) and reported as separated, never silently fitted."""
        X, y, _ = data
        y2 = np.where(np.arange(y.size) < 5, 1, 0)
        w = np.where(np.arange(y.size) < 5, 0.0, 1.0)
        model, caught = fit_recording(MultinomialLogit(), X, y2, sample_weight=w)
        assert model.separation_ is not None
        assert of_type(caught, SeparationWarning)

    def test_missing_label_is_a_value_error(self, data) -> None:
        """A missing label (None among strings) must be a clear ValueError, not numpy's
        TypeError from sorting None against str."""
        X, y, _ = data
        labels = np.array(["a", "b", "c"], dtype=object)[y]
        labels[3] = None
        with pytest.raises(ValueError, match=r"(?i)none|missing|nan"):
            MultinomialLogit().fit(X, labels)

    def test_length_mismatch(self, data) -> None:
        X, y, _ = data
        with pytest.raises(ValueError, match=rf"inconsistent numbers of samples: \[{y.size}, "):
            MultinomialLogit().fit(X, y[:-3])

    def test_non_numeric_column_without_formula(self, data) -> None:
        X, y, _ = data
        frame = pd.DataFrame({"age": X[:, 0], "region": np.where(X[:, 1] > 0, "N", "S")})
        with pytest.raises(InvalidInputError) as info:
            MultinomialLogit().fit(frame, y)
        msg = str(info.value)
        assert "['region']" in msg and "formula=" in msg and "age" not in msg
        frame["y"] = y
        model = MultinomialLogit(formula="y ~ age + C(region)").fit(frame)
        assert model.coef_.shape == (3, 2)

    def test_non_numeric_array(self, data) -> None:
        _, y, _ = data
        X = np.array([["1.5", "abc"]] * y.size, dtype=object)
        with pytest.raises(InvalidInputError, match=r"non-numeric.*abc"):
            MultinomialLogit().fit(X, y)

    def test_wrong_number_of_features_at_predict_time(self, data) -> None:
        X, y, _ = data
        model = MultinomialLogit().fit(X, y)
        with pytest.raises(ValueError, match=r"2 features.*expecting 3"):
            model.predict(X[:, :2])

    def test_unknown_labels_at_evaluation(self, data) -> None:
        X, y, _ = data
        model = MultinomialLogit().fit(X, y)
        with pytest.raises(InvalidInputError, match="'7'"):
            model.evaluate(X, np.where(y == 0, 7, y))

    def test_unknown_labels_in_compute_covariance_are_named(self, data) -> None:
        """compute_covariance with labels the model was not fitted on must refuse, and
        (like ``evaluate``) say which labels are foreign."""
        X, y, _ = data
        model = MultinomialLogit().fit(X, y)
        with pytest.raises(InvalidInputError) as info:
            model.compute_covariance(X, np.where(y == 0, 7, y))
        assert "7" in str(info.value), str(info.value)


class TestSampleWeights:
    """docs/api.md: InvalidInputError for zero or negative weights; the issue: messages say
    what, where (the first offending row) and what to do."""

    @pytest.mark.parametrize("value", [-1.0, np.nan, np.inf], ids=["negative", "nan", "inf"])
    def test_bad_entry_is_invalid_input_naming_the_row(self, data, value) -> None:
        X, y, _ = data
        w = np.ones(y.size)
        w[[17, 30]] = value
        with pytest.raises(InvalidInputError) as info:
            MultinomialLogit().fit(X, y, sample_weight=w)
        msg = str(info.value)
        assert "sample_weight" in msg or "sample weight" in msg, msg
        assert "17" in msg, msg

    def test_all_zero_is_invalid_input(self, data) -> None:
        X, y, _ = data
        with pytest.raises(InvalidInputError, match="zero"):
            MultinomialLogit().fit(X, y, sample_weight=np.zeros(y.size))

    @pytest.mark.parametrize("value", [-0.5, np.nan, np.inf], ids=["negative", "nan", "inf"])
    def test_bad_class_weight_is_refused_naming_the_class(self, data, value) -> None:
        """class_weight multiplies the sample weights; a negative, NaN or infinite class
        weight must be refused as such (naming class_weight and the class), never fitted
        (a ridge fit with a negative weight "converges" to a log-likelihood of +1e18)."""
        X, y, _ = data
        for penalty in ("l2", None):
            model = MultinomialLogit(penalty=penalty, class_weight={0: value, 1: 1.0, 2: 1.0})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pytest.raises(InvalidInputError) as info:
                    model.fit(X, y)
            msg = str(info.value)
            assert "class_weight" in msg and "0" in msg, (penalty, msg)
            assert "all weights are zero" not in msg, (penalty, msg)

    def test_wrong_length(self, data) -> None:
        X, y, _ = data
        with pytest.raises(ValueError, match=rf"\({y.size},\)"):
            MultinomialLogit().fit(X, y, sample_weight=np.ones(y.size - 1))

    def test_zero_weight_duplicates_change_nothing(self, data) -> None:
        """Duplicated rows with weight zero (even with other labels) are not data."""
        X, y, _ = data
        Xd = np.vstack([X, X[:20]])
        yd = np.concatenate([y, (y[:20] + 1) % 3])
        w = np.r_[np.ones(y.size), np.zeros(20)]
        model, caught = fit_recording(MultinomialLogit(), Xd, yd, sample_weight=w)
        assert not caught
        ref = MultinomialLogit().fit(X, y)
        assert model.nobs_ == y.size
        assert_allclose(model.coef_, ref.coef_, atol=1e-9)
        assert_allclose(model.coef_table().to_numpy(), ref.coef_table().to_numpy(), atol=1e-8)


class TestTooFewRows:
    def test_more_parameters_than_rows_unpenalized_is_refused(self) -> None:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((8, 12))
        y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollinearityWarning)  # 12 columns, rank <= 8
            with pytest.raises(InvalidInputError) as info:
                MultinomialLogit().fit(X, y)
            msg = str(info.value)
            assert "8 rows" in msg and "penalty='l2'" in msg and "penalty='firth'" in msg
            for penalty in ("l2", "firth"):
                model = MultinomialLogit(penalty=penalty).fit(X, y)
                P = model.predict_proba(X)
                assert np.all(np.isfinite(P)) and and_allclose_rows(P)

    def test_rows_with_zero_weight_do_not_count(self) -> None:
        rng = np.random.default_rng(1)
        X = rng.standard_normal((30, 4))
        y = np.arange(30) % 3
        w = np.r_[np.ones(5), np.zeros(25)]
        with pytest.raises(InvalidInputError, match="only 5 rows"):
            MultinomialLogit().fit(X, y, sample_weight=w)


def and_allclose_rows(P: np.ndarray) -> bool:
    return bool(np.allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12))


class TestSmallClasses:
    def test_single_observation_class_warns_naming_it(self, data) -> None:
        X, y, _ = data
        y = y.astype("U8")
        y[5] = "rare"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            MultinomialLogit(penalty="l2").fit(X, y)
        msgs = of_type(caught, DataWarning)
        assert len(msgs) == 1 and "'rare'" in msgs[0] and "single observation" in msgs[0]
        assert all(issubclass(w.category, DataWarning) for w in caught)

    def test_weight_zero_copies_do_not_make_a_class_large(self, data) -> None:
        X, y, _ = data
        y = y.astype("U8")
        y[[5, 6, 7]] = "rare"
        w = np.ones(y.size)
        w[[6, 7]] = 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            MultinomialLogit(penalty="l2").fit(X, y, sample_weight=w)
        assert any("'rare'" in m for m in of_type(caught, DataWarning))

    def test_no_warning_for_ordinary_classes(self, data) -> None:
        X, y, _ = data
        _, caught = fit_recording(MultinomialLogit(), X, y)
        assert not caught


class TestExtremeScales:
    """Columns in 1e-150 ... 1e150 units fit as accurately as unit-scale ones, with
    coefficients and standard errors on the original scale (never silently zero)."""

    @pytest.mark.parametrize(
        "scales",
        [(1.0, 1e-150, 1.0), (1.0, 1e150, 1.0), (1e-150, 1.0, 1e150), (1e150, 1e-150, 1e-100)],
    )
    @pytest.mark.parametrize("penalty", [None, "firth"])
    def test_fit_reported_on_original_scale(self, data, scales, penalty) -> None:
        X, y, _ = data
        s = np.array(scales)
        ref, ref_caught = fit_recording(MultinomialLogit(penalty=penalty, tol=1e-10), X, y)
        model, caught = fit_recording(MultinomialLogit(penalty=penalty, tol=1e-10), X * s, y)
        assert not caught and not ref_caught
        assert model.converged_
        assert np.all(model.coef_[1:] != 0)
        assert_allclose(model.coef_ * s, ref.coef_, rtol=1e-6, atol=1e-9)
        assert_allclose(model.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
        assert_allclose(model.predict_proba(X * s), ref.predict_proba(X), atol=1e-9)
        se, se_ref = model.coef_table()["std_err"], ref.coef_table()["std_err"]
        factor = np.tile(np.r_[1.0, 1.0 / s], 2)
        assert_allclose(se.to_numpy(), se_ref.to_numpy() * factor, rtol=1e-6)
        assert_allclose(model.loglik_, ref.loglik_, rtol=1e-10)

    def test_ridge_on_a_tiny_column_solves_its_own_objective(self, data) -> None:
        """A ridge penalty on a column at 1e-150 shrinks its coefficient to ~1e-149 (the
        penalty is on the original scale, as in scikit-learn). Its value is known: the
        column has no effect on the fit, so the stationarity condition gives
        ``W_jk = sum_i x_ij (y_ik - p_ik) / (S * alpha)`` with p from the fit without it."""
        X, y, _ = data
        Xs = X.copy()
        Xs[:, 1] *= 1e-150
        model = MultinomialLogit(penalty="l2", tol=1e-12).fit(Xs, y)
        rest = MultinomialLogit(penalty="l2", tol=1e-12).fit(X[:, [0, 2]], y)
        S, alpha = y.size, 1.0 / y.size
        R = np.eye(3)[y] - rest.predict_proba(X[:, [0, 2]])
        assert model.reference_ is None  # symmetric form: the formula above holds per class
        assert_allclose(model.coef_[:, 1], Xs[:, 1] @ R / (S * alpha), rtol=1e-6)
        assert np.all(model.coef_[:, 1] != 0)
        assert_allclose(model.coef_[:, [0, 2]], rest.coef_, atol=1e-9)

    @pytest.mark.parametrize(
        ("solver", "sparse"),
        [("auto", True), ("lbfgs", False)],
    )
    def test_ridge_with_a_tiny_column_on_every_solver(self, data, solver, sparse) -> None:
        """Sparse X (solver "auto" picks Newton-CG) or an explicit first-order solver must
        give the ridge fit too, or a clear error — not the starting point (all
        coefficients 0) with a ConvergenceWarning and a RuntimeWarning from inside CG."""
        X, y, _ = data
        Xs = X * np.array([1.0, 1e-150, 1.0])
        ref = MultinomialLogit(penalty="l2", solver="newton", tol=1e-12).fit(Xs, y)
        Xin = sp.csr_matrix(Xs) if sparse else Xs
        model = MultinomialLogit(penalty="l2", solver=solver, max_iter=20000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Xin, y)
        assert np.abs(model.coef_[:, [0, 2]]).max() > 0.1
        assert_allclose(model.predict_proba(Xs), ref.predict_proba(Xs), atol=1e-5)
        assert_allclose(model.coef_[:, [0, 2]], ref.coef_[:, [0, 2]], rtol=1e-3, atol=1e-5)


# ============================================================================ 2. separation


INFERENCE_CALLS = {
    "coef_table": lambda m, X, y: m.coef_table(),
    "coef_table_rrr": lambda m, X, y: m.coef_table(exponentiate=True),
    "cov_params": lambda m, X, y: m.cov_params(),
    "wald_test": lambda m, X, y: m.wald_test(m.fitted_.term_names[1]),
    "marginal_effects": lambda m, X, y: m.marginal_effects(X),
    "predict_interval": lambda m, X, y: m.predict_interval(X),
    "summary": lambda m, X, y: m.summary(),
    "compute_covariance": lambda m, X, y: m.compute_covariance(X, y),
    "compute_covariance_robust": lambda m, X, y: m.compute_covariance(X, y, cov_type="robust"),
    "term_tests": lambda m, X, y: m.term_tests(X, y),
}


@pytest.fixture(scope="module")
def separated():
    X, y = customer_risk()
    model, caught = fit_recording(MultinomialLogit(), X, y)
    return model, caught, X, y


def quasi_separated_data():
    """Binary predictor ``vip`` that is 1 only for class 'gold' (the classic
    quasi-complete case); the other classes overlap."""
    rng = np.random.default_rng(7)
    n = 60
    x = rng.standard_normal(n)
    y = np.array(["bronze", "silver", "gold"])[np.arange(n) % 3]
    vip = np.zeros(n)
    vip[(y == "gold") & (np.arange(n) % 2 == 0)] = 1.0
    return pd.DataFrame({"x": x, "vip": vip}), y


class TestCompleteSeparation:
    def test_customer_risk_is_reported_as_complete(self, separated) -> None:
        model, caught, _, _ = separated
        msgs = of_type(caught, SeparationWarning)
        assert len(msgs) == 1
        msg = msgs[0]
        assert msg.startswith("Complete separation")
        for pair in ("'high' vs 'low'", "'high' vs 'medium'", "'low' vs 'medium'"):
            assert pair in msg
        assert re.search(r"Predictors involved: .*age.*income", msg)
        assert "penalty='l2'" in msg and "penalty='firth'" in msg
        assert model.separation_ is not None
        assert model.separation_.kind == "complete"
        assert set(model.separation_.involved) >= {"age", "income"}
        assert "separated" in model.cov_status_

    @pytest.mark.parametrize("call", sorted(INFERENCE_CALLS))
    def test_inference_refuses(self, separated, call) -> None:
        model, _, X, y = separated
        with pytest.raises(SeparationError) as info:
            INFERENCE_CALLS[call](model, X, y)
        msg = str(info.value)
        assert "separation" in msg.lower() and "firth" in msg

    def test_refusal_survives_reference_switch(self, separated) -> None:
        model, _, _, _ = separated
        other = model.with_reference("medium")
        assert other.separation_ is model.separation_ or other.separation_ is not None
        with pytest.raises(SeparationError):
            other.coef_table()

    def test_prediction_still_works_and_classifies_perfectly(self, separated) -> None:
        model, _, X, y = separated
        assert_array_equal(model.predict(X), y)
        P = model.predict_proba(X)
        assert np.all(np.isfinite(P)) and and_allclose_rows(P)

    def test_loaded_model_still_refuses(self, separated, tmp_path) -> None:
        model, _, _, _ = separated
        model.save(tmp_path / "sep.mnlogit")
        loaded = mnlogit.load(tmp_path / "sep.mnlogit")
        with pytest.raises(InferenceUnavailableError, match="separated"):
            loaded.coef_table()

    @pytest.mark.parametrize("penalty", ["l2", "firth"])
    def test_penalized_fits_are_not_refused(self, penalty) -> None:
        X, y = customer_risk()
        model, caught = fit_recording(MultinomialLogit(penalty=penalty), X, y)
        assert not of_type(caught, SeparationWarning)
        assert model.separation_ is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = model.coef_table()
        assert np.all(np.isfinite(table.to_numpy()))
        assert np.abs(model.coef_).max() < 50


class TestQuasiCompleteSeparation:
    def test_binary_indicator_reported_with_class_and_predictor(self) -> None:
        X, y = quasi_separated_data()
        model, caught = fit_recording(MultinomialLogit(), X, y)
        msgs = of_type(caught, SeparationWarning)
        assert len(msgs) == 1
        msg = msgs[0]
        assert msg.startswith("Quasi-complete separation")
        assert "'gold'" in msg and "vip" in msg
        assert "penalty='firth'" in msg
        assert model.separation_.kind == "quasi-complete"
        assert "vip" in model.separation_.involved
        for call in ("coef_table", "summary", "marginal_effects", "wald_test"):
            with pytest.raises(SeparationError):
                INFERENCE_CALLS[call](model, X, y)

    def test_formula_names_are_used(self) -> None:
        X, y = quasi_separated_data()
        frame = X.assign(tier=y, vip=np.where(X["vip"] > 0, "yes", "no"))
        model, caught = fit_recording(MultinomialLogit(formula="tier ~ x + C(vip)"), frame)
        msgs = of_type(caught, SeparationWarning)
        assert msgs and "C(vip)[T.yes]" in msgs[0]
        assert "C(vip)[T.yes]" in model.separation_.involved

    def test_overlapping_data_is_not_flagged(self, data) -> None:
        X, y, _ = data
        model, caught = fit_recording(MultinomialLogit(), X, y)
        assert model.separation_ is None and not caught
        assert np.all(np.isfinite(model.coef_table().to_numpy()))


# ============================================================================ 3. collinearity


def collinear_variants(X: np.ndarray) -> dict[str, np.ndarray]:
    """An extra 4th column that is not identified, in several guises."""
    rng = np.random.default_rng(3)
    return {
        "duplicate": X[:, 1],
        "combination": 2.0 * X[:, 0] - X[:, 2] + 5.0,
        "constant": np.full(X.shape[0], 3.5),
        "zero": np.zeros(X.shape[0]),
        "numerical": X[:, 0] + 1e-10 * rng.standard_normal(X.shape[0]),
        "huge_scale_duplicate": 1e120 * X[:, 2],
    }


@pytest.fixture(scope="module")
def full_rank_fit(data):
    X, y, _ = data
    return MultinomialLogit(tol=1e-10).fit(X, y)


class TestCollinearColumns:
    @pytest.mark.parametrize("kind", list(collinear_variants(np.zeros((2, 3)))))
    def test_dropped_named_and_not_estimable(self, data, full_rank_fit, kind) -> None:
        X, y, _ = data
        Xc = np.column_stack([X, collinear_variants(X)[kind]])
        model, caught = fit_recording(MultinomialLogit(tol=1e-10), Xc, y)
        msgs = of_type(caught, CollinearityWarning)
        assert len(msgs) == 1 and len(caught) == 1
        assert "'x3'" in msgs[0] and "dropped" in msgs[0]
        assert model.collinearity_.aliased == ("x3",)
        ref = full_rank_fit
        # coef_: 0 for the aliased column, the identified model's values elsewhere
        assert_array_equal(model.coef_[:, 3], 0.0)
        assert_allclose(model.coef_[:, :3], ref.coef_, atol=1e-8)
        # predictions equal those of the fit without the column
        assert_allclose(model.predict_proba(Xc), ref.predict_proba(X), atol=1e-10)
        # tables: NaN, never a finite standard error
        table = model.coef_table()
        aliased = table.xs("x3", level="term")
        assert aliased.isna().all().all()
        kept = table.drop(index="x3", level="term")
        assert_allclose(kept.to_numpy(), ref.coef_table().to_numpy(), rtol=1e-6, atol=1e-9)
        cov = model.cov_params()
        assert cov.xs("x3", level="term").isna().all().all()
        assert cov.xs("x3", level="term", axis=1).isna().all().all()
        kept_cov = cov.drop(index="x3", level="term").drop(columns="x3", level="term")
        assert np.isfinite(kept_cov.to_numpy()).all()
        assert "Not estimable" in str(model.summary()) and "x3" in str(model.summary())

    def test_other_inference_methods(self, data, full_rank_fit) -> None:
        X, y, _ = data
        Xc = np.column_stack([X, X[:, 0] + X[:, 1]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollinearityWarning)
            model = MultinomialLogit(tol=1e-10).fit(Xc, y)
        ref = full_rank_fit
        effects = model.marginal_effects(Xc)
        assert effects.xs("x3", level="term").isna().all().all()
        assert_allclose(
            effects.drop(index="x3", level="term").to_numpy(),
            ref.marginal_effects(X).to_numpy(),
            rtol=1e-6,
            atol=1e-9,
        )
        lo, hi = model.predict_interval(Xc)
        lo_ref, hi_ref = ref.predict_interval(X)
        assert_allclose(lo, lo_ref, atol=1e-8)
        assert_allclose(hi, hi_ref, atol=1e-8)
        assert_allclose(model.wald_test("x0").statistic, ref.wald_test("x0").statistic, rtol=1e-6)
        with pytest.raises(InvalidInputError, match="aliased"):
            model.wald_test("x3")
        with pytest.raises(InvalidInputError, match="aliased"):
            model.wald_test("[1]x3 = 0")
        other = model.with_reference(2)
        assert other.coef_table().xs("x3", level="term").isna().all().all()
        robust = model.compute_covariance(Xc, y, cov_type="robust").coef_table()
        assert robust.xs("x3", level="term").isna().all().all()
        assert np.isfinite(robust.drop(index="x3", level="term").to_numpy()).all()

    def test_term_tests_with_an_aliased_column(self, data, full_rank_fit) -> None:
        """term_tests(X, y) refits without each term; on a design with an aliased column it
        must still answer (NaN for the aliased term, the identified model's tests for the
        others) instead of failing inside lr_test."""
        X, y, _ = data
        Xc = np.column_stack([X, X[:, 0] + X[:, 1]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollinearityWarning)
            model = MultinomialLogit(tol=1e-10).fit(Xc, y)
            tests = model.term_tests(Xc, y)
        ref = full_rank_fit.term_tests(X, y)
        assert tests.loc["x3"].isna().all()
        assert_allclose(tests.loc[["x0", "x1", "x2"]].to_numpy(), ref.to_numpy(), rtol=1e-6)

    def test_save_load_keeps_aliased_columns_not_estimable(self, data, tmp_path) -> None:
        """A model file must not turn a non-estimable coefficient into 0 +- 0."""
        X, y, _ = data
        Xc = np.column_stack([X, X[:, 0] + X[:, 1]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollinearityWarning)
            model = MultinomialLogit().fit(Xc, y)
        model.save(tmp_path / "alias.mnlogit")
        loaded = mnlogit.load(tmp_path / "alias.mnlogit")
        assert_array_equal(loaded.predict_proba(Xc), model.predict_proba(Xc))
        table = loaded.coef_table()
        assert table.xs("x3", level="term")["std_err"].isna().all(), table
        pd.testing.assert_frame_equal(table, model.coef_table())

    def test_dummy_trap_after_formula_expansion(self) -> None:
        rng = np.random.default_rng(5)
        n = 150
        X, y, _ = make_data(n=n, p=2, K=3, seed=5)
        region = rng.choice(["east", "north", "south"], n)
        frame = pd.DataFrame(
            {
                "x0": X[:, 0],
                "x1": X[:, 1],
                "region": region,
                "north_indicator": (region == "north").astype(float),
                "y": y,
            }
        )
        model, caught = fit_recording(
            MultinomialLogit(formula="y ~ x0 + x1 + C(region) + north_indicator"), frame
        )
        msgs = of_type(caught, CollinearityWarning)
        assert len(msgs) == 1
        assert "'north_indicator' = 1*C(region)[T.north]" in msgs[0]
        assert model.collinearity_.aliased == ("north_indicator",)
        ref = MultinomialLogit(formula="y ~ x0 + x1 + C(region)").fit(frame)
        assert_allclose(model.predict_proba(frame), ref.predict_proba(frame), atol=1e-10)
        table = model.coef_table()
        assert table.xs("north_indicator", level="term").isna().all().all()
        assert_allclose(
            table.drop(index="north_indicator", level="term").to_numpy(),
            ref.coef_table().to_numpy(),
            rtol=1e-6,
            atol=1e-9,
        )

    def test_collinear_only_on_positive_weight_rows(self, data, full_rank_fit) -> None:
        """Rows with weight zero are not data: a column that equals another on all the
        weighted rows is aliased even if it differs on zero-weight rows."""
        X, y, _ = data
        extra = X[:, 2].copy()
        Xc = np.column_stack([np.vstack([X, X[:4]]), np.r_[extra, [9.0, -9.0, 4.0, 1.0]]])
        Xc[: y.size, 3] = X[:, 2]
        yc = np.r_[y, y[:4]]
        w = np.r_[np.ones(y.size), np.zeros(4)]
        model, caught = fit_recording(MultinomialLogit(tol=1e-10), Xc, yc, sample_weight=w)
        assert model.collinearity_.aliased == ("x3",)
        assert len(of_type(caught, CollinearityWarning)) == 1
        assert_allclose(model.coef_[:, :3], full_rank_fit.coef_, atol=1e-8)

    def test_firth_drops_aliased_columns_too(self, data) -> None:
        X, y, _ = data
        X = X[:40]
        y = y[:40]
        Xc = np.column_stack([X, X[:, 1]])
        model, caught = fit_recording(MultinomialLogit(penalty="firth"), Xc, y)
        assert of_type(caught, CollinearityWarning)
        ref = MultinomialLogit(penalty="firth").fit(X, y)
        assert_allclose(model.predict_proba(Xc), ref.predict_proba(X), atol=1e-9)
        assert model.coef_table().xs("x3", level="term").isna().all().all()

    def test_ridge_keeps_every_column(self, data) -> None:
        """A ridge penalty identifies the coefficients: nothing is dropped and two equal
        columns share the effect equally."""
        X, y, _ = data
        Xc = np.column_stack([X, X[:, 1]])
        model, caught = fit_recording(MultinomialLogit(penalty="l2", tol=1e-12), Xc, y)
        assert not of_type(caught, CollinearityWarning)
        assert model.collinearity_ is None
        assert_allclose(model.coef_[:, 1], model.coef_[:, 3], atol=1e-8)
        assert np.all(model.coef_[:, 3] != 0)
