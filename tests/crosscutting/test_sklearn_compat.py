"""``MultinomialLogit`` as a scikit-learn estimator: the official checks, pipelines, search."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as _log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from helpers import make_data
from mnlogit import MultinomialLogit

# check_sample_weight_equivalence_* fits 15 rows with 30 features: the classes are
# linearly separable, so the unpenalized maximum-likelihood estimate does not exist
# (the log-likelihood rises towards 0 as the coefficients grow without bound). An
# unpenalized MultinomialLogit therefore refuses the fit (p + 1 >= n) with an error
# saying so, and the check cannot run. The penalized instances pass the same check, and
# test_estimator.py checks weights against repeated rows on data where the optimum
# exists. test_separation_in_weight_check_data below verifies that this reason holds.
_SEPARABLE = (
    "unpenalized MLE does not exist on this check's data (15 samples, 30 features: "
    "linearly separable), so an unpenalized fit refuses it (p + 1 >= n)"
)


def _expected_failed_checks(estimator):
    if estimator.penalty is None:
        return {
            "check_sample_weight_equivalence_on_dense_data": _SEPARABLE,
            "check_sample_weight_equivalence_on_sparse_data": _SEPARABLE,
        }
    return {}


@parametrize_with_checks(
    [
        MultinomialLogit(),
        MultinomialLogit(penalty="l2"),
        MultinomialLogit(penalty="l2", alpha=0.1, reference="first"),
        MultinomialLogit(reference="last", solver="newton-cg"),
        MultinomialLogit(solver="irls"),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _weight_check_data():
    """The data scikit-learn's sample-weight-equivalence check uses (sklearn 1.9)."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    return X, y


def test_separation_in_weight_check_data():
    X, y = _weight_check_data()
    with pytest.raises(ValueError, match="no maximum-likelihood estimate"):
        MultinomialLogit().fit(X, y)
    # The reason holds: with the columns reduced below n (10 of 30) the classes are
    # still separated, and the unpenalized fit runs off to a perfect fit.
    X = X[:, :10]
    model = MultinomialLogit().fit(X, y)
    # Perfect fit: log-likelihood at 0 and every training point predicted with P ~ 1.
    assert model.loglik_ > -1e-4
    assert_array_equal(model.predict(X), y)
    # Looser tolerance -> different (smaller) coefficients, so no unique answer exists.
    loose = MultinomialLogit(tol=1e-4).fit(X, y)
    assert np.abs(model.coef_).max() > 1.5 * np.abs(loose.coef_).max()


@pytest.fixture(scope="module")
def data():
    return make_data(n=300, p=4, K=3, seed=11)


def test_pipeline_in_grid_search(data):
    X, y, _ = data
    X = X * np.array([1.0, 100.0, 0.01, 5.0])  # scales that StandardScaler must undo
    pipe = Pipeline([("scale", StandardScaler()), ("clf", MultinomialLogit(penalty="l2"))])
    grid = {"clf__alpha": [1e-4, 1e-2, 1.0]}
    search = GridSearchCV(pipe, grid, cv=3, scoring="neg_log_loss").fit(X, y)
    assert search.best_params_["clf__alpha"] in grid["clf__alpha"]
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    # a huge penalty shrinks towards the class frequencies and must score worst
    assert scores[2] < scores[0]
    best = search.best_estimator_
    assert best.named_steps["clf"].alpha == search.best_params_["clf__alpha"]
    P = search.predict_proba(X)
    assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert set(search.predict(X)) <= set(np.unique(y))
    assert search.score(X, y) == pytest.approx(-_log_loss(y, best.predict_proba(X)))


def test_cross_val_score_with_string_labels(data):
    X, y, _ = data
    labels = np.array(["no", "maybe", "yes"])[y]
    scores = cross_val_score(make_pipeline(StandardScaler(), MultinomialLogit()), X, labels, cv=4)
    assert scores.shape == (4,)
    assert np.all((scores > 0.4) & (scores <= 1.0))


def test_get_set_params_clone_round_trip():
    params = dict(
        reference="last",
        penalty="l2",
        alpha=0.3,
        solver="lbfgs",
        tol=1e-6,
        max_iter=77,
        criterion="loglik",
        fit_intercept=False,
        class_weight={0: 2.0},
        warm_start=True,
        verbose=0,
    )
    model = MultinomialLogit(**params)
    got = model.get_params()
    assert {k: got[k] for k in params} == params
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == got
    assert copy.class_weight is not model.class_weight  # deep copy of mutable params
    default = MultinomialLogit()
    assert default.set_params(**params) is default
    assert default.get_params() == got
    assert set(got) == set(MultinomialLogit().get_params())
    assert repr(MultinomialLogit(penalty="l2")) == "MultinomialLogit(penalty='l2')"


def test_clone_of_fitted_is_unfitted(data):
    X, y, _ = data
    model = MultinomialLogit().fit(X, y)
    copy = clone(model)
    assert not hasattr(copy, "coef_")
    copy.fit(X, y)
    assert_allclose(copy.coef_, model.coef_)


def test_l2_equals_logistic_regression(data):
    # docs/model.md: alpha = 1/(C S) makes the symmetric L2 fit equal LogisticRegression(C).
    X, y, _ = data
    w = np.random.default_rng(0).integers(1, 4, size=y.size).astype(float)
    for C in (0.05, 1.0):
        ours = MultinomialLogit(penalty="l2", alpha=1.0 / (C * w.sum())).fit(X, y, w)
        theirs = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)
        assert_allclose(ours.coef_, theirs.coef_, atol=1e-6)
        assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-6)
        assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-7)
    default = MultinomialLogit(penalty="l2").fit(X, y)
    lr = LogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    assert_allclose(default.coef_, lr.coef_, atol=1e-6)
