"""Behaviour of the ``MultinomialLogit`` estimator: its public face, not the solvers' internals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn.exceptions
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils.class_weight import compute_class_weight

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning, InvalidInputError

COEF_TOL = dict(rtol=1e-7, atol=1e-9)


@pytest.fixture(scope="module")
def data():
    return make_data(n=400, p=3, K=3, seed=0)


def fit(X, y, **kwargs):
    sample_weight = kwargs.pop("sample_weight", None)
    return MultinomialLogit(**kwargs).fit(X, y, sample_weight=sample_weight)


# ----------------------------------------------------------------------------- worked example


class TestWorkedExample:
    """The seed article's worked example, reproduced to the digits the article prints.

    Provenance: the article that started this project (multinomial logistic regression,
    "worked example" section). Reference class "low"; for (intercept, age, income)
    medium = (0.5, 0.1, -0.05) and high = (1.2, 0.15, -0.08). For age 25 and income 30:
    eta_medium = 0.5 + 2.5 - 1.5 = 1.5, eta_high = 1.2 + 3.75 - 2.4 = 2.55, and
    P(low, medium, high) = (0.055, 0.245, 0.700).
    """

    @pytest.fixture
    def model(self):
        return MultinomialLogit.from_coefficients(
            classes=["low", "medium", "high"],
            intercept=[0.5, 1.2],
            coef=[[0.1, -0.05], [0.15, -0.08]],
            reference="low",
        )

    def test_linear_predictors(self, model):
        x = np.array([[25.0, 30.0]])
        eta = pd.Series(model.linear_predictor(x)[0], index=model.classes_)
        assert eta["low"] == 0.0
        assert eta["medium"] == pytest.approx(1.5, abs=1e-12)
        assert eta["high"] == pytest.approx(2.55, abs=1e-12)

    def test_probabilities_and_prediction(self, model):
        x = np.array([[25.0, 30.0]])
        prob = pd.Series(model.predict_proba(x)[0], index=model.classes_)
        assert prob.round(3).to_dict() == {"high": 0.700, "low": 0.055, "medium": 0.245}
        assert prob.sum() == pytest.approx(1.0, abs=1e-15)
        assert model.predict(x).tolist() == ["high"]

    def test_fitted_layout(self, model):
        assert model.classes_.tolist() == ["high", "low", "medium"]
        assert model.reference_ == "low"
        assert_allclose(model.intercept_, [1.2, 0.0, 0.5])
        assert_allclose(model.coef_, [[0.15, -0.08], [0.0, 0.0], [0.1, -0.05]])
        assert model.n_features_in_ == 2

    def test_feature_names_and_dataframe(self):
        model = MultinomialLogit.from_coefficients(
            ["low", "medium", "high"],
            [0.5, 1.2],
            [[0.1, -0.05], [0.15, -0.08]],
            reference="low",
            feature_names=["age", "income"],
        )
        assert model.feature_names_in_.tolist() == ["age", "income"]
        x = pd.DataFrame({"age": [25.0], "income": [30.0]})
        assert_allclose(model.predict_proba(x).round(3), [[0.700, 0.055, 0.245]])

    def test_full_rows_reexpressed_against_reference(self):
        # Adding the same vector to every class leaves the model unchanged; with K rows
        # and a reference the coefficients are re-expressed (reference row subtracted).
        shift_b, shift_w = 3.0, np.array([-1.0, 2.0])
        model = MultinomialLogit.from_coefficients(
            ["low", "medium", "high"],
            [0.0 + shift_b, 0.5 + shift_b, 1.2 + shift_b],
            [shift_w, np.array([0.1, -0.05]) + shift_w, np.array([0.15, -0.08]) + shift_w],
            reference="low",
        )
        assert_allclose(model.intercept_, [1.2, 0.0, 0.5], atol=1e-12)
        assert_allclose(model.coef_, [[0.15, -0.08], [0.0, 0.0], [0.1, -0.05]], atol=1e-12)
        symmetric = MultinomialLogit.from_coefficients(
            ["low", "medium", "high"],
            [0.0, 0.5, 1.2],
            [[0.0, 0.0], [0.1, -0.05], [0.15, -0.08]],
        )
        assert symmetric.reference_ is None
        assert_allclose(symmetric.coef_.sum(axis=0), 0.0, atol=1e-12)
        assert_allclose(symmetric.intercept_.sum(), 0.0, atol=1e-12)
        x = np.array([[25.0, 30.0], [40.0, 10.0]])
        assert_allclose(symmetric.predict_proba(x), model.predict_proba(x), atol=1e-14)

    def test_bad_from_coefficients(self):
        with pytest.raises(InvalidInputError, match="reference"):
            MultinomialLogit.from_coefficients(["a", "b", "c"], [0.5, 1.2], [[1.0], [2.0]])
        with pytest.raises(InvalidInputError, match="'z'"):
            MultinomialLogit.from_coefficients(
                ["a", "b", "c"], [0.5, 1.2], [[1.0], [2.0]], reference="z"
            )
        with pytest.raises(InvalidInputError, match="rows"):
            MultinomialLogit.from_coefficients(["a", "b", "c"], [0.5], [[1.0]], reference="a")


# ----------------------------------------------------------------------------- weights


class TestFrequencyWeights:
    def test_integer_weights_equal_duplicated_rows(self, data):
        X, y, _ = data
        w = np.random.default_rng(1).integers(0, 4, size=y.size)
        weighted = fit(X, y, sample_weight=w)
        repeated = fit(np.repeat(X, w, axis=0), np.repeat(y, w))
        assert_allclose(weighted.coef_, repeated.coef_, **COEF_TOL)
        assert_allclose(weighted.intercept_, repeated.intercept_, **COEF_TOL)
        for name in ("loglik_", "loglik_null_", "deviance_", "aic_", "bic_", "pseudo_r2_"):
            assert getattr(weighted, name) == pytest.approx(getattr(repeated, name), rel=1e-10)
        assert weighted.nobs_ == repeated.nobs_ == w.sum()
        assert weighted.n_params_ == repeated.n_params_ == 8

    def test_zero_weight_equals_dropping_row(self, data):
        X, y, _ = data
        w = np.ones(y.size)
        w[::7] = 0.0
        keep = w > 0
        weighted = fit(X, y, sample_weight=w)
        dropped = fit(X[keep], y[keep])
        assert_allclose(weighted.coef_, dropped.coef_, **COEF_TOL)
        assert_allclose(weighted.intercept_, dropped.intercept_, **COEF_TOL)
        assert weighted.loglik_ == pytest.approx(dropped.loglik_, rel=1e-12)
        assert weighted.bic_ == pytest.approx(dropped.bic_, rel=1e-12)
        assert weighted.nobs_ == keep.sum()

    def test_scaling_all_weights_keeps_coefficients_and_scales_loglik(self, data):
        X, y, _ = data
        base = fit(X, y)
        scaled = fit(X, y, sample_weight=np.full(y.size, 2.5))
        assert_allclose(scaled.coef_, base.coef_, **COEF_TOL)
        assert scaled.loglik_ == pytest.approx(2.5 * base.loglik_, rel=1e-12)
        assert scaled.nobs_ == pytest.approx(2.5 * y.size)

    def test_class_weight_dict_equals_multiplied_sample_weights(self, data):
        X, y, _ = data
        labels = np.array(["a", "b", "c"])[y]
        cw = {"a": 2.0, "b": 0.5, "c": 1.5}
        sw = np.random.default_rng(2).uniform(0.5, 2.0, size=y.size)
        with_cw = fit(X, labels, class_weight=cw, sample_weight=sw)
        by_hand = fit(X, labels, sample_weight=sw * np.array([cw[c] for c in labels]))
        assert_allclose(with_cw.coef_, by_hand.coef_, **COEF_TOL)
        assert with_cw.loglik_ == pytest.approx(by_hand.loglik_, rel=1e-12)
        assert with_cw.nobs_ == pytest.approx(by_hand.nobs_, rel=1e-12)

    def test_partial_class_weight_dict_defaults_to_one(self, data):
        X, y, _ = data
        with_cw = fit(X, y, class_weight={1: 3.0})
        by_hand = fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
        assert_allclose(with_cw.coef_, by_hand.coef_, **COEF_TOL)

    @pytest.mark.parametrize("with_sample_weight", [False, True])
    def test_balanced_as_compute_class_weight(self, data, with_sample_weight):
        X, y, _ = data
        classes = np.unique(y)
        sw = np.random.default_rng(3).integers(1, 4, size=y.size).astype(float)
        if with_sample_weight:
            cw = compute_class_weight("balanced", classes=classes, y=y, sample_weight=sw)
            balanced = fit(X, y, class_weight="balanced", sample_weight=sw)
            by_hand = fit(X, y, sample_weight=sw * cw[y])
        else:
            cw = compute_class_weight("balanced", classes=classes, y=y)
            balanced = fit(X, y, class_weight="balanced")
            by_hand = fit(X, y, sample_weight=cw[y])
        assert not np.allclose(cw, 1.0)  # the classes really are unbalanced
        assert_allclose(balanced.coef_, by_hand.coef_, **COEF_TOL)
        assert_allclose(balanced.intercept_, by_hand.intercept_, **COEF_TOL)
        assert balanced.nobs_ == pytest.approx(by_hand.nobs_, rel=1e-12)


# ----------------------------------------------------------------------------- labels


def _labelings(y):
    names = np.array(["beta", "alpha", "gamma"])
    return {
        "str": names[y],
        "int": y,
        "negative_int": y * 3 - 7,
        "float": y.astype(float) - 1.0,
        "object_str": names[y].astype(object),
        "categorical": pd.Categorical(names[y]),
        "ordered_categorical": pd.Series(
            pd.Categorical(names[y], categories=["gamma", "beta", "alpha"], ordered=True)
        ),
        "string_series": pd.Series(names[y], dtype="string"),
    }


class TestLabels:
    @pytest.mark.parametrize(
        "kind",
        [
            "str",
            "int",
            "negative_int",
            "float",
            "object_str",
            "categorical",
            "ordered_categorical",
            "string_series",
        ],
    )
    def test_label_types(self, data, kind):
        X, y, _ = data
        labels = _labelings(y)[kind]
        plain = np.asarray(labels)
        model = fit(X, labels)
        expected = np.unique(plain)
        if kind == "ordered_categorical":  # category order, as R and Stata (issue 17)
            expected = np.asarray(["gamma", "beta", "alpha"], dtype=object)
        else:
            assert list(model.classes_) == sorted(model.classes_)
        assert model.classes_.tolist() == expected.tolist()
        pred = model.predict(X)
        assert set(pred.tolist()) <= set(expected.tolist())
        assert {type(v) for v in pred.tolist()} == {type(expected.tolist()[0])}
        # Same model as the integer-coded fit once columns are matched by label.
        reference = fit(X, y)
        code_of = {lab: int(np.flatnonzero(plain == lab)[0]) for lab in expected}
        order = [y[code_of[lab]] for lab in model.classes_]
        assert_allclose(model.predict_proba(X), reference.predict_proba(X)[:, order], atol=1e-10)
        # Predictions map back to the integer fit's predictions.
        back = {lab: y[code_of[lab]] for lab in expected}
        assert_array_equal([back[v] for v in pred.tolist()], reference.predict(X))

    def test_bool_labels(self, data):
        X, y, _ = data
        keep = y < 2
        yb = y[keep] == 1
        model = fit(X[keep], yb)
        assert model.classes_.tolist() == [False, True]
        assert model.classes_.dtype == bool
        assert model.predict(X[:5]).dtype == bool
        assert model.reference_ is not None and not model.reference_  # False, the first class
        assert model.decision_function(X[:5]).shape == (5,)
        other = fit(X[keep], yb, reference=True)
        assert_allclose(other.coef_[1], 0.0)
        assert_allclose(other.predict_proba(X), model.predict_proba(X), atol=1e-10)

    def test_non_integer_float_labels_refused_like_sklearn(self, data):
        # scikit-learn's convention (check_classifiers_regression_target): a continuous y
        # is a regression target, not labels.
        X, y, _ = data
        with pytest.raises(ValueError, match="Unknown label type"):
            fit(X, y + 0.5)

    def test_order_preserving_relabel_gives_identical_coefficients(self, data):
        X, y, _ = data
        a = fit(X, y)
        b = fit(X, np.array(["c1", "c2", "c3"])[y])
        c = fit(X, np.array([-10, 0, 99])[y])
        assert_array_equal(a.coef_, b.coef_)
        assert_array_equal(a.intercept_, b.intercept_)
        assert_array_equal(a.coef_, c.coef_)
        assert a.loglik_ == b.loglik_ == c.loglik_

    def test_order_changing_relabel_permutes_probability_columns(self, data):
        X, y, _ = data
        mapping = np.array(["zeta", "alpha", "mu"])  # code 0 -> "zeta" sorts last
        a = fit(X, y)
        b = fit(X, mapping[y])
        assert b.classes_.tolist() == ["alpha", "mu", "zeta"]
        order = [1, 2, 0]  # columns of `a` in the order of b.classes_
        assert_allclose(b.predict_proba(X), a.predict_proba(X)[:, order], atol=1e-10)
        assert b.loglik_ == pytest.approx(a.loglik_, rel=1e-12)
        assert_array_equal(b.predict(X), mapping[a.predict(X)])


# ----------------------------------------------------------------------------- reference class


class TestReference:
    @pytest.mark.parametrize(
        ("reference", "expected"),
        [("auto", "a"), ("first", "a"), ("last", "c"), ("b", "b"), (None, None)],
    )
    def test_reference_choices_give_same_probabilities(self, data, reference, expected):
        X, y, _ = data
        labels = np.array(["a", "b", "c"])[y]
        base = fit(X, labels)
        model = fit(X, labels, reference=reference)
        assert model.reference_ == expected
        if expected is None:
            assert_allclose(model.coef_.sum(axis=0), 0.0, atol=1e-12)
            assert model.intercept_.sum() == pytest.approx(0.0, abs=1e-12)
        else:
            row = model.classes_.tolist().index(expected)
            assert np.all(model.coef_[row] == 0.0)
            assert model.intercept_[row] == 0.0
        assert_allclose(model.predict_proba(X), base.predict_proba(X), atol=1e-10)
        assert model.loglik_ == pytest.approx(base.loglik_, rel=1e-12)
        assert model.aic_ == pytest.approx(base.aic_, rel=1e-12)

    def test_coefficients_are_differences_against_reference(self, data):
        X, y, _ = data
        first = fit(X, y, reference=0)
        last = fit(X, y, reference=2)
        assert_allclose(last.coef_, first.coef_ - first.coef_[2], atol=1e-9)
        assert_allclose(last.intercept_, first.intercept_ - first.intercept_[2], atol=1e-9)

    def test_integer_reference_label(self, data):
        X, y, _ = data
        model = fit(X, y * 10, reference=np.int64(20))
        assert model.reference_ == 20
        assert np.all(model.coef_[2] == 0.0)

    @pytest.mark.parametrize("bad", ["zz", 7])
    def test_unknown_reference_label(self, data, bad):
        X, y, _ = data
        with pytest.raises(InvalidInputError, match=repr(bad)):
            fit(X, np.array(["a", "b", "c"])[y], reference=bad)

    def test_penalized_default_is_symmetric(self, data):
        X, y, _ = data
        model = fit(X, y, penalty="l2", alpha=0.05)
        assert model.reference_ is None
        assert_allclose(model.coef_.sum(axis=0), 0.0, atol=1e-12)
        assert model.intercept_.sum() == pytest.approx(0.0, abs=1e-12)
        assert np.all(np.abs(model.coef_) > 0)  # no row pinned at zero

    def test_penalized_default_does_not_depend_on_label_names(self, data):
        X, y, _ = data
        mapping = np.array(["zeta", "alpha", "mu"])
        a = fit(X, y, penalty="l2", alpha=0.05)
        b = fit(X, mapping[y], penalty="l2", alpha=0.05)
        assert_allclose(b.predict_proba(X), a.predict_proba(X)[:, [1, 2, 0]], atol=1e-10)


# ----------------------------------------------------------------------------- fit statistics


class TestFitStatistics:
    @pytest.mark.parametrize("weighted", [False, True])
    def test_against_direct_computation(self, data, weighted):
        X, y, _ = data
        sw = np.random.default_rng(5).uniform(0.2, 3.0, size=y.size) if weighted else None
        s = np.ones(y.size) if sw is None else sw
        model = fit(X, y, sample_weight=sw)
        P = model.predict_proba(X)
        loglik = float(np.sum(s * np.log(P[np.arange(y.size), y])))
        totals = np.bincount(y, weights=s)
        S = s.sum()
        loglik_null = float(np.sum(totals * np.log(totals / S)))
        K, p = 3, X.shape[1]
        n_params = (K - 1) * (p + 1)
        assert model.loglik_ == pytest.approx(loglik, rel=1e-10)
        assert model.loglik_null_ == pytest.approx(loglik_null, rel=1e-12)
        assert model.deviance_ == pytest.approx(-2 * loglik, rel=1e-10)
        assert model.n_params_ == n_params
        assert model.nobs_ == pytest.approx(S, rel=1e-14)
        assert model.aic_ == pytest.approx(-2 * loglik + 2 * n_params, rel=1e-10)
        assert model.bic_ == pytest.approx(-2 * loglik + np.log(S) * n_params, rel=1e-10)
        assert model.pseudo_r2_ == pytest.approx(1 - loglik / loglik_null, rel=1e-9)
        assert 0 < model.pseudo_r2_ < 1
        assert model.loglik_ > model.loglik_null_

    def test_null_loglik_is_intercept_only_fit(self, data):
        X, y, _ = data
        model = fit(X, y)
        intercept_only = fit(np.zeros((y.size, 1)), y)
        assert model.loglik_null_ == pytest.approx(intercept_only.loglik_, rel=1e-10)

    def test_without_intercept(self, data):
        X, y, _ = data
        model = fit(X, y, fit_intercept=False)
        assert np.all(model.intercept_ == 0.0)
        assert model.n_params_ == 2 * X.shape[1]
        assert model.loglik_null_ == pytest.approx(-y.size * np.log(3), rel=1e-12)
        P = model.predict_proba(X)
        assert model.loglik_ == pytest.approx(np.log(P[np.arange(y.size), y]).sum(), rel=1e-10)

    def test_convergence_reported(self, data):
        X, y, _ = data
        model = fit(X, y)
        assert bool(model.converged_)
        assert 0 < model.n_iter_ < 50
        assert model.convergence_ is not None


# ----------------------------------------------------------------------------- prediction


class TestPrediction:
    def test_probabilities_valid_and_consistent(self, data):
        X, y, _ = data
        model = fit(X, y)
        P = model.predict_proba(X)
        assert P.shape == (y.size, 3)
        assert np.all((P >= 0) & (P <= 1))
        assert_allclose(P.sum(axis=1), 1.0, atol=1e-14)
        assert_allclose(np.exp(model.predict_log_proba(X)), P, rtol=1e-14)
        assert_array_equal(model.predict(X), model.classes_[P.argmax(axis=1)])
        eta = model.linear_predictor(X)
        assert_allclose(eta, X @ model.coef_.T + model.intercept_, rtol=1e-14)
        assert_array_equal(model.decision_function(X), eta)
        assert model.score(X, y) == pytest.approx(np.mean(model.predict(X) == y))

    def test_huge_inputs_stay_finite(self, data):
        X, y, _ = data
        for model in (fit(X, y), fit(X, y, penalty="l2")):
            big = X * 1e6
            logp = model.predict_log_proba(big)
            assert np.all(np.isfinite(logp))
            assert np.all(logp <= 0.0)
            P = model.predict_proba(big)
            assert np.all(np.isfinite(P))
            assert np.all((P >= 0) & (P <= 1))
            assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
            assert_array_equal(model.predict(big), model.classes_[P.argmax(axis=1)])

    def test_binary_decision_function(self, data):
        X, y, _ = data
        keep = y < 2
        model = fit(X[keep], y[keep])
        eta = model.linear_predictor(X)
        assert eta.shape == (y.size, 2)
        d = model.decision_function(X)
        assert d.shape == (y.size,)
        assert_allclose(d, eta[:, 1] - eta[:, 0], rtol=1e-14)
        P = model.predict_proba(X)
        assert_allclose(d, np.log(P[:, 1] / P[:, 0]), rtol=1e-9, atol=1e-9)

    def test_wrong_number_of_features(self, data):
        X, y, _ = data
        model = fit(X, y)
        with pytest.raises(ValueError, match="features"):
            model.predict(X[:, :2])


# ----------------------------------------------------------------------------- validation


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "match"),
        [
            (dict(penalty="lasso"), "penalty"),
            (dict(penalty="ridge"), "penalty"),
            (dict(solver="sag"), "solver"),
            (dict(criterion="deviance"), "criterion"),
            (dict(tol=0.0), "tol"),
            (dict(tol=-1e-6), "tol"),
            (dict(tol=float("nan")), "tol"),
            (dict(max_iter=0), "max_iter"),
            (dict(max_iter=-5), "max_iter"),
            (dict(max_iter=2.5), "max_iter"),
            (dict(penalty="l2", alpha=-0.1), "alpha"),
            (dict(penalty="l2", alpha=float("inf")), "alpha"),
        ],
    )
    def test_bad_parameters(self, data, params, match):
        X, y, _ = data
        with pytest.raises(InvalidInputError, match=match) as err:
            fit(X, y, **params)
        assert isinstance(err.value, ValueError)
        bad_value = next(iter(v for k, v in params.items() if k == match))
        assert repr(bad_value) in str(err.value) or str(bad_value) in str(err.value)

    def test_one_class(self, data):
        X, _, _ = data
        with pytest.raises(InvalidInputError, match="one class"):
            fit(X, np.full(X.shape[0], "only"))

    def test_all_zero_weights(self, data):
        X, y, _ = data
        with pytest.raises(ValueError, match="zero"):
            fit(X, y, sample_weight=np.zeros(y.size))

    def test_all_zero_after_class_weights(self, data):
        X, y, _ = data
        with pytest.raises(InvalidInputError, match="zero"):
            fit(X, y, class_weight={0: 0.0, 1: 0.0, 2: 0.0})

    @pytest.mark.parametrize(
        ("weights", "match"),
        [
            (lambda n: -np.ones(n), "[Nn]egative"),
            (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
            (lambda n: np.ones(n - 1), "shape"),
        ],
    )
    def test_bad_sample_weights(self, data, weights, match):
        X, y, _ = data
        with pytest.raises(ValueError, match=match):
            fit(X, y, sample_weight=weights(y.size))

    def test_alpha_without_penalty_warns(self, data):
        X, y, _ = data
        with pytest.warns(UserWarning, match="alpha is ignored") as rec:
            model = fit(X, y, alpha=0.5)
        assert rec[0].filename == __file__  # points at the caller
        assert model.alpha_ == 0.0
        assert_allclose(model.coef_, fit(X, y).coef_)

    def test_nonfinite_X(self, data):
        X, y, _ = data
        X = X.copy()
        X[3, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            fit(X, y)

    def test_max_iter_reached_warns_sklearn_convergence_warning(self, data):
        X, y, _ = data
        with pytest.warns(ConvergenceWarning, match="max_iter") as rec:
            model = fit(X, y, max_iter=1)
        assert issubclass(rec[0].category, sklearn.exceptions.ConvergenceWarning)
        assert not model.converged_
        assert model.n_iter_ == 1

    def test_messages_show_plain_labels(self, data):
        # The class list in an error message should read like the user's labels
        # ('a', 'b', 'c'), not numpy reprs (np.str_('a'), np.int64(0)).
        X, y, _ = data
        with pytest.raises(InvalidInputError) as err:
            fit(X, np.array(["a", "b", "c"])[y], reference="zz")
        assert "'a', 'b', 'c'" in str(err.value)
        assert "np." not in str(err.value)
        with pytest.raises(InvalidInputError) as err:
            fit(X, y, reference=5)
        assert "np." not in str(err.value)
        with pytest.raises(InvalidInputError) as err:
            fit(X, np.zeros(y.size))
        assert "np." not in str(err.value)

    @pytest.mark.parametrize("value", ["yes", "False", 2])
    def test_fit_intercept_must_be_bool(self, data, value):
        # A string from a config file must not be silently treated as truthy or crash
        # with an unrelated message.
        X, y, _ = data
        with pytest.raises(InvalidInputError, match="fit_intercept"):
            fit(X, y, fit_intercept=value)


# ----------------------------------------------------------------------------- input types


class TestInputTypes:
    def test_dataframe_keeps_feature_names(self, data):
        X, y, _ = data
        df = pd.DataFrame(X, columns=["age", "income", "educ"])
        model = fit(df, y)
        assert model.feature_names_in_.tolist() == ["age", "income", "educ"]
        assert model.n_features_in_ == 3
        assert_allclose(model.coef_, fit(X, y).coef_, rtol=1e-12, atol=1e-14)
        assert_allclose(model.predict_proba(df), fit(X, y).predict_proba(X), atol=1e-14)
        with pytest.raises(ValueError, match="feature names"):
            model.predict(df[["income", "age", "educ"]])

    def test_array_has_no_feature_names(self, data):
        X, y, _ = data
        model = fit(X, y)
        assert not hasattr(model, "feature_names_in_")
        assert model.n_features_in_ == 3

    @pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
    def test_sparse_equals_dense(self, data, container):
        X, y, _ = data
        X = X.copy()
        X[np.abs(X) < 0.5] = 0.0  # actually sparse
        Xs = container(X)
        dense = fit(X, y)
        # auto picks newton-cg for sparse X: converge it tightly so that the comparison
        # measures sparse-vs-dense, not where a second solver stopped.
        sparse_auto = fit(Xs, y, tol=1e-11)
        assert sparse_auto.solver_ == "newton-cg"
        assert_allclose(sparse_auto.coef_, dense.coef_, rtol=1e-6, atol=1e-7)
        assert_allclose(sparse_auto.predict_proba(Xs), dense.predict_proba(X), atol=1e-8)
        sparse_newton = fit(Xs, y, solver="newton")
        assert_allclose(sparse_newton.coef_, dense.coef_, **COEF_TOL)
        assert_allclose(sparse_newton.intercept_, dense.intercept_, **COEF_TOL)
        assert sparse_newton.loglik_ == pytest.approx(dense.loglik_, rel=1e-12)
        assert_allclose(dense.predict_proba(Xs), dense.predict_proba(X), rtol=1e-14)
        assert_array_equal(sparse_newton.predict(Xs), dense.predict(X))

    def test_sparse_with_weights(self, data):
        X, y, _ = data
        w = np.random.default_rng(7).integers(0, 3, size=y.size)
        a = fit(sp.csr_matrix(X), y, sample_weight=w, solver="newton")
        b = fit(X, y, sample_weight=w)
        assert_allclose(a.coef_, b.coef_, **COEF_TOL)


# ----------------------------------------------------------------------------- state


class TestState:
    def test_warm_start_starts_at_previous_solution(self, data):
        X, y, _ = data
        model = MultinomialLogit(warm_start=True).fit(X, y)
        coef = model.coef_.copy()
        model.fit(X, y)
        assert model.n_iter_ <= 1
        assert_allclose(model.coef_, coef, **COEF_TOL)

    def test_refit_resets_classes(self, data):
        X, y, _ = data
        model = fit(X, y)
        keep = y < 2
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(X[keep], np.array(["p", "q"])[y[keep]])
        assert model.classes_.tolist() == ["p", "q"]
        assert model.coef_.shape == (2, 3)

    def test_unfitted_raises(self, data):
        X, _, _ = data
        from sklearn.exceptions import NotFittedError

        with pytest.raises(NotFittedError):
            MultinomialLogit().predict(X)
