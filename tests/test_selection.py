"""MultinomialLogitCV against cv.glmnet's definitions, recomputed independently here.

The fold scores are recomputed by a plain loop over the splitter's folds: the path of
each fold's training rows on the full-data grid (``mnlogit.regularization_path``), its
probabilities by ``scipy.special.softmax`` and the score by scikit-learn's ``log_loss``
(or ``accuracy_score``). The mean, standard error, ``lambda.min`` and ``lambda.1se`` are
then cv.glmnet's formulas (``cvcompute``, ``cvstats``, ``getOptcv.glmnet`` in glmnet 4.1),
written out below in plain Python.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.base import clone
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    PredefinedSplit,
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from helpers import make_data
from mnlogit import MultinomialLogit, MultinomialLogitCV
from mnlogit.exceptions import InvalidInputError
from mnlogit.path import regularization_path

N_ALPHAS = 12


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    # n = 203: folds of unequal size, so the fold weights of the mean matter
    X, y, _ = make_data(n=203, p=6, K=3, seed=11, scale=0.5)
    return X, y


@pytest.fixture(scope="module")
def fitted(data) -> MultinomialLogitCV:
    X, y = data
    return MultinomialLogitCV(n_alphas=N_ALPHAS, cv=5).fit(X, y)


def proba(coef: np.ndarray, intercept: np.ndarray, X: np.ndarray) -> np.ndarray:
    return softmax(X @ coef.T + intercept, axis=1)


def fold_scores_by_loop(X, y, alphas, folds, weights=None, metric="log_loss", **path_kw):
    """(n_folds, L) scores: a fold path on the full grid, scored by scikit-learn."""
    classes = np.unique(y)
    rows = []
    for train, test in folds:
        w_train = None if weights is None else weights[train]
        w_test = None if weights is None else weights[test]
        path = regularization_path(
            X[train], y[train], alphas=alphas, sample_weight=w_train, **path_kw
        )
        row = []
        for coef, intercept in zip(path.coef, path.intercept, strict=True):
            P = proba(coef, intercept, X[test])
            if metric == "log_loss":
                row.append(log_loss(y[test], P, labels=classes, sample_weight=w_test))
            else:
                pred = classes[np.argmax(P, axis=1)]
                row.append(accuracy_score(y[test], pred, sample_weight=w_test))
        rows.append(row)
    return np.array(rows)


def glmnet_summary(scores, folds, weights=None, greater_is_better=False):
    """cv.glmnet's cvm, cvsd, lambda.min and lambda.1se positions, by its formulas."""
    n_folds, L = scores.shape
    fold_w = np.array([len(test) if weights is None else weights[test].sum() for _, test in folds])
    cvm = np.array([np.average(scores[:, j], weights=fold_w) for j in range(L)])
    cvsd = np.array(
        [
            np.sqrt(np.average((scores[:, j] - cvm[j]) ** 2, weights=fold_w) / (n_folds - 1))
            for j in range(L)
        ]
    )
    loss = -cvm if greater_is_better else cvm
    # getOptcv.glmnet: the largest lambda at the minimum, then the largest within 1 SE
    best = min(j for j in range(L) if loss[j] <= loss.min())  # alphas decrease
    bound = loss[best] + cvsd[best]
    one_se = min(j for j in range(L) if loss[j] <= bound)  # alphas decrease: first = largest
    return cvm, cvsd, best, one_se


# ---------------------------------------------------------------------- cv.glmnet's definitions
def test_grid_is_the_full_data_path(data, fitted):
    X, y = data
    full = regularization_path(X, y, n_alphas=N_ALPHAS)
    assert_allclose(fitted.alphas_, full.alphas, rtol=1e-12)
    assert np.all(np.diff(fitted.alphas_) < 0)
    assert_allclose(fitted.path_.coef, full.coef, atol=1e-10)
    # the largest alpha zeroes every penalized coefficient
    assert fitted.path_.n_nonzero[0] == 0
    assert fitted.path_.n_nonzero[-1] > 0


def test_fold_scores_equal_a_loop_over_folds(data, fitted):
    X, y = data
    folds = list(StratifiedKFold(5).split(X, y))
    expected = fold_scores_by_loop(X, y, fitted.alphas_, folds)
    assert fitted.cv_scores_.shape == (5, N_ALPHAS)
    assert_allclose(fitted.cv_scores_, expected, rtol=1e-9, atol=1e-12)


def test_mean_se_and_chosen_alphas_follow_cv_glmnet(data, fitted):
    X, y = data
    folds = list(StratifiedKFold(5).split(X, y))
    cvm, cvsd, best, one_se = glmnet_summary(fitted.cv_scores_, folds)
    assert_allclose(fitted.cv_mean_, cvm, rtol=1e-12)
    assert_allclose(fitted.cv_se_, cvsd, rtol=1e-12)
    assert fitted.alpha_ == fitted.alphas_[best]
    assert fitted.alpha_1se_ == fitted.alphas_[one_se]
    # the data have a real signal: the best alpha is inside the grid, 1se at or above it
    assert 0 < best < N_ALPHAS
    assert fitted.alpha_1se_ >= fitted.alpha_
    # the fold weights matter here: folds have 40 and 41 rows, and the plain mean differs
    assert not np.allclose(fitted.cv_mean_, fitted.cv_scores_.mean(axis=0), rtol=1e-14, atol=0)


def test_refit_on_all_data_at_the_chosen_alpha(data, fitted):
    X, y = data
    best = fitted.best_estimator_
    assert isinstance(best, MultinomialLogit)
    assert best.alpha_ == fitted.alpha_ == fitted.alpha_selected_
    i = int(np.flatnonzero(fitted.alphas_ == fitted.alpha_)[0])
    # the estimator and the path solve the same problem at this alpha
    assert_allclose(best.coef_, fitted.path_.coef[i], atol=1e-5)
    assert_allclose(fitted.coef_, best.coef_)
    assert_allclose(fitted.predict_proba(X), best.predict_proba(X))
    assert_array_equal(fitted.predict(X), best.predict(X))
    assert_array_equal(fitted.classes_, np.unique(y))
    assert fitted.score(X, y) == best.score(X, y)


def test_select_1se_refits_at_alpha_1se(data, fitted):
    X, y = data
    model = MultinomialLogitCV(n_alphas=N_ALPHAS, cv=5, select="1se").fit(X, y)
    assert model.alpha_1se_ == fitted.alpha_1se_
    assert model.best_estimator_.alpha_ == model.alpha_1se_ == model.alpha_selected_
    # a larger alpha: a sparser (or as sparse) model
    assert np.count_nonzero(model.coef_) <= np.count_nonzero(fitted.coef_)


def test_sample_weight_weights_paths_and_held_out_loss(data):
    X, y = data
    w = np.random.default_rng(4).uniform(0.2, 3.0, size=y.size)
    model = MultinomialLogitCV(n_alphas=8, cv=4).fit(X, y, sample_weight=w)
    folds = list(StratifiedKFold(4).split(X, y))
    full = regularization_path(X, y, n_alphas=8, sample_weight=w)
    assert_allclose(model.alphas_, full.alphas, rtol=1e-12)
    expected = fold_scores_by_loop(X, y, model.alphas_, folds, weights=w)
    assert_allclose(model.cv_scores_, expected, rtol=1e-9, atol=1e-12)
    cvm, cvsd, best, one_se = glmnet_summary(model.cv_scores_, folds, weights=w)
    assert_allclose(model.cv_mean_, cvm, rtol=1e-12)
    assert_allclose(model.cv_se_, cvsd, rtol=1e-12)
    assert model.alpha_ == model.alphas_[best]
    assert model.alpha_1se_ == model.alphas_[one_se]
    # unweighted scores are different numbers
    unweighted = fold_scores_by_loop(X, y, model.alphas_, folds)
    assert not np.allclose(model.cv_scores_, unweighted, rtol=1e-6)


def test_any_splitter_with_groups(data):
    X, y = data
    groups = np.arange(y.size) % 7
    splitter = GroupKFold(n_splits=3)
    model = MultinomialLogitCV(n_alphas=6, cv=splitter).fit(X, y, groups=groups)
    folds = list(splitter.split(X, y, groups))
    for _, test in folds:  # a group never straddles folds
        held = set(groups[test])
        assert held.isdisjoint(set(groups[np.setdiff1d(np.arange(y.size), test)]))
    expected = fold_scores_by_loop(X, y, model.alphas_, folds)
    assert_allclose(model.cv_scores_, expected, rtol=1e-9, atol=1e-12)


def test_folds_in_parallel_give_the_same_answer(data, fitted):
    X, y = data
    parallel = MultinomialLogitCV(n_alphas=N_ALPHAS, cv=5, n_jobs=2).fit(X, y)
    assert_allclose(parallel.cv_scores_, fitted.cv_scores_, rtol=1e-12)
    assert parallel.alpha_ == fitted.alpha_


def test_a_scorer_is_maximized(data):
    X, y = data
    model = MultinomialLogitCV(n_alphas=8, cv=4, scoring="accuracy").fit(X, y)
    folds = list(StratifiedKFold(4).split(X, y))
    expected = fold_scores_by_loop(X, y, model.alphas_, folds, metric="accuracy")
    assert_allclose(model.cv_scores_, expected, rtol=1e-12)
    _, _, best, one_se = glmnet_summary(model.cv_scores_, folds, greater_is_better=True)
    assert model.alpha_ == model.alphas_[best]
    assert model.alpha_1se_ == model.alphas_[one_se]
    assert model.score_name_ == "accuracy"


def test_elasticnet_and_penalty_factor_reach_the_folds(data):
    X, y = data
    factor = np.array([0.0, 1.0, 1.0, 2.0, 1.0, 1.0])
    kw = {"penalty": "elasticnet", "l1_ratio": 0.5, "penalty_factor": factor}
    model = MultinomialLogitCV(n_alphas=6, cv=3, **kw).fit(X, y)
    folds = list(StratifiedKFold(3).split(X, y))
    expected = fold_scores_by_loop(X, y, model.alphas_, folds, **kw)
    assert_allclose(model.cv_scores_, expected, rtol=1e-9, atol=1e-12)
    # the unpenalized feature is in the model at every alpha, also the largest
    assert np.all(model.path_.coef[:, :, 0] != 0)
    assert model.best_estimator_.get_params()["l1_ratio"] == 0.5


def test_a_class_missing_from_a_training_fold():
    """Plain KFold on sorted labels: one fold's training rows lack a class. That fold
    gives the class probability 0, and its log loss is scikit-learn's (clipped at eps)."""
    X, y, _ = make_data(n=90, p=3, K=3, seed=2)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    rare = np.flatnonzero(y == 2)[:8]
    keep = np.concatenate([np.flatnonzero(y != 2), rare])
    X, y = X[keep], y[keep]
    splitter = KFold(n_splits=3)
    folds = list(splitter.split(X, y))
    assert any(2 not in set(y[train]) for train, _ in folds)
    model = MultinomialLogitCV(n_alphas=5, cv=splitter).fit(X, y)
    classes = np.unique(y)
    for f, (train, test) in enumerate(folds):
        path = regularization_path(X[train], y[train], alphas=model.alphas_)
        P = np.zeros((test.size, classes.size))
        where = np.searchsorted(classes, path.classes)
        for i, (coef, intercept) in enumerate(zip(path.coef, path.intercept, strict=True)):
            P[:, where] = proba(coef, intercept, X[test])
            expected = log_loss(y[test], P, labels=classes)
            assert model.cv_scores_[f, i] == pytest.approx(expected, rel=1e-9)
    assert np.all(np.isfinite(model.cv_mean_))


def test_formula_cv_equals_cv_on_the_design_matrix():
    X, y, _ = make_data(n=150, p=3, K=3, seed=5)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=np.array(["lo", "mid", "hi"])[y])
    model = MultinomialLogitCV(formula="y ~ a + b + c", n_alphas=6, cv=3).fit(frame)
    plain = MultinomialLogitCV(n_alphas=6, cv=3).fit(frame[["a", "b", "c"]], frame["y"])
    assert_allclose(model.cv_scores_, plain.cv_scores_, rtol=1e-10)
    assert model.alpha_ == plain.alpha_
    assert model.best_estimator_.formula == "y ~ a + b + c"
    assert_allclose(model.predict_proba(frame), plain.predict_proba(frame[["a", "b", "c"]]))
    assert model.path_.feature_names == ("a", "b", "c")


# ---------------------------------------------------------------------- scikit-learn
def test_in_a_pipeline_and_grid_search(data):
    X, y = data
    X = X * np.array([1.0, 100.0, 0.01, 5.0, 1.0, 2.0])
    pipe = make_pipeline(StandardScaler(), MultinomialLogitCV(n_alphas=6, cv=3))
    pipe.fit(X, y)
    inner = pipe[-1]
    Z = StandardScaler().fit_transform(X)
    direct = MultinomialLogitCV(n_alphas=6, cv=3).fit(Z, y)
    assert inner.alpha_ == direct.alpha_
    assert_allclose(pipe.predict_proba(X), direct.predict_proba(Z), atol=1e-10)
    search = GridSearchCV(
        MultinomialLogitCV(penalty="elasticnet", n_alphas=5, cv=3),
        {"l1_ratio": [0.3, 1.0]},
        cv=3,
        scoring="neg_log_loss",
    ).fit(Z, y)
    assert search.best_params_["l1_ratio"] in (0.3, 1.0)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.score(Z, y) == pytest.approx(
        -log_loss(y, search.best_estimator_.predict_proba(Z))
    )


def test_clone_and_params(fitted):
    params = fitted.get_params()
    assert params["n_alphas"] == N_ALPHAS and params["select"] == "min"
    copy = clone(fitted)
    assert not hasattr(copy, "alpha_")
    assert copy.get_params() == params


def test_bad_select_is_refused(data):
    X, y = data
    with pytest.raises(InvalidInputError, match="select"):
        MultinomialLogitCV(select="best").fit(X, y)


def test_a_failing_fit_leaves_the_fitted_model_as_it_was(data):
    X, y = data
    model = MultinomialLogitCV(n_alphas=4, cv=3).fit(X, y)
    before = dict(vars(model))
    with pytest.raises(ValueError):
        model.fit(X, np.zeros_like(y))  # one class: no model to fit
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[k] is v for k, v in before.items())


def test_summary_says_how_alpha_was_chosen(fitted):
    text = str(fitted.summary())
    assert "5-fold cross-validation" in text
    assert f"{fitted.alpha_:.4g}" in text
    assert "std err" not in text


# scikit-learn's checks, all of them. The sample-weight equivalence checks (which give a CV
# estimator group folds that repeating rows does not change) compare the weighted fit with
# the fit on repeated rows to rtol 1e-7. Their data are 15 rows and 30 features, separable:
# towards alpha_min_ratio = 1e-2 (glmnet's default for p > n) the optimum is so flat that the
# solver's answer varies by 1e-8..1e-1 between equivalent problems, whatever CV does. The
# grid stops at 0.1 alpha_max, where the optimum is well determined (weighted = repeated to
# 1e-11); test_sample_weight_weights_paths_and_held_out_loss checks the weights of CV itself.
@parametrize_with_checks([MultinomialLogitCV(n_alphas=5, alpha_min_ratio=0.1, cv=3)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------- R's cv.glmnet itself
GOLDEN = Path(__file__).parent / "golden" / "cv_glmnet"


def test_cv_glmnet_golden():
    """cv.glmnet (glmnet 4.1-6) on the same data, folds and lambda grid: its cvm and cvsd
    are deviances, twice mnlogit's mean log loss; lambda.min and lambda.1se are alpha_ and
    alpha_1se_. Made by tests/golden/cv_glmnet/make_cv_glmnet.R."""
    data = pd.read_csv(GOLDEN / "data.csv")
    grid = pd.read_csv(GOLDEN / "lambda.csv")["lambda"].to_numpy()
    expected = pd.read_csv(GOLDEN / "cv_glmnet.csv")
    lambda_min, lambda_1se = np.loadtxt(GOLDEN / "chosen.txt")
    X = data[[f"x{j}" for j in range(6)]].to_numpy()
    folds = PredefinedSplit(data["foldid"].to_numpy() - 1)
    model = MultinomialLogitCV(alphas=grid, cv=folds, tol=1e-10).fit(X, data["y"].to_numpy())
    assert_allclose(model.alphas_, expected["lambda"], rtol=1e-13)  # R writes 15 digits
    assert_allclose(2 * model.cv_mean_, expected["cvm"], rtol=1e-7)
    assert_allclose(2 * model.cv_se_, expected["cvsd"], rtol=2e-6)
    assert model.alpha_ == pytest.approx(lambda_min, rel=1e-15)
    assert model.alpha_1se_ == pytest.approx(lambda_1se, rel=1e-15)
    assert model.alpha_1se_ > model.alpha_  # the golden data tell the two apart
